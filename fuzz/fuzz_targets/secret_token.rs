//! The secret format (`robots_core::secret`): `SecretToken::parse`,
//! `parse_kind` and `hash_of` on arbitrary text, and the setup code parser
//! (`SetupCode::parse`, what people type at first run).
//!
//! Invariants, besides never panicking:
//! - `parse` and `hash_of` agree: the same kind and hash, or the same error;
//! - a parsed token re-exposes exactly the text it was parsed from, has its
//!   kind's length and prefix, and parses back to itself;
//! - `Debug` never shows the plaintext;
//! - changing any one character after the prefix is caught by the checksum;
//! - a setup code is 16 Crockford characters, displayed as four dashed
//!   groups, and its display (in either case) parses back to the same code.

#![no_main]

use libfuzzer_sys::fuzz_target;
use robots_core::secret::SetupCode;
use robots_core::{SecretKind, SecretParseError, SecretToken};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    check_secret(text);
    check_setup_code(text);
});

fn check_secret(text: &str) {
    let parsed = SecretToken::parse(text);
    let hashed = SecretToken::hash_of(text);
    match (&parsed, &hashed) {
        (Ok(token), Ok((kind, hash))) => {
            assert_eq!(token.kind(), *kind);
            assert_eq!(token.hash(), *hash);
        }
        (Err(parse_error), Err(hash_error)) => assert_eq!(parse_error, hash_error),
        _ => panic!("parse and hash_of disagree on {text:?}"),
    }
    for kind in [SecretKind::RobotToken, SecretKind::Session, SecretKind::PersonalToken] {
        let of_kind = SecretToken::parse_kind(kind, text);
        match &parsed {
            Ok(token) if token.kind() == kind => assert!(of_kind.is_ok()),
            Ok(_) => assert_eq!(of_kind.err(), Some(SecretParseError::UnknownPrefix)),
            Err(error) => assert_eq!(of_kind.err(), Some(*error)),
        }
    }
    let Ok(token) = parsed else {
        return;
    };

    assert_eq!(token.expose(), text, "a token re-exposes its own text");
    let prefix = token.kind().prefix().len();
    assert_eq!(text.len(), token.kind().text_len());
    assert!(text.starts_with(token.kind().prefix()));
    assert!(text[prefix..].bytes().all(|b| b.is_ascii_alphanumeric()));
    let again = SecretToken::parse(token.expose()).expect("a parsed token parses again");
    assert_eq!(again.kind(), token.kind());
    assert_eq!(again.hash(), token.hash());

    let debug = format!("{token:?}");
    assert!(
        !debug.contains(&text[prefix..]),
        "Debug shows the plaintext: {debug}"
    );

    // Every single-character change after the prefix is refused: a typo
    // never reaches the database.
    for position in prefix..text.len() {
        let mut bytes = text.as_bytes().to_vec();
        bytes[position] = if bytes[position] == b'a' { b'b' } else { b'a' };
        let altered = String::from_utf8(bytes).expect("still ASCII");
        assert_eq!(
            SecretToken::hash_of(&altered).err(),
            Some(SecretParseError::BadChecksum),
            "change at {position} went unnoticed"
        );
    }
}

fn check_setup_code(text: &str) {
    let Some(code) = SetupCode::parse(text) else {
        return;
    };
    let shown = code.display();
    assert_eq!(shown.len(), 19, "{shown:?}");
    assert_eq!(shown.matches('-').count(), 3, "{shown:?}");
    for typed in [shown.clone(), shown.to_lowercase(), shown.replace('-', "")] {
        let back = SetupCode::parse(&typed).expect("a displayed setup code parses");
        assert_eq!(back.hash(), code.hash(), "{typed:?}");
        assert_eq!(back.display(), shown);
    }
    assert!(!format!("{code:?}").contains(&shown[..4]), "Debug shows the code");
}

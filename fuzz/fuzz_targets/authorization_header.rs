//! The `Authorization` header parser (`robots_server::auth::presented_credentials`),
//! which reads every credential before anything is looked up, and with it
//! the Access ID parser (`RobotCredential::from_basic`).
//!
//! The first byte picks how the rest becomes a header, so the fuzzer reaches
//! the inside of each scheme without having to learn base64 first:
//! `0` the raw header value, `1` `Bearer <rest>`, `2` `Basic base64(<rest>)`,
//! `3` `from_basic` on `<access id>:<token>` directly.
//!
//! Invariants, besides never panicking:
//! - a session is only ever a valid `rsn_` secret;
//! - a robot credential's hash is the hash of a valid `rbt_` token in the
//!   header, and it carries an Access ID exactly when it came by Basic, the
//!   Access ID being the UUID the username spells.

#![no_main]

use axum::http::{HeaderMap, HeaderValue, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use libfuzzer_sys::fuzz_target;
use robots_core::{SecretKind, SecretToken};
use robots_server::auth::{Presented, presented_credentials};
use robots_server::verify::RobotCredential;
use uuid::Uuid;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 4 {
        0 => check_header(rest.to_vec()),
        1 => check_header([b"Bearer ".as_slice(), rest].concat()),
        2 => check_header(format!("Basic {}", STANDARD.encode(rest)).into_bytes()),
        _ => {
            if let Some(colon) = rest.iter().position(|&byte| byte == b':') {
                check_basic(&rest[..colon], &rest[colon + 1..]);
            }
        }
    }
});

fn check_header(value: Vec<u8>) {
    let Ok(value) = HeaderValue::from_bytes(&value) else {
        return;
    };
    let mut headers = HeaderMap::new();
    headers.insert(header::AUTHORIZATION, value.clone());
    let Ok(Some(presented)) = presented_credentials(&headers) else {
        return;
    };
    let text = value.to_str().expect("only text headers carry credentials");
    let (scheme, rest) = text.split_once(' ').expect("a scheme and credentials");
    let rest = rest.trim();
    match presented {
        Presented::Session(token) => {
            assert!(scheme.eq_ignore_ascii_case("bearer"), "{scheme:?}");
            assert_eq!(token.kind(), SecretKind::Session);
            assert_eq!(token.expose(), rest);
        }
        Presented::PersonalToken(token) => {
            assert!(scheme.eq_ignore_ascii_case("bearer"), "{scheme:?}");
            assert_eq!(token.kind(), SecretKind::PersonalToken);
            assert_eq!(token.expose(), rest);
        }
        Presented::Robot(credential) if scheme.eq_ignore_ascii_case("bearer") => {
            assert_eq!(credential.access_id, None);
            assert_robot_token(&credential, rest);
        }
        Presented::Robot(credential) => {
            assert!(scheme.eq_ignore_ascii_case("basic"), "{scheme:?}");
            let decoded = STANDARD.decode(rest).expect("Basic credentials are base64");
            let decoded = String::from_utf8(decoded).expect("and UTF-8");
            let (username, password) = decoded.split_once(':').expect("with a colon");
            assert_eq!(credential.access_id, Uuid::try_parse(username).ok());
            assert!(credential.access_id.is_some());
            assert_robot_token(&credential, password);
        }
    }
}

fn check_basic(username: &[u8], password: &[u8]) {
    let Ok(credential) = RobotCredential::from_basic(username, password) else {
        return;
    };
    let username = std::str::from_utf8(username).expect("an Access ID is text");
    let password = std::str::from_utf8(password).expect("a token is text");
    assert_eq!(credential.access_id, Some(Uuid::try_parse(username).expect("a UUID")));
    assert_robot_token(&credential, password);
}

fn assert_robot_token(credential: &RobotCredential, token: &str) {
    let (kind, hash) = SecretToken::hash_of(token).expect("only valid tokens are presented");
    assert_eq!(kind, SecretKind::RobotToken);
    assert_eq!(credential.hash, hash);
}

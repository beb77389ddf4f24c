//! Bearer secrets: robot tokens, console/API session tokens and users'
//! personal access tokens.
//!
//! Format: a fixed prefix naming the kind (`rbt_` for robot tokens, `rsn_` for
//! sessions, `rpat_` for personal access tokens), 256 bits from the operating system's RNG in fixed-width base62,
//! and a CRC32 of everything before it, also in base62. The prefix lets secret
//! scanners recognise a leaked token; the checksum lets us reject typos and
//! garbage without touching the database.
//!
//! Only the SHA-256 of a secret is ever stored. A 256-bit random secret cannot
//! be guessed, so a slow KDF would add nothing but ~15 ms to every request.
//! The plaintext lives in [`SecretToken`], whose `Debug` is redacted, and is
//! reachable only through [`SecretToken::expose`].

use std::fmt;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const RANDOM_BYTES: usize = 32;
/// ceil(256 / log2(62)): every 256-bit value fits, so the width never varies.
const RANDOM_CHARS: usize = 43;
/// ceil(32 / log2(62)).
const CHECKSUM_CHARS: usize = 6;
const PREFIX_LEN: usize = 4;

/// Length of a robot token's or a session's text (a personal access
/// token's prefix is a character longer: [`SecretKind::text_len`]).
pub const SECRET_LEN: usize = PREFIX_LEN + RANDOM_CHARS + CHECKSUM_CHARS;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecretKind {
    /// The "password" half of a robot's credentials.
    RobotToken,
    /// A logged-in user's session, as a cookie or a bearer token.
    Session,
    /// A user's personal access token, for automation acting as them.
    PersonalToken,
}

impl SecretKind {
    pub const fn prefix(self) -> &'static str {
        match self {
            Self::RobotToken => "rbt_",
            Self::Session => "rsn_",
            Self::PersonalToken => "rpat_",
        }
    }

    /// The length of a secret of this kind.
    pub const fn text_len(self) -> usize {
        self.prefix().len() + RANDOM_CHARS + CHECKSUM_CHARS
    }

    fn from_prefix(text: &str) -> Option<Self> {
        [Self::RobotToken, Self::Session, Self::PersonalToken]
            .into_iter()
            .find(|kind| text.starts_with(kind.prefix()))
    }
}

/// Why a string is not a secret of ours. Kept coarse on purpose: callers log
/// it, and clients only ever learn "invalid credentials".
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SecretParseError {
    #[error("unknown prefix")]
    UnknownPrefix,
    #[error("wrong length")]
    WrongLength,
    #[error("characters outside base62")]
    NotBase62,
    #[error("checksum mismatch")]
    BadChecksum,
}

/// The plaintext of a secret. Never logged, never stored, never `Debug`-printed.
#[derive(Clone)]
pub struct SecretToken {
    kind: SecretKind,
    text: String,
}

impl SecretToken {
    /// A fresh secret from the operating system's RNG.
    pub fn generate(kind: SecretKind) -> Self {
        let mut random = [0u8; RANDOM_BYTES];
        rand::fill(&mut random);
        let mut text = String::with_capacity(kind.text_len());
        text.push_str(kind.prefix());
        push_base62(&mut text, &random, RANDOM_CHARS);
        let checksum = crc32fast::hash(text.as_bytes());
        push_base62(&mut text, &checksum.to_be_bytes(), CHECKSUM_CHARS);
        Self { kind, text }
    }

    /// Checks shape and checksum; says nothing about whether the secret exists.
    pub fn parse(text: &str) -> Result<Self, SecretParseError> {
        let kind = validate(text)?;
        Ok(Self {
            kind,
            text: text.to_owned(),
        })
    }

    /// Checks a secret and returns its kind and hash, without keeping (or
    /// allocating a copy of) the plaintext: the verification hot path.
    pub fn hash_of(text: &str) -> Result<(SecretKind, SecretHash), SecretParseError> {
        let kind = validate(text)?;
        Ok((kind, SecretHash::of(text.as_bytes())))
    }

    /// Like [`parse`](Self::parse), but only accepts one kind.
    pub fn parse_kind(kind: SecretKind, text: &str) -> Result<Self, SecretParseError> {
        let token = Self::parse(text)?;
        if token.kind == kind {
            Ok(token)
        } else {
            Err(SecretParseError::UnknownPrefix)
        }
    }

    pub fn kind(&self) -> SecretKind {
        self.kind
    }

    /// The plaintext. Call this only to put the secret in the one response
    /// that hands it to its owner.
    pub fn expose(&self) -> &str {
        &self.text
    }

    pub fn hash(&self) -> SecretHash {
        SecretHash::of(self.text.as_bytes())
    }
}

impl fmt::Debug for SecretToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretToken({}<redacted>)", self.kind.prefix())
    }
}

/// Checks prefix, length, alphabet and checksum of a secret's text.
fn validate(text: &str) -> Result<SecretKind, SecretParseError> {
    let kind = SecretKind::from_prefix(text).ok_or(SecretParseError::UnknownPrefix)?;
    if text.len() != kind.text_len() {
        return Err(SecretParseError::WrongLength);
    }
    // Split the bytes, not the `str`: the text is anyone's, and a multi-byte
    // character across the split would make `str::split_at` panic.
    let (body, checksum) = text.as_bytes().split_at(kind.text_len() - CHECKSUM_CHARS);
    if !body[kind.prefix().len()..]
        .iter()
        .chain(checksum)
        .all(u8::is_ascii_alphanumeric)
    {
        return Err(SecretParseError::NotBase62);
    }
    // Reading the six digits as a number costs six multiply-adds; writing
    // the CRC out in base62 to compare text would cost 48 divisions, on
    // every request. Six digits hold every u32 exactly once, so the two
    // checks accept the same texts.
    if base62_value(checksum) != Some(u64::from(crc32fast::hash(body))) {
        return Err(SecretParseError::BadChecksum);
    }
    Ok(kind)
}

/// The number `digits` (most significant first) spell in base62; `None` if
/// one is not a base62 digit. At most 10 digits, so it cannot overflow.
fn base62_value(digits: &[u8]) -> Option<u64> {
    debug_assert!(digits.len() <= 10);
    digits.iter().try_fold(0u64, |number, &digit| {
        let value = match digit {
            b'0'..=b'9' => digit - b'0',
            b'A'..=b'Z' => digit - b'A' + 10,
            b'a'..=b'z' => digit - b'a' + 36,
            _ => return None,
        };
        Some(number * 62 + u64::from(value))
    })
}

/// SHA-256 of a secret: what the database stores and looks secrets up by.
#[derive(Clone, Copy, Eq)]
pub struct SecretHash([u8; 32]);

/// Consistent with the constant-time `PartialEq`: equal hashes hash equally.
impl std::hash::Hash for SecretHash {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl SecretHash {
    pub fn of(bytes: &[u8]) -> Self {
        Self(Sha256::digest(bytes).into())
    }

    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Self)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// Constant time, so a comparison never leaks how many leading bytes matched.
/// Compared as four words rather than 32 bytes: every word is still
/// compared, behind a quarter of the optimisation barriers.
impl PartialEq for SecretHash {
    fn eq(&self, other: &Self) -> bool {
        self.words().ct_eq(&other.words()).into()
    }
}

impl SecretHash {
    fn words(&self) -> [u64; 4] {
        std::array::from_fn(|index| {
            let mut word = [0u8; 8];
            word.copy_from_slice(&self.0[index * 8..][..8]);
            u64::from_ne_bytes(word)
        })
    }
}

impl fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SecretHash({:02x}{:02x}{:02x}{:02x}…)",
            self.0[0], self.0[1], self.0[2], self.0[3]
        )
    }
}

/// Appends `bytes` (a big-endian number) in base62, left-padded with `0` to
/// exactly `width` digits.
fn push_base62(out: &mut String, bytes: &[u8], width: usize) {
    let mut number = bytes.to_vec();
    let mut digits = vec![b'0'; width];
    base62_into(&mut number, &mut digits);
    out.extend(digits.into_iter().map(char::from));
}

/// Writes `number` in base62 into `digits` (most significant first),
/// consuming `number`.
fn base62_into(number: &mut [u8], digits: &mut [u8]) {
    for slot in digits.iter_mut().rev() {
        // Long division of the whole number by 62; the remainder is the digit.
        let mut remainder = 0u32;
        for byte in number.iter_mut() {
            let value = (remainder << 8) | u32::from(*byte);
            *byte = (value / 62) as u8;
            remainder = value % 62;
        }
        *slot = BASE62[remainder as usize];
    }
}

/// `N` bytes from the operating system's RNG, for nonces and cookies that
/// are not tokens of ours.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    rand::fill(&mut bytes);
    bytes
}

/// Lowercase hex of `bytes`: signatures, digests and ids in headers and names.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0xf)]));
    }
    text
}

/// The one-time code that turns an empty installation into one with an
/// administrator. Short enough to type from a terminal: 16 characters of
/// Crockford base32 (80 bits), shown in groups of four.
#[derive(Clone)]
pub struct SetupCode(String);

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

impl SetupCode {
    pub fn generate() -> Self {
        let mut random = [0u8; 16];
        rand::fill(&mut random);
        Self(
            random
                .iter()
                .map(|b| char::from(CROCKFORD[usize::from(b & 31)]))
                .collect(),
        )
    }

    /// Accepts what a human may type: any case, with or without the dashes,
    /// and the look-alikes Crockford base32 maps (`O`→`0`, `I`/`L`→`1`).
    pub fn parse(input: &str) -> Option<Self> {
        let mut code = String::with_capacity(16);
        for c in input.trim().chars().filter(|c| *c != '-' && *c != ' ') {
            let c = match c.to_ascii_uppercase() {
                'O' => '0',
                'I' | 'L' => '1',
                other => other,
            };
            if !c.is_ascii() || !CROCKFORD.contains(&(c as u8)) {
                return None;
            }
            code.push(c);
        }
        (code.len() == 16).then_some(Self(code))
    }

    /// The code as printed for people: `ABCD-EFGH-JKMN-PQRS`.
    pub fn display(&self) -> String {
        self.0
            .as_bytes()
            .chunks(4)
            .map(|chunk| std::str::from_utf8(chunk).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("-")
    }

    pub fn hash(&self) -> SecretHash {
        SecretHash::of(self.0.as_bytes())
    }
}

impl fmt::Debug for SetupCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SetupCode(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_parse_back_to_the_same_hash() {
        for kind in [SecretKind::RobotToken, SecretKind::Session, SecretKind::PersonalToken] {
            let token = SecretToken::generate(kind);
            assert_eq!(token.expose().len(), kind.text_len());
            assert!(token.expose().starts_with(kind.prefix()));
            let parsed = SecretToken::parse(token.expose()).expect("parses");
            assert_eq!(parsed.kind(), kind);
            assert_eq!(parsed.hash(), token.hash());
        }
    }

    #[test]
    fn generated_tokens_differ() {
        let a = SecretToken::generate(SecretKind::RobotToken);
        let b = SecretToken::generate(SecretKind::RobotToken);
        assert_ne!(a.expose(), b.expose());
        assert_ne!(a.hash(), b.hash());
    }

    #[test]
    fn any_single_character_change_is_caught_before_lookup() {
        let token = SecretToken::generate(SecretKind::RobotToken);
        let text = token.expose();
        for position in PREFIX_LEN..SECRET_LEN {
            let mut bytes = text.as_bytes().to_vec();
            bytes[position] = if bytes[position] == b'a' { b'b' } else { b'a' };
            let altered = String::from_utf8(bytes).expect("ascii");
            assert_eq!(
                SecretToken::parse(&altered).map(|t| t.hash()),
                Err(SecretParseError::BadChecksum),
                "change at {position}"
            );
        }
    }

    #[test]
    fn malformed_input_is_refused_with_a_reason() {
        let good = SecretToken::generate(SecretKind::RobotToken);
        let text = good.expose();
        assert_eq!(SecretToken::parse("").err(), Some(SecretParseError::UnknownPrefix));
        assert_eq!(
            SecretToken::parse("ghp_abc").err(),
            Some(SecretParseError::UnknownPrefix)
        );
        assert_eq!(
            SecretToken::parse(&text[..50]).err(),
            Some(SecretParseError::WrongLength)
        );
        assert_eq!(
            SecretToken::parse(&format!("{}!{}", &text[..10], &text[11..])).err(),
            Some(SecretParseError::NotBase62)
        );
        assert_eq!(
            SecretToken::parse_kind(SecretKind::Session, text).err(),
            Some(SecretParseError::UnknownPrefix)
        );
    }

    /// Found by `fuzz/fuzz_targets/secret_token.rs`: a multi-byte character
    /// across the checksum's start made `validate` panic, and an anonymous
    /// `Authorization: Basic` header reaches it.
    #[test]
    fn multi_byte_characters_are_refused_not_panicked_on() {
        let checksum_start = SECRET_LEN - CHECKSUM_CHARS;
        for start in [
            PREFIX_LEN,
            checksum_start - 2,
            checksum_start - 1,
            checksum_start,
            SECRET_LEN - 3,
        ] {
            let text = format!("rbt_{}\u{2000}", "a".repeat(start - PREFIX_LEN));
            let text = format!("{text}{}", "a".repeat(SECRET_LEN - text.len()));
            assert_eq!(text.len(), SECRET_LEN);
            assert_eq!(
                SecretToken::parse(&text).err(),
                Some(SecretParseError::NotBase62),
                "{text:?}"
            );
            assert_eq!(
                SecretToken::hash_of(&text).err(),
                Some(SecretParseError::NotBase62),
                "{text:?}"
            );
        }
    }

    #[test]
    fn hashing_without_keeping_agrees_with_parsing() {
        let token = SecretToken::generate(SecretKind::Session);
        assert_eq!(
            SecretToken::hash_of(token.expose()),
            Ok((SecretKind::Session, token.hash()))
        );
        let mut broken = token.expose().to_owned();
        broken.pop();
        broken.push(if token.expose().ends_with('a') { 'b' } else { 'a' });
        assert_eq!(
            SecretToken::hash_of(&broken).map(|(kind, _)| kind),
            Err(SecretParseError::BadChecksum)
        );
    }

    #[test]
    fn checksum_digits_read_back_as_the_number_written() {
        for number in [0u32, 1, 61, 62, 3_843, 0x8000_0000, u32::MAX] {
            let mut digits = String::new();
            push_base62(&mut digits, &number.to_be_bytes(), CHECKSUM_CHARS);
            assert_eq!(base62_value(digits.as_bytes()), Some(u64::from(number)), "{digits}");
        }
        assert_eq!(base62_value(b"00-000"), None);
        assert_eq!(base62_value(b"zzzzzz"), Some(62u64.pow(6) - 1));
    }

    #[test]
    fn hashes_differing_in_any_byte_are_unequal() {
        let hash = SecretHash::of(b"a");
        assert_eq!(hash, SecretHash::of(b"a"));
        for position in 0..32 {
            let mut bytes = *hash.as_bytes();
            bytes[position] ^= 0x80;
            assert_ne!(hash, SecretHash(bytes), "byte {position}");
        }
    }

    #[test]
    fn debug_never_shows_the_plaintext() {
        let token = SecretToken::generate(SecretKind::RobotToken);
        let debug = format!("{token:?}");
        assert!(!debug.contains(&token.expose()[PREFIX_LEN..]), "{debug}");
        assert_eq!(debug, "SecretToken(rbt_<redacted>)");
        let code = SetupCode::generate();
        assert!(!format!("{code:?}").contains(&code.display()[..4]));
    }

    #[test]
    fn base62_is_fixed_width_and_big_endian() {
        let mut out = String::new();
        push_base62(&mut out, &[0, 0, 0, 61], 6);
        assert_eq!(out, "00000z");
        out.clear();
        push_base62(&mut out, &[0, 0, 0, 62], 6);
        assert_eq!(out, "000010");
        out.clear();
        push_base62(&mut out, &[0xff; 32], RANDOM_CHARS);
        assert_eq!(out.len(), RANDOM_CHARS);
        assert_ne!(out.as_bytes()[0], b'0', "2^256-1 needs all 43 digits");
    }

    #[test]
    fn setup_codes_accept_what_people_type() {
        let code = SetupCode::generate();
        let shown = code.display();
        assert_eq!(shown.len(), 19);
        for typed in [shown.clone(), shown.to_lowercase(), shown.replace('-', "")] {
            assert_eq!(SetupCode::parse(&typed).map(|c| c.hash()), Some(code.hash()), "{typed}");
        }
        assert_eq!(
            SetupCode::parse("oooo-iiii-llll-0000").map(|c| c.hash()),
            SetupCode::parse("0000-1111-1111-0000").map(|c| c.hash())
        );
        assert!(SetupCode::parse("ABCD-EFGH").is_none());
        assert!(SetupCode::parse("ABCD-EFGH-JKMN-PQRU").is_none(), "U is not Crockford");
    }
}

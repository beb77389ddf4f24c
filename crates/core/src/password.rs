//! Human passwords: argon2id in PHC strings.
//!
//! These functions are slow on purpose (~15 ms); the server runs them on the
//! blocking pool and only on login, never on a robot's per-request path.

use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

pub const MIN_PASSWORD_CHARS: usize = 8;
pub const MAX_PASSWORD_CHARS: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("must be at least {MIN_PASSWORD_CHARS} characters long")]
    TooShort,
    #[error("must be at most {MAX_PASSWORD_CHARS} characters long")]
    TooLong,
    #[error("could not hash the password")]
    Hashing,
}

/// Checks a new password against the policy (length only, as NIST SP 800-63B
/// recommends: composition rules make passwords worse, not better).
pub fn check_new_password(password: &str) -> Result<(), PasswordError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(PasswordError::TooShort);
    }
    if password.chars().count() > MAX_PASSWORD_CHARS {
        return Err(PasswordError::TooLong);
    }
    Ok(())
}

/// Hashes a password that passed [`check_new_password`] into a PHC string.
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|_| PasswordError::Hashing)
}

/// Verifies a password against a stored PHC string. Without a stored hash
/// (unknown user) it verifies against a dummy hash, so the answer takes as
/// long either way and timing does not reveal which usernames exist.
pub fn verify_password(password: &str, stored: Option<&str>) -> bool {
    match stored {
        Some(phc) => Argon2::default().verify_password(password.as_bytes(), phc).is_ok(),
        None => {
            let _ = Argon2::default().verify_password(password.as_bytes(), dummy_hash());
            false
        }
    }
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_password("not a password anyone has").unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifies_the_right_password_only() {
        let phc = hash_password("correct horse battery").expect("hashes");
        assert!(phc.starts_with("$argon2id$"), "{phc}");
        assert!(verify_password("correct horse battery", Some(&phc)));
        assert!(!verify_password("correct horse batterY", Some(&phc)));
        assert!(!verify_password("correct horse battery", None));
    }

    #[test]
    fn same_password_gets_different_salts() {
        assert_ne!(hash_password("same-password").ok(), hash_password("same-password").ok());
    }

    #[test]
    fn length_policy() {
        assert_eq!(check_new_password("short"), Err(PasswordError::TooShort));
        assert_eq!(check_new_password("eight ch"), Ok(()));
        assert_eq!(check_new_password(&"x".repeat(1025)), Err(PasswordError::TooLong));
    }
}

//! Names of users, organizations, robots and tokens.
//!
//! One rule everywhere: a lowercase DNS label (`a-z`, `0-9`, `-`; 1–63
//! characters; no hyphen at either end). Such names are safe in shells, URLs,
//! Kubernetes secrets and CI variables without quoting, which is why `$`, `+`,
//! `.` and upper case are refused rather than normalised.

use std::fmt;

use serde::{Deserialize, Serialize};

pub const MAX_NAME_LEN: usize = 63;

/// A validated name. Constructing one is the only validation there is.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "String", into = "String")]
#[schema(
    pattern = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$",
    min_length = 1,
    max_length = 63,
    example = "ci-deployer"
)]
pub struct Name(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most {MAX_NAME_LEN} characters long")]
    TooLong,
    #[error("may contain only lowercase letters, digits and hyphens (found {0:?}); for example: ci-deployer")]
    InvalidCharacter(char),
    #[error("must start and end with a letter or digit, not a hyphen")]
    HyphenAtEnd,
}

impl Name {
    pub fn parse(input: &str) -> Result<Self, NameError> {
        Self::check(input)?;
        Ok(Self(input.to_owned()))
    }

    /// Whether `input` is a valid name, without keeping it.
    pub fn check(input: &str) -> Result<(), NameError> {
        if input.is_empty() {
            return Err(NameError::Empty);
        }
        if let Some(bad) = input
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
        {
            return Err(NameError::InvalidCharacter(bad));
        }
        if input.len() > MAX_NAME_LEN {
            return Err(NameError::TooLong);
        }
        if input.starts_with('-') || input.ends_with('-') {
            return Err(NameError::HyphenAtEnd);
        }
        Ok(())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Name {
    type Error = NameError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Name> for String {
    fn from(name: Name) -> Self {
        name.0
    }
}

impl std::str::FromStr for Name {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_dns_labels() {
        for ok in ["a", "ci", "ci-deployer", "0", "a1-b2", &"x".repeat(63)] {
            assert_eq!(Name::parse(ok).map(|n| n.to_string()), Ok(ok.to_owned()));
        }
    }

    #[test]
    fn refuses_everything_else_with_the_reason() {
        let cases = [
            ("", NameError::Empty),
            (&*"x".repeat(64), NameError::TooLong),
            ("Robot", NameError::InvalidCharacter('R')),
            ("robot$ci", NameError::InvalidCharacter('$')),
            ("a+b", NameError::InvalidCharacter('+')),
            ("a b", NameError::InvalidCharacter(' ')),
            ("a.b", NameError::InvalidCharacter('.')),
            ("a_b", NameError::InvalidCharacter('_')),
            ("ü", NameError::InvalidCharacter('ü')),
            ("-a", NameError::HyphenAtEnd),
            ("a-", NameError::HyphenAtEnd),
            ("-", NameError::HyphenAtEnd),
        ];
        for (input, expected) in cases {
            assert_eq!(Name::parse(input), Err(expected), "input {input:?}");
        }
    }
}

//! Free-text fields (descriptions, display names): bounded and printable.

pub const MAX_DESCRIPTION_CHARS: usize = 512;
pub const MAX_DISPLAY_NAME_CHARS: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("must be at most {0} characters long")]
    TooLong(usize),
    #[error("must not contain control characters other than new lines")]
    ControlCharacter,
}

/// Trims surrounding whitespace and checks length and content; an empty
/// result means "no value".
pub fn bounded_text(input: &str, max_chars: usize) -> Result<String, TextError> {
    let trimmed = input.trim();
    if trimmed.chars().count() > max_chars {
        return Err(TextError::TooLong(max_chars));
    }
    if trimmed
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err(TextError::ControlCharacter);
    }
    Ok(trimmed.to_owned())
}

/// A plausible e-mail address: one `@` with something on each side, no
/// whitespace, at most 254 bytes (RFC 5321's path limit). Deliverability is
/// not ours to judge.
pub fn is_plausible_email(input: &str) -> bool {
    let Some((local, domain)) = input.split_once('@') else {
        return false;
    };
    input.len() <= 254
        && !local.is_empty()
        && !domain.is_empty()
        && !domain.contains('@')
        && !input.chars().any(|c| c.is_whitespace() || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_are_trimmed_and_bounded() {
        assert_eq!(bounded_text("  pushes images \n", 512).as_deref(), Ok("pushes images"));
        assert_eq!(bounded_text(&"é".repeat(512), 512).map(|s| s.chars().count()), Ok(512));
        assert_eq!(bounded_text(&"é".repeat(513), 512), Err(TextError::TooLong(512)));
        assert_eq!(bounded_text("a\u{0}b", 512), Err(TextError::ControlCharacter));
        assert_eq!(
            bounded_text("line one\nline two", 512).as_deref(),
            Ok("line one\nline two")
        );
    }

    #[test]
    fn emails() {
        assert!(is_plausible_email("ops@example.com"));
        assert!(is_plausible_email("a@b"));
        for bad in ["", "no-at", "@example.com", "a@", "a@b@c", "a b@c", "a@b\n"] {
            assert!(!is_plausible_email(bad), "{bad:?}");
        }
    }
}

//! Human durations on the command line and in configuration: `90s`, `15m`,
//! `12h`, `30d`, and sums of them like `1d12h`.

use std::time::Duration;

/// The longest duration accepted: 100 years. Durations are added to the
/// current time, and a time past year 9999 cannot be represented.
pub const MAX_DURATION: Duration = Duration::from_secs(100 * 365 * 86_400);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not a duration; use a number with a unit: 90s, 15m, 12h, 30d (or combined: 1d12h), at most 100 years"
)]
pub struct DurationError(pub String);

pub fn parse_duration(input: &str) -> Result<Duration, DurationError> {
    let error = || DurationError(input.to_owned());
    let text = input.trim();
    if text.is_empty() {
        return Err(error());
    }
    let mut total: u64 = 0;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit: u64 = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 7 * 86_400,
            _ => return Err(error()),
        };
        let value: u64 = number.parse().map_err(|_| error())?;
        total = value
            .checked_mul(unit)
            .and_then(|seconds| total.checked_add(seconds))
            .ok_or_else(error)?;
        number.clear();
    }
    if !number.is_empty() || total > MAX_DURATION.as_secs() {
        return Err(error());
    }
    Ok(Duration::from_secs(total))
}

/// The shortest exact rendering: `1d12h`, `15m`, `0s`.
pub fn format_duration(duration: Duration) -> String {
    let mut seconds = duration.as_secs();
    if seconds == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    for (unit, size) in [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)] {
        if seconds >= size {
            out.push_str(&format!("{}{unit}", seconds / size));
            seconds %= size;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_sums() {
        let cases = [
            ("90s", 90),
            ("15m", 900),
            ("12h", 43_200),
            ("30d", 2_592_000),
            ("1w", 604_800),
            ("1d12h", 129_600),
            ("0s", 0),
            ("5200w", 5200 * 604_800),
        ];
        for (text, seconds) in cases {
            assert_eq!(parse_duration(text), Ok(Duration::from_secs(seconds)), "{text}");
            assert_eq!(
                parse_duration(&format_duration(Duration::from_secs(seconds))),
                Ok(Duration::from_secs(seconds))
            );
        }
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        for bad in [
            "",
            "12",
            "h",
            "1.5h",
            "-1d",
            "1y",
            "99999999999999999999d",
            "1 h",
            "5300w",
            "36501d",
        ] {
            assert_eq!(parse_duration(bad), Err(DurationError(bad.to_owned())), "{bad:?}");
        }
    }
}

//! Times as people read them in tables: "3 days ago", "in 5 hours".

use time::{Duration, OffsetDateTime};

/// How long ago `then` was, seen from `now`: "just now", "5 minutes ago",
/// "3 days ago", "2 years ago". Times in the future read "in …".
pub fn relative(then: OffsetDateTime, now: OffsetDateTime) -> String {
    let delta = now - then;
    if delta.is_negative() {
        let ahead = -delta;
        if ahead < Duration::minutes(1) {
            return "in less than a minute".to_owned();
        }
        return format!("in {}", span(ahead));
    }
    if delta < Duration::minutes(1) {
        return "just now".to_owned();
    }
    format!("{} ago", span(delta))
}

fn span(delta: Duration) -> String {
    let (count, unit) = if delta < Duration::hours(1) {
        (delta.whole_minutes(), "minute")
    } else if delta < Duration::days(1) {
        (delta.whole_hours(), "hour")
    } else if delta < Duration::days(45) {
        (delta.whole_days(), "day")
    } else if delta < Duration::days(365) {
        // Rounded: 89.9 days is "3 months", not "2".
        ((delta.whole_days() + 15) / 30, "month")
    } else {
        ((delta.whole_days() + 182) / 365, "year")
    };
    format!("{count} {unit}{}", if count == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn reads_like_a_person_would_say_it() {
        let now = datetime!(2026-11-27 12:00 UTC);
        let cases = [
            (now, "just now"),
            (now - Duration::seconds(59), "just now"),
            (now - Duration::minutes(1), "1 minute ago"),
            (now - Duration::minutes(59), "59 minutes ago"),
            (now - Duration::hours(5), "5 hours ago"),
            (now - Duration::days(3), "3 days ago"),
            (now - Duration::days(65), "2 months ago"),
            (now - Duration::days(800), "2 years ago"),
            (now + Duration::seconds(30), "in less than a minute"),
            (now + Duration::days(7), "in 7 days"),
            (now + Duration::days(90) - Duration::seconds(5), "in 3 months"),
            (now - Duration::days(40), "40 days ago"),
        ];
        for (then, expected) in cases {
            assert_eq!(relative(then, now), expected);
        }
    }
}

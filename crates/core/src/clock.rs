//! Time as a dependency, so expiry and throttling are tested without sleeping.

use std::sync::Mutex;
use std::time::Duration;

use time::OffsetDateTime;

/// Where the service reads the current time from.
pub trait Clock: Send + Sync + std::fmt::Debug + 'static {
    fn now(&self) -> OffsetDateTime;
}

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that moves only when told to; for tests.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<OffsetDateTime>,
}

impl ManualClock {
    pub fn new(start: OffsetDateTime) -> Self {
        Self { now: Mutex::new(start) }
    }

    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        *now += by;
    }

    pub fn set(&self, to: OffsetDateTime) {
        *self.now.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = to;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.now.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Unix time in milliseconds, the representation both databases store.
/// Below a millisecond it rounds down. (Built from whole seconds: this runs
/// on every verification, and the nanosecond form divides 128-bit numbers.)
pub fn to_millis(at: OffsetDateTime) -> i64 {
    at.unix_timestamp()
        .saturating_mul(1_000)
        .saturating_add(i64::from(at.millisecond()))
}

/// The inverse of [`to_millis`]; out-of-range values clamp to the epoch.
pub fn from_millis(millis: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn millis_round_trip_truncates_below_a_millisecond() {
        let at = time::macros::datetime!(2026-11-27 10:00:00.123456 UTC);
        assert_eq!(
            from_millis(to_millis(at)),
            time::macros::datetime!(2026-11-27 10:00:00.123 UTC)
        );
    }

    #[test]
    fn millis_round_down_before_the_epoch_too() {
        let at = time::macros::datetime!(1969-12-31 23:59:59.0005 UTC);
        assert_eq!(to_millis(at), -1_000);
        let at = time::macros::datetime!(1969-12-31 23:59:58.25 UTC);
        assert_eq!(to_millis(at), -1_750);
        assert_eq!(to_millis(OffsetDateTime::UNIX_EPOCH), 0);
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let start = time::macros::datetime!(2026-01-01 0:00 UTC);
        let clock = ManualClock::new(start);
        assert_eq!(clock.now(), start);
        clock.advance(Duration::from_secs(61));
        assert_eq!(clock.now(), start + Duration::from_secs(61));
    }
}

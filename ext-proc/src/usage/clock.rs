//! Time for metering and quotas, behind a trait so that a month boundary can
//! be crossed in a test. The sidecar reads the system clock; the hidden
//! `DATAGATE_TEST_CLOCK_FILE` environment variable (end-to-end tests only)
//! names a file holding the current time in Unix milliseconds instead.

use chrono::{DateTime, Datelike, TimeZone, Utc};

/// A source of the current time.
pub trait Clock: Send + Sync {
    /// Now, Unix milliseconds.
    fn now_ms(&self) -> i64;
}

/// The system clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        Utc::now().timestamp_millis()
    }
}

/// The time written in a file (a test's clock); the system clock while the
/// file is missing or unreadable.
pub struct FileClock(pub std::path::PathBuf);

impl Clock for FileClock {
    fn now_ms(&self) -> i64 {
        std::fs::read_to_string(&self.0)
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or_else(|| SystemClock.now_ms())
    }
}

/// The clock the sidecar runs on (see the module docs).
pub fn from_env() -> std::sync::Arc<dyn Clock> {
    match std::env::var_os("DATAGATE_TEST_CLOCK_FILE") {
        Some(path) => std::sync::Arc::new(FileClock(path.into())),
        None => std::sync::Arc::new(SystemClock),
    }
}

/// The Unix minute of a time.
pub fn minute(ms: i64) -> i64 {
    ms.div_euclid(60_000)
}

/// A Unix minute as an RFC 3339 time.
pub fn minute_text(minute: i64) -> String {
    DateTime::<Utc>::from_timestamp(minute * 60, 0).map(|t| t.to_rfc3339()).unwrap_or_default()
}

/// The UTC calendar month holding `ms`: its first minute and the first minute of the next.
pub fn month(ms: i64) -> (i64, i64) {
    let now = DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_default();
    let start = Utc.with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0).single().unwrap_or_default();
    let (y, m) = if now.month() == 12 { (now.year() + 1, 1) } else { (now.year(), now.month() + 1) };
    let next = Utc.with_ymd_and_hms(y, m, 1, 0, 0, 0).single().unwrap_or_default();
    (start.timestamp() / 60, next.timestamp() / 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(text: &str) -> i64 {
        DateTime::parse_from_rfc3339(text).unwrap_or_default().timestamp_millis()
    }

    #[test]
    fn months_are_utc_calendar_months() {
        let (start, next) = month(ms("2026-11-30T23:59:59Z"));
        assert_eq!(minute_text(start), "2026-11-01T00:00:00+00:00");
        assert_eq!(minute_text(next), "2026-12-01T00:00:00+00:00");
        let (start, next) = month(ms("2026-12-31T12:00:00Z"));
        assert_eq!(
            (minute_text(start).as_str(), minute_text(next).as_str()),
            ("2026-12-01T00:00:00+00:00", "2027-01-01T00:00:00+00:00")
        );
        assert_eq!(minute(ms("2026-12-01T00:00:59Z")), next - 31 * 24 * 60);
    }
}

//! Time as the use cases see it: injected, so tests can move it (retention, session expiry, card
//! expiry, webhook backoff) without sleeping.

use std::sync::atomic::{AtomicI64, Ordering};

pub trait Clock: Send + Sync {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;

    fn now_s(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }

    /// (year, month) in UTC, for card expiry checks.
    fn year_month(&self) -> (u16, u8) {
        year_month_of(self.now_s())
    }
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }
}

/// A clock that only moves when told to.
pub struct ManualClock(AtomicI64);

impl ManualClock {
    pub fn new(ms: i64) -> ManualClock {
        ManualClock(AtomicI64::new(ms))
    }

    pub fn advance_ms(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// Civil (year, month) of a Unix time, by the days-to-civil algorithm of H. Hinnant (public
/// domain); a date library would be a dependency for this one line of arithmetic.
pub fn year_month_of(unix_s: i64) -> (u16, u8) {
    let z = unix_s.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year.clamp(0, 9999) as u16, month as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_months() {
        assert_eq!(year_month_of(0), (1970, 1));
        // 2026-11-26T09:00:00Z
        assert_eq!(year_month_of(1_795_683_600), (2026, 11));
        // 2024-02-29T23:59:59Z and a second later
        assert_eq!(year_month_of(1_709_251_199), (2024, 2));
        assert_eq!(year_month_of(1_709_251_200), (2024, 3));
    }
}

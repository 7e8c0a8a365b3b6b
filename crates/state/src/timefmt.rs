//! UTC date formatting without a date crate: upstream formats every time it
//! shows in UTC (`time.gmtime`), so a civil-from-days conversion suffices.

use std::time::{SystemTime, UNIX_EPOCH};

const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// A broken-down UTC time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tm {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub min: u32,
    pub sec: u32,
    /// 0 = Thursday (1970-01-01), see `DAYS`.
    weekday_from_thu: u32,
}

/// Seconds since the epoch, now.
pub fn now_epoch() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// `time.gmtime(secs)` (fraction truncated toward minus infinity).
pub fn gmtime(secs: i64) -> Tm {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    Tm {
        year,
        month,
        day,
        hour: (rem / 3600) as u32,
        min: ((rem % 3600) / 60) as u32,
        sec: (rem % 60) as u32,
        weekday_from_thu: days.rem_euclid(7) as u32,
    }
}

impl Tm {
    fn weekday(&self) -> &'static str {
        DAYS.get(self.weekday_from_thu as usize)
            .copied()
            .unwrap_or("???")
    }
    fn month_name(&self) -> &'static str {
        MONTHS
            .get(self.month.saturating_sub(1) as usize)
            .copied()
            .unwrap_or("???")
    }
}

/// `strftime("%a, %d %b %Y %H:%M:%S %z", gmtime(secs))`, e.g.
/// `Sun, 01 Jun 2025 10:00:01 +0000` (stage banner, `last_update`,
/// boot-finished).
pub fn rfc2822(secs: f64) -> String {
    let t = gmtime(secs.floor() as i64);
    format!(
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} +0000",
        t.weekday(),
        t.day,
        t.month_name(),
        t.year,
        t.hour,
        t.min,
        t.sec
    )
}

/// Python logging's `asctime`: `2025-06-01 10:00:01,123`.
pub fn asctime(secs: f64) -> String {
    let whole = secs.floor();
    let t = gmtime(whole as i64);
    let ms = (((secs - whole) * 1000.0).floor() as u32).min(999);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02},{:03}",
        t.year, t.month, t.day, t.hour, t.min, t.sec, ms
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(rfc2822(0.0), "Thu, 01 Jan 1970 00:00:00 +0000");
        assert_eq!(rfc2822(1_748_772_001.9), "Sun, 01 Jun 2025 10:00:01 +0000");
        assert_eq!(rfc2822(951_782_400.0), "Tue, 29 Feb 2000 00:00:00 +0000");
        assert_eq!(rfc2822(14.1), "Thu, 01 Jan 1970 00:00:14 +0000");
        assert_eq!(asctime(1_748_772_001.25), "2025-06-01 10:00:01,250");
        assert_eq!(asctime(4_102_444_800.0), "2100-01-01 00:00:00,000");
    }
}

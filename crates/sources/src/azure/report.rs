//! Provisioning failures as upstream reports them to the fabric: one
//! `|`-separated CSV line (`result=error|reason=...|agent=...|vm_id=...`).

use super::identity;
use ci_host::Host;
use std::time::{SystemTime, UNIX_EPOCH};

pub const DOCUMENTATION_URL: &str = "https://aka.ms/linuxprovisioningerror";

/// Upstream `errors.ReportableError`.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportableError {
    pub reason: String,
    /// Extra `key=value` pairs, in order.
    pub supporting_data: Vec<(String, String)>,
    pub timestamp: SystemTime,
}

impl ReportableError {
    pub fn new(reason: impl Into<String>) -> Self {
        ReportableError {
            reason: reason.into(),
            supporting_data: Vec::new(),
            timestamp: SystemTime::now(),
        }
    }

    /// `ReportableErrorUnhandledException`.
    pub fn unhandled(exception_repr: String) -> Self {
        ReportableError::new("unhandled exception").with("exception", exception_repr)
    }

    pub fn with(mut self, k: &str, v: impl Into<String>) -> Self {
        self.supporting_data.push((k.to_string(), v.into()));
        self
    }

    /// Upstream `as_encoded_report`.
    pub fn encoded(&self, host: &Host) -> String {
        let vm_id =
            identity::query_vm_id(host).unwrap_or_else(|e| format!("failed to read vm id: {e}"));
        let mut data = vec![
            "result=error".to_string(),
            format!("reason={}", self.reason),
            format!("agent={}", agent()),
        ];
        data.extend(self.supporting_data.iter().map(|(k, v)| format!("{k}={v}")));
        data.push(format!("vm_id={vm_id}"));
        data.push(format!("timestamp={}", isoformat(self.timestamp)));
        data.push(format!("documentation_url={DOCUMENTATION_URL}"));
        encode_report(&data)
    }
}

/// `Cloud-Init/<version>`.
pub fn agent() -> String {
    format!("Cloud-Init/{}", env!("CARGO_PKG_VERSION"))
}

/// Python's `csv.writer(delimiter='|', quotechar="'", QUOTE_MINIMAL)` for one row.
pub fn encode_report(fields: &[String]) -> String {
    fields
        .iter()
        .map(|f| {
            if f.contains(['|', '\'', '\r', '\n']) {
                format!("'{}'", f.replace('\'', "''"))
            } else {
                f.clone()
            }
        })
        .collect::<Vec<_>>()
        .join("|")
}

/// `datetime.now(timezone.utc).isoformat()`.
pub fn isoformat(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let micros = d.subsec_micros();
    let frac = if micros == 0 {
        String::new()
    } else {
        format!(".{micros:06}")
    };
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}{frac}+00:00",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn csv_and_time() {
        assert_eq!(
            encode_report(&["a=1".into(), "b=x|y".into(), "c='q'".into()]),
            "a=1|'b=x|y'|'c=''q'''"
        );
        let t = UNIX_EPOCH + Duration::from_micros(1_795_000_000_123_456);
        assert_eq!(isoformat(t), "2026-11-18T11:06:40.123456+00:00");
        assert_eq!(isoformat(UNIX_EPOCH), "1970-01-01T00:00:00+00:00");
    }
}

//! Injected misbehaviour, so clients can be tested against a bad service.

use crate::ImdsError;
use std::time::Duration;

/// Faults applied to every request, in this order: hang, delay, forced
/// status for the first N requests, 404 for a path, truncated body.
/// Paths match when the request path ends with the given text (`user-data`
/// matches `/2021-03-23/user-data`); `*` matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faults {
    /// Sleep before answering any request.
    pub delay: Duration,
    /// Answer the first `fail_first` requests with `fail_status`.
    pub fail_first: u32,
    pub fail_status: u16,
    /// Accept, read the request and never answer (until shutdown).
    pub hang: Vec<String>,
    /// Announce the full Content-Length, send half of the body, close.
    pub truncate: Vec<String>,
    /// Answer 404 whatever the tree holds.
    pub not_found: Vec<String>,
    /// Forget every issued token once this many requests have been served
    /// (an expired IMDSv2 token: the client must PUT for a new one).
    pub revoke_tokens_after: Option<u32>,
}

impl Faults {
    /// Parse `delay=MS,fail=N[:STATUS],hang=PATH,truncate=PATH,404=PATH,revoke=N`
    /// (comma separated, path options repeatable); empty means none.
    pub fn parse(spec: &str) -> Result<Faults, ImdsError> {
        let bad = |message: String| ImdsError::Faults {
            spec: spec.to_string(),
            message,
        };
        let mut f = Faults::default();
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (key, value) = item
                .split_once('=')
                .ok_or_else(|| bad(format!("'{item}' is not key=value")))?;
            match key {
                "delay" => {
                    let ms: u64 = value
                        .parse()
                        .map_err(|_| bad(format!("delay '{value}' is not milliseconds")))?;
                    f.delay = Duration::from_millis(ms);
                }
                "fail" => {
                    let (n, status) = value.split_once(':').unwrap_or((value, "503"));
                    f.fail_first = n
                        .parse()
                        .map_err(|_| bad(format!("fail count '{n}' is not a number")))?;
                    f.fail_status = status
                        .parse()
                        .ok()
                        .filter(|s| (100..600).contains(s))
                        .ok_or_else(|| bad(format!("'{status}' is not an HTTP status")))?;
                }
                "hang" => f.hang.push(value.to_string()),
                "truncate" => f.truncate.push(value.to_string()),
                "404" => f.not_found.push(value.to_string()),
                "revoke" => {
                    f.revoke_tokens_after = Some(
                        value
                            .parse()
                            .map_err(|_| bad(format!("revoke count '{value}' is not a number")))?,
                    );
                }
                other => return Err(bad(format!("unknown fault '{other}'"))),
            }
        }
        Ok(f)
    }

    pub(crate) fn matches(list: &[String], path: &str) -> bool {
        list.iter().any(|p| p == "*" || path.ends_with(p.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_spec() {
        let f = Faults::parse("delay=20, fail=2:500,hang=meta-data/,404=user-data").unwrap();
        assert_eq!(f.delay, Duration::from_millis(20));
        assert_eq!((f.fail_first, f.fail_status), (2, 500));
        assert_eq!(f.hang, vec!["meta-data/"]);
        assert_eq!(f.not_found, vec!["user-data"]);
        assert_eq!(Faults::parse("fail=1").unwrap().fail_status, 503);
        assert_eq!(
            Faults::parse("revoke=4").unwrap().revoke_tokens_after,
            Some(4)
        );
        assert_eq!(Faults::parse("").unwrap(), Faults::default());
        let e = Faults::parse("fail=1:999").unwrap_err().to_string();
        assert!(e.contains("'999' is not an HTTP status"), "{e}");
        assert!(Faults::parse("bogus").is_err());
        assert!(Faults::matches(&["user-data".into()], "/latest/user-data"));
        assert!(!Faults::matches(
            &["user-data".into()],
            "/latest/meta-data/"
        ));
    }
}

//! GCE's SSH key format: `user:key-type key-data [comment]`, where the
//! comment may be `google-ssh {"userName":..,"expireOn":"<ISO 8601>"}`.

use std::time::{SystemTime, UNIX_EPOCH};

/// Upstream `_parse_public_keys`: the keys of `cloudinit` and of the
/// default user, without expired ones; non-ASCII or user-less lines skipped.
pub fn parse_public_keys(data: &[String], default_user: Option<&str>) -> Vec<String> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    data.iter()
        .filter(|k| !k.is_empty() && k.is_ascii())
        .filter_map(|k| k.split_once(':'))
        .filter(|(user, _)| *user == "cloudinit" || Some(*user) == default_user)
        .filter(|(_, key)| !has_expired(key, now))
        .map(|(_, key)| key.to_string())
        .collect()
}

/// Upstream `_has_expired` at `now` (Unix seconds): only a `google-ssh`
/// comment whose JSON has a parseable `expireOn` in the past expires a key.
pub fn has_expired(key: &str, now: i64) -> bool {
    // Python's `key.split(None, 3)[2:]` must give exactly schema and JSON.
    let mut rest = key.trim_start();
    let mut fields = Vec::new();
    for _ in 0..3 {
        let Some(end) = rest.find(char::is_whitespace) else {
            break;
        };
        fields.push(&rest[..end]);
        rest = rest[end..].trim_start();
    }
    if fields.len() != 3 || rest.is_empty() {
        return false;
    }
    let json_str = rest.trim_end();
    if fields.get(2) != Some(&"google-ssh") {
        return false;
    }
    let Ok(obj) = serde_json::from_str::<serde_json::Value>(json_str) else {
        return false;
    };
    let Some(expire) = obj.get("expireOn").and_then(|v| v.as_str()) else {
        return false;
    };
    match parse_iso8601(expire) {
        Some(t) => now > t,
        None => false,
    }
}

/// `%Y-%m-%dT%H:%M:%S%z` (offset `Z`, `+HHMM` or `+HH:MM`) as Unix seconds.
fn parse_iso8601(s: &str) -> Option<i64> {
    let (date, rest) = s.split_once('T')?;
    let mut d = date.split('-');
    let (y, mo, da) = (d.next()?, d.next()?, d.next()?);
    if d.next().is_some() || y.len() != 4 {
        return None;
    }
    let num = |t: &str| -> Option<i64> {
        if t.is_empty() || t.len() > 2 || !t.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        t.parse().ok()
    };
    let year: i64 = y.parse().ok()?;
    let (month, day) = (num(mo)?, num(da)?);
    let time_end = rest.find(['Z', '+', '-'])?;
    let (time, offset) = rest.split_at(time_end);
    let mut t = time.split(':');
    let (h, mi, se) = (num(t.next()?)?, num(t.next()?)?, num(t.next()?)?);
    if t.next().is_some()
        || !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || h > 23
        || mi > 59
        || se > 61
    {
        return None;
    }
    let off_secs = if offset == "Z" {
        0
    } else {
        let sign = if offset.starts_with('-') { -1 } else { 1 };
        let digits: String = offset[1..].chars().filter(|c| *c != ':').collect();
        if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let oh: i64 = digits[..2].parse().ok()?;
        let om: i64 = digits[2..].parse().ok()?;
        sign * (oh * 3600 + om * 60)
    };
    Some(days_from_civil(year, month, day) * 86400 + h * 3600 + mi * 60 + se - off_secs)
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_dates() {
        assert_eq!(parse_iso8601("1970-01-01T00:00:00+0000"), Some(0));
        assert_eq!(parse_iso8601("2018-01-01T00:00:00Z"), Some(1_514_764_800));
        assert_eq!(
            parse_iso8601("2018-01-01T01:00:00+01:00"),
            Some(1_514_764_800)
        );
        // Oracle: strptime takes one-digit fields and a negative offset.
        assert_eq!(parse_iso8601("2018-1-1T0:0:0+0000"), Some(1_514_764_800));
        assert_eq!(
            parse_iso8601("2018-01-01T00:00:00-0130"),
            Some(1_514_764_800 + 5400)
        );
        assert_eq!(parse_iso8601("2018-01-01T00:00:00.000+0000"), None);
        assert_eq!(parse_iso8601("2018-01-01"), None);
        assert_eq!(parse_iso8601("2018-01-01T00:00:00"), None);
    }

    #[test]
    fn expiry_and_users() {
        let now = 1_600_000_000;
        let old =
            r#"ssh-rsa AAA google-ssh {"userName":"a","expireOn":"2018-01-01T00:00:00+0000"}"#;
        let new =
            r#"ssh-rsa BBB google-ssh {"userName":"a","expireOn":"2999-01-01T00:00:00+0000"}"#;
        assert!(has_expired(old, now));
        assert!(!has_expired(new, now));
        assert!(!has_expired("ssh-rsa CCC me@host", now));
        assert!(!has_expired(
            r#"ssh-rsa AAA other {"expireOn":"2018-01-01T00:00:00+0000"}"#,
            now
        ));
        let data = vec![
            format!("cloudinit:{old}"),
            format!("ubuntu:{new}"),
            "root:ssh-rsa DDD".to_string(),
            "ssh-rsa EEE".to_string(),
            "cloudinit:ssh-ed25519 FFF é".to_string(),
            String::new(),
        ];
        assert_eq!(
            parse_public_keys(&data, Some("ubuntu")),
            vec![new.to_string()]
        );
        assert!(parse_public_keys(&data, None).is_empty());
    }
}

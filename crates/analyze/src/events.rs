//! cloud-init.log lines to events, as upstream's `analyze/dump.py`: the
//! `start:`/`finish:` reporting lines and the `Cloud-init v. … running`
//! banners, each `{name, description, timestamp, origin, event_type[, result]}`.

use crate::py::{split_first, split_second, split_ws, strip};
use crate::stamp::{parse_timestamp, StampError};
use serde_json::{Map, Value};

pub type Event = Map<String, Value>;

/// What one matching line gave.
#[derive(Debug, PartialEq)]
pub enum Parsed {
    Event(Event),
    /// Not an event (the `finished at` banner, no known separator).
    Nothing,
    /// Upstream skips the line with "Skipping invalid entry" (a ValueError)
    /// or stops with a traceback; both are skipped here.
    Invalid,
}

const SEPARATORS: [&str; 3] = [" - ", " [CLOUDINIT] ", AMAZON_SEP];
const AMAZON_SEP: &str = " cloud-init[";

fn stage_description(name: &str) -> Option<&'static str> {
    Some(match name {
        "finished" => "finished running cloud-init",
        "init-local" => "starting search for local datasources",
        "init-network" | "init" => "searching for network datasources",
        "modules-config" => "running config modules",
        "modules-final" => "finalizing modules",
        "modules" => "running modules for",
        "single" => "running single module ",
        _ => return None,
    })
}

/// A log line's timestamp text and the message after the separator, as
/// upstream's `parse_ci_logline` takes them apart.
fn split_head(line: &str) -> Result<(String, String), Parsed> {
    let Some(sep) = SEPARATORS.iter().find(|s| line.contains(**s)) else {
        return Err(Parsed::Nothing);
    };
    if line.matches(sep).count() != 1 {
        return Err(Parsed::Invalid);
    }
    let (timehost, eventstr) = line.split_once(sep).unwrap_or((line, ""));
    let mut eventstr = eventstr.to_string();
    let mut timehost = timehost.to_string();
    if timehost.ends_with(':') {
        let parts = split_ws(&timehost);
        timehost = parts[..parts.len().saturating_sub(1)].join(" ");
    }
    let timestampstr = if timehost.contains(',') {
        if timehost.matches(',').count() != 1 {
            return Err(Parsed::Invalid);
        }
        let (stamp, extra) = timehost.split_once(',').unwrap_or((&timehost, ""));
        let Some(first) = split_ws(extra).first().copied() else {
            return Err(Parsed::Invalid);
        };
        format!("{stamp},{first}")
    } else {
        let Some(hostname) = split_ws(&timehost).last().map(|h| h.to_string()) else {
            return Err(Parsed::Invalid);
        };
        if *sep == AMAZON_SEP {
            // Amazon Linux: no host name, and a PID ahead of the message.
            let Some((_, rest)) = eventstr
                .trim_start_matches(crate::py::is_space)
                .split_once(crate::py::is_space)
            else {
                return Err(Parsed::Invalid);
            };
            eventstr = rest.trim_start_matches(crate::py::is_space).to_string();
            strip(&timehost).to_string()
        } else {
            strip(split_first(&timehost, &hostname)).to_string()
        }
    };
    Ok((timestampstr, eventstr))
}

/// The time of any log line in one of the formats `parse_line` reads.
pub fn line_time(line: &str, year: i64) -> Option<f64> {
    let (stamp, _) = split_head(line).ok()?;
    parse_timestamp(&stamp, year).ok()
}

/// Upstream's `parse_ci_logline`; `year` stands for the current year that
/// syslog-style timestamps lack.
pub fn parse_line(line: &str, year: i64) -> Parsed {
    let (timestampstr, eventstr) = match split_head(line) {
        Ok(v) => v,
        Err(p) => return p,
    };
    let (event_type, name, description) = if eventstr.contains("Cloud-init v.") {
        let Some(after) = split_second(&eventstr, "running") else {
            return Parsed::Nothing;
        };
        let stage_and_stamp = after.trim_start_matches(crate::py::is_space);
        if stage_and_stamp.matches(" at ").count() != 1 {
            return Parsed::Invalid;
        }
        let raw = split_first(stage_and_stamp, " at ");
        let mut name = raw.replace('\'', "").replace(':', "-");
        if name == "init" {
            name = "init-network".into();
        }
        let Some(desc) = stage_description(&name) else {
            return Parsed::Invalid;
        };
        ("start".to_string(), name, desc.to_string())
    } else {
        let words = split_ws(&eventstr);
        if words.len() < 3 {
            return Parsed::Invalid;
        }
        let name = words[2].to_string();
        let Some(desc) = split_second(&eventstr, &name) else {
            return Parsed::Invalid;
        };
        (words[1].to_string(), name, strip(desc).to_string())
    };
    let timestamp = match parse_timestamp(&timestampstr, year) {
        Ok(t) => t,
        Err(StampError::Invalid | StampError::Unparsable) => return Parsed::Invalid,
    };
    let event_type = event_type.trim_end_matches(':').to_string();
    let mut ev = Event::new();
    ev.insert(
        "name".into(),
        Value::String(name.trim_end_matches(':').to_string()),
    );
    ev.insert("description".into(), Value::String(description.clone()));
    ev.insert(
        "timestamp".into(),
        serde_json::Number::from_f64(timestamp).map_or(Value::Null, Value::Number),
    );
    ev.insert("origin".into(), Value::String("cloudinit".into()));
    ev.insert("event_type".into(), Value::String(event_type.clone()));
    if event_type == "finish" {
        let result = split_first(&description, ":").to_string();
        let Some(rest) = split_second(&description, &result) else {
            return Parsed::Invalid;
        };
        let desc = strip(strip(rest.trim_start_matches(':')));
        ev.insert("result".into(), Value::String(result));
        ev.insert("description".into(), Value::String(desc.to_string()));
    }
    Parsed::Event(ev)
}

/// Upstream's `dump_events`: every line holding `start:`, `finish:` or
/// `Cloud-init v.` is parsed once per marker it holds. A line upstream
/// cannot parse is reported (`skipped`) and, as upstream's loop does, the
/// previous event is counted again.
pub struct Dumped {
    pub events: Vec<Event>,
    pub skipped: usize,
}

pub fn dump_events(lines: &[&str], year: i64, max_events: usize) -> Dumped {
    const MARKERS: [&str; 3] = ["start:", "finish:", "Cloud-init v."];
    let mut events = Vec::new();
    let mut skipped = 0;
    let mut last: Option<Event> = None;
    for line in lines {
        for m in MARKERS {
            if !line.contains(m) {
                continue;
            }
            match parse_line(line, year) {
                Parsed::Event(e) => last = Some(e),
                Parsed::Nothing => last = None,
                Parsed::Invalid => skipped += 1,
            }
            if let Some(e) = &last {
                if events.len() < max_events {
                    events.push(e.clone());
                }
            }
        }
    }
    Dumped { events, skipped }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(line: &str) -> Event {
        match parse_line(line, 2025) {
            Parsed::Event(e) => e,
            other => panic!("{line}: {other:?}"),
        }
    }

    #[test]
    fn banner_and_events() {
        let e = ev("2025-06-01 10:00:01,000 - log_util.py[DEBUG]: Cloud-init v. 25.1.4 running 'modules:config' at Sun, 01 Jun 2025 10:00:04 +0000. Up 7.20 seconds.");
        assert_eq!(e["name"], "modules-config");
        assert_eq!(e["description"], "running config modules");
        assert_eq!(e["event_type"], "start");
        let e = ev("2025-06-01 10:00:01,105 - handlers.py[DEBUG]: finish: init-local/check-cache: SUCCESS: no cache found");
        assert_eq!(e["result"], "SUCCESS");
        assert_eq!(e["description"], "no cache found");
        assert_eq!(e["timestamp"].as_f64(), Some(1748772001.105));
        let e = ev("Apr 30 19:39:11 cloud-init[2673]: handlers.py[DEBUG]: start: init-local/check-cache: attempting to read from cache [check]");
        assert_eq!(e["name"], "init-local/check-cache");
        let e = ev("Nov 03 06:51:06.074410 x2 cloud-init[106]: [CLOUDINIT] util.py[DEBUG]: Cloud-init v. 0.7.8 running 'init-local' at Thu, 03 Nov 2016 06:51:06 +0000. Up 1.0 seconds.");
        assert_eq!(e["name"], "init-local");
    }

    #[test]
    fn odd_lines() {
        assert_eq!(
            parse_line(
                "2025-06-01 10:00:01,000 - x.py[DEBUG]: Cloud-init v. 1 finished at now",
                2025
            ),
            Parsed::Nothing
        );
        assert_eq!(parse_line("a - b - start: c d", 2025), Parsed::Invalid);
        assert_eq!(
            parse_line("2025-06-01 10:00:01,000 - start:", 2025),
            Parsed::Invalid
        );
        assert_eq!(
            parse_line(
                "2025-06-01 10:00:01,000 - x.py[DEBUG]: Cloud-init v. 1 running 'bogus' at x",
                2025
            ),
            Parsed::Invalid
        );
        assert_eq!(
            parse_line("host - x.py[DEBUG]: start: a b", 2025),
            Parsed::Invalid
        );
        let d = dump_events(
            &[
                "2025-06-01 10:00:01,000 - h.py[DEBUG]: start: a: one",
                "garbage - start: x",
            ],
            2025,
            100,
        );
        assert_eq!(d.events.len(), 2, "upstream repeats the previous event");
        assert_eq!(d.skipped, 1);
    }
}

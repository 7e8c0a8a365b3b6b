//! Boot records from events, as upstream's `analyze/show.py`
//! (`generate_records`, `format_record`) and the `show`/`blame` reports.

use crate::events::Event;
use crate::py::{float_repr, py_str, timestamp_micros};
use crate::AnalyzeError;
use serde_json::Value;

/// The `%` fields of `show -f` and the event keys they stand for.
const FIELDS: [(&str, &str); 11] = [
    ("%d", "delta"),
    ("%D", "description"),
    ("%E", "elapsed"),
    ("%e", "event_type"),
    ("%I", "indent"),
    ("%l", "level"),
    ("%n", "name"),
    ("%o", "origin"),
    ("%r", "result"),
    ("%t", "timestamp"),
    ("%T", "total_time"),
];

pub const SHOW_FORMAT: &str = "%I%D @%Es +%ds";
const BLAME_FORMAT: &str = "     %ds (%n)";

fn name(e: Option<&Event>) -> Option<&Value> {
    e.and_then(|e| e.get("name"))
}

fn etype(e: Option<&Event>) -> Option<&str> {
    e.and_then(|e| e.get("event_type")).and_then(Value::as_str)
}

fn micros(e: &Event) -> Result<i64, AnalyzeError> {
    let t = match e.get("timestamp") {
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => crate::py::strip(s).parse::<f64>().ok(),
        _ => None,
    };
    t.and_then(timestamp_micros).ok_or_else(|| {
        AnalyzeError::Format(format!(
            "event {} has no usable timestamp",
            py_str(e.get("name"))
        ))
    })
}

fn seconds(us: i64) -> f64 {
    us as f64 / 1e6
}

/// Upstream's `event_record`: the finish event plus delta, elapsed, indent.
fn event_record(
    start_time: i64,
    start: &Event,
    finish: &Event,
) -> Result<(Event, f64), AnalyzeError> {
    let s = micros(start)?;
    let delta = seconds(micros(finish)? - s);
    let mut rec = finish.clone();
    let depth = py_str(name(Some(start))).matches('/').count();
    let indent = format!("|{}`->", " ".repeat(depth.saturating_sub(1)));
    rec.insert("delta".into(), num(delta));
    rec.insert("elapsed".into(), num(seconds(s - start_time)));
    rec.insert("indent".into(), Value::String(indent));
    Ok((rec, delta))
}

fn num(x: f64) -> Value {
    serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
}

/// `msg` with its `%x` fields replaced and then filled in by Python's
/// `str.format` rules (`{{`, `}}`, `{key}` and `{key:08.5f}`).
pub fn format_record(msg: &str, event: &Event) -> Result<String, AnalyzeError> {
    let mut tmpl = msg.to_string();
    for (code, key) in FIELDS {
        if tmpl.contains(code) {
            let with = if matches!(key, "delta" | "elapsed" | "timestamp") {
                format!("{{{key}:08.5f}}")
            } else {
                format!("{{{key}}}")
            };
            tmpl = tmpl.replace(code, &with);
        }
    }
    let mut out = String::with_capacity(tmpl.len());
    let mut it = tmpl.chars().peekable();
    while let Some(c) = it.next() {
        match c {
            '{' if it.peek() == Some(&'{') => {
                it.next();
                out.push('{');
            }
            '}' if it.peek() == Some(&'}') => {
                it.next();
                out.push('}');
            }
            '}' => {
                return Err(AnalyzeError::Format(
                    "Single '}' encountered in format string".into(),
                ))
            }
            '{' => {
                let mut field = String::new();
                loop {
                    match it.next() {
                        Some('}') => break,
                        Some(ch) => field.push(ch),
                        None => {
                            return Err(AnalyzeError::Format(
                                "expected '}' before end of string".into(),
                            ))
                        }
                    }
                }
                out.push_str(&fill(&field, event)?);
            }
            c => out.push(c),
        }
    }
    Ok(out)
}

fn fill(field: &str, event: &Event) -> Result<String, AnalyzeError> {
    let (key, spec) = field.split_once(':').unwrap_or((field, ""));
    let value = event.get(key).ok_or_else(|| {
        AnalyzeError::Format(format!(
            "format field '{key}' is not in event {}",
            py_str(event.get("name"))
        ))
    })?;
    if spec.is_empty() {
        return Ok(py_str(Some(value)));
    }
    let x = value.as_f64().ok_or_else(|| {
        AnalyzeError::Format(format!("format '{spec}' needs a number for '{key}'"))
    })?;
    let spec_f = spec
        .strip_suffix('f')
        .ok_or_else(|| AnalyzeError::Format(format!("unsupported format spec '{spec}'")))?;
    let (zero, rest) = match spec_f.strip_prefix('0') {
        Some(r) => (true, r),
        None => (false, spec_f),
    };
    let (w, p) = rest.split_once('.').unwrap_or((rest, "6"));
    let width: usize = if w.is_empty() {
        0
    } else {
        w.parse().map_err(|_| bad_spec(spec))?
    };
    let prec: usize = p.parse().map_err(|_| bad_spec(spec))?;
    if width > 1000 || prec > 100 {
        return Err(bad_spec(spec));
    }
    Ok(if zero {
        format!("{x:0width$.prec$}")
    } else {
        format!("{x:width$.prec$}")
    })
}

fn bad_spec(spec: &str) -> AnalyzeError {
    AnalyzeError::Format(format!("unsupported format spec '{spec}'"))
}

fn total_time_record(total: f64) -> String {
    format!("Total Time: {total:3.5} seconds\n")
}

/// Upstream's `generate_records`: events in log order (upstream sorts a
/// copy and then walks the unsorted list), split into boot records at each
/// `init-local` start. A finish with no open stage, where upstream stops
/// with an IndexError, is passed over.
pub fn generate_records(events: &[Event], fmt: &str) -> Result<Vec<Vec<String>>, AnalyzeError> {
    let mut records: Vec<String> = Vec::new();
    let mut boots = Vec::new();
    let mut start_time: Option<i64> = None;
    let mut total = 0.0f64;
    let mut unprocessed: Vec<&Event> = Vec::new();
    for (i, event) in events.iter().enumerate() {
        let next = events.get(i + 1);
        if etype(Some(event)) == Some("start") {
            if !records.is_empty()
                && name(Some(event)).and_then(Value::as_str) == Some("init-local")
            {
                records.push(total_time_record(total));
                boots.push(std::mem::take(&mut records));
                start_time = None;
                total = 0.0;
            }
            let st = match start_time {
                Some(t) => t,
                None => {
                    let t = micros(event)?;
                    start_time = Some(t);
                    t
                }
            };
            if name(Some(event)) == name(next) {
                if let Some(next) = next.filter(|n| etype(Some(n)) == Some("finish")) {
                    let (rec, _) = event_record(st, event, next)?;
                    records.push(format_record(fmt, &rec)?);
                }
            } else {
                records.push(format!("Starting stage: {}", py_str(event.get("name"))));
                unprocessed.push(event);
            }
        } else {
            let Some(prev) = unprocessed.pop() else {
                continue;
            };
            if name(Some(event)) == name(Some(prev)) {
                let (rec, delta) = event_record(start_time.unwrap_or(0), prev, event)?;
                records.push(format_record("Finished stage: (%n) %d seconds", &rec)? + "\n");
                total += delta;
            } else {
                unprocessed.push(prev);
            }
        }
    }
    records.push(total_time_record(total));
    boots.push(records);
    Ok(boots)
}

/// `analyze show -f FORMAT`.
pub fn show(events: &[Event], fmt: &str) -> Result<String, AnalyzeError> {
    let boots = generate_records(events, fmt)?;
    let mut out = String::new();
    for (i, rec) in boots.iter().enumerate() {
        out.push_str(&format!("-- Boot Record {:02} --\n", i + 1));
        out.push_str(
            "The total time elapsed since completing an event is printed after the \"@\" character.\n",
        );
        out.push_str("The time the event takes is printed after the \"+\" character.\n\n");
        out.push_str(&rec.join("\n"));
        out.push('\n');
    }
    out.push_str(&format!("{} boot records analyzed\n", boots.len().max(1)));
    Ok(out)
}

/// Upstream's blame filter `^\s+\d+\.\d+`: a duration line, not a stage line.
fn is_duration_line(s: &str) -> bool {
    let rest = s.trim_start_matches(crate::py::is_space);
    if rest.len() == s.len() {
        return false;
    }
    let int = rest.chars().take_while(char::is_ascii_digit).count();
    let Some(after) = rest[int..].strip_prefix('.') else {
        return false;
    };
    int > 0 && after.starts_with(|c: char| c.is_ascii_digit())
}

/// `analyze blame`: each boot's steps, longest first.
pub fn blame(events: &[Event]) -> Result<String, AnalyzeError> {
    let boots = generate_records(events, BLAME_FORMAT)?;
    let mut out = String::new();
    for (i, rec) in boots.iter().enumerate() {
        let mut lines: Vec<&String> = rec.iter().filter(|l| is_duration_line(l)).collect();
        lines.sort_by(|a, b| b.cmp(a));
        out.push_str(&format!("-- Boot Record {:02} --\n", i + 1));
        out.push_str(
            &lines
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join("\n"),
        );
        out.push_str("\n\n");
    }
    out.push_str(&format!("{} boot records analyzed\n", boots.len().max(1)));
    Ok(out)
}

/// For messages: a float as Python prints it.
pub fn secs(x: f64) -> String {
    float_repr(x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Event {
        match v {
            Value::Object(m) => m,
            _ => Event::new(),
        }
    }

    #[test]
    fn format_fields_and_braces() {
        let e = obj(json!({"name": "a/b", "delta": 0.5, "description": "d", "x": 1}));
        assert_eq!(
            format_record("%n %d {{%D}} {x}", &e).ok().as_deref(),
            Some("a/b 00.50000 {d} 1")
        );
        assert!(format_record("%l", &e).is_err());
        assert!(format_record("}", &e).is_err());
        assert!(format_record("{x", &e).is_err());
    }

    #[test]
    fn duration_lines() {
        assert!(is_duration_line("     00.50000s (a)"));
        assert!(!is_duration_line("Finished stage: (a) 00.5 seconds"));
        assert!(!is_duration_line("     -0.50000s (a)"));
    }

    #[test]
    fn lone_finish_is_passed_over() {
        let ev = [obj(
            json!({"name": "x", "event_type": "finish", "timestamp": 1.0}),
        )];
        let out = show(&ev, SHOW_FORMAT).unwrap_or_default();
        assert!(
            out.ends_with("Total Time: 0.00000 seconds\n\n1 boot records analyzed\n"),
            "{out}"
        );
    }
}

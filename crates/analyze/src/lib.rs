//! `cloud-init analyze`: events parsed from cloud-init.log, and the reports
//! built on them: upstream 25.1.4's `show`, `blame`, `dump` and `boot`
//! (same output, byte for byte, on the same log) and our own `plot`.

pub mod boot;
pub mod events;
pub mod plot;
pub mod py;
pub mod records;
mod stamp;

pub use events::Event;
use serde_json::Value;

/// Events kept from one input at most (a log line gives at most three).
pub const MAX_EVENTS: usize = 2_000_000;

#[derive(Debug, Clone, PartialEq)]
pub enum AnalyzeError {
    /// A `show -f` format or an event that cannot fill it (upstream: a traceback).
    Format(String),
    /// JSON input that is not a list of event objects.
    NotEvents,
}

impl std::fmt::Display for AnalyzeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AnalyzeError::Format(m) => write!(f, "{m}"),
            AnalyzeError::NotEvents => write!(f, "the JSON input is not a list of event objects"),
        }
    }
}

impl std::error::Error for AnalyzeError {}

/// Upstream's `_get_events`: input that is JSON (such as `dump`'s output)
/// and not empty is taken as it is; anything else is read as log lines.
pub struct Loaded {
    pub json: Option<Value>,
    pub events: Vec<Event>,
    /// Lines upstream reports as "Skipping invalid entry".
    pub skipped: usize,
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(m) => !m.is_empty(),
    }
}

/// `data` is the whole input, newlines already translated; `year` is the
/// year assumed for syslog timestamps (upstream: the current one).
pub fn load(data: &str, year: i64) -> Loaded {
    if let Ok(v) = serde_json::from_str::<Value>(data) {
        if truthy(&v) {
            return Loaded {
                json: Some(v),
                events: Vec::new(),
                skipped: 0,
            };
        }
    }
    let lines = py::splitlines(data);
    let d = events::dump_events(&lines, year, MAX_EVENTS);
    Loaded {
        json: None,
        events: d.events,
        skipped: d.skipped,
    }
}

impl Loaded {
    /// The events, or an error when the JSON input holds something else.
    pub fn events(&self) -> Result<Vec<Event>, AnalyzeError> {
        match &self.json {
            None => Ok(self.events.clone()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|i| i.as_object().cloned().ok_or(AnalyzeError::NotEvents))
                .collect(),
            Some(_) => Err(AnalyzeError::NotEvents),
        }
    }

    /// `analyze dump`: the events as upstream's JSON, newline-terminated.
    pub fn dump(&self) -> String {
        let v = match &self.json {
            Some(v) => v.clone(),
            None => Value::Array(self.events.iter().cloned().map(Value::Object).collect()),
        };
        py::json_dumps(&v) + "\n"
    }
}

/// The current UTC year (for syslog timestamps, which have none).
pub fn current_year() -> i64 {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let days = secs.div_euclid(86_400);
    // datetime_str gives "YYYY-…"; its first field is the year.
    py::datetime_str(days * 86_400 * 1_000_000)
        .split('-')
        .next()
        .and_then(|y| y.parse().ok())
        .unwrap_or(1970)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_input_is_taken_as_events() {
        let l = load(
            "[{\"name\": \"a\", \"event_type\": \"start\", \"timestamp\": 1}]",
            2025,
        );
        assert!(l.json.is_some());
        assert_eq!(l.events().map(|e| e.len()).ok(), Some(1));
        let l = load("{\"a\": 1}", 2025);
        assert_eq!(l.events().err(), Some(AnalyzeError::NotEvents));
        assert_eq!(l.dump(), "{\n \"a\": 1\n}\n");
        let l = load("[]", 2025);
        assert!(l.json.is_none());
        assert_eq!(l.dump(), "[]\n");
    }

    #[test]
    fn year_is_sane() {
        assert!(current_year() >= 2024);
    }
}

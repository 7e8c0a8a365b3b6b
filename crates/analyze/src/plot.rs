//! `analyze plot` (ours): one self-contained SVG timeline of the most recent
//! boot in a cloud-init.log. Stages are top-level bars, every start/finish
//! pair below them a nested bar with its name and duration, and each
//! WARNING line a red mark at its time. The log is hostile input: every
//! piece of its text is XML-escaped and the amounts drawn are capped.

use crate::events::{line_time, parse_line, Event, Parsed};
use crate::py::splitlines;
use serde_json::Value;
use std::fmt::Write;

/// Bars drawn at most; the rest are counted in a note.
pub const MAX_SPANS: usize = 4000;
/// WARNING marks drawn at most.
pub const MAX_WARNINGS: usize = 200;
/// Characters of a label or warning kept.
const MAX_LABEL: usize = 160;

const WIDTH: f64 = 1200.0;
const LEFT: f64 = 10.0;
const RIGHT: f64 = 1190.0;
const ROW: f64 = 18.0;
const TOP: f64 = 60.0;

#[derive(Debug, Clone)]
pub struct Span {
    pub name: String,
    pub depth: usize,
    pub start: f64,
    pub end: f64,
    pub result: Option<String>,
    pub finished: bool,
}

#[derive(Debug, Clone)]
pub struct Warning {
    pub time: f64,
    pub text: String,
}

#[derive(Debug, Default)]
pub struct Timeline {
    pub spans: Vec<Span>,
    pub warnings: Vec<Warning>,
    pub dropped_spans: usize,
    pub dropped_warnings: usize,
    pub boots: usize,
}

fn s(e: &Event, k: &str) -> Option<String> {
    e.get(k).and_then(Value::as_str).map(str::to_string)
}

fn is_boot_start(e: &Event) -> bool {
    s(e, "event_type").as_deref() == Some("start") && s(e, "name").as_deref() == Some("init-local")
}

/// Events and warnings of the log's most recent boot (the last run of
/// `init-local` on), nested by start/finish pairs.
pub fn timeline(log: &str, year: i64) -> Timeline {
    let mut items: Vec<(Option<Event>, Option<Warning>)> = Vec::new();
    for line in splitlines(log) {
        if line.contains("start:") || line.contains("finish:") || line.contains("Cloud-init v.") {
            if let Parsed::Event(e) = parse_line(line, year) {
                items.push((Some(e), None));
                continue;
            }
        }
        if line.contains("[WARNING]") {
            if let Some(t) = line_time(line, year) {
                let text = line.split_once("[WARNING]").map_or(line, |(_, m)| m);
                let text = text.trim_start_matches(':').trim();
                items.push((
                    None,
                    Some(Warning {
                        time: t,
                        text: text.to_string(),
                    }),
                ));
            }
        }
    }
    // A banner and a handler line may both start init-local: a boot
    // begins at the first of a run of such starts.
    let mut from = 0;
    let mut boots = 0;
    for (i, (e, _)) in items.iter().enumerate() {
        if e.as_ref().is_some_and(is_boot_start) {
            let prev_is_start = i > 0 && items[i - 1].0.as_ref().is_some_and(is_boot_start);
            if !prev_is_start {
                from = i;
                boots += 1;
            }
        }
    }
    let mut tl = Timeline {
        boots: boots.max(1),
        ..Timeline::default()
    };
    let mut open: Vec<usize> = Vec::new();
    let mut last_time = None;
    for (e, w) in items.into_iter().skip(from) {
        if let Some(w) = w {
            if tl.warnings.len() < MAX_WARNINGS {
                tl.warnings.push(w);
            } else {
                tl.dropped_warnings += 1;
            }
            continue;
        }
        let Some(e) = e else { continue };
        let (Some(name), Some(kind), Some(t)) = (
            s(&e, "name"),
            s(&e, "event_type"),
            e.get("timestamp").and_then(Value::as_f64),
        ) else {
            continue;
        };
        last_time = Some(t);
        if kind == "start" {
            if open.last().is_some_and(|&i| tl.spans[i].name == name) {
                continue;
            }
            if tl.spans.len() >= MAX_SPANS {
                tl.dropped_spans += 1;
                continue;
            }
            tl.spans.push(Span {
                name,
                depth: open.len(),
                start: t,
                end: t,
                result: None,
                finished: false,
            });
            open.push(tl.spans.len() - 1);
        } else if let Some(pos) = open.iter().rposition(|&i| tl.spans[i].name == name) {
            for &i in &open[pos..] {
                tl.spans[i].end = t;
            }
            let i = open[pos];
            tl.spans[i].finished = true;
            tl.spans[i].result = s(&e, "result");
            open.truncate(pos);
        }
    }
    if let Some(t) = last_time {
        for &i in &open {
            tl.spans[i].end = t;
        }
    }
    tl
}

/// XML text or attribute value: markup characters escaped, characters XML
/// 1.0 forbids replaced, and at most `max` characters kept.
pub fn xml_escape(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max) + 8);
    for (n, c) in text.chars().enumerate() {
        if n == max {
            out.push('…');
            break;
        }
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(' '),
            c if (c as u32) < 0x20 || matches!(c, '\u{fffe}' | '\u{ffff}') => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

fn color(stage: &str) -> &'static str {
    match stage {
        "init-local" => "#4e79a7",
        "init-network" => "#f28e2b",
        "modules-config" => "#59a14f",
        "modules-final" => "#b07aa1",
        _ => "#8c8c8c",
    }
}

/// The timeline as an SVG document.
pub fn render(tl: &Timeline, source: &str) -> String {
    let t0 = tl
        .spans
        .iter()
        .map(|s| s.start)
        .chain(tl.warnings.iter().map(|w| w.time))
        .fold(f64::INFINITY, f64::min);
    let t1 = tl
        .spans
        .iter()
        .map(|s| s.end)
        .chain(tl.warnings.iter().map(|w| w.time))
        .fold(f64::NEG_INFINITY, f64::max);
    let (t0, span) = if t0.is_finite() && t1.is_finite() {
        (t0, (t1 - t0).max(0.001))
    } else {
        (0.0, 1.0)
    };
    let x = |t: f64| LEFT + (t - t0) / span * (RIGHT - LEFT);
    let rows = tl.spans.len();
    let chart_bottom = TOP + rows as f64 * ROW + 10.0;
    let height = chart_bottom + 30.0 + tl.warnings.len() as f64 * 16.0 + 40.0;
    let mut o = String::new();
    let _ = writeln!(o, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
    let _ = writeln!(
        o,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height:.0}\" viewBox=\"0 0 {WIDTH} {height:.0}\" font-family=\"sans-serif\" font-size=\"11\">"
    );
    let _ = writeln!(
        o,
        "<rect x=\"0\" y=\"0\" width=\"{WIDTH}\" height=\"{height:.0}\" fill=\"#ffffff\"/>"
    );
    let boots = if tl.boots > 1 {
        format!(" (most recent of {} boots)", tl.boots)
    } else {
        String::new()
    };
    let _ = writeln!(
        o,
        "<text x=\"{LEFT}\" y=\"20\" font-size=\"15\" font-weight=\"bold\">cloud-init boot timeline{}</text>",
        xml_escape(&boots, MAX_LABEL)
    );
    let _ = writeln!(
        o,
        "<text x=\"{LEFT}\" y=\"38\">{} — {:.3} s, {} steps, {} warnings</text>",
        xml_escape(source, MAX_LABEL),
        if rows == 0 { 0.0 } else { span },
        rows,
        tl.warnings.len() + tl.dropped_warnings
    );
    // Time axis: ten ticks.
    for i in 0..=10 {
        let t = span * f64::from(i) / 10.0;
        let tx = x(t0 + t);
        let _ = writeln!(
            o,
            "<line x1=\"{tx:.1}\" y1=\"{:.1}\" x2=\"{tx:.1}\" y2=\"{chart_bottom:.1}\" stroke=\"#e4e4e4\"/><text x=\"{tx:.1}\" y=\"{:.1}\" fill=\"#777777\" text-anchor=\"middle\">{t:.2}s</text>",
            TOP - 4.0,
            TOP - 6.0
        );
    }
    let mut stage = String::new();
    for (row, sp) in tl.spans.iter().enumerate() {
        if sp.depth == 0 {
            stage = sp.name.clone();
        }
        let y = TOP + row as f64 * ROW;
        let bx = x(sp.start);
        let bw = (x(sp.end) - bx).max(1.0);
        let indent = (sp.depth.min(3) as f64) * 2.0;
        let dur = sp.end - sp.start;
        let failed = sp.result.as_deref().is_some_and(|r| r != "SUCCESS");
        let stroke = if failed {
            " stroke=\"#d62728\" stroke-width=\"2\""
        } else {
            ""
        };
        let opacity = if sp.depth == 0 { 0.9 } else { 0.55 };
        let state = match (&sp.result, sp.finished) {
            (Some(r), true) => r.clone(),
            (None, true) => "finished".into(),
            _ => "unfinished".into(),
        };
        let name = xml_escape(&sp.name, MAX_LABEL);
        let label = format!("{name} {dur:.3}s");
        let (tx, anchor) = if bx > WIDTH * 0.6 {
            (bx - 3.0, "end")
        } else {
            (bx + bw + 3.0, "start")
        };
        let weight = if sp.depth == 0 {
            " font-weight=\"bold\""
        } else {
            ""
        };
        let _ = writeln!(
            o,
            "<g class=\"{}\"><title>{name}: {dur:.3} s ({})</title><rect x=\"{bx:.2}\" y=\"{:.1}\" width=\"{bw:.2}\" height=\"{:.1}\" fill=\"{}\" fill-opacity=\"{opacity}\"{stroke}/><text x=\"{tx:.2}\" y=\"{:.1}\" text-anchor=\"{anchor}\"{weight}>{label}</text></g>",
            if sp.depth == 0 { "stage" } else { "step" },
            xml_escape(&state, 40),
            y + indent,
            ROW - 4.0 - indent * 2.0,
            color(&stage),
            y + ROW - 6.0
        );
    }
    if tl.dropped_spans > 0 {
        let _ = writeln!(
            o,
            "<text x=\"{LEFT}\" y=\"{:.1}\" fill=\"#d62728\">{} more steps not drawn</text>",
            chart_bottom + 4.0,
            tl.dropped_spans
        );
    }
    let mut wy = chart_bottom + 24.0;
    for (i, w) in tl.warnings.iter().enumerate() {
        let wx = x(w.time);
        let msg = xml_escape(&w.text, MAX_LABEL);
        let _ = writeln!(
            o,
            "<g class=\"warning\"><title>WARNING at {:.3}s: {msg}</title><line x1=\"{wx:.2}\" y1=\"{:.1}\" x2=\"{wx:.2}\" y2=\"{chart_bottom:.1}\" stroke=\"#d62728\" stroke-dasharray=\"3,2\"/><text x=\"{wx:.2}\" y=\"{:.1}\" fill=\"#d62728\" text-anchor=\"middle\">W{}</text></g>",
            w.time - t0,
            TOP - 2.0,
            chart_bottom + 10.0,
            i + 1
        );
        let _ = writeln!(
            o,
            "<text x=\"{LEFT}\" y=\"{wy:.1}\" fill=\"#d62728\">W{} +{:.3}s WARNING: {msg}</text>",
            i + 1,
            w.time - t0
        );
        wy += 16.0;
    }
    if tl.dropped_warnings > 0 {
        let _ = writeln!(
            o,
            "<text x=\"{LEFT}\" y=\"{wy:.1}\" fill=\"#d62728\">{} more warnings not drawn</text>",
            tl.dropped_warnings
        );
    }
    o.push_str("</svg>\n");
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "\
2025-06-01 10:00:01,000 - log_util.py[DEBUG]: Cloud-init v. 25.1.4 running 'init-local' at Sun, 01 Jun 2025 10:00:01 +0000. Up 4.20 seconds.
2025-06-01 10:00:01,100 - handlers.py[DEBUG]: start: init-local/check-cache: attempting to read from cache [check]
2025-06-01 10:00:01,150 - x.py[WARNING]: odd <thing> & \"stuff\"
2025-06-01 10:00:01,105 - handlers.py[DEBUG]: finish: init-local/check-cache: SUCCESS: no cache found
2025-06-01 10:00:01,500 - handlers.py[DEBUG]: finish: init-local: SUCCESS: searching for local datasources
";

    #[test]
    fn nests_and_escapes() {
        let tl = timeline(LOG, 2025);
        assert_eq!(tl.spans.len(), 2);
        assert_eq!(tl.spans[1].name, "init-local/check-cache");
        assert_eq!(tl.spans[1].depth, 1);
        assert!(tl.spans[0].finished);
        assert_eq!(tl.warnings.len(), 1);
        let svg = render(&tl, "log");
        assert!(svg.contains("odd &lt;thing&gt; &amp; &quot;stuff&quot;"));
        assert!(!svg.contains("<thing>"));
    }

    #[test]
    fn escape_bounds() {
        assert_eq!(xml_escape("a\u{1}b", 10), "a\u{fffd}b");
        assert_eq!(xml_escape("abcdef", 3), "abc…");
    }
}

//! Partition sizes from a `layout` (percentages of the disk, optionally with
//! a partition type), as sfdisk's stdin script (MBR) or sgdisk `--new`
//! ranges (GPT), with upstream's float arithmetic and truncation.

use super::subp::PyResult;
use ci_pyval::{py_repr, py_str, py_type};
use serde_json::Value;

/// One GPT partition: its type as given (`None`: sgdisk's default) and the
/// `start:end` of `sgdisk -n` (`0` means "default"/"to the end").
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct GptPart {
    pub ptype: Option<String>,
    pub start: String,
    pub end: String,
}

/// Python's `float(v)` for a layout entry.
pub(crate) fn py_float(v: &Value) -> PyResult<f64> {
    match v {
        Value::Bool(b) => Ok(if *b { 1.0 } else { 0.0 }),
        Value::Number(n) => n
            .as_f64()
            .ok_or_else(|| format!("could not convert {n} to float")),
        Value::String(s) => parse_float_text(s)
            .ok_or_else(|| format!("could not convert string to float: {}", py_repr(v))),
        other => Err(format!(
            "float() argument must be a string or a real number, not '{}'",
            py_type(other)
        )),
    }
}

fn parse_float_text(s: &str) -> Option<f64> {
    let t = s.trim().replace('_', "");
    match t.to_ascii_lowercase().as_str() {
        "inf" | "+inf" | "infinity" | "+infinity" => Some(f64::INFINITY),
        "-inf" | "-infinity" => Some(f64::NEG_INFINITY),
        "nan" | "+nan" | "-nan" => Some(f64::NAN),
        _ => t.parse::<f64>().ok(),
    }
}

/// Python's `int(f)` of a float, as decimal text.
fn py_int(f: f64) -> PyResult<String> {
    if f.is_nan() {
        return Err("cannot convert float NaN to integer".into());
    }
    if f.is_infinite() {
        return Err("cannot convert float infinity to integer".into());
    }
    let t = f.trunc();
    if t == 0.0 {
        return Ok("0".into());
    }
    Ok(format!("{t:.0}"))
}

/// `int(float(size) * (float(percent) / 100))`.
fn part_size(size: f64, percent: &Value) -> PyResult<String> {
    py_int(size * (py_float(percent)? / 100.0))
}

/// A `[percent, type]` entry split, or the bare percent.
fn split_entry(part: &Value) -> PyResult<(&Value, Option<&Value>)> {
    match part {
        Value::Array(a) if a.len() == 2 => Ok((&a[0], Some(&a[1]))),
        Value::Array(_) => Err(format!(
            "Partition was incorrectly defined: {}",
            py_repr(part)
        )),
        other => Ok((other, None)),
    }
}

/// Upstream's `get_partition_mbr_layout`: sfdisk's input, one line per
/// partition (`,SIZE,TYPE`), the last one taking what is left.
pub(crate) fn mbr_layout(size: f64, layout: &Value) -> PyResult<String> {
    if layout.is_boolean() {
        return Ok(",,83".into());
    }
    let parts = match layout {
        Value::Array(a) if !a.is_empty() => a,
        _ => return Err("Partition layout is invalid".into()),
    };
    if parts.len() > 4 {
        return Err("Only simply partitioning is allowed.".into());
    }
    let mut lines = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        let (percent, ptype) = split_entry(part)?;
        let ptype = ptype.map_or_else(|| "83".to_string(), py_str);
        let size = part_size(size, percent)?;
        if i + 1 == parts.len() {
            lines.push(format!(",,{ptype}"));
        } else {
            lines.push(format!(",{size},{ptype}"));
        }
    }
    Ok(lines.join("\n"))
}

/// Upstream's `get_partition_gpt_layout`.
pub(crate) fn gpt_layout(size: f64, layout: &Value) -> PyResult<Vec<GptPart>> {
    if layout.is_boolean() {
        return Ok(vec![GptPart {
            ptype: None,
            start: "0".into(),
            end: "0".into(),
        }]);
    }
    let parts: Vec<&Value> = match layout {
        Value::Array(a) => a.iter().collect(),
        // Upstream iterates whatever it was given; a string goes by letter.
        Value::String(s) => return gpt_layout_letters(size, s),
        other => return Err(format!("'{}' object is not iterable", py_type(other))),
    };
    let mut specs = Vec::new();
    for part in parts {
        let (percent, ptype) = split_entry(part)?;
        let size = part_size(size, percent)?;
        specs.push(GptPart {
            ptype: ptype.filter(|t| !t.is_null()).map(py_str),
            start: "0".into(),
            end: format!("+{size}"),
        });
    }
    match specs.last_mut() {
        Some(last) => last.end = "0".into(),
        None => return Err("list index out of range".into()),
    }
    Ok(specs)
}

fn gpt_layout_letters(size: f64, s: &str) -> PyResult<Vec<GptPart>> {
    let letters: Vec<Value> = s.chars().map(|c| Value::String(c.to_string())).collect();
    gpt_layout(size, &Value::Array(letters))
}

/// sgdisk's type code from the configured one: `82` -> `8200`; longer
/// names are kept (`str(t).ljust(4, "0")`).
pub(crate) fn sgdisk_typecode(ptype: &str) -> String {
    let mut t = ptype.to_string();
    while t.chars().count() < 4 {
        t.push('0');
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // 10 GiB in 512-byte sectors.
    const SECTORS: f64 = 20971520.0;

    #[test]
    fn mbr_whole_disk_and_percentages() {
        assert_eq!(mbr_layout(SECTORS, &json!(true)).unwrap(), ",,83");
        assert_eq!(
            mbr_layout(SECTORS, &json!([33, [66, 82]])).unwrap(),
            ",6920601,83\n,,82"
        );
        assert_eq!(
            mbr_layout(SECTORS, &json!([25, 25, 25, 25])).unwrap(),
            ",5242880,83\n,5242880,83\n,5242880,83\n,,83"
        );
        // Upstream truncates the product of two floats: 1/3 of 1001 sectors.
        assert_eq!(
            mbr_layout(1001.0, &json!([33.3, 66.7])).unwrap(),
            ",333,83\n,,83"
        );
        assert_eq!(
            mbr_layout(SECTORS, &json!([["50", "7"], 50])).unwrap(),
            ",10485760,7\n,,83"
        );
    }

    #[test]
    fn mbr_rejects_what_upstream_rejects() {
        assert_eq!(
            mbr_layout(SECTORS, &json!([])).unwrap_err(),
            "Partition layout is invalid"
        );
        assert_eq!(
            mbr_layout(SECTORS, &json!(50)).unwrap_err(),
            "Partition layout is invalid"
        );
        assert_eq!(
            mbr_layout(SECTORS, &json!([10, 10, 10, 10, 10])).unwrap_err(),
            "Only simply partitioning is allowed."
        );
        assert_eq!(
            mbr_layout(SECTORS, &json!([[10, 82, 1]])).unwrap_err(),
            "Partition was incorrectly defined: [10, 82, 1]"
        );
        assert_eq!(
            mbr_layout(SECTORS, &json!(["x"])).unwrap_err(),
            "could not convert string to float: 'x'"
        );
    }

    #[test]
    fn gpt_ranges() {
        let p = gpt_layout(SECTORS, &json!(true)).unwrap();
        assert_eq!(
            p,
            vec![GptPart {
                ptype: None,
                start: "0".into(),
                end: "0".into()
            }]
        );
        let p = gpt_layout(SECTORS, &json!([50, [50, 82]])).unwrap();
        assert_eq!(p[0].end, "+10485760");
        assert_eq!(p[0].ptype, None);
        assert_eq!(p[1].end, "0");
        assert_eq!(p[1].ptype.as_deref(), Some("82"));
        let p = gpt_layout(SECTORS, &json!([[100, "8e00"]])).unwrap();
        assert_eq!(
            (p[0].end.as_str(), p[0].ptype.as_deref()),
            ("0", Some("8e00"))
        );
        assert_eq!(
            gpt_layout(SECTORS, &json!([])).unwrap_err(),
            "list index out of range"
        );
    }

    #[test]
    fn typecodes_padded_like_ljust() {
        assert_eq!(sgdisk_typecode("82"), "8200");
        assert_eq!(sgdisk_typecode("8e00"), "8e00");
        assert_eq!(sgdisk_typecode("Linux"), "Linux");
        assert_eq!(sgdisk_typecode("7"), "7000");
    }
}

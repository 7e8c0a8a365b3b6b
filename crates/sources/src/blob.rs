//! Raw user-data/vendor-data in the JSON cache: UTF-8 text as a string,
//! anything else (gzip, binary parts) as `{"hex": "..."}`.

use serde_json::{json, Value};

pub(crate) fn encode(data: Option<&[u8]>) -> Value {
    match data {
        None => Value::Null,
        Some(d) => match std::str::from_utf8(d) {
            Ok(s) => Value::String(s.to_string()),
            Err(_) => json!({ "hex": d.iter().map(|b| format!("{b:02x}")).collect::<String>() }),
        },
    }
}

pub(crate) fn decode(v: Option<&Value>) -> Result<Option<Vec<u8>>, ()> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone().into_bytes())),
        Some(Value::Object(m)) => {
            let hex = m.get("hex").and_then(Value::as_str).ok_or(())?;
            if hex.len() % 2 != 0 {
                return Err(());
            }
            (0..hex.len())
                .step_by(2)
                .map(|i| {
                    hex.get(i..i + 2)
                        .and_then(|b| u8::from_str_radix(b, 16).ok())
                        .ok_or(())
                })
                .collect::<Result<Vec<u8>, ()>>()
                .map(Some)
        }
        Some(_) => Err(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for data in [
            None,
            Some(&b""[..]),
            Some(&b"#cloud-config\n"[..]),
            Some(&[0x1f, 0x8b, 0xff, 0x00][..]),
        ] {
            assert_eq!(decode(Some(&encode(data))).unwrap().as_deref(), data);
        }
        assert_eq!(encode(Some(&[0xff, 0x01])), json!({"hex": "ff01"}));
        assert!(decode(Some(&json!({"hex": "f"}))).is_err());
        assert!(decode(Some(&json!({"hex": "zz"}))).is_err());
        assert!(decode(Some(&json!(3))).is_err());
    }
}

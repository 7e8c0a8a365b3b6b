//! The CloudStack password server (also run by Exoscale) on port 8080 of
//! the metadata host: `GET` with header `DomU_Request: send_my_password`
//! answers the password set in the console (empty or `saved_password`
//! when there is none new); `DomU_Request: saved_password` then marks it
//! delivered, so the next boot gets nothing.
//!
//! The password becomes datasource config, as upstream's
//! `get_config_obj`: `{ssh_pwauth: true, password: P, chpasswd: {expire: false}}`.

use crate::error::SourceError;
use crate::url::UrlReader;
use serde_json::{json, Value};

pub const HEADER: &str = "DomU_Request";
pub const SEND: &str = "send_my_password";
pub const SAVED: &str = "saved_password";
pub const BAD_REQUEST: &str = "bad_request";

/// How a cloud's password server answers differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// CloudStack (upstream reads it with `wget`, output stripped);
    /// `bad_request` is an error.
    CloudStack,
    /// Exoscale: the body as is, no `bad_request` answer.
    Exoscale,
}

/// Ask `url` for the password; `Ok(None)` when none is pending. A
/// password found is acknowledged before it is returned.
pub fn fetch_password(
    reader: &UrlReader,
    url: &str,
    flavor: Flavor,
) -> Result<Option<String>, SourceError> {
    let resp = reader.get(url, &[(HEADER, SEND)])?;
    let text = String::from_utf8_lossy(&resp.body).into_owned();
    let password = match flavor {
        Flavor::CloudStack => text.trim().to_string(),
        Flavor::Exoscale => text,
    };
    if password.is_empty() || password == SAVED {
        return Ok(None);
    }
    if flavor == Flavor::CloudStack && password == BAD_REQUEST {
        return Err(SourceError::Malformed {
            what: format!("password server {url}"),
            message: "Error when attempting to fetch root password.".into(),
        });
    }
    reader.get(url, &[(HEADER, SAVED)])?;
    Ok(Some(password))
}

/// The config a fetched password turns into.
pub fn password_config(password: &str) -> Value {
    json!({
        "ssh_pwauth": true,
        "password": password,
        "chpasswd": {"expire": false},
    })
}

//! Reading the service once found: version probe, user-data and the
//! metadata tree (upstream's `MetadataMaterializer`), over one token and
//! one agent.

use super::*;

/// The IMDSv2 token of a session. Refreshed at most once (after a 401):
/// one token per boot, and a service that keeps refusing fresh tokens
/// gets ordinary retries, not a token request per fetch.
#[derive(Debug, Default)]
pub(super) struct TokenSlot {
    value: Option<String>,
    stale: bool,
    refreshed: bool,
}

impl TokenSlot {
    pub(super) fn new(value: Option<String>) -> Self {
        TokenSlot {
            value,
            ..TokenSlot::default()
        }
    }
}

/// One metadata address and (AWS) its token, shared by the crawl threads.
pub(super) struct Session<'c> {
    pub(super) base: String,
    pub(super) aws: bool,
    pub(super) token: Mutex<TokenSlot>,
    pub(super) client: &'c Client,
    pub(super) crawl: CrawlPolicy,
}

impl Session<'_> {
    fn slot(&self) -> std::sync::MutexGuard<'_, TokenSlot> {
        self.token.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Upstream `_get_headers`: on AWS, the token (fetched again once after a 401).
    pub(super) fn token(&self) -> Option<String> {
        if !self.aws {
            return None;
        }
        // Held across the PUT so threads that all saw a 401 share one new token.
        let mut slot = self.slot();
        if slot.stale {
            slot.stale = false;
            log::debug!("Refreshing Ec2 metadata API token");
            let url = format!("{}/{TOKEN_ROUTE}", self.base);
            slot.value =
                match self
                    .client
                    .fetch("PUT", &url, &[(TTL_HEADER, TOKEN_TTL)], self.crawl.timeout)
                {
                    Ok(body) => Some(String::from_utf8_lossy(&body).trim().to_string()),
                    Err(e) => {
                        log::warn!("Unable to get API token: {url} raised exception {e}");
                        None
                    }
                };
        }
        slot.value.clone()
    }

    /// One GET; on error also the token it carried.
    pub(super) fn get_once(&self, url: &str) -> Result<Vec<u8>, (UrlError, Option<String>)> {
        let token = self.token();
        let headers: Vec<(&str, &str)> = match &token {
            Some(t) => vec![(TOKEN_HEADER, t.as_str())],
            None => Vec::new(),
        };
        self.client
            .fetch("GET", url, &headers, self.crawl.timeout)
            .map_err(|e| (e, token))
    }

    /// A GET with upstream's crawl retries; `stop_on_404` for user-data.
    pub(super) fn get(&self, url: &str, stop_on_404: bool) -> Result<Vec<u8>, UrlError> {
        let tries = self.crawl.retries.saturating_add(1);
        let mut attempt = 0;
        loop {
            let (err, used) = match self.get_once(url) {
                Ok(b) => return Ok(b),
                Err(e) => e,
            };
            if stop_on_404
                && err
                    .code()
                    .is_some_and(|c| ci_http::status::SKIP_USERDATA_CODES.contains(&c))
            {
                return Err(err);
            }
            if self.aws && err.code() == Some(ci_http::status::UNAUTHORIZED) {
                let mut slot = self.slot();
                // Requests in flight with the old token all see 401; only
                // the first asks for a new one.
                if slot.value == used && !slot.refreshed {
                    log::debug!("Clearing cached Ec2 API token due to expiry");
                    slot.stale = true;
                    slot.refreshed = true;
                }
            }
            attempt += 1;
            if attempt >= tries {
                return Err(err);
            }
            let pause = if err.code() == Some(ci_http::status::SERVICE_UNAVAILABLE) {
                Duration::from_secs(1)
            } else {
                self.crawl.sec_between
            };
            std::thread::sleep(pause);
        }
    }

    /// Upstream `get_metadata_api_version`: the newest version answering
    /// `meta-data/instance-id` with 200, else 2009-04-04. One attempt each.
    /// Also the URL and body read, so the crawl need not read them again.
    pub(super) fn probe_version(&self) -> (String, Option<(String, Vec<u8>)>) {
        for ver in EXTENDED_VERSIONS {
            let url = format!("{}/{ver}/meta-data/instance-id", self.base);
            match self.get_once(&url).map_err(|(e, _)| e) {
                Ok(body) => {
                    log::debug!("Found preferred metadata version {ver}");
                    return (ver.to_string(), Some((url, body)));
                }
                Err(e) => log::debug!("url {url} raised exception {e}"),
            }
        }
        (MIN_VERSION.to_string(), None)
    }
}

/// What user-data a fetch result means: none for 404, none with a warning
/// for other failures (upstream's `get_instance_userdata`).
pub(super) fn user_data_of(url: &str, r: Result<Vec<u8>, UrlError>) -> Vec<u8> {
    match r {
        Ok(b) => b,
        Err(e)
            if e.code()
                .is_some_and(|c| ci_http::status::SKIP_USERDATA_CODES.contains(&c)) =>
        {
            Vec::new()
        }
        Err(e) => {
            log::warn!("Failed fetching userdata from url {url}: {e}");
            Vec::new()
        }
    }
}

/// Upstream `_get_instance_metadata`'s failure: a warning and an error
/// naming the tree.
pub(super) fn tree_of(
    url: &str,
    what: &str,
    r: Result<Map<String, Value>, UrlError>,
) -> Result<Value, SourceError> {
    r.map(Value::Object).map_err(|e| {
        log::warn!("Failed fetching {what} from url {url}: {e}");
        SourceError::Malformed {
            what: format!("Ec2 metadata {what} at {url}"),
            message: e.to_string(),
        }
    })
}

/// Upstream `MetadataMaterializer._parse`: `name/` is a directory, `name`
/// a leaf, `N=name` a public key served at `N/openssh-key`;
/// `security-credentials` is never fetched. Leaves keep first-seen order
/// (a repeated name keeps its first position and last resource).
pub(crate) fn parse_listing(text: &str) -> (Vec<(String, String)>, Vec<String>) {
    let mut leaves: Vec<(String, String)> = Vec::new();
    let mut children: Vec<String> = Vec::new();
    for line in text.lines() {
        let field = line.trim();
        let name = field.trim_end_matches('/');
        if field.is_empty() || name.is_empty() || name == "security-credentials" {
            continue;
        }
        if field.ends_with('/') {
            if !children.iter().any(|c| c == name) {
                children.push(name.to_string());
            }
            continue;
        }
        let (mut fname, mut resource) = (name.to_string(), name.to_string());
        if let Some((ident, rest)) = field.split_once('=') {
            if let Ok(n) = ident.trim().parse::<i64>() {
                resource = format!("{n}/openssh-key");
                fname = rest.to_string();
            }
        }
        match leaves.iter_mut().find(|(f, _)| *f == fname) {
            Some(slot) => slot.1 = resource,
            None => leaves.push((fname, resource)),
        }
    }
    (leaves, children)
}

/// Upstream `MetadataLeafDecoder`: `{…}` is JSON when it parses, text
/// with newlines becomes a list of lines, anything else stays text.
pub(crate) fn decode_leaf(field: &str, blob: &[u8]) -> Value {
    if blob.is_empty() {
        return json!("");
    }
    let text = String::from_utf8_lossy(blob);
    let trimmed = text.trim();
    if trimmed.starts_with('{') && trimmed.ends_with('}') {
        match serde_json::from_str::<Value>(&text) {
            Ok(v) => return v,
            Err(e) => log::warn!("Field {field} looked like a json object, but it was not: {e}"),
        }
    }
    if text.contains('\n') {
        return Value::Array(text.lines().map(|l| json!(l)).collect());
    }
    json!(text)
}

/// Upstream's `MetadataMaterializer` join: leaves after the children, a leaf
/// named like a child is dropped with its warning.
pub(crate) fn join_leaves(
    joined: &mut Map<String, Value>,
    leaves: Vec<(String, Value)>,
    url: &str,
) {
    for (field, value) in leaves {
        if joined.contains_key(&field) {
            log::warn!("Duplicate key found in results from {url}");
        } else {
            joined.insert(field, value);
        }
    }
}

pub(crate) fn combine_url(base: &str, add: &str) -> String {
    format!(
        "{}/{}",
        base.trim_end_matches('/'),
        add.trim_start_matches('/')
    )
}

/// Upstream `util.maybe_b64decode` (`b64decode(data, validate=True)`).
pub(crate) fn maybe_b64decode(data: Vec<u8>) -> Vec<u8> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    use base64::Engine;
    let alphabet_ok = {
        let body = data
            .strip_suffix(b"==")
            .or_else(|| data.strip_suffix(b"="))
            .unwrap_or(&data);
        body.iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/')
    };
    if !alphabet_ok {
        return data;
    }
    let engine = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
    );
    engine.decode(&data).unwrap_or(data)
}

//! Talking to the ECS metadata service: the token wait, then the reads
//! that carry it (refreshing it after a 401).

use crate::ec2::crawl::{combine_url, decode_leaf, parse_listing};
use crate::ec2::CrawlPolicy;
use crate::url::{UrlError, UrlPolicy, UrlReader};
use serde_json::{Map, Value};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::API_VERSION;

const TOKEN_ROUTE: &str = "latest/api/token";
const TOKEN_HEADER: &str = "X-aliyun-ecs-metadata-token";
const TTL_HEADER: &str = "X-aliyun-ecs-metadata-token-ttl-seconds";
const TOKEN_TTL: &str = "21600";

fn one_shot(base: &UrlPolicy, timeout: Duration) -> UrlReader {
    UrlReader::new(super::shared::policy(base, timeout, 0, Duration::ZERO))
}

/// Upstream `_maybe_fetch_api_token` (`wait_for_url` over the token
/// routes): the base URL that issued a token, and the token. A 4xx answer
/// ends the wait at once.
pub(super) fn fetch_token(
    base: &UrlPolicy,
    urls: &[String],
    max_wait: f64,
    timeout: f64,
) -> Option<(String, String)> {
    log::debug!("Fetching Ecs IMDSv2 API Token");
    let start = Instant::now();
    let max_wait = super::shared::secs(max_wait);
    let mut loop_n: u64 = 0;
    loop {
        for url in urls {
            let token_url = format!("{url}/{TOKEN_ROUTE}");
            let left = max_wait.saturating_sub(start.elapsed());
            let mut t = super::shared::secs(timeout);
            if t.is_zero() || (loop_n > 0 && t > left) {
                t = left.max(Duration::from_secs(1));
            }
            let err = match one_shot(base, t).put(&token_url, &[(TTL_HEADER, TOKEN_TTL)], b"") {
                Ok(r) if !r.body.is_empty() => {
                    return Some((
                        url.clone(),
                        String::from_utf8_lossy(&r.body).trim().to_string(),
                    ))
                }
                Ok(r) => UrlError::Status {
                    url: token_url.clone(),
                    code: r.code,
                    reason: format!("empty response [{}]", r.code),
                },
                Err(e) => e,
            };
            log::warn!(
                "Calling '{token_url}' failed [{}/{}s]: request error [{err}]",
                start.elapsed().as_secs(),
                max_wait.as_secs()
            );
            if ci_http::status::token_request_gives_up(err.code()) {
                if err.code() == Some(ci_http::status::FORBIDDEN) {
                    log::warn!(
                        "Ecs IMDS endpoint returned a 403 error. HTTP endpoint is disabled. Aborting."
                    );
                } else {
                    log::warn!("Fatal error while requesting Ecs IMDSv2 API tokens");
                }
                return None;
            }
        }
        let sleep = Duration::from_secs(loop_n / 5 + 1);
        if start.elapsed() + sleep > max_wait {
            return None;
        }
        log::debug!(
            "Please wait {} seconds while we wait to try again",
            sleep.as_secs()
        );
        std::thread::sleep(sleep);
        loop_n += 1;
    }
}

/// One metadata address and its token.
pub(super) struct Session {
    base: String,
    reader: UrlReader,
    policy: CrawlPolicy,
    token: Mutex<Option<String>>,
}

impl Session {
    pub(super) fn new(http: &UrlPolicy, base: &str, token: String, policy: &CrawlPolicy) -> Self {
        Session {
            base: base.to_string(),
            reader: one_shot(http, policy.timeout),
            policy: policy.clone(),
            token: Mutex::new(Some(token)),
        }
    }

    /// Upstream `_get_headers`: the token, fetched again when it was dropped.
    fn token(&self) -> Option<String> {
        let mut slot = self.token.lock().ok()?;
        if slot.is_none() {
            log::debug!("Refreshing Ecs metadata API token");
            let url = format!("{}/{TOKEN_ROUTE}", self.base);
            match self.reader.put(&url, &[(TTL_HEADER, TOKEN_TTL)], b"") {
                Ok(r) => *slot = Some(String::from_utf8_lossy(&r.body).trim().to_string()),
                Err(e) => log::warn!("Unable to get API token: {url} raised exception {e}"),
            }
        }
        slot.clone()
    }

    /// A GET with upstream's retries; `stop` says which errors end them.
    fn get(&self, url: &str, stop: impl Fn(&UrlError) -> bool) -> Result<Vec<u8>, UrlError> {
        let tries = self.policy.retries.saturating_add(1);
        let mut attempt = 0;
        loop {
            let token = self.token();
            let headers: Vec<(&str, &str)> = match &token {
                Some(t) => vec![(TOKEN_HEADER, t.as_str())],
                None => Vec::new(),
            };
            let err = match self.reader.get(url, &headers) {
                Ok(r) => return Ok(r.body),
                Err(e) => e,
            };
            if stop(&err) {
                return Err(err);
            }
            if err.code() == Some(ci_http::status::UNAUTHORIZED) {
                log::debug!("Clearing cached Ecs API token due to expiry");
                if let Ok(mut t) = self.token.lock() {
                    *t = None;
                }
            }
            attempt += 1;
            if attempt >= tries {
                return Err(err);
            }
            std::thread::sleep(self.policy.sec_between);
        }
    }

    fn url(&self, item: &str) -> String {
        combine_url(&combine_url(&self.base, API_VERSION), item)
    }

    /// Upstream `aliyun.get_instance_data`: `user-data` / `vendor-data`,
    /// empty (with upstream's warning) when they cannot be read.
    pub(super) fn item(&self, item: &str) -> Vec<u8> {
        let url = self.url(item);
        match self.get(&url, |e| {
            e.code()
                .is_some_and(|c| ci_http::status::SKIP_USERDATA_CODES.contains(&c))
        }) {
            Ok(b) => b,
            Err(e) => {
                log::warn!("Failed fetching {item} from url {url}");
                log::debug!("{item}: {e}");
                Vec::new()
            }
        }
    }

    /// Upstream `aliyun.get_instance_meta_data`: `meta-data/all` as JSON,
    /// scalars decoded as EC2 leaves.
    pub(super) fn meta_all(&self) -> Result<Value, String> {
        let url = self.url("meta-data/all");
        let body = self
            .get(&url, |e| {
                let stop = e.code() == Some(ci_http::status::NOT_FOUND);
                if stop {
                    log::warn!("whole meta_path is not found, skipping");
                }
                stop
            })
            .map_err(|e| e.to_string())?;
        let raw: Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
        decode_values(&raw)
    }

    /// Upstream's fallback, `ec2.get_instance_metadata`: the `meta-data/`
    /// tree; `{}` (with a warning) when it cannot be read.
    pub(super) fn meta_tree(&self) -> Value {
        let url = format!("{}/", self.url("meta-data"));
        match self.materialize(&url) {
            Ok(m) => Value::Object(m),
            Err(e) => {
                log::warn!("Failed fetching meta-data/ from url {url}");
                log::debug!("meta-data/: {e}");
                Value::Object(Map::new())
            }
        }
    }

    fn materialize(&self, url: &str) -> Result<Map<String, Value>, UrlError> {
        let listing = self.get(url, |_| false)?;
        let (leaves, children) = parse_listing(&String::from_utf8_lossy(&listing));
        let mut out = Map::new();
        for c in children {
            let child = format!("{}/", combine_url(url, &c));
            out.insert(c, Value::Object(self.materialize(&child)?));
        }
        for (field, resource) in leaves {
            let body = self.get(&combine_url(url, &resource), |_| false)?;
            if out.contains_key(&field) {
                log::warn!("Duplicate key found in results from {url}");
            } else {
                out.insert(field.clone(), decode_leaf(&field, &body));
            }
        }
        Ok(out)
    }
}

/// Upstream `_process_dict_values`: each scalar through the EC2 leaf
/// decoder. A true number or boolean makes upstream's decoder fail, which
/// sends it to the tree crawl; so does ours.
fn decode_values(v: &Value) -> Result<Value, String> {
    Ok(match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| decode_values(v).map(|d| (k.clone(), d)))
                .collect::<Result<Map<_, _>, _>>()?,
        ),
        Value::Array(a) => Value::Array(a.iter().map(decode_values).collect::<Result<_, _>>()?),
        Value::String(s) => decode_leaf("", s.as_bytes()),
        other if !ci_pyval::truthy(other) => Value::String(String::new()),
        other => {
            return Err(format!(
                "'{}' object has no attribute 'decode'",
                ci_pyval::py_type(other)
            ))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_decoded_as_leaves() {
        assert_eq!(
            decode_values(
                &json!({"a": "x\ny", "b": "{\"k\": 1}", "c": ["", "z"], "d": null, "e": 0})
            )
            .unwrap(),
            json!({"a": ["x", "y"], "b": {"k": 1}, "c": ["", "z"], "d": "", "e": ""})
        );
        assert!(decode_values(&json!({"n": 5})).is_err());
        assert!(decode_values(&json!({"b": true})).is_err());
    }
}

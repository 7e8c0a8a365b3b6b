//! The HTTP status codes the clients treat specially, named once.
//!
//! Upstream's `readurl` retries every failure (any non-2xx status, any
//! connection error) unless the caller's callback says otherwise, and
//! always retries a 503 after `Retry-After`. The callbacks differ per cloud
//! because the services differ; the sets below are those callbacks' codes.
//! They are not merged where they look alike: each follows one service's
//! documented behaviour and must change with it alone.

/// Not found. Metadata services answer it for data that is not set
/// (user-data, vendor-data, tags), which then means "none", not a failure.
pub const NOT_FOUND: u16 = 404;
/// Bad request. Azure IMDS answers it to an API version it does not know.
pub const BAD_REQUEST: u16 = 400;
/// Unauthorized. IMDSv2 (EC2, Aliyun): the session token expired; fetch a
/// new one and retry.
pub const UNAUTHORIZED: u16 = 401;
/// Forbidden. On an IMDSv2 token request (EC2, Aliyun): the endpoint is
/// disabled; give up at once.
pub const FORBIDDEN: u16 = 403;
/// Internal server error.
pub const INTERNAL_SERVER_ERROR: u16 = 500;
/// Service unavailable. `readurl` retries it whatever the caller's callback
/// says, with the warning "Endpoint returned a 503 error. HTTP endpoint is
/// overloaded. Retrying."
pub const SERVICE_UNAVAILABLE: u16 = 503;

/// Upstream's ec2 helper `SKIP_USERDATA_CODES` (EC2, Aliyun, CloudStack):
/// a user-data request answered so has no user-data and is not retried.
pub const SKIP_USERDATA_CODES: &[u16] = &[NOT_FOUND];

/// OpenStack's `should_retry_cb`: of the 4xx and 5xx answers only these are
/// retried (timeouts, throttling, gateway trouble); any other means the
/// request itself is wrong.
pub const OPENSTACK_RETRY_CODES: &[u16] = &[408, 429, 500, 502, SERVICE_UNAVAILABLE, 504];

/// Azure IMDS (`ReadUrlRetryHandler`'s default): the service answers 404 and
/// 410 while the instance's data is not there yet, so those are retried,
/// with throttling and server errors; other codes end the polling.
pub const AZURE_IMDS_RETRY_CODES: &[u16] = &[NOT_FOUND, 410, 429, INTERNAL_SERVER_ERROR];

/// LXD's devlxd socket answers 500 while the instance starts; only that is
/// retried (30 times, 0.1 s apart).
pub const LXD_RETRY_CODES: &[u16] = &[INTERNAL_SERVER_ERROR];

/// requests' `raise_for_status` wording for a code: "Client Error" (4xx),
/// "Server Error" (5xx), else "Unexpected Status" (ours: requests raises
/// nothing below 400, but `readurl` still refuses non-2xx).
pub fn error_class(code: u16) -> &'static str {
    match code {
        400..=499 => "Client Error",
        500..=599 => "Server Error",
        _ => "Unexpected Status",
    }
}

/// Whether a failed IMDSv2 token request (EC2, Aliyun) gives up at once:
/// any 4xx or 5xx answer (a connection error has no code and is retried by
/// the caller's wait loop). EC2 leaves 503 to `readurl`'s own retry; Aliyun
/// does not, which is why it is the caller's to exempt.
pub fn token_request_gives_up(code: Option<u16>) -> bool {
    code.is_some_and(|c| c >= 400)
}

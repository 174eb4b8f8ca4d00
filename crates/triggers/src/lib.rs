//! What starts runs on a server, without IO: cron schedules (5 fields, time zones) and webhook
//! deliveries (GitHub `X-Hub-Signature-256`, GitLab `X-Gitlab-Token`, a generic token), turned
//! into the `trigger` value expressions see.
//!
//! Invariants: secrets are compared in constant time; nothing here panics on any input.

use serde_json::Value;

/// Why a delivery is refused. `Unauthorized` → 401, `Ignored` → 202 (valid, but not an event this
/// trigger runs for), `Invalid` → 400.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Ignored(String),
    #[error("{0}")]
    Invalid(String),
}

/// A parsed cron schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    // implementation detail
}

impl Schedule {
    /// Parse a 5-field cron expression (`minute hour day-of-month month day-of-week`, with `*`,
    /// lists, ranges, steps and names like `mon`/`jan`) in an IANA time zone (`None`: UTC).
    /// Errors say what is wrong in words.
    pub fn parse(expression: &str, timezone: Option<&str>) -> Result<Schedule, String> {
        todo!("{expression} {timezone:?}")
    }

    /// The first tick strictly after `after_ms` (ms since the Unix epoch), as ms since the epoch.
    pub fn next_after(&self, after_ms: i64) -> Option<i64> {
        todo!("{after_ms}")
    }
}

/// A webhook delivery that passed its check.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// `push`, `pull_request`, `tag_push`, `merge_request`, … (`webhook` for the generic kind).
    pub event: String,
    /// The sender's delivery id (GitHub `X-GitHub-Delivery`, GitLab `X-Gitlab-Event-UUID`,
    /// generic `X-ContainerOps-Delivery`), used to start one run per delivery.
    pub delivery: Option<String>,
    /// The branch the event is about, when it has one.
    pub branch: Option<String>,
    /// The JSON body (`null` for an empty body).
    pub payload: Value,
}

impl Delivery {
    /// The value of `trigger` in expressions: `{"event", "delivery", "branch", "payload"}`.
    pub fn context(&self) -> Value {
        todo!()
    }
}

/// Request headers, looked up case-insensitively by the caller.
pub trait Headers {
    fn get(&self, name: &str) -> Option<&str>;
}

/// Check a GitHub delivery (`X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`), read
/// its event (`X-GitHub-Event`), delivery id and branch, and apply the event and branch filters
/// (`events` empty means `push`; `branches` empty means any).
pub fn github(
    secret: &[u8],
    headers: &dyn Headers,
    body: &[u8],
    events: &[String],
    branches: &[String],
) -> Result<Delivery, Rejection> {
    todo!("{secret:?} {headers:p} {body:?} {events:?} {branches:?}")
}

/// Check a GitLab delivery (`X-Gitlab-Token` equal to the secret; event from `X-Gitlab-Event`,
/// e.g. `Push Hook` → `push`, `Merge Request Hook` → `merge_request`).
pub fn gitlab(
    secret: &[u8],
    headers: &dyn Headers,
    body: &[u8],
    events: &[String],
    branches: &[String],
) -> Result<Delivery, Rejection> {
    todo!("{secret:?} {headers:p} {body:?} {events:?} {branches:?}")
}

/// Check a generic delivery (`X-ContainerOps-Token` equal to the secret).
pub fn generic(secret: &[u8], headers: &dyn Headers, body: &[u8]) -> Result<Delivery, Rejection> {
    todo!("{secret:?} {headers:p} {body:?}")
}

/// The `trigger` value of a run started by a cron tick (`{"event": "cron", "schedule", "tick"}`).
pub fn cron_context(schedule: &str, tick_ms: i64) -> Value {
    todo!("{schedule} {tick_ms}")
}

//! What starts runs on a server, without IO: cron schedules (5 fields, time zones) and webhook
//! deliveries (GitHub `X-Hub-Signature-256`, GitLab `X-Gitlab-Token`, a generic token), turned
//! into the `trigger` value expressions see.
//!
//! Invariants: secrets are compared in constant time; nothing here panics on any input.
//!
//! Decisions:
//! - Cron: standard 5-field crontab syntax only (see [`Schedule::parse`]); our own field checker
//!   gives the messages, `croner` computes the ticks in the time zone (`chrono-tz`).
//! - Daylight saving time (croner's rules, tested in `tests/triggers/cron.rs`): a tick whose wall-clock
//!   time falls into a skipped hour runs at the first instant after the gap when the schedule
//!   names one fixed time (`30 2 * * *` runs at 03:00 on the day the clocks jump from 02:00 to
//!   03:00) and is skipped when the schedule repeats within the day (`*/15 * * * *` has no
//!   ticks in the missing hour). In a repeated hour a fixed-time schedule fires once, at the
//!   first occurrence; a repeating schedule fires in both occurrences (by elapsed time, the
//!   hour really happens twice).
//! - Webhook secrets are compared in constant time: the GitHub HMAC with `hmac`'s `verify_slice`,
//!   tokens as SHA-256 digests with `subtle` (which also hides the secret's length). An empty
//!   secret authenticates nothing.
//! - Filters: an event filter entry `*` matches every event; a branch filter entry may be a glob
//!   (`*` within one path segment, `**` across segments).

mod cron;
mod hooks;
pub mod status;

pub use hooks::{branch_matches, event_matches, gitlab_event_name};

use serde_json::{json, Value};

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
    expression: String,
    timezone: Option<String>,
    parsed: cron::Parsed,
}

impl Schedule {
    /// Parse a 5-field cron expression (`minute hour day-of-month month day-of-week`, with `*`,
    /// lists, ranges, steps and names like `mon`/`jan`) in an IANA time zone (`None`: UTC).
    /// Errors say what is wrong in words.
    ///
    /// Also accepted: day-of-week 7 (Sunday, like 0), names in any case, and the nicknames
    /// `@hourly`, `@daily` (`@midnight`), `@weekly`, `@monthly`, `@yearly` (`@annually`).
    /// Refused with a message saying why: 6 or 7 fields (seconds, years), Quartz/croner
    /// extensions (`?`, `L`, `W`, `#`), a step after a single value (`5/15`), backwards ranges,
    /// steps larger than the field, a day-of-month no selected month has (`0 0 30 2 *`).
    /// When both day fields are restricted (neither is `*`), a day matches when either does
    /// (as in Vixie cron).
    pub fn parse(expression: &str, timezone: Option<&str>) -> Result<Schedule, String> {
        let parsed = cron::parse(expression, timezone)?;
        Ok(Schedule {
            expression: expression.trim().to_string(),
            timezone: timezone.map(|t| t.trim().to_string()),
            parsed,
        })
    }

    /// The first tick strictly after `after_ms` (ms since the Unix epoch), as ms since the epoch.
    ///
    /// `None` when there is none within croner's range (up to the year 5000) or `after_ms` is
    /// outside the representable range.
    pub fn next_after(&self, after_ms: i64) -> Option<i64> {
        cron::next_after(&self.parsed, after_ms)
    }

    /// The expression as given (trimmed).
    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// The time zone as given (`None`: UTC).
    pub fn timezone(&self) -> Option<&str> {
        self.timezone.as_deref()
    }
}

/// Check an IANA time zone name (what [`Schedule::parse`] accepts as its zone). The error names
/// the zone and suggests a close name (`europe/berlin` → `Europe/Berlin`, `Berlin` →
/// `Europe/Berlin`) or gives an example.
pub fn check_timezone(name: &str) -> Result<(), String> {
    cron::zone(name).map(|_| ())
}

/// GitHub webhook events (`X-GitHub-Event` values), for validating event filters. GitHub adds
/// events over time: a name missing here is not necessarily wrong.
pub const GITHUB_EVENTS: &[&str] = &[
    "branch_protection_configuration",
    "branch_protection_rule",
    "check_run",
    "check_suite",
    "code_scanning_alert",
    "commit_comment",
    "create",
    "custom_property",
    "custom_property_values",
    "delete",
    "dependabot_alert",
    "deploy_key",
    "deployment",
    "deployment_protection_rule",
    "deployment_review",
    "deployment_status",
    "discussion",
    "discussion_comment",
    "fork",
    "github_app_authorization",
    "gollum",
    "installation",
    "installation_repositories",
    "installation_target",
    "issue_comment",
    "issues",
    "label",
    "marketplace_purchase",
    "member",
    "membership",
    "merge_group",
    "meta",
    "milestone",
    "org_block",
    "organization",
    "package",
    "page_build",
    "personal_access_token_request",
    "ping",
    "project",
    "project_card",
    "project_column",
    "projects_v2",
    "projects_v2_item",
    "public",
    "pull_request",
    "pull_request_review",
    "pull_request_review_comment",
    "pull_request_review_thread",
    "push",
    "registry_package",
    "release",
    "repository",
    "repository_advisory",
    "repository_dispatch",
    "repository_import",
    "repository_ruleset",
    "repository_vulnerability_alert",
    "secret_scanning_alert",
    "secret_scanning_alert_location",
    "security_advisory",
    "security_and_analysis",
    "sponsorship",
    "star",
    "status",
    "sub_issues",
    "team",
    "team_add",
    "watch",
    "workflow_dispatch",
    "workflow_job",
    "workflow_run",
];

/// GitLab webhook events as [`gitlab`] names them (`X-Gitlab-Event` snake-cased without
/// ` Hook`), for validating event filters.
pub const GITLAB_EVENTS: &[&str] = &[
    "push",
    "tag_push",
    "issue",
    "confidential_issue",
    "note",
    "confidential_note",
    "merge_request",
    "wiki_page",
    "pipeline",
    "job",
    "deployment",
    "feature_flag",
    "release",
    "emoji",
    "resource_access_token",
    "member",
    "subgroup",
    "project",
    "milestone",
    "vulnerability",
    "system",
];

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
        json!({
            "event": self.event,
            "delivery": self.delivery,
            "branch": self.branch,
            "payload": self.payload,
        })
    }
}

/// Request headers, looked up case-insensitively by the caller.
pub trait Headers {
    fn get(&self, name: &str) -> Option<&str>;
}

/// `(name, value)` pairs, names compared case-insensitively (the first match wins).
impl<K: AsRef<str>, V: AsRef<str>> Headers for Vec<(K, V)> {
    fn get(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|(k, _)| k.as_ref().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_ref())
    }
}

/// `(name, value)` pairs, names compared case-insensitively (the first match wins).
impl<K: AsRef<str>, V: AsRef<str>, const N: usize> Headers for [(K, V); N] {
    fn get(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|(k, _)| k.as_ref().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_ref())
    }
}

/// Check a GitHub delivery (`X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`), read
/// its event (`X-GitHub-Event`), delivery id and branch, and apply the event and branch filters
/// (`events` empty means `push`; `branches` empty means any).
///
/// Order of checks: signature (`Unauthorized`), `X-GitHub-Event` present (`Invalid`), `ping`
/// (`Ignored("ping")`), body JSON — or, with `Content-Type: application/x-www-form-urlencoded`,
/// the JSON in its `payload` field — (`Invalid`), event filter, branch filter (`Ignored`).
/// Branch: `pull_request.base.ref` when the payload has one (pull request events), else `ref`
/// `refs/heads/X` → `X` (tags have no branch), else for `create`/`delete` of a branch its name.
pub fn github(
    secret: &[u8],
    headers: &dyn Headers,
    body: &[u8],
    events: &[String],
    branches: &[String],
) -> Result<Delivery, Rejection> {
    hooks::check_github_signature(secret, headers, body)?;
    let event = hooks::event_header(headers, "X-GitHub-Event")?;
    if event == "ping" {
        return Err(Rejection::Ignored("ping".to_string()));
    }
    let delivery = hooks::delivery_id(headers, &["X-GitHub-Delivery"])?;
    let payload = hooks::json_body(headers, body)?;
    let branch = hooks::github_branch(event, &payload);
    hooks::filter(
        Delivery {
            event: event.to_string(),
            delivery,
            branch,
            payload,
        },
        events,
        branches,
    )
}

/// Check a GitLab delivery (`X-Gitlab-Token` equal to the secret; event from `X-Gitlab-Event`,
/// e.g. `Push Hook` → `push`, `Merge Request Hook` → `merge_request`).
///
/// Delivery id: `X-Gitlab-Event-UUID`, else `X-Gitlab-Webhook-UUID`. Branch: `ref`
/// `refs/heads/X` → `X` (tags have none), else `object_attributes.target_branch` (merge
/// requests), else a pipeline's `object_attributes.ref` when it is not a tag.
pub fn gitlab(
    secret: &[u8],
    headers: &dyn Headers,
    body: &[u8],
    events: &[String],
    branches: &[String],
) -> Result<Delivery, Rejection> {
    hooks::check_token(secret, headers, "X-Gitlab-Token")?;
    let event = gitlab_event_name(hooks::event_header(headers, "X-Gitlab-Event")?);
    let delivery = hooks::delivery_id(headers, &["X-Gitlab-Event-UUID", "X-Gitlab-Webhook-UUID"])?;
    let payload = hooks::json_body(headers, body)?;
    let branch = hooks::gitlab_branch(&payload);
    hooks::filter(
        Delivery {
            event,
            delivery,
            branch,
            payload,
        },
        events,
        branches,
    )
}

/// Check a generic delivery (`X-ContainerOps-Token` equal to the secret).
///
/// Event `webhook`; delivery id from `X-ContainerOps-Delivery`; the body is JSON, or empty
/// (only whitespace) for `null`; no branch.
pub fn generic(secret: &[u8], headers: &dyn Headers, body: &[u8]) -> Result<Delivery, Rejection> {
    hooks::check_token(secret, headers, "X-ContainerOps-Token")?;
    let delivery = hooks::delivery_id(headers, &["X-ContainerOps-Delivery"])?;
    let payload = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        hooks::json_body(headers, body)?
    };
    Ok(Delivery {
        event: "webhook".to_string(),
        delivery,
        branch: None,
        payload,
    })
}

/// The `trigger` value of a run started by a cron tick (`{"event": "cron", "schedule", "tick"}`).
///
/// `tick` is RFC 3339 in UTC (`2026-03-30T01:00:00Z`), `null` for a time out of range.
pub fn cron_context(schedule: &str, tick_ms: i64) -> Value {
    json!({
        "event": "cron",
        "schedule": schedule,
        "tick": cron::rfc3339(tick_ms),
    })
}

//! `triggers:` and `concurrency:` of a native workflow (a server extension of SPEC §3, documented
//! in docs/triggers.md): decoding with positions, and the checks that need the workflow's inputs.
//!
//! Decisions:
//! - Each entry has exactly one kind key (`cron`, `github`, `gitlab`, `webhook`); several
//!   triggers of one kind are allowed (the server tries them in order).
//! - `secret` is the *name* of a stored secret (`[A-Za-z_][A-Za-z0-9_]*`), never the value.
//! - Event filters: `*` or event names; a likely typo of a known event is an error with a
//!   suggestion, an unknown but well-formed name is accepted (the senders add events).
//! - Trigger `inputs` are evaluated when the trigger fires, before the run exists: they may
//!   refer to `trigger.*` only, and only to what that kind of trigger provides.

use std::collections::HashSet;

use co_expr::RefUse;
use co_protocol::ValueType;
use indexmap::IndexMap;

use crate::decode::{Cx, Field, Map, NameRule};
use crate::model::{CommitStatus, ParamDecl, Trigger, TriggerKind};
use crate::suggest::{did_you_mean, suggest};
use crate::workflow::{input_map, InputItem};
use crate::yaml::{Kind, Node, Pos};

const KINDS: &[&str] = &["cron", "github", "gitlab", "webhook"];
const TRIGGER_FIELDS: &[&str] = &["cron", "timezone", "github", "gitlab", "webhook", "inputs"];
const CRON_CONTEXT: &[&str] = &["event", "schedule", "tick"];
const HOOK_CONTEXT: &[&str] = &["event", "delivery", "branch", "payload"];

/// One decoded trigger with its source positions, for the checks against the workflow's
/// inputs (made even when the trigger itself has problems, so all are reported at once).
#[derive(Debug, Clone)]
pub(crate) struct TriggerSrc {
    /// `None` when the entry has problems (reported).
    pub trigger: Option<Trigger>,
    /// The kind key (`cron:`, `github:`, …): where problems with the trigger as a whole go.
    pub kind_pos: Pos,
    /// `cron`, `github`, `gitlab` or `webhook`.
    pub kind: &'static str,
    pub inputs: Vec<InputItem>,
}

/// `concurrency:` — at least 1; empty means no limit.
pub(crate) fn concurrency(cx: &mut Cx, f: Field<'_>) -> Option<u32> {
    if f.value.is_null() {
        return None;
    }
    cx.int_at_least(f, 1)
}

/// `triggers:` — a list of triggers.
pub(crate) fn decode(cx: &mut Cx, f: Field<'_>) -> Vec<TriggerSrc> {
    let mut out = Vec::new();
    if f.value.is_null() {
        return out;
    }
    let Some(items) = seq_or_hint(cx, f) else {
        return out;
    };
    for (i, item) in items.iter().enumerate() {
        if let Some(t) = trigger(cx, item, i + 1) {
            out.push(t);
        }
    }
    out
}

fn seq_or_hint<'n>(cx: &mut Cx, f: Field<'n>) -> Option<&'n [Node]> {
    match &f.value.kind {
        Kind::Seq(items) => Some(items),
        Kind::Map(entries)
            if entries
                .iter()
                .any(|(k, _)| k.text().is_some_and(|k| KINDS.contains(&k))) =>
        {
            cx.error(
                f.value_pos(),
                "`triggers` must be a list: write each trigger as a list item, like \
                 `- cron: \"0 3 * * *\"`",
            );
            None
        }
        _ => {
            cx.error(
                f.value_pos(),
                format!(
                    "`triggers` must be a list of triggers (each one of `cron`, `github`, \
                     `gitlab`, `webhook`), found {}",
                    f.value.describe()
                ),
            );
            None
        }
    }
}

fn trigger(cx: &mut Cx, item: &Node, n: usize) -> Option<TriggerSrc> {
    let what = format!("trigger #{n}");
    let m = match &item.kind {
        Kind::Map(_) => cx.map(item, item.pos, &what)?,
        Kind::Scalar(s) if KINDS.contains(&s.text.as_str()) || s.text == "push" => {
            cx.error(
                item.pos,
                format!(
                    "{what} must be a mapping, like `- cron: \"0 3 * * *\"` or \
                     `- github: {{ secret: GITHUB_HOOK_SECRET }}`, found {}",
                    item.describe()
                ),
            );
            return None;
        }
        _ => {
            cx.error(
                item.pos,
                format!(
                    "{what} must be a mapping with one of `cron`, `github`, `gitlab`, \
                     `webhook`, found {}",
                    item.describe()
                ),
            );
            return None;
        }
    };
    cx.check_keys_hint(&m, TRIGGER_FIELDS, &what, |k| match k {
        "schedule" | "crontab" => Some("did you mean `cron`?".to_string()),
        "tz" | "zone" | "time_zone" | "timeZone" => Some("did you mean `timezone`?".to_string()),
        "with" | "params" | "parameters" => Some("did you mean `inputs`?".to_string()),
        "secret" | "events" | "branches" | "token" => Some(format!(
            "`{k}` belongs inside the trigger's kind, like `github: {{ secret: NAME, events: \
             [push], branches: [main] }}`"
        )),
        "push" | "pull_request" | "merge_request" | "on" => Some(
            "events are listed inside the kind, like `github: { secret: NAME, events: [push] }`"
                .to_string(),
        ),
        "gitea" | "bitbucket" | "generic" | "http" | "hook" => Some(
            "use `webhook: { secret: NAME }` for any other sender (it checks the \
             `X-ContainerOps-Token` header)"
                .to_string(),
        ),
        _ => None,
    });

    let kinds: Vec<Field<'_>> = m
        .fields()
        .filter(|f| f.key.text().is_some_and(|k| KINDS.contains(&k)))
        .collect();
    let first = match kinds.as_slice() {
        [] => {
            cx.error(
                item.pos,
                format!("{what} needs one of `cron` (a schedule), `github`, `gitlab` or `webhook`"),
            );
            None
        }
        [only] => Some(*only),
        [first, rest @ ..] => {
            for other in rest {
                cx.error(
                    other.key.pos,
                    format!(
                        "{what} has both `{}` and `{}`; a trigger has exactly one kind, so list \
                         them as separate triggers",
                        first.key_text(),
                        other.key_text()
                    ),
                );
            }
            Some(*first)
        }
    };

    if let (Some(tz), Some(k)) = (m.get("timezone"), first) {
        if k.key_text() != "cron" {
            cx.error(
                tz.key.pos,
                format!(
                    "`timezone` only applies to `cron` triggers, and {what} is a `{}` trigger",
                    k.key_text()
                ),
            );
        }
    }

    let inputs = m
        .get("inputs")
        .map(|f| input_map(cx, f, "`inputs`"))
        .unwrap_or_default();

    let first = first?;
    let (kind_name, kind) = match first.key_text() {
        "cron" => ("cron", cron(cx, first, m.get("timezone"))),
        "github" => ("github", hook(cx, first, HookKind::GitHub)),
        "gitlab" => ("gitlab", hook(cx, first, HookKind::GitLab)),
        _ => ("webhook", hook(cx, first, HookKind::Webhook)),
    };
    let trigger = kind.map(|kind| Trigger {
        kind,
        inputs: inputs
            .iter()
            .map(|i| (i.key.clone(), i.tpl.template.clone()))
            .collect::<IndexMap<_, _>>(),
        span: cx.span(first.key.pos),
    });
    Some(TriggerSrc {
        trigger,
        kind_pos: first.key.pos,
        kind: kind_name,
        inputs,
    })
}

fn cron(cx: &mut Cx, f: Field<'_>, tz: Option<Field<'_>>) -> Option<TriggerKind> {
    let schedule = match &f.value.kind {
        Kind::Scalar(_) => cx.string(f),
        _ => {
            cx.error(
                f.value_pos(),
                format!(
                    "`cron` must be a schedule of 5 fields (minute hour day-of-month month \
                     day-of-week) in quotes, like `cron: \"0 3 * * 1-5\"`, found {}",
                    f.value.describe()
                ),
            );
            None
        }
    };
    let timezone = match tz {
        Some(t) => match cx.opt_string(Some(t)) {
            Some(name) => match co_triggers::check_timezone(&name) {
                Ok(()) => Some(Some(name)),
                Err(e) => {
                    cx.error(t.value_pos(), e);
                    None
                }
            },
            None => {
                cx.error(
                    t.value_pos(),
                    "`timezone` must not be empty; leave it out for UTC, or name a zone like \
                     `Europe/Berlin`",
                );
                None
            }
        },
        None => Some(None),
    };
    let schedule = schedule?;
    if let Err(e) = co_triggers::Schedule::parse(&schedule, None) {
        cx.error(
            f.value_pos(),
            format!(
                "invalid cron schedule `{}`: {e}",
                crate::yaml::shorten(&schedule)
            ),
        );
        return None;
    }
    Some(TriggerKind::Cron {
        schedule: schedule.trim().to_string(),
        timezone: timezone?,
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum HookKind {
    GitHub,
    GitLab,
    Webhook,
}

impl HookKind {
    fn name(self) -> &'static str {
        match self {
            HookKind::GitHub => "github",
            HookKind::GitLab => "gitlab",
            HookKind::Webhook => "webhook",
        }
    }

    fn example(self) -> &'static str {
        match self {
            HookKind::GitHub => "`github: { secret: GITHUB_HOOK_SECRET, events: [push] }`",
            HookKind::GitLab => "`gitlab: { secret: GITLAB_TOKEN, events: [push] }`",
            HookKind::Webhook => "`webhook: { secret: DEPLOY_TOKEN }`",
        }
    }
}

fn hook(cx: &mut Cx, f: Field<'_>, kind: HookKind) -> Option<TriggerKind> {
    let name = kind.name();
    let what = format!("`{name}`");
    let m = match &f.value.kind {
        Kind::Map(_) => cx.map(f.value, f.value_pos(), &what)?,
        _ => {
            cx.error(
                f.value_pos(),
                format!(
                    "`{name}` must be a mapping with the name of the stored secret, like {}, \
                     found {}",
                    kind.example(),
                    f.value.describe()
                ),
            );
            return None;
        }
    };
    let known: &[&str] = match kind {
        HookKind::Webhook => &["secret"],
        _ => &["secret", "events", "branches", "status"],
    };
    cx.check_keys_hint(&m, known, &what, |k| match (kind, k) {
        (_, "token" | "secret_name" | "secret-name" | "key" | "password") => Some(format!(
            "did you mean `secret`? (the name of the stored secret holding the {})",
            if kind == HookKind::GitHub {
                "signing secret"
            } else {
                "token"
            }
        )),
        (HookKind::Webhook, "status") => {
            Some("commit statuses are reported for `github` and `gitlab` triggers only".to_string())
        }
        (HookKind::Webhook, "events" | "branches" | "branch" | "event") => Some(
            "a generic webhook has no events or branches (its event is always `webhook`); use \
             `github` or `gitlab` for filters"
                .to_string(),
        ),
        (_, "on" | "types" | "actions") => Some("did you mean `events`?".to_string()),
        (_, "refs" | "ref") => Some("did you mean `branches`?".to_string()),
        _ => None,
    });
    let secret = secret(cx, &m, &what, kind);
    let mut events = Vec::new();
    let mut branches = Vec::new();
    let mut status = None;
    if kind != HookKind::Webhook {
        if let Some(sf) = m.get("status") {
            status = commit_status(cx, sf, kind);
        }
        if let Some(ef) = m.get("events") {
            events = event_list(cx, ef, kind);
        }
        if let Some(bf) = m.get("branches") {
            branches = branch_list(cx, bf);
        }
    }
    let secret = secret?;
    Some(match kind {
        HookKind::GitHub => TriggerKind::GitHub {
            secret,
            events,
            branches,
            status,
        },
        HookKind::GitLab => TriggerKind::GitLab {
            secret,
            events,
            branches,
            status,
        },
        HookKind::Webhook => TriggerKind::Webhook { secret },
    })
}

/// `status: { token: NAME, api-url: URL, context: TEXT }` of a `github`/`gitlab` trigger.
fn commit_status(cx: &mut Cx, f: Field<'_>, kind: HookKind) -> Option<CommitStatus> {
    let what = "`status`";
    let example = match kind {
        HookKind::GitHub => "`status: { token: GITHUB_STATUS_TOKEN }`",
        _ => "`status: { token: GITLAB_STATUS_TOKEN }`",
    };
    let Kind::Map(_) = &f.value.kind else {
        cx.error(
            f.value_pos(),
            format!(
                "`status` must be a mapping with the name of the stored secret holding the API \
                 token, like {example}, found {}",
                f.value.describe()
            ),
        );
        return None;
    };
    let m = cx.map(f.value, f.value_pos(), what)?;
    cx.check_keys_hint(&m, &["token", "api-url", "context"], what, |k| match k {
        "url" | "api" | "api_url" | "base-url" | "base_url" => {
            Some("did you mean `api-url`?".to_string())
        }
        "name" => Some("did you mean `context`?".to_string()),
        _ => None,
    });
    let token = cx.required(&m, "token", what).and_then(|t| {
        let text = cx.string(t)?;
        if NameRule::EnvVar.matches(&text) {
            Some(text)
        } else {
            cx.error(
                t.value_pos(),
                format!(
                    "invalid secret name `{}`: `token` names a stored secret holding the API \
                     token (like {example}), the token itself never goes in the workflow",
                    crate::yaml::shorten(&text)
                ),
            );
            None
        }
    });
    let api_url = m.get("api-url").and_then(|u| {
        let text = cx.string(u)?;
        let t = text.trim();
        let rest = t
            .strip_prefix("https://")
            .or_else(|| t.strip_prefix("http://"));
        match rest {
            Some(host) if !host.is_empty() && !t.contains(char::is_whitespace) => {
                Some(t.to_string())
            }
            _ => {
                cx.error(
                    u.value_pos(),
                    format!(
                        "`api-url` must be an http:// or https:// URL, like {}, found `{}`",
                        match kind {
                            HookKind::GitHub => "`https://github.example.com/api/v3`",
                            _ => "`https://gitlab.example.com/api/v4`",
                        },
                        crate::yaml::shorten(&text)
                    ),
                );
                None
            }
        }
    });
    let context = m.get("context").and_then(|c| cx.string(c));
    Some(CommitStatus {
        token: token?,
        api_url,
        context,
    })
}

fn secret(cx: &mut Cx, m: &Map<'_>, what: &str, kind: HookKind) -> Option<String> {
    let f = cx.required(m, "secret", what)?;
    let text = cx.string(f)?;
    if NameRule::EnvVar.matches(&text) {
        return Some(text);
    }
    let inner = text
        .trim()
        .strip_prefix("${{")
        .and_then(|t| t.strip_suffix("}}"))
        .map(str::trim);
    let msg = match inner.and_then(|t| t.strip_prefix("secrets.")) {
        Some(name) if NameRule::EnvVar.matches(name) => format!(
            "`secret` takes the name of a stored secret, not an expression: write `secret: \
             {name}`"
        ),
        _ => format!(
            "invalid secret name `{}`: use letters, digits and `_`, starting with a letter or \
             `_`; `secret` names a stored secret (like `{}`), the value itself never goes in \
             the workflow",
            crate::yaml::shorten(&text),
            match kind {
                HookKind::GitHub => "GITHUB_HOOK_SECRET",
                HookKind::GitLab => "GITLAB_TOKEN",
                HookKind::Webhook => "DEPLOY_TOKEN",
            }
        ),
    };
    cx.error(f.value_pos(), msg);
    None
}

fn event_list(cx: &mut Cx, f: Field<'_>, kind: HookKind) -> Vec<String> {
    if f.value.is_null() {
        cx.error(
            f.value_pos(),
            "`events` must not be empty; leave it out for `push`, or list events like \
             `[push, pull_request]`",
        );
        return Vec::new();
    }
    let Some(list) = cx.string_list(f, true) else {
        return Vec::new();
    };
    if list.is_empty() {
        cx.error(
            f.value_pos(),
            "`events` must not be empty; leave it out for `push`, or list events like \
             `[push, pull_request]`",
        );
    }
    let (known, sender): (&[&str], &str) = match kind {
        HookKind::GitLab => (co_triggers::GITLAB_EVENTS, "GitLab"),
        _ => (co_triggers::GITHUB_EVENTS, "GitHub"),
    };
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (event, node) in list {
        if !seen.insert(event.clone()) {
            cx.error(node.pos, format!("`{event}` is listed twice in `events`"));
            continue;
        }
        if let Some(msg) = event_problem(&event, kind, known, sender) {
            cx.error(node.pos, msg);
            continue;
        }
        out.push(event);
    }
    out
}

/// What is wrong with one event filter entry, if anything.
fn event_problem(event: &str, kind: HookKind, known: &[&str], sender: &str) -> Option<String> {
    if event == "*" || known.contains(&event) && event != "ping" {
        return None;
    }
    if event == "ping" {
        return Some(
            "`ping` deliveries (sent when a GitHub webhook is set up) never start runs; remove \
             it from `events`"
                .to_string(),
        );
    }
    let well_formed = event.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && event
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if kind == HookKind::GitLab && !well_formed {
        // Written as the header says it: `Push Hook` → `push`.
        let name = co_triggers::gitlab_event_name(event);
        if known.contains(&name.as_str()) {
            return Some(format!(
                "GitLab events are written in snake case without ` Hook`: write `{name}` for \
                 `{}`",
                crate::yaml::shorten(event)
            ));
        }
    }
    let candidates = known.iter().copied().filter(|k| *k != "ping");
    if let Some(best) = suggest(event, candidates) {
        return Some(format!(
            "unknown {sender} event `{}`; did you mean `{best}`?",
            crate::yaml::shorten(event)
        ));
    }
    if well_formed {
        // Not one we know, but it may be newer than our list.
        return None;
    }
    Some(format!(
        "invalid event `{}`: {sender} event names use lowercase letters, digits and `_` (like \
         `{}`), or `*` for every event",
        crate::yaml::shorten(event),
        if kind == HookKind::GitLab {
            "merge_request"
        } else {
            "pull_request"
        }
    ))
}

fn branch_list(cx: &mut Cx, f: Field<'_>) -> Vec<String> {
    let empty = "`branches` must not be empty; leave it out for every branch, or list branches \
                 like `[main, \"release/*\"]`";
    if f.value.is_null() {
        cx.error(f.value_pos(), empty);
        return Vec::new();
    }
    let Some(list) = cx.string_list(f, true) else {
        return Vec::new();
    };
    if list.is_empty() {
        cx.error(f.value_pos(), empty);
    }
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (branch, node) in list {
        if !seen.insert(branch.clone()) {
            cx.error(
                node.pos,
                format!("`{branch}` is listed twice in `branches`"),
            );
            continue;
        }
        if let Some(b) = branch.strip_prefix("refs/heads/") {
            cx.error(
                node.pos,
                format!("write the branch name `{b}`, not the ref `{branch}`"),
            );
            continue;
        }
        if branch.starts_with("refs/tags/") {
            cx.error(
                node.pos,
                "`branches` filters branches; a tag push has no branch (leave `branches` out \
                 and filter on the `tag_push` or `push` event instead)",
            );
            continue;
        }
        if branch.trim() != branch || branch.chars().any(char::is_whitespace) {
            cx.error(
                node.pos,
                format!(
                    "branch names cannot contain spaces: `{}`",
                    crate::yaml::shorten(&branch)
                ),
            );
            continue;
        }
        out.push(branch);
    }
    out
}

/// The checks that need the workflow's inputs: every key is a declared input, literal values
/// have its type, references are `trigger.*` of what the kind provides, and every required
/// input without a default is set.
pub(crate) fn check_inputs(
    cx: &mut Cx,
    triggers: &[TriggerSrc],
    declared: &IndexMap<String, ParamDecl>,
) {
    for src in triggers {
        for item in &src.inputs {
            check_input(cx, src, item, declared);
        }
        let missing: Vec<String> = declared
            .iter()
            .filter(|(k, d)| {
                d.required && d.default.is_none() && !src.inputs.iter().any(|i| &i.key == *k)
            })
            .map(|(k, _)| format!("`{k}`"))
            .collect();
        if !missing.is_empty() {
            let (s, verb) = if missing.len() == 1 {
                ("", "it")
            } else {
                ("s", "them")
            };
            cx.error(
                src.kind_pos,
                format!(
                    "this `{}` trigger does not set the required input{s} {} of the workflow \
                     (no default); set {verb} under the trigger's `inputs:`",
                    src.kind,
                    missing.join(", ")
                ),
            );
        }
    }
}

fn check_input(
    cx: &mut Cx,
    src: &TriggerSrc,
    item: &InputItem,
    declared: &IndexMap<String, ParamDecl>,
) {
    let Some(decl) = declared.get(&item.key) else {
        let msg = if declared.is_empty() {
            format!(
                "the workflow declares no inputs, so a trigger cannot set `{}`; declare it under \
                 `inputs:`",
                item.key
            )
        } else {
            let dym = did_you_mean(&item.key, declared.keys().map(String::as_str));
            let tail = if dym.is_empty() {
                format!(
                    " (its inputs: {})",
                    declared.keys().cloned().collect::<Vec<_>>().join(", ")
                )
            } else {
                dym
            };
            format!("the workflow has no input `{}`{tail}", item.key)
        };
        cx.error(item.key_pos, msg);
        return;
    };
    for r in item.tpl.template.references() {
        let pos = cx.locate(item.tpl.loc, &item.tpl.text, r.offset);
        if let Some(msg) = reference_problem(src.kind, &r) {
            cx.error(pos, msg);
        }
    }
    if matches!(
        decl.ty,
        ValueType::Int | ValueType::Float | ValueType::Bool | ValueType::Json
    ) {
        if let Some(value) = item.tpl.template.constant() {
            if let Err(e) = co_protocol::coerce(&value, decl.ty) {
                cx.error(
                    item.value_pos,
                    format!("wrong type for input `{}` of the workflow: {e}", item.key),
                );
            }
        }
    }
}

/// What is wrong with a reference in a trigger's inputs, if anything.
fn reference_problem(kind: &str, r: &RefUse) -> Option<String> {
    let shown = r.path.join(".");
    let root = r.path.first().map(String::as_str).unwrap_or("");
    if root != "trigger" {
        let hint = if suggest(root, ["trigger"]).is_some() {
            "; did you mean `trigger`?"
        } else {
            ""
        };
        return Some(format!(
            "`{shown}` cannot be used in a trigger's inputs{hint}: they are evaluated when the \
             trigger fires, before the run starts, and may only refer to `trigger.*` (like {})",
            if kind == "cron" {
                "`trigger.tick`"
            } else {
                "`trigger.payload.after`"
            }
        ));
    }
    let Some(field) = r.path.get(1) else {
        return None; // the whole `trigger` value
    };
    let fields = if kind == "cron" {
        CRON_CONTEXT
    } else {
        HOOK_CONTEXT
    };
    if !fields.contains(&field.as_str()) {
        let list: Vec<String> = fields.iter().map(|f| format!("`trigger.{f}`")).collect();
        return Some(format!(
            "`{shown}`: a `{kind}` trigger provides {}{}",
            list.join(", "),
            did_you_mean(field, fields.iter().copied())
        ));
    }
    if field != "payload" && r.path.len() > 2 {
        return Some(format!(
            "`{shown}`: `trigger.{field}` is {}, it has no fields",
            match field.as_str() {
                "tick" => "a time (RFC 3339 text)",
                _ => "a string",
            }
        ));
    }
    None
}

//! `notify:` of a native workflow (a server extension, docs/spec.md#notify): who is told when a
//! run ends — a generic webhook (a signed JSON body) or a Slack-compatible incoming webhook.

use crate::decode::{Cx, Field, NameRule};
use crate::model::{Notify, NotifyOn, NotifyTarget};
use crate::yaml::Kind;

const FIELDS: &[&str] = &["on", "webhook", "slack"];

/// Decode `notify:`: a list of `{ on: [...], webhook: {...} | slack: {...} }`.
pub(crate) fn decode(cx: &mut Cx, f: Field<'_>) -> Vec<Notify> {
    let mut out = Vec::new();
    if f.value.is_null() {
        return out;
    }
    let Some(items) = cx.seq(f.value, f.value_pos(), "`notify`") else {
        return out;
    };
    for (i, item) in items.iter().enumerate() {
        let what = format!("notification #{}", i + 1);
        let Some(m) = cx.map(item, item.pos, &what) else {
            continue;
        };
        cx.check_keys_hint(&m, FIELDS, &what, |k| match k {
            "when" | "if" | "events" => Some("did you mean `on`?".to_string()),
            "url" | "secret" => Some(
                "the target goes inside its kind, like `webhook: { url: URL, secret: NAME }` \
                 or `slack: { secret: NAME }`"
                    .to_string(),
            ),
            _ => None,
        });
        let on = match m.get("on") {
            Some(of) => on_list(cx, of),
            None => Some(vec![NotifyOn::Failure]),
        };
        let kinds: Vec<Field<'_>> = ["webhook", "slack"]
            .iter()
            .filter_map(|k| m.get(k))
            .collect();
        let target = match kinds.as_slice() {
            [] => {
                cx.error(
                    item.pos,
                    format!(
                        "{what} needs a target: `webhook: {{ url: URL, secret: NAME }}` or \
                         `slack: {{ secret: NAME }}`"
                    ),
                );
                None
            }
            [one] => target(cx, *one),
            [_, second, ..] => {
                cx.error(
                    second.key.pos,
                    format!(
                        "{what} has both `webhook` and `slack`; list them as separate \
                         notifications"
                    ),
                );
                None
            }
        };
        if let (Some(on), Some(target)) = (on, target) {
            out.push(Notify {
                on,
                target,
                span: cx.span(item.pos),
            });
        }
    }
    out
}

fn on_list(cx: &mut Cx, f: Field<'_>) -> Option<Vec<NotifyOn>> {
    let list = cx.string_list(f, true)?;
    if list.is_empty() {
        cx.error(
            f.value_pos(),
            "`on` must not be empty; list some of failure, success, always (leave it out for \
             [failure])",
        );
        return None;
    }
    let mut out = Vec::new();
    let mut ok = true;
    for (text, node) in list {
        let on = match text.as_str() {
            "failure" => NotifyOn::Failure,
            "success" => NotifyOn::Success,
            "always" => NotifyOn::Always,
            other => {
                let hint = crate::suggest::suggest(other, ["failure", "success", "always"])
                    .map(|s| format!("; did you mean `{s}`?"))
                    .unwrap_or_default();
                cx.error(
                    node.pos,
                    format!(
                        "unknown `on` value `{}`: use failure, success or always{hint}",
                        crate::yaml::shorten(other)
                    ),
                );
                ok = false;
                continue;
            }
        };
        if !out.contains(&on) {
            out.push(on);
        }
    }
    ok.then_some(out)
}

fn target(cx: &mut Cx, f: Field<'_>) -> Option<NotifyTarget> {
    let kind = f.key_text();
    let what = format!("`{kind}`");
    let example = if kind == "webhook" {
        "`webhook: { url: https://hooks.example.com/ci, secret: NOTIFY_SECRET }`"
    } else {
        "`slack: { secret: SLACK_WEBHOOK_URL }`"
    };
    let Kind::Map(_) = &f.value.kind else {
        cx.error(
            f.value_pos(),
            format!(
                "{what} must be a mapping, like {example}, found {}",
                f.value.describe()
            ),
        );
        return None;
    };
    let m = cx.map(f.value, f.value_pos(), &what)?;
    let known: &[&str] = if kind == "webhook" {
        &["url", "secret"]
    } else {
        &["secret"]
    };
    cx.check_keys_hint(&m, known, &what, |k| match (kind, k) {
        ("slack", "url" | "webhook" | "webhook-url") => Some(
            "a Slack incoming webhook's URL is itself a secret: store it and name it with \
             `secret`"
                .to_string(),
        ),
        _ => None,
    });
    let secret = cx.required(&m, "secret", &what).and_then(|s| {
        let text = cx.string(s)?;
        if NameRule::EnvVar.matches(&text) {
            return Some(text);
        }
        cx.error(
            s.value_pos(),
            format!(
                "invalid secret name `{}`: `secret` names a stored secret (like {example}), the \
                 value itself never goes in the workflow",
                crate::yaml::shorten(&text)
            ),
        );
        None
    });
    if kind == "slack" {
        return Some(NotifyTarget::Slack { secret: secret? });
    }
    let url = cx.required(&m, "url", &what).and_then(|u| {
        let text = cx.string(u)?;
        let t = text.trim();
        let host = t
            .strip_prefix("https://")
            .or_else(|| t.strip_prefix("http://"));
        if host.is_some_and(|h| !h.is_empty()) && !t.contains(char::is_whitespace) {
            return Some(t.to_string());
        }
        cx.error(
            u.value_pos(),
            format!(
                "`url` must be an http:// or https:// URL, like {example}, found `{}`",
                crate::yaml::shorten(&text)
            ),
        );
        None
    });
    Some(NotifyTarget::Webhook {
        url: url?,
        secret: secret?,
    })
}

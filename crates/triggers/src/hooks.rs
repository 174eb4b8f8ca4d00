//! Webhook deliveries: authentication (constant time), event names, branches, filters.

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::{Delivery, Headers, Rejection};

/// Longest header value (signature, token, event, delivery id) looked at; longer ones are
/// malformed. Keeps messages and work bounded.
const MAX_HEADER: usize = 1024;

/// A header's value, trimmed; `None` when absent or empty.
pub(crate) fn header<'h>(headers: &'h dyn Headers, name: &str) -> Option<&'h str> {
    headers.get(name).map(str::trim).filter(|v| !v.is_empty())
}

fn bounded<'h>(headers: &'h dyn Headers, name: &str) -> Result<Option<&'h str>, Rejection> {
    match header(headers, name) {
        Some(v) if v.len() > MAX_HEADER => Err(Rejection::Invalid(format!(
            "the {name} header is longer than {MAX_HEADER} bytes"
        ))),
        other => Ok(other),
    }
}

fn empty_secret() -> Rejection {
    Rejection::Unauthorized(
        "the trigger's secret is empty, so no delivery can be authenticated; store a non-empty \
         secret"
            .to_string(),
    )
}

/// `X-Hub-Signature-256: sha256=<hex>` against HMAC-SHA256(secret, body), in constant time.
pub(crate) fn check_github_signature(
    secret: &[u8],
    headers: &dyn Headers,
    body: &[u8],
) -> Result<(), Rejection> {
    const NAME: &str = "X-Hub-Signature-256";
    if secret.is_empty() {
        return Err(empty_secret());
    }
    let Some(value) = header(headers, NAME) else {
        let hint = if header(headers, "X-Hub-Signature").is_some() {
            " (only the SHA-1 `X-Hub-Signature` was sent; GitHub sends the SHA-256 one when the \
             webhook has a secret)"
        } else {
            "; set the webhook's secret in GitHub to the trigger's secret"
        };
        return Err(Rejection::Unauthorized(format!(
            "missing {NAME} header{hint}"
        )));
    };
    let malformed = || {
        Rejection::Unauthorized(format!(
            "malformed {NAME} header: expected `sha256=` and 64 hex digits"
        ))
    };
    let hex_part = value
        .get(..7)
        .filter(|p| p.eq_ignore_ascii_case("sha256="))
        .and_then(|_| value.get(7..))
        .ok_or_else(malformed)?;
    if hex_part.len() != 64 {
        return Err(malformed());
    }
    let expected = hex::decode(hex_part).map_err(|_| malformed())?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).map_err(|_| empty_secret())?;
    mac.update(body);
    // `verify_slice` compares in constant time.
    mac.verify_slice(&expected).map_err(|_| {
        Rejection::Unauthorized(format!(
            "the {NAME} signature does not match the body signed with the trigger's secret"
        ))
    })
}

/// A token header equal to the secret, compared in constant time (as SHA-256 digests, so the
/// comparison does not even reveal the secret's length).
pub(crate) fn check_token(
    secret: &[u8],
    headers: &dyn Headers,
    name: &str,
) -> Result<(), Rejection> {
    if secret.is_empty() {
        return Err(empty_secret());
    }
    let Some(token) = header(headers, name) else {
        return Err(Rejection::Unauthorized(format!("missing {name} header")));
    };
    let a = Sha256::digest(token.as_bytes());
    let b = Sha256::digest(secret);
    if bool::from(a.as_slice().ct_eq(b.as_slice())) {
        Ok(())
    } else {
        Err(Rejection::Unauthorized(format!(
            "the {name} header does not match the trigger's secret"
        )))
    }
}

/// The body as JSON. GitHub's `application/x-www-form-urlencoded` content type carries the JSON
/// in a `payload` form field.
pub(crate) fn json_body(headers: &dyn Headers, body: &[u8]) -> Result<Value, Rejection> {
    let form = header(headers, "Content-Type").is_some_and(|ct| {
        ct.get(..33)
            .is_some_and(|p| p.eq_ignore_ascii_case("application/x-www-form-urlencoded"))
    });
    if form {
        let payload = form_field(body, "payload").ok_or_else(|| {
            Rejection::Invalid(
                "a form-encoded delivery needs a `payload` field holding the JSON".to_string(),
            )
        })?;
        return parse_json(&payload);
    }
    parse_json(body)
}

fn parse_json(body: &[u8]) -> Result<Value, Rejection> {
    serde_json::from_slice(body)
        .map_err(|e| Rejection::Invalid(format!("the body is not JSON: {e}")))
}

/// The decoded value of form field `name` in `application/x-www-form-urlencoded` data.
fn form_field(body: &[u8], name: &str) -> Option<Vec<u8>> {
    body.split(|b| *b == b'&').find_map(|pair| {
        let mut it = pair.splitn(2, |b| *b == b'=');
        let key = percent_decode(it.next()?)?;
        if key != name.as_bytes() {
            return None;
        }
        percent_decode(it.next().unwrap_or_default())
    })
}

fn percent_decode(s: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = s.get(i + 1).and_then(|c| (*c as char).to_digit(16))?;
                let lo = s.get(i + 2).and_then(|c| (*c as char).to_digit(16))?;
                out.push(u8::try_from(hi * 16 + lo).ok()?);
                i += 2;
            }
            _ => out.push(b),
        }
        i += 1;
    }
    Some(out)
}

/// `Push Hook` → `push`, `Tag Push Hook` → `tag_push`, `Merge Request Hook` → `merge_request`.
pub fn gitlab_event_name(header: &str) -> String {
    let trimmed = header.trim();
    let base = trimmed
        .strip_suffix(" Hook")
        .or_else(|| trimmed.strip_suffix(" hook"))
        .unwrap_or(trimmed);
    base.split_whitespace()
        .map(str::to_ascii_lowercase)
        .collect::<Vec<_>>()
        .join("_")
}

/// The branch a GitHub event is about.
pub(crate) fn github_branch(event: &str, payload: &Value) -> Option<String> {
    if let Some(base) = payload
        .pointer("/pull_request/base/ref")
        .and_then(Value::as_str)
    {
        return Some(base.to_string());
    }
    if let Some(r) = payload.get("ref").and_then(Value::as_str) {
        if let Some(b) = r.strip_prefix("refs/heads/") {
            return Some(b.to_string());
        }
        // `create` / `delete` name the ref without a prefix and say what it is.
        if matches!(event, "create" | "delete")
            && payload.get("ref_type").and_then(Value::as_str) == Some("branch")
        {
            return Some(r.to_string());
        }
    }
    None
}

/// The branch a GitLab event is about.
pub(crate) fn gitlab_branch(payload: &Value) -> Option<String> {
    if let Some(r) = payload.get("ref").and_then(Value::as_str) {
        return r.strip_prefix("refs/heads/").map(str::to_string);
    }
    let attrs = payload.get("object_attributes")?;
    if let Some(t) = attrs.get("target_branch").and_then(Value::as_str) {
        return Some(t.to_string());
    }
    // Pipeline events: `ref` is a bare branch name unless `tag` is true.
    if attrs.get("tag").and_then(Value::as_bool) == Some(false) {
        return attrs.get("ref").and_then(Value::as_str).map(str::to_string);
    }
    None
}

/// Apply the event and branch filters.
pub(crate) fn filter(
    delivery: Delivery,
    events: &[String],
    branches: &[String],
) -> Result<Delivery, Rejection> {
    let wanted = if events.is_empty() {
        event_matches("push", &delivery.event)
    } else {
        events.iter().any(|e| event_matches(e, &delivery.event))
    };
    if !wanted {
        let list = if events.is_empty() {
            "push (the default)".to_string()
        } else {
            events.join(", ")
        };
        return Err(Rejection::Ignored(format!(
            "event `{}` is not one of this trigger's events ({list})",
            shorten(&delivery.event)
        )));
    }
    if !branches.is_empty() {
        match &delivery.branch {
            None => {
                return Err(Rejection::Ignored(format!(
                    "event `{}` is not about a branch (a tag, or an event without one), and this \
                     trigger only runs for branches {}",
                    shorten(&delivery.event),
                    branches.join(", ")
                )))
            }
            Some(b) if !branches.iter().any(|p| branch_matches(p, b)) => {
                return Err(Rejection::Ignored(format!(
                    "branch `{}` is not one of this trigger's branches ({})",
                    shorten(b),
                    branches.join(", ")
                )))
            }
            Some(_) => {}
        }
    }
    Ok(delivery)
}

fn shorten(s: &str) -> String {
    if s.chars().count() <= 100 {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(100).collect();
        out.push('…');
        out
    }
}

/// `*` in an event filter matches every event.
pub fn event_matches(pattern: &str, event: &str) -> bool {
    pattern == "*" || pattern == event
}

/// A branch filter entry: a name, or a glob where `*` matches any characters except `/` and
/// `**` matches any characters (`release/*`, `feature/**`).
pub fn branch_matches(pattern: &str, branch: &str) -> bool {
    if !pattern.contains('*') {
        return pattern == branch;
    }
    enum Tok {
        Lit(char),
        Star,
        DoubleStar,
    }
    let mut toks = Vec::new();
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '*' {
            if chars.peek() == Some(&'*') {
                while chars.peek() == Some(&'*') {
                    chars.next();
                }
                toks.push(Tok::DoubleStar);
            } else {
                toks.push(Tok::Star);
            }
        } else {
            toks.push(Tok::Lit(c));
        }
    }
    let text: Vec<char> = branch.chars().collect();
    // cur[j]: the tokens so far match the first j characters.
    let mut cur = vec![false; text.len() + 1];
    if let Some(first) = cur.first_mut() {
        *first = true;
    }
    for tok in &toks {
        let mut next = vec![false; text.len() + 1];
        for j in 0..=text.len() {
            let here = cur.get(j).copied().unwrap_or(false);
            let value = match tok {
                Tok::Lit(c) => {
                    j > 0 && cur.get(j - 1).copied().unwrap_or(false) && text.get(j - 1) == Some(c)
                }
                Tok::Star => {
                    here || (j > 0
                        && next.get(j - 1).copied().unwrap_or(false)
                        && text.get(j - 1) != Some(&'/'))
                }
                Tok::DoubleStar => here || (j > 0 && next.get(j - 1).copied().unwrap_or(false)),
            };
            if let Some(slot) = next.get_mut(j) {
                *slot = value;
            }
        }
        cur = next;
    }
    cur.last().copied().unwrap_or(false)
}

/// A delivery id header, bounded.
pub(crate) fn delivery_id(
    headers: &dyn Headers,
    names: &[&str],
) -> Result<Option<String>, Rejection> {
    for name in names {
        if let Some(v) = bounded(headers, name)? {
            return Ok(Some(v.to_string()));
        }
    }
    Ok(None)
}

/// The event header, required and bounded.
pub(crate) fn event_header<'h>(headers: &'h dyn Headers, name: &str) -> Result<&'h str, Rejection> {
    bounded(headers, name)?.ok_or_else(|| Rejection::Invalid(format!("missing {name} header")))
}

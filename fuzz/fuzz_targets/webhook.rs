//! Webhook deliveries, past their authentication: the input is
//!
//! ```text
//! KIND                      github, gitlab or generic
//! Header-Name: value        any number of headers
//!                           an empty line
//! BODY
//! ```
//!
//! The harness adds the right signature or token for the body unless the input names one itself
//! (then the check itself is fuzzed). `X-Fuzz-Events` and `X-Fuzz-Branches` (comma-separated) set
//! the trigger's filters.
#![no_main]

use co_triggers::{branch_matches, event_matches, generic, github, gitlab, Delivery, Rejection};
use hmac::{Hmac, Mac};
use libfuzzer_sys::fuzz_target;
use sha2::Sha256;

const SECRET: &[u8] = b"fuzz-secret";

fn list(headers: &[(String, String)], name: &str) -> Vec<String> {
    headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case(name))
        .flat_map(|(_, v)| v.split(',').map(|s| s.trim().to_string()))
        .filter(|s| !s.is_empty())
        .collect()
}

fn has(headers: &[(String, String)], name: &str) -> bool {
    headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(name))
}

fuzz_target!(|data: &[u8]| {
    // Head (kind and headers) up to the first empty line; the body is bytes.
    let (head, body) = match data.windows(2).position(|w| w == b"\n\n") {
        Some(at) => (&data[..at], &data[at + 2..]),
        None => (data, &b""[..]),
    };
    let Ok(head) = std::str::from_utf8(head) else {
        return;
    };
    let mut lines = head.split('\n');
    let kind = lines.next().unwrap_or_default().trim();
    let mut headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let events = list(&headers, "X-Fuzz-Events");
    let branches = list(&headers, "X-Fuzz-Branches");
    let result: Result<Delivery, Rejection> = match kind {
        "github" => {
            if !has(&headers, "X-Hub-Signature-256") {
                let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(SECRET) else {
                    return;
                };
                mac.update(body);
                let signature = hex::encode(mac.finalize().into_bytes());
                headers.push(("X-Hub-Signature-256".into(), format!("sha256={signature}")));
            }
            github(SECRET, &headers, body, &events, &branches)
        }
        "gitlab" => {
            if !has(&headers, "X-Gitlab-Token") {
                headers.push(("X-Gitlab-Token".into(), "fuzz-secret".into()));
            }
            gitlab(SECRET, &headers, body, &events, &branches)
        }
        _ => {
            if !has(&headers, "X-ContainerOps-Token") {
                headers.push(("X-ContainerOps-Token".into(), "fuzz-secret".into()));
            }
            generic(SECRET, &headers, body)
        }
    };
    match result {
        Ok(delivery) => {
            let context = delivery.context();
            assert!(context.is_object());
            assert!(!delivery.event.is_empty());
            if kind == "github" || kind == "gitlab" {
                // What passed the filters matches them.
                if !events.is_empty() {
                    assert!(events.iter().any(|e| event_matches(e, &delivery.event)));
                }
            }
        }
        Err(rejection) => {
            assert!(!rejection.to_string().is_empty());
        }
    }
    for pattern in &branches {
        for branch in ["main", "release/1.2", "feature/a/b", ""] {
            let _ = branch_matches(pattern, branch);
        }
    }
});

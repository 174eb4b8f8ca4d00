//! Webhook checks: GitHub signatures (with GitHub's documented test vector), GitLab and generic
//! tokens, event names, branches, filters and every rejection kind.

use co_triggers::{
    branch_matches, generic, github, gitlab, gitlab_event_name, Delivery, Rejection,
};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

const SECRET: &[u8] = b"s3cret";

fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// A signed GitHub delivery of `event` with `body`.
fn gh(
    event: &str,
    body: &Value,
    events: &[&str],
    branches: &[&str],
) -> Result<Delivery, Rejection> {
    let body = body.to_string();
    let headers = vec![
        (
            "x-hub-signature-256".to_string(),
            sign(SECRET, body.as_bytes()),
        ),
        ("X-GitHub-Event".to_string(), event.to_string()),
        (
            "X-GitHub-Delivery".to_string(),
            "72d3162e-cc78-11e3-81ab-4c9367dc0958".to_string(),
        ),
        ("Content-Type".to_string(), "application/json".to_string()),
    ];
    github(
        SECRET,
        &headers,
        body.as_bytes(),
        &strings(events),
        &strings(branches),
    )
}

fn push(reference: &str) -> Value {
    json!({"ref": reference, "after": "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c", "repository": {"full_name": "octo/app"}})
}

fn unauthorized(r: Result<Delivery, Rejection>) -> String {
    match r {
        Err(Rejection::Unauthorized(m)) => m,
        other => panic!("expected Unauthorized, got {other:?}"),
    }
}

fn ignored(r: Result<Delivery, Rejection>) -> String {
    match r {
        Err(Rejection::Ignored(m)) => m,
        other => panic!("expected Ignored, got {other:?}"),
    }
}

fn invalid(r: Result<Delivery, Rejection>) -> String {
    match r {
        Err(Rejection::Invalid(m)) => m,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

// ---- GitHub ----

/// GitHub's documented example: secret `It's a Secret to Everybody`, payload `Hello, World!`.
const VECTOR_SECRET: &[u8] = b"It's a Secret to Everybody";
const VECTOR_BODY: &[u8] = b"Hello, World!";
const VECTOR_SIGNATURE: &str =
    "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

fn vector(signature: &str, event: &str) -> Result<Delivery, Rejection> {
    let headers = [
        ("X-Hub-Signature-256", signature),
        ("X-GitHub-Event", event),
    ];
    github(VECTOR_SECRET, &headers, VECTOR_BODY, &[], &[])
}

#[test]
fn github_test_vector() {
    assert_eq!(sign(VECTOR_SECRET, VECTOR_BODY), VECTOR_SIGNATURE);
    // The signature is accepted: what follows is the ping check, then the (non-JSON) body.
    assert_eq!(
        vector(VECTOR_SIGNATURE, "ping"),
        Err(Rejection::Ignored("ping".into()))
    );
    assert!(invalid(vector(VECTOR_SIGNATURE, "push")).starts_with("the body is not JSON"));
    // Hex digits and the prefix in upper case are accepted too.
    let upper = format!(
        "SHA256={}",
        VECTOR_SIGNATURE["sha256=".len()..].to_uppercase()
    );
    assert_eq!(
        vector(&upper, "ping"),
        Err(Rejection::Ignored("ping".into()))
    );
    // Surrounding whitespace in the header value is ignored.
    assert_eq!(
        vector(&format!(" {VECTOR_SIGNATURE} "), "ping"),
        Err(Rejection::Ignored("ping".into()))
    );
}

#[test]
fn github_wrong_signatures() {
    let mismatch = "the X-Hub-Signature-256 signature does not match the body signed with the trigger's secret";
    // One digit off.
    let off = VECTOR_SIGNATURE.replace("757107", "757108");
    assert_eq!(unauthorized(vector(&off, "ping")), mismatch);
    // The right signature for another body or another secret.
    assert_eq!(
        unauthorized(vector(&sign(VECTOR_SECRET, b"Hello, World?"), "ping")),
        mismatch
    );
    assert_eq!(
        unauthorized(vector(&sign(b"other", VECTOR_BODY), "ping")),
        mismatch
    );
    // All zeros.
    assert_eq!(
        unauthorized(vector(&format!("sha256={}", "0".repeat(64)), "ping")),
        mismatch
    );
}

#[test]
fn github_missing_and_garbled_signatures() {
    let malformed = "malformed X-Hub-Signature-256 header: expected `sha256=` and 64 hex digits";
    let long = format!("sha256={}", "a".repeat(10_000));
    let hex = &VECTOR_SIGNATURE["sha256=".len()..];
    let garbled = [
        hex.to_string(),                             // no prefix
        format!("sha1={hex}"),                       // wrong algorithm
        format!("sha256={}", &hex[1..]),             // 63 digits
        format!("sha256={hex}0"),                    // 65 digits
        format!("sha256={}", hex.replace('7', "g")), // not hex
        format!("sha256 = {hex}"),                   // spaces
        "sha256=".to_string(),                       // nothing
        "sha256".to_string(),
        "s".to_string(),
        "ä".repeat(40),                       // not ASCII
        format!("sha256={}", "é".repeat(32)), // 64 bytes, not hex
        long,
    ];
    for g in &garbled {
        assert_eq!(unauthorized(vector(g, "ping")), malformed, "{g}");
    }
    // Missing, or empty.
    let missing = "missing X-Hub-Signature-256 header; set the webhook's secret in GitHub to the trigger's secret";
    let headers = [("X-GitHub-Event", "ping")];
    assert_eq!(
        unauthorized(github(VECTOR_SECRET, &headers, VECTOR_BODY, &[], &[])),
        missing
    );
    assert_eq!(unauthorized(vector("", "ping")), missing);
    assert_eq!(unauthorized(vector("   ", "ping")), missing);
    // Only the SHA-1 signature.
    let headers = [
        (
            "X-Hub-Signature",
            "sha1=0123456789abcdef0123456789abcdef01234567",
        ),
        ("X-GitHub-Event", "ping"),
    ];
    assert!(
        unauthorized(github(VECTOR_SECRET, &headers, VECTOR_BODY, &[], &[]))
            .contains("only the SHA-1 `X-Hub-Signature` was sent")
    );
}

#[test]
fn empty_secret_authenticates_nothing() {
    let body = b"{}";
    let headers = [
        ("X-Hub-Signature-256", sign(b"", body)),
        ("X-GitHub-Event", "push".to_string()),
    ];
    let msg = unauthorized(github(b"", &headers, body, &[], &[]));
    assert!(msg.starts_with("the trigger's secret is empty"), "{msg}");
    let headers = [("X-Gitlab-Token", ""), ("X-Gitlab-Event", "Push Hook")];
    assert!(unauthorized(gitlab(b"", &headers, body, &[], &[]))
        .starts_with("the trigger's secret is empty"));
    let headers = [("X-ContainerOps-Token", "")];
    assert!(matches!(
        generic(b"", &headers, body),
        Err(Rejection::Unauthorized(_))
    ));
}

#[test]
fn github_push() {
    let body = push("refs/heads/main");
    let d = gh("push", &body, &[], &[]).unwrap();
    assert_eq!(
        d,
        Delivery {
            event: "push".into(),
            delivery: Some("72d3162e-cc78-11e3-81ab-4c9367dc0958".into()),
            branch: Some("main".into()),
            payload: body.clone(),
        }
    );
    assert_eq!(
        d.context(),
        json!({
            "event": "push",
            "delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
            "branch": "main",
            "payload": body,
        })
    );
    // Branch names with slashes.
    let d = gh(
        "push",
        &push("refs/heads/feature/x"),
        &["push"],
        &["feature/x"],
    )
    .unwrap();
    assert_eq!(d.branch.as_deref(), Some("feature/x"));
}

#[test]
fn github_tags_have_no_branch() {
    let d = gh("push", &push("refs/tags/v1.0.0"), &[], &[]).unwrap();
    assert_eq!(d.branch, None);
    assert_eq!(d.context()["branch"], Value::Null);
    assert_eq!(
        ignored(gh("push", &push("refs/tags/v1.0.0"), &[], &["main"])),
        "event `push` is not about a branch (a tag, or an event without one), and this trigger only runs for branches main"
    );
}

#[test]
fn github_pull_request_uses_the_base_branch() {
    let body = json!({
        "action": "opened",
        "number": 7,
        "pull_request": {"base": {"ref": "main"}, "head": {"ref": "feature/y"}}
    });
    let d = gh("pull_request", &body, &["push", "pull_request"], &["main"]).unwrap();
    assert_eq!(d.event, "pull_request");
    assert_eq!(d.branch.as_deref(), Some("main"));
    assert_eq!(
        ignored(gh("pull_request", &body, &["pull_request"], &["release/*"])),
        "branch `main` is not one of this trigger's branches (release/*)"
    );
}

#[test]
fn github_create_and_delete_of_branches() {
    let body = json!({"ref": "topic", "ref_type": "branch"});
    assert_eq!(
        gh("create", &body, &["create"], &[])
            .unwrap()
            .branch
            .as_deref(),
        Some("topic")
    );
    let body = json!({"ref": "v2", "ref_type": "tag"});
    assert_eq!(gh("delete", &body, &["delete"], &[]).unwrap().branch, None);
}

#[test]
fn github_event_filter() {
    let body = push("refs/heads/main");
    // Empty `events` means push.
    assert_eq!(
        ignored(gh("issues", &json!({"action": "opened"}), &[], &[])),
        "event `issues` is not one of this trigger's events (push (the default))"
    );
    assert_eq!(
        ignored(gh("push", &body, &["pull_request", "release"], &[])),
        "event `push` is not one of this trigger's events (pull_request, release)"
    );
    // `*` matches every event.
    assert_eq!(
        gh("issues", &json!({}), &["*"], &[]).unwrap().event,
        "issues"
    );
    // Ping is never run, whatever the filter says.
    assert_eq!(
        gh("ping", &json!({"zen": "hi"}), &["*"], &[]),
        Err(Rejection::Ignored("ping".into()))
    );
}

#[test]
fn github_branch_filter() {
    assert!(gh("push", &push("refs/heads/main"), &[], &["main", "develop"]).is_ok());
    assert_eq!(
        ignored(gh(
            "push",
            &push("refs/heads/mainline"),
            &[],
            &["main", "develop"]
        )),
        "branch `mainline` is not one of this trigger's branches (main, develop)"
    );
    assert!(gh("push", &push("refs/heads/release/1.2"), &[], &["release/*"]).is_ok());
    assert!(ignored(gh(
        "push",
        &push("refs/heads/release/1.2/hotfix"),
        &[],
        &["release/*"]
    ))
    .contains("release/1.2/hotfix"));
    assert!(gh(
        "push",
        &push("refs/heads/release/1.2/hotfix"),
        &[],
        &["release/**"]
    )
    .is_ok());
    // An event without a branch passes when there is no branch filter.
    assert_eq!(
        gh(
            "release",
            &json!({"action": "published"}),
            &["release"],
            &[]
        )
        .unwrap()
        .branch,
        None
    );
}

#[test]
fn github_invalid_requests() {
    // Signed, but no event header.
    let body = b"{}";
    let headers = [("X-Hub-Signature-256", sign(SECRET, body))];
    assert_eq!(
        invalid(github(SECRET, &headers, body, &[], &[])),
        "missing X-GitHub-Event header"
    );
    // Signed, but not JSON.
    let body = b"{\"ref\": ";
    let headers = [
        ("X-Hub-Signature-256", sign(SECRET, body)),
        ("X-GitHub-Event", "push".to_string()),
    ];
    let msg = invalid(github(SECRET, &headers, body, &[], &[]));
    assert!(
        msg.starts_with("the body is not JSON: EOF while parsing"),
        "{msg}"
    );
    // An empty body is not JSON either.
    let headers = [
        ("X-Hub-Signature-256", sign(SECRET, b"")),
        ("X-GitHub-Event", "push".to_string()),
    ];
    assert!(invalid(github(SECRET, &headers, b"", &[], &[])).starts_with("the body is not JSON"));
    // An over-long delivery id.
    let body = b"{}";
    let headers = [
        ("X-Hub-Signature-256", sign(SECRET, body)),
        ("X-GitHub-Event", "push".to_string()),
        ("X-GitHub-Delivery", "x".repeat(2000)),
    ];
    assert_eq!(
        invalid(github(SECRET, &headers, body, &[], &[])),
        "the X-GitHub-Delivery header is longer than 1024 bytes"
    );
}

#[test]
fn github_form_encoded_payload() {
    let json = push("refs/heads/main").to_string();
    let mut encoded = String::from("payload=");
    for b in json.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => encoded.push(b as char),
            b' ' => encoded.push('+'),
            _ => encoded.push_str(&format!("%{b:02X}")),
        }
    }
    let body = encoded.as_bytes();
    let headers = [
        ("X-Hub-Signature-256", sign(SECRET, body)),
        ("X-GitHub-Event", "push".to_string()),
        (
            "Content-Type",
            "application/x-www-form-urlencoded; charset=utf-8".to_string(),
        ),
    ];
    let d = github(SECRET, &headers, body, &[], &strings(&["main"])).unwrap();
    assert_eq!(d.payload, push("refs/heads/main"));
    // A form without `payload`, or with broken escapes.
    for body in [&b"other=1"[..], b"payload=%7"] {
        let headers = [
            ("X-Hub-Signature-256", sign(SECRET, body)),
            ("X-GitHub-Event", "push".to_string()),
            (
                "Content-Type",
                "application/x-www-form-urlencoded".to_string(),
            ),
        ];
        assert!(matches!(
            github(SECRET, &headers, body, &[], &[]),
            Err(Rejection::Invalid(_))
        ));
    }
}

#[test]
fn headers_are_case_insensitive() {
    let body = b"{\"ref\":\"refs/heads/main\"}";
    let headers = vec![
        ("X-HUB-SIGNATURE-256", sign(SECRET, body)),
        ("x-github-event", "push".to_string()),
    ];
    assert!(github(SECRET, &headers, body, &[], &[]).is_ok());
}

// ---- GitLab ----

fn gl(
    event_header: &str,
    body: &Value,
    events: &[&str],
    branches: &[&str],
) -> Result<Delivery, Rejection> {
    let headers = [
        ("X-Gitlab-Token", "s3cret"),
        ("X-Gitlab-Event", event_header),
        (
            "X-Gitlab-Event-UUID",
            "13792a34-cac6-4fda-95a8-c58e00a3954e",
        ),
        (
            "X-Gitlab-Webhook-UUID",
            "1c83a3b6-0000-0000-0000-000000000000",
        ),
    ];
    gitlab(
        SECRET,
        &headers,
        body.to_string().as_bytes(),
        &strings(events),
        &strings(branches),
    )
}

#[test]
fn gitlab_event_names() {
    for (header, name) in [
        ("Push Hook", "push"),
        ("Tag Push Hook", "tag_push"),
        ("Merge Request Hook", "merge_request"),
        ("Confidential Note Hook", "confidential_note"),
        ("Wiki Page Hook", "wiki_page"),
        ("Pipeline Hook", "pipeline"),
        ("System Hook", "system"),
        ("  Job Hook ", "job"),
        ("Something", "something"),
    ] {
        assert_eq!(gitlab_event_name(header), name, "{header}");
    }
}

#[test]
fn gitlab_push() {
    let body = json!({"object_kind": "push", "ref": "refs/heads/main", "checkout_sha": "da1560886d4f094c3e6c9ef40349f7d38b5d27d7"});
    let d = gl("Push Hook", &body, &[], &["main"]).unwrap();
    assert_eq!(
        d,
        Delivery {
            event: "push".into(),
            delivery: Some("13792a34-cac6-4fda-95a8-c58e00a3954e".into()),
            branch: Some("main".into()),
            payload: body,
        }
    );
}

#[test]
fn gitlab_webhook_uuid_when_no_event_uuid() {
    let headers = [
        ("X-Gitlab-Token", "s3cret"),
        ("X-Gitlab-Event", "Push Hook"),
        ("X-Gitlab-Webhook-UUID", "1c83a3b6"),
    ];
    let d = gitlab(SECRET, &headers, b"{\"ref\":\"refs/heads/main\"}", &[], &[]).unwrap();
    assert_eq!(d.delivery.as_deref(), Some("1c83a3b6"));
    let headers = [
        ("X-Gitlab-Token", "s3cret"),
        ("X-Gitlab-Event", "Push Hook"),
    ];
    let d = gitlab(SECRET, &headers, b"{\"ref\":\"refs/heads/main\"}", &[], &[]).unwrap();
    assert_eq!(d.delivery, None);
}

#[test]
fn gitlab_tags_and_merge_requests() {
    let tag = json!({"object_kind": "tag_push", "ref": "refs/tags/v1.0.0"});
    let d = gl("Tag Push Hook", &tag, &["tag_push"], &[]).unwrap();
    assert_eq!((d.event.as_str(), d.branch), ("tag_push", None));
    assert!(
        ignored(gl("Tag Push Hook", &tag, &["tag_push"], &["main"])).contains("not about a branch")
    );
    // Default events: push only.
    assert_eq!(
        ignored(gl("Tag Push Hook", &tag, &[], &[])),
        "event `tag_push` is not one of this trigger's events (push (the default))"
    );
    let mr = json!({"object_kind": "merge_request", "object_attributes": {"target_branch": "main", "source_branch": "fix"}});
    let d = gl("Merge Request Hook", &mr, &["merge_request"], &["main"]).unwrap();
    assert_eq!(
        (d.event.as_str(), d.branch.as_deref()),
        ("merge_request", Some("main"))
    );
    let pipeline =
        json!({"object_kind": "pipeline", "object_attributes": {"ref": "develop", "tag": false}});
    let d = gl("Pipeline Hook", &pipeline, &["pipeline"], &["develop"]).unwrap();
    assert_eq!(d.branch.as_deref(), Some("develop"));
    let tag_pipeline = json!({"object_attributes": {"ref": "v1", "tag": true}});
    assert_eq!(
        gl("Pipeline Hook", &tag_pipeline, &["pipeline"], &[])
            .unwrap()
            .branch,
        None
    );
}

#[test]
fn gitlab_tokens() {
    let body = b"{}";
    let mismatch = "the X-Gitlab-Token header does not match the trigger's secret";
    for token in ["s3cre", "s3crett", "S3CRET", "x", &"s".repeat(5000)] {
        let headers = [("X-Gitlab-Token", token), ("X-Gitlab-Event", "Push Hook")];
        assert_eq!(
            unauthorized(gitlab(SECRET, &headers, body, &[], &[])),
            mismatch,
            "{token}"
        );
    }
    let headers = [("X-Gitlab-Event", "Push Hook")];
    assert_eq!(
        unauthorized(gitlab(SECRET, &headers, body, &[], &[])),
        "missing X-Gitlab-Token header"
    );
    // The token is checked before anything else is looked at.
    let headers = [("X-Gitlab-Token", "wrong")];
    assert_eq!(
        unauthorized(gitlab(SECRET, &headers, b"not json", &[], &[])),
        mismatch
    );
}

#[test]
fn gitlab_invalid_requests() {
    let headers = [("X-Gitlab-Token", "s3cret")];
    assert_eq!(
        invalid(gitlab(SECRET, &headers, b"{}", &[], &[])),
        "missing X-Gitlab-Event header"
    );
    let headers = [
        ("X-Gitlab-Token", "s3cret"),
        ("X-Gitlab-Event", "Push Hook"),
    ];
    assert!(
        invalid(gitlab(SECRET, &headers, b"<xml/>", &[], &[])).starts_with("the body is not JSON")
    );
}

// ---- generic ----

#[test]
fn generic_webhook() {
    let headers = [
        ("X-ContainerOps-Token", "s3cret"),
        ("X-ContainerOps-Delivery", "d-1"),
    ];
    let d = generic(SECRET, &headers, b"{\"version\": \"1.2.3\"}").unwrap();
    assert_eq!(
        d.context(),
        json!({"event": "webhook", "delivery": "d-1", "branch": null, "payload": {"version": "1.2.3"}})
    );
    // Empty (or blank) body: null payload; no delivery id.
    let headers = [("X-ContainerOps-Token", "s3cret")];
    for body in [&b""[..], b"  \n"] {
        let d = generic(SECRET, &headers, body).unwrap();
        assert_eq!((d.payload, d.delivery), (Value::Null, None));
    }
    // Any JSON value.
    assert_eq!(
        generic(SECRET, &headers, b"[1, 2]").unwrap().payload,
        json!([1, 2])
    );
    assert!(invalid(generic(SECRET, &headers, b"version=1")).starts_with("the body is not JSON"));
    // Token problems.
    let headers = [("X-ContainerOps-Token", "nope")];
    assert_eq!(
        generic(SECRET, &headers, b""),
        Err(Rejection::Unauthorized(
            "the X-ContainerOps-Token header does not match the trigger's secret".into()
        ))
    );
    let headers: [(&str, &str); 0] = [];
    assert_eq!(
        generic(SECRET, &headers, b""),
        Err(Rejection::Unauthorized(
            "missing X-ContainerOps-Token header".into()
        ))
    );
}

#[test]
fn rejection_messages_display() {
    assert_eq!(Rejection::Ignored("ping".into()).to_string(), "ping");
    assert_eq!(Rejection::Unauthorized("x".into()).to_string(), "x");
    assert_eq!(Rejection::Invalid("y".into()).to_string(), "y");
}

#[test]
fn branch_globs() {
    let cases = [
        ("main", "main", true),
        ("main", "mainline", false),
        ("release/*", "release/1.0", true),
        ("release/*", "release/", true),
        ("release/*", "release/1.0/x", false),
        ("release/**", "release/1.0/x", true),
        ("*", "anything", true),
        ("*", "a/b", false),
        ("**", "a/b", true),
        ("feat-*-x", "feat-abc-x", true),
        ("feat-*-x", "feat-abc-y", false),
        ("*-rc", "1.0-rc", true),
        ("a*b*c", "axxbyyc", true),
        ("a*b*c", "axxbyy", false),
        ("", "", true),
        ("*", "", true),
    ];
    for (pattern, branch, want) in cases {
        assert_eq!(
            branch_matches(pattern, branch),
            want,
            "{pattern} ~ {branch}"
        );
    }
    // Long inputs stay quick (no backtracking blow-up).
    let pattern = "*a".repeat(50);
    assert!(!branch_matches(&pattern, &"a".repeat(40)));
}

//! Webhooks: GitHub (HMAC signature, event and branch filters), GitLab (token), generic (token);
//! the trigger's inputs from the payload; a redelivery starts no second run (ids scoped by
//! workflow and kind); unknown workflows are answered like bad signatures.

use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::support::{both_stores, Api, Resp, TestDb, TestServer, BUSYBOX};

fn hooked() -> String {
    format!(
        "name: hooked
inputs:
  who: {{ type: string, default: nobody }}
triggers:
  - github: {{ secret: GH_SECRET, events: [push], branches: [main] }}
    inputs: {{ who: \"${{{{ trigger.payload.pusher.name }}}}\" }}
  - gitlab: {{ secret: GL_TOKEN }}
    inputs: {{ who: gitlab }}
  - webhook: {{ secret: HOOK_TOKEN }}
    inputs: {{ who: \"${{{{ trigger.payload.who }}}}\" }}
stages:
  - name: s
    actions:
      - name: greet
        image: {BUSYBOX}
        command: [\"sh\", \"-c\", \"echo \\\"[COUT] who = $CO_INPUT_WHO\\\"\"]
        with: {{ who: \"${{{{ inputs.who }}}}\" }}
"
    )
}

const GH_SECRET: &str = "github-hook-secret";

fn sign(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(GH_SECRET.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

async fn github(
    api: &Api,
    event: &str,
    delivery: &str,
    body: &Value,
    signature: Option<String>,
) -> Resp {
    let body = serde_json::to_vec(body).unwrap();
    let signature = signature.unwrap_or_else(|| sign(&body));
    api.send(
        api.request(reqwest::Method::POST, "/api/v1/hooks/hooked/github")
            .header("content-type", "application/json")
            .header("x-github-event", event)
            .header("x-github-delivery", delivery)
            .header("x-hub-signature-256", signature)
            .body(body),
    )
    .await
}

async fn deliveries_start_one_run_each(db: &TestDb) {
    let server = TestServer::start_docker(db).await;
    let admin = server.api();
    admin.apply("hooked", &hooked()).await;
    admin.set_secret("GH_SECRET", GH_SECRET).await;
    admin.set_secret("GL_TOKEN", "gitlab-token").await;
    admin.set_secret("HOOK_TOKEN", "generic-token").await;
    // No bearer token on webhooks.
    let api = admin.with_token(None);

    let push = json!({"ref": "refs/heads/main", "pusher": {"name": "octocat"}, "after": "abc123"});
    let first = github(&api, "push", "delivery-1", &push, None)
        .await
        .expect(201);
    assert_eq!(first["duplicate"], false);
    let run_id = first["run_id"].as_str().unwrap().to_string();
    assert_eq!(admin.wait(&run_id).await, "succeeded");
    let run = admin
        .get(&format!("/api/v1/runs/{run_id}"))
        .await
        .expect(200);
    assert_eq!(run["inputs"], json!({"who": "octocat"}));
    assert_eq!(run["trigger"]["event"], "push");
    assert_eq!(run["trigger"]["delivery"], "delivery-1");
    assert_eq!(run["trigger"]["branch"], "main");
    assert_eq!(run["trigger"]["payload"], push);
    assert_eq!(run["revision"], 1);
    assert_eq!(run["steps"][0]["outputs"], json!({"who": "octocat"}));

    // A redelivery answers the first run and starts nothing.
    let again = github(&api, "push", "delivery-1", &push, None)
        .await
        .expect(200);
    assert_eq!(again, json!({"run_id": run_id, "duplicate": true}));
    let runs = admin.get("/api/v1/runs?workflow=hooked").await.expect(200);
    assert_eq!(runs["runs"].as_array().unwrap().len(), 1);

    // Refused: a wrong or missing signature.
    github(
        &api,
        "push",
        "delivery-2",
        &push,
        Some(format!("sha256={}", "0".repeat(64))),
    )
    .await
    .expect_error(401, "unauthorized");
    github(&api, "push", "delivery-2", &push, Some(String::new()))
        .await
        .expect_error(401, "unauthorized");
    // Ignored: another branch, another event, ping.
    let dev = json!({"ref": "refs/heads/dev", "pusher": {"name": "x"}});
    let ignored = github(&api, "push", "delivery-3", &dev, None)
        .await
        .expect(202);
    assert!(
        ignored["ignored"].as_str().unwrap().contains("dev"),
        "{ignored}"
    );
    github(&api, "issues", "delivery-4", &json!({}), None)
        .await
        .expect(202);
    github(&api, "ping", "delivery-5", &json!({"zen": "z"}), None)
        .await
        .expect(202);

    // GitLab: a token.
    let gitlab = |token: &str| {
        api.request(reqwest::Method::POST, "/api/v1/hooks/hooked/gitlab")
            .header("x-gitlab-token", token)
            .header("x-gitlab-event", "Push Hook")
            .header("x-gitlab-event-uuid", "gl-1")
            .json(&json!({"ref": "refs/heads/main"}))
    };
    api.send(gitlab("wrong-token"))
        .await
        .expect_error(401, "unauthorized");
    let gl = api.send(gitlab("gitlab-token")).await.expect(201);
    let gl_run = gl["run_id"].as_str().unwrap().to_string();
    assert_eq!(admin.wait(&gl_run).await, "succeeded");
    let run = admin
        .get(&format!("/api/v1/runs/{gl_run}"))
        .await
        .expect(200);
    assert_eq!(run["inputs"]["who"], "gitlab");

    // Generic: a token; inputs from the payload.
    let generic = |token: &str, delivery: &str| {
        api.request(reqwest::Method::POST, "/api/v1/hooks/hooked/webhook")
            .header("x-containerops-token", token)
            .header("x-containerops-delivery", delivery)
            .json(&json!({"who": "release bot"}))
    };
    api.send(generic("nope", "g-1"))
        .await
        .expect_error(401, "unauthorized");
    let g = api.send(generic("generic-token", "g-1")).await.expect(201);
    let g_run = g["run_id"].as_str().unwrap().to_string();
    assert_eq!(admin.wait(&g_run).await, "succeeded");
    let run = admin
        .get(&format!("/api/v1/runs/{g_run}"))
        .await
        .expect(200);
    assert_eq!(run["steps"][0]["outputs"]["who"], "release bot");
    assert_eq!(run["trigger"]["event"], "webhook");
    let dup = api.send(generic("generic-token", "g-1")).await.expect(200);
    assert_eq!(dup["run_id"], g_run.as_str());
    assert_eq!(dup["duplicate"], true);

    // Unknown kinds (the URL's kind says nothing about workflows).
    api.post_json("/api/v1/hooks/hooked/bitbucket", &json!({}))
        .await
        .expect_error(404, "not_found");
    server.stop().await;
}

/// A delivery sent as each kind of trigger could be sent, with credentials that do not match.
fn forged(api: &Api, workflow: &str, kind: &str, variant: usize) -> reqwest::RequestBuilder {
    let body = json!({"ref": "refs/heads/main"});
    let request = api
        .request(
            reqwest::Method::POST,
            &format!("/api/v1/hooks/{workflow}/{kind}"),
        )
        .json(&body);
    match (kind, variant) {
        (_, 0) => request,
        ("github", 1) => request
            .header("x-github-event", "push")
            .header("x-hub-signature-256", format!("sha256={}", "ab".repeat(32))),
        ("github", 2) => request.header("x-hub-signature-256", "sha1=nothex"),
        ("gitlab", 1) => request
            .header("x-gitlab-event", "Push Hook")
            .header("x-gitlab-token", "guess"),
        ("webhook", _) => request.header("x-containerops-token", "guess"),
        (_, _) => request.header("x-gitlab-token", ""),
    }
}

/// Whether a workflow exists, has a trigger of the kind, or has its secret set: a sender that
/// cannot authenticate gets the same answer, byte for byte, so names cannot be enumerated.
async fn unknown_workflows_are_answered_like_bad_signatures(db: &TestDb) {
    let server = TestServer::start(db).await;
    let admin = server.api();
    admin.apply("hooked", &hooked()).await;
    admin.set_secret("GH_SECRET", GH_SECRET).await;
    admin.set_secret("GL_TOKEN", "gitlab-token").await;
    admin.set_secret("HOOK_TOKEN", "generic-token").await;
    // Workflows whose triggers' secrets are not set, or empty, and one without triggers.
    for (name, suffix) in [("unset", "_UNSET"), ("empty", "_EMPTY")] {
        let yaml = hooked()
            .replacen("name: hooked", &format!("name: {name}"), 1)
            .replace("GH_SECRET", &format!("GH{suffix}"))
            .replace("GL_TOKEN", &format!("GL{suffix}"))
            .replace("HOOK_TOKEN", &format!("HOOK{suffix}"));
        admin.apply(name, &yaml).await;
    }
    for secret in ["GH_EMPTY", "GL_EMPTY", "HOOK_EMPTY"] {
        admin.set_secret(secret, "").await;
    }
    admin
        .apply("hello", &crate::workflows::hello("hello"))
        .await;
    let api = admin.with_token(None);
    let long = "w".repeat(co_spec::MAX_NAME_LEN + 1);
    for kind in ["github", "gitlab", "webhook"] {
        for variant in 0..3 {
            let real = api.send(forged(&api, "hooked", kind, variant)).await;
            assert_eq!(real.status, 401, "{kind} {variant}: {}", real.text);
            for workflow in [
                "nothing",
                "unset",
                "empty",
                "hello",
                "Not-A-Name",
                long.as_str(),
            ] {
                let other = api.send(forged(&api, workflow, kind, variant)).await;
                assert_eq!(
                    (other.status, &other.text),
                    (real.status, &real.text),
                    "{workflow} {kind} {variant}"
                );
            }
        }
    }
    let runs = admin.get("/api/v1/runs").await.expect(200);
    assert_eq!(runs["runs"], json!([]));
    server.stop().await;
}

/// Delivery ids are the senders': the same id sent to another trigger kind of the same workflow
/// (or to another workflow) is another delivery.
async fn delivery_ids_are_scoped_by_workflow_and_kind(db: &TestDb) {
    let server = TestServer::start(db).await;
    let admin = server.api();
    admin.apply("hooked", &hooked()).await;
    admin
        .apply("twin", &hooked().replacen("name: hooked", "name: twin", 1))
        .await;
    admin.set_secret("GH_SECRET", GH_SECRET).await;
    admin.set_secret("HOOK_TOKEN", "generic-token").await;
    let api = admin.with_token(None);
    let push = json!({"ref": "refs/heads/main", "pusher": {"name": "octocat"}});
    let from_github = github(&api, "push", "same-id", &push, None)
        .await
        .expect(201);
    let generic = |workflow: &str| {
        api.request(
            reqwest::Method::POST,
            &format!("/api/v1/hooks/{workflow}/webhook"),
        )
        .header("x-containerops-token", "generic-token")
        .header("x-containerops-delivery", "same-id")
        .json(&json!({"who": "bot"}))
    };
    let from_generic = api.send(generic("hooked")).await.expect(201);
    assert_ne!(from_generic["run_id"], from_github["run_id"]);
    let from_twin = api.send(generic("twin")).await.expect(201);
    assert_ne!(from_twin["run_id"], from_generic["run_id"]);
    // Each is still a redelivery of itself.
    let again = api.send(generic("hooked")).await.expect(200);
    assert_eq!(again["run_id"], from_generic["run_id"]);
    let again = github(&api, "push", "same-id", &push, None)
        .await
        .expect(200);
    assert_eq!(again["run_id"], from_github["run_id"]);
    let runs = admin.get("/api/v1/runs").await.expect(200);
    assert_eq!(runs["runs"].as_array().unwrap().len(), 3, "{runs}");
    server.stop().await;
}

async fn unusable_deliveries_are_refused(db: &TestDb) {
    let server = TestServer::start(db).await;
    let admin = server.api();
    let api = admin.with_token(None);
    let counted = format!(
        "name: counted
inputs:
  n: {{ type: int, required: true }}
triggers:
  - webhook: {{ secret: COUNT_TOKEN }}
    inputs: {{ n: \"${{{{ fromJSON(trigger.payload.count) }}}}\" }}
stages:
  - name: s
    actions:
      - name: a
        image: {BUSYBOX}
        command: [\"true\"]
        with: {{ n: \"${{{{ inputs.n }}}}\" }}
"
    );
    admin.apply("counted", &counted).await;
    let send = |body: Value| {
        api.request(reqwest::Method::POST, "/api/v1/hooks/counted/webhook")
            .header("x-containerops-token", "count-token")
            .json(&body)
    };
    // The secret is not set yet: nothing can be authentic.
    api.send(send(json!({"count": "3"})))
        .await
        .expect_error(401, "unauthorized");
    admin.set_secret("COUNT_TOKEN", "count-token").await;
    // Inputs that cannot be evaluated for this payload.
    api.send(send(json!({"count": "{not json"})))
        .await
        .expect_error(400, "bad_request");
    // Inputs of the wrong type.
    api.send(send(json!({"count": "\"three\""})))
        .await
        .expect_error(400, "invalid_inputs");
    let ok = api.send(send(json!({"count": "3"}))).await.expect(201);
    let run = ok["run_id"].as_str().unwrap();
    assert_eq!(admin.wait(run).await, "succeeded");
    assert_eq!(
        admin.get(&format!("/api/v1/runs/{run}")).await.expect(200)["inputs"],
        json!({"n": 3})
    );
    assert_eq!(
        admin.get("/api/v1/runs").await.expect(200)["runs"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    server.stop().await;
}

both_stores!(
    deliveries_start_one_run_each,
    unusable_deliveries_are_refused,
    unknown_workflows_are_answered_like_bad_signatures,
    delivery_ids_are_scoped_by_workflow_and_kind,
);

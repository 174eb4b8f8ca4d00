//! Webhooks: GitHub (HMAC signature, event and branch filters), GitLab (token), generic (token);
//! the trigger's inputs from the payload; a redelivery starts no second run.

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

    // Unknown kinds and workflows, workflows without such a trigger.
    api.post_json("/api/v1/hooks/hooked/bitbucket", &json!({}))
        .await
        .expect_error(404, "not_found");
    api.post_json("/api/v1/hooks/nothing/github", &json!({}))
        .await
        .expect_error(404, "not_found");
    admin
        .apply("hello", &crate::workflows::hello("hello"))
        .await;
    api.post_json("/api/v1/hooks/hello/webhook", &json!({}))
        .await
        .expect_error(404, "not_found");
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
    unusable_deliveries_are_refused
);

//! Runs on the real container engine: start (201 + id), get with steps and attempts, list with
//! filters and keyset pagination, cancel (running and queued), rerun, resume from failure.

use std::collections::HashSet;

use serde_json::{json, Value};

use crate::support::{both_stores, TestDb, TestServer, BUSYBOX};
use crate::workflows::hello;

async fn a_run_starts_and_shows_its_steps(db: &TestDb) {
    let server = TestServer::start_docker(db).await;
    let api = server.api();
    api.apply("hello", &hello("hello")).await;

    let id = api.start("hello", json!({"who": "team"})).await;
    assert_eq!(api.wait(&id).await, "succeeded");
    let run = api.get(&format!("/api/v1/runs/{id}")).await.expect(200);
    assert_eq!(run["id"], id.as_str());
    assert_eq!(run["workflow"], "hello");
    assert_eq!(run["status"], "succeeded");
    assert_eq!(run["inputs"], json!({"who": "team"}));
    assert_eq!(run["revision"], 1);
    assert_eq!(run["trigger"], json!({"event": "api"}));
    assert_eq!(run["parent"], Value::Null);
    assert_eq!(run["error"], Value::Null);
    for key in ["created_at", "started_at", "finished_at"] {
        assert!(run[key].as_str().unwrap().ends_with('Z'), "{key}: {run}");
    }
    let step = &run["steps"][0];
    assert_eq!(step["stage"], "greet");
    assert_eq!(step["action"], "say");
    assert_eq!(step["key"], "say");
    assert_eq!(step["status"], "succeeded");
    assert_eq!(step["attempts"], 1);
    assert_eq!(step["exit_code"], 0);
    assert_eq!(step["outputs"], json!({"greeting": "hello team"}));
    assert_eq!(step["error"], Value::Null);
    let attempts = step["attempts_detail"].as_array().unwrap();
    assert_eq!(attempts.len(), 1, "{run}");
    assert_eq!(attempts[0]["attempt"], 1);
    assert_eq!(attempts[0]["status"], "succeeded");
    assert_eq!(attempts[0]["exit_code"], 0);

    // By a unique prefix too.
    let prefix = &id[..id.len() - 4];
    assert_eq!(
        api.get(&format!("/api/v1/runs/{prefix}")).await.expect(200)["id"],
        id.as_str()
    );

    // POST /runs names the workflow in the body; inputs default.
    let r = api
        .post_json("/api/v1/runs", &json!({"workflow": "hello", "revision": 1}))
        .await
        .expect(201);
    let second = r["id"].as_str().unwrap().to_string();
    assert_eq!(api.wait(&second).await, "succeeded");
    let run = api.get(&format!("/api/v1/runs/{second}")).await.expect(200);
    assert_eq!(run["steps"][0]["outputs"]["greeting"], "hello world");

    // Invalid inputs: each problem in details.
    let typed = format!(
        "name: typed\ninputs:\n  count: {{ type: int, required: true }}\nstages:\n  - name: s\n    actions:\n      \
         - name: a\n        image: {BUSYBOX}\n        command: [\"true\"]\n        with: {{ n: \"${{{{ inputs.count }}}}\" }}\n"
    );
    api.apply("typed", &typed).await;
    let error = api
        .post_json(
            "/api/v1/workflows/typed/runs",
            &json!({"inputs": {"count": "many", "extra": 1}}),
        )
        .await
        .expect_error(400, "invalid_inputs");
    assert!(!error["details"].as_array().unwrap().is_empty(), "{error}");
    let error = api
        .post_json("/api/v1/workflows/typed/runs", &json!({}))
        .await
        .expect_error(400, "invalid_inputs");
    assert!(
        error["message"].as_str().unwrap().contains("count"),
        "{error}"
    );
    api.post_json("/api/v1/workflows/hello/runs", &json!({"revision": 9}))
        .await
        .expect_error(404, "not_found");
    server.stop().await;
}

async fn runs_are_listed_newest_first_with_filters_and_pages(db: &TestDb) {
    // The no-op backend: only the bookkeeping matters here.
    let server = TestServer::start(db).await;
    let api = server.api();
    api.apply("hello", &hello("hello")).await;
    let other = hello("hi").replace("name: hello", "name: other");
    api.apply("other", &other).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(api.start("hello", json!({"who": format!("w{i}")})).await);
    }
    let mut other_ids = Vec::new();
    for _ in 0..2 {
        other_ids.push(api.start("other", json!({})).await);
    }
    for id in ids.iter().chain(&other_ids) {
        assert_eq!(api.wait(id).await, "succeeded");
    }

    // Page through everything, two at a time.
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &after {
            Some(a) => format!("/api/v1/runs?limit=2&after={a}"),
            None => "/api/v1/runs?limit=2".to_string(),
        };
        let page = api.get(&path).await.expect(200);
        pages += 1;
        let runs = page["runs"].as_array().unwrap();
        assert!(runs.len() <= 2);
        seen.extend(runs.iter().map(|r| r["id"].as_str().unwrap().to_string()));
        match page["next"].as_str() {
            Some(next) => {
                assert_eq!(runs.len(), 2);
                assert_eq!(next, runs[1]["id"].as_str().unwrap());
                after = Some(next.to_string());
            }
            None => break,
        }
    }
    assert_eq!(pages, 4);
    assert_eq!(seen.len(), 7);
    assert_eq!(
        seen.iter().collect::<HashSet<_>>().len(),
        7,
        "duplicates: {seen:?}"
    );
    let all = api.get("/api/v1/runs?limit=100").await.expect(200);
    let listed: Vec<&str> = all["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, seen.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(all["next"], Value::Null);
    // Newest first.
    let created: Vec<&str> = all["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["created_at"].as_str().unwrap())
        .collect();
    let mut sorted = created.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(created, sorted);
    assert_eq!(listed[0], other_ids[1].as_str());
    assert_eq!(listed[6], ids[0].as_str());
    let summary = &all["runs"][0];
    for key in [
        "id",
        "workflow",
        "status",
        "revision",
        "trigger",
        "parent",
        "created_at",
        "started_at",
        "finished_at",
        "error",
    ] {
        assert!(summary.get(key).is_some(), "{key}: {summary}");
    }

    // Filters.
    let others = api.get("/api/v1/runs?workflow=other").await.expect(200);
    let got: HashSet<&str> = others["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, other_ids.iter().map(String::as_str).collect());
    let page = api
        .get("/api/v1/runs?workflow=hello&status=succeeded&limit=3")
        .await
        .expect(200);
    assert_eq!(page["runs"].as_array().unwrap().len(), 3);
    let rest = api
        .get(&format!(
            "/api/v1/runs?workflow=hello&status=succeeded&limit=3&after={}",
            page["next"].as_str().unwrap()
        ))
        .await
        .expect(200);
    assert_eq!(rest["runs"].as_array().unwrap().len(), 2);
    assert_eq!(rest["next"], Value::Null);
    assert_eq!(
        api.get("/api/v1/runs?status=failed").await.expect(200)["runs"],
        json!([])
    );
    api.get("/api/v1/runs?after=01jdnosuchrun")
        .await
        .expect_error(404, "not_found");
    server.stop().await;
}

fn sleeper() -> String {
    format!(
        "name: sleeper\nstages:\n  - name: s\n    actions:\n      - name: nap\n        image: {BUSYBOX}\n        \
         command: [\"sh\", \"-c\", \"trap 'exit 143' TERM; echo started; sleep 300 & wait\"]\n"
    )
}

async fn runs_are_cancelled_running_or_queued(db: &TestDb) {
    let mut config = db.config();
    config.backend = co_server::config::BackendKind::Docker;
    config.max_runs = Some(1);
    let server = TestServer::start_with(config).await;
    let api = server.api();
    api.apply("sleeper", &sleeper()).await;

    let first = api.start("sleeper", json!({})).await;
    // Its first line is out: the step is running.
    let events = api.events(&first, None, Some(1)).await;
    assert_eq!(events[0].json()["text"], "started");
    // This server runs one run at a time: the second waits, visibly queued.
    let second = api.start("sleeper", json!({})).await;
    let queued = api.get(&format!("/api/v1/runs/{second}")).await.expect(200);
    assert_eq!(queued["status"], "queued");
    let listed = api.get("/api/v1/runs?status=queued").await.expect(200);
    assert_eq!(listed["runs"][0]["id"], second.as_str());

    // A queued run is cancelled at once.
    let r = api
        .post_json(&format!("/api/v1/runs/{second}/cancel"), &json!({}))
        .await
        .expect(202);
    assert_eq!(r, json!({"id": second, "cancel_requested": true}));
    assert_eq!(
        api.get(&format!("/api/v1/runs/{second}")).await.expect(200)["status"],
        "cancelled"
    );
    // A running one stops, its container with it.
    api.post_json(&format!("/api/v1/runs/{first}/cancel"), &json!({}))
        .await
        .expect(202);
    assert_eq!(api.wait(&first).await, "cancelled");
    let run = api.get(&format!("/api/v1/runs/{first}")).await.expect(200);
    assert_eq!(run["status"], "cancelled");
    assert_eq!(run["steps"][0]["status"], "cancelled");
    server.stop().await;
}

fn two_steps() -> String {
    format!(
        "name: flaky\nstages:\n  - name: one\n    actions:\n      - name: prepare\n        image: {BUSYBOX}\n        \
         command: [\"sh\", \"-c\", \"echo prepare ran; echo '[COUT] x = 41'\"]\n  - name: two\n    actions:\n      \
         - name: check\n        image: {BUSYBOX}\n        command: [\"sh\", \"-c\", \"echo check ran with $CO_INPUT_X; test \\\"$CO_INPUT_FLAG\\\" = ok || exit 3\"]\n        \
         with: {{ flag: \"${{{{ secrets.FLAG }}}}\", x: \"${{{{ actions.prepare.outputs.x }}}}\" }}\n"
    )
}

async fn log_texts(api: &crate::support::Api, id: &str) -> Vec<String> {
    api.get(&format!("/api/v1/runs/{id}/logs"))
        .await
        .expect(200)["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["text"].as_str().unwrap().to_string())
        .collect()
}

async fn failed_runs_resume_and_any_run_reruns(db: &TestDb) {
    let server = TestServer::start_docker(db).await;
    let api = server.api();
    api.apply("flaky", &two_steps()).await;
    api.set_secret("FLAG", "not-yet").await;

    let failed = api.start("flaky", json!({})).await;
    assert_eq!(api.wait(&failed).await, "failed");
    let run = api.get(&format!("/api/v1/runs/{failed}")).await.expect(200);
    assert_eq!(run["steps"][0]["status"], "succeeded");
    assert_eq!(run["steps"][1]["status"], "failed");
    assert_eq!(run["steps"][1]["error"], "exit code 3");
    assert_eq!(run["steps"][1]["exit_code"], 3);

    // Fix what failed, then resume: `prepare` is not run again, its output is reused.
    api.set_secret("FLAG", "ok").await;
    let r = api
        .post_json(&format!("/api/v1/runs/{failed}/resume"), &json!({}))
        .await
        .expect(201);
    let resumed = r["id"].as_str().unwrap().to_string();
    assert_ne!(resumed, failed);
    assert_eq!(api.wait(&resumed).await, "succeeded");
    let run = api
        .get(&format!("/api/v1/runs/{resumed}"))
        .await
        .expect(200);
    assert_eq!(run["parent"], failed.as_str());
    assert_eq!(run["trigger"]["event"], "resume");
    assert_eq!(run["steps"][0]["status"], "reused");
    assert_eq!(run["steps"][0]["reused_from"], failed.as_str());
    assert_eq!(run["steps"][0]["outputs"], json!({"x": "41"}));
    assert_eq!(run["steps"][1]["reused_from"], Value::Null);
    assert_eq!(run["steps"][1]["status"], "succeeded");
    let lines = log_texts(&api, &resumed).await;
    assert!(!lines.iter().any(|l| l == "prepare ran"), "{lines:?}");
    assert!(lines.iter().any(|l| l == "check ran with 41"), "{lines:?}");

    // Resuming a run that succeeded is refused; rerunning runs everything again.
    let error = api
        .post_json(&format!("/api/v1/runs/{resumed}/resume"), &json!({}))
        .await
        .expect_error(400, "invalid_inputs");
    assert!(
        error["message"].as_str().unwrap().contains("succeeded"),
        "{error}"
    );
    let r = api
        .post_json(&format!("/api/v1/runs/{failed}/rerun"), &json!({}))
        .await
        .expect(201);
    let rerun = r["id"].as_str().unwrap().to_string();
    assert_eq!(api.wait(&rerun).await, "succeeded");
    let run = api.get(&format!("/api/v1/runs/{rerun}")).await.expect(200);
    assert_eq!(run["parent"], failed.as_str());
    assert_eq!(run["trigger"]["event"], "rerun");
    let lines = log_texts(&api, &rerun).await;
    assert!(lines.iter().any(|l| l == "prepare ran"), "{lines:?}");
    api.post_json("/api/v1/runs/01jdnosuchrun/rerun", &json!({}))
        .await
        .expect_error(404, "not_found");
    api.post_json("/api/v1/runs/01jdnosuchrun/resume", &json!({}))
        .await
        .expect_error(404, "not_found");
    server.stop().await;
}

/// A server that stops ends its open log streams, and hands the runs it drives to the next
/// server without cancelling them: that one reattaches, and can cancel it.
async fn a_stopping_server_ends_streams_and_hands_its_runs_over(db: &TestDb) {
    let server = TestServer::start_docker(db).await;
    let api = server.api();
    api.apply("sleeper", &sleeper()).await;
    let id = api.start("sleeper", json!({})).await;
    let first = api.events(&id, None, Some(1)).await;
    assert_eq!(first[0].json()["text"], "started");
    // A stream that is open (its headers are in) when the server stops.
    let response = api
        .request(
            reqwest::Method::GET,
            &format!("/api/v1/runs/{id}/logs/stream"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let stream = tokio::spawn(async move { response.text().await.unwrap_or_default() });
    server.stop().await;
    // The stream ended, without an `end` event: the run is not over.
    let text = stream.await.unwrap();
    assert!(text.contains("event: log"), "{text}");
    assert!(!text.contains("event: end"), "{text}");

    let server = TestServer::start_docker(db).await;
    let api = server.api();
    assert_eq!(
        api.get(&format!("/api/v1/runs/{id}")).await.expect(200)["status"],
        "running"
    );
    api.post_json(&format!("/api/v1/runs/{id}/cancel"), &json!({}))
        .await
        .expect(202);
    assert_eq!(api.wait(&id).await, "cancelled");
    let run = api.get(&format!("/api/v1/runs/{id}")).await.expect(200);
    assert_eq!(run["steps"][0]["status"], "cancelled");
    // One attempt: the step was reattached, not started again.
    assert_eq!(run["steps"][0]["attempts"], 1, "{run}");
    let lines = log_texts(&api, &id).await;
    assert_eq!(lines, ["started"]);
    server.stop().await;
}

both_stores!(
    a_stopping_server_ends_streams_and_hands_its_runs_over,
    a_run_starts_and_shows_its_steps,
    runs_are_listed_newest_first_with_filters_and_pages,
    runs_are_cancelled_running_or_queued,
    failed_runs_resume_and_any_run_reruns,
);

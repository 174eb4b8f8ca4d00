//! What the web UI's editor and pages use: saves with conflict detection (`base_revision`,
//! `If-Match`, `If-None-Match`), component paths bound to registered components (the text stays
//! the user's), graphs of revisions, texts and runs (both formats), the component palette, the
//! dashboard, and runs filtered by trigger.

use reqwest::Method;
use serde_json::{json, Value};

use crate::components::upper;
use crate::support::{both_stores, TestDb, TestServer};

/// A workflow using a component by path, with comments the server must keep (runs of it go to
/// the real engine: the component prints its output).
const PIPELINE: &str = "# the team's pipeline
name: pipe
inputs:
  word: { type: string, default: hi }   # what to shout
stages:
  - name: one
    actions:
      - name: shout
        component: ./components/upper   # registered by `workflows apply`
        with: { text: \"${{ inputs.word }}\" }
  - name: two
    actions:
      - name: echo
        image: localhost/co-examples/busybox:latest
        with: { said: \"${{ actions.shout.outputs.result }}\" }
        matrix: { n: [1, 2] }
";

async fn saves_detect_conflicts_and_store_nothing(db: &TestDb) {
    let server = TestServer::start(db).await;
    let api = server.api();
    let v1 = "name: c\nstages:\n  - name: s\n    actions:\n      - { name: a, image: i }\n";
    let v2 = format!("{v1}# two\n");
    let v3 = format!("{v1}# three\n");
    let v4 = format!("{v1}# four\n");
    // Create only: base_revision 0.
    let created = api
        .put_json(
            "/api/v1/workflows/c",
            &json!({"yaml": v1, "base_revision": 0}),
        )
        .await;
    assert_eq!(created.headers["etag"], "\"1\"");
    assert_eq!(created.expect(201)["revision"], 1);
    let exists = api
        .put_json(
            "/api/v1/workflows/c",
            &json!({"yaml": v2, "base_revision": 0}),
        )
        .await
        .expect_error(409, "conflict");
    assert!(
        exists["message"]
            .as_str()
            .unwrap()
            .contains("already exists"),
        "{exists}"
    );
    assert_eq!(exists["details"]["current_revision"], 1);
    assert_eq!(exists["details"]["yaml"], v1);
    // Two editors start from revision 1 (its ETag): the first save wins, the second is told.
    let latest = api.get("/api/v1/workflows/c").await;
    assert_eq!(latest.headers["etag"], "\"1\"");
    let first = api
        .send(
            api.request(Method::PUT, "/api/v1/workflows/c")
                .header("if-match", "\"1\"")
                .header("content-type", "application/yaml")
                .body(v2.clone()),
        )
        .await;
    assert_eq!(first.expect(201)["revision"], 2);
    let second = api
        .put_json(
            "/api/v1/workflows/c",
            &json!({"yaml": v3, "base_revision": 1}),
        )
        .await
        .expect_error(409, "conflict");
    assert_eq!(
        second["details"],
        json!({"current_revision": 2, "yaml": v2, "created_at": second["details"]["created_at"],
               "base_revision": 1})
    );
    assert!(
        second["message"].as_str().unwrap().contains("someone else"),
        "{second}"
    );
    // Nothing was overwritten.
    assert_eq!(api.get("/api/v1/workflows/c").await.expect(200)["yaml"], v2);
    // Saving the same text as the latest is no conflict and no new revision.
    let same = api
        .put_json(
            "/api/v1/workflows/c",
            &json!({"yaml": v2, "base_revision": 1}),
        )
        .await
        .expect(200);
    assert_eq!(same["unchanged"], true);
    // Rebased on revision 2, the second editor's save goes through.
    api.put_json(
        "/api/v1/workflows/c",
        &json!({"yaml": v3, "base_revision": 2}),
    )
    .await
    .expect(201);
    // If-None-Match: * creates only; bad or contradicting preconditions are 400.
    api.send(
        api.request(Method::PUT, "/api/v1/workflows/c")
            .header("if-none-match", "*")
            .body(v4.clone()),
    )
    .await
    .expect_error(409, "conflict");
    for (header, value) in [("if-match", "three"), ("if-none-match", "\"2\"")] {
        api.send(
            api.request(Method::PUT, "/api/v1/workflows/c")
                .header(header, value)
                .body(v4.clone()),
        )
        .await
        .expect_error(400, "bad_request");
    }
    api.send(
        api.request(Method::PUT, "/api/v1/workflows/c")
            .header("if-match", "\"3\"")
            .json(&json!({"yaml": v4, "base_revision": 2})),
    )
    .await
    .expect_error(400, "bad_request");
    api.put_json(
        "/api/v1/workflows/c",
        &json!({"yaml": v4, "base_revision": -1}),
    )
    .await
    .expect_error(400, "bad_request");
    // A base revision of a workflow that does not exist.
    api.put_json(
        "/api/v1/workflows/d",
        &json!({"yaml": v4.replace("name: c", "name: d"), "base_revision": 4}),
    )
    .await
    .expect_error(409, "conflict");
    let revisions = api.get("/api/v1/workflows/c/revisions").await.expect(200);
    assert_eq!(revisions["revisions"].as_array().unwrap().len(), 3);
    server.stop().await;
}

async fn component_paths_bind_to_registered_components_and_the_text_is_kept(db: &TestDb) {
    let server = TestServer::start_docker(db).await;
    let api = server.api();
    // Without a binding the server refuses the path (it reads no files) and says what to do.
    let refused = api
        .put_yaml("/api/v1/workflows/pipe", PIPELINE)
        .await
        .expect_error(400, "bad_request");
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("workflows apply"),
        "{refused}"
    );
    // Bound to a version that is not registered: 400 naming it.
    let unregistered = api
        .put_json(
            "/api/v1/workflows/pipe",
            &json!({"yaml": PIPELINE, "components": {"./components/upper": "upper@1.0.0"}}),
        )
        .await
        .expect_error(400, "bad_request");
    assert!(
        unregistered["message"]
            .as_str()
            .unwrap()
            .contains("upper@1.0.0"),
        "{unregistered}"
    );
    api.put_json(
        "/api/v1/workflows/pipe",
        &json!({"yaml": PIPELINE, "components": {"./components/upper": "upper"}}),
    )
    .await
    .expect_error(400, "bad_request");

    // What `workflows apply` does: register, then save with the binding.
    api.post_yaml("/api/v1/components", &upper("1.0.0", "Upper-cases"))
        .await
        .expect(201);
    api.post_yaml("/api/v1/components", &upper("2.0.0", "Newer"))
        .await
        .expect(201);
    let saved = api
        .put_json(
            "/api/v1/workflows/pipe",
            &json!({"yaml": PIPELINE, "components": {
                "./components/upper": "upper@1.0.0",
                "./components/unused": "upper@2.0.0",
            }}),
        )
        .await
        .expect(201);
    assert_eq!(saved["revision"], 1);
    let stored = api.get("/api/v1/workflows/pipe").await.expect(200);
    assert_eq!(stored["yaml"], PIPELINE, "the text is stored as sent");
    assert_eq!(
        stored["components"],
        json!({"./components/upper": "upper@1.0.0"}),
        "only bindings the text uses are kept"
    );

    // An edit from the UI (plain text, no bindings) inherits them: comments stay, paths resolve.
    let edited = PIPELINE.replace("default: hi }", "default: hello }");
    let check = api
        .post_json("/api/v1/validate?graph=true", &json!({"yaml": edited}))
        .await
        .expect(200);
    assert_eq!(check["valid"], true, "{check}");
    assert_eq!(
        check["graph"]["nodes"][0]["component"]["reference"],
        "./components/upper"
    );
    assert_eq!(check["graph"]["nodes"][0]["component"]["version"], "1.0.0");
    let two = api
        .put_json(
            "/api/v1/workflows/pipe",
            &json!({"yaml": edited, "base_revision": 1}),
        )
        .await
        .expect(201);
    assert_eq!(two["revision"], 2);
    let stored = api.get("/api/v1/workflows/pipe").await.expect(200);
    assert_eq!(stored["yaml"], edited);
    assert_eq!(
        stored["components"],
        json!({"./components/upper": "upper@1.0.0"})
    );
    // A run of it resolves the path through the binding.
    let id = api.start("pipe", json!({})).await;
    assert_eq!(api.wait(&id).await, "succeeded");
    let run = api.get(&format!("/api/v1/runs/{id}")).await.expect(200);
    let keys: Vec<&str> = run["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["shout", "echo[n=1]", "echo[n=2]"]);
    // An explicit binding moves it to another version.
    let moved = api
        .put_json(
            "/api/v1/workflows/pipe",
            &json!({"yaml": edited, "components": {"./components/upper": "upper@2.0.0"}}),
        )
        .await
        .expect(201);
    assert_eq!(moved["revision"], 3);
    let graph = api.get("/api/v1/workflows/pipe/graph").await.expect(200);
    assert_eq!(graph["revision"], 3);
    assert_eq!(graph["nodes"][0]["component"]["version"], "2.0.0");
    let old = api
        .get("/api/v1/workflows/pipe/graph?revision=1")
        .await
        .expect(200);
    assert_eq!(old["nodes"][0]["component"]["version"], "1.0.0");
    server.stop().await;
}

async fn graphs_of_revisions_texts_and_runs(db: &TestDb) {
    let server = TestServer::start_docker(db).await;
    let api = server.api();
    api.post_yaml("/api/v1/components", &upper("1.0.0", "Upper-cases"))
        .await
        .expect(201);
    let native = PIPELINE.replace("./components/upper", "upper@1.0.0");
    api.apply("pipe", &native).await;
    let g = api.get("/api/v1/workflows/pipe/graph").await.expect(200);
    assert_eq!(g["name"], "pipe");
    assert_eq!(g["format"], "native");
    assert_eq!(
        g["inputs"]["word"],
        json!({"type": "string", "required": false, "default": "hi", "description": null})
    );
    let shout = &g["nodes"][0];
    assert_eq!(shout["name"], "shout");
    assert_eq!(
        (shout["line"].as_i64(), shout["col"].as_i64()),
        (Some(8), Some(9))
    );
    assert_eq!(shout["component"]["reference"], "upper@1.0.0");
    assert_eq!(shout["component"]["description"], "Upper-cases");
    assert_eq!(shout["inputs"]["text"]["required"], true);
    assert_eq!(shout["outputs"]["result"]["type"], "string");
    assert_eq!(shout["with"]["text"], "${{ inputs.word }}");
    assert_eq!(shout["image"], "localhost/co-examples/busybox:latest");
    let echo = &g["nodes"][1];
    assert_eq!(echo["steps"], json!(["echo[n=1]", "echo[n=2]"]));
    assert_eq!(echo["matrix"]["axes"], json!({"n": [1, 2]}));
    assert_eq!(echo["depends_on"], json!(["shout"]));
    assert_eq!(
        g["edges"],
        json!([{"from": "shout", "to": "echo", "kind": "order"}])
    );
    assert_eq!(
        g["wires"],
        json!([{"from": "shout", "output": "result", "to": "echo", "input": "said"}])
    );
    assert_eq!(
        g["stages"],
        json!([
            {"name": "one", "finally": false, "line": 6, "col": 11, "actions": ["shout"]},
            {"name": "two", "finally": false, "line": 11, "col": 11, "actions": ["echo"]},
        ])
    );
    api.get("/api/v1/workflows/pipe/graph?revision=9")
        .await
        .expect_error(404, "not_found");
    api.get("/api/v1/workflows/nope/graph")
        .await
        .expect_error(404, "not_found");

    // A seed-format flow.
    let seed = "uri: demo/ci/flow\ntitle: Flow\nstages:\n  - { type: start, name: start, title: S }\n  \
                - type: normal\n    name: build\n    sequencing: sequence\n    actions:\n      \
                - name: compile\n        jobs:\n          - { type: component, name: cc, endpoint: img:1 }\n          \
                - { type: component, name: link, endpoint: img:2 }\n  - { type: end, name: end, title: E }\n";
    let saved = api.post_yaml("/api/v1/workflows", seed).await.expect(201);
    let name = saved["name"].as_str().unwrap();
    let g = api
        .get(&format!("/api/v1/workflows/{name}/graph"))
        .await
        .expect(200);
    assert_eq!(g["format"], "seed");
    assert_eq!(g["uri"], "demo/ci/flow");
    let labels: Vec<&str> = g["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["cc", "link"]);
    assert_eq!(g["nodes"][1]["depends_on"], json!(["build.compile.cc"]));

    // The graph of a run is the graph of what it ran.
    let id = api.start("pipe", json!({"word": "x"})).await;
    assert_eq!(api.wait(&id).await, "succeeded");
    let run_graph = api
        .get(&format!("/api/v1/runs/{id}/graph"))
        .await
        .expect(200);
    assert_eq!(run_graph["revision"], 1);
    assert_eq!(
        run_graph["nodes"],
        api.get("/api/v1/workflows/pipe/graph").await.expect(200)["nodes"]
    );
    // A local run (as `containerops run` records it) of a file with an unbound component path:
    // 422 with the diagnostics, so the UI falls back to the step list.
    let store = db.store().await;
    let local = co_store::RunRecord {
        id: "01localrun".into(),
        workflow: "pipe-local".into(),
        status: co_store::RunStatus::Succeeded,
        inputs: json!({}),
        secret_inputs: None,
        outputs: json!({}),
        error: None,
        created_at: co_store::now_timestamp(),
        started_at: None,
        finished_at: None,
        source_path: "ci/pipe.yaml".into(),
        source: PIPELINE.replace("name: pipe", "name: pipe-local"),
        revision: None,
        trigger: json!({"event": "cli"}),
        parent: None,
        max_concurrency: None,
    };
    store.insert_run(&local).await.unwrap();
    let error = api
        .get("/api/v1/runs/01localrun/graph")
        .await
        .expect_error(422, "graph_unavailable");
    assert_eq!(error["details"][0]["file"], "ci/pipe.yaml");
    assert_eq!(error["details"][0]["line"], 9);
    // Once a revision of that workflow binds the path, the local run's graph resolves with it.
    api.put_json(
        "/api/v1/workflows/pipe-local",
        &json!({"yaml": local.source, "components": {"./components/upper": "upper@1.0.0"}}),
    )
    .await
    .expect(201);
    let g = api.get("/api/v1/runs/01localrun/graph").await.expect(200);
    assert_eq!(g["revision"], Value::Null);
    assert_eq!(g["nodes"][0]["component"]["name"], "upper");
    store.close().await;
    server.stop().await;
}

async fn the_palette_dashboard_and_trigger_filter(db: &TestDb) {
    let server = TestServer::start(db).await;
    let api = server.api();
    api.post_yaml("/api/v1/components", &upper("1.0.0", "Upper-cases"))
        .await
        .expect(201);
    let palette = api.get("/api/v1/components").await.expect(200);
    let entry = &palette["components"][0];
    assert_eq!(entry["description"], "Upper-cases");
    assert_eq!(entry["image"], "localhost/co-examples/busybox:latest");
    assert_eq!(entry["inputs"]["text"]["type"], "string");
    assert_eq!(entry["inputs"]["text"]["description"], "text to convert");
    assert_eq!(entry["outputs"]["result"]["required"], true);
    let one = api.get("/api/v1/components/upper/1.0.0").await.expect(200);
    assert_eq!(one["inputs"], entry["inputs"]);
    assert!(one["yaml"].as_str().unwrap().starts_with("name: upper"));

    let empty = api.get("/api/v1/dashboard").await.expect(200);
    assert_eq!(
        empty,
        json!({"workflows": [], "recent_runs": [], "queue": {"queued": 0, "running": 0}})
    );
    let wf = |name: &str| {
        format!(
            "name: {name}\nstages:\n  - name: s\n    actions:\n      - {{ name: a, image: i }}\n"
        )
    };
    api.apply("alpha", &wf("alpha")).await;
    api.apply("beta", &wf("beta")).await;
    let a1 = api.start("alpha", json!({})).await;
    assert_eq!(api.wait(&a1).await, "succeeded");
    let a2 = api.start("alpha", json!({})).await;
    assert_eq!(api.wait(&a2).await, "succeeded");
    let rerun = api
        .post_json(&format!("/api/v1/runs/{a1}/rerun"), &json!({}))
        .await
        .expect(201);
    let rerun = rerun["id"].as_str().unwrap().to_string();
    assert_eq!(api.wait(&rerun).await, "succeeded");
    let dash = api.get("/api/v1/dashboard").await.expect(200);
    let workflows = dash["workflows"].as_array().unwrap();
    assert_eq!(workflows.len(), 2);
    assert_eq!(workflows[0]["name"], "alpha");
    assert_eq!(workflows[0]["latest_run"]["id"], rerun.as_str());
    assert_eq!(workflows[0]["latest_run"]["status"], "succeeded");
    assert_eq!(workflows[1]["latest_run"], Value::Null);
    let recent: Vec<&str> = dash["recent_runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(recent, [rerun.as_str(), a2.as_str(), a1.as_str()]);
    assert_eq!(dash["queue"], json!({"queued": 0, "running": 0}));
    // The workflow list carries the latest run too.
    let list = api.get("/api/v1/workflows").await.expect(200);
    assert_eq!(list["workflows"], dash["workflows"]);
    // Runs by trigger.
    let by = |t: &str| format!("/api/v1/runs?trigger={t}");
    let api_runs = api.get(&by("api")).await.expect(200);
    let ids: Vec<&str> = api_runs["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [a2.as_str(), a1.as_str()]);
    let reruns = api
        .get(&format!("{}&workflow=alpha&status=succeeded", by("rerun")))
        .await
        .expect(200);
    assert_eq!(reruns["runs"][0]["id"], rerun.as_str());
    assert_eq!(reruns["runs"].as_array().unwrap().len(), 1);
    assert_eq!(api.get(&by("cron")).await.expect(200)["runs"], json!([]));
    server.stop().await;
}

both_stores!(
    saves_detect_conflicts_and_store_nothing,
    component_paths_bind_to_registered_components_and_the_text_is_kept,
    graphs_of_revisions_texts_and_runs,
    the_palette_dashboard_and_trigger_filter,
);

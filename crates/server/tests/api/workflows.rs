//! Workflows: every update a new immutable revision, any revision readable, the validate
//! endpoint with the CLI's diagnostics.

use serde_json::json;

use crate::support::{both_stores, TestDb, TestServer, BUSYBOX};

pub fn hello(greeting: &str) -> String {
    format!(
        "name: hello\ninputs:\n  who: {{ type: string, default: world }}\nstages:\n  - name: greet\n    actions:\n      \
         - name: say\n        image: {BUSYBOX}\n        command: [\"sh\", \"-c\", \"echo \\\"[COUT] greeting = {greeting} $CO_INPUT_WHO\\\"\"]\n        \
         with: {{ who: \"${{{{ inputs.who }}}}\" }}\n"
    )
}

/// A workflow with three problems: an unknown field, a reference to an unknown input, a
/// reference to an action it does not wait for.
pub const BROKEN: &str = "name: broken
stages:
  - name: one
    actions:
      - name: a
        image: localhost/co-examples/busybox:latest
        with: { x: \"${{ inputs.nope }}\" }
      - name: b
        image: localhost/co-examples/busybox:latest
        with: { y: \"${{ actions.a.outputs.z }}\" }
        retires: 3
";

async fn every_update_is_a_new_revision(db: &TestDb) {
    let server = TestServer::start(db).await;
    let api = server.api();

    let one = hello("hello");
    let created = api
        .put_yaml("/api/v1/workflows/hello", &one)
        .await
        .expect(201);
    assert_eq!(
        created,
        json!({"name": "hello", "revision": 1, "unchanged": false})
    );
    // The same text again stores nothing.
    let same = api
        .put_yaml("/api/v1/workflows/hello", &one)
        .await
        .expect(200);
    assert_eq!(
        same,
        json!({"name": "hello", "revision": 1, "unchanged": true})
    );
    let two = hello("hi");
    assert_eq!(
        api.put_yaml("/api/v1/workflows/hello", &two)
            .await
            .expect(201)["revision"],
        2
    );
    // POST /workflows takes the name from the document; JSON {"yaml"} works too.
    let three = hello("hey");
    let posted = api
        .post_json("/api/v1/workflows", &json!({ "yaml": three }))
        .await
        .expect(201);
    assert_eq!(posted["name"], "hello");
    assert_eq!(posted["revision"], 3);

    let latest = api.get("/api/v1/workflows/hello").await.expect(200);
    assert_eq!(latest["revision"], 3);
    assert_eq!(latest["yaml"], three.as_str());
    let first = api
        .get("/api/v1/workflows/hello/revisions/1")
        .await
        .expect(200);
    assert_eq!(first["revision"], 1);
    assert_eq!(first["yaml"], one.as_str());
    assert_eq!(
        api.get("/api/v1/workflows/hello/revisions/2")
            .await
            .expect(200)["yaml"],
        two.as_str()
    );
    let revisions = api
        .get("/api/v1/workflows/hello/revisions")
        .await
        .expect(200);
    let numbers: Vec<i64> = revisions["revisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["revision"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, [1, 2, 3]);

    let list = api.get("/api/v1/workflows").await.expect(200);
    assert_eq!(list["workflows"].as_array().unwrap().len(), 1);
    assert_eq!(list["workflows"][0]["name"], "hello");
    assert_eq!(list["workflows"][0]["latest_revision"], 3);

    for missing in [
        "/api/v1/workflows/nope",
        "/api/v1/workflows/hello/revisions/4",
        "/api/v1/workflows/hello/revisions/0",
        "/api/v1/workflows/hello/revisions/x",
        "/api/v1/workflows/nope/revisions",
        "/api/v1/workflows/NOPE",
    ] {
        api.get(missing).await.expect_error(404, "not_found");
    }
    // The URL and the document must agree on the name.
    let error = api
        .put_yaml("/api/v1/workflows/other", &one)
        .await
        .expect_error(400, "bad_request");
    assert!(
        error["message"].as_str().unwrap().contains("other"),
        "{error}"
    );
    api.put_yaml("/api/v1/workflows/Bad_Name", &one)
        .await
        .expect_error(400, "bad_request");
    server.stop().await;
}

async fn invalid_workflows_are_refused_with_diagnostics(db: &TestDb) {
    let server = TestServer::start(db).await;
    let api = server.api();
    let error = api
        .put_yaml("/api/v1/workflows/broken?file=ci/broken.yaml", BROKEN)
        .await
        .expect_error(400, "bad_request");
    let details = error["details"].as_array().unwrap();
    assert_eq!(details.len(), 3, "{error}");
    for d in details {
        let mut keys: Vec<&String> = d.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(keys, ["col", "file", "line", "message", "rendered"]);
        assert_eq!(d["file"], "ci/broken.yaml");
    }
    let lines: Vec<u64> = details
        .iter()
        .map(|d| d["line"].as_u64().unwrap())
        .collect();
    assert!(
        lines.contains(&7) && lines.contains(&10) && lines.contains(&11),
        "{error}"
    );
    // The reference inside the string is located exactly: `inputs.nope` on line 7.
    let nope = details.iter().find(|d| d["line"] == 7).unwrap();
    assert_eq!(
        nope["col"].as_u64().unwrap() as usize,
        BROKEN.lines().nth(6).unwrap().find("inputs.nope").unwrap() + 1,
        "{nope}"
    );
    api.get("/api/v1/workflows/broken")
        .await
        .expect_error(404, "not_found");

    // Catalog components: registered ones resolve, unregistered ones are diagnostics.
    let uses = "name: uses\nstages:\n  - name: s\n    actions:\n      - name: up\n        \
                component: upper@1.0.0\n        with: { text: hi }\n";
    let error = api
        .put_yaml("/api/v1/workflows/uses", uses)
        .await
        .expect_error(400, "bad_request");
    assert!(error["details"][0]["message"]
        .as_str()
        .unwrap()
        .contains("upper@1.0.0"));
    api.post_yaml(
        "/api/v1/components",
        &crate::components::upper("1.0.0", "Upper"),
    )
    .await
    .expect(201);
    api.put_yaml("/api/v1/workflows/uses", uses)
        .await
        .expect(201);
    // An input the component does not declare.
    let wrong = uses.replace("text: hi", "txt: hi");
    let error = api
        .put_yaml("/api/v1/workflows/uses", &wrong)
        .await
        .expect_error(400, "bad_request");
    assert_eq!(error["details"][0]["line"], 7, "{error}");
    server.stop().await;
}

/// The validate endpoint answers exactly what `containerops validate` prints (the CLI renders
/// `co_spec` diagnostics as `FILE:LINE:COL: error: MESSAGE`; `process.rs` also compares with the
/// real binary).
async fn validate_returns_the_cli_diagnostics(db: &TestDb) {
    let server = TestServer::start(db).await;
    let api = server.api();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.yaml");
    std::fs::write(&path, BROKEN).unwrap();
    let cli: Vec<String> = co_spec::Loader::new(&co_spec::NoCatalog)
        .load_workflow(&path)
        .unwrap_err()
        .0
        .iter()
        .map(|d| d.to_string())
        .collect();
    assert_eq!(cli.len(), 3);

    let answer = api
        .post_yaml(&format!("/api/v1/validate?file={}", path.display()), BROKEN)
        .await
        .expect(200);
    assert_eq!(answer["valid"], false);
    assert_eq!(answer["kind"], "workflow");
    let rendered: Vec<String> = answer["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["rendered"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(rendered, cli);

    // Components are recognised by `version:` and `image:`, or named with ?kind=.
    let component = "name: c\nversion: 1.0.0\nimage: busybox\ninputs:\n  x: { type: integr }\n";
    let answer = api
        .post_yaml("/api/v1/validate", component)
        .await
        .expect(200);
    assert_eq!(answer["kind"], "component");
    assert_eq!(answer["valid"], false);
    assert_eq!(answer["diagnostics"][0]["file"], "component.yaml");
    assert_eq!(answer["diagnostics"][0]["line"], 5);
    let answer = api
        .post_yaml("/api/v1/validate?kind=workflow", component)
        .await
        .expect(200);
    assert_eq!(answer["kind"], "workflow");
    assert_eq!(answer["valid"], false);

    let ok = api
        .post_json(
            "/api/v1/validate",
            &json!({"yaml": hello("hello"), "file": "hello.yaml"}),
        )
        .await
        .expect(200);
    assert_eq!(
        ok,
        json!({"valid": true, "kind": "workflow", "diagnostics": [], "graph": null})
    );
    api.post_yaml("/api/v1/validate?kind=flow", "x: 1")
        .await
        .expect_error(400, "bad_request");
    // Nothing was stored.
    assert_eq!(
        api.get("/api/v1/workflows").await.expect(200)["workflows"],
        json!([])
    );
    server.stop().await;
}

both_stores!(
    every_update_is_a_new_revision,
    invalid_workflows_are_refused_with_diagnostics,
    validate_returns_the_cli_diagnostics,
);

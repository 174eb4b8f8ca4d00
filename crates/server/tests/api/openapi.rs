//! The OpenAPI document: generated from the handlers, served, and committed fresh in
//! docs/openapi.json.

use std::path::PathBuf;

use serde_json::Value;

use crate::support::{python, TestDb, TestServer};

const UPDATE_ENV: &str = "CONTAINEROPS_UPDATE_OPENAPI";

fn committed_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json")
}

#[test]
fn the_committed_openapi_document_is_fresh() {
    let generated = co_server::openapi::document();
    let path = committed_path();
    if std::env::var_os(UPDATE_ENV).is_some() {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/openapi.json is stale (or missing): the API changed. Refresh it with\n\n    \
         {UPDATE_ENV}=1 cargo test -p co-server --test api openapi\n\nand commit the file."
    );
}

#[test]
fn the_document_covers_every_endpoint_the_error_shape_and_both_kinds_of_auth() {
    let doc: Value = serde_json::from_str(&co_server::openapi::document()).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let expected = [
        ("/api/v1/components", vec!["get", "post"]),
        ("/api/v1/components/{name}", vec!["get"]),
        ("/api/v1/components/{name}/{version}", vec!["get"]),
        ("/api/v1/workflows", vec!["get", "post"]),
        ("/api/v1/workflows/{name}", vec!["get", "put"]),
        ("/api/v1/workflows/{name}/revisions", vec!["get"]),
        ("/api/v1/workflows/{name}/revisions/{revision}", vec!["get"]),
        ("/api/v1/workflows/{name}/runs", vec!["post"]),
        ("/api/v1/workflows/{name}/graph", vec!["get"]),
        ("/api/v1/validate", vec!["post"]),
        ("/api/v1/dashboard", vec!["get"]),
        ("/api/v1/session", vec!["delete", "get", "post"]),
        ("/api/v1/runs/{id}/graph", vec!["get"]),
        ("/api/v1/runs", vec!["get", "post"]),
        ("/api/v1/runs/{id}", vec!["get"]),
        ("/api/v1/runs/{id}/cancel", vec!["post"]),
        ("/api/v1/runs/{id}/rerun", vec!["post"]),
        ("/api/v1/runs/{id}/resume", vec!["post"]),
        ("/api/v1/runs/{id}/artifacts", vec!["get"]),
        ("/api/v1/runs/{id}/artifacts/{step}/{name}", vec!["get"]),
        ("/api/v1/runs/{id}/logs", vec!["get"]),
        ("/api/v1/runs/{id}/logs/stream", vec!["get"]),
        ("/api/v1/secrets", vec!["get"]),
        ("/api/v1/secrets/{name}", vec!["delete", "put"]),
        ("/api/v1/tokens", vec!["get", "post"]),
        ("/api/v1/tokens/{id}", vec!["delete"]),
        ("/api/v1/hooks/{workflow}/{kind}", vec!["post"]),
        ("/api/v1/openapi.json", vec!["get"]),
        ("/healthz", vec!["get"]),
        ("/readyz", vec!["get"]),
        ("/metrics", vec!["get"]),
    ];
    let paths = doc["paths"].as_object().unwrap();
    assert_eq!(paths.len(), expected.len(), "{:?}", paths.keys());
    for (path, methods) in expected {
        let item = paths
            .get(path)
            .unwrap_or_else(|| panic!("{path} is not documented"));
        let mut documented: Vec<&str> = item
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        documented.retain(|k| *k != "parameters");
        documented.sort();
        assert_eq!(documented, methods, "{path}");
        for method in methods {
            let op = &item[method];
            assert!(
                op["responses"].as_object().is_some_and(|r| !r.is_empty()),
                "{path}"
            );
            let public = path.starts_with("/api/v1/hooks")
                || ["/healthz", "/readyz"].contains(&path)
                || (path, method) == ("/api/v1/session", "post");
            if public {
                assert_eq!(op["security"], serde_json::json!([{}]), "{method} {path}");
            } else if (path, method) == ("/api/v1/session", "delete") {
                assert_eq!(op["security"], serde_json::json!([{"session": []}]));
            } else {
                assert!(
                    op.get("security").is_none(),
                    "{method} {path} overrides security"
                );
            }
        }
    }
    assert_eq!(
        doc["security"],
        serde_json::json!([{"bearer": []}, {"session": []}])
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let cookie = &doc["components"]["securitySchemes"]["session"];
    assert_eq!(
        (cookie["type"].as_str(), cookie["in"].as_str()),
        (Some("apiKey"), Some("cookie"))
    );
    assert_eq!(cookie["name"], "co_session");
    let error = &doc["components"]["schemas"]["ErrorBody"];
    assert_eq!(error["required"], serde_json::json!(["error"]));
    let info = &doc["components"]["schemas"]["ErrorInfo"]["properties"];
    for key in ["code", "message", "details"] {
        assert!(info.get(key).is_some(), "ErrorInfo.{key}");
    }
    // Error responses refer to the shape.
    let not_found = &doc["paths"]["/api/v1/runs/{id}"]["get"]["responses"]["404"];
    assert_eq!(
        not_found["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/ErrorBody"
    );
}

/// Every operation's id, as (method, path, operationId).
fn operation_ids(doc: &Value) -> Vec<(String, String, String)> {
    let mut ids = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if method == "parameters" {
                continue;
            }
            let id = op["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path} has no operationId"));
            ids.push((method.clone(), path.clone(), id.to_string()));
        }
    }
    ids
}

#[test]
fn every_operation_has_a_unique_id_that_says_what_it_does() {
    let doc: Value = serde_json::from_str(&co_server::openapi::document()).unwrap();
    let ids = operation_ids(&doc);
    let mut seen = std::collections::BTreeMap::new();
    for (method, path, id) in &ids {
        if let Some(other) = seen.insert(id.clone(), format!("{method} {path}")) {
            panic!("operationId {id} of {method} {path} is also that of {other}");
        }
        // lowerCamelCase, starting with what it does, then what it does it to.
        let verb: String = id.chars().take_while(|c| c.is_ascii_lowercase()).collect();
        const VERBS: [&str; 15] = [
            "list", "get", "create", "register", "save", "put", "set", "delete", "start", "cancel",
            "rerun", "resume", "stream", "receive", "validate",
        ];
        assert!(VERBS.contains(&verb.as_str()), "{id} ({method} {path})");
        assert!(
            id.len() > verb.len() && id.chars().all(|c| c.is_ascii_alphanumeric()),
            "{id} ({method} {path}) names no object"
        );
    }
    let id_of = |method: &str, path: &str| {
        ids.iter()
            .find(|(m, p, _)| m == method && p == path)
            .map(|(_, _, id)| id.as_str())
            .unwrap()
    };
    assert_eq!(id_of("get", "/api/v1/runs"), "listRuns");
    assert_eq!(id_of("get", "/api/v1/runs/{id}/graph"), "getRunGraph");
    assert_eq!(id_of("post", "/api/v1/session"), "createSession");
    assert_eq!(
        id_of("get", "/api/v1/components/{name}"),
        "listComponentVersions"
    );
    assert_eq!(id_of("delete", "/api/v1/tokens/{id}"), "deleteToken");
}

/// The OpenAPI validator every client toolchain trusts (openapi-spec-validator, from
/// `scripts/setup-python.sh`).
const VALIDATE: &str = "import json, sys\n\
from openapi_spec_validator import validate\n\
validate(json.load(sys.stdin))\n";

#[test]
fn a_standard_openapi_validator_accepts_the_document() {
    let generated = co_server::openapi::document();
    if let Err(e) = python(VALIDATE, &generated) {
        panic!("openapi-spec-validator rejects the document:\n{e}");
    }
    // The validator does check what broke before: operation ids shared by two operations.
    let mut doc: Value = serde_json::from_str(&generated).unwrap();
    doc["paths"]["/api/v1/tokens"]["get"]["operationId"] = "listRuns".into();
    let err = python(VALIDATE, &doc.to_string()).unwrap_err();
    assert!(
        err.contains("'listRuns'") && err.contains("is not unique"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_serves_the_document() {
    let db = TestDb::sqlite().await;
    let server = TestServer::start(&db).await;
    let served = server.api().get("/api/v1/openapi.json").await;
    assert_eq!(served.status, 200);
    assert!(served.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    assert_eq!(served.text, co_server::openapi::document());
    server.stop().await;
    db.finish().await;
}

//! Components: register from YAML (immutable name@version), list, get each version.

use serde_json::json;

use crate::support::{both_stores, TestDb, TestServer};

pub fn upper(version: &str, description: &str) -> String {
    format!(
        "name: upper\nversion: {version}\ndescription: {description}\nimage: localhost/co-examples/busybox:latest\n\
         command: [\"sh\", \"-c\", \"echo \\\"[COUT] result = $(echo $CO_INPUT_TEXT | tr a-z A-Z)\\\"\"]\n\
         inputs:\n  text: {{ type: string, required: true, description: text to convert }}\n\
         outputs:\n  result: {{ type: string, required: true }}\n"
    )
}

async fn components_are_registered_listed_and_immutable(db: &TestDb) {
    let server = TestServer::start(db).await;
    let api = server.api();

    let one = upper("1.0.0", "Upper-cases a text");
    let created = api.post_yaml("/api/v1/components", &one).await.expect(201);
    assert_eq!(created["name"], "upper");
    assert_eq!(created["version"], "1.0.0");
    assert!(created["created_at"].as_str().unwrap().ends_with('Z'));

    // The same text again is fine; another text for the same version is a conflict.
    api.post_yaml("/api/v1/components", &one).await.expect(200);
    let error = api
        .post_yaml("/api/v1/components", &upper("1.0.0", "Changed"))
        .await
        .expect_error(409, "conflict");
    assert!(
        error["message"].as_str().unwrap().contains("upper@1.0.0"),
        "{error}"
    );

    // A second version, sent as JSON {"yaml"} and as text/plain.
    api.post_json(
        "/api/v1/components",
        &json!({ "yaml": upper("1.1.0", "Newer") }),
    )
    .await
    .expect(201);
    let plain = api
        .send(
            api.request(reqwest::Method::POST, "/api/v1/components")
                .header("content-type", "text/plain")
                .body(upper("2.0.0", "Plain")),
        )
        .await;
    plain.expect(201);

    let list = api.get("/api/v1/components").await.expect(200);
    let versions: Vec<(String, String)> = list["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_string(),
                c["version"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        versions,
        [
            ("upper".to_string(), "1.0.0".to_string()),
            ("upper".into(), "1.1.0".into()),
            ("upper".into(), "2.0.0".into())
        ]
    );

    let upper_versions = api.get("/api/v1/components/upper").await.expect(200);
    assert_eq!(upper_versions["name"], "upper");
    assert_eq!(upper_versions["versions"].as_array().unwrap().len(), 3);

    let got = api.get("/api/v1/components/upper/1.0.0").await.expect(200);
    assert_eq!(got["yaml"], one.as_str());
    assert_eq!(got["description"], "Upper-cases a text");
    assert_eq!(got["image"], "localhost/co-examples/busybox:latest");
    assert_eq!(
        got["inputs"]["text"],
        json!({"type": "string", "required": true, "default": null, "description": "text to convert"})
    );
    assert_eq!(got["outputs"]["result"]["type"], "string");
    assert_eq!(
        api.get("/api/v1/components/upper/1.1.0").await.expect(200)["description"],
        "Newer"
    );

    api.get("/api/v1/components/upper/9.9.9")
        .await
        .expect_error(404, "not_found");
    api.get("/api/v1/components/lower")
        .await
        .expect_error(404, "not_found");
    api.get("/api/v1/components/Not_A_Name")
        .await
        .expect_error(404, "not_found");
    server.stop().await;
}

async fn invalid_components_are_refused_with_diagnostics(db: &TestDb) {
    let server = TestServer::start(db).await;
    let api = server.api();
    let bad = "name: Upper\nversion: one\nimage: busybox\nimputs: {}\n";
    let error = api
        .post_yaml(
            "/api/v1/components?file=components/upper/component.yaml",
            bad,
        )
        .await
        .expect_error(400, "bad_request");
    let details = error["details"].as_array().unwrap();
    assert!(details.len() >= 3, "{error}");
    for d in details {
        assert_eq!(d["file"], "components/upper/component.yaml", "{d}");
        assert!(d["line"].as_u64().unwrap() >= 1);
        assert!(d["col"].as_u64().unwrap() >= 1);
        assert_eq!(
            d["rendered"],
            format!(
                "{}:{}:{}: error: {}",
                d["file"].as_str().unwrap(),
                d["line"],
                d["col"],
                d["message"].as_str().unwrap()
            )
        );
    }
    // `version: one` is on line 2.
    assert!(details.iter().any(|d| d["line"] == 2), "{error}");
    // Not YAML at all.
    api.post_yaml("/api/v1/components", "name: [unclosed\n")
        .await
        .expect_error(400, "bad_request");
    assert_eq!(
        api.get("/api/v1/components").await.expect(200)["components"],
        json!([])
    );
    server.stop().await;
}

both_stores!(
    components_are_registered_listed_and_immutable,
    invalid_components_are_refused_with_diagnostics,
);

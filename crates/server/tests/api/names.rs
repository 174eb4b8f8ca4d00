//! One name rule for workflows, components, secrets and tokens (`co_spec::names`): a name at the
//! limit is stored and found again; one character more is refused when it is submitted, with the
//! limit in the message, and nothing is stored.

use co_spec::MAX_NAME_LEN;
use serde_json::json;

use crate::support::{both_stores, TestDb, TestServer};

fn workflow(name: &str) -> String {
    format!(
        "name: {name}\nstages:\n  - name: s\n    actions:\n      - name: a\n        image: \
         localhost/co-examples/busybox:latest\n"
    )
}

fn component(name: &str) -> String {
    format!("name: {name}\nversion: 1.0.0\nimage: localhost/co-examples/busybox:latest\n")
}

fn assert_names_the_limit(error: &serde_json::Value) {
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains(&format!(
            "is {} characters long; at most {MAX_NAME_LEN} are allowed",
            MAX_NAME_LEN + 1
        )),
        "{error}"
    );
}

async fn names_over_the_limit_are_refused_and_names_at_it_are_reachable(db: &TestDb) {
    let server = TestServer::start(db).await;
    let api = server.api();
    let longest = "n".repeat(MAX_NAME_LEN);
    let too_long = "n".repeat(MAX_NAME_LEN + 1);

    // Workflows: by the document's name and by the URL's.
    api.post_yaml("/api/v1/workflows", &workflow(&longest))
        .await
        .expect(201);
    api.get(&format!("/api/v1/workflows/{longest}"))
        .await
        .expect(200);
    let error = api
        .post_yaml("/api/v1/workflows", &workflow(&too_long))
        .await
        .expect_error(400, "bad_request");
    assert_names_the_limit(&error);
    let error = api
        .put_yaml(
            &format!("/api/v1/workflows/{too_long}"),
            &workflow(&too_long),
        )
        .await
        .expect_error(400, "bad_request");
    assert_names_the_limit(&error);
    let listed = api.get("/api/v1/workflows").await.expect(200);
    assert_eq!(listed["workflows"].as_array().unwrap().len(), 1, "{listed}");

    // Components.
    api.post_yaml("/api/v1/components", &component(&longest))
        .await
        .expect(201);
    api.get(&format!("/api/v1/components/{longest}/1.0.0"))
        .await
        .expect(200);
    let error = api
        .post_yaml("/api/v1/components", &component(&too_long))
        .await
        .expect_error(400, "bad_request");
    assert_names_the_limit(&error);
    let listed = api.get("/api/v1/components").await.expect(200);
    assert_eq!(
        listed["components"].as_array().unwrap().len(),
        1,
        "{listed}"
    );

    // Secrets.
    let secret = "S".repeat(MAX_NAME_LEN);
    api.put_json(&format!("/api/v1/secrets/{secret}"), &json!({"value": "v"}))
        .await
        .expect(204);
    let error = api
        .put_json(
            &format!("/api/v1/secrets/{secret}S"),
            &json!({"value": "v"}),
        )
        .await
        .expect_error(400, "bad_request");
    assert_names_the_limit(&error);
    assert_eq!(
        api.get("/api/v1/secrets").await.expect(200),
        json!({ "secrets": [secret] })
    );
    api.delete(&format!("/api/v1/secrets/{secret}"))
        .await
        .expect(204);

    // Tokens (names are labels: any characters but control characters).
    let label = "é".repeat(MAX_NAME_LEN);
    let created = api
        .post_json("/api/v1/tokens", &json!({"name": label, "role": "viewer"}))
        .await
        .expect(201);
    assert_eq!(created["name"], label.as_str());
    let error = api
        .post_json(
            "/api/v1/tokens",
            &json!({"name": format!("{label}é"), "role": "viewer"}),
        )
        .await
        .expect_error(400, "bad_request");
    assert_names_the_limit(&error);
    let tokens = api.get("/api/v1/tokens").await.expect(200);
    assert_eq!(tokens["tokens"].as_array().unwrap().len(), 2, "{tokens}");
    server.stop().await;
}

both_stores!(names_over_the_limit_are_refused_and_names_at_it_are_reachable);

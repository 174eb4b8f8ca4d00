//! Secrets: write-only, encrypted in the store, never in a response or a log line.

use co_server::SecretBox;
use serde_json::json;

use crate::support::{both_stores, captured_logs, unique, TestDb, TestServer};

async fn secrets_are_write_only_and_stored_encrypted(db: &TestDb) {
    let server = TestServer::start(db).await;
    let api = server.api();
    let value = format!("s3cr3t-{}", unique());
    let other = format!("other-{}", unique());
    let mut bodies = Vec::new();

    let r = api
        .put_json("/api/v1/secrets/DEPLOY_TOKEN", &json!({ "value": value }))
        .await;
    r.expect(204);
    bodies.push(r.text);
    let r = api
        .put_json("/api/v1/secrets/api-key", &json!({ "value": other }))
        .await;
    r.expect(204);
    bodies.push(r.text);
    // Replacing is fine.
    let r = api
        .put_json("/api/v1/secrets/api-key", &json!({ "value": other }))
        .await;
    r.expect(204);

    let list = api.get("/api/v1/secrets").await;
    assert_eq!(
        list.expect(200),
        json!({"secrets": ["DEPLOY_TOKEN", "api-key"]})
    );
    bodies.push(list.text);
    // There is no way to read a value.
    let r = api.get("/api/v1/secrets/DEPLOY_TOKEN").await;
    r.expect_error(405, "method_not_allowed");
    bodies.push(r.text);

    // Stored encrypted: a fresh nonce each time, bound to the name, readable with the key.
    let store = db.store().await;
    let sealed = store.get_secret("DEPLOY_TOKEN").await.unwrap().unwrap();
    assert!(!sealed.contains(&value), "{sealed}");
    assert!(sealed.starts_with("v1:"), "{sealed}");
    let key = std::fs::read_to_string(db.data_dir().join("secret.key")).unwrap();
    let secrets = SecretBox::from_base64(key.trim()).unwrap();
    assert_eq!(secrets.decrypt("DEPLOY_TOKEN", &sealed).unwrap(), value);
    assert!(secrets.decrypt("api-key", &sealed).is_err());
    assert_eq!(
        secrets.read(&store, "api-key").await.unwrap().as_deref(),
        Some(other.as_str())
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(db.data_dir().join("secret.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // Bad names and bodies; the error never quotes the body.
    let r = api
        .put_json("/api/v1/secrets/bad%20name", &json!({ "value": value }))
        .await;
    r.expect_error(400, "bad_request");
    bodies.push(r.text);
    let r = api
        .send(
            api.request(reqwest::Method::PUT, "/api/v1/secrets/X")
                .header("content-type", "application/json")
                .body(format!("{{\"value\": {value}}}")),
        )
        .await;
    r.expect_error(400, "bad_request");
    bodies.push(r.text);
    let r = api
        .put_json("/api/v1/secrets/X", &json!({ "valeu": value }))
        .await;
    r.expect_error(400, "bad_request");
    bodies.push(r.text);

    api.delete("/api/v1/secrets/api-key").await.expect(204);
    api.delete("/api/v1/secrets/api-key")
        .await
        .expect_error(404, "not_found");
    assert_eq!(
        api.get("/api/v1/secrets").await.expect(200),
        json!({"secrets": ["DEPLOY_TOKEN"]})
    );
    assert_eq!(store.get_secret("api-key").await.unwrap(), None);

    for body in &bodies {
        assert!(
            !body.contains(&value),
            "a response shows the secret: {body}"
        );
        assert!(
            !body.contains(&other),
            "a response shows the secret: {body}"
        );
    }
    server.stop().await;
    let logs = captured_logs();
    assert!(logs.contains("secret set"), "the server logged nothing?");
    assert!(!logs.contains(&value), "a log line shows the secret");
    assert!(!logs.contains(&other), "a log line shows the secret");
}

async fn a_configured_key_is_used_and_shared(db: &TestDb) {
    let key = SecretBox::generate_key().unwrap();
    let mut config = db.config();
    config.secret_key = Some(key.clone().into());
    let server = TestServer::start_with(config.clone()).await;
    server.api().set_secret("SHARED", "one value").await;
    server.stop().await;
    // No key file was made.
    assert!(!db.data_dir().join("secret.key").exists());
    let sealed = db
        .store()
        .await
        .get_secret("SHARED")
        .await
        .unwrap()
        .unwrap();
    let secrets = SecretBox::from_base64(&key).unwrap();
    assert_eq!(secrets.decrypt("SHARED", &sealed).unwrap(), "one value");

    // A bad key is a start-up error that says what is wrong.
    config.secret_key = Some("too-short".into());
    let err = co_server::Server::bind(config).await.err().unwrap();
    assert!(err.to_string().contains("secrets key"), "{err}");
}

both_stores!(
    secrets_are_write_only_and_stored_encrypted,
    a_configured_key_is_used_and_shared,
);

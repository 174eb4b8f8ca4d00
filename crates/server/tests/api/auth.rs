//! Bearer tokens: 401 without or with a bad token, viewer tokens read only, the admin token from
//! the configuration, an admin token created at a start without one, token management (the last
//! admin token is kept, also against concurrent deletions).

use serde_json::json;

use crate::support::{both_stores, TestDb, TestServer, ADMIN};

async fn every_endpoint_but_health_and_hooks_needs_a_token(db: &TestDb) {
    let server = TestServer::start(db).await;
    let anonymous = server.api().with_token(None);
    for path in [
        "/api/v1/runs",
        "/api/v1/workflows",
        "/api/v1/components",
        "/api/v1/secrets",
        "/api/v1/tokens",
        "/api/v1/openapi.json",
        "/api/v1/runs/01nosuchrun",
    ] {
        let error = anonymous.get(path).await.expect_error(401, "unauthorized");
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .contains("Authorization: Bearer"),
            "{error}"
        );
    }
    anonymous
        .post_json("/api/v1/runs", &json!({"workflow": "x"}))
        .await
        .expect_error(401, "unauthorized");
    anonymous
        .put_json("/api/v1/secrets/X", &json!({"value": "v"}))
        .await
        .expect_error(401, "unauthorized");

    let bad = server.api().with_token(Some("co_not-a-real-token"));
    bad.get("/api/v1/runs")
        .await
        .expect_error(401, "unauthorized");
    // Not the Bearer scheme.
    let basic = anonymous
        .send(
            anonymous
                .request(reqwest::Method::GET, "/api/v1/runs")
                .header("authorization", format!("Basic {ADMIN}")),
        )
        .await;
    basic.expect_error(401, "unauthorized");
    // The scheme is case-insensitive.
    let lower = anonymous
        .send(
            anonymous
                .request(reqwest::Method::GET, "/api/v1/runs")
                .header("authorization", format!("bearer {ADMIN}")),
        )
        .await;
    lower.expect(200);

    // Health, readiness and webhooks need none; metrics need a token like the API.
    anonymous.get("/healthz").await.expect(200);
    anonymous.get("/readyz").await.expect(200);
    anonymous
        .get("/metrics")
        .await
        .expect_error(401, "unauthorized");
    // A webhook is refused by its own check (here: no such workflow, answered as a missing
    // webhook token), not for want of a bearer token.
    let error = anonymous
        .post_json("/api/v1/hooks/nothing/webhook", &json!({}))
        .await
        .expect_error(401, "unauthorized");
    assert_eq!(error["message"], "missing X-ContainerOps-Token header");
    server.stop().await;
}

async fn viewer_tokens_read_but_never_write(db: &TestDb) {
    let server = TestServer::start(db).await;
    let admin = server.api();
    let created = admin.create_token("dashboard", "viewer").await;
    let viewer = admin.with_token(created["token"].as_str());
    viewer.get("/api/v1/runs").await.expect(200);
    viewer.get("/api/v1/workflows").await.expect(200);
    viewer.get("/api/v1/secrets").await.expect(200);
    viewer.get("/api/v1/openapi.json").await.expect(200);
    let yaml = format!(
        "name: w\nstages:\n  - name: s\n    actions:\n      - name: a\n        image: {}\n",
        crate::support::BUSYBOX
    );
    let error = viewer
        .put_yaml("/api/v1/workflows/w", &yaml)
        .await
        .expect_error(403, "forbidden");
    assert!(
        error["message"].as_str().unwrap().contains("admin"),
        "{error}"
    );
    viewer
        .put_json("/api/v1/secrets/X", &json!({"value": "v"}))
        .await
        .expect_error(403, "forbidden");
    viewer
        .post_json("/api/v1/runs", &json!({"workflow": "w"}))
        .await
        .expect_error(403, "forbidden");
    viewer
        .post_json("/api/v1/tokens", &json!({"name": "x", "role": "admin"}))
        .await
        .expect_error(403, "forbidden");
    viewer
        .get("/api/v1/tokens")
        .await
        .expect_error(403, "forbidden");
    // Nothing was written.
    let workflows = admin.get("/api/v1/workflows").await.expect(200);
    assert_eq!(workflows["workflows"], json!([]));
    server.stop().await;
}

async fn tokens_are_created_listed_and_deleted(db: &TestDb) {
    let server = TestServer::start(db).await;
    let admin = server.api();
    let created = admin
        .post_json("/api/v1/tokens", &json!({"name": "ci", "role": "admin"}))
        .await
        .expect(201);
    let token = created["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("co_"), "{created}");
    assert_eq!(created["name"], "ci");
    assert_eq!(created["role"], "admin");
    let ci = admin.with_token(Some(&token));
    ci.get("/api/v1/runs").await.expect(200);

    let list = admin.get("/api/v1/tokens").await;
    let body = list.expect(200);
    assert!(
        !list.text.contains(&token),
        "a listed token shows its secret"
    );
    let hash = co_server::hash_token(&token);
    assert!(!list.text.contains(&hash), "a listed token shows its hash");
    let tokens = body["tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 2, "{body}");
    for t in tokens {
        let mut keys: Vec<&String> = t.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(keys, ["created_at", "id", "name", "role"], "{t}");
    }
    // The store keeps only the SHA-256 of the token.
    let stored = db.store().await.list_tokens().await.unwrap();
    let record = stored.iter().find(|t| t.name == "ci").unwrap();
    assert_eq!(record.hash, hash);
    assert_eq!(record.hash.len(), 64);

    // Bad requests.
    admin
        .post_json("/api/v1/tokens", &json!({"name": "x", "role": "root"}))
        .await
        .expect_error(400, "bad_request");
    admin
        .post_json("/api/v1/tokens", &json!({"name": "", "role": "viewer"}))
        .await
        .expect_error(400, "bad_request");
    admin
        .post_json("/api/v1/tokens", &json!({"role": "viewer"}))
        .await
        .expect_error(400, "bad_request");

    // Deleting a token stops it at once.
    let id = created["id"].as_str().unwrap();
    admin
        .delete(&format!("/api/v1/tokens/{id}"))
        .await
        .expect(204);
    ci.get("/api/v1/runs")
        .await
        .expect_error(401, "unauthorized");
    admin
        .delete(&format!("/api/v1/tokens/{id}"))
        .await
        .expect_error(404, "not_found");

    // The last admin token cannot be deleted.
    let only = admin.get("/api/v1/tokens").await.expect(200)["tokens"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    admin
        .delete(&format!("/api/v1/tokens/{only}"))
        .await
        .expect_error(409, "conflict");
    server.stop().await;
}

async fn the_configured_admin_token_is_kept_across_restarts(db: &TestDb) {
    let server = TestServer::start(db).await;
    assert_eq!(server.generated_admin_token, None);
    server.api().get("/api/v1/runs").await.expect(200);
    server.stop().await;

    // Restart with another configured token: both work (the first is stored).
    let mut config = db.config();
    let second = "second-admin-token-fedcba9876543210";
    config.admin_token = Some(second.into());
    let server = TestServer::start_with(config).await;
    assert_eq!(server.generated_admin_token, None);
    let api = server.api();
    api.get("/api/v1/runs").await.expect(200);
    api.with_token(Some(second))
        .post_json("/api/v1/tokens", &json!({"name": "n", "role": "viewer"}))
        .await
        .expect(201);
    let tokens = db.store().await.list_tokens().await.unwrap();
    assert_eq!(tokens.len(), 3, "{tokens:?}");
    server.stop().await;
}

async fn the_first_start_creates_one_admin_token(db: &TestDb) {
    let mut config = db.config();
    config.admin_token = None;
    let server = TestServer::start_with(config.clone()).await;
    let token = server.generated_admin_token.clone().unwrap();
    let api = server.api().with_token(Some(&token));
    api.get("/api/v1/runs").await.expect(200);
    let listed = api.get("/api/v1/tokens").await.expect(200);
    assert_eq!(listed["tokens"].as_array().unwrap().len(), 1);
    assert_eq!(listed["tokens"][0]["role"], "admin");
    server.stop().await;

    // Not again: the store has an admin token now.
    let server = TestServer::start_with(config).await;
    assert_eq!(server.generated_admin_token, None);
    server
        .api()
        .with_token(Some(&token))
        .get("/api/v1/runs")
        .await
        .expect(200);
    server.stop().await;
}

/// Two servers on one database, each asked at the same moment to delete one of the last two
/// admin tokens (with the other one): exactly one deletion succeeds, every round, so an admin
/// token is always left.
async fn concurrent_deletions_of_the_last_two_admin_tokens_leave_one(db: &TestDb) {
    let mut config = db.config();
    config.admin_token = None;
    let one = TestServer::start_with(config.clone()).await;
    let two = TestServer::start_with(config).await;
    let mut survivor = one.generated_admin_token.clone().unwrap();
    for round in 0..8 {
        let admin = one.api().with_token(Some(&survivor));
        let created = admin
            .post_json(
                "/api/v1/tokens",
                &json!({"name": format!("admin {round}"), "role": "admin"}),
            )
            .await
            .expect(201);
        let listed = admin.get("/api/v1/tokens").await.expect(200);
        let admins: Vec<String> = listed["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["role"] == "admin")
            .map(|t| t["id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(admins.len(), 2, "{listed}");
        let new_token = created["token"].as_str().unwrap().to_string();
        let new_id = created["id"].as_str().unwrap().to_string();
        let old_id = admins.iter().find(|id| **id != new_id).unwrap().clone();
        // Each server deletes the other token, with the token it does not delete.
        let via_one = one.api().with_token(Some(&new_token));
        let via_two = two.api().with_token(Some(&survivor));
        let old_path = format!("/api/v1/tokens/{old_id}");
        let new_path = format!("/api/v1/tokens/{new_id}");
        let (a, b) = tokio::join!(via_one.delete(&old_path), via_two.delete(&new_path));
        // One deletion wins; the other finds the last admin token (409), or, when the winner
        // deleted the very token the loser came with before it was checked, is not let in (401).
        let mut statuses = [a.status, b.status];
        statuses.sort_unstable();
        assert!(
            statuses == [204, 409] || statuses == [204, 401],
            "round {round}: {} {} / {} {}",
            a.status,
            a.text,
            b.status,
            b.text
        );
        survivor = if a.status == 204 { new_token } else { survivor };
        let left = db.store().await.list_tokens().await.unwrap();
        assert_eq!(left.len(), 1, "round {round}: {left:?}");
        assert_eq!(left[0].role, "admin");
    }
    one.stop().await;
    two.stop().await;
}

/// A database left without an admin token (by an older version that lost the race above, or by
/// hand) gets a new one printed at the next start, instead of locking everyone out.
async fn a_start_without_any_admin_token_creates_one(db: &TestDb) {
    let mut config = db.config();
    config.admin_token = None;
    let server = TestServer::start_with(config.clone()).await;
    let first = server.generated_admin_token.clone().unwrap();
    let admin = server.api().with_token(Some(&first));
    let viewer = admin
        .post_json(
            "/api/v1/tokens",
            &json!({"name": "dashboard", "role": "viewer"}),
        )
        .await
        .expect(201);
    let viewer = viewer["token"].as_str().unwrap().to_string();
    server.stop().await;
    // Remove the admin token behind the API's back (keeping "viewer" tokens is all this asks).
    let store = db.store().await;
    let admin_id = store
        .list_tokens()
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.role == "admin")
        .unwrap()
        .id;
    store
        .delete_token_unless_last(&admin_id, "viewer")
        .await
        .unwrap();
    assert!(!store.has_token_with_role("admin").await.unwrap());

    let server = TestServer::start_with(config.clone()).await;
    let second = server
        .generated_admin_token
        .clone()
        .expect("a new admin token");
    assert_ne!(second, first);
    let api = server.api().with_token(Some(&second));
    api.get("/api/v1/tokens").await.expect(200);
    api.with_token(Some(&viewer))
        .get("/api/v1/runs")
        .await
        .expect(200);
    api.with_token(Some(&first))
        .get("/api/v1/runs")
        .await
        .expect_error(401, "unauthorized");
    server.stop().await;
    // With an admin token in the store, the next start creates none.
    let server = TestServer::start_with(config).await;
    assert_eq!(server.generated_admin_token, None);
    server.stop().await;
}

both_stores!(
    concurrent_deletions_of_the_last_two_admin_tokens_leave_one,
    a_start_without_any_admin_token_creates_one,
    every_endpoint_but_health_and_hooks_needs_a_token,
    viewer_tokens_read_but_never_write,
    tokens_are_created_listed_and_deleted,
    the_configured_admin_token_is_kept_across_restarts,
    the_first_start_creates_one_admin_token,
);

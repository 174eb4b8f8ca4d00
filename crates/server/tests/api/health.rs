//! `/healthz`, `/readyz` (store and container engine); `/metrics` is in `metrics.rs`.

use std::sync::Arc;

use async_trait::async_trait;
use co_server::{AppState, BackendProbe, Coordinator, CoordinatorConfig, SecretBox};
use serde_json::json;

use crate::support::{both_stores, TestDb, TestServer};

async fn health_and_readiness(db: &TestDb) {
    // The real container engine answers.
    let server = TestServer::start_docker(db).await;
    let anonymous = server.api().with_token(None);
    assert_eq!(
        anonymous.get("/healthz").await.expect(200),
        json!({"status": "ok"})
    );
    let ready = anonymous.get("/readyz").await.expect(200);
    assert_eq!(ready["status"], "ok");
    assert_eq!(
        ready["database"],
        match db.kind {
            crate::support::Kind::Sqlite => "sqlite",
            crate::support::Kind::Postgres => "postgres",
        }
    );
    server.stop().await;
}

struct Unreachable;

#[async_trait]
impl BackendProbe for Unreachable {
    async fn check(&self) -> Result<(), String> {
        Err("the container engine does not answer: connection refused".into())
    }
}

/// The router on its own, with a backend that does not answer, then a store that is closed.
async fn not_ready_is_503_with_the_reason(db: &TestDb) {
    let store = db.store().await;
    let secrets = SecretBox::from_base64(&SecretBox::generate_key().unwrap()).unwrap();
    let coordinator = Coordinator::start(
        store.clone(),
        Arc::new(co_runner::fake::NoopBackend),
        CoordinatorConfig {
            server_id: format!("test-{}", crate::support::unique()),
            max_runs: None,
            lease: std::time::Duration::from_secs(30),
            limits: co_runner::RunLimits::default(),
            policy: Default::default(),
            statuses: Default::default(),
            artifacts: None,
        },
        Arc::new(secrets.clone()),
    );
    let state = AppState::new(
        store.clone(),
        coordinator.clone(),
        secrets,
        Arc::new(Unreachable),
        1 << 20,
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = co_server::router(state);
    let serving = tokio::spawn(async move { axum::serve(listener, app).await });
    let get = |path: &'static str| {
        let url = format!("{base}{path}");
        async move { reqwest::get(url).await.unwrap() }
    };
    let r = get("/readyz").await;
    assert_eq!(r.status(), 503);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unavailable");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("connection refused"),
        "{body}"
    );
    assert_eq!(get("/healthz").await.status(), 200);

    coordinator.shutdown().await;
    store.close().await;
    let r = get("/readyz").await;
    assert_eq!(r.status(), 503);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("database"),
        "{body}"
    );
    serving.abort();
}

both_stores!(health_and_readiness, not_ready_is_503_with_the_reason,);

//! The HTTP application: shared state, the router, and the middleware every request passes
//! (trace log line, latency metric, body limit, the JSON error shape for framework errors).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::Router;
use co_store::Store;
use tokio_util::sync::CancellationToken;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::TraceLayer;
use tracing::Span;

use crate::api::{
    artifacts, components, dashboard, graph, health, hooks, logs, runs, secrets, session, tokens,
    workflows,
};
use crate::auth::TokenCache;
use crate::coordinator::Coordinator;
use crate::crypto::SecretBox;
use crate::error::ApiError;

/// Whether the container backend answers (for `/readyz`).
#[async_trait]
pub trait BackendProbe: Send + Sync {
    /// `Err` says why the backend is not usable.
    async fn check(&self) -> Result<(), String>;
}

/// A backend that is always ready (the no-op backend, tests).
pub struct AlwaysReady;

#[async_trait]
impl BackendProbe for AlwaysReady {
    async fn check(&self) -> Result<(), String> {
        Ok(())
    }
}

#[async_trait]
impl BackendProbe for co_backend_docker::DockerBackend {
    async fn check(&self) -> Result<(), String> {
        match tokio::time::timeout(Duration::from_secs(5), self.docker().ping()).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(format!("the container engine does not answer: {e}")),
            Err(_) => Err("the container engine did not answer within 5s".into()),
        }
    }
}

/// What every handler can use. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
    web: Arc<Web>,
}

/// The web UI's part of the state: how long sessions last, and the UI's files.
struct Web {
    session_ttl: Duration,
    ui: crate::ui::Ui,
}

struct Inner {
    store: Store,
    coordinator: Coordinator,
    secrets: SecretBox,
    backend: Arc<dyn BackendProbe>,
    max_body_bytes: usize,
    tokens: TokenCache,
    shutdown: CancellationToken,
}

impl AppState {
    /// `max_body_bytes`: larger request bodies are refused with 413.
    pub fn new(
        store: Store,
        coordinator: Coordinator,
        secrets: SecretBox,
        backend: Arc<dyn BackendProbe>,
        max_body_bytes: usize,
    ) -> AppState {
        AppState {
            inner: Arc::new(Inner {
                store,
                coordinator,
                secrets,
                backend,
                max_body_bytes,
                tokens: TokenCache::default(),
                shutdown: CancellationToken::new(),
            }),
            web: Arc::new(Web {
                session_ttl: crate::session::DEFAULT_TTL,
                ui: crate::ui::Ui::new(crate::ui::UiSource::None),
            }),
        }
    }

    /// The same state with these session lifetime and UI files (the defaults: 12 h, no UI).
    pub fn with_web(mut self, session_ttl: Duration, ui: crate::ui::UiSource) -> AppState {
        self.web = Arc::new(Web {
            session_ttl,
            ui: crate::ui::Ui::new(ui),
        });
        self
    }

    /// How long a new session lasts.
    pub fn session_ttl(&self) -> Duration {
        self.web.session_ttl
    }

    /// The web UI's files.
    pub fn ui(&self) -> &crate::ui::Ui {
        &self.web.ui
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn coordinator(&self) -> &Coordinator {
        &self.inner.coordinator
    }

    pub fn secrets(&self) -> &SecretBox {
        &self.inner.secrets
    }

    pub fn backend(&self) -> &Arc<dyn BackendProbe> {
        &self.inner.backend
    }

    pub fn max_body_bytes(&self) -> usize {
        self.inner.max_body_bytes
    }

    /// Cancelled when the server begins to stop (open log streams end).
    pub fn shutdown_token(&self) -> CancellationToken {
        self.inner.shutdown.clone()
    }

    pub(crate) fn tokens(&self) -> &TokenCache {
        &self.inner.tokens
    }
}

/// The whole HTTP API (see docs/server.md). Installs the Prometheus recorder the first time.
pub fn router(state: AppState) -> Router {
    crate::metrics::install();
    let limit = state.max_body_bytes();
    let authenticated = Router::new()
        .route(
            "/api/v1/components",
            get(components::list).post(components::register),
        )
        .route("/api/v1/components/{name}", get(components::versions))
        .route("/api/v1/components/{name}/{version}", get(components::get))
        .route(
            "/api/v1/workflows",
            get(workflows::list).post(workflows::create),
        )
        .route(
            "/api/v1/workflows/{name}",
            get(workflows::latest).put(workflows::put),
        )
        .route(
            "/api/v1/workflows/{name}/revisions",
            get(workflows::revisions),
        )
        .route(
            "/api/v1/workflows/{name}/revisions/{revision}",
            get(workflows::revision),
        )
        .route("/api/v1/workflows/{name}/graph", get(graph::of_workflow))
        .route("/api/v1/workflows/{name}/runs", post(runs::start_named))
        .route("/api/v1/validate", post(workflows::validate))
        .route("/api/v1/runs", get(runs::list).post(runs::start))
        .route("/api/v1/runs/{id}", get(runs::get))
        .route("/api/v1/runs/{id}/graph", get(graph::of_run))
        .route("/api/v1/dashboard", get(dashboard::get))
        .route(
            "/api/v1/session",
            get(session::current).delete(session::logout),
        )
        .route("/api/v1/runs/{id}/cancel", post(runs::cancel))
        .route("/api/v1/runs/{id}/rerun", post(runs::rerun))
        .route("/api/v1/runs/{id}/resume", post(runs::resume))
        .route("/api/v1/runs/{id}/artifacts", get(artifacts::list))
        .route(
            "/api/v1/runs/{id}/artifacts/{step}/{name}",
            get(artifacts::download),
        )
        .route("/api/v1/runs/{id}/logs", get(logs::page))
        .route("/api/v1/runs/{id}/logs/stream", get(logs::stream))
        .route("/api/v1/secrets", get(secrets::list))
        .route(
            "/api/v1/secrets/{name}",
            put(secrets::put).delete(secrets::delete),
        )
        .route("/api/v1/tokens", get(tokens::list).post(tokens::create))
        .route("/api/v1/tokens/{id}", delete(tokens::delete))
        .route("/api/v1/openapi.json", get(crate::openapi::openapi_json))
        .route("/metrics", get(health::metrics))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            crate::auth::require_token,
        ));
    let public = Router::new()
        .route("/api/v1/session", post(session::login))
        .route("/", get(crate::ui::root))
        .route("/ui", get(crate::ui::serve))
        .route("/ui/", get(crate::ui::serve))
        .route("/ui/{*path}", get(crate::ui::serve))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/api/v1/hooks/{workflow}/{kind}", post(hooks::receive));
    authenticated
        .merge(public)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::disable())
        .layer(RequestBodyLimitLayer::new(limit))
        .layer(middleware::from_fn_with_state(state.clone(), json_errors))
        .layer(middleware::from_fn(crate::metrics::track))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request| {
                    tracing::info_span!(
                        "http",
                        method = %request.method(),
                        route = route_of(request),
                    )
                })
                .on_request(())
                .on_response(|response: &Response, latency: Duration, _span: &Span| {
                    tracing::info!(
                        status = response.status().as_u16(),
                        latency_ms = latency.as_secs_f64() * 1000.0,
                        "request"
                    );
                })
                .on_body_chunk(())
                .on_eos(())
                .on_failure(()),
        )
        .with_state(state)
}

/// The matched route template (`/api/v1/runs/{id}`), or `unmatched`; never the raw path (which
/// may contain ids or names).
pub fn route_of(request: &Request) -> String {
    request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string())
}

async fn not_found(request: Request) -> ApiError {
    ApiError::not_found(format!("no such endpoint: {}", request.uri().path()))
}

async fn method_not_allowed(request: Request) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!(
            "{} is not allowed on {}",
            request.method(),
            request.uri().path()
        ),
    )
}

/// Errors made outside the handlers (framework rejections, the body limit, 405) get the JSON
/// error shape too. Handler errors already have it and pass through.
async fn json_errors(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if status.as_u16() < 400 {
        return response;
    }
    // JSON errors are made by the handlers; an HTML page is the UI's own answer (ui.rs).
    let made_here = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json") || v.starts_with("text/html"));
    if made_here {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let error = if status == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::payload_too_large(state.max_body_bytes())
    } else {
        let text = axum::body::to_bytes(body, 64 * 1024)
            .await
            .map(|b| String::from_utf8_lossy(&b).trim().to_string())
            .unwrap_or_default();
        let message = if text.is_empty() {
            status
                .canonical_reason()
                .unwrap_or("request failed")
                .to_string()
        } else {
            text
        };
        ApiError::new(status, ApiError::code_for_status(status), message)
    };
    let body = match serde_json::to_vec(&error.body()) {
        Ok(b) => b,
        Err(_) => return (status, "internal error").into_response(),
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, Body::from(body))
}

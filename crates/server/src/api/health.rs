//! `/healthz` (the process answers), `/readyz` (store and container engine answer), `/metrics`
//! (Prometheus text). None of them needs a token.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::AppState;
use crate::error::{ApiError, ErrorBody};

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// `ok`.
    pub status: String,
}

/// Ready: the store and the container engine answer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Readiness {
    /// `ok`.
    pub status: String,
    /// `sqlite` or `postgres`.
    pub database: String,
}

/// The process is up.
#[utoipa::path(
    get,
    operation_id = "getHealth",
    path = "/healthz",
    tag = "health",
    security(()),
    responses((status = 200, body = Health))
)]
pub async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
    })
}

/// The server can do its work: the store and the container engine answer.
#[utoipa::path(
    get,
    operation_id = "getReadiness",
    path = "/readyz",
    tag = "health",
    security(()),
    responses(
        (status = 200, body = Readiness),
        (status = 503, description = "Not ready; the message says why", body = ErrorBody),
    )
)]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Readiness>, ApiError> {
    let store = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        state.store().count_queued(),
    )
    .await;
    match store {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => {
            return Err(ApiError::unavailable(format!(
                "the database does not answer: {e}"
            )))
        }
        Err(_) => {
            return Err(ApiError::unavailable(
                "the database did not answer within 5s",
            ))
        }
    }
    if let Err(reason) = state.backend().check().await {
        return Err(ApiError::unavailable(reason));
    }
    Ok(Json(Readiness {
        status: "ok".into(),
        database: match state.store().backend() {
            co_store::Backend::Sqlite => "sqlite",
            co_store::Backend::Postgres => "postgres",
        }
        .into(),
    }))
}

/// Prometheus metrics (text exposition format).
#[utoipa::path(
    get,
    operation_id = "getMetrics",
    path = "/metrics",
    tag = "health",
    responses(
        (status = 200, description = "Prometheus text format", content_type = "text/plain", body = String),
        (status = 401, description = "No or an unknown token (scrapers send a viewer token)", body = crate::error::ErrorBody)
    )
)]
pub async fn metrics(State(state): State<AppState>) -> Response {
    // The queue depth is a fact of the shared store: read it at every scrape.
    if let Ok(queued) = state.store().count_queued().await {
        crate::metrics::queue_depth(queued);
    }
    match crate::metrics::render() {
        Some(text) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            text,
        )
            .into_response(),
        None => ApiError::unavailable("the metrics recorder is not installed").into_response(),
    }
}

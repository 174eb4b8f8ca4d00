//! `/api/v1/secrets`: write-only secrets (set, delete, list names). Values are encrypted before
//! they reach the store and are never returned or logged.

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::Json;
use co_spec::NameKind;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::AppState;
use crate::error::{ApiError, ErrorBody};

/// The body of `PUT /api/v1/secrets/{name}`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretValue {
    pub value: String,
}

impl std::fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretValue(***)")
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SecretList {
    /// Names only, sorted.
    pub secrets: Vec<String>,
}

/// Set a secret (insert or replace).
#[utoipa::path(
    put,
    operation_id = "setSecret",
    path = "/api/v1/secrets/{name}",
    tag = "secrets",
    params(("name" = String, Path, description = "Secret name ([A-Za-z_][A-Za-z0-9_-]*)")),
    request_body = SecretValue,
    responses(
        (status = 204, description = "Stored (encrypted)"),
        (status = 400, body = ErrorBody),
    )
)]
pub async fn put(
    State(state): State<AppState>,
    Path(name): Path<String>,
    request: Request,
) -> Result<StatusCode, ApiError> {
    // Parse errors never quote the body (it holds the value).
    let bytes = crate::extract::read_body(request, &state).await?;
    let body: SecretValue = serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::bad_request("the body must be JSON {\"value\": \"<the secret>\"}")
            .with_details(serde_json::json!([{"line": e.line(), "col": e.column()}]))
    })?;
    super::require_name(NameKind::Secret, &name)?;
    state
        .secrets()
        .write(state.store(), &name, &body.value)
        .await?;
    tracing::info!(secret = %name, "secret set");
    Ok(StatusCode::NO_CONTENT)
}

/// Delete a secret.
#[utoipa::path(
    delete,
    operation_id = "deleteSecret",
    path = "/api/v1/secrets/{name}",
    tag = "secrets",
    params(("name" = String, Path, description = "Secret name")),
    responses((status = 204, description = "Deleted"), (status = 404, body = ErrorBody))
)]
pub async fn delete(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    if NameKind::Secret.is_valid(&name) && state.store().delete_secret(&name).await? {
        tracing::info!(secret = %name, "secret deleted");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("no secret named {name:?}")))
    }
}

/// The names of every secret (never their values).
#[utoipa::path(
    get,
    operation_id = "listSecrets",
    path = "/api/v1/secrets",
    tag = "secrets",
    responses((status = 200, body = SecretList))
)]
pub async fn list(State(state): State<AppState>) -> Result<Json<SecretList>, ApiError> {
    Ok(Json(SecretList {
        secrets: state.store().list_secret_names().await?,
    }))
}

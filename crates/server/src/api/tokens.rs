//! `/api/v1/tokens` (admin only): create API tokens (shown once), list them, delete them.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use co_spec::NameKind;
use co_store::TokenDeletion;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::AppState;
use crate::auth::{generate_token, token_record, Role};
use crate::error::{ApiError, ErrorBody};
use crate::extract::ApiJson;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// What the token is for (shown in lists and logs).
    pub name: String,
    /// `admin` (everything) or `viewer` (read only).
    pub role: String,
}

/// A token as listed (never the token itself).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenView {
    pub id: String,
    pub name: String,
    pub role: String,
    pub created_at: String,
}

/// A new token: `token` is shown this once and never again.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CreatedToken {
    pub id: String,
    pub name: String,
    pub role: String,
    pub created_at: String,
    /// Send as `Authorization: Bearer <token>`.
    pub token: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenList {
    pub tokens: Vec<TokenView>,
}

/// Create a token.
#[utoipa::path(
    post,
    operation_id = "createToken",
    path = "/api/v1/tokens",
    tag = "tokens",
    request_body = NewToken,
    responses(
        (status = 201, description = "Created; the token is in the answer, only this once", body = CreatedToken),
        (status = 400, body = ErrorBody),
        (status = 403, description = "Needs an admin token", body = ErrorBody),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<NewToken>,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    let name = body.name.trim();
    super::require_name(NameKind::Token, name)?;
    let role = Role::parse(&body.role).ok_or_else(|| {
        ApiError::bad_request(format!("unknown role {:?}: use admin or viewer", body.role))
    })?;
    let token = generate_token()?;
    let record = token_record(&token, name, role);
    state.store().insert_token(&record).await?;
    tracing::info!(token_id = %record.id, name = %record.name, role = %record.role, "token created");
    Ok((
        StatusCode::CREATED,
        Json(CreatedToken {
            id: record.id,
            name: record.name,
            role: record.role,
            created_at: record.created_at,
            token,
        }),
    ))
}

/// Every token (without the tokens themselves).
#[utoipa::path(
    get,
    operation_id = "listTokens",
    path = "/api/v1/tokens",
    tag = "tokens",
    responses((status = 200, body = TokenList), (status = 403, body = ErrorBody))
)]
pub async fn list(State(state): State<AppState>) -> Result<Json<TokenList>, ApiError> {
    let tokens = state
        .store()
        .list_tokens()
        .await?
        .into_iter()
        .map(|t| TokenView {
            id: t.id,
            name: t.name,
            role: t.role,
            created_at: t.created_at,
        })
        .collect();
    Ok(Json(TokenList { tokens }))
}

/// Delete a token (it stops working at once on this server, within seconds on others).
#[utoipa::path(
    delete,
    operation_id = "deleteToken",
    path = "/api/v1/tokens/{id}",
    tag = "tokens",
    params(("id" = String, Path, description = "Token id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, body = ErrorBody),
        (status = 409, description = "The last admin token cannot be deleted", body = ErrorBody),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    match state
        .store()
        .delete_token_unless_last(&id, Role::Admin.as_str())
        .await?
    {
        TokenDeletion::Deleted => {}
        TokenDeletion::NotFound => {
            return Err(ApiError::not_found(format!("no token with id {id:?}")))
        }
        TokenDeletion::LastOfRole => {
            return Err(ApiError::conflict(
                "this is the last admin token; create another admin token before deleting it",
            ))
        }
    }
    state.tokens().forget(&id);
    tracing::info!(token_id = %id, "token deleted");
    Ok(StatusCode::NO_CONTENT)
}

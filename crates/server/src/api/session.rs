//! `/api/v1/session`: log in with an API token (a session cookie for the web UI), see who is
//! logged in, log out. How sessions and their CSRF protection work: [`crate::session`].

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::AppState;
use crate::auth::{principal_for_token, Principal};
use crate::error::{ApiError, ErrorBody};
use crate::extract::ApiJson;
use crate::session::{self, SessionAuth, MAX_TOKEN_CHARS};

/// `POST /api/v1/session`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    /// An API token (admin or viewer).
    pub token: String,
}

/// How the request was authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AuthKind {
    /// A session cookie (`POST /api/v1/session`).
    Session,
    /// A bearer token (`Authorization: Bearer …`).
    Token,
}

/// Who is logged in.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SessionView {
    pub auth: AuthKind,
    /// The name of the token the request acts for.
    pub token_name: String,
    /// `admin` (everything) or `viewer` (read only: writes answer 403).
    pub role: String,
    /// When the session ends (RFC 3339); `null` for a bearer token.
    pub expires_at: Option<String>,
    /// Send as the `X-CSRF-Token` header with every request that changes something (anything
    /// but GET/HEAD) made with the session cookie; `null` for a bearer token.
    pub csrf_token: Option<String>,
}

fn view(principal: &Principal, session: Option<&SessionAuth>) -> SessionView {
    SessionView {
        auth: if session.is_some() {
            AuthKind::Session
        } else {
            AuthKind::Token
        },
        token_name: principal.name.clone(),
        role: principal.role.as_str().to_string(),
        expires_at: session.map(|s| timestamp(s.expires_at_ms)),
        csrf_token: session.map(|s| s.csrf_token.clone()),
    }
}

fn timestamp(ms: i64) -> String {
    let nanos = i128::from(ms) * 1_000_000;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .map(co_store::format_timestamp)
        .unwrap_or_default()
}

/// Log in: exchange an API token for a session cookie.
///
/// Answers `Set-Cookie: co_session=…; Path=/; HttpOnly; SameSite=Strict; Max-Age=…` (plus
/// `Secure` behind an HTTPS proxy). The session acts for the token (its name and role) until it
/// expires (`--session-ttl`, default 12 h), is ended (`DELETE`), or the token is deleted. A
/// request from another site (`Origin`, `Sec-Fetch-Site`) is refused with 403 `csrf`.
#[utoipa::path(
    post,
    operation_id = "createSession",
    path = "/api/v1/session",
    tag = "session",
    request_body = Login,
    security(()),
    responses(
        (status = 201, description = "Logged in; the cookie is set", body = SessionView,
         headers(("Set-Cookie" = String, description = "The session cookie"))),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "The token is not valid", body = ErrorBody),
        (status = 403, description = "A cross-site request (`csrf`)", body = ErrorBody),
    )
)]
pub async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<Login>,
) -> Result<Response, ApiError> {
    session::check_origin(&headers)?;
    let token = body.token.trim();
    if token.is_empty() || token.chars().count() > MAX_TOKEN_CHARS {
        return Err(ApiError::unauthorized(format!(
            "the token is not valid (tokens are 1 to {MAX_TOKEN_CHARS} characters)"
        )));
    }
    let principal = principal_for_token(&state, token).await?;
    let (secret, auth) = session::open(&state, &principal).await?;
    tracing::info!(token = %principal.name, role = principal.role.as_str(), "session opened");
    let cookie = session::set_cookie(&secret, state.session_ttl(), &headers);
    Ok((
        StatusCode::CREATED,
        [
            (header::SET_COOKIE, cookie),
            (header::CACHE_CONTROL, no_store()),
        ],
        Json(view(&principal, Some(&auth))),
    )
        .into_response())
}

fn no_store() -> axum::http::HeaderValue {
    axum::http::HeaderValue::from_static("no-store")
}

/// Who is logged in: the session's token, role, expiry and CSRF token (or, with a bearer token,
/// that token's name and role). 401 when not logged in.
#[utoipa::path(
    get,
    operation_id = "getSession",
    path = "/api/v1/session",
    tag = "session",
    responses(
        (status = 200, body = SessionView),
        (status = 401, description = "Not logged in, or the session expired", body = ErrorBody),
    )
)]
pub async fn current(
    Extension(principal): Extension<Principal>,
    session: Option<Extension<SessionAuth>>,
) -> impl IntoResponse {
    let session = session.map(|Extension(s)| s);
    (
        [(header::CACHE_CONTROL, no_store())],
        Json(view(&principal, session.as_ref())),
    )
}

/// Log out: end the session (server-side) and remove the cookie. Needs `X-CSRF-Token`.
#[utoipa::path(
    delete,
    operation_id = "deleteSession",
    path = "/api/v1/session",
    tag = "session",
    security(("session" = [])),
    responses(
        (status = 204, description = "Logged out; the cookie is removed"),
        (status = 400, description = "The request was authenticated by a bearer token, not a session", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, description = "Missing or wrong X-CSRF-Token (`csrf`)", body = ErrorBody),
    )
)]
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    session: Option<Extension<SessionAuth>>,
) -> Result<Response, ApiError> {
    let Some(Extension(session)) = session else {
        return Err(ApiError::bad_request(
            "this request was authenticated by a bearer token, not a session: there is no \
             session to end",
        ));
    };
    state.store().delete_session(&session.hash).await?;
    Ok((
        StatusCode::NO_CONTENT,
        [(header::SET_COOKIE, session::clear_cookie(&headers))],
    )
        .into_response())
}

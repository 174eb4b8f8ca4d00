//! Bearer tokens: generation, hashing (only SHA-256 hex is stored), the request check, roles.
//!
//! - `admin`: everything. `viewer`: `GET`/`HEAD` only (anything else is 403), and not the token
//!   endpoints.
//! - Lookups are by hash, and the hash found is compared again in constant time.
//! - Found tokens are cached for [`CACHE_TTL`] per server; deleting a token drops it from this
//!   server's cache at once (other servers notice within the TTL).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use co_store::{Store, TokenRecord};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::app::AppState;
use crate::error::ApiError;

/// How long a token found in the store is trusted without asking the store again.
pub const CACHE_TTL: Duration = Duration::from_secs(5);
const CACHE_MAX: usize = 1024;

/// A token's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Viewer,
}

impl Role {
    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "admin" => Some(Role::Admin),
            "viewer" => Some(Role::Viewer),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Viewer => "viewer",
        }
    }
}

/// Who made a request (put into the request's extensions by [`require_token`]).
#[derive(Debug, Clone)]
pub struct Principal {
    pub token_id: String,
    pub name: String,
    pub role: Role,
}

/// SHA-256 of a token, lower-case hex (what the store keeps).
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A new random token: `co_` and 43 URL-safe base64 characters (32 random bytes).
pub fn generate_token() -> Result<String, crate::crypto::CryptoError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| crate::crypto::CryptoError::Random(e.to_string()))?;
    Ok(format!("co_{}", URL_SAFE_NO_PAD.encode(bytes)))
}

/// A fresh [`TokenRecord`] for `token`.
pub fn token_record(token: &str, name: &str, role: Role) -> TokenRecord {
    TokenRecord {
        id: ulid::Ulid::new().to_string().to_lowercase(),
        name: name.to_string(),
        hash: hash_token(token),
        role: role.as_str().to_string(),
        created_at: co_store::now_timestamp(),
    }
}

/// Make sure `token` is an admin token in the store (the `admin_token` of the configuration).
pub async fn ensure_admin_token(store: &Store, token: &str) -> Result<(), co_store::StoreError> {
    let hash = hash_token(token);
    if let Some(found) = store.find_token(&hash).await? {
        if found.role != Role::Admin.as_str() {
            tracing::warn!(
                token = %found.name,
                "the configured admin_token is stored as a {} token; it keeps that role",
                found.role
            );
        }
        return Ok(());
    }
    let record = token_record(token, "admin (configuration)", Role::Admin);
    match store.insert_token(&record).await {
        Ok(()) => Ok(()),
        // Another server inserted it at the same moment.
        Err(e) => match store.find_token(&hash).await? {
            Some(_) => Ok(()),
            None => Err(e),
        },
    }
}

/// If the store has no admin token (a first start, or every admin token is gone), create one and
/// return it (to be shown once): nobody is ever locked out of a server whose files they control.
pub async fn create_admin_token_if_none(
    store: &Store,
) -> Result<Option<String>, crate::error::ServerError> {
    if store.has_token_with_role(Role::Admin.as_str()).await? {
        return Ok(None);
    }
    let token = generate_token()?;
    store
        .insert_token(&token_record(&token, "admin (server start)", Role::Admin))
        .await?;
    Ok(Some(token))
}

/// Tokens recently found in the store, by hash.
#[derive(Default)]
pub struct TokenCache {
    entries: Mutex<HashMap<String, (TokenRecord, Instant)>>,
}

impl TokenCache {
    fn get(&self, hash: &str) -> Option<TokenRecord> {
        let entries = self.entries.lock().ok()?;
        match entries.get(hash) {
            Some((record, at)) if at.elapsed() < CACHE_TTL => Some(record.clone()),
            _ => None,
        }
    }

    fn put(&self, hash: &str, record: &TokenRecord) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= CACHE_MAX {
                entries.clear();
            }
            entries.insert(hash.to_string(), (record.clone(), Instant::now()));
        }
    }

    /// Forget a token (it was deleted).
    pub fn forget(&self, token_id: &str) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.retain(|_, (record, _)| record.id != token_id);
        }
    }
}

/// The middleware in front of every authenticated endpoint: a valid bearer token or session
/// cookie (see [`crate::session`]), CSRF protection for cookie-authenticated writes, and a role
/// that allows the request.
pub async fn require_token(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let header = request
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().map(str::to_string).unwrap_or_default());
    let cookie = crate::session::cookie_secret(request.headers());
    let (principal, session) = match (header, cookie) {
        (Some(header), _) => match authenticate(&state, &header).await {
            Ok(principal) => (principal, None),
            Err(e) => return e.into_response(),
        },
        (None, Some(secret)) => match crate::session::lookup(&state, &secret).await {
            Ok(Some((principal, session))) => (principal, Some(session)),
            Ok(None) => return crate::session::expired(request.headers()),
            Err(e) => return e.into_response(),
        },
        (None, None) => return ApiError::unauthorized(NO_CREDENTIALS).into_response(),
    };
    if let Some(session) = &session {
        if let Err(e) = crate::session::check_write(request.method(), request.headers(), session) {
            return e.into_response();
        }
    }
    if let Err(e) = authorize(&principal, request.method(), request.uri().path()) {
        return e.into_response();
    }
    request.extensions_mut().insert(principal);
    if let Some(session) = session {
        request.extensions_mut().insert(session);
    }
    next.run(request).await
}

/// The 401 of a request without a token or session.
const NO_CREDENTIALS: &str = "this endpoint needs a token: send the header `Authorization: Bearer \
                              <token>` (or log in: POST /api/v1/session)";

/// Who an `Authorization` header names.
async fn authenticate(state: &AppState, value: &str) -> Result<Principal, ApiError> {
    let token = Some(value)
        .and_then(|v| {
            let (scheme, rest) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
        })
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ApiError::unauthorized("the Authorization header must be `Bearer <token>`")
        })?;
    principal_for_token(state, token).await
}

/// Who `token` is (a bearer token, or the token a session is opened with).
pub async fn principal_for_token(state: &AppState, token: &str) -> Result<Principal, ApiError> {
    let hash = hash_token(token);
    let record = match state.tokens().get(&hash) {
        Some(record) => record,
        None => {
            let found = state.store().find_token(&hash).await?;
            let Some(record) = found else {
                return Err(ApiError::unauthorized("the token is not valid"));
            };
            state.tokens().put(&hash, &record);
            record
        }
    };
    if !bool::from(record.hash.as_bytes().ct_eq(hash.as_bytes())) {
        return Err(ApiError::unauthorized("the token is not valid"));
    }
    principal_of(record)
}

/// The principal a token record stands for (every check of a found token is here, for bearer
/// tokens and sessions alike).
pub fn principal_of(record: TokenRecord) -> Result<Principal, ApiError> {
    let role = Role::parse(&record.role).ok_or_else(|| {
        ApiError::forbidden(format!("the token has an unknown role {:?}", record.role))
    })?;
    Ok(Principal {
        token_id: record.id,
        name: record.name,
        role,
    })
}

fn authorize(principal: &Principal, method: &Method, path: &str) -> Result<(), ApiError> {
    if principal.role == Role::Admin {
        return Ok(());
    }
    // Anyone may see and end their own session, and check a document (nothing is stored).
    if path == "/api/v1/session" || path == "/api/v1/validate" {
        return Ok(());
    }
    if path.starts_with("/api/v1/tokens") {
        return Err(ApiError::forbidden("managing tokens needs an admin token"));
    }
    if method == Method::GET || method == Method::HEAD {
        return Ok(());
    }
    Err(ApiError::forbidden(format!(
        "a viewer token may only read (GET); {method} needs an admin token"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_hashed_as_sha256_hex() {
        let a = generate_token().unwrap();
        let b = generate_token().unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with("co_") && a.len() == 46, "{a}");
        assert_eq!(
            hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn viewers_read_only_and_never_tokens() {
        let viewer = Principal {
            token_id: "t".into(),
            name: "v".into(),
            role: Role::Viewer,
        };
        assert!(authorize(&viewer, &Method::GET, "/api/v1/runs").is_ok());
        assert!(authorize(&viewer, &Method::POST, "/api/v1/runs").is_err());
        assert!(authorize(&viewer, &Method::DELETE, "/api/v1/secrets/x").is_err());
        assert!(authorize(&viewer, &Method::GET, "/api/v1/tokens").is_err());
        assert!(authorize(&viewer, &Method::DELETE, "/api/v1/session").is_ok());
        assert!(authorize(&viewer, &Method::POST, "/api/v1/validate").is_ok());
        let admin = Principal {
            role: Role::Admin,
            ..viewer
        };
        assert!(authorize(&admin, &Method::DELETE, "/api/v1/tokens/x").is_ok());
    }
}

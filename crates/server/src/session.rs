//! Browser sessions: an API token exchanged for an `HttpOnly`, `SameSite=Strict` cookie, and
//! CSRF protection for what is done with it.
//!
//! - The cookie (`co_session`) holds 32 random bytes (URL-safe base64); the store keeps only
//!   their SHA-256, with the token the session acts for and an absolute expiry
//!   (`--session-ttl`, default 12 h). Name and role are read from the token on every request, so
//!   deleting the token ends its sessions at once (the store cascades) and a viewer's session is
//!   read-only exactly like the viewer token.
//! - A token has at most [`MAX_SESSIONS_PER_TOKEN`] live sessions: logging in once more ends the
//!   oldest. Expired sessions are removed whenever one is opened.
//! - The cookie gets `Secure` when the request came over HTTPS as far as the server can tell: the
//!   server speaks plain HTTP itself, so that means a TLS-terminating proxy that says
//!   `X-Forwarded-Proto: https` or `Forwarded: proto=https`.
//! - CSRF: every cookie-authenticated request other than `GET`/`HEAD`/`OPTIONS` needs the header
//!   `X-CSRF-Token` with the session's CSRF token (`GET /api/v1/session`; SHA-256 of a label and
//!   the session secret, so it is bound to the session and never stored), and must not come from
//!   another site: `Sec-Fetch-Site` other than `same-origin`/`none`, or an `Origin` whose host is
//!   not the request's `Host` (or `X-Forwarded-Host`), is refused. Logging in is checked for
//!   origin too (no login CSRF). Bearer-token requests are not affected: a browser never adds
//!   that header by itself.

use std::time::Duration;

use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use co_store::SessionRecord;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::app::AppState;
use crate::auth::{hash_token, principal_of, Principal};
use crate::error::ApiError;

/// The cookie's name.
pub const COOKIE: &str = "co_session";
/// The header that carries the CSRF token on cookie-authenticated writes.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// How long a session lasts when the configuration does not say (`--session-ttl`).
pub const DEFAULT_TTL: Duration = Duration::from_secs(12 * 3600);
/// The shortest and longest accepted `--session-ttl`.
pub const MIN_TTL: Duration = Duration::from_secs(60);
pub const MAX_TTL: Duration = Duration::from_secs(30 * 24 * 3600);
/// Live sessions one token may have; one more login ends the oldest.
pub const MAX_SESSIONS_PER_TOKEN: i64 = 20;
/// Longest token accepted by the login endpoint (tokens are 46 characters; configured admin
/// tokens may be longer).
pub const MAX_TOKEN_CHARS: usize = 1024;

/// Put in a request's extensions when it was authenticated by a session cookie.
#[derive(Debug, Clone)]
pub struct SessionAuth {
    /// SHA-256 of the session secret (the store's key).
    pub hash: String,
    pub csrf_token: String,
    pub expires_at_ms: i64,
}

/// A new session secret: 32 random bytes, URL-safe base64.
pub fn new_secret() -> Result<String, crate::crypto::CryptoError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| crate::crypto::CryptoError::Random(e.to_string()))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// The CSRF token of the session with this secret.
pub fn csrf_token(secret: &str) -> String {
    let mut digest = Sha256::new();
    digest.update(b"containerops-csrf\0");
    digest.update(secret.as_bytes());
    URL_SAFE_NO_PAD.encode(digest.finalize())
}

/// The session secret of the request's `co_session` cookie, if it has one.
pub fn cookie_secret(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim().trim_matches('"').to_string())
        .filter(|v| !v.is_empty())
}

/// Whether the client reached us over HTTPS (as a proxy in front says).
pub fn is_https(headers: &HeaderMap) -> bool {
    let forwarded_proto = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"));
    let forwarded = headers
        .get_all(header::FORWARDED)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split([',', ';']))
        .filter_map(|pair| pair.trim().split_once('='))
        .any(|(k, v)| k.eq_ignore_ascii_case("proto") && v.trim_matches('"') == "https");
    forwarded_proto || forwarded
}

fn cookie(value: &str, max_age: u64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let text =
        format!("{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}");
    HeaderValue::from_str(&text)
        .unwrap_or_else(|_| HeaderValue::from_static("co_session=; Max-Age=0"))
}

/// `Set-Cookie` for a new session.
pub fn set_cookie(secret: &str, ttl: Duration, headers: &HeaderMap) -> HeaderValue {
    cookie(secret, ttl.as_secs(), is_https(headers))
}

/// `Set-Cookie` that removes the cookie.
pub fn clear_cookie(headers: &HeaderMap) -> HeaderValue {
    cookie("", 0, is_https(headers))
}

/// 401 for a cookie that names no live session (expired, logged out, token deleted); the
/// answer also removes the cookie.
pub fn expired(headers: &HeaderMap) -> Response {
    let mut response = ApiError::unauthorized(
        "the session has expired or was ended; log in again (POST /api/v1/session)",
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, clear_cookie(headers));
    response
}

/// Refuse a request a browser made on behalf of another site.
pub fn check_origin(headers: &HeaderMap) -> Result<(), ApiError> {
    let refuse = |why: String| {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "csrf",
            format!("refused a cross-site request: {why}"),
        ))
    };
    // Every value counts: a request is refused if any of them says "another site".
    for site in headers.get_all("sec-fetch-site") {
        let site = site.to_str().unwrap_or_default();
        if !matches!(site, "same-origin" | "none") {
            return refuse(format!("Sec-Fetch-Site is {site}"));
        }
    }
    let hosts: Vec<&str> = [header::HOST.as_str(), "x-forwarded-host"]
        .into_iter()
        .flat_map(|name| headers.get_all(name))
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    for origin in headers.get_all(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or_default();
        let origin_host = origin
            .split_once("://")
            .map(|(_, rest)| rest.trim_end_matches('/'))
            .unwrap_or_default();
        if origin_host.is_empty() || !hosts.iter().any(|h| h.eq_ignore_ascii_case(origin_host)) {
            return refuse(format!("Origin {origin:?} is not this server"));
        }
    }
    Ok(())
}

/// What a cookie-authenticated request must show to change anything.
pub fn check_write(
    method: &Method,
    headers: &HeaderMap,
    session: &SessionAuth,
) -> Result<(), ApiError> {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    check_origin(headers)?;
    let given = headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if given.is_empty() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "csrf",
            "this request is authenticated by a session cookie and changes something: send the \
             header X-CSRF-Token with the csrf_token of GET /api/v1/session",
        ));
    }
    if !bool::from(given.as_bytes().ct_eq(session.csrf_token.as_bytes())) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "csrf",
            "the X-CSRF-Token header does not match this session (GET /api/v1/session has the \
             current one)",
        ));
    }
    Ok(())
}

/// The live session with this secret, and who it acts for.
pub async fn lookup(
    state: &AppState,
    secret: &str,
) -> Result<Option<(Principal, SessionAuth)>, ApiError> {
    if secret.len() > MAX_TOKEN_CHARS {
        return Ok(None);
    }
    let hash = hash_token(secret);
    let Some((session, token)) = state
        .store()
        .find_session(&hash, co_runner::now_millis())
        .await?
    else {
        return Ok(None);
    };
    if !bool::from(session.hash.as_bytes().ct_eq(hash.as_bytes())) {
        return Ok(None);
    }
    let principal = principal_of(token)?;
    Ok(Some((
        principal,
        SessionAuth {
            hash,
            csrf_token: csrf_token(secret),
            expires_at_ms: session.expires_at_ms,
        },
    )))
}

/// Open a session for `principal`; returns its secret and what was stored.
pub async fn open(
    state: &AppState,
    principal: &Principal,
) -> Result<(String, SessionAuth), ApiError> {
    let secret = new_secret().map_err(|e| ApiError::internal(e.to_string()))?;
    let now = co_runner::now_millis();
    let ttl = i64::try_from(state.session_ttl().as_millis()).unwrap_or(i64::MAX);
    let record = SessionRecord {
        hash: hash_token(&secret),
        token_id: principal.token_id.clone(),
        created_at: co_store::now_timestamp(),
        expires_at_ms: now.saturating_add(ttl),
    };
    state
        .store()
        .insert_session(&record, now, MAX_SESSIONS_PER_TOKEN)
        .await
        .map_err(|e| match e {
            co_store::StoreError::NotFound(_) => ApiError::unauthorized("the token is not valid"),
            other => other.into(),
        })?;
    let auth = SessionAuth {
        hash: record.hash,
        csrf_token: csrf_token(&secret),
        expires_at_ms: record.expires_at_ms,
    };
    Ok((secret, auth))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        map
    }

    #[test]
    fn the_cookie_is_found_among_others() {
        let h = headers(&[("cookie", "a=1; co_session=abc; b=2")]);
        assert_eq!(cookie_secret(&h).as_deref(), Some("abc"));
        let h = headers(&[("cookie", "a=1"), ("cookie", "co_session=\"x\"")]);
        assert_eq!(cookie_secret(&h).as_deref(), Some("x"));
        assert_eq!(cookie_secret(&headers(&[("cookie", "co_session=")])), None);
        assert_eq!(
            cookie_secret(&headers(&[("cookie", "xco_session=a")])),
            None
        );
    }

    #[test]
    fn cookies_are_http_only_strict_and_secure_behind_https() {
        let plain = set_cookie("s", Duration::from_secs(60), &HeaderMap::new());
        assert_eq!(
            plain.to_str().unwrap(),
            "co_session=s; Path=/; HttpOnly; SameSite=Strict; Max-Age=60"
        );
        let proxied = set_cookie(
            "s",
            DEFAULT_TTL,
            &headers(&[("x-forwarded-proto", "https")]),
        );
        assert!(proxied.to_str().unwrap().ends_with("Max-Age=43200; Secure"));
        let forwarded = headers(&[("forwarded", "for=1.2.3.4;proto=https;host=x")]);
        assert!(is_https(&forwarded));
        assert!(!is_https(&headers(&[("x-forwarded-proto", "http")])));
        assert!(clear_cookie(&HeaderMap::new())
            .to_str()
            .unwrap()
            .contains("Max-Age=0"));
    }

    #[test]
    fn csrf_tokens_are_bound_to_the_secret() {
        assert_eq!(csrf_token("a"), csrf_token("a"));
        assert_ne!(csrf_token("a"), csrf_token("b"));
        assert_ne!(csrf_token("a"), "a");
    }

    #[test]
    fn cross_site_requests_are_refused() {
        let ok = [
            headers(&[]),
            headers(&[
                ("host", "127.0.0.1:8080"),
                ("origin", "http://127.0.0.1:8080"),
            ]),
            headers(&[("sec-fetch-site", "same-origin")]),
            headers(&[
                ("host", "internal:8080"),
                ("x-forwarded-host", "ci.example.org"),
                ("origin", "https://ci.example.org"),
            ]),
        ];
        for h in &ok {
            assert!(check_origin(h).is_ok(), "{h:?}");
        }
        let refused = [
            headers(&[("sec-fetch-site", "cross-site")]),
            headers(&[("sec-fetch-site", "same-site")]),
            headers(&[
                ("host", "127.0.0.1:8080"),
                ("origin", "http://evil.example"),
            ]),
            headers(&[("host", "127.0.0.1:8080"), ("origin", "null")]),
            headers(&[
                ("host", "h:1"),
                ("origin", "http://h:1"),
                ("origin", "http://evil.example"),
            ]),
        ];
        for h in &refused {
            assert_eq!(check_origin(h).unwrap_err().code, "csrf", "{h:?}");
        }
    }

    #[test]
    fn cookie_writes_need_the_sessions_csrf_token() {
        let session = SessionAuth {
            hash: "h".into(),
            csrf_token: csrf_token("secret"),
            expires_at_ms: 0,
        };
        assert!(check_write(&Method::GET, &HeaderMap::new(), &session).is_ok());
        assert!(check_write(&Method::POST, &HeaderMap::new(), &session).is_err());
        let wrong = headers(&[("x-csrf-token", "nope")]);
        assert!(check_write(&Method::DELETE, &wrong, &session).is_err());
        let right = headers(&[("x-csrf-token", &csrf_token("secret"))]);
        assert!(check_write(&Method::PUT, &right, &session).is_ok());
    }
}

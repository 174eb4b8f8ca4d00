//! Request body extractors whose every failure is an [`ApiError`] (400 with the parser's words and
//! position, 413 over the body limit).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderMap, StatusCode};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::json;

use crate::app::AppState;
use crate::error::ApiError;

/// A JSON body (an empty body counts as `{}`).
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let ct = content_type(req.headers());
        let bytes = read_body(req, state).await?;
        if !(ct.is_empty() || ct == "application/json" || ct.ends_with("+json")) {
            return Err(ApiError::bad_request(format!(
                "expected a JSON body (Content-Type: application/json), got {ct}"
            )));
        }
        parse_json(&bytes).map(ApiJson)
    }
}

fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError::bad_request(format!("malformed JSON body: {e}")).with_details(json!([{
            "line": e.line(),
            "col": e.column(),
            "message": e.to_string(),
        }]))
    })
}

/// A submitted YAML document: the raw body (`Content-Type: application/yaml`, `text/yaml`,
/// `application/x-yaml`, `text/plain` or none), or JSON `{"yaml": "...", "file": "..."}`.
pub struct Document {
    pub text: String,
    /// The file name diagnostics should show (JSON `file`), if the client gave one.
    pub file: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonDocument {
    yaml: String,
    #[serde(default)]
    file: Option<String>,
}

impl FromRequest<AppState> for Document {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let ct = content_type(req.headers());
        let bytes = read_body(req, state).await?;
        match ct.as_str() {
            "application/json" => {
                let doc: JsonDocument = parse_json(&bytes)?;
                Ok(Document {
                    text: doc.yaml,
                    file: doc.file,
                })
            }
            ""
            | "application/yaml"
            | "application/x-yaml"
            | "text/yaml"
            | "text/x-yaml"
            | "text/plain"
            | "application/octet-stream" => {
                let text = String::from_utf8(bytes.to_vec()).map_err(|e| {
                    ApiError::bad_request(format!("the document is not UTF-8 text: {e}"))
                })?;
                Ok(Document { text, file: None })
            }
            other => Err(ApiError::bad_request(format!(
                "unsupported Content-Type {other}: send YAML (application/yaml or text/plain) or \
                 JSON {{\"yaml\": \"...\"}}"
            ))),
        }
    }
}

/// The media type of the request, lower case, without parameters (`""` if none).
fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default()
}

/// The whole body, within the configured limit.
pub async fn read_body(req: Request, state: &AppState) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state)
        .await
        .map_err(|e| body_error(e, state.max_body_bytes()))
}

fn body_error(e: BytesRejection, limit: usize) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::payload_too_large(limit)
    } else {
        ApiError::new(
            e.status(),
            ApiError::code_for_status(e.status()),
            e.body_text(),
        )
    }
}

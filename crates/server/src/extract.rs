//! Request body extractors whose every failure is an [`ApiError`] (400 with the parser's words and
//! position, 413 over the body limit).

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderMap, StatusCode};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

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
/// `application/x-yaml`, `text/plain` or none), or JSON `{"yaml": "...", "file": "...",
/// "components": {...}, "base_revision": N}`.
#[derive(Default)]
pub struct Document {
    pub text: String,
    /// The file name diagnostics should show (JSON `file`), if the client gave one.
    pub file: Option<String>,
    /// Component path bindings (JSON `components`: reference as written → `name@version`).
    pub components: Option<BTreeMap<String, String>>,
    /// The revision the text was edited from (JSON `base_revision`; 0: a new workflow).
    pub base_revision: Option<i64>,
}

/// The JSON form of a submitted document.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JsonDocument {
    /// The YAML text, exactly as it is to be stored.
    pub yaml: String,
    /// The file name diagnostics show (e.g. the client's local path).
    #[serde(default)]
    pub file: Option<String>,
    /// How component paths in the text resolve on the server: the `component:` value as written
    /// → a registered `name@version` (`containerops workflows apply` sends them). Default when
    /// saving: the bindings of the workflow's latest revision.
    #[serde(default)]
    pub components: Option<BTreeMap<String, String>>,
    /// Saving: the revision this text was edited from. If the latest revision is another one,
    /// nothing is stored and the answer is 409 with the latest revision. `0`: only create (409
    /// if the workflow exists). Same as the header `If-Match: "N"` (`If-None-Match: *` for 0).
    #[serde(default)]
    pub base_revision: Option<i64>,
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
                    components: doc.components,
                    base_revision: doc.base_revision,
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
                Ok(Document {
                    text,
                    ..Document::default()
                })
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

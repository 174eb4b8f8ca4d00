//! The one error shape of the API, `{"error": {"code", "message", "details"}}`, and the errors of
//! starting a server.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::coordinator::CoordinatorError;

/// Every error response of the API.
#[derive(Debug, Clone, Serialize, serde::Deserialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorInfo,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize, ToSchema)]
pub struct ErrorInfo {
    /// `bad_request`, `unauthorized`, `forbidden`, `not_found`, `method_not_allowed`, `conflict`,
    /// `payload_too_large`, `invalid_inputs`, `internal`, `unavailable`.
    pub code: String,
    /// What went wrong, in words.
    pub message: String,
    /// More about it, e.g. diagnostics `[{"file","line","col","message"}]` or input problems; `null`
    /// if there is nothing more.
    #[schema(value_type = Object, nullable = true)]
    pub details: Value,
}

/// An error answered by a handler; becomes the JSON shape above.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Value,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            details: Value::Null,
        }
    }

    pub fn with_details(mut self, details: Value) -> ApiError {
        self.details = details;
        self
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, "conflict", message)
    }

    pub fn payload_too_large(limit: usize) -> ApiError {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the request body is larger than the server's limit of {limit} bytes"),
        )
        .with_details(serde_json::json!({ "limit": limit }))
    }

    pub fn invalid_inputs(problems: Vec<String>) -> ApiError {
        let message = problems.join("; ");
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_inputs", message)
            .with_details(Value::from(problems))
    }

    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }

    pub fn unavailable(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }

    /// The code used for a status that has no more specific one (errors made by the framework).
    pub fn code_for_status(status: StatusCode) -> &'static str {
        match status {
            StatusCode::UNAUTHORIZED => "unauthorized",
            StatusCode::FORBIDDEN => "forbidden",
            StatusCode::NOT_FOUND => "not_found",
            StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
            StatusCode::CONFLICT => "conflict",
            StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
            StatusCode::SERVICE_UNAVAILABLE => "unavailable",
            s if s.is_client_error() => "bad_request",
            _ => "internal",
        }
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorInfo {
                code: self.code.to_string(),
                message: self.message.clone(),
                details: self.details.clone(),
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::warn!(code = self.code, message = %self.message, "request failed");
        }
        (self.status, Json(self.body())).into_response()
    }
}

/// Turns the store's "not found" into a 404 that says what was looked for in the API's words.
pub(crate) trait OrNotFound<T> {
    /// `NotFound` becomes 404 with `message()`; every other store error converts as usual.
    fn or_not_found(self, message: impl FnOnce() -> String) -> Result<T, ApiError>;
}

impl<T> OrNotFound<T> for Result<T, co_store::StoreError> {
    fn or_not_found(self, message: impl FnOnce() -> String) -> Result<T, ApiError> {
        match self {
            Ok(value) => Ok(value),
            Err(co_store::StoreError::NotFound(_)) => Err(ApiError::not_found(message())),
            Err(e) => Err(e.into()),
        }
    }
}

impl From<co_store::StoreError> for ApiError {
    fn from(e: co_store::StoreError) -> ApiError {
        use co_store::StoreError as E;
        match e {
            E::NotFound(what) if what.is_empty() => ApiError::not_found("not found"),
            E::NotFound(what) => ApiError::not_found(format!("{what:?} was not found")),
            E::Ambiguous(_) => ApiError::bad_request(e.to_string()),
            E::Conflict(_) => ApiError::conflict(e.to_string()),
            E::Invalid(_) => ApiError::bad_request(e.to_string()),
            E::Unavailable(_) => {
                tracing::warn!(error = %e, "store unavailable");
                ApiError::unavailable(e.to_string())
            }
            E::Database(_) | E::Open { .. } | E::WriterClosed | E::NotHeld { .. } => {
                tracing::error!(error = %e, "store error");
                ApiError::internal(e.to_string())
            }
        }
    }
}

impl From<CoordinatorError> for ApiError {
    fn from(e: CoordinatorError) -> ApiError {
        match e {
            CoordinatorError::NotFound(what) => ApiError::not_found(what),
            CoordinatorError::Invalid(problems) => ApiError::invalid_inputs(problems),
            CoordinatorError::Secrets(message) => {
                tracing::error!(error = %message, "secrets error");
                ApiError::internal(message)
            }
            CoordinatorError::Store(e) => e.into(),
        }
    }
}

impl From<crate::crypto::CryptoError> for ApiError {
    fn from(e: crate::crypto::CryptoError) -> ApiError {
        tracing::error!(error = %e, "secrets error");
        ApiError::internal(e.to_string())
    }
}

/// Why a server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("configuration: {0}")]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Store(#[from] co_store::StoreError),
    #[error("cannot listen on {addr}: {source} (is another server running there? use --listen)")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("container engine: {0}")]
    Backend(String),
    #[error(transparent)]
    Secrets(#[from] crate::crypto::CryptoError),
    #[error("serving HTTP: {0}")]
    Io(#[from] std::io::Error),
}

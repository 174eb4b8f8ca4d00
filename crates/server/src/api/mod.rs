//! The handlers of `/api/v1`, one module per resource, and the types they share.

pub mod artifacts;
pub mod components;
pub mod dashboard;
pub mod graph;
pub mod health;
pub mod hooks;
pub mod logs;
pub mod runs;
pub mod secrets;
pub mod session;
pub mod tokens;
pub mod workflows;

use co_spec::NameKind;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::ApiError;

/// One problem in a submitted document, as the CLI prints it (`rendered`) and in parts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DiagnosticView {
    pub file: String,
    /// 1-based.
    pub line: u32,
    /// 1-based, in characters.
    pub col: u32,
    pub message: String,
    /// `FILE:LINE:COL: error: MESSAGE`, exactly as `containerops validate` prints it.
    pub rendered: String,
}

/// Every diagnostic, as the API shows them.
pub fn diagnostic_views(diagnostics: &co_spec::Diagnostics) -> Vec<DiagnosticView> {
    diagnostics
        .0
        .iter()
        .map(crate::catalog::diagnostic_json)
        .collect()
}

/// 400 with the diagnostics in `details`.
pub fn diagnostics_error(what: &str, diagnostics: &co_spec::Diagnostics) -> ApiError {
    let views = diagnostic_views(diagnostics);
    let first = views
        .first()
        .map(|d| format!(": {}", d.rendered))
        .unwrap_or_default();
    ApiError::bad_request(format!("{what} has {} problem(s){first}", views.len()))
        .with_details(serde_json::to_value(views).unwrap_or_default())
}

/// `?file=NAME`: the file name diagnostics show (default `workflow.yaml` / `component.yaml`).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FileQuery {
    /// The file name diagnostics show, e.g. the client's local path.
    pub file: Option<String>,
}

/// 404 for a name that cannot exist (so lookups need not ask the store). Names follow one rule
/// ([`co_spec::names`]), enforced when anything is stored, so every stored name passes.
pub fn check_name(kind: NameKind, name: &str) -> Result<(), ApiError> {
    if kind.is_valid(name) {
        Ok(())
    } else {
        let what = kind.noun().trim_end_matches(" name");
        Err(ApiError::not_found(format!("no {what} named {name:?}")))
    }
}

/// 400 for a name that cannot be stored, saying why (the limit or the character set).
pub fn require_name(kind: NameKind, name: &str) -> Result<(), ApiError> {
    kind.check(name).map_err(ApiError::bad_request)
}

/// The file name to show in diagnostics: the body's, else the query's, else `default`.
pub fn display_file(body: Option<String>, query: Option<String>, default: &str) -> String {
    body.or(query)
        .map(|f| f.trim().to_string())
        .filter(|f| !f.is_empty() && f.len() <= 512 && !f.contains(['\n', '\r']))
        .unwrap_or_else(|| default.to_string())
}

//! `/api/v1/workflows`: stored workflows, every update a new immutable revision; and
//! `/api/v1/validate`.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use co_spec::NameKind;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{
    check_name, diagnostic_views, diagnostics_error, display_file, DiagnosticView, FileQuery,
};
use crate::app::AppState;
use crate::catalog::{
    parse_component, parse_workflow, StoreCatalog, COMPONENT_FILE, WORKFLOW_FILE,
};
use crate::error::{ApiError, ErrorBody, OrNotFound};
use crate::extract::Document;

/// The answer to a create/update.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkflowSaved {
    pub name: String,
    pub revision: i64,
    /// `true` if the text equals the latest revision's (no new revision was made; status 200).
    pub unchanged: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WorkflowSummaryView {
    pub name: String,
    pub latest_revision: i64,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WorkflowList {
    pub workflows: Vec<WorkflowSummaryView>,
}

/// One revision with its text.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkflowRevisionView {
    pub name: String,
    pub revision: i64,
    pub created_at: String,
    /// The YAML as submitted.
    pub yaml: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RevisionSummary {
    pub revision: i64,
    pub created_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RevisionList {
    pub name: String,
    /// Oldest first.
    pub revisions: Vec<RevisionSummary>,
}

/// The answer of `/api/v1/validate`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ValidateResult {
    pub valid: bool,
    /// `workflow` or `component`.
    pub kind: String,
    pub diagnostics: Vec<DiagnosticView>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ValidateQuery {
    /// `workflow` or `component`; default: a document with top-level `version:` and `image:` is
    /// a component, anything else a workflow.
    pub kind: Option<String>,
    /// The file name diagnostics show.
    pub file: Option<String>,
}

/// Create or update workflow `name` (a new immutable revision).
#[utoipa::path(
    put,
    path = "/api/v1/workflows/{name}",
    tag = "workflows",
    params(("name" = String, Path, description = "Workflow name (must equal the document's `name:`)"), FileQuery),
    request_body(
        content = String,
        content_type = "application/yaml",
        description = "The workflow YAML (either format), or JSON {\"yaml\": \"...\", \"file\": \"...\"}"
    ),
    responses(
        (status = 201, description = "A new revision", body = WorkflowSaved),
        (status = 200, description = "Same text as the latest revision: nothing stored", body = WorkflowSaved),
        (status = 400, description = "The workflow has problems (diagnostics in details)", body = ErrorBody),
    )
)]
pub async fn put(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(query): Query<FileQuery>,
    doc: Document,
) -> Result<(StatusCode, Json<WorkflowSaved>), ApiError> {
    save(&state, Some(name), query, doc).await
}

/// Create or update the workflow the document names (a new immutable revision).
#[utoipa::path(
    post,
    path = "/api/v1/workflows",
    tag = "workflows",
    params(FileQuery),
    request_body(
        content = String,
        content_type = "application/yaml",
        description = "The workflow YAML (either format), or JSON {\"yaml\": \"...\", \"file\": \"...\"}"
    ),
    responses(
        (status = 201, description = "A new revision", body = WorkflowSaved),
        (status = 200, description = "Same text as the latest revision: nothing stored", body = WorkflowSaved),
        (status = 400, description = "The workflow has problems (diagnostics in details)", body = ErrorBody),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    Query(query): Query<FileQuery>,
    doc: Document,
) -> Result<(StatusCode, Json<WorkflowSaved>), ApiError> {
    save(&state, None, query, doc).await
}

async fn save(
    state: &AppState,
    url_name: Option<String>,
    query: FileQuery,
    doc: Document,
) -> Result<(StatusCode, Json<WorkflowSaved>), ApiError> {
    if let Some(name) = &url_name {
        super::require_name(NameKind::Workflow, name)?;
    }
    let file = display_file(doc.file, query.file, WORKFLOW_FILE);
    let catalog = StoreCatalog::load(state.store()).await?;
    let workflow = parse_workflow(&catalog, &doc.text, &file)
        .map_err(|d| diagnostics_error("the workflow", &d))?;
    let name = workflow.name.clone();
    if let Some(url_name) = url_name {
        if url_name != name {
            return Err(ApiError::bad_request(format!(
                "the URL names workflow {url_name:?} but the document's name is {name:?}"
            )));
        }
    }
    match state.store().get_workflow_revision(&name, None).await {
        Ok(latest) if latest.yaml == doc.text => {
            return Ok((
                StatusCode::OK,
                Json(WorkflowSaved {
                    name,
                    revision: latest.revision,
                    unchanged: true,
                }),
            ))
        }
        Ok(_) | Err(co_store::StoreError::NotFound(_)) => {}
        Err(e) => return Err(e.into()),
    }
    let stored = state
        .store()
        .put_workflow_revision(&name, &doc.text)
        .await?;
    tracing::info!(workflow = %name, revision = stored.revision, "workflow stored");
    // Its cron triggers may have changed.
    state.coordinator().workflows_changed();
    Ok((
        StatusCode::CREATED,
        Json(WorkflowSaved {
            name: stored.name,
            revision: stored.revision,
            unchanged: false,
        }),
    ))
}

/// Every stored workflow.
#[utoipa::path(
    get,
    path = "/api/v1/workflows",
    tag = "workflows",
    responses((status = 200, body = WorkflowList))
)]
pub async fn list(State(state): State<AppState>) -> Result<Json<WorkflowList>, ApiError> {
    let workflows = state
        .store()
        .list_workflows()
        .await?
        .into_iter()
        .map(|w| WorkflowSummaryView {
            name: w.name,
            latest_revision: w.latest_revision,
            created_at: w.created_at,
            updated_at: w.updated_at,
        })
        .collect();
    Ok(Json(WorkflowList { workflows }))
}

/// The latest revision of a workflow.
#[utoipa::path(
    get,
    path = "/api/v1/workflows/{name}",
    tag = "workflows",
    params(("name" = String, Path, description = "Workflow name")),
    responses((status = 200, body = WorkflowRevisionView), (status = 404, body = ErrorBody))
)]
pub async fn latest(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<WorkflowRevisionView>, ApiError> {
    get_revision(&state, &name, None).await
}

/// One revision of a workflow.
#[utoipa::path(
    get,
    path = "/api/v1/workflows/{name}/revisions/{revision}",
    tag = "workflows",
    params(
        ("name" = String, Path, description = "Workflow name"),
        ("revision" = i64, Path, description = "Revision number (1, 2, …)"),
    ),
    responses((status = 200, body = WorkflowRevisionView), (status = 404, body = ErrorBody))
)]
pub async fn revision(
    State(state): State<AppState>,
    Path((name, revision)): Path<(String, String)>,
) -> Result<Json<WorkflowRevisionView>, ApiError> {
    let number = revision
        .parse::<i64>()
        .ok()
        .filter(|n| *n >= 1)
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "workflow {name:?} has no revision {revision:?} (revisions are 1, 2, 3, …)"
            ))
        })?;
    get_revision(&state, &name, Some(number)).await
}

async fn get_revision(
    state: &AppState,
    name: &str,
    revision: Option<i64>,
) -> Result<Json<WorkflowRevisionView>, ApiError> {
    check_name(NameKind::Workflow, name)?;
    let r = state
        .store()
        .get_workflow_revision(name, revision)
        .await
        .or_not_found(|| match revision {
            Some(n) => format!("workflow {name:?} has no revision {n}"),
            None => format!("no workflow named {name:?}"),
        })?;
    Ok(Json(WorkflowRevisionView {
        name: r.name,
        revision: r.revision,
        created_at: r.created_at,
        yaml: r.yaml,
    }))
}

/// Every revision of a workflow (without their text).
#[utoipa::path(
    get,
    path = "/api/v1/workflows/{name}/revisions",
    tag = "workflows",
    params(("name" = String, Path, description = "Workflow name")),
    responses((status = 200, body = RevisionList), (status = 404, body = ErrorBody))
)]
pub async fn revisions(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<RevisionList>, ApiError> {
    check_name(NameKind::Workflow, &name)?;
    let revisions: Vec<RevisionSummary> =
        match state.store().list_workflow_revisions(&name).await {
            Ok(list) => list,
            Err(co_store::StoreError::NotFound(_)) => Vec::new(),
            Err(e) => return Err(e.into()),
        }
        .into_iter()
        .map(|r| RevisionSummary {
            revision: r.revision,
            created_at: r.created_at,
        })
        .collect();
    if revisions.is_empty() {
        return Err(ApiError::not_found(format!("no workflow named {name:?}")));
    }
    Ok(Json(RevisionList { name, revisions }))
}

/// Check a workflow or component document without storing anything: the same diagnostics,
/// with line and column, as `containerops validate`.
#[utoipa::path(
    post,
    path = "/api/v1/validate",
    tag = "workflows",
    params(ValidateQuery),
    request_body(
        content = String,
        content_type = "application/yaml",
        description = "A workflow or component YAML, or JSON {\"yaml\": \"...\", \"file\": \"...\"}"
    ),
    responses(
        (status = 200, description = "Validated (see `valid`)", body = ValidateResult),
        (status = 400, description = "Unknown kind or unreadable body", body = ErrorBody),
    )
)]
pub async fn validate(
    State(state): State<AppState>,
    Query(query): Query<ValidateQuery>,
    doc: Document,
) -> Result<Json<ValidateResult>, ApiError> {
    let component = match query.kind.as_deref() {
        Some("component") => true,
        Some("workflow") => false,
        None | Some("") => looks_like_component(&doc.text),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "unknown kind {other:?}: use workflow or component"
            )))
        }
    };
    let result = if component {
        let file = display_file(doc.file, query.file, COMPONENT_FILE);
        parse_component(&doc.text, &file).map(|_| ())
    } else {
        let file = display_file(doc.file, query.file, WORKFLOW_FILE);
        let catalog = StoreCatalog::load(state.store()).await?;
        parse_workflow(&catalog, &doc.text, &file).map(|_| ())
    };
    let diagnostics = match result {
        Ok(()) => Vec::new(),
        Err(d) => diagnostic_views(&d),
    };
    Ok(Json(ValidateResult {
        valid: diagnostics.is_empty(),
        kind: if component { "component" } else { "workflow" }.to_string(),
        diagnostics,
    }))
}

/// A document with top-level `version:` and `image:` keys is a component.
pub fn looks_like_component(text: &str) -> bool {
    let top_level = |key: &str| {
        text.lines().any(|line| {
            line.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with(':'))
        })
    };
    top_level("version") && top_level("image")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_are_recognised_by_top_level_version_and_image() {
        assert!(looks_like_component(
            "name: a\nversion: 1.0.0\nimage: busybox\n"
        ));
        assert!(looks_like_component("version : 1\nimage:  x\n"));
        assert!(!looks_like_component(
            "name: a\nstages:\n  - name: s\n    actions:\n      - name: x\n        image: b\nversion: 1\n"
        ));
        assert!(!looks_like_component("name: a\nversions: 1\nimage: b\n"));
    }
}

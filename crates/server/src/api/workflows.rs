//! `/api/v1/workflows`: stored workflows, every update a new immutable revision; and
//! `/api/v1/validate`.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use co_spec::NameKind;
use co_store::{RevisionSave, WorkflowRevision};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::runs::RunSummary;
use super::{
    check_name, diagnostic_views, diagnostics_error, display_file, DiagnosticView, FileQuery,
};
use crate::app::AppState;
use crate::catalog::{
    parse_component, parse_workflow, split_binding, top_level_name, used_bindings, StoreCatalog,
    COMPONENT_FILE, WORKFLOW_FILE,
};
use crate::error::{ApiError, ErrorBody};
use crate::extract::Document;
use crate::graph::WorkflowGraph;

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
    /// Its newest run (of any revision), `null` if it never ran.
    pub latest_run: Option<RunSummary>,
}

/// The details of a 409 answer to a save based on a revision that is no longer the latest.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SaveConflict {
    /// The latest revision now (0: the workflow does not exist).
    pub current_revision: i64,
    /// Its text (`null` if it does not exist).
    pub yaml: Option<String>,
    pub created_at: Option<String>,
    /// The revision the save was based on.
    pub base_revision: i64,
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
    /// How its component paths resolve: the `component:` value as written → the registered
    /// `name@version` (see `containerops workflows apply`).
    pub components: BTreeMap<String, String>,
}

impl WorkflowRevisionView {
    fn of(r: WorkflowRevision) -> WorkflowRevisionView {
        WorkflowRevisionView {
            name: r.name,
            revision: r.revision,
            created_at: r.created_at,
            yaml: r.yaml,
            components: r.components,
        }
    }
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
    /// With `?graph=true`: the workflow as a graph, if it is a valid workflow; else `null`.
    pub graph: Option<WorkflowGraph>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ValidateQuery {
    /// `workflow` or `component`; default: a document with top-level `version:` and `image:` is
    /// a component, anything else a workflow.
    pub kind: Option<String>,
    /// The file name diagnostics show.
    pub file: Option<String>,
    /// Also answer the workflow's graph (`graph`), if it is valid.
    pub graph: Option<bool>,
}

/// Create or update workflow `name` (a new immutable revision).
///
/// The text is stored exactly as sent (comments and all). Save with conflict detection by
/// naming the revision the text was edited from (`base_revision`, or `If-Match: "N"`; `0` or
/// `If-None-Match: *` to only create): if another save came in between, nothing is stored and
/// the answer is 409 with the latest revision in `details` ([`SaveConflict`]).
#[utoipa::path(
    put,
    operation_id = "putWorkflow",
    path = "/api/v1/workflows/{name}",
    tag = "workflows",
    params(
        ("name" = String, Path, description = "Workflow name (must equal the document's `name:`)"),
        ("If-Match" = Option<String>, Header, description = "`\"N\"`: store only if revision N is the latest"),
        ("If-None-Match" = Option<String>, Header, description = "`*`: store only if the workflow does not exist"),
        FileQuery,
    ),
    request_body(
        content(
            (String = "application/yaml"),
            (crate::extract::JsonDocument = "application/json"),
        ),
        description = "The workflow YAML (either format), or JSON with it and the save's options"
    ),
    responses(
        (status = 201, description = "A new revision", body = WorkflowSaved, headers(("ETag" = String, description = "`\"N\"`: the revision"))),
        (status = 200, description = "Same text as the latest revision: nothing stored", body = WorkflowSaved),
        (status = 400, description = "The workflow has problems (diagnostics in details)", body = ErrorBody),
        (status = 409, description = "The base revision is not the latest (details: SaveConflict); nothing stored", body = ErrorBody),
    )
)]
pub async fn put(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(query): Query<FileQuery>,
    headers: HeaderMap,
    doc: Document,
) -> Result<Response, ApiError> {
    save(&state, Some(name), query, &headers, doc).await
}

/// Create or update the workflow the document names (a new immutable revision); the same
/// options as `PUT /api/v1/workflows/{name}`.
#[utoipa::path(
    post,
    operation_id = "saveWorkflow",
    path = "/api/v1/workflows",
    tag = "workflows",
    params(FileQuery),
    request_body(
        content(
            (String = "application/yaml"),
            (crate::extract::JsonDocument = "application/json"),
        ),
        description = "The workflow YAML (either format), or JSON with it and the save's options"
    ),
    responses(
        (status = 201, description = "A new revision", body = WorkflowSaved),
        (status = 200, description = "Same text as the latest revision: nothing stored", body = WorkflowSaved),
        (status = 400, description = "The workflow has problems (diagnostics in details)", body = ErrorBody),
        (status = 409, description = "The base revision is not the latest (details: SaveConflict); nothing stored", body = ErrorBody),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    Query(query): Query<FileQuery>,
    headers: HeaderMap,
    doc: Document,
) -> Result<Response, ApiError> {
    save(&state, None, query, &headers, doc).await
}

/// `ETag: "N"` for revision N.
fn revision_etag(revision: i64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{revision}\"")).unwrap_or(HeaderValue::from_static("\"0\""))
}

/// The revision a save expects to replace: `base_revision`, `If-Match: "N"` or
/// `If-None-Match: *` (0). 400 if they disagree or are not revision numbers.
fn expected_revision(headers: &HeaderMap, body: Option<i64>) -> Result<Option<i64>, ApiError> {
    let header_text = |name: header::HeaderName| {
        headers
            .get(name)
            .map(|v| v.to_str().unwrap_or_default().trim().to_string())
    };
    let from_if_match = match header_text(header::IF_MATCH) {
        Some(v) => Some(
            v.trim_start_matches("W/")
                .trim_matches('"')
                .parse::<i64>()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "If-Match must be a revision number in quotes, like \"3\" (the ETag of \
                         GET /api/v1/workflows/NAME), not {v:?}"
                    ))
                })?,
        ),
        None => None,
    };
    let from_if_none_match = match header_text(header::IF_NONE_MATCH) {
        Some(v) if v == "*" => Some(0),
        Some(v) => {
            return Err(ApiError::bad_request(format!(
                "If-None-Match on a save must be `*` (create only), not {v:?}"
            )))
        }
        None => None,
    };
    if let Some(n) = body.filter(|n| *n < 0) {
        return Err(ApiError::bad_request(format!(
            "base_revision must be 0 (a new workflow) or a revision number, not {n}"
        )));
    }
    let given: Vec<i64> = [body, from_if_match, from_if_none_match]
        .into_iter()
        .flatten()
        .collect();
    match given.as_slice() {
        [] => Ok(None),
        [first, rest @ ..] if rest.iter().all(|n| n == first) => Ok(Some(*first)),
        _ => Err(ApiError::bad_request(format!(
            "base_revision, If-Match and If-None-Match name different revisions ({given:?})"
        ))),
    }
}

/// The latest revision of `name`, if it exists.
async fn latest_revision(
    state: &AppState,
    name: &str,
) -> Result<Option<WorkflowRevision>, ApiError> {
    match state.store().get_workflow_revision(name, None).await {
        Ok(r) => Ok(Some(r)),
        Err(co_store::StoreError::NotFound(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The bindings a submitted text is read with: the explicit ones (each must name a registered
/// component), else those of the latest revision of the workflow the text names.
async fn bindings_for(
    state: &AppState,
    catalog: &StoreCatalog,
    doc: &Document,
    name: Option<&str>,
) -> Result<BTreeMap<String, String>, ApiError> {
    if let Some(explicit) = &doc.components {
        let mut problems = Vec::new();
        for (reference, binding) in explicit {
            match split_binding(binding) {
                Some((n, v)) if catalog.contains(n, v) => {}
                Some(_) => problems.push(format!(
                    "component `{reference}` is bound to {binding}, which is not registered \
                     (POST /api/v1/components)"
                )),
                None => problems.push(format!(
                    "component `{reference}` is bound to {binding:?}: a binding must be \
                     `name@version`"
                )),
            }
        }
        if !problems.is_empty() {
            return Err(ApiError::bad_request(problems.join("; ")));
        }
        return Ok(explicit.clone());
    }
    let name = name
        .map(str::to_string)
        .or_else(|| top_level_name(&doc.text));
    Ok(match name {
        Some(name) if NameKind::Workflow.is_valid(&name) => latest_revision(state, &name)
            .await?
            .map(|r| r.components)
            .unwrap_or_default(),
        _ => BTreeMap::new(),
    })
}

async fn save(
    state: &AppState,
    url_name: Option<String>,
    query: FileQuery,
    headers: &HeaderMap,
    doc: Document,
) -> Result<Response, ApiError> {
    if let Some(name) = &url_name {
        super::require_name(NameKind::Workflow, name)?;
    }
    let expected = expected_revision(headers, doc.base_revision)?;
    let file = display_file(doc.file.clone(), query.file, WORKFLOW_FILE);
    let catalog = StoreCatalog::load(state.store()).await?;
    let bindings = bindings_for(state, &catalog, &doc, url_name.as_deref()).await?;
    let workflow = parse_workflow(&catalog.bind(bindings.clone()), &doc.text, &file)
        .and_then(|w| state.coordinator().policy().check_workflow(w))
        .map_err(|d| diagnostics_error("the workflow", &d))?;
    let name = workflow.name.clone();
    if let Some(url_name) = url_name {
        if url_name != name {
            return Err(ApiError::bad_request(format!(
                "the URL names workflow {url_name:?} but the document's name is {name:?}"
            )));
        }
    }
    let used = used_bindings(&workflow, &bindings);
    let saved = |status: StatusCode, revision: i64, unchanged: bool| {
        (
            status,
            [(header::ETAG, revision_etag(revision))],
            Json(WorkflowSaved {
                name: name.clone(),
                revision,
                unchanged,
            }),
        )
            .into_response()
    };
    if let Some(latest) = latest_revision(state, &name).await? {
        if latest.yaml == doc.text && latest.components == used {
            return Ok(saved(StatusCode::OK, latest.revision, true));
        }
    }
    let stored = match state
        .store()
        .save_workflow_revision(&name, &doc.text, &used, expected)
        .await?
    {
        RevisionSave::Stored(stored) => stored,
        RevisionSave::Conflict(current) => {
            let base = expected.unwrap_or_default();
            let message = match &current {
                Some(c) if base == 0 => format!(
                    "workflow {name:?} already exists (revision {}); nothing was stored",
                    c.revision
                ),
                Some(c) => format!(
                    "workflow {name:?} was saved by someone else in the meantime: the latest \
                     revision is {}, this text was edited from revision {base}; nothing was \
                     stored",
                    c.revision
                ),
                None => format!(
                    "workflow {name:?} does not exist, so it has no revision {base}; nothing \
                     was stored"
                ),
            };
            let details = SaveConflict {
                current_revision: current.as_ref().map_or(0, |c| c.revision),
                yaml: current.as_ref().map(|c| c.yaml.clone()),
                created_at: current.map(|c| c.created_at),
                base_revision: base,
            };
            return Err(ApiError::conflict(message)
                .with_details(serde_json::to_value(details).unwrap_or_default()));
        }
    };
    tracing::info!(workflow = %name, revision = stored.revision, "workflow stored");
    // Its cron triggers may have changed.
    state.coordinator().workflows_changed();
    Ok(saved(StatusCode::CREATED, stored.revision, false))
}

/// Every stored workflow with its newest run.
pub async fn workflow_summaries(state: &AppState) -> Result<Vec<WorkflowSummaryView>, ApiError> {
    let mut latest: std::collections::HashMap<String, RunSummary> = state
        .store()
        .latest_runs_of_workflows()
        .await?
        .into_iter()
        .map(|r| (r.workflow.clone(), RunSummary::of(r)))
        .collect();
    Ok(state
        .store()
        .list_workflows()
        .await?
        .into_iter()
        .map(|w| WorkflowSummaryView {
            latest_run: latest.remove(&w.name),
            name: w.name,
            latest_revision: w.latest_revision,
            created_at: w.created_at,
            updated_at: w.updated_at,
        })
        .collect())
}

/// Every stored workflow, with its newest run.
#[utoipa::path(
    get,
    operation_id = "listWorkflows",
    path = "/api/v1/workflows",
    tag = "workflows",
    responses((status = 200, body = WorkflowList))
)]
pub async fn list(State(state): State<AppState>) -> Result<Json<WorkflowList>, ApiError> {
    Ok(Json(WorkflowList {
        workflows: workflow_summaries(&state).await?,
    }))
}

/// The latest revision of a workflow.
#[utoipa::path(
    get,
    operation_id = "getWorkflow",
    path = "/api/v1/workflows/{name}",
    tag = "workflows",
    params(("name" = String, Path, description = "Workflow name")),
    responses(
        (status = 200, body = WorkflowRevisionView, headers(("ETag" = String, description = "`\"N\"`: the revision (for If-Match)"))),
        (status = 404, body = ErrorBody),
    )
)]
pub async fn latest(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    get_revision(&state, &name, None).await
}

/// One revision of a workflow.
#[utoipa::path(
    get,
    operation_id = "getWorkflowRevision",
    path = "/api/v1/workflows/{name}/revisions/{revision}",
    tag = "workflows",
    params(
        ("name" = String, Path, description = "Workflow name"),
        ("revision" = i64, Path, description = "Revision number (1, 2, …)"),
    ),
    responses(
        (status = 200, body = WorkflowRevisionView, headers(("ETag" = String, description = "`\"N\"`: the revision"))),
        (status = 404, body = ErrorBody),
    )
)]
pub async fn revision(
    State(state): State<AppState>,
    Path((name, revision)): Path<(String, String)>,
) -> Result<Response, ApiError> {
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

/// Revision `revision` of workflow `name` (`None`: the latest), or 404 saying which is missing.
pub async fn load_revision(
    state: &AppState,
    name: &str,
    revision: Option<i64>,
) -> Result<WorkflowRevision, ApiError> {
    check_name(NameKind::Workflow, name)?;
    match state.store().get_workflow_revision(name, revision).await {
        Err(co_store::StoreError::NotFound(_)) => {
            Err(revision_not_found(state, name, revision).await)
        }
        other => Ok(other?),
    }
}

/// The 404 for revision `revision` (`None`: the latest) of workflow `name`, which the store did
/// not find: a missing revision names the latest one; a missing workflow says it was not found
/// and names the stored workflows with close names (edit distance), if any.
pub async fn revision_not_found(state: &AppState, name: &str, revision: Option<i64>) -> ApiError {
    let stored = match state.store().list_workflows().await {
        Ok(list) => list,
        Err(e) => return e.into(),
    };
    if let (Some(n), Some(found)) = (revision, stored.iter().find(|w| w.name == name)) {
        return ApiError::not_found(format!(
            "workflow {name:?} has no revision {n} (its latest is {})",
            found.latest_revision
        ));
    }
    ApiError::not_found(workflow_not_found_message(
        name,
        stored.iter().map(|w| w.name.as_str()),
    ))
}

/// `workflow "nope" was not found` with the close names among `stored`.
fn workflow_not_found_message<'a>(name: &str, stored: impl IntoIterator<Item = &'a str>) -> String {
    /// At most this many close names are listed.
    const SHOWN: usize = 5;
    let close = co_spec::close_names(name, stored);
    let quoted: Vec<String> = close.iter().take(SHOWN).map(|c| format!("{c:?}")).collect();
    match quoted.as_slice() {
        [] => format!("workflow {name:?} was not found"),
        [one] => format!("workflow {name:?} was not found; did you mean {one}?"),
        many => format!(
            "workflow {name:?} was not found; close names: {}",
            many.join(", ")
        ),
    }
}

async fn get_revision(
    state: &AppState,
    name: &str,
    revision: Option<i64>,
) -> Result<Response, ApiError> {
    let r = load_revision(state, name, revision).await?;
    Ok((
        [(header::ETAG, revision_etag(r.revision))],
        Json(WorkflowRevisionView::of(r)),
    )
        .into_response())
}

/// Every revision of a workflow (without their text).
#[utoipa::path(
    get,
    operation_id = "listWorkflowRevisions",
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
        return Err(revision_not_found(&state, &name, None).await);
    }
    Ok(Json(RevisionList { name, revisions }))
}

/// Check a workflow or component document without storing anything: the same diagnostics,
/// with line and column, as `containerops validate`. Component paths resolve as a save would
/// resolve them (the JSON body's `components`, else the bindings of the latest revision of the
/// workflow the text names); `?graph=true` also answers the workflow's graph.
#[utoipa::path(
    post,
    operation_id = "validateDocument",
    path = "/api/v1/validate",
    tag = "workflows",
    params(ValidateQuery),
    request_body(
        content = String,
        content_type = "application/yaml",
        description = "A workflow or component YAML, or JSON {\"yaml\", \"file\", \"components\"}"
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
    let mut graph = None;
    let policy = state.coordinator().policy();
    let result = if component {
        let file = display_file(doc.file.clone(), query.file, COMPONENT_FILE);
        parse_component(&doc.text, &file)
            .and_then(|c| policy.check_component(c, &doc.text, &file))
            .map(|_| ())
    } else {
        let file = display_file(doc.file.clone(), query.file, WORKFLOW_FILE);
        let catalog = StoreCatalog::load(state.store()).await?;
        let bindings = bindings_for(&state, &catalog, &doc, None).await?;
        parse_workflow(&catalog.bind(bindings), &doc.text, &file)
            .and_then(|w| policy.check_workflow(w))
            .map(|workflow| {
                if query.graph == Some(true) {
                    graph = Some(super::graph::graph_of(workflow, None));
                }
            })
    };
    let diagnostics = match result {
        Ok(()) => Vec::new(),
        Err(d) => diagnostic_views(&d),
    };
    Ok(Json(ValidateResult {
        valid: diagnostics.is_empty(),
        kind: if component { "component" } else { "workflow" }.to_string(),
        diagnostics,
        graph,
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
    fn a_missing_workflow_names_close_ones() {
        let stored = ["hello", "help", "deploy", "hallo"];
        assert_eq!(
            workflow_not_found_message("helo", stored),
            r#"workflow "helo" was not found; close names: "hello", "help""#
        );
        assert_eq!(
            workflow_not_found_message("deplyo", stored),
            r#"workflow "deplyo" was not found; did you mean "deploy"?"#
        );
        assert_eq!(
            workflow_not_found_message("nope", stored),
            r#"workflow "nope" was not found"#
        );
    }

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

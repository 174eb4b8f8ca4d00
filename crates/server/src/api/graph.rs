//! `/api/v1/workflows/{name}/graph` and `/api/v1/runs/{id}/graph`: workflows as graphs for
//! display ([`crate::graph`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use co_spec::Workflow;
use serde::Deserialize;
use utoipa::IntoParams;

use super::diagnostic_views;
use crate::app::AppState;
use crate::catalog::{parse_revision, parse_stored, WORKFLOW_FILE};
use crate::error::{ApiError, ErrorBody};
use crate::graph::WorkflowGraph;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GraphQuery {
    /// The revision (default: the latest).
    pub revision: Option<i64>,
}

/// The graph of a validated workflow.
pub fn graph_of(workflow: Workflow, revision: Option<i64>) -> WorkflowGraph {
    let workflow = Arc::new(workflow);
    let plan = co_spec::plan(workflow.clone());
    crate::graph::build(&workflow, &plan, revision)
}

/// 422 `graph_unavailable`: the text does not validate here (diagnostics in details).
fn unavailable(what: String, diagnostics: &co_spec::Diagnostics) -> ApiError {
    let views = diagnostic_views(diagnostics);
    let first = views
        .first()
        .map(|d| format!(": {}", d.rendered))
        .unwrap_or_default();
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "graph_unavailable",
        format!("{what}{first}"),
    )
    .with_details(serde_json::to_value(views).unwrap_or_default())
}

/// A stored workflow as a graph: nodes (actions with their component contracts and YAML
/// positions), dependency edges and data wires.
#[utoipa::path(
    get,
    operation_id = "getWorkflowGraph",
    path = "/api/v1/workflows/{name}/graph",
    tag = "workflows",
    params(("name" = String, Path, description = "Workflow name"), GraphQuery),
    responses(
        (status = 200, body = WorkflowGraph),
        (status = 404, body = ErrorBody),
        (status = 422, description = "The revision does not validate any more (`graph_unavailable`)", body = ErrorBody),
    )
)]
pub async fn of_workflow(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(query): Query<GraphQuery>,
) -> Result<Json<WorkflowGraph>, ApiError> {
    let stored = super::workflows::load_revision(&state, &name, query.revision).await?;
    let workflow = parse_revision(state.store(), &stored).await?.map_err(|d| {
        unavailable(
            format!("revision {} of {name:?} does not validate", stored.revision),
            &d,
        )
    })?;
    Ok(Json(graph_of(workflow, Some(stored.revision))))
}

/// The graph of exactly what a run ran (its recorded text). Join `nodes[].steps` with the run's
/// `steps[].key` for statuses. A local run (`containerops run`) whose component paths the server
/// cannot resolve answers 422 `graph_unavailable`: its paths resolve through the bindings of the
/// latest stored revision of the same workflow, if there is one (`containerops workflows apply`).
#[utoipa::path(
    get,
    operation_id = "getRunGraph",
    path = "/api/v1/runs/{id}/graph",
    tag = "runs",
    params(("id" = String, Path, description = "Run id (or a unique prefix)")),
    responses(
        (status = 200, body = WorkflowGraph),
        (status = 404, body = ErrorBody),
        (status = 422, description = "The server cannot build it (`graph_unavailable`, diagnostics in details)", body = ErrorBody),
    )
)]
pub async fn of_run(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<WorkflowGraph>, ApiError> {
    let run = super::runs::load_run(&state, &id).await?.run;
    // A stored run: its revision's bindings; a local run: the latest revision's, if any.
    let bindings = match state
        .store()
        .get_workflow_revision(&run.workflow, run.revision)
        .await
    {
        Ok(stored) => stored.components,
        Err(co_store::StoreError::NotFound(_)) => BTreeMap::new(),
        Err(e) => return Err(e.into()),
    };
    let file = if run.source_path.is_empty() {
        WORKFLOW_FILE
    } else {
        run.source_path.as_str()
    };
    let workflow = parse_stored(state.store(), &run.source, file, bindings)
        .await?
        .map_err(|d| {
            unavailable(
                format!(
                    "the server cannot show run {}'s workflow as a graph (a local run whose \
                     component paths are not bound on this server? `containerops workflows \
                     apply FILE` registers and binds them)",
                    run.id
                ),
                &d,
            )
        })?;
    Ok(Json(graph_of(workflow, run.revision)))
}

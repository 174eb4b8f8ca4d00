//! `/api/v1/dashboard`: what the UI's home page shows, in one request.

use axum::extract::State;
use axum::Json;
use co_store::RunFilter;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::runs::RunSummary;
use super::workflows::{workflow_summaries, WorkflowSummaryView};
use crate::app::AppState;
use crate::error::ApiError;

/// Runs on the dashboard's "recent runs".
pub const RECENT_RUNS: i64 = 10;

/// Runs waiting for a server and runs being carried out.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct QueueView {
    pub queued: i64,
    pub running: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DashboardView {
    /// Every stored workflow with its latest run, by name.
    pub workflows: Vec<WorkflowSummaryView>,
    /// The newest runs (at most 10), newest first.
    pub recent_runs: Vec<RunSummary>,
    pub queue: QueueView,
}

/// Workflows with their latest run, the recent runs, and the queue depth.
#[utoipa::path(
    get,
    operation_id = "getDashboard",
    path = "/api/v1/dashboard",
    tag = "runs",
    responses((status = 200, body = DashboardView))
)]
pub async fn get(State(state): State<AppState>) -> Result<Json<DashboardView>, ApiError> {
    let workflows = workflow_summaries(&state).await?;
    let recent_runs = state
        .store()
        .list_runs(&RunFilter {
            limit: Some(RECENT_RUNS),
            ..RunFilter::default()
        })
        .await?
        .into_iter()
        .map(RunSummary::of)
        .collect();
    let depth = state.store().queue_depth().await?;
    Ok(Json(DashboardView {
        workflows,
        recent_runs,
        queue: QueueView {
            queued: depth.queued,
            running: depth.running,
        },
    }))
}

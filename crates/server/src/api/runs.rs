//! `/api/v1/runs`: start (through the coordinator's queue), list with filters and keyset
//! pagination, get with steps and attempts, cancel, rerun, resume.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use co_spec::NameKind;
use co_store::{AttemptRecord, RunDetail, RunFilter, RunRecord, RunStatus, StepRecord, StepStatus};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};

use super::check_name;
use crate::app::AppState;
use crate::coordinator::{CoordinatorError, RunRequest, Submitted};
use crate::error::{ApiError, ErrorBody, OrNotFound};
use crate::extract::ApiJson;

/// Most runs one page of `GET /api/v1/runs` returns.
pub const MAX_PAGE: i64 = 1000;
/// Runs per page when `limit` is not given.
pub const DEFAULT_PAGE: i64 = 50;

/// `POST /api/v1/workflows/{name}/runs`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartRun {
    /// Input values (JSON values, converted to the declared types).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub inputs: IndexMap<String, Value>,
    /// The workflow revision to run (default: the latest).
    #[serde(default)]
    pub revision: Option<i64>,
}

/// `POST /api/v1/runs/{id}/resume` and `…/rerun` (an empty body: the run's own revision).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunAgain {
    /// Run this revision of the workflow instead of the one the earlier run ran. A resume then
    /// reuses only the steps whose definition did not change (docs/server.md, "Resume").
    #[serde(default)]
    pub revision: Option<i64>,
}

/// `POST /api/v1/runs`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartRunOf {
    pub workflow: String,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub inputs: IndexMap<String, Value>,
    #[serde(default)]
    pub revision: Option<i64>,
}

/// A run that was queued.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RunCreated {
    pub id: String,
    /// `queued`.
    pub status: RunStatus,
}

/// A cancel request that was accepted.
#[derive(Debug, Serialize, ToSchema)]
pub struct CancelAccepted {
    pub id: String,
    /// Always `true`: the run stops as soon as its owner notices (a queued run at once).
    pub cancel_requested: bool,
}

/// A run in a list.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RunSummary {
    pub id: String,
    pub workflow: String,
    pub status: RunStatus,
    pub revision: Option<i64>,
    #[schema(value_type = Object)]
    pub trigger: Value,
    pub parent: Option<String>,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub error: Option<String>,
}

impl RunSummary {
    pub fn of(run: RunRecord) -> RunSummary {
        RunSummary {
            id: run.id,
            workflow: run.workflow,
            status: run.status,
            revision: run.revision,
            trigger: run.trigger,
            parent: run.parent,
            created_at: run.created_at,
            started_at: run.started_at,
            finished_at: run.finished_at,
            error: run.error,
        }
    }
}

/// One page of runs, newest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RunList {
    pub runs: Vec<RunSummary>,
    /// Pass as `after` to get the next page; `null` on the last page.
    pub next: Option<String>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RunListQuery {
    /// Only runs of this workflow.
    pub workflow: Option<String>,
    /// Only runs with this status.
    #[param(value_type = Option<RunStatus>)]
    pub status: Option<String>,
    /// Only runs whose `trigger.event` is this: `api`, `cli` (local runs), `cron`, `rerun`,
    /// `resume`, a webhook's event (`push`, `pull_request`, …).
    pub trigger: Option<String>,
    /// At most this many runs (default 50, at most 1000).
    pub limit: Option<i64>,
    /// The `next` of the previous page.
    pub after: Option<String>,
}

/// One attempt of a step.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AttemptView {
    pub attempt: i64,
    pub status: StepStatus,
    pub exit_code: Option<i64>,
    pub error: Option<String>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
}

/// A step: the SPEC §5 fields, plus its `key`, its inputs and every attempt.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StepView {
    pub stage: String,
    pub action: String,
    pub status: StepStatus,
    pub attempts: i64,
    pub exit_code: Option<i64>,
    #[schema(value_type = Object)]
    pub outputs: Value,
    /// The inputs of its last launch (`{}` before it starts; seed-format jobs have none): the
    /// value of a `secret`-typed input is `***`, and every known secret inside another value is
    /// masked as `***` too.
    #[schema(value_type = Object)]
    pub inputs: Value,
    pub error: Option<String>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// Unique in the run (the action name, or `act[os=a]` for a matrix copy).
    pub key: String,
    pub attempts_detail: Vec<AttemptView>,
    /// A `reused` step (a resumed run took its result from an earlier run): the run it ran in.
    pub reused_from: Option<String>,
}

impl StepView {
    /// A step with its attempts (found among `attempts`, which may hold other steps' too).
    pub fn of(s: StepRecord, attempts: &[AttemptRecord]) -> StepView {
        StepView {
            attempts_detail: attempts
                .iter()
                .filter(|a| a.step_key == s.key)
                .map(|a| AttemptView {
                    attempt: a.attempt,
                    status: a.status,
                    exit_code: a.exit_code,
                    error: a.error.clone(),
                    started_at: a.started_at.clone(),
                    finished_at: a.finished_at.clone(),
                })
                .collect(),
            stage: s.stage,
            action: s.action,
            status: s.status,
            attempts: s.attempts,
            exit_code: s.exit_code,
            outputs: s.outputs,
            inputs: s.inputs,
            error: s.error,
            started_at: s.started_at,
            finished_at: s.finished_at,
            key: s.key,
            reused_from: s.reused_from,
        }
    }
}

/// A run: the SPEC §5 run JSON (`containerops run --output json`), plus where it came from.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RunView {
    pub id: String,
    pub workflow: String,
    pub status: RunStatus,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    #[schema(value_type = Object)]
    pub outputs: Value,
    pub steps: Vec<StepView>,
    /// The run's inputs; the value of a `secret`-typed input is `***` (it is kept encrypted and
    /// only ever given to the steps that use it).
    #[schema(value_type = Object)]
    pub inputs: Value,
    pub revision: Option<i64>,
    /// `{"event": "api"}`, or what a webhook or cron tick made (`event`, `delivery`, `payload`, …).
    #[schema(value_type = Object)]
    pub trigger: Value,
    /// The run this one reruns or resumes.
    pub parent: Option<String>,
    pub created_at: String,
    /// Why the run could not be carried out as planned (steps' own errors are on the steps).
    pub error: Option<String>,
}

impl RunView {
    pub fn of(detail: RunDetail) -> RunView {
        let RunDetail {
            run,
            steps,
            attempts,
        } = detail;
        let steps = steps
            .into_iter()
            .map(|s| StepView::of(s, &attempts))
            .collect();
        RunView {
            id: run.id,
            workflow: run.workflow,
            status: run.status,
            started_at: run.started_at,
            finished_at: run.finished_at,
            outputs: run.outputs,
            steps,
            inputs: run.inputs,
            revision: run.revision,
            trigger: run.trigger,
            parent: run.parent,
            created_at: run.created_at,
            error: run.error,
        }
    }
}

/// Start a run of a stored workflow.
#[utoipa::path(
    post,
    operation_id = "startWorkflowRun",
    path = "/api/v1/workflows/{name}/runs",
    tag = "runs",
    params(("name" = String, Path, description = "Workflow name")),
    request_body(content = StartRun, description = "Inputs and revision (an empty body: defaults, latest revision)"),
    responses(
        (status = 201, description = "Queued", body = RunCreated),
        (status = 400, description = "Invalid inputs (`invalid_inputs`, each problem in details)", body = ErrorBody),
        (status = 404, description = "No such workflow or revision", body = ErrorBody),
    )
)]
pub async fn start_named(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<StartRun>,
) -> Result<(StatusCode, Json<RunCreated>), ApiError> {
    check_name(NameKind::Workflow, &name)?;
    submit(&state, name, body.inputs, body.revision).await
}

/// Start a run of a stored workflow (the workflow named in the body).
#[utoipa::path(
    post,
    operation_id = "startRun",
    path = "/api/v1/runs",
    tag = "runs",
    request_body = StartRunOf,
    responses(
        (status = 201, description = "Queued", body = RunCreated),
        (status = 400, description = "Invalid inputs (`invalid_inputs`, each problem in details)", body = ErrorBody),
        (status = 404, description = "No such workflow or revision", body = ErrorBody),
    )
)]
pub async fn start(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<StartRunOf>,
) -> Result<(StatusCode, Json<RunCreated>), ApiError> {
    check_name(NameKind::Workflow, &body.workflow)?;
    submit(&state, body.workflow, body.inputs, body.revision).await
}

async fn submit(
    state: &AppState,
    workflow: String,
    inputs: IndexMap<String, Value>,
    revision: Option<i64>,
) -> Result<(StatusCode, Json<RunCreated>), ApiError> {
    let submitted = state
        .coordinator()
        .submit(RunRequest {
            workflow: workflow.clone(),
            revision,
            inputs,
            trigger: json!({"event": "api"}),
            delivery: None,
        })
        .await;
    match submitted {
        Ok(submitted) => Ok(created(submitted)),
        Err(CoordinatorError::NotFound(_)) => {
            Err(super::workflows::revision_not_found(state, &workflow, revision).await)
        }
        Err(e) => Err(e.into()),
    }
}

fn created(submitted: Submitted) -> (StatusCode, Json<RunCreated>) {
    (
        StatusCode::CREATED,
        Json(RunCreated {
            id: submitted.run_id,
            status: RunStatus::Queued,
        }),
    )
}

/// Runs, newest first, with filters and keyset pagination.
#[utoipa::path(
    get,
    operation_id = "listRuns",
    path = "/api/v1/runs",
    tag = "runs",
    params(RunListQuery),
    responses((status = 200, body = RunList), (status = 400, body = ErrorBody))
)]
pub async fn list(
    State(state): State<AppState>,
    Query(query): Query<RunListQuery>,
) -> Result<Json<RunList>, ApiError> {
    let status = query
        .status
        .as_deref()
        .map(str::parse::<RunStatus>)
        .transpose()
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "limit must be between 1 and {MAX_PAGE}, not {limit}"
        )));
    }
    let after = query.after.filter(|a| !a.is_empty());
    let filter = RunFilter {
        workflow: query.workflow.filter(|w| !w.is_empty()),
        status,
        trigger: query.trigger.filter(|t| !t.is_empty()),
        limit: Some(limit + 1),
    };
    let mut runs = state
        .store()
        .list_runs_after(&filter, after.as_deref())
        .await
        .or_not_found(|| {
            format!(
                "no run {:?} to continue after (pass the `next` of the previous page)",
                after.clone().unwrap_or_default()
            )
        })?;
    let more = runs.len() as i64 > limit;
    runs.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let next = if more {
        runs.last().map(|r| r.id.clone())
    } else {
        None
    };
    Ok(Json(RunList {
        runs: runs.into_iter().map(RunSummary::of).collect(),
        next,
    }))
}

/// A run's full id from an id or unique prefix (404 / 400 otherwise).
pub async fn resolve_run(state: &AppState, id: &str) -> Result<String, ApiError> {
    Ok(load_run(state, id).await?.run.id)
}

/// A run with its steps and attempts, by id or unique prefix.
pub async fn load_run(state: &AppState, id: &str) -> Result<RunDetail, ApiError> {
    if id.is_empty() || id.len() > 64 {
        return Err(ApiError::not_found(format!("no run {id:?}")));
    }
    state
        .store()
        .get_run(id)
        .await
        .or_not_found(|| format!("no run {id:?}"))
}

/// A run with its step tree, attempts, outputs and errors.
#[utoipa::path(
    get,
    operation_id = "getRun",
    path = "/api/v1/runs/{id}",
    tag = "runs",
    params(("id" = String, Path, description = "Run id (or a unique prefix)")),
    responses((status = 200, body = RunView), (status = 404, body = ErrorBody))
)]
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<RunView>, ApiError> {
    Ok(Json(RunView::of(load_run(&state, &id).await?)))
}

/// Cancel a run (a queued one at once, a running one through the server that runs it).
#[utoipa::path(
    post,
    operation_id = "cancelRun",
    path = "/api/v1/runs/{id}/cancel",
    tag = "runs",
    params(("id" = String, Path, description = "Run id (or a unique prefix)")),
    responses(
        (status = 202, description = "Cancel requested", body = CancelAccepted),
        (status = 400, description = "The run cannot be cancelled", body = ErrorBody),
        (status = 404, body = ErrorBody),
    )
)]
pub async fn cancel(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<CancelAccepted>), ApiError> {
    let id = resolve_run(&state, &id).await?;
    state.coordinator().cancel(&id).await?;
    tracing::info!(run = %id, "cancel requested");
    Ok((
        StatusCode::ACCEPTED,
        Json(CancelAccepted {
            id,
            cancel_requested: true,
        }),
    ))
}

/// A new run with the same revision, inputs and trigger.
#[utoipa::path(
    post,
    operation_id = "rerunRun",
    path = "/api/v1/runs/{id}/rerun",
    tag = "runs",
    params(("id" = String, Path, description = "Run id (or a unique prefix)")),
    request_body(content = Option<RunAgain>, description = "Another revision to run (an empty body: the run's own)"),
    responses(
        (status = 201, description = "Queued", body = RunCreated),
        (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody),
    )
)]
pub async fn rerun(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RunAgain>,
) -> Result<(StatusCode, Json<RunCreated>), ApiError> {
    let run = load_run(&state, &id).await?.run;
    let again = state.coordinator().rerun(&run.id, body.revision).await;
    again_answer(&state, &run, body.revision, again).await
}

/// The answer to a rerun or resume: 201, or the error (a missing revision named as such).
async fn again_answer(
    state: &AppState,
    run: &RunRecord,
    revision: Option<i64>,
    again: Result<Submitted, CoordinatorError>,
) -> Result<(StatusCode, Json<RunCreated>), ApiError> {
    match again {
        Ok(submitted) => Ok(created(submitted)),
        Err(CoordinatorError::NotFound(_)) if revision.is_some() => {
            Err(super::workflows::revision_not_found(state, &run.workflow, revision).await)
        }
        Err(e) => Err(e.into()),
    }
}

/// Resume from failure: a new run that reuses the results of the steps that succeeded (as
/// `reused` steps naming the run they ran in) and runs the rest. With another `revision`, only
/// steps whose definition did not change are reused.
#[utoipa::path(
    post,
    operation_id = "resumeRun",
    path = "/api/v1/runs/{id}/resume",
    tag = "runs",
    params(("id" = String, Path, description = "Run id (or a unique prefix)")),
    request_body(content = Option<RunAgain>, description = "Another revision to run (an empty body: the run's own)"),
    responses(
        (status = 201, description = "Queued", body = RunCreated),
        (status = 400, description = "The run succeeded or is not over, or its inputs do not fit the revision (`invalid_inputs`)", body = ErrorBody),
        (status = 404, description = "No such run or revision", body = ErrorBody),
    )
)]
pub async fn resume(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RunAgain>,
) -> Result<(StatusCode, Json<RunCreated>), ApiError> {
    let run = load_run(&state, &id).await?.run;
    let again = state.coordinator().resume(&run.id, body.revision).await;
    again_answer(&state, &run, body.revision, again).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detail() -> RunDetail {
        RunDetail {
            run: RunRecord {
                id: "01run".into(),
                workflow: "hello".into(),
                status: RunStatus::Failed,
                inputs: json!({"who": "x"}),
                secret_inputs: None,
                outputs: json!({}),
                error: None,
                created_at: "2026-01-01T00:00:00.000Z".into(),
                started_at: Some("2026-01-01T00:00:01.000Z".into()),
                finished_at: Some("2026-01-01T00:00:02.000Z".into()),
                source_path: "workflow.yaml".into(),
                source: "name: hello".into(),
                revision: Some(3),
                trigger: json!({"event": "api"}),
                parent: Some("01parent".into()),
                max_concurrency: None,
            },
            steps: vec![StepRecord {
                run_id: "01run".into(),
                position: 0,
                key: "say".into(),
                stage: "greet".into(),
                action: "say".into(),
                status: StepStatus::Failed,
                attempts: 2,
                exit_code: Some(3),
                outputs: json!({"greeting": "hi"}),
                inputs: json!({"who": "x"}),
                error: Some("exit code 3".into()),
                started_at: Some("2026-01-01T00:00:01.000Z".into()),
                finished_at: Some("2026-01-01T00:00:02.000Z".into()),
                reused_from: None,
            }],
            attempts: (1..=2)
                .map(|n| AttemptRecord {
                    run_id: "01run".into(),
                    step_key: "say".into(),
                    attempt: n,
                    status: StepStatus::Failed,
                    container_id: Some("c".into()),
                    exit_code: Some(3),
                    error: Some("exit code 3".into()),
                    started_at: None,
                    finished_at: None,
                })
                .collect(),
        }
    }

    /// Every field of the SPEC §5 run JSON is in the API's run view, with the same value.
    #[test]
    fn the_run_view_extends_the_spec_run_json() {
        let spec = co_runner::report::run_json(&detail());
        let view = serde_json::to_value(RunView::of(detail())).unwrap();
        fn assert_subset(small: &Value, big: &Value, at: &str) {
            match (small, big) {
                (Value::Object(s), Value::Object(b)) => {
                    for (k, v) in s {
                        let inner = b.get(k).unwrap_or_else(|| panic!("{at}.{k} missing"));
                        assert_subset(v, inner, &format!("{at}.{k}"));
                    }
                }
                (Value::Array(s), Value::Array(b)) => {
                    assert_eq!(s.len(), b.len(), "{at}");
                    for (i, (x, y)) in s.iter().zip(b).enumerate() {
                        assert_subset(x, y, &format!("{at}[{i}]"));
                    }
                }
                _ => assert_eq!(small, big, "{at}"),
            }
        }
        assert_subset(&spec, &view, "run");
        assert_eq!(view["revision"], 3);
        assert_eq!(view["parent"], "01parent");
        assert_eq!(view["inputs"], json!({"who": "x"}));
        assert_eq!(view["steps"][0]["key"], "say");
        assert_eq!(view["steps"][0]["attempts_detail"][1]["attempt"], 2);
        assert_eq!(
            view["steps"][0]["attempts_detail"][0]["error"],
            "exit code 3"
        );
    }
}

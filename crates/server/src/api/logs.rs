//! Run logs: a page of stored lines, and a live Server-Sent Events stream that resumes after
//! `Last-Event-ID` without gaps or duplicates.
//!
//! The stream reads the store in a loop: every stored line (seq > the last one sent, in seq
//! order; the store's seq is gapless and committed in order), then, when there is nothing new,
//! it waits for the coordinator's notification (this server runs the run) or a short poll
//! interval (another server runs it). The run's status is read before the last read of the
//! lines: the driver commits every line before the run's final status, so once a final status is
//! seen, one more read gets everything, and `event: end` follows.

use std::collections::HashMap;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::Json;
use co_store::{LogRecord, RunDetail, RunStatus, StepRecord};
use futures::Stream;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use utoipa::{IntoParams, ToSchema};

use super::runs::{load_run, RunSummary, StepView};
use crate::app::AppState;
use crate::error::{ApiError, ErrorBody};

/// Most lines one page returns.
pub const MAX_LINES: i64 = 10_000;
/// Lines per page when `limit` is not given.
pub const DEFAULT_LINES: i64 = 1000;
/// Lines read from the store at once by the stream.
const STREAM_BATCH: i64 = 500;
/// How often the stream looks at the store when another server runs the run.
const POLL: Duration = Duration::from_millis(250);
/// How long the stream waits for a notification before looking at the store anyway (the run's
/// end does not always come with a new line).
const NOTIFIED_FALLBACK: Duration = Duration::from_millis(500);
/// Keep-alive comment interval.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// One stored (already masked) log line.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LogLineView {
    /// Per-run sequence number: 1, 2, 3, … without gaps.
    pub seq: i64,
    /// The step key.
    pub step: String,
    /// The step's action as shown.
    pub action: String,
    pub attempt: i64,
    /// `stdout` or `stderr`.
    pub stream: String,
    pub ts: String,
    pub text: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LogPage {
    pub lines: Vec<LogLineView>,
    /// Pass as `after` for the lines that follow (the last `seq` returned, or `after` if none).
    pub next_after: i64,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogQuery {
    /// Only lines of this step key or action (an action selects all its matrix copies).
    pub step: Option<String>,
    /// Only lines with `seq` greater than this (default 0).
    pub after: Option<i64>,
    /// At most this many lines (default 1000, at most 10000).
    pub limit: Option<i64>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamQuery {
    /// Only lines of this step key or action.
    pub step: Option<String>,
    /// Start after this `seq` (the `Last-Event-ID` header wins if both are given).
    pub after: Option<i64>,
    /// Also send `step` events (every step once at the start, then each change) and `run`
    /// events (at the start and when the run's status changes): a live run page needs no
    /// polling.
    pub steps: Option<bool>,
}

/// Step key → action label, from a run's steps.
fn actions_of(detail: &RunDetail) -> HashMap<String, String> {
    detail
        .steps
        .iter()
        .map(|s| (s.key.clone(), s.action.clone()))
        .collect()
}

fn view(line: LogRecord, actions: &HashMap<String, String>) -> LogLineView {
    let action = actions.get(&line.step_key).cloned().unwrap_or_else(|| {
        line.step_key
            .split_once('[')
            .map_or(line.step_key.as_str(), |(a, _)| a)
            .to_string()
    });
    LogLineView {
        seq: line.seq,
        step: line.step_key,
        action,
        attempt: line.attempt,
        stream: line.stream,
        ts: line.ts,
        text: line.text,
    }
}

/// Stored log lines of a run (or of one step), in order.
#[utoipa::path(
    get,
    operation_id = "getRunLogs",
    path = "/api/v1/runs/{id}/logs",
    tag = "logs",
    params(("id" = String, Path, description = "Run id (or a unique prefix)"), LogQuery),
    responses((status = 200, body = LogPage), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody))
)]
pub async fn page(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<LogQuery>,
) -> Result<Json<LogPage>, ApiError> {
    let limit = query.limit.unwrap_or(DEFAULT_LINES);
    if !(1..=MAX_LINES).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "limit must be between 1 and {MAX_LINES}, not {limit}"
        )));
    }
    let after = query.after.unwrap_or(0).max(0);
    let detail = load_run(&state, &id).await?;
    let actions = actions_of(&detail);
    let step = query.step.as_deref().filter(|s| !s.is_empty());
    let lines = state
        .store()
        .logs(&detail.run.id, step, after, limit)
        .await?;
    let next_after = lines.last().map_or(after, |l| l.seq);
    Ok(Json(LogPage {
        lines: lines.into_iter().map(|l| view(l, &actions)).collect(),
        next_after,
    }))
}

/// Follow a run's log live (Server-Sent Events).
///
/// Each line is `id: <seq>`, `event: log`, `data: <line JSON>`; after the run is over and every
/// line was sent: `event: end`, `data: {"status": "<run status>"}`. Reconnect with
/// `Last-Event-ID` (or `?after=`) to continue without gaps or duplicates.
///
/// With `?steps=true` also `event: step` (`data`: the step as in `GET /api/v1/runs/{id}`
/// `steps[]`) for every step at the start and whenever one changes, and `event: run` (`data`: the
/// run as in `GET /api/v1/runs`) at the start and when its status changes. They carry no `id:`,
/// so `Last-Event-ID` stays the last log line's seq; after a reconnect every step is sent again.
#[utoipa::path(
    get,
    operation_id = "streamRunLogs",
    path = "/api/v1/runs/{id}/logs/stream",
    tag = "logs",
    params(
        ("id" = String, Path, description = "Run id (or a unique prefix)"),
        ("Last-Event-ID" = Option<i64>, Header, description = "Continue after this seq"),
        StreamQuery,
    ),
    responses(
        (status = 200, description = "An event stream of `log` events and a final `end` event", content_type = "text/event-stream", body = String),
        (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody),
    )
)]
pub async fn stream(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<StreamQuery>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let header_after = match headers.get("last-event-id") {
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|s| s.trim().parse::<i64>().ok())
                .ok_or_else(|| {
                    ApiError::bad_request("Last-Event-ID must be the seq of a log line")
                })?,
        ),
        None => None,
    };
    let after = header_after.or(query.after).unwrap_or(0).max(0);
    let detail = load_run(&state, &id).await?;
    let (tx, mut rx) = mpsc::channel::<Event>(64);
    let follower = Follower {
        actions: actions_of(&detail),
        run_id: detail.run.id,
        step: query.step.filter(|s| !s.is_empty()),
        after,
        state,
        tx,
        changes: (query.steps == Some(true)).then(Changes::default),
    };
    tokio::spawn(follower.run());
    let events = futures::stream::poll_fn(move |cx| rx.poll_recv(cx).map(|e| e.map(Ok)));
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}

/// The task behind one event stream; ends when the run is over or the client is gone.
struct Follower {
    state: AppState,
    run_id: String,
    step: Option<String>,
    after: i64,
    actions: HashMap<String, String>,
    tx: mpsc::Sender<Event>,
    /// What the client was last sent about the run and its steps (`?steps=true`).
    changes: Option<Changes>,
}

/// The run and steps as last sent in `run` and `step` events.
#[derive(Default)]
struct Changes {
    run: Option<(RunStatus, Option<String>, Option<String>)>,
    steps: HashMap<String, (StepRecord, usize)>,
}

/// Why following stopped early.
enum Stop {
    ClientGone,
    Failed(String),
}

impl Follower {
    async fn run(mut self) {
        match self.follow().await {
            Ok(()) | Err(Stop::ClientGone) => {}
            Err(Stop::Failed(message)) => {
                tracing::warn!(run = %self.run_id, error = %message, "log stream failed");
                let data = serde_json::json!({ "message": message }).to_string();
                let _ = self
                    .tx
                    .send(Event::default().event("error").data(data))
                    .await;
            }
        }
    }

    async fn follow(&mut self) -> Result<(), Stop> {
        let mut notifications = None;
        // Subscribed before the first look, so a run that starts (or ends) here in between wakes
        // this stream at once instead of after a poll interval.
        let mut activity = self.state.coordinator().run_activity();
        let stopping = self.state.shutdown_token();
        loop {
            self.send_new_lines().await?;
            let detail = self
                .state
                .store()
                .get_run(&self.run_id)
                .await
                .map_err(|e| Stop::Failed(e.to_string()))?;
            self.send_changes(&detail).await?;
            if detail.run.status.is_finished() {
                self.actions = actions_of(&detail);
                // Every line was committed before the final status: this read gets the rest.
                self.send_new_lines().await?;
                let data = serde_json::json!({ "status": detail.run.status }).to_string();
                return self
                    .tx
                    .send(Event::default().event("end").data(data))
                    .await
                    .map_err(|_| Stop::ClientGone);
            }
            if notifications.is_none() {
                notifications = self.state.coordinator().log_notifications(&self.run_id);
            }
            match notifications.as_mut() {
                Some(rx) => {
                    tokio::select! {
                        changed = rx.changed() => {
                            if changed.is_err() {
                                notifications = None;
                            }
                        }
                        _ = tokio::time::sleep(NOTIFIED_FALLBACK) => {}
                        _ = self.tx.closed() => return Err(Stop::ClientGone),
                        _ = stopping.cancelled() => return Err(Stop::ClientGone),
                    }
                }
                None => {
                    tokio::select! {
                        _ = tokio::time::sleep(POLL) => {}
                        _ = wait_for_activity(&mut activity, &self.run_id) => {}
                        _ = self.tx.closed() => return Err(Stop::ClientGone),
                        _ = stopping.cancelled() => return Err(Stop::ClientGone),
                    }
                }
            }
        }
    }

    /// `run` and `step` events for what changed since the last call (everything the first time).
    async fn send_changes(&mut self, detail: &RunDetail) -> Result<(), Stop> {
        let Some(changes) = self.changes.as_mut() else {
            return Ok(());
        };
        let mut events = Vec::new();
        let run = &detail.run;
        let now = (run.status, run.started_at.clone(), run.finished_at.clone());
        if changes.run.as_ref() != Some(&now) {
            let data = serde_json::to_string(&RunSummary::of(run.clone()))
                .map_err(|e| Stop::Failed(e.to_string()))?;
            events.push(Event::default().event("run").data(data));
            changes.run = Some(now);
        }
        for step in &detail.steps {
            let attempts = detail
                .attempts
                .iter()
                .filter(|a| a.step_key == step.key)
                .count();
            let seen = changes.steps.get(&step.key);
            if seen.is_some_and(|(s, n)| s == step && *n == attempts) {
                continue;
            }
            let data = serde_json::to_string(&StepView::of(step.clone(), &detail.attempts))
                .map_err(|e| Stop::Failed(e.to_string()))?;
            events.push(Event::default().event("step").data(data));
            changes
                .steps
                .insert(step.key.clone(), (step.clone(), attempts));
        }
        for event in events {
            self.tx.send(event).await.map_err(|_| Stop::ClientGone)?;
        }
        Ok(())
    }

    /// Send every stored line after `self.after`.
    async fn send_new_lines(&mut self) -> Result<(), Stop> {
        loop {
            let lines = self
                .state
                .store()
                .logs(&self.run_id, self.step.as_deref(), self.after, STREAM_BATCH)
                .await
                .map_err(|e| Stop::Failed(e.to_string()))?;
            let count = lines.len();
            if lines
                .iter()
                .any(|l| !self.actions.contains_key(&l.step_key))
            {
                if let Ok(detail) = self.state.store().get_run(&self.run_id).await {
                    self.actions = actions_of(&detail);
                }
            }
            for line in lines {
                let seq = line.seq;
                let data = serde_json::to_string(&view(line, &self.actions))
                    .map_err(|e| Stop::Failed(e.to_string()))?;
                let event = Event::default().id(seq.to_string()).event("log").data(data);
                self.tx.send(event).await.map_err(|_| Stop::ClientGone)?;
                self.after = seq;
            }
            if (count as i64) < STREAM_BATCH {
                return Ok(());
            }
        }
    }
}

/// Until run `run_id` starts or stops being driven on this server (or activity was missed).
async fn wait_for_activity(activity: &mut tokio::sync::broadcast::Receiver<String>, run_id: &str) {
    loop {
        match activity.recv().await {
            Ok(id) if id == run_id => return,
            Ok(_) => {}
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => return,
            Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                std::future::pending::<()>().await
            }
        }
    }
}

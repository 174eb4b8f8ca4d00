//! Prometheus metrics: the global recorder (installed once per process), the metric names and
//! their descriptions, and the HTTP latency middleware.
//!
//! Metrics (all recorded with the `metrics` macros):
//! - `containerops_http_request_duration_seconds{method,route,status}` (histogram): API latency;
//!   `route` is the matched route template (`/api/v1/runs/{id}`), never the raw path.
//! - `containerops_runs_total{status}` (counter): runs that reached a final status (coordinator).
//! - `containerops_step_duration_seconds` (histogram): step attempt durations (coordinator).
//! - `containerops_queue_depth` (gauge): runs waiting as `queued` (set by the coordinator, and
//!   from the store at every scrape).
//! - `containerops_runs_queued_total`, `containerops_runs_recovered_total` (counters): runs
//!   queued through this server, runs it recovered after their server stopped (coordinator).

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use co_store::RunStatus;
use metrics::Unit;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

pub const HTTP_REQUEST_DURATION: &str = "containerops_http_request_duration_seconds";
pub const RUNS_TOTAL: &str = "containerops_runs_total";
pub const STEP_DURATION: &str = "containerops_step_duration_seconds";
pub const QUEUE_DEPTH: &str = "containerops_queue_depth";
pub const RUNS_QUEUED_TOTAL: &str = "containerops_runs_queued_total";
pub const RUNS_RECOVERED_TOTAL: &str = "containerops_runs_recovered_total";

/// Histogram buckets (seconds) of the `*_duration_seconds` metrics: 1 ms … 1 h.
const BUCKETS: [f64; 17] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    300.0, 3600.0,
];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Install the Prometheus recorder as the process's global `metrics` recorder (first call only)
/// and describe the metrics. `None` if it could not be installed.
pub fn install() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = match PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("duration_seconds".into()), &BUCKETS)
            {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(error = %e, "metrics buckets");
                    PrometheusBuilder::new()
                }
            };
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            if let Err(e) = metrics::set_global_recorder(recorder) {
                tracing::warn!(
                    error = %e,
                    "another metrics recorder is installed; /metrics will not show this process's metrics"
                );
            }
            describe();
            Some(handle)
        })
        .as_ref()
}

/// The HELP lines of every metric this server exports.
fn describe() {
    metrics::describe_histogram!(
        HTTP_REQUEST_DURATION,
        Unit::Seconds,
        "Latency of API requests, by method, matched route template and status code"
    );
    metrics::describe_counter!(
        RUNS_TOTAL,
        Unit::Count,
        "Runs that reached a final status, by status"
    );
    metrics::describe_histogram!(
        STEP_DURATION,
        Unit::Seconds,
        "Duration of step attempts, from container start to exit"
    );
    metrics::describe_gauge!(
        QUEUE_DEPTH,
        Unit::Count,
        "Runs waiting to start (status queued)"
    );
    metrics::describe_counter!(
        RUNS_QUEUED_TOTAL,
        Unit::Count,
        "Runs queued through this server"
    );
    metrics::describe_counter!(
        RUNS_RECOVERED_TOTAL,
        Unit::Count,
        "Runs this server recovered after the server that ran them stopped"
    );
    // The counters exist (at 0) from the start, so they are exported before the first run.
    for status in RunStatus::ALL.iter().filter(|s| s.is_finished()) {
        metrics::counter!(RUNS_TOTAL, "status" => status.as_str()).increment(0);
    }
    metrics::counter!(RUNS_QUEUED_TOTAL).increment(0);
    metrics::counter!(RUNS_RECOVERED_TOTAL).increment(0);
}

/// The Prometheus text exposition of every metric.
pub fn render() -> Option<String> {
    let handle = install()?;
    handle.run_upkeep();
    Some(handle.render())
}

/// Middleware: records [`HTTP_REQUEST_DURATION`] for every request.
pub async fn track(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_string();
    let route = crate::app::route_of(&request);
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::histogram!(
        HTTP_REQUEST_DURATION,
        "method" => method,
        "route" => route,
        "status" => status
    )
    .record(started.elapsed().as_secs_f64());
    response
}

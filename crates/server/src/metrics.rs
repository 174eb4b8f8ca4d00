//! Prometheus metrics: the global recorder (installed once per process), every exported family
//! ([`FAMILIES`]: name, type, labels, meaning — the one list the docs, the Grafana dashboard's
//! test and the scrape test check against), the recording helpers the coordinator calls, the
//! HTTP middleware, and the `process_*` families read from `/proc` at every scrape ([`process`]).
//!
//! Label values are bounded: statuses are the typed words of `co-status`, `route` is the matched
//! route template (`/api/v1/runs/{id}`, or `unmatched`), never the raw path, and `method` is one
//! of the standard methods or `other`.

mod process;

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use co_status::{RunStatus, StepStatus};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

pub const HTTP_REQUESTS_TOTAL: &str = "containerops_http_requests_total";
pub const HTTP_REQUEST_DURATION: &str = "containerops_http_request_duration_seconds";
pub const RUNS_TOTAL: &str = "containerops_runs_total";
pub const RUN_DURATION: &str = "containerops_run_duration_seconds";
pub const RUN_QUEUE_WAIT: &str = "containerops_run_queue_wait_seconds";
pub const STEPS_TOTAL: &str = "containerops_steps_total";
pub const STEP_DURATION: &str = "containerops_step_duration_seconds";
pub const RUNS_RUNNING: &str = "containerops_runs_running";
pub const QUEUE_DEPTH: &str = "containerops_queue_depth";
pub const RUNS_QUEUED_TOTAL: &str = "containerops_runs_queued_total";
pub const RUNS_RECOVERED_TOTAL: &str = "containerops_runs_recovered_total";
pub const BUILD_INFO: &str = "containerops_build_info";

/// The server's version (the workspace version), the `version` label of [`BUILD_INFO`].
pub const BUILD_VERSION: &str = env!("CARGO_PKG_VERSION");
/// The git commit the server was built from, the `commit` label of [`BUILD_INFO`]: set by
/// `build.rs` (release builds: `git rev-parse HEAD`; `CONTAINEROPS_COMMIT` at build time wins;
/// `unknown` when neither is available, and in debug builds without `CONTAINEROPS_COMMIT`).
pub const BUILD_COMMIT: &str = env!("CONTAINEROPS_BUILD_COMMIT");

/// The type of a metric family, as in the exposition format's `# TYPE` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    Counter,
    Gauge,
    Histogram,
}

impl MetricKind {
    /// The word of the `# TYPE` line.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
            MetricKind::Histogram => "histogram",
        }
    }
}

/// One metric family `/metrics` exports.
#[derive(Debug, Clone, Copy)]
pub struct MetricFamily {
    pub name: &'static str,
    pub kind: MetricKind,
    /// The labels of its series (a histogram's series also have `le`).
    pub labels: &'static [&'static str],
    /// Its `# HELP` text.
    pub help: &'static str,
}

impl MetricFamily {
    /// The names its samples carry: the name itself, or for a histogram `NAME_bucket`,
    /// `NAME_sum` and `NAME_count`.
    pub fn sample_names(&self) -> Vec<String> {
        match self.kind {
            MetricKind::Histogram => ["_bucket", "_sum", "_count"]
                .iter()
                .map(|suffix| format!("{}{suffix}", self.name))
                .collect(),
            MetricKind::Counter | MetricKind::Gauge => vec![self.name.to_string()],
        }
    }
}

const fn family(
    name: &'static str,
    kind: MetricKind,
    labels: &'static [&'static str],
    help: &'static str,
) -> MetricFamily {
    MetricFamily {
        name,
        kind,
        labels,
        help,
    }
}

use MetricKind::{Counter, Gauge, Histogram};

/// Every family `/metrics` exports (on Linux; the `process_*` ones only there).
pub const FAMILIES: &[MetricFamily] = &[
    family(
        HTTP_REQUESTS_TOTAL,
        Counter,
        &["method", "route", "status"],
        "API requests answered, by method, matched route template and status code",
    ),
    family(
        HTTP_REQUEST_DURATION,
        Histogram,
        &["method", "route", "status"],
        "Time to answer API requests (until the response headers), by method, matched route \
         template and status code",
    ),
    family(
        RUNS_TOTAL,
        Counter,
        &["status"],
        "Runs that reached a final status (succeeded, failed, cancelled) on this server",
    ),
    family(
        RUN_DURATION,
        Histogram,
        &["status"],
        "Duration of runs this server finished, from their start to their end, by final status",
    ),
    family(
        RUN_QUEUE_WAIT,
        Histogram,
        &[],
        "Time runs waited as queued before this server started them",
    ),
    family(
        STEPS_TOTAL,
        Counter,
        &["status"],
        "Steps that reached a final status (succeeded, failed, skipped, cancelled) on this server",
    ),
    family(
        STEP_DURATION,
        Histogram,
        &["status"],
        "Duration of steps that ran, from the launch of their first attempt to their end, by \
         final status",
    ),
    family(RUNS_RUNNING, Gauge, &[], "Runs this server is driving now"),
    family(
        QUEUE_DEPTH,
        Gauge,
        &[],
        "Runs waiting to start (status queued), on all servers of the database",
    ),
    family(
        RUNS_QUEUED_TOTAL,
        Counter,
        &[],
        "Runs queued through this server",
    ),
    family(
        RUNS_RECOVERED_TOTAL,
        Counter,
        &[],
        "Runs this server recovered after the server that ran them stopped",
    ),
    family(
        BUILD_INFO,
        Gauge,
        &["version", "commit"],
        "Always 1; the labels say which build of the server this is",
    ),
    family(
        process::CPU_SECONDS,
        Counter,
        &[],
        "Total user and system CPU time spent in seconds",
    ),
    family(
        process::RESIDENT_MEMORY,
        Gauge,
        &[],
        "Resident memory size in bytes",
    ),
    family(
        process::VIRTUAL_MEMORY,
        Gauge,
        &[],
        "Virtual memory size in bytes",
    ),
    family(
        process::OPEN_FDS,
        Gauge,
        &[],
        "Number of open file descriptors",
    ),
    family(
        process::MAX_FDS,
        Gauge,
        &[],
        "Maximum number of open file descriptors (the soft limit)",
    ),
    family(
        process::START_TIME,
        Gauge,
        &[],
        "Start time of the process since the Unix epoch in seconds",
    ),
];

/// Histogram buckets (seconds) of every histogram: 1 ms … 1 h.
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
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &BUCKETS)
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

/// The HELP lines of every family the recorder exports, and the series that exist from the
/// start (at 0), so that dashboards and alerts see them before the first run.
fn describe() {
    for f in FAMILIES.iter().filter(|f| !process::owns(f.name)) {
        match f.kind {
            Counter => metrics::describe_counter!(f.name, f.help),
            Gauge => metrics::describe_gauge!(f.name, f.help),
            Histogram => metrics::describe_histogram!(f.name, f.help),
        }
    }
    for status in RunStatus::ALL.iter().filter(|s| s.is_finished()) {
        metrics::counter!(RUNS_TOTAL, "status" => status.as_str()).increment(0);
        let _ = metrics::histogram!(RUN_DURATION, "status" => status.as_str());
    }
    for status in StepStatus::ALL.iter().filter(|s| s.is_finished()) {
        metrics::counter!(STEPS_TOTAL, "status" => status.as_str()).increment(0);
        let _ = metrics::histogram!(STEP_DURATION, "status" => status.as_str());
    }
    let _ = metrics::histogram!(RUN_QUEUE_WAIT);
    metrics::counter!(RUNS_QUEUED_TOTAL).increment(0);
    metrics::counter!(RUNS_RECOVERED_TOTAL).increment(0);
    metrics::gauge!(RUNS_RUNNING).increment(0.0);
    metrics::gauge!(BUILD_INFO, "version" => BUILD_VERSION, "commit" => BUILD_COMMIT).set(1.0);
}

/// The Prometheus text exposition of every metric.
pub fn render() -> Option<String> {
    let handle = install()?;
    handle.run_upkeep();
    let mut text = handle.render();
    process::render(&mut text);
    Some(text)
}

// ---- recording (the coordinator) ----------------------------------------------------------------

/// A run was queued through this server.
pub fn run_queued() {
    metrics::counter!(RUNS_QUEUED_TOTAL).increment(1);
}

/// This server starts driving a run: a fresh one that waited `queue_wait` (`None`: a recovered
/// run, which did not wait in the queue). The returned guard counts it in [`RUNS_RUNNING`] until
/// it is dropped.
pub fn run_started(queue_wait: Option<Duration>, recovered: bool) -> RunningGuard {
    if recovered {
        metrics::counter!(RUNS_RECOVERED_TOTAL).increment(1);
    }
    if let Some(wait) = queue_wait {
        metrics::histogram!(RUN_QUEUE_WAIT).record(wait.as_secs_f64());
    }
    metrics::gauge!(RUNS_RUNNING).increment(1.0);
    RunningGuard(())
}

/// Counts one run in [`RUNS_RUNNING`] while it lives.
pub struct RunningGuard(());

impl Drop for RunningGuard {
    fn drop(&mut self) {
        metrics::gauge!(RUNS_RUNNING).decrement(1.0);
    }
}

/// A run reached a final status on this server, after `duration` (`None`: it never started).
pub fn run_finished(status: RunStatus, duration: Option<Duration>) {
    metrics::counter!(RUNS_TOTAL, "status" => status.as_str()).increment(1);
    if let Some(duration) = duration {
        metrics::histogram!(RUN_DURATION, "status" => status.as_str())
            .record(duration.as_secs_f64());
    }
}

/// A step reached a final status on this server, after `duration` (`None`: it never ran).
pub fn step_finished(status: StepStatus, duration: Option<Duration>) {
    metrics::counter!(STEPS_TOTAL, "status" => status.as_str()).increment(1);
    if let Some(duration) = duration {
        metrics::histogram!(STEP_DURATION, "status" => status.as_str())
            .record(duration.as_secs_f64());
    }
}

/// The number of queued runs in the store.
pub fn queue_depth(queued: i64) {
    metrics::gauge!(QUEUE_DEPTH).set(queued as f64);
}

/// The time from `from` to `to` (ms since the Unix epoch); `None` if either is missing or the
/// clock went backwards.
pub fn between(from: Option<i64>, to: Option<i64>) -> Option<Duration> {
    let ms = to?.checked_sub(from?)?;
    u64::try_from(ms).ok().map(Duration::from_millis)
}

// ---- HTTP ---------------------------------------------------------------------------------------

/// Middleware: records [`HTTP_REQUESTS_TOTAL`] and [`HTTP_REQUEST_DURATION`] for every request.
pub async fn track(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(request.method());
    let route = crate::app::route_of(&request);
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    let labels = [
        ("method", method.to_string()),
        ("route", route),
        ("status", status),
    ];
    metrics::counter!(HTTP_REQUESTS_TOTAL, &labels).increment(1);
    metrics::histogram!(HTTP_REQUEST_DURATION, &labels).record(started.elapsed().as_secs_f64());
    response
}

/// The `method` label: a standard method's name, else `other` (a client cannot make up label
/// values).
fn method_label(method: &Method) -> &'static str {
    const KNOWN: [Method; 7] = [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
        Method::OPTIONS,
    ];
    KNOWN
        .iter()
        .find(|m| *m == method)
        .map_or("other", Method::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_is_listed_once_with_the_names_prometheus_expects() {
        let mut names: Vec<&str> = FAMILIES.iter().map(|f| f.name).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(names.len(), before, "a family is listed twice");
        for f in FAMILIES {
            assert!(
                f.name.starts_with("containerops_") || f.name.starts_with("process_"),
                "{}",
                f.name
            );
            assert_eq!(
                f.name.ends_with("_total"),
                f.kind == Counter,
                "counters (and only counters) end in _total: {}",
                f.name
            );
            if f.kind == Histogram {
                assert!(f.name.ends_with("_seconds"), "{}", f.name);
            }
            assert!(!f.help.contains("  "), "{}: {:?}", f.name, f.help);
        }
    }

    #[test]
    fn label_values_are_bounded() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::DELETE), "DELETE");
        let made_up = Method::from_bytes(b"BREW").unwrap();
        assert_eq!(method_label(&made_up), "other");
    }

    #[test]
    fn durations_between_stored_times() {
        assert_eq!(
            between(Some(1_000), Some(3_500)),
            Some(Duration::from_millis(2_500))
        );
        assert_eq!(between(None, Some(1)), None);
        assert_eq!(between(Some(5), None), None);
        assert_eq!(between(Some(5), Some(4)), None, "a clock that went back");
    }
}

//! `/metrics`, read by the Prometheus project's own text-format parser (`prometheus-client`,
//! from `scripts/setup-python.sh`) after a real run on the container engine: every family the
//! server declares (`co_server::METRIC_FAMILIES`) and nothing else, with its type, help and
//! labels, and values that fit what happened.

use std::collections::BTreeMap;

use co_server::METRIC_FAMILIES;
use serde_json::{json, Value};

use crate::support::{both_stores, python, TestDb, TestServer, BUSYBOX};

/// Parses the exposition text on stdin with `prometheus_client.parser` and prints the families
/// as JSON (non-finite values as strings, which JSON cannot hold).
const PARSE: &str = "import json, math, sys\n\
from prometheus_client.parser import text_string_to_metric_families\n\
def value(v):\n    return v if math.isfinite(v) else str(v)\n\
print(json.dumps([{'name': f.name, 'type': f.type, 'help': f.documentation,\n\
    'samples': [{'name': s.name, 'labels': s.labels, 'value': value(s.value)} for s in f.samples]}\n\
    for f in text_string_to_metric_families(sys.stdin.read())]))\n";

/// One sample as the parser read it.
#[derive(Debug, Clone)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// The parsed families, by the name the server declares (the parser drops a counter's `_total`).
struct Scrape {
    families: BTreeMap<String, (Value, Vec<Sample>)>,
}

impl Scrape {
    fn parse(text: &str) -> Scrape {
        let parsed = python(PARSE, text)
            .unwrap_or_else(|e| panic!("prometheus_client cannot parse /metrics:\n{e}\n{text}"));
        let parsed: Vec<Value> = serde_json::from_str(&parsed).unwrap();
        let mut families = BTreeMap::new();
        for family in parsed {
            let name = family["name"].as_str().unwrap();
            let name = match family["type"].as_str().unwrap() {
                "counter" => format!("{name}_total"),
                _ => name.to_string(),
            };
            let samples = family["samples"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| Sample {
                    name: s["name"].as_str().unwrap().to_string(),
                    labels: serde_json::from_value(s["labels"].clone()).unwrap(),
                    value: match &s["value"] {
                        Value::String(v) if v == "inf" => f64::INFINITY,
                        v => v.as_f64().unwrap(),
                    },
                })
                .collect();
            let old = families.insert(name.clone(), (family, samples));
            assert!(old.is_none(), "family {name} twice");
        }
        Scrape { families }
    }

    fn samples(&self, name: &str) -> &[Sample] {
        &self
            .families
            .get(name)
            .unwrap_or_else(|| panic!("no family {name}: {:?}", self.families.keys()))
            .1
    }

    /// The value of the one sample of `name` (a sample name: `X_count` of a histogram) whose
    /// labels include `labels`; 0 if there is none.
    fn value(&self, family: &str, sample: &str, labels: &[(&str, &str)]) -> f64 {
        let found: Vec<&Sample> = self
            .samples(family)
            .iter()
            .filter(|s| s.name == sample)
            .filter(|s| {
                labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(v))
            })
            .collect();
        assert!(found.len() <= 1, "{sample} {labels:?}: {found:?}");
        found.first().map_or(0.0, |s| s.value)
    }

    fn counter(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.value(name, name, labels)
    }

    fn gauge(&self, name: &str) -> f64 {
        self.value(name, name, &[])
    }

    fn histogram_count(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.value(name, &format!("{name}_count"), labels)
    }
}

/// Three steps in one stage: one succeeds, one fails, one is skipped by its condition.
fn metered() -> String {
    format!(
        "name: metered\nstages:\n  - name: one\n    actions:\n      \
         - name: ok\n        image: {BUSYBOX}\n        command: [\"sh\", \"-c\", \"echo fine\"]\n      \
         - name: bad\n        image: {BUSYBOX}\n        command: [\"sh\", \"-c\", \"exit 3\"]\n      \
         - name: never\n        image: {BUSYBOX}\n        if: \"1 > 2\"\n        command: [\"true\"]\n"
    )
}

async fn metrics_parse_and_count_what_happened(db: &TestDb) {
    let server = TestServer::start_docker(db).await;
    let api = server.api();
    api.apply("metered", &metered()).await;
    let id = api.start("metered", json!({})).await;
    assert_eq!(api.wait(&id).await, "failed");
    // Requests whose raw paths must not become label values.
    api.get("/api/v1/runs/01jdunknownrun")
        .await
        .expect_error(404, "not_found");
    api.get("/api/v1/no-such-endpoint-xyz")
        .await
        .expect_error(404, "not_found");
    let brew = reqwest::Method::from_bytes(b"BREW").unwrap();
    assert_eq!(api.send(api.request(brew, "/healthz")).await.status, 405);

    let scraped = api.get("/metrics").await;
    assert_eq!(scraped.status, 200);
    assert!(scraped.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = scraped.text;
    let scrape = Scrape::parse(&text);

    // Exactly the declared families, each with its type, help and labels.
    let names: Vec<&String> = scrape.families.keys().collect();
    let mut declared_names: Vec<&str> = METRIC_FAMILIES.iter().map(|f| f.name).collect();
    declared_names.sort_unstable();
    assert_eq!(names, declared_names, "{text}");
    for family in METRIC_FAMILIES {
        let (parsed, samples) = &scrape.families[family.name];
        assert_eq!(parsed["type"], family.kind.as_str(), "{}", family.name);
        assert_eq!(parsed["help"], family.help, "{}", family.name);
        for sample in samples {
            assert!(
                family.sample_names().contains(&sample.name),
                "{}: {sample:?}",
                family.name
            );
            let mut labels: Vec<&str> = sample.labels.keys().map(String::as_str).collect();
            labels.retain(|l| *l != "le");
            let mut expected = family.labels.to_vec();
            expected.sort_unstable();
            assert_eq!(labels, expected, "{}: {sample:?}", family.name);
        }
    }

    // The run and its steps, by outcome (a count of at least: other tests of this process may
    // share the recorder).
    for status in ["succeeded", "failed", "cancelled"] {
        assert!(scrape
            .samples("containerops_runs_total")
            .iter()
            .any(|s| s.labels["status"] == status));
    }
    assert!(scrape.counter("containerops_runs_total", &[("status", "failed")]) >= 1.0);
    assert!(scrape.counter("containerops_runs_queued_total", &[]) >= 1.0);
    for status in ["succeeded", "failed", "skipped"] {
        assert!(
            scrape.counter("containerops_steps_total", &[("status", status)]) >= 1.0,
            "{status}: {text}"
        );
    }
    assert!(scrape
        .samples("containerops_steps_total")
        .iter()
        .any(|s| s.labels["status"] == "cancelled"));
    // Durations: the run, the steps that ran (a skipped step has none), the wait in the queue.
    let run = "containerops_run_duration_seconds";
    assert!(
        scrape.histogram_count(run, &[("status", "failed")]) >= 1.0,
        "{text}"
    );
    assert!(scrape.value(run, &format!("{run}_sum"), &[("status", "failed")]) > 0.0);
    let step = "containerops_step_duration_seconds";
    assert!(scrape.histogram_count(step, &[("status", "succeeded")]) >= 1.0);
    assert!(scrape.histogram_count(step, &[("status", "failed")]) >= 1.0);
    assert_eq!(scrape.histogram_count(step, &[("status", "skipped")]), 0.0);
    assert!(scrape.histogram_count("containerops_run_queue_wait_seconds", &[]) >= 1.0);
    // Buckets are cumulative and end with +Inf, which holds the count.
    let buckets: Vec<&Sample> = scrape
        .samples(step)
        .iter()
        .filter(|s| s.name == format!("{step}_bucket") && s.labels["status"] == "failed")
        .collect();
    assert!(
        buckets.windows(2).all(|w| w[0].value <= w[1].value),
        "{buckets:?}"
    );
    let last = buckets.last().unwrap();
    assert_eq!(last.labels["le"], "+Inf");
    assert_eq!(
        last.value,
        scrape.histogram_count(step, &[("status", "failed")])
    );
    assert!(scrape.gauge("containerops_queue_depth") >= 0.0);
    assert!(scrape.gauge("containerops_runs_running") >= 0.0);

    // HTTP: by route template, method and status; never a raw path or a made-up method.
    let http = [
        ("method", "GET"),
        ("route", "/api/v1/runs/{id}"),
        ("status", "404"),
    ];
    assert!(
        scrape.counter("containerops_http_requests_total", &http) >= 1.0,
        "{text}"
    );
    assert!(scrape.histogram_count("containerops_http_request_duration_seconds", &http) >= 1.0);
    let unmatched = [("method", "GET"), ("route", "unmatched"), ("status", "404")];
    assert!(scrape.counter("containerops_http_requests_total", &unmatched) >= 1.0);
    let brewed = [
        ("method", "other"),
        ("route", "/healthz"),
        ("status", "405"),
    ];
    assert!(
        scrape.counter("containerops_http_requests_total", &brewed) >= 1.0,
        "{text}"
    );
    let started = [
        ("method", "POST"),
        ("route", "/api/v1/workflows/{name}/runs"),
        ("status", "201"),
    ];
    assert!(scrape.counter("containerops_http_requests_total", &started) >= 1.0);
    for raw in ["01jdunknownrun", "no-such-endpoint", "BREW", id.as_str()] {
        assert!(!text.contains(raw), "{raw} in {text}");
    }

    // The process, from /proc.
    let rss = scrape.gauge("process_resident_memory_bytes");
    assert!(rss > 1e6, "{text}");
    assert!(scrape.gauge("process_virtual_memory_bytes") >= rss);
    let fds = scrape.gauge("process_open_fds");
    assert!(
        fds >= 3.0 && fds <= scrape.gauge("process_max_fds"),
        "{text}"
    );
    assert!(scrape.counter("process_cpu_seconds_total", &[]) > 0.0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let start = scrape.gauge("process_start_time_seconds");
    assert!(
        start <= now + 1.0 && start > now - 86_400.0,
        "{start} {now}"
    );

    // Which build this is.
    let info = scrape.samples("containerops_build_info");
    assert_eq!(info.len(), 1, "{info:?}");
    assert_eq!(info[0].value, 1.0);
    assert_eq!(info[0].labels["version"], co_server::BUILD_VERSION);
    assert_eq!(info[0].labels["commit"], co_server::BUILD_COMMIT);
    assert!(!co_server::BUILD_COMMIT.is_empty());
    server.stop().await;
}

both_stores!(metrics_parse_and_count_what_happened);

//! `containerops server` processes on real parts (real Podman, SQLite and PostgreSQL):
//! - durability: servers killed with SIGKILL while steps run, and restarted (or replaced by a
//!   second server) on the same database. Every run finishes, no step runs twice, logs have no
//!   gaps or duplicates, outputs printed before the crash are read;
//! - cron: a tick fires one run however many servers share the database.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_containerops");
const SOCKET: &str = "/run/podman/podman.sock";
const BUSYBOX: &str = "localhost/co-examples/busybox:latest";
const TOKEN: &str = "recovery-test-admin-token";
/// The lease when one server is live at a time: short, so that the next server takes a killed
/// server's runs over quickly (it waits this out). A live server alone holds its runs whatever
/// its timing: a renewal that comes late only lets it claim its own runs back, which renews them
/// (tested in co-server's coordinator tests).
const TAKEOVER_LEASE: &str = "2s";
/// The lease when two servers are live at once: long enough that a renewal delayed on a loaded
/// machine (renewals come every lease/3) never hands a live server's runs to the other one. No
/// assertion depends on it; a takeover after a kill waits it out.
const SHARED_LEASE: &str = "15s";
/// A lease no test waits out: a server restarted with the same id takes its runs back at once.
const LONG_LEASE: &str = "10m";

// ---------------------------------------------------------------------------------------------
// The engine API (for what the server cannot tell: containers, volumes)

fn engine(method: &str, path: &str) -> (u16, String) {
    let out = Command::new("curl")
        .args([
            "-s",
            "-o",
            "-",
            "-w",
            "\n%{http_code}",
            "-X",
            method,
            "--unix-socket",
            SOCKET,
        ])
        .arg(format!("http://d{path}"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

fn labelled(kind: &str, run_id: &str) -> Vec<Value> {
    let filters = format!("{{\"label\":[\"containerops.run={run_id}\"]}}");
    let query: String = filters
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    let path = match kind {
        "containers" => format!("/v1.41/containers/json?all=true&filters={query}"),
        _ => format!("/v1.41/volumes?filters={query}"),
    };
    let (code, body) = engine("GET", &path);
    assert_eq!(code, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    match kind {
        "containers" => v.as_array().cloned().unwrap_or_default(),
        _ => v["Volumes"].as_array().cloned().unwrap_or_default(),
    }
}

/// The host directory of the run's workspace volume (rootful Podman: a local directory).
fn workspace_dir(run_id: &str) -> PathBuf {
    let (code, body) = engine("GET", &format!("/v1.41/volumes/co-ws-{run_id}"));
    assert_eq!(code, 200, "no workspace volume for {run_id}: {body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    PathBuf::from(v["Mountpoint"].as_str().unwrap())
}

fn require_engine() {
    let (code, _) = engine(
        "GET",
        &format!("/v1.41/images/{}/json", BUSYBOX.replace('/', "%2F")),
    );
    assert_eq!(
        code, 200,
        "{BUSYBOX} is missing or no engine answers at {SOCKET}: run scripts/setup-engine.sh and scripts/build-images.sh"
    );
}

// ---------------------------------------------------------------------------------------------
// Server processes

struct Server {
    child: Child,
    base: String,
    stderr_lines: mpsc::Receiver<String>,
    /// Every log line read so far.
    seen: Vec<String>,
}

impl Server {
    fn start(database: &str, data_dir: &Path, id: &str, lease: &str) -> Server {
        let mut child = Command::new(BIN)
            .args(["server", "--listen", "127.0.0.1:0", "--database", database])
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--admin-token", TOKEN, "--server-id", id])
            .env("CONTAINEROPS_LEASE", lease)
            .env("CONTAINEROPS_LOG", "info")
            .env("DOCKER_HOST", format!("unix://{SOCKET}"))
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut server = Server {
            child,
            base: String::new(),
            stderr_lines: rx,
            seen: Vec::new(),
        };
        let line = server.wait_for_log(|l| l.contains("listening"));
        let addr = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("addr="))
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_string();
        server.base = format!("http://{addr}");
        server
    }

    /// The first line the server logged (so far, or from now on: it logs as it works) that
    /// matches `pred`.
    fn wait_for_log(&mut self, pred: impl Fn(&str) -> bool) -> String {
        if let Some(line) = self.seen.iter().find(|l| pred(l)) {
            return line.clone();
        }
        loop {
            match self.stderr_lines.recv_timeout(Duration::from_secs(120)) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if pred(&line) {
                        return line;
                    }
                }
                Err(e) => panic!(
                    "server log ended or went quiet before the expected line: {e}\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    fn kill_9(mut self) {
        self.child.kill().unwrap(); // SIGKILL
        self.child.wait().unwrap();
    }

    fn api(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut cmd = Command::new("curl");
        cmd.args(["-s", "-o", "-", "-w", "\n%{http_code}", "-X", method])
            .args(["-H", &format!("Authorization: Bearer {TOKEN}")])
            .args(["-H", "Content-Type: application/json"]);
        if let Some(body) = body {
            cmd.args(["--data-binary", &body.to_string()]);
        }
        let out = cmd.arg(format!("{}{path}", self.base)).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
        let value = serde_json::from_str(body).unwrap_or(Value::String(body.to_string()));
        (code.trim().parse().unwrap_or(0), value)
    }

    fn apply(&self, yaml: &str) {
        let (code, body) = self.api("POST", "/api/v1/workflows", Some(json!({ "yaml": yaml })));
        assert_eq!(code, 201, "{body}");
    }

    fn start_run(&self, workflow: &str) -> String {
        let (code, body) = self.api(
            "POST",
            &format!("/api/v1/workflows/{workflow}/runs"),
            Some(json!({ "inputs": {} })),
        );
        assert_eq!(code, 201, "{body}");
        body["id"].as_str().unwrap().to_string()
    }

    fn run(&self, id: &str) -> Value {
        let (code, body) = self.api("GET", &format!("/api/v1/runs/{id}"), None);
        assert_eq!(code, 200, "{body}");
        body
    }

    /// Follow the run's log stream until the run ends; returns the text of every line and the
    /// final status (the SSE stream ends with an `end` event).
    fn follow(&self, id: &str) -> (Vec<Value>, String) {
        let out = Command::new("curl")
            .args(["-s", "-N", "--max-time", "300"])
            .args(["-H", &format!("Authorization: Bearer {TOKEN}")])
            .arg(format!("{}/api/v1/runs/{id}/logs/stream", self.base))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let mut lines = Vec::new();
        let mut status = String::new();
        let mut event = String::new();
        for line in text.lines() {
            if let Some(e) = line.strip_prefix("event:") {
                event = e.trim().to_string();
            } else if let Some(data) = line.strip_prefix("data:") {
                let v: Value = serde_json::from_str(data.trim()).unwrap_or(Value::Null);
                if event == "end" {
                    status = v["status"].as_str().unwrap_or("").to_string();
                } else {
                    lines.push(v);
                }
            }
        }
        (lines, status)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Wait until a log line of `step` with `text` is stored (the server stores lines as they come).
fn wait_for_line(server: &Server, run: &str, step: &str, text: &str) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (code, body) = server.api("GET", &format!("/api/v1/runs/{run}/logs?step={step}"), None);
        assert_eq!(code, 200, "{body}");
        if body["lines"]
            .as_array()
            .is_some_and(|l| l.iter().any(|x| x["text"] == text))
        {
            return;
        }
        assert!(Instant::now() < deadline, "{step} never printed {text:?}");
        // Readiness probe of an external process's progress (not a timing assumption).
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn workflow(name: &str) -> String {
    format!(
        r#"name: {name}
stages:
  - name: one
    actions:
      - name: first
        image: {BUSYBOX}
        command: ["sh", "-c", "echo '[COUT] token = t1'"]
  - name: two
    actions:
      - name: wait
        image: {BUSYBOX}
        command: ["sh", "-c", "echo waiting; while [ ! -f /workspace/go ]; do sleep 0.1; done; echo \"[COUT] got = $CO_INPUT_T\"; echo finished >&2"]
        with: {{ t: "${{{{ actions.first.outputs.token }}}}" }}
        retry: {{ attempts: 2 }}
  - name: three
    actions:
      - name: after
        image: {BUSYBOX}
        command: ["sh", "-c", "echo after"]
"#
    )
}

fn step<'a>(run: &'a Value, action: &str) -> &'a Value {
    run["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["action"] == action)
        .unwrap_or_else(|| panic!("no step {action} in {run}"))
}

fn postgres_url() -> String {
    let base = std::env::var("CONTAINEROPS_TEST_POSTGRES_URL").unwrap_or_else(|_| {
        panic!("CONTAINEROPS_TEST_POSTGRES_URL is not set: run `export CONTAINEROPS_TEST_POSTGRES_URL=$(scripts/setup-postgres.sh)`")
    });
    // A fresh database per test.
    let name = format!("co_recovery_{}", ulid_like());
    let status = Command::new("psql")
        .args([&base, "-q", "-c", &format!("CREATE DATABASE {name}")])
        .status()
        .unwrap();
    assert!(status.success(), "cannot create a test database on {base}");
    let (prefix, _) = base.rsplit_once('/').unwrap();
    format!("{prefix}/{name}")
}

fn ulid_like() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{}_{}", nanos, std::process::id())
}

/// Kill the server while `wait` runs, restart it (the same server id) on the same database, let
/// the step finish. The restarted server takes its runs back at once: with a lease of 10 minutes,
/// waiting it out would fail the test.
fn survives_kill_9(database: &str, dir: &Path) {
    require_engine();
    let a = Server::start(database, dir, "server-a", LONG_LEASE);
    a.apply(&workflow("durable"));
    let run = a.start_run("durable");
    wait_for_line(&a, &run, "wait", "waiting");
    a.kill_9();

    // The step's container outlived its server (finished ones may wait for their removal).
    let running: Vec<Value> = labelled("containers", &run)
        .into_iter()
        .filter(|c| c["State"] == "running")
        .collect();
    assert_eq!(running.len(), 1, "{running:?}");
    assert_eq!(running[0]["Labels"]["containerops.step"], "wait");

    let mut b = Server::start(database, dir, "server-a", LONG_LEASE);
    b.wait_for_log(|l| l.contains("taking them back at once") && l.contains(&run));
    b.wait_for_log(|l| l.contains("recovering") && l.contains(&run));
    // Let the step finish only now: the rest of its output arrives through the reattached stream.
    std::fs::write(workspace_dir(&run).join("go"), "").unwrap();
    let (lines, status) = b.follow(&run);
    assert_eq!(status, "succeeded");

    let detail = b.run(&run);
    assert_eq!(detail["status"], "succeeded", "{detail}");
    let wait = step(&detail, "wait");
    assert_eq!(wait["attempts"], 1, "the step ran once: {wait}");
    assert_eq!(
        wait["outputs"]["got"], "t1",
        "output read after the restart"
    );
    assert_eq!(step(&detail, "after")["status"], "succeeded");
    assert_eq!(step(&detail, "first")["attempts"], 1);

    // Every line once, in order, sequence numbers without gaps.
    let texts: Vec<&str> = lines
        .iter()
        .filter(|l| l["action"] == "wait")
        .map(|l| l["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["waiting", "[COUT] got = t1", "finished"]);
    let seqs: Vec<i64> = lines.iter().map(|l| l["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>());

    assert!(labelled("containers", &run).is_empty());
    assert!(labelled("volumes", &run).is_empty());
}

#[test]
fn a_run_survives_kill_9_of_its_server_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("server.db");
    survives_kill_9(&db.to_string_lossy(), dir.path());
}

#[test]
fn a_run_survives_kill_9_of_its_server_on_postgres() {
    let dir = tempfile::tempdir().unwrap();
    survives_kill_9(&postgres_url(), dir.path());
}

#[test]
fn a_vanished_container_is_retried_with_a_reason() {
    require_engine();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("server.db").to_string_lossy().to_string();
    let a = Server::start(&db, dir.path(), "server-a", TAKEOVER_LEASE);
    a.apply(&workflow("vanish"));
    let run = a.start_run("vanish");
    wait_for_line(&a, &run, "wait", "waiting");
    a.kill_9();
    // The container disappears while no server watches it.
    for c in labelled("containers", &run) {
        let (code, body) = engine(
            "DELETE",
            &format!("/v1.41/containers/{}?force=true", c["Id"].as_str().unwrap()),
        );
        assert!(code == 204 || code == 200, "{body}");
    }
    // Attempt 2 will find the go file at once.
    std::fs::write(workspace_dir(&run).join("go"), "").unwrap();

    let b = Server::start(&db, dir.path(), "server-b", TAKEOVER_LEASE);
    let (_, status) = b.follow(&run);
    assert_eq!(status, "succeeded");
    let detail = b.run(&run);
    let wait = step(&detail, "wait");
    assert_eq!(wait["attempts"], 2, "{wait}");
    let first = wait["attempts_detail"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["attempt"] == 1)
        .unwrap()
        .clone();
    assert_eq!(first["status"], "failed");
    assert!(
        first["error"].as_str().unwrap_or("").contains("gone"),
        "the vanished attempt has a reason: {first}"
    );
    assert!(labelled("containers", &run).is_empty());
}

#[test]
fn two_servers_on_postgres_share_runs_and_one_finishes_the_others() {
    require_engine();
    let dir = tempfile::tempdir().unwrap();
    let database = postgres_url();
    let a = Server::start(&database, dir.path(), "server-a", SHARED_LEASE);
    let b = Server::start(&database, dir.path(), "server-b", SHARED_LEASE);
    a.apply(&workflow("shared"));
    let runs: Vec<String> = (0..4).map(|_| a.start_run("shared")).collect();
    for run in &runs {
        wait_for_line(&a, run, "wait", "waiting");
    }
    // Which server holds which run is up to them; kill a.
    a.kill_9();
    for run in &runs {
        std::fs::write(workspace_dir(run).join("go"), "").unwrap();
    }
    for run in &runs {
        let (lines, status) = b.follow(run);
        assert_eq!(status, "succeeded", "{run}");
        let detail = b.run(run);
        for action in ["first", "wait", "after"] {
            assert_eq!(
                step(&detail, action)["attempts"],
                1,
                "{action} of {run} ran once"
            );
        }
        let waits = lines.iter().filter(|l| l["text"] == "waiting").count();
        assert_eq!(waits, 1, "no duplicated log lines in {run}");
        assert!(labelled("containers", run).is_empty());
        assert!(labelled("volumes", run).is_empty());
    }
}

#[test]
fn a_cron_tick_starts_one_run_with_two_servers() {
    require_engine();
    let dir = tempfile::tempdir().unwrap();
    let database = postgres_url();
    let a = Server::start(&database, dir.path(), "cron-a", SHARED_LEASE);
    a.apply(&format!(
        r#"name: ticking
inputs:
  tick: {{ type: string, required: true }}
triggers:
  - cron: "* * * * *"
    inputs: {{ tick: "${{{{ trigger.tick }}}}" }}
stages:
  - name: s
    actions:
      - name: say
        image: {BUSYBOX}
        command: ["sh", "-c", "echo \"[COUT] tick = $CO_INPUT_TICK\""]
        with: {{ tick: "${{{{ inputs.tick }}}}" }}
"#
    ));
    // The second server loads the stored workflow at its start: both now wait for the same tick.
    let b = Server::start(&database, dir.path(), "cron-b", SHARED_LEASE);
    // Wait for the first run of a tick (at most a minute away) and for it to finish: by then
    // both servers have handled that tick (they wake at the same instant; a run takes longer).
    let deadline = Instant::now() + Duration::from_secs(150);
    let run = loop {
        let (code, body) = b.api("GET", "/api/v1/runs?workflow=ticking", None);
        assert_eq!(code, 200, "{body}");
        let finished = body["runs"]
            .as_array()
            .and_then(|runs| runs.iter().find(|r| r["status"] == "succeeded").cloned());
        if let Some(run) = finished {
            break run;
        }
        assert!(Instant::now() < deadline, "no cron run within two minutes");
        // Polling the API for a run that a clock starts (not a timing assumption).
        std::thread::sleep(Duration::from_millis(200));
    };
    let detail = a.run(run["id"].as_str().unwrap());
    assert_eq!(detail["trigger"]["event"], "cron");
    let tick = detail["trigger"]["tick"].as_str().unwrap().to_string();
    assert!(
        tick.ends_with(":00Z") || tick.ends_with(":00.000Z"),
        "a tick on the minute: {tick}"
    );
    assert_eq!(step(&detail, "say")["outputs"]["tick"], tick.as_str());
    // Exactly one run for that tick.
    let (_, body) = a.api("GET", "/api/v1/runs?workflow=ticking&limit=100", None);
    let same_tick = body["runs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            let id = r["id"].as_str().unwrap();
            a.run(id)["trigger"]["tick"] == tick.as_str()
        })
        .count();
    assert_eq!(same_tick, 1, "one run per tick across both servers");
}

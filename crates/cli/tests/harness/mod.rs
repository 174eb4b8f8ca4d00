//! Shared by the tests that run `containerops server` processes on real parts (`servers.rs`,
//! `faults.rs`): server processes and their API, the container engine's API, databases.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

pub const BIN: &str = env!("CARGO_BIN_EXE_containerops");
/// The machine's engine socket (scripts/setup-engine.sh).
pub const SOCKET: &str = "/run/podman/podman.sock";
pub const BUSYBOX: &str = "localhost/co-examples/busybox:latest";
pub const TOKEN: &str = "recovery-test-admin-token";

// ---------------------------------------------------------------------------------------------
// The engine API (for what the server cannot tell: containers, volumes)

/// `(HTTP status, body)` of a request to the engine at `socket` (0: no answer).
pub fn engine_at(socket: &str, method: &str, path: &str) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-s", "--max-time", "30", "-o", "-", "-w", "\n%{http_code}"])
        .args(["-X", method, "--unix-socket", socket])
        .arg(format!("http://d{path}"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

/// A request to the machine's engine.
pub fn engine(method: &str, path: &str) -> (u16, String) {
    engine_at(SOCKET, method, path)
}

/// Containers (`kind` "containers", all states) or volumes labelled with the run.
pub fn labelled(kind: &str, run_id: &str) -> Vec<Value> {
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
pub fn workspace_dir(run_id: &str) -> PathBuf {
    let (code, body) = engine("GET", &format!("/v1.41/volumes/co-ws-{run_id}"));
    assert_eq!(code, 200, "no workspace volume for {run_id}: {body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    PathBuf::from(v["Mountpoint"].as_str().unwrap())
}

pub fn require_engine() {
    let (code, _) = engine(
        "GET",
        &format!("/v1.41/images/{}/json", BUSYBOX.replace('/', "%2F")),
    );
    assert_eq!(
        code, 200,
        "{BUSYBOX} is missing or no engine answers at {SOCKET}: run scripts/setup-engine.sh and scripts/build-images.sh"
    );
}

/// Poll `check` (every 100 ms) until it gives a value; fail with `what` after `limit`.
/// Readiness polling of other processes' progress, with a deadline (not a timing assumption).
pub fn poll<T>(what: &str, limit: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

// ---------------------------------------------------------------------------------------------
// Server processes

/// How a server process is started.
pub struct ServerOptions<'a> {
    pub database: &'a str,
    pub data_dir: &'a Path,
    pub id: &'a str,
    pub lease: &'a str,
    /// The engine the server uses (`DOCKER_HOST`).
    pub docker_host: String,
}

impl<'a> ServerOptions<'a> {
    pub fn new(database: &'a str, data_dir: &'a Path, id: &'a str, lease: &'a str) -> Self {
        ServerOptions {
            database,
            data_dir,
            id,
            lease,
            docker_host: format!("unix://{SOCKET}"),
        }
    }
}

pub struct Server {
    pub child: Child,
    pub base: String,
    stderr_lines: mpsc::Receiver<String>,
    /// Every log line read so far.
    pub seen: Vec<String>,
}

impl Server {
    pub fn start(database: &str, data_dir: &Path, id: &str, lease: &str) -> Server {
        Server::start_with(ServerOptions::new(database, data_dir, id, lease))
    }

    pub fn start_with(o: ServerOptions<'_>) -> Server {
        let mut child = Command::new(BIN)
            .args([
                "server",
                "--listen",
                "127.0.0.1:0",
                "--database",
                o.database,
            ])
            .arg("--data-dir")
            .arg(o.data_dir)
            .args(["--admin-token", TOKEN, "--server-id", o.id])
            .env("CONTAINEROPS_LEASE", o.lease)
            .env("CONTAINEROPS_LOG", "info")
            .env("DOCKER_HOST", &o.docker_host)
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
    pub fn wait_for_log(&mut self, pred: impl Fn(&str) -> bool) -> String {
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

    pub fn kill_9(mut self) {
        self.child.kill().unwrap(); // SIGKILL
        self.child.wait().unwrap();
    }

    /// Send a signal (`STOP`, `CONT`, …) to the server process.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill -{name} failed");
    }

    pub fn api(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut cmd = Command::new("curl");
        cmd.args([
            "-s",
            "--max-time",
            "60",
            "-o",
            "-",
            "-w",
            "\n%{http_code}",
            "-X",
            method,
        ])
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

    pub fn apply(&self, yaml: &str) {
        let (code, body) = self.api("POST", "/api/v1/workflows", Some(json!({ "yaml": yaml })));
        assert_eq!(code, 201, "{body}");
    }

    pub fn start_run(&self, workflow: &str) -> String {
        let (code, body) = self.api(
            "POST",
            &format!("/api/v1/workflows/{workflow}/runs"),
            Some(json!({ "inputs": {} })),
        );
        assert_eq!(code, 201, "{body}");
        body["id"].as_str().unwrap().to_string()
    }

    pub fn run(&self, id: &str) -> Value {
        let (code, body) = self.api("GET", &format!("/api/v1/runs/{id}"), None);
        assert_eq!(code, 200, "{body}");
        body
    }

    /// The run once it has finished (polled with a deadline).
    pub fn finished_run(&self, id: &str) -> Value {
        poll(
            &format!("run {id} finished"),
            Duration::from_secs(180),
            || {
                let run = self.run(id);
                let status = run["status"].as_str().unwrap_or("");
                matches!(status, "succeeded" | "failed" | "cancelled").then_some(run)
            },
        )
    }

    /// Every stored log line of the run, in order.
    pub fn logs(&self, id: &str) -> Vec<Value> {
        let (code, body) = self.api("GET", &format!("/api/v1/runs/{id}/logs?limit=10000"), None);
        assert_eq!(code, 200, "{body}");
        body["lines"].as_array().cloned().unwrap_or_default()
    }

    /// Follow the run's log stream until the run ends; returns the text of every line and the
    /// final status (the SSE stream ends with an `end` event).
    pub fn follow(&self, id: &str) -> (Vec<Value>, String) {
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
pub fn wait_for_line(server: &Server, run: &str, step: &str, text: &str) {
    poll(
        &format!("{step} printed {text:?}"),
        Duration::from_secs(120),
        || {
            let (code, body) =
                server.api("GET", &format!("/api/v1/runs/{run}/logs?step={step}"), None);
            assert_eq!(code, 200, "{body}");
            body["lines"]
                .as_array()
                .is_some_and(|l| l.iter().any(|x| x["text"] == text))
                .then_some(())
        },
    );
}

/// Three stages: `first` prints an output, `wait` waits for the file `go` in the workspace (then
/// prints its input and ends; two attempts allowed), `after` prints a line.
pub fn workflow(name: &str) -> String {
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

pub fn step<'a>(run: &'a Value, action: &str) -> &'a Value {
    run["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["action"] == action)
        .unwrap_or_else(|| panic!("no step {action} in {run}"))
}

/// A fresh database on the test PostgreSQL (`CONTAINEROPS_TEST_POSTGRES_URL`).
pub fn postgres_url() -> String {
    let base = std::env::var("CONTAINEROPS_TEST_POSTGRES_URL").unwrap_or_else(|_| {
        panic!("CONTAINEROPS_TEST_POSTGRES_URL is not set: run `export CONTAINEROPS_TEST_POSTGRES_URL=$(scripts/setup-postgres.sh)`")
    });
    let name = format!("co_recovery_{}", ulid_like());
    let status = Command::new("psql")
        .args([&base, "-q", "-c", &format!("CREATE DATABASE {name}")])
        .status()
        .unwrap();
    assert!(status.success(), "cannot create a test database on {base}");
    let (prefix, _) = base.rsplit_once('/').unwrap();
    format!("{prefix}/{name}")
}

pub fn ulid_like() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{}_{}", nanos, std::process::id())
}

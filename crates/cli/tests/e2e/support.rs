//! Shared helpers: a fresh database and directory per test, running the real `containerops`
//! binary, parsing and checking its JSON, and asking the engine (over its socket) what a run left
//! behind.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

/// The engine every test talks to: `$DOCKER_HOST` when it names a socket (scripts/test.sh runs
/// these tests once on Podman and once on Docker Engine), else Podman's system socket.
pub fn socket() -> String {
    engine_socket(std::env::var("DOCKER_HOST").ok().as_deref())
}

fn engine_socket(docker_host: Option<&str>) -> String {
    match docker_host.map(str::trim).filter(|h| !h.is_empty()) {
        Some(h) => match h.strip_prefix("unix://") {
            Some(path) => path.to_string(),
            None => panic!("these tests need DOCKER_HOST to be a unix:// socket, not {h}"),
        },
        None => "/run/podman/podman.sock".to_string(),
    }
}
pub const BUSYBOX: &str = "localhost/co-examples/busybox:latest";
pub const BIN: &str = env!("CARGO_BIN_EXE_containerops");

/// Longest a single CLI invocation may take before the test gives up (a hang is a failure, not a
/// timing assertion: every workflow here finishes in seconds).
const WATCHDOG: Duration = Duration::from_secs(240);

pub const RUN_KEYS: &[&str] = &[
    "id",
    "workflow",
    "status",
    "started_at",
    "finished_at",
    "outputs",
    "steps",
];
pub const STEP_KEYS: &[&str] = &[
    "stage",
    "action",
    "status",
    "attempts",
    "exit_code",
    "outputs",
    "error",
    "started_at",
    "finished_at",
];

// ---------------------------------------------------------------------------------------------
// The engine, over its socket (HTTP/1.0, so no chunked answers and the server closes).

/// `GET path` on the engine socket: (status code, body).
pub fn api_get(path: &str) -> (u16, String) {
    api("GET", path)
}

/// `DELETE path` on the engine socket (best effort, for cleanup).
pub fn api_delete(path: &str) -> (u16, String) {
    api("DELETE", path)
}

fn api(method: &str, path: &str) -> (u16, String) {
    let socket = socket();
    let mut stream = UnixStream::connect(&socket).unwrap_or_else(|e| {
        panic!(
            "the container engine at {socket} does not answer ({e}); start it with \
             scripts/setup-engine.sh"
        )
    });
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    write!(stream, "{method} {path} HTTP/1.0\r\nHost: d\r\n\r\n").unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad HTTP answer from the engine: {head}"));
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    (status, body)
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

pub fn encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn label_filter(run_id: &str) -> String {
    encode(&serde_json::json!({ "label": [format!("containerops.run={run_id}")] }).to_string())
}

/// Containers (any state) labelled with the run.
pub fn containers_of(run_id: &str) -> Vec<Value> {
    let (status, body) = api_get(&format!(
        "/v1.41/containers/json?all=true&filters={}",
        label_filter(run_id)
    ));
    assert_eq!(status, 200, "listing containers: {body}");
    serde_json::from_str::<Vec<Value>>(&body).unwrap()
}

/// Volumes labelled with the run.
pub fn volumes_of(run_id: &str) -> Vec<Value> {
    let (status, body) = api_get(&format!("/v1.41/volumes?filters={}", label_filter(run_id)));
    assert_eq!(status, 200, "listing volumes: {body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    v["Volumes"].as_array().cloned().unwrap_or_default()
}

/// Whether the runs of these tests go to the Swarm backend (`CONTAINEROPS_BACKEND=swarm`, which
/// `containerops run` reads: scripts/test.sh runs this whole list once more that way, on the
/// one-node swarm).
pub fn on_swarm() -> bool {
    std::env::var("CONTAINEROPS_BACKEND").is_ok_and(|b| b.trim().eq_ignore_ascii_case("swarm"))
}

/// Swarm services labelled with the run.
pub fn services_of(run_id: &str) -> Vec<Value> {
    let (status, body) = api_get(&format!("/v1.41/services?filters={}", label_filter(run_id)));
    assert_eq!(status, 200, "listing services: {body}");
    serde_json::from_str::<Vec<Value>>(&body).unwrap()
}

/// SPEC §5: no container or volume of a finished run is left behind (nor, on Swarm, a service).
pub fn assert_nothing_left(run_id: &str) {
    assert!(!run_id.is_empty());
    if on_swarm() {
        let services = services_of(run_id);
        assert!(
            services.is_empty(),
            "run {run_id} left services behind: {services:#?}"
        );
    }
    let containers = containers_of(run_id);
    assert!(
        containers.is_empty(),
        "run {run_id} left containers behind: {containers:#?}"
    );
    let volumes = volumes_of(run_id);
    assert!(
        volumes.is_empty(),
        "run {run_id} left volumes behind: {volumes:#?}"
    );
}

pub fn image_exists(image: &str) -> bool {
    let (status, body) = api_get(&format!("/v1.41/images/{}/json", encode(image)));
    match status {
        200 => true,
        404 => false,
        other => panic!("inspecting image {image}: HTTP {other}: {body}"),
    }
}

/// The images these tests run must exist; they are built once per machine.
pub fn require_images() {
    assert!(
        image_exists(BUSYBOX),
        "image {BUSYBOX} is missing: run scripts/build-images.sh once (it builds the local \
         example images; no registry is needed)"
    );
}

// ---------------------------------------------------------------------------------------------
// One test's world: its own directory and database.

pub struct World {
    pub dir: tempfile::TempDir,
    pub db: PathBuf,
}

/// What a finished CLI invocation produced.
#[derive(Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// Both streams, for assertion messages.
    pub fn both(&self) -> String {
        format!(
            "exit code {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// A finished `run --output json`, already checked for shape, `runs show` and leftovers.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub json: Value,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn id(&self) -> &str {
        self.json["id"].as_str().unwrap()
    }
    pub fn status(&self) -> &str {
        self.json["status"].as_str().unwrap()
    }
    pub fn steps(&self) -> &Vec<Value> {
        self.json["steps"].as_array().unwrap()
    }
    /// The step whose `action` is `action` (exactly one).
    pub fn step(&self, action: &str) -> &Value {
        let found: Vec<&Value> = self
            .steps()
            .iter()
            .filter(|s| s["action"] == action)
            .collect();
        assert_eq!(
            found.len(),
            1,
            "expected exactly one step {action:?} in\n{}",
            self.pretty()
        );
        found[0]
    }
    pub fn status_of(&self, action: &str) -> &str {
        self.step(action)["status"].as_str().unwrap()
    }
    /// Output `key` of `action`, as a string (panics if absent or not a string).
    pub fn out(&self, action: &str, key: &str) -> String {
        match &self.step(action)["outputs"][key] {
            Value::String(s) => s.clone(),
            other => panic!(
                "output {key} of {action} is {other}, not a string\n{}",
                self.pretty()
            ),
        }
    }
    pub fn error_of(&self, action: &str) -> String {
        self.step(action)["error"]
            .as_str()
            .unwrap_or_else(|| panic!("step {action} has no error\n{}", self.pretty()))
            .to_string()
    }
    pub fn pretty(&self) -> String {
        format!(
            "exit code {}\n{}\n--- stderr\n{}",
            self.code,
            serde_json::to_string_pretty(&self.json).unwrap(),
            self.stderr
        )
    }
    /// The run succeeded (exit 0) and every step succeeded.
    pub fn assert_all_succeeded(&self) {
        assert_eq!(self.code, 0, "{}", self.pretty());
        assert_eq!(self.status(), "succeeded", "{}", self.pretty());
        for s in self.steps() {
            assert_eq!(s["status"], "succeeded", "{}", self.pretty());
            assert_eq!(s["exit_code"], 0, "{}", self.pretty());
            assert!(s["error"].is_null(), "{}", self.pretty());
        }
    }
}

impl World {
    pub fn new() -> World {
        require_images();
        let dir = tempfile::Builder::new()
            .prefix("co-e2e-")
            .tempdir()
            .unwrap();
        let db = dir.path().join("state").join("containerops.db");
        std::fs::create_dir_all(db.parent().unwrap()).unwrap();
        World { dir, db }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Write `text` to `rel` (parents created) and return its path.
    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    /// The binary with this world's environment (database, engine, empty catalog).
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.current_dir(self.dir.path())
            .env("CONTAINEROPS_DB", &self.db)
            .env("DOCKER_HOST", format!("unix://{}", socket()))
            .env("CONTAINEROPS_CATALOG", self.path("catalog"))
            .env("XDG_DATA_HOME", self.path("xdg"))
            .env_remove("CONTAINEROPS_LOG")
            .env_remove("NO_COLOR")
            .stdin(Stdio::null());
        cmd
    }

    pub fn exec<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Output {
        let mut cmd = self.command();
        cmd.args(args);
        finish_command(cmd)
    }

    /// `containerops run FILE ARGS… --output json`, then the checks every run gets: exactly one
    /// JSON object on stdout with the SPEC key sets, `runs show ID --output json` equal to it,
    /// and nothing labelled with the run left in the engine.
    pub fn run_json(&self, file: &Path, args: &[&str]) -> Run {
        let mut all: Vec<&std::ffi::OsStr> = vec!["run".as_ref(), file.as_os_str()];
        all.extend(args.iter().map(|a| std::ffi::OsStr::new(*a)));
        all.extend([
            std::ffi::OsStr::new("--output"),
            std::ffi::OsStr::new("json"),
        ]);
        let out = self.exec(&all);
        let json: Value = serde_json::from_str(out.stdout.trim()).unwrap_or_else(|e| {
            panic!(
                "stdout of --output json is not exactly one JSON object ({e})\n{}",
                out.both()
            )
        });
        let run = Run {
            code: out.code,
            json,
            stdout: out.stdout,
            stderr: out.stderr,
        };
        assert_run_shape(&run.json);
        let expected_code = match run.status() {
            "succeeded" => 0,
            "failed" => 1,
            "cancelled" => 130,
            other => panic!("unknown run status {other}"),
        };
        assert_eq!(run.code, expected_code, "{}", run.pretty());
        assert_eq!(
            self.show_json(run.id()),
            run.json,
            "`runs show --output json` differs from the run's JSON"
        );
        assert_nothing_left(run.id());
        run
    }

    /// Write a workflow and run it with `--output json`.
    pub fn run_yaml(&self, yaml: &str, args: &[&str]) -> Run {
        let file = self.write("workflow.yaml", yaml);
        self.run_json(&file, args)
    }

    /// `runs show ID --output json`, parsed.
    pub fn show_json(&self, id: &str) -> Value {
        let out = self.exec(&["runs", "show", id, "--output", "json"]);
        assert_eq!(out.code, 0, "{}", out.both());
        let v: Value = serde_json::from_str(out.stdout.trim())
            .unwrap_or_else(|e| panic!("runs show: not one JSON object ({e})\n{}", out.both()));
        assert_run_shape(&v);
        v
    }

    /// `logs ID [ACTION]`, stdout, after checking it exits 0.
    pub fn logs(&self, id: &str, action: Option<&str>) -> String {
        let mut args = vec!["logs", id];
        args.extend(action);
        let out = self.exec(&args);
        assert_eq!(out.code, 0, "{}", out.both());
        out.stdout
    }

    /// `runs list --output json`, parsed.
    pub fn list_json(&self) -> Vec<Value> {
        let out = self.exec(&["runs", "list", "--output", "json"]);
        assert_eq!(out.code, 0, "{}", out.both());
        serde_json::from_str(out.stdout.trim())
            .unwrap_or_else(|e| panic!("runs list --output json: {e}\n{}", out.both()))
    }

    /// Start the binary with piped stdout and stderr, watching stdout line by line.
    pub fn spawn<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Live {
        self.spawn_watching(args, false)
    }

    /// Start the binary with piped stdout and stderr, watching stderr (with `watch_stderr`) or
    /// stdout line by line; the other stream is collected whole.
    pub fn spawn_watching<S: AsRef<std::ffi::OsStr>>(
        &self,
        args: &[S],
        watch_stderr: bool,
    ) -> Live {
        let mut cmd = self.command();
        cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let stdout: Box<dyn Read + Send> = Box::new(child.stdout.take().unwrap());
        let stderr: Box<dyn Read + Send> = Box::new(child.stderr.take().unwrap());
        let (watched, other) = if watch_stderr {
            (stderr, stdout)
        } else {
            (stdout, stderr)
        };
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(watched).lines() {
                match line {
                    Ok(l) => {
                        if tx.send(l).is_err() {
                            break;
                        }
                    }
                    Err(_) => break,
                }
            }
        });
        let other = std::thread::spawn(move || {
            let mut s = String::new();
            let mut other = other;
            let _ = other.read_to_string(&mut s);
            s
        });
        Live {
            child,
            lines: rx,
            seen: Vec::new(),
            other: Some(other),
            watch_stderr,
        }
    }
}

/// A running `containerops` whose stdout (or stderr) is read line by line.
pub struct Live {
    pub child: Child,
    lines: mpsc::Receiver<String>,
    pub seen: Vec<String>,
    other: Option<std::thread::JoinHandle<String>>,
    watch_stderr: bool,
}

impl Live {
    /// Read the watched stream until a line satisfies `pred`; returns that line.
    pub fn wait_for_line(&mut self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        loop {
            match self.lines.recv_timeout(WATCHDOG) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if pred(&line) {
                        return line;
                    }
                }
                Err(e) => {
                    let _ = self.child.kill();
                    panic!(
                        "output ended ({e:?}) before {what}; seen so far:\n{}",
                        self.seen.join("\n")
                    );
                }
            }
        }
    }

    /// Send a signal (`INT`, `TERM`) with the `kill` command.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill -{name} failed");
    }

    /// Wait for the process to end: exit code, stdout and stderr.
    pub fn finish(mut self) -> Output {
        let status = wait_with_watchdog(&mut self.child);
        for line in self.lines.iter() {
            self.seen.push(line);
        }
        let other = self
            .other
            .take()
            .map(|h| h.join().unwrap_or_default())
            .unwrap_or_default();
        let watched = self.seen.join("\n");
        let (stdout, stderr) = if self.watch_stderr {
            (other, watched)
        } else {
            (watched, other)
        };
        Output {
            code: code_of(status),
            stdout,
            stderr,
        }
    }
}

fn code_of(status: ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .unwrap_or_else(|| panic!("killed by signal {:?}", status.signal()))
}

/// Wait for `child`, killing it (and failing) if it outlives the watchdog.
fn wait_with_watchdog(child: &mut Child) -> ExitStatus {
    let pid = child.id();
    let (tx, rx) = mpsc::channel::<()>();
    let guard = std::thread::spawn(move || {
        if rx.recv_timeout(WATCHDOG).is_err() {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            true
        } else {
            false
        }
    });
    let status = child.wait().unwrap();
    let _ = tx.send(());
    let killed = guard.join().unwrap_or(false);
    assert!(!killed, "containerops (pid {pid}) hung for {WATCHDOG:?}");
    status
}

/// Wait for `child` (watchdog included) whose stderr a thread collects; its stdout is not read.
pub fn wait_output(mut child: Child, stderr: std::thread::JoinHandle<String>) -> Output {
    let status = wait_with_watchdog(&mut child);
    Output {
        code: code_of(status),
        stdout: String::new(),
        stderr: stderr.join().unwrap_or_default(),
    }
}

pub fn finish_command(mut cmd: Command) -> Output {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = stdout.read_to_end(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = stderr.read_to_end(&mut s);
        s
    });
    let status = wait_with_watchdog(&mut child);
    Output {
        code: code_of(status),
        stdout: String::from_utf8_lossy(&out.join().unwrap()).into_owned(),
        stderr: String::from_utf8_lossy(&err.join().unwrap()).into_owned(),
    }
}

// ---------------------------------------------------------------------------------------------
// The JSON shape of SPEC §5.

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .unwrap_or_else(|| panic!("not a JSON object: {v}"))
        .keys()
        .cloned()
        .collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

fn assert_time(v: &Value, what: &str) {
    use time::format_description::well_known::Rfc3339;
    let text = v
        .as_str()
        .unwrap_or_else(|| panic!("{what} is not a string: {v}"));
    time::OffsetDateTime::parse(text, &Rfc3339)
        .unwrap_or_else(|e| panic!("{what} = {text:?} is not RFC 3339: {e}"));
}

/// The run object and every step object have exactly the SPEC's keys and value kinds.
pub fn assert_run_shape(run: &Value) {
    assert_eq!(keys(run), set(RUN_KEYS), "run keys of {run:#}");
    assert!(run["id"].as_str().is_some_and(|s| !s.is_empty()), "{run:#}");
    assert!(run["workflow"].is_string(), "{run:#}");
    let status = run["status"].as_str().unwrap();
    assert!(
        ["succeeded", "failed", "cancelled"].contains(&status),
        "run status {status}"
    );
    assert_time(&run["started_at"], "run started_at");
    assert_time(&run["finished_at"], "run finished_at");
    assert!(run["outputs"].is_object(), "run outputs: {run:#}");
    for step in run["steps"].as_array().expect("steps is an array") {
        assert_eq!(keys(step), set(STEP_KEYS), "step keys of {step:#}");
        assert!(step["stage"].is_string() && step["action"].is_string());
        let s = step["status"].as_str().unwrap();
        assert!(
            ["succeeded", "failed", "skipped", "cancelled"].contains(&s),
            "step status {s} in {run:#}"
        );
        assert!(step["attempts"].is_u64(), "{step:#}");
        assert!(
            step["exit_code"].is_null() || step["exit_code"].is_i64(),
            "{step:#}"
        );
        assert!(step["outputs"].is_object(), "{step:#}");
        match s {
            "succeeded" => assert!(step["error"].is_null(), "{step:#}"),
            "failed" => assert!(
                step["error"].as_str().is_some_and(|e| !e.is_empty()),
                "a failed step says why: {step:#}"
            ),
            _ => {}
        }
        if s == "succeeded" || s == "failed" {
            if !step["started_at"].is_null() {
                assert_time(&step["started_at"], "step started_at");
            }
            assert_time(&step["finished_at"], "step finished_at");
        }
    }
}

/// YAML for a busybox `sh -c SCRIPT` command (a block scalar, so the script is verbatim).
pub fn sh(script: &str, indent: usize) -> String {
    let pad = " ".repeat(indent);
    let mut out =
        format!("{pad}image: {BUSYBOX}\n{pad}command:\n{pad}  - sh\n{pad}  - -c\n{pad}  - |\n");
    for line in script.lines() {
        out.push_str(&format!("{pad}    {line}\n"));
    }
    out
}

/// Standard base64 with padding (what `base64` prints).
pub fn base64(data: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(TABLE[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

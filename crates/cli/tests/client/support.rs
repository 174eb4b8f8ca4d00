//! A real `containerops server` process per test, the CLI binary run against it, a CLI process
//! whose output is read line by line as it comes, and a TCP proxy that can break a log stream.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_containerops");
pub const SOCKET: &str = "/run/podman/podman.sock";
pub const BUSYBOX: &str = "localhost/co-examples/busybox:latest";
pub const TOKEN: &str = "client-test-admin-token-0123456789";

/// Longest any one process may take before the test gives up (a hang is a failure, not a timing
/// assertion: every workflow here finishes in seconds).
pub const WATCHDOG: Duration = Duration::from_secs(240);

/// Remove ANSI colour codes (the server's log lines may have them).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A running `containerops server` with its own directory and SQLite database.
pub struct Server {
    child: Child,
    pub url: String,
    pub dir: tempfile::TempDir,
    log: Arc<Mutex<String>>,
}

impl Server {
    pub fn start() -> Server {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        std::fs::create_dir_all(&home).unwrap();
        let mut child = Command::new(BIN)
            .args(["server", "--listen", "127.0.0.1:0", "--database"])
            .arg(dir.path().join("server.db"))
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .args(["--admin-token", TOKEN])
            .env("HOME", &home)
            .env("XDG_DATA_HOME", home.join("data"))
            .env("DOCKER_HOST", format!("unix://{SOCKET}"))
            .env("CONTAINEROPS_LOG", "info")
            .env("NO_COLOR", "1")
            .env_remove("CONTAINEROPS_DB")
            .env_remove("CONTAINEROPS_ADMIN_TOKEN")
            .env_remove("CONTAINEROPS_SERVER")
            .env_remove("CONTAINEROPS_TOKEN")
            .env_remove("CONTAINEROPS_CONFIG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel::<String>();
        let pipe = child.stderr.take().unwrap();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                let line = strip_ansi(&line);
                sink.lock().unwrap().push_str(&line);
                sink.lock().unwrap().push('\n');
                let _ = tx.send(line);
            }
        });
        // The log line `… listening addr=127.0.0.1:PORT` says where it is.
        let deadline = Instant::now() + WATCHDOG;
        let addr = loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let Ok(line) = rx.recv_timeout(remaining) else {
                let _ = child.kill();
                panic!("the server did not start:\n{}", log.lock().unwrap());
            };
            if line.contains("listening") {
                if let Some(addr) = line
                    .split_whitespace()
                    .find_map(|w| w.strip_prefix("addr="))
                {
                    break addr.to_string();
                }
            }
        };
        Server {
            child,
            url: format!("http://{addr}"),
            dir,
            log,
        }
    }

    /// Write `text` to a file in this server's directory; its path.
    pub fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// The CLI with `CONTAINEROPS_SERVER` and `CONTAINEROPS_TOKEN` set for this server.
    pub fn cli(&self) -> Cli {
        Cli::new(&self.dir.path().join("client"))
            .env("CONTAINEROPS_SERVER", &self.url)
            .env("CONTAINEROPS_TOKEN", TOKEN)
    }

    /// Store `yaml` as a workflow (checked).
    pub fn apply(&self, name: &str, yaml: &str) {
        let path = self.file(&format!("{name}.yaml"), yaml);
        let out = self.cli().arg("workflows").arg("apply").arg(&path).run();
        out.success();
        assert!(
            out.stdout
                .starts_with(&format!("workflow {name} revision ")),
            "{out:?}"
        );
    }

    /// `runs start NAME` (without waiting): the new run's id.
    pub fn start_run(&self, name: &str, inputs: &[&str]) -> String {
        let mut cli = self.cli().args(["runs", "start", name]);
        for input in inputs {
            cli = cli.args(["--input", input]);
        }
        let out = cli.run();
        out.success();
        out.stdout.trim().to_string()
    }

    /// `runs show ID --output json`.
    pub fn run_json(&self, id: &str) -> Value {
        let out = self
            .cli()
            .args(["runs", "show", id, "--output", "json"])
            .run();
        out.success();
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out:?}"))
    }

    /// Wait for run `id` to end (`logs -f` returns when it has): its JSON.
    pub fn wait(&self, id: &str) -> Value {
        self.cli().args(["logs", "-f", id]).run().success();
        self.run_json(id)
    }

    /// `POST path` with a JSON body and the admin token, over plain HTTP/1.1 (for what the CLI
    /// has no command for): the status and the body.
    pub fn post_json(&self, path: &str, body: &Value) -> (u16, Value) {
        self.http("POST", path, &body.to_string())
    }

    /// `GET path` with the admin token: the status and the body.
    pub fn get_json(&self, path: &str) -> (u16, Value) {
        self.http("GET", path, "")
    }

    fn http(&self, method: &str, path: &str, body: &str) -> (u16, Value) {
        let addr = self.url.trim_start_matches("http://");
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(WATCHDOG)).unwrap();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {TOKEN}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut raw = String::new();
        stream.read_to_string(&mut raw).unwrap();
        let (head, body) = raw.split_once("\r\n\r\n").unwrap();
        let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
        (status, serde_json::from_str(body).unwrap_or(Value::Null))
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- the server's log\n{}", self.log());
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let (tx, rx) = mpsc::channel();
        let id = self.child.id();
        std::thread::spawn(move || {
            if rx.recv_timeout(Duration::from_secs(30)).is_err() {
                let _ = Command::new("kill")
                    .args(["-KILL", &id.to_string()])
                    .status();
            }
        });
        let _ = self.child.wait();
        let _ = tx.send(());
    }
}

/// One CLI invocation being set up.
pub struct Cli {
    command: Command,
}

/// What an invocation printed and how it ended.
pub struct Output {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl std::fmt::Debug for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

impl Output {
    /// Exit code 0, or a panic showing everything.
    pub fn success(&self) -> &Output {
        assert_eq!(self.code, Some(0), "{self:?}");
        self
    }

    pub fn code(&self, code: i32) -> &Output {
        assert_eq!(self.code, Some(code), "{self:?}");
        self
    }

    pub fn stdout_lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }
}

impl Cli {
    /// The binary with a clean environment of its own under `home` (no local state shared).
    pub fn new(home: &Path) -> Cli {
        std::fs::create_dir_all(home).unwrap();
        let mut command = Command::new(BIN);
        command
            .env("HOME", home)
            .env("XDG_DATA_HOME", home.join("data"))
            .env("CONTAINEROPS_DB", home.join("local.db"))
            .env("DOCKER_HOST", format!("unix://{SOCKET}"))
            .env("NO_COLOR", "1")
            .env_remove("CONTAINEROPS_SERVER")
            .env_remove("CONTAINEROPS_TOKEN")
            .stdin(Stdio::null());
        // The test server is on 127.0.0.1: no HTTP proxy of the environment in between.
        for var in ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"] {
            command.env_remove(var).env_remove(var.to_lowercase());
        }
        Cli { command }
    }

    pub fn arg(mut self, arg: impl AsRef<std::ffi::OsStr>) -> Cli {
        self.command.arg(arg);
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Cli
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.command.args(args);
        self
    }

    pub fn env(mut self, key: &str, value: impl AsRef<std::ffi::OsStr>) -> Cli {
        self.command.env(key, value);
        self
    }

    pub fn env_remove(mut self, key: &str) -> Cli {
        self.command.env_remove(key);
        self
    }

    /// Feed this file to the process's stdin (instead of nothing).
    pub fn stdin_file(mut self, path: &Path) -> Cli {
        self.command.stdin(std::fs::File::open(path).unwrap());
        self
    }

    /// Run to the end (within the watchdog).
    pub fn run(mut self) -> Output {
        let child = self
            .command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait_with_output());
        });
        match rx.recv_timeout(WATCHDOG) {
            Ok(out) => {
                let out = out.unwrap();
                Output {
                    code: out.status.code(),
                    stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                    stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
                }
            }
            Err(_) => {
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
                panic!("containerops {:?} did not finish", self.command.get_args());
            }
        }
    }

    /// Start it and read its stdout line by line as it comes.
    pub fn spawn(mut self) -> Running {
        let mut child = self
            .command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout: ChildStdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut stderr_pipe = child.stderr.take().unwrap();
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr_pipe.read_to_string(&mut text);
            text
        });
        Running {
            child,
            lines: rx,
            seen: Vec::new(),
            stderr,
        }
    }
}

/// A CLI process whose stdout is read as it comes.
pub struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    /// Every stdout line read so far.
    pub seen: Vec<String>,
    /// Reads all of stderr (ends when the process has exited).
    stderr: std::thread::JoinHandle<String>,
}

impl Running {
    /// The next stdout line.
    pub fn next_line(&mut self) -> String {
        match self.lines.recv_timeout(WATCHDOG) {
            Ok(line) => {
                self.seen.push(line.clone());
                line
            }
            Err(_) => panic!("no more output; so far:\n{}", self.seen.join("\n")),
        }
    }

    /// Read stdout until a line satisfies `want`; that line.
    pub fn wait_for(&mut self, want: impl Fn(&str) -> bool) -> String {
        loop {
            let line = self.next_line();
            if want(&line) {
                return line;
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Wait for the process to end: its exit status, all of its stdout and its stderr.
    pub fn finish(mut self) -> (ExitStatus, Vec<String>, String) {
        let (tx, rx) = mpsc::channel();
        let pid = self.child.id();
        let mut child = self.child;
        std::thread::spawn(move || {
            let _ = tx.send(child.wait());
        });
        let status = match rx.recv_timeout(WATCHDOG) {
            Ok(status) => status.unwrap(),
            Err(_) => {
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
                panic!("the process did not end; output:\n{}", self.seen.join("\n"));
            }
        };
        // The pipe is closed now: the reader ends after the last line.
        while let Ok(line) = self.lines.recv_timeout(WATCHDOG) {
            self.seen.push(line);
        }
        let stderr = self.stderr.join().unwrap_or_default();
        (status, self.seen, stderr)
    }
}

/// A TCP proxy in front of the server that breaks the first log stream (`…/logs/stream`) that
/// passes through it: it forwards the response up to the middle of the `cut_at`-th `event: log`
/// and then closes both connections. Everything else passes unchanged.
pub struct Proxy {
    pub url: String,
    /// Streams that were cut.
    pub cuts: Arc<AtomicUsize>,
    /// Stream requests seen.
    pub streams: Arc<AtomicUsize>,
}

impl Proxy {
    pub fn start(upstream: &str, cut_at: usize) -> Proxy {
        let target = upstream.trim_start_matches("http://").to_string();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let cuts = Arc::new(AtomicUsize::new(0));
        let streams = Arc::new(AtomicUsize::new(0));
        let cut_done = Arc::new(AtomicBool::new(false));
        let (c, s) = (cuts.clone(), streams.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { break };
                let Ok(server) = TcpStream::connect(&target) else {
                    continue;
                };
                let streaming = Arc::new(AtomicBool::new(false));
                // client → server, noting stream requests.
                {
                    let (mut from, mut to) =
                        (client.try_clone().unwrap(), server.try_clone().unwrap());
                    let streaming = streaming.clone();
                    let streams = s.clone();
                    std::thread::spawn(move || {
                        let mut buf = [0u8; 16384];
                        loop {
                            let n = match from.read(&mut buf) {
                                Ok(0) | Err(_) => break,
                                Ok(n) => n,
                            };
                            if String::from_utf8_lossy(&buf[..n]).contains("/logs/stream") {
                                streams.fetch_add(1, Ordering::SeqCst);
                                streaming.store(true, Ordering::SeqCst);
                            }
                            if to.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                        let _ = to.shutdown(Shutdown::Write);
                    });
                }
                // server → client, cutting the first stream once.
                {
                    let (mut from, mut to) = (server, client);
                    let cut_done = cut_done.clone();
                    let cuts = c.clone();
                    std::thread::spawn(move || {
                        let mut buf = [0u8; 16384];
                        let mut seen = String::new();
                        loop {
                            let n = match from.read(&mut buf) {
                                Ok(0) | Err(_) => break,
                                Ok(n) => n,
                            };
                            let mut chunk = &buf[..n];
                            if streaming.load(Ordering::SeqCst) && !cut_done.load(Ordering::SeqCst)
                            {
                                let before = seen.len();
                                seen.push_str(&String::from_utf8_lossy(chunk));
                                if let Some(at) = seen.match_indices("event: log").nth(cut_at - 1) {
                                    // Up to the middle of that event, then hang up.
                                    let end = (at.0 + 15).saturating_sub(before).min(chunk.len());
                                    chunk = &chunk[..end];
                                    let _ = to.write_all(chunk);
                                    let _ = to.flush();
                                    cut_done.store(true, Ordering::SeqCst);
                                    cuts.fetch_add(1, Ordering::SeqCst);
                                    let _ = to.shutdown(Shutdown::Both);
                                    let _ = from.shutdown(Shutdown::Both);
                                    break;
                                }
                            }
                            if to.write_all(chunk).is_err() {
                                break;
                            }
                        }
                        let _ = to.shutdown(Shutdown::Write);
                    });
                }
            }
        });
        Proxy { url, cuts, streams }
    }
}

/// A workflow with one busybox action `say` running `script`.
pub fn one_step(name: &str, script: &str) -> String {
    format!(
        "name: {name}\ninputs:\n  who: {{ type: string, default: world }}\nstages:\n  - name: main\n    actions:\n      - name: say\n        image: {BUSYBOX}\n        command: [\"sh\", \"-c\", {script}]\n        with: {{ who: \"${{{{ inputs.who }}}}\" }}\n",
        script = serde_json::to_string(script).unwrap()
    )
}

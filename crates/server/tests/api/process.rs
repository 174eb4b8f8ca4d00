//! Smoke tests of the real `containerops server` process: `--help`, configuration from flags and
//! the environment, the first admin token printed once, a run on the real engine, a clean stop
//! on SIGTERM, no secret in its output; and `containerops validate` against the API.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use crate::support::{both_stores, containerops_bin, unique, Api, TestDb, TestServer, PATIENCE};

/// A running `containerops server` process.
struct Process {
    child: Child,
    stderr: Arc<Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
    base: String,
}

impl Process {
    fn start(db: &TestDb, extra_env: &[(&str, &str)]) -> Process {
        let home = db.dir.path().join("home");
        std::fs::create_dir_all(&home).unwrap();
        let mut command = Command::new(containerops_bin());
        command
            .args(["server", "--listen", "127.0.0.1:0", "--database", &db.url])
            .env("HOME", &home)
            .env("XDG_DATA_HOME", home.join("data"))
            .env("CONTAINEROPS_DATA_DIR", db.data_dir())
            .env("CONTAINEROPS_LOG", "debug")
            .env_remove("CONTAINEROPS_ADMIN_TOKEN")
            .env_remove("CONTAINEROPS_DB")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in extra_env {
            command.env(k, v);
        }
        let mut child = command.spawn().unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel::<String>();
        let pipe = child.stderr.take().unwrap();
        let sink = stderr.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                sink.lock().unwrap().push_str(&line);
                sink.lock().unwrap().push('\n');
                let _ = tx.send(line);
            }
        });
        // The log line `listening addr=127.0.0.1:PORT` says where it is.
        let deadline = std::time::Instant::now() + PATIENCE;
        let addr = loop {
            let remaining = deadline.saturating_duration_since(std::time::Instant::now());
            let line = rx
                .recv_timeout(remaining)
                .unwrap_or_else(|_| panic!("the server did not start: {}", stderr.lock().unwrap()));
            // CONTAINEROPS_LOG_FORMAT=json: {"message":"listening","addr":"…",…}
            if let Ok(event) = serde_json::from_str::<Value>(&line) {
                if event["message"] == "listening" {
                    break event["addr"].as_str().unwrap().to_string();
                }
                continue;
            }
            let line = strip_ansi(&line);
            if line.contains("listening") {
                let addr = line
                    .split_whitespace()
                    .find_map(|w| w.strip_prefix("addr="))
                    .unwrap()
                    .to_string();
                break addr;
            }
        };
        Process {
            child,
            stderr,
            reader: Some(reader),
            base: format!("http://{addr}"),
        }
    }

    fn api(&self, token: &str) -> Api {
        Api::new(&self.base, Some(token))
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// SIGTERM, then the exit status must be 0.
    fn stop(mut self) -> String {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let exit = self.child.wait().unwrap();
        assert!(exit.success(), "exit {exit:?}: {}", self.stderr());
        // The pipe is closed: the reader has seen everything once it ends.
        if let Some(reader) = self.reader.take() {
            reader.join().unwrap();
        }
        self.stderr()
    }
}

/// `text` without terminal colour codes.
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // ESC [ … final byte in @..~
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) && c != '[' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The token in the first-start banner, if any.
fn printed_token(stderr: &str) -> Option<String> {
    stderr
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("co_") && !l.contains(' '))
        .map(str::to_string)
}

async fn the_real_server_process_runs_and_stops_cleanly(db: &TestDb) {
    let process = Process::start(db, &[]);
    let first = process.stderr();
    let token = printed_token(&first).unwrap_or_else(|| panic!("no token printed:\n{first}"));
    assert!(first.contains("WARNING"), "{first}");
    assert!(first.contains("shown only this once"), "{first}");
    let api = process.api(&token);
    api.get("/readyz").await.expect(200);
    api.apply("hello", &crate::workflows::hello("hello")).await;
    let secret = format!("process-secret-{}", unique());
    api.set_secret("DEPLOY", &secret).await;
    let id = api.start("hello", json!({"who": "process"})).await;
    assert_eq!(api.wait(&id).await, "succeeded");
    let run = api.get(&format!("/api/v1/runs/{id}")).await.expect(200);
    assert_eq!(run["steps"][0]["outputs"]["greeting"], "hello process");
    let output = process.stop();
    assert!(
        !output.contains(&secret),
        "the secret is in the server's output"
    );
    assert!(output.contains("stopped"), "{output}");
    // The key file is private.
    let key = db.data_dir().join("secret.key");
    assert!(key.is_file());

    // The second start prints no token, and the first one still works.
    let process = Process::start(db, &[("CONTAINEROPS_MAX_RUNS", "2")]);
    let api = process.api(&token);
    assert_eq!(
        api.get(&format!("/api/v1/runs/{id}")).await.expect(200)["status"],
        "succeeded"
    );
    let output = process.stop();
    assert_eq!(printed_token(&output), None, "{output}");
    assert!(!output.contains(&token), "the token was printed again");
}

/// The real process serves the UI from `--ui-dir` (here: `CONTAINEROPS_UI_DIR`) and logs a
/// browser in for `--session-ttl` (`CONTAINEROPS_SESSION_TTL`); its log says where the UI is.
async fn the_real_server_process_serves_the_ui_and_browser_sessions(db: &TestDb) {
    let dist = db.dir.path().join("dist");
    std::fs::create_dir_all(dist.join("assets")).unwrap();
    std::fs::write(
        dist.join("index.html"),
        "<html><head></head><body>app</body></html>",
    )
    .unwrap();
    std::fs::write(dist.join("assets/app-1.js"), "console.log(1)").unwrap();
    let token = "process-ui-admin-token-0123456789";
    let process = Process::start(
        db,
        &[
            ("CONTAINEROPS_UI_DIR", dist.to_str().unwrap()),
            ("CONTAINEROPS_SESSION_TTL", "90m"),
            ("CONTAINEROPS_ADMIN_TOKEN", token),
        ],
    );
    assert!(
        process
            .stderr()
            .contains(&format!("ui={}/ui/", process.base)),
        "{}",
        process.stderr()
    );
    let anonymous = process.api(token).with_token(None);
    let page = anonymous.get("/ui/runs/01x/steps/a").await;
    assert_eq!(page.status, 200);
    assert!(
        page.text.contains("<meta name=\"csp-nonce\""),
        "{}",
        page.text
    );
    assert!(
        page.text.ends_with("<body>app</body></html>"),
        "{}",
        page.text
    );
    let asset = anonymous.get("/ui/assets/app-1.js").await;
    assert_eq!(asset.text, "console.log(1)");
    let login = anonymous
        .post_json("/api/v1/session", &json!({ "token": token }))
        .await;
    login.expect(201);
    let cookie = login.headers["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.contains("; Max-Age=5400"), "{cookie}");
    let secret = cookie
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("co_session=")
        .to_string();
    let who = anonymous
        .send(
            anonymous
                .request(reqwest::Method::GET, "/api/v1/session")
                .header("cookie", format!("co_session={secret}")),
        )
        .await
        .expect(200);
    assert_eq!(
        (who["auth"].as_str(), who["role"].as_str()),
        (Some("session"), Some("admin"))
    );
    let output = process.stop();
    assert!(!output.contains(&secret), "the session secret was logged");
}

both_stores!(
    the_real_server_process_runs_and_stops_cleanly,
    the_real_server_process_serves_the_ui_and_browser_sessions,
);

/// `CONTAINEROPS_LOG_FORMAT=json`: every line the server logs (at debug level, so also the
/// libraries' events) is one JSON object with a timestamp, a level and a target, and a request's
/// line carries its route template and status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_are_one_object_per_line() {
    let db = TestDb::sqlite().await;
    let token = "json-logs-admin-token-0123456789";
    let process = Process::start(
        &db,
        &[
            ("CONTAINEROPS_LOG_FORMAT", "json"),
            ("CONTAINEROPS_ADMIN_TOKEN", token),
        ],
    );
    process.api(token).get("/api/v1/runs").await.expect(200);
    let output = process.stop();
    let mut requests = 0;
    for line in output.lines().filter(|l| !l.trim().is_empty()) {
        let event: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        for key in ["timestamp", "level", "target"] {
            assert!(event[key].is_string(), "no {key} in {line}");
        }
        if event["message"] == "request" && event["span"]["route"] == "/api/v1/runs" {
            assert_eq!(event["status"], 200, "{line}");
            assert_eq!(event["span"]["method"], "GET", "{line}");
            requests += 1;
        }
    }
    assert_eq!(requests, 1, "one logged GET /api/v1/runs in:\n{output}");
    assert!(!output.contains(token), "the token is in the log");
}

#[test]
fn help_documents_every_option_and_its_environment_variable() {
    let out = Command::new(containerops_bin())
        .args(["server", "--help"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for (_, flag, var) in co_server::config::declared_options() {
        if flag != "--lease" {
            assert!(help.contains(&flag), "{flag} is not in:\n{help}");
            assert!(help.contains(&var), "{var} is not in:\n{help}");
        }
    }
    for needle in ["postgres://", "127.0.0.1:8080", "secret.key", "Examples:"] {
        assert!(help.contains(needle), "{needle} is not in:\n{help}");
    }
    // The values of secret variables are not shown.
    let out = Command::new(containerops_bin())
        .args(["server", "--help"])
        .env("CONTAINEROPS_ADMIN_TOKEN", "help-shows-no-token-0123")
        .env("CONTAINEROPS_DATABASE", "postgres://co:hunter2@db/x")
        .output()
        .unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(!help.contains("help-shows-no-token"), "{help}");
    assert!(!help.contains("hunter2"), "{help}");
    // A wrong value in a variable: exit 2, naming the option.
    let out = Command::new(containerops_bin())
        .args(["server"])
        .env("CONTAINEROPS_MAX_RUNS", "many")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--max-runs"));
    // A mistake in the configuration: exit 2 with the reason.
    let out = Command::new(containerops_bin())
        .args(["server", "--listen", "no-port"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("HOST:PORT"));
}

/// `containerops validate FILE` prints exactly the `rendered` diagnostics of the API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_answers_what_the_cli_prints() {
    let db = TestDb::sqlite().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.yaml");
    std::fs::write(&path, crate::workflows::BROKEN).unwrap();
    let out = Command::new(containerops_bin())
        .arg("validate")
        .arg(&path)
        .env("CONTAINEROPS_CATALOG", dir.path().join("no-catalog"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let printed: Vec<String> = String::from_utf8(out.stderr)
        .unwrap()
        .lines()
        .filter(|l| l.contains(": error: "))
        .map(str::to_string)
        .collect();
    assert_eq!(printed.len(), 3, "{printed:?}");

    let server = TestServer::start(&db).await;
    let answer = server
        .api()
        .post_yaml(
            &format!("/api/v1/validate?file={}", path.display()),
            crate::workflows::BROKEN,
        )
        .await
        .expect(200);
    let rendered: Vec<String> = answer["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["rendered"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(rendered, printed);
    server.stop().await;
    db.finish().await;
}

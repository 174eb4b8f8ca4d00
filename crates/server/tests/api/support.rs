//! Test support: a fresh database per test (a temp SQLite file, or a new PostgreSQL schema in the
//! database named by `CONTAINEROPS_TEST_POSTGRES_URL`), the real server on a random port, an
//! HTTP client, a Server-Sent Events reader, and the server's captured log output.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, Once, OnceLock};
use std::time::Duration;

use co_server::config::BackendKind;
use co_server::{Server, ServerConfig};
use co_store::Store;
use futures::StreamExt;
use reqwest::header::HeaderMap;
use serde_json::Value;
use sqlx::{Connection, Executor};

pub const PG_ENV: &str = "CONTAINEROPS_TEST_POSTGRES_URL";
/// The admin token every test server is configured with.
pub const ADMIN: &str = "test-admin-token-0123456789abcdef";
/// The busybox image `scripts/build-images.sh` builds.
pub const BUSYBOX: &str = "localhost/co-examples/busybox:latest";
/// Longest a test waits for a run or a stream (a guard against hangs, not a timing assertion).
pub const PATIENCE: Duration = Duration::from_secs(180);

static UNIQUE: AtomicU64 = AtomicU64::new(0);

pub fn unique() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{}_{}_{nanos}",
        std::process::id(),
        UNIQUE.fetch_add(1, Ordering::Relaxed)
    )
}

pub fn postgres_base_url() -> String {
    match std::env::var(PG_ENV) {
        Ok(url) if !url.trim().is_empty() => url,
        _ => panic!(
            "{PG_ENV} is not set, so the PostgreSQL half of the server's API tests cannot run. \
             Run `sudo scripts/setup-postgres.sh` (installs and starts PostgreSQL, prints the URL) \
             and `export {PG_ENV}=$(sudo scripts/setup-postgres.sh)`."
        ),
    }
}

fn with_search_path(base: &str, schema: &str) -> String {
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-c%20search_path%3D{schema}")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
}

/// One fresh database per test.
pub struct TestDb {
    pub kind: Kind,
    pub url: String,
    pub dir: tempfile::TempDir,
    schema: Option<String>,
}

impl TestDb {
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("db/server.db").display());
        TestDb {
            kind: Kind::Sqlite,
            url,
            dir,
            schema: None,
        }
    }

    pub async fn postgres() -> TestDb {
        let base = postgres_base_url();
        let schema = format!("co_api_{}", unique());
        let mut admin = sqlx::postgres::PgConnection::connect(&base)
            .await
            .unwrap_or_else(|e| {
                panic!("cannot connect to {PG_ENV}: {e}. `sudo scripts/setup-postgres.sh` starts PostgreSQL")
            });
        admin
            .execute(format!("CREATE SCHEMA {schema}").as_str())
            .await
            .unwrap();
        admin.close().await.unwrap();
        TestDb {
            kind: Kind::Postgres,
            url: with_search_path(&base, &schema),
            dir: tempfile::tempdir().unwrap(),
            schema: Some(schema),
        }
    }

    /// The data directory servers on this database use (the secrets key file lives there).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// A store of its own on the same database (to look at what the server stored).
    pub async fn store(&self) -> Store {
        Store::open(&self.url).await.unwrap()
    }

    /// A server configuration for this database: random port, the test admin token, the no-op
    /// backend.
    pub fn config(&self) -> ServerConfig {
        let mut config = ServerConfig::new(self.url.clone(), self.data_dir());
        config.listen = "127.0.0.1:0".into();
        config.admin_token = Some(ADMIN.into());
        config.backend = BackendKind::Noop;
        config
    }

    pub async fn finish(self) {
        if let Some(schema) = self.schema {
            let mut admin = sqlx::postgres::PgConnection::connect(&postgres_base_url())
                .await
                .unwrap();
            admin
                .execute(format!("DROP SCHEMA IF EXISTS {schema} CASCADE").as_str())
                .await
                .unwrap();
            admin.close().await.unwrap();
        }
    }
}

/// Runs every case on SQLite and on PostgreSQL: `sqlite::NAME`, `postgres::NAME`.
macro_rules! both_stores {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let db = $crate::support::TestDb::sqlite().await;
                    super::$case(&db).await;
                    db.finish().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let db = $crate::support::TestDb::postgres().await;
                    super::$case(&db).await;
                    db.finish().await;
                }
            )*
        }
    };
}
pub(crate) use both_stores;

// ---- captured logs -----------------------------------------------------------------------------

static LOGS: Mutex<Vec<u8>> = Mutex::new(Vec::new());
static LOGGING: Once = Once::new();

struct LogWriter;

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOGS.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Everything every server in this test process logged so far (most verbose levels).
pub fn captured_logs() -> String {
    String::from_utf8_lossy(&LOGS.lock().unwrap()).into_owned()
}

fn capture_logs() {
    LOGGING.call_once(|| {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                "trace,hyper=info,hyper_util=info,h2=info,reqwest=info,rustls=info,bollard=info,\
                 sqlx=debug",
            ))
            .with_writer(|| LogWriter)
            .with_ansi(false)
            .try_init();
    });
}

// ---- the server ---------------------------------------------------------------------------------

/// A real server (`Server::bind` + `run`) on a random port of this process.
pub struct TestServer {
    pub base: String,
    pub generated_admin_token: Option<String>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), co_server::ServerError>>>,
}

impl TestServer {
    pub async fn start(db: &TestDb) -> TestServer {
        TestServer::start_with(db.config()).await
    }

    /// With the real container engine (Podman) as the backend.
    pub async fn start_docker(db: &TestDb) -> TestServer {
        let mut config = db.config();
        config.backend = BackendKind::Docker;
        TestServer::start_with(config).await
    }

    pub async fn start_with(config: ServerConfig) -> TestServer {
        capture_logs();
        let server = Server::bind(config).await.unwrap();
        let base = format!("http://{}", server.local_addr());
        let generated_admin_token = server.generated_admin_token().map(str::to_string);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(server.run(async {
            let _ = stopped.await;
        }));
        TestServer {
            base,
            generated_admin_token,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// A client with the admin token.
    pub fn api(&self) -> Api {
        Api {
            http: http(),
            base: self.base.clone(),
            token: Some(ADMIN.to_string()),
        }
    }

    /// Stop it (graceful shutdown) and wait until it has.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

fn http() -> reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT
        .get_or_init(|| reqwest::Client::builder().build().unwrap())
        .clone()
}

// ---- the client ---------------------------------------------------------------------------------

/// An HTTP client of one server with one token (or none).
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    pub base: String,
    pub token: Option<String>,
}

/// A response, read whole.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.text))
    }

    /// Asserts the status, and returns the JSON body.
    pub fn expect(&self, status: u16) -> Value {
        assert_eq!(self.status, status, "{}", self.text);
        if self.text.is_empty() {
            Value::Null
        } else {
            self.json()
        }
    }

    /// Asserts the status and the error shape `{"error": {"code", "message", "details"}}` with
    /// `code`; returns the `error` object.
    pub fn expect_error(&self, status: u16, code: &str) -> Value {
        assert_eq!(self.status, status, "{}", self.text);
        let content_type = self
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        assert!(
            content_type.starts_with("application/json"),
            "{content_type}: {}",
            self.text
        );
        let body = self.json();
        let obj = body.as_object().unwrap();
        assert_eq!(obj.len(), 1, "{body}");
        let error = &body["error"];
        let keys: Vec<&String> = error.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["code", "message", "details"], "{body}");
        assert_eq!(error["code"], code, "{body}");
        assert!(!error["message"].as_str().unwrap().is_empty(), "{body}");
        error.clone()
    }
}

impl Api {
    /// A client of the server at `base` (`http://HOST:PORT`).
    pub fn new(base: &str, token: Option<&str>) -> Api {
        Api {
            http: http(),
            base: base.to_string(),
            token: token.map(str::to_string),
        }
    }

    pub fn with_token(&self, token: Option<&str>) -> Api {
        Api {
            token: token.map(str::to_string),
            ..self.clone()
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let mut request = self.http.request(method, self.url(path));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        request
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> Resp {
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        Resp {
            status,
            headers,
            text,
        }
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.send(self.request(reqwest::Method::GET, path)).await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        self.send(self.request(reqwest::Method::DELETE, path)).await
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Resp {
        self.send(self.request(reqwest::Method::POST, path).json(body))
            .await
    }

    pub async fn put_json(&self, path: &str, body: &Value) -> Resp {
        self.send(self.request(reqwest::Method::PUT, path).json(body))
            .await
    }

    pub async fn post_yaml(&self, path: &str, yaml: &str) -> Resp {
        self.send(
            self.request(reqwest::Method::POST, path)
                .header("content-type", "application/yaml")
                .body(yaml.to_string()),
        )
        .await
    }

    pub async fn put_yaml(&self, path: &str, yaml: &str) -> Resp {
        self.send(
            self.request(reqwest::Method::PUT, path)
                .header("content-type", "application/yaml")
                .body(yaml.to_string()),
        )
        .await
    }

    /// Store workflow YAML (`PUT /api/v1/workflows/NAME`); returns the revision.
    pub async fn apply(&self, name: &str, yaml: &str) -> i64 {
        let r = self
            .put_yaml(&format!("/api/v1/workflows/{name}"), yaml)
            .await;
        assert!(r.status == 201 || r.status == 200, "{}", r.text);
        r.json()["revision"].as_i64().unwrap()
    }

    /// Start a run of a stored workflow; returns its id.
    pub async fn start(&self, workflow: &str, inputs: Value) -> String {
        let r = self
            .post_json(
                &format!("/api/v1/workflows/{workflow}/runs"),
                &serde_json::json!({ "inputs": inputs }),
            )
            .await;
        let body = r.expect(201);
        assert_eq!(body["status"], "queued");
        body["id"].as_str().unwrap().to_string()
    }

    /// Create a token (`POST /api/v1/tokens`); the answer, with the token itself in `token`.
    pub async fn create_token(&self, name: &str, role: &str) -> Value {
        self.post_json(
            "/api/v1/tokens",
            &serde_json::json!({ "name": name, "role": role }),
        )
        .await
        .expect(201)
    }

    pub async fn set_secret(&self, name: &str, value: &str) {
        self.put_json(
            &format!("/api/v1/secrets/{name}"),
            &serde_json::json!({ "value": value }),
        )
        .await
        .expect(204);
    }

    /// Follow a run's log stream to its `end` event: every event in order.
    pub async fn follow(&self, run_id: &str) -> Vec<SseEvent> {
        self.events(run_id, None, None).await
    }

    /// Follow a run to its end; returns its final status.
    pub async fn wait(&self, run_id: &str) -> String {
        let events = self.follow(run_id).await;
        let end = events.last().unwrap();
        assert_eq!(end.event, "end", "{events:?}");
        serde_json::from_str::<Value>(&end.data).unwrap()["status"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Read the log stream of a run (after `last_event_id`), until `end` or until `max` events
    /// were read (then the connection is dropped).
    pub async fn events(
        &self,
        run_id: &str,
        last_event_id: Option<i64>,
        max: Option<usize>,
    ) -> Vec<SseEvent> {
        self.events_at(
            &format!("/api/v1/runs/{run_id}/logs/stream"),
            last_event_id,
            max,
        )
        .await
    }

    pub async fn events_at(
        &self,
        path: &str,
        last_event_id: Option<i64>,
        max: Option<usize>,
    ) -> Vec<SseEvent> {
        let mut request = self.request(reqwest::Method::GET, path);
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id.to_string());
        }
        let read = async {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 200);
            assert!(response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/event-stream"));
            let mut body = response.bytes_stream();
            let mut buffer = String::new();
            let mut events = Vec::new();
            while let Some(chunk) = body.next().await {
                buffer.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
                while let Some(end) = buffer.find("\n\n") {
                    let block: String = buffer.drain(..end + 2).collect();
                    if let Some(event) = SseEvent::parse(&block) {
                        let done = event.event == "end";
                        events.push(event);
                        if done || max.is_some_and(|m| events.len() >= m) {
                            return events;
                        }
                    }
                }
            }
            events
        };
        tokio::time::timeout(PATIENCE, read)
            .await
            .unwrap_or_else(|_| panic!("the log stream of {path} did not end"))
    }
}

/// One Server-Sent Event (comments and keep-alives are skipped).
#[derive(Debug, Clone, PartialEq)]
pub struct SseEvent {
    pub id: Option<String>,
    pub event: String,
    pub data: String,
}

impl SseEvent {
    fn parse(block: &str) -> Option<SseEvent> {
        let mut id = None;
        let mut event = String::from("message");
        let mut data = Vec::new();
        let mut any = false;
        for line in block.lines() {
            if line.starts_with(':') || line.is_empty() {
                continue;
            }
            let (field, value) = line.split_once(':').unwrap_or((line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            any = true;
            match field {
                "id" => id = Some(value.to_string()),
                "event" => event = value.to_string(),
                "data" => data.push(value.to_string()),
                _ => {}
            }
        }
        any.then(|| SseEvent {
            id,
            event,
            data: data.join("\n"),
        })
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data).unwrap()
    }
}

// ---- the real binary -----------------------------------------------------------------------------

/// The `containerops` binary of this workspace, built (once per test process) into the target
/// directory these tests run from, so it is never stale.
pub fn containerops_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("CONTAINEROPS_BIN") {
            return PathBuf::from(bin);
        }
        // .../target/debug/deps/api-HASH → .../target/debug
        let exe = std::env::current_exe().unwrap();
        let profile_dir = exe.parent().and_then(Path::parent).unwrap().to_path_buf();
        let target_dir = profile_dir.parent().unwrap().to_path_buf();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut build = std::process::Command::new(cargo);
        // Not the variables cargo set for this test: they would change build scripts'
        // fingerprints and rebuild half the workspace.
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy().into_owned();
            let set_for_tests = [
                "CARGO_PKG_",
                "CARGO_MANIFEST_",
                "CARGO_CRATE_",
                "CARGO_BIN_",
                "CARGO_PRIMARY_PACKAGE",
                "CARGO_TARGET_TMPDIR",
                "CARGO_RUSTC_CURRENT_DIR",
                "OUT_DIR",
            ];
            if set_for_tests.iter().any(|p| name.starts_with(p)) {
                build.env_remove(&name);
            }
        }
        build.args([
            "build",
            "--quiet",
            "-p",
            "containerops",
            "--bin",
            "containerops",
        ]);
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            build.arg("--release");
        }
        let status = build
            .env("CARGO_TARGET_DIR", &target_dir)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .unwrap();
        assert!(status.success(), "building the containerops binary failed");
        let bin = profile_dir.join("containerops");
        assert!(bin.is_file(), "{} was not built", bin.display());
        bin
    })
    .clone()
}

/// Run a Python `script` on `input` (its stdin) with the Python the tests use
/// (`CONTAINEROPS_PYTHON`, default `python3`) and the packages of `scripts/setup-python.sh`
/// (standard third-party checkers: an OpenAPI validator, Prometheus' text-format parser). Ok with
/// its stdout when it exits 0, Err with its stderr otherwise. A missing Python or package fails
/// the test loudly, with how to install it.
pub fn python(script: &str, input: &str) -> Result<String, String> {
    use std::io::Write;
    let python = std::env::var("CONTAINEROPS_PYTHON").unwrap_or_else(|_| "python3".into());
    let mut child = std::process::Command::new(&python)
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {python} ({e}): run scripts/setup-python.sh"));
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_string();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        !stderr.contains("ModuleNotFoundError"),
        "a Python package the tests need is missing: run scripts/setup-python.sh\n{stderr}"
    );
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).to_string())
    } else {
        Err(stderr)
    }
}

//! The CLI as a client of `containerops server`: `--server URL` / `CONTAINEROPS_SERVER` and
//! `--token T` / `CONTAINEROPS_TOKEN`.
//!
//! One [`Client`] per invocation: JSON over HTTP (reqwest with rustls), bearer auth, and one
//! error type whose every case is printed in words with a hint and maps to an exit code
//! ([`ClientError::report`]).

pub mod logs;
pub mod progress;
pub mod sse;
pub mod view;

use std::time::Duration;

use reqwest::header::{HeaderValue, AUTHORIZATION};
use reqwest::{Method, RequestBuilder, Response, StatusCode, Url};
use serde_json::Value;

use crate::exit;

/// How long a connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long an ordinary (non-streaming) request may take in all.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Where the server is and how to authenticate (the global `--server` and `--token` options).
#[derive(Debug, Clone)]
pub struct Server {
    pub url: String,
    pub token: Option<String>,
}

/// A connection to one server.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: Url,
    /// The URL as the user gave it, for messages.
    shown: String,
    token: Option<String>,
}

/// Everything that can go wrong talking to the server.
#[derive(Debug)]
pub enum ClientError {
    /// `--server` is not a usable URL.
    BadUrl { url: String, reason: String },
    /// No connection could be made (refused, no route, unknown host, TLS failure).
    Unreachable { url: String, reason: String },
    /// The server did not answer in time.
    Timeout { url: String },
    /// The connection broke while talking (not while connecting).
    Transport { url: String, reason: String },
    /// The server answered with an error (`{"error": {"code", "message", "details"}}`).
    Api {
        status: StatusCode,
        code: String,
        message: String,
        details: Value,
        /// Whether a token was sent (for the 401 hint).
        had_token: bool,
    },
    /// The server answered something this client does not understand.
    Protocol(String),
}

impl Client {
    pub fn new(server: &Server) -> Result<Client, ClientError> {
        let shown = server.url.trim().to_string();
        let with_scheme = if shown.contains("://") {
            shown.clone()
        } else {
            format!("http://{shown}")
        };
        let bad = |reason: String| ClientError::BadUrl {
            url: shown.clone(),
            reason,
        };
        let base = Url::parse(&with_scheme).map_err(|e| bad(e.to_string()))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(bad(format!(
                "the scheme must be http or https, not {}",
                base.scheme()
            )));
        }
        if base.cannot_be_a_base() || base.host().is_none() {
            return Err(bad("expected http://HOST:PORT".into()));
        }
        if !base.username().is_empty() || base.password().is_some() {
            return Err(bad(
                "credentials do not belong in the URL; pass the token with --token".into(),
            ));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .user_agent(concat!("containerops/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| bad(format!("cannot set up an HTTP client: {e}")))?;
        Ok(Client {
            http,
            base,
            shown,
            token: server.token.clone().filter(|t| !t.trim().is_empty()),
        })
    }

    /// The server URL as the user gave it.
    pub fn shown_url(&self) -> &str {
        &self.shown
    }

    /// `BASE/api/v1/<segments…>?<query…>`; segments are percent-encoded, empty query values
    /// are left out.
    pub fn url(&self, segments: &[&str], query: &[(&str, String)]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(["api", "v1"]).extend(segments);
        }
        url.set_query(None);
        let present: Vec<&(&str, String)> = query.iter().filter(|(_, v)| !v.is_empty()).collect();
        if !present.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in present {
                pairs.append_pair(k, v);
            }
        }
        url
    }

    fn request(&self, method: Method, url: Url) -> RequestBuilder {
        let builder = self.http.request(method, url);
        match &self.token {
            Some(token) => match HeaderValue::from_str(&format!("Bearer {}", token.trim())) {
                Ok(mut value) => {
                    value.set_sensitive(true);
                    builder.header(AUTHORIZATION, value)
                }
                Err(_) => builder,
            },
            None => builder,
        }
    }

    /// `GET` a JSON document.
    pub async fn get(
        &self,
        segments: &[&str],
        query: &[(&str, String)],
    ) -> Result<Value, ClientError> {
        let url = self.url(segments, query);
        self.json(self.request(Method::GET, url)).await
    }

    /// `POST` a JSON body (or none), answer JSON.
    pub async fn post(
        &self,
        segments: &[&str],
        body: Option<&Value>,
    ) -> Result<Value, ClientError> {
        let url = self.url(segments, &[]);
        let mut request = self.request(Method::POST, url);
        if let Some(body) = body {
            request = request.json(body);
        }
        self.json(request).await
    }

    /// `PUT` a JSON body, answer JSON (`null` for an empty answer such as 204).
    pub async fn put(&self, segments: &[&str], body: &Value) -> Result<Value, ClientError> {
        let url = self.url(segments, &[]);
        self.json(self.request(Method::PUT, url).json(body)).await
    }

    /// `DELETE`, answer JSON (`null` for an empty answer such as 204).
    pub async fn delete(&self, segments: &[&str]) -> Result<Value, ClientError> {
        let url = self.url(segments, &[]);
        self.json(self.request(Method::DELETE, url)).await
    }

    /// `POST` a JSON body; the answer's status (any success) and JSON.
    pub async fn post_json_status(
        &self,
        segments: &[&str],
        body: &Value,
    ) -> Result<(reqwest::StatusCode, Value), ClientError> {
        let url = self.url(segments, &[]);
        self.json_with_status(self.request(Method::POST, url).json(body))
            .await
    }

    /// Open a streaming `GET` (no overall timeout); the response's status is already checked.
    pub async fn open_stream(
        &self,
        segments: &[&str],
        query: &[(&str, String)],
        last_event_id: Option<i64>,
    ) -> Result<Response, ClientError> {
        let url = self.url(segments, query);
        let mut request = self
            .request(Method::GET, url)
            .header(reqwest::header::ACCEPT, "text/event-stream");
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id.to_string());
        }
        let response = request.send().await.map_err(|e| self.transport(e))?;
        self.check(response).await
    }

    async fn json(&self, request: RequestBuilder) -> Result<Value, ClientError> {
        self.json_with_status(request).await.map(|(_, value)| value)
    }

    async fn json_with_status(
        &self,
        request: RequestBuilder,
    ) -> Result<(reqwest::StatusCode, Value), ClientError> {
        let response = request
            .timeout(REQUEST_TIMEOUT)
            .send()
            .await
            .map_err(|e| self.transport(e))?;
        let response = self.check(response).await?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| self.transport(e))?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok((status, Value::Null));
        }
        let value = serde_json::from_slice(&bytes).map_err(|e| {
            ClientError::Protocol(format!(
                "the server at {} answered something that is not JSON ({e}): {}",
                self.shown,
                snippet(&bytes)
            ))
        })?;
        Ok((status, value))
    }

    /// A successful response as is; an error status as [`ClientError::Api`].
    async fn check(&self, response: Response) -> Result<Response, ClientError> {
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let bytes = response.bytes().await.unwrap_or_default();
        let had_token = self.token.is_some();
        let body: Option<Value> = serde_json::from_slice(&bytes).ok();
        match body.as_ref().and_then(|b| b.get("error")) {
            Some(error) => Err(ClientError::Api {
                status,
                code: text_field(error, "code"),
                message: match text_field(error, "message") {
                    m if m.is_empty() => status_words(status),
                    m => m,
                },
                details: error.get("details").cloned().unwrap_or(Value::Null),
                had_token,
            }),
            None => Err(ClientError::Api {
                status,
                code: String::new(),
                message: if bytes.iter().all(u8::is_ascii_whitespace) {
                    status_words(status)
                } else {
                    format!("{}: {}", status_words(status), snippet(&bytes))
                },
                details: Value::Null,
                had_token,
            }),
        }
    }

    fn transport(&self, e: reqwest::Error) -> ClientError {
        let url = self.shown.clone();
        if e.is_timeout() {
            ClientError::Timeout { url }
        } else if e.is_connect() {
            ClientError::Unreachable {
                url,
                reason: root_cause(&e),
            }
        } else {
            ClientError::Transport {
                url,
                reason: root_cause(&e),
            }
        }
    }
}

impl ClientError {
    /// SPEC §5 exit codes: 2 for invalid input (400, 404, 413, 422), 1 for everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            ClientError::BadUrl { .. } => exit::INVALID,
            ClientError::Api { status, .. } if is_invalid_input(*status) => exit::INVALID,
            _ => exit::FAILED,
        }
    }

    /// Whether trying again later may help (the connection, not the request, failed).
    pub fn is_transient(&self) -> bool {
        match self {
            ClientError::Unreachable { .. }
            | ClientError::Timeout { .. }
            | ClientError::Transport { .. } => true,
            ClientError::Api { status, .. } => {
                matches!(status.as_u16(), 502..=504)
            }
            _ => false,
        }
    }

    /// The lines to print on stderr.
    pub fn lines(&self) -> Vec<String> {
        match self {
            ClientError::BadUrl { url, reason } => vec![
                format!("error: --server {url:?} is not a usable server URL: {reason}"),
                "hint: give it as http://HOST:PORT (e.g. http://127.0.0.1:8080)".into(),
            ],
            ClientError::Unreachable { url, reason } => vec![
                format!("error: the ContainerOps server is not reachable at {url} ({reason})"),
                "hint: start one with `containerops server` (it listens on 127.0.0.1:8080 by \
                 default), or point --server / CONTAINEROPS_SERVER at a running one"
                    .into(),
            ],
            ClientError::Timeout { url } => vec![format!(
                "error: the ContainerOps server at {url} did not answer in time"
            )],
            ClientError::Transport { url, reason } => vec![format!(
                "error: the connection to the ContainerOps server at {url} failed: {reason}"
            )],
            ClientError::Protocol(message) => vec![format!("error: {message}")],
            ClientError::Api {
                status,
                code,
                message,
                details,
                had_token,
            } => {
                let mut lines = vec![format!("error: {message}")];
                if code == "invalid_inputs" {
                    if let Some(problems) = details.as_array().filter(|p| p.len() > 1) {
                        lines = problems
                            .iter()
                            .map(|p| format!("error: {}", value_words(p)))
                            .collect();
                    }
                } else if !details.is_null() && *status != StatusCode::PAYLOAD_TOO_LARGE {
                    if let Some(diagnostics) = diagnostic_lines(details) {
                        lines = diagnostics;
                    } else {
                        lines.push(format!("details: {details}"));
                    }
                }
                match status.as_u16() {
                    401 if *had_token => lines.push(
                        "hint: the server did not accept the token; pass a valid one with \
                         --token TOKEN or CONTAINEROPS_TOKEN"
                            .into(),
                    ),
                    401 => lines.push(
                        "hint: this server needs an API token: pass --token TOKEN or set \
                         CONTAINEROPS_TOKEN"
                            .into(),
                    ),
                    403 => lines.push(
                        "hint: this token may not do that (viewer tokens can only read); pass an \
                         admin token with --token TOKEN or CONTAINEROPS_TOKEN"
                            .into(),
                    ),
                    _ => {}
                }
                lines
            }
        }
    }

    /// Print on stderr and return the exit code.
    pub fn report(&self) -> u8 {
        for line in self.lines() {
            eprintln!("{line}");
        }
        self.exit_code()
    }
}

fn is_invalid_input(status: StatusCode) -> bool {
    matches!(status.as_u16(), 400 | 404 | 413 | 422)
}

/// Diagnostics (`[{"file","line","col","message"}]`) as `FILE:LINE:COL: error: MESSAGE` lines;
/// `None` if `details` is not a list of them.
pub fn diagnostic_lines(details: &Value) -> Option<Vec<String>> {
    let list = details.as_array().filter(|l| !l.is_empty())?;
    list.iter()
        .map(|d| {
            let message = d.get("message")?.as_str()?;
            let line = d.get("line")?.as_u64()?;
            let col = d.get("col")?.as_u64()?;
            match d.get("file").and_then(Value::as_str) {
                Some(file) => Some(format!("{file}:{line}:{col}: error: {message}")),
                None => d
                    .get("rendered")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .or_else(|| Some(format!("{line}:{col}: error: {message}"))),
            }
        })
        .collect()
}

/// A string field, or `""`.
pub fn text_field(value: &Value, key: &str) -> String {
    value
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// A JSON value in words: strings bare, anything else as JSON.
fn value_words(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Object(o) => o
            .get("message")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| value.to_string()),
        other => other.to_string(),
    }
}

fn status_words(status: StatusCode) -> String {
    format!(
        "the server answered {} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    )
    .trim_end()
    .to_string()
}

/// The first 300 characters of a body, on one line.
fn snippet(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() > 300 {
        format!("{}…", one_line.chars().take(300).collect::<String>())
    } else {
        one_line
    }
}

/// The innermost cause of an error (e.g. `Connection refused (os error 111)`), which says more
/// than reqwest's outer "error sending request for url …".
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut current = e;
    while let Some(source) = current.source() {
        current = source;
    }
    current.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(url: &str) -> Client {
        Client::new(&Server {
            url: url.into(),
            token: None,
        })
        .unwrap()
    }

    #[test]
    fn urls_keep_a_base_path_and_encode_segments() {
        let c = client("http://h:1/co/");
        assert_eq!(
            c.url(
                &["runs", "a b/c"],
                &[("step", "x[os=l]".into()), ("after", String::new())]
            )
            .as_str(),
            "http://h:1/co/api/v1/runs/a%20b%2Fc?step=x%5Bos%3Dl%5D"
        );
        assert_eq!(
            client("127.0.0.1:8080").url(&["workflows"], &[]).as_str(),
            "http://127.0.0.1:8080/api/v1/workflows"
        );
    }

    #[test]
    fn unusable_urls_are_refused_in_words() {
        for bad in [
            "ftp://h/",
            "http://",
            "mailto:x@y",
            "http://a b/",
            "http://u:p@h/",
        ] {
            let err = Client::new(&Server {
                url: bad.into(),
                token: None,
            })
            .unwrap_err();
            assert_eq!(err.exit_code(), exit::INVALID, "{bad}");
        }
    }

    #[test]
    fn errors_map_to_exit_codes_and_hints() {
        let api = |status: u16, had_token: bool| ClientError::Api {
            status: StatusCode::from_u16(status).unwrap(),
            code: "x".into(),
            message: "nope".into(),
            details: Value::Null,
            had_token,
        };
        assert_eq!(api(400, true).exit_code(), exit::INVALID);
        assert_eq!(api(404, true).exit_code(), exit::INVALID);
        assert_eq!(api(422, true).exit_code(), exit::INVALID);
        assert_eq!(api(409, true).exit_code(), exit::FAILED);
        assert_eq!(api(500, true).exit_code(), exit::FAILED);
        assert_eq!(api(401, false).exit_code(), exit::FAILED);
        let lines = api(401, false).lines().join("\n");
        assert!(
            lines.contains("--token") && lines.contains("CONTAINEROPS_TOKEN"),
            "{lines}"
        );
        let lines = api(403, true).lines().join("\n");
        assert!(lines.contains("admin token"), "{lines}");
    }

    #[test]
    fn diagnostics_are_printed_like_the_local_validator() {
        let details = serde_json::json!([
            {"file": "wf.yaml", "line": 3, "col": 7, "message": "unknown field", "rendered": "x"},
            {"file": "catalog/up/1.0.0/component.yaml", "line": 1, "col": 1, "message": "bad"}
        ]);
        assert_eq!(
            diagnostic_lines(&details).unwrap(),
            [
                "wf.yaml:3:7: error: unknown field",
                "catalog/up/1.0.0/component.yaml:1:1: error: bad"
            ]
        );
        assert!(diagnostic_lines(&serde_json::json!(["a", "b"])).is_none());
        assert!(diagnostic_lines(&serde_json::json!([])).is_none());
    }

    #[test]
    fn invalid_inputs_are_listed_one_per_line() {
        let err = ClientError::Api {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_inputs".into(),
            message: "a; b".into(),
            details: serde_json::json!(["input a: bad", "input b: missing"]),
            had_token: true,
        };
        assert_eq!(
            err.lines(),
            ["error: input a: bad", "error: input b: missing"]
        );
    }
}

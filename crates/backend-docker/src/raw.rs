//! A minimal raw HTTP/1.1 client to the engine, used next to bollard where bollard's typed models do
//! not fit:
//!
//! - Podman reports container states bollard's enums do not know (`stopped`, `configured`), so a
//!   typed inspect or list of such a container fails to decode. We decode only the fields we need.
//! - For the event stream we must know when the subscription is live (response headers received)
//!   before starting a container; bollard's streams do not expose that moment.
//!
//! One connection per request, like bollard's own transport (it keeps no idle connections).

use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde::de::DeserializeOwned;

/// Where the engine listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Transport {
    Unix(PathBuf),
    /// `host:port`
    Tcp(String),
}

#[derive(Debug, Clone)]
pub(crate) struct RawClient {
    transport: Transport,
    /// `/v1.41`: the negotiated API version prefix.
    prefix: String,
}

/// A failed raw request: the HTTP status (if the engine answered) and a message.
#[derive(Debug, Clone)]
pub(crate) struct RawError {
    pub status: Option<u16>,
    pub message: String,
}

impl std::fmt::Display for RawError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.status {
            Some(s) => write!(f, "{} (HTTP {s})", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl RawError {
    fn io(e: impl std::fmt::Display) -> Self {
        RawError {
            status: None,
            message: e.to_string(),
        }
    }
}

/// Time allowed to connect and receive response headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);

impl RawClient {
    pub(crate) fn new(transport: Transport, api_version: &str) -> Self {
        let prefix = if api_version.is_empty() {
            String::new()
        } else {
            format!("/v{api_version}")
        };
        RawClient { transport, prefix }
    }

    /// `GET path_and_query` and return the response whose headers have arrived (status 2xx).
    pub(crate) async fn get(
        &self,
        path_and_query: &str,
    ) -> Result<http::Response<Incoming>, RawError> {
        let fut = self.get_inner(path_and_query);
        match tokio::time::timeout(HEADER_TIMEOUT, fut).await {
            Ok(r) => r,
            Err(_) => Err(RawError::io(format!(
                "the container engine did not answer GET {path_and_query} within {}s",
                HEADER_TIMEOUT.as_secs()
            ))),
        }
    }

    async fn get_inner(&self, path_and_query: &str) -> Result<http::Response<Incoming>, RawError> {
        self.request(http::Method::GET, path_and_query, &[]).await
    }

    /// `POST path_and_query` (no body) with extra headers; the response whose headers have
    /// arrived (status 2xx). No timeout: a push lasts as long as the upload.
    pub(crate) async fn post(
        &self,
        path_and_query: &str,
        headers: &[(&str, &str)],
    ) -> Result<http::Response<Incoming>, RawError> {
        self.request(http::Method::POST, path_and_query, headers)
            .await
    }

    async fn request(
        &self,
        method: http::Method,
        path_and_query: &str,
        headers: &[(&str, &str)],
    ) -> Result<http::Response<Incoming>, RawError> {
        let uri = format!("{}{}", self.prefix, path_and_query);
        let mut req = http::Request::builder()
            .method(method)
            .uri(uri.as_str())
            .header(http::header::HOST, "docker");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(Empty::<Bytes>::new()).map_err(RawError::io)?;
        let mut sender = match &self.transport {
            Transport::Unix(path) => {
                let stream = tokio::net::UnixStream::connect(path).await.map_err(|e| {
                    RawError::io(format!("cannot connect to {}: {e}", path.display()))
                })?;
                handshake(stream).await?
            }
            Transport::Tcp(addr) => {
                let stream = tokio::net::TcpStream::connect(addr.as_str())
                    .await
                    .map_err(|e| RawError::io(format!("cannot connect to {addr}: {e}")))?;
                handshake(stream).await?
            }
        };
        let resp = sender.send_request(req).await.map_err(RawError::io)?;
        let status = resp.status();
        if status.is_success() {
            Ok(resp)
        } else {
            let body = resp
                .into_body()
                .collect()
                .await
                .map(|c| c.to_bytes())
                .unwrap_or_default();
            Err(RawError {
                status: Some(status.as_u16()),
                message: error_message(&body),
            })
        }
    }

    /// `GET /_ping` (use a client without a version prefix): the answer's headers, where the
    /// engine names itself and its API version.
    pub(crate) async fn ping(&self) -> Result<http::HeaderMap, RawError> {
        let (parts, body) = self.get("/_ping").await?.into_parts();
        body.collect().await.map_err(RawError::io)?;
        Ok(parts.headers)
    }

    /// `GET` a JSON document and decode it.
    pub(crate) async fn get_json<T: DeserializeOwned>(
        &self,
        path_and_query: &str,
    ) -> Result<T, RawError> {
        let resp = self.get(path_and_query).await?;
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(RawError::io)?
            .to_bytes();
        serde_json::from_slice(&body)
            .map_err(|e| RawError::io(format!("unexpected answer to GET {path_and_query}: {e}")))
    }
}

async fn handshake<S>(
    stream: S,
) -> Result<hyper::client::conn::http1::SendRequest<Empty<Bytes>>, RawError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(RawError::io)?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!(error = %e, "engine connection ended with an error");
        }
    });
    Ok(sender)
}

/// The engine's error body is `{"message": "..."}`; fall back to the raw text.
pub(crate) fn error_message(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Msg {
        message: String,
    }
    match serde_json::from_slice::<Msg>(body) {
        Ok(m) => m.message,
        Err(_) => String::from_utf8_lossy(body).trim().to_string(),
    }
}

/// Percent-encode a query value (RFC 3986 unreserved characters stay).
pub(crate) fn encode_query(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_filters() {
        assert_eq!(
            encode_query(r#"{"a":["b=c"]}"#),
            "%7B%22a%22%3A%5B%22b%3Dc%22%5D%7D"
        );
        assert_eq!(encode_query("plain-1.2_x~"), "plain-1.2_x~");
    }

    #[test]
    fn error_message_from_json_or_text() {
        assert_eq!(
            error_message(br#"{"message":"no such container"}"#),
            "no such container"
        );
        assert_eq!(error_message(b"  boom \n"), "boom");
    }
}

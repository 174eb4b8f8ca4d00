//! Finding the container engine (SPEC §5): `$DOCKER_HOST`, else `/var/run/docker.sock`, else
//! `/run/podman/podman.sock`, else `$XDG_RUNTIME_DIR/podman/podman.sock`; the first that answers
//! `_ping` wins, and the API version is negotiated with it. A `$DOCKER_HOST` that is set is the
//! only candidate (as for the `docker` CLI): a run never silently lands on another engine than the
//! one the user named.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bollard::Docker;
use co_backend::BackendError;

use crate::raw::{RawClient, Transport};

/// One place to look for a container engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// Where the candidate comes from, for messages (`$DOCKER_HOST`, `Docker's default socket`).
    pub origin: String,
    /// `unix:///path/to.sock` or `tcp://host:port`.
    pub host: String,
}

impl Candidate {
    pub fn new(origin: impl Into<String>, host: impl Into<String>) -> Self {
        Candidate {
            origin: origin.into(),
            host: host.into(),
        }
    }
}

/// The candidates of SPEC §5 in order, from the given values of `$DOCKER_HOST` and
/// `$XDG_RUNTIME_DIR` (empty values count as unset).
pub fn candidates(docker_host: Option<&str>, xdg_runtime_dir: Option<&str>) -> Vec<Candidate> {
    let mut out = Vec::new();
    if let Some(h) = docker_host.map(str::trim).filter(|h| !h.is_empty()) {
        out.push(Candidate::new("$DOCKER_HOST", h));
        return out;
    }
    out.push(Candidate::new(
        "Docker's default socket",
        "unix:///var/run/docker.sock",
    ));
    out.push(Candidate::new(
        "Podman's system socket",
        "unix:///run/podman/podman.sock",
    ));
    if let Some(x) = xdg_runtime_dir.map(str::trim).filter(|x| !x.is_empty()) {
        let x = x.trim_end_matches('/');
        out.push(Candidate::new(
            "Podman's user socket ($XDG_RUNTIME_DIR)",
            format!("unix://{x}/podman/podman.sock"),
        ));
    }
    out
}

/// [`candidates`] from this process's environment.
pub fn candidates_from_env() -> Vec<Candidate> {
    let docker_host = std::env::var("DOCKER_HOST").ok();
    let xdg = std::env::var("XDG_RUNTIME_DIR").ok();
    candidates(docker_host.as_deref(), xdg.as_deref())
}

/// Which engine answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineKind {
    Docker,
    Podman,
}

impl EngineKind {
    /// `docker` or `podman`.
    pub fn as_str(self) -> &'static str {
        match self {
            EngineKind::Docker => "docker",
            EngineKind::Podman => "podman",
        }
    }
}

impl std::fmt::Display for EngineKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            EngineKind::Docker => "Docker Engine",
            EngineKind::Podman => "Podman",
        })
    }
}

/// What the discovered engine said about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineInfo {
    pub kind: EngineKind,
    /// The engine's own version (`4.3.1`, `27.3.1`).
    pub version: String,
    /// The Docker API version in use after negotiation (`1.41`).
    pub api_version: String,
    /// The endpoint that answered (`unix:///run/podman/podman.sock`).
    pub host: String,
    /// Where that endpoint came from (see [`Candidate::origin`]).
    pub origin: String,
}

impl std::fmt::Display for EngineInfo {
    /// `Podman 4.3.1 (API 1.41) at unix:///run/podman/podman.sock`
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} (API {}) at {}",
            self.kind, self.version, self.api_version, self.host
        )
    }
}

/// A live connection to an engine.
#[derive(Debug, Clone)]
pub(crate) struct Connection {
    pub docker: Docker,
    pub raw: RawClient,
    pub info: EngineInfo,
}

/// How to start an engine, for [`BackendError::Unavailable`].
pub const START_HINT: &str = "start a container engine: `sudo systemctl start docker` (Docker Engine), \
or `podman system service --time=0 unix:///run/podman/podman.sock &` (Podman; scripts/setup-engine.sh \
installs and starts it), or set DOCKER_HOST to a running engine (unix:///path/to.sock or tcp://host:port)";

const PING_TIMEOUT: Duration = Duration::from_secs(3);
/// bollard's per-request timeout (until response headers). Long operations stream (pull, build,
/// events) or are bounded by us (stop); `wait` uses a separate client without this limit.
pub(crate) const REQUEST_TIMEOUT_SECS: u64 = 300;

/// Try the candidates in order; the first that answers `_ping` wins.
pub(crate) async fn connect(candidates: &[Candidate]) -> Result<Connection, BackendError> {
    let mut tried = Vec::new();
    for c in candidates {
        match probe(c).await {
            Ok(conn) => {
                for (skipped, why) in &tried {
                    tracing::warn!(candidate = %skipped, reason = %why, using = %conn.info.host, "container engine candidate did not answer");
                }
                tracing::debug!(engine = %conn.info, "container engine found");
                return Ok(conn);
            }
            Err(why) => tried.push((format!("{} {}", c.origin, c.host), why)),
        }
    }
    let mut message = String::from("no container engine answered");
    if tried.is_empty() {
        message.push_str(" (no candidates to try)");
    } else {
        message.push_str("; tried:");
        for (what, why) in &tried {
            let _ = write!(message, "\n  - {what}: {why}");
        }
    }
    Err(BackendError::Unavailable {
        message,
        hint: START_HINT.to_string(),
    })
}

pub(crate) fn parse_host(host: &str) -> Result<Transport, String> {
    if let Some(path) = host.strip_prefix("unix://") {
        if path.is_empty() {
            return Err("empty socket path".into());
        }
        Ok(Transport::Unix(PathBuf::from(path)))
    } else if let Some(addr) = host
        .strip_prefix("tcp://")
        .or_else(|| host.strip_prefix("http://"))
    {
        let addr = addr.trim_end_matches('/');
        if addr.is_empty() {
            return Err("empty address".into());
        }
        Ok(Transport::Tcp(addr.to_string()))
    } else {
        Err("unsupported address (use unix:///path/to.sock or tcp://host:port; TLS and ssh are not supported)".into())
    }
}

async fn probe(c: &Candidate) -> Result<Connection, String> {
    let transport = parse_host(&c.host)?;
    let docker = match &transport {
        Transport::Unix(path) => {
            if !Path::new(path).exists() {
                return Err("no such socket".into());
            }
            Docker::connect_with_unix(&c.host, REQUEST_TIMEOUT_SECS, bollard::API_DEFAULT_VERSION)
        }
        Transport::Tcp(addr) => Docker::connect_with_http(
            &format!("tcp://{addr}"),
            REQUEST_TIMEOUT_SECS,
            bollard::API_DEFAULT_VERSION,
        ),
    }
    .map_err(|e| e.to_string())?;
    match tokio::time::timeout(PING_TIMEOUT, docker.ping()).await {
        Err(_) => {
            return Err(format!(
                "no answer to _ping within {}s",
                PING_TIMEOUT.as_secs()
            ))
        }
        Ok(Err(e)) => return Err(describe_connect_error(&e)),
        Ok(Ok(_)) => {}
    }
    let docker = docker
        .negotiate_version()
        .await
        .map_err(|e| format!("answered _ping but API version negotiation failed: {e}"))?;
    let version = docker
        .version()
        .await
        .map_err(|e| format!("answered _ping but GET /version failed: {e}"))?;
    let api_version = docker.client_version().to_string();
    let info = engine_info(&version, api_version.clone(), c);
    let raw = RawClient::new(transport, &api_version);
    Ok(Connection { docker, raw, info })
}

fn describe_connect_error(e: &bollard::errors::Error) -> String {
    let text = e.to_string();
    // hyper's messages nest the interesting cause; show the whole chain once.
    let mut out = text.clone();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        let s_text = s.to_string();
        if !out.contains(&s_text) {
            let _ = write!(out, ": {s_text}");
        }
        src = s.source();
    }
    out
}

fn engine_info(
    v: &bollard::models::SystemVersion,
    api_version: String,
    c: &Candidate,
) -> EngineInfo {
    let components = v.components.as_deref().unwrap_or_default();
    let podman = components
        .iter()
        .find(|comp| comp.name.to_ascii_lowercase().contains("podman"));
    let platform_is_podman = v
        .platform
        .as_ref()
        .is_some_and(|p| p.name.to_ascii_lowercase().contains("podman"));
    let (kind, version) = match podman {
        Some(comp) => (EngineKind::Podman, comp.version.clone()),
        None if platform_is_podman => (EngineKind::Podman, v.version.clone().unwrap_or_default()),
        None => (EngineKind::Docker, v.version.clone().unwrap_or_default()),
    };
    EngineInfo {
        kind,
        version: if version.is_empty() {
            "unknown".into()
        } else {
            version
        },
        api_version,
        host: c.host.clone(),
        origin: c.origin.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidate_order_follows_the_spec() {
        let c = candidates(None, Some("/run/user/1000"));
        let hosts: Vec<&str> = c.iter().map(|c| c.host.as_str()).collect();
        assert_eq!(
            hosts,
            [
                "unix:///var/run/docker.sock",
                "unix:///run/podman/podman.sock",
                "unix:///run/user/1000/podman/podman.sock"
            ]
        );
    }

    #[test]
    fn a_docker_host_that_is_set_is_the_only_candidate() {
        let c = candidates(Some("tcp://10.0.0.1:2375"), Some("/run/user/1000"));
        assert_eq!(c, [Candidate::new("$DOCKER_HOST", "tcp://10.0.0.1:2375")]);
    }

    #[test]
    fn unset_or_empty_values_are_skipped() {
        let c = candidates(Some(""), Some(""));
        let hosts: Vec<&str> = c.iter().map(|c| c.host.as_str()).collect();
        assert_eq!(
            hosts,
            [
                "unix:///var/run/docker.sock",
                "unix:///run/podman/podman.sock"
            ]
        );
    }

    #[test]
    fn hosts_parse() {
        assert_eq!(
            parse_host("unix:///var/run/docker.sock"),
            Ok(Transport::Unix("/var/run/docker.sock".into()))
        );
        assert_eq!(
            parse_host("tcp://h:2375"),
            Ok(Transport::Tcp("h:2375".into()))
        );
        assert_eq!(
            parse_host("http://h:2375/"),
            Ok(Transport::Tcp("h:2375".into()))
        );
        assert!(parse_host("ssh://me@h").is_err());
        assert!(parse_host("/var/run/docker.sock").is_err());
        assert!(parse_host("unix://").is_err());
    }

    #[tokio::test]
    async fn nothing_answers_gives_unavailable_with_what_was_tried_and_a_hint() {
        let dir = tempfile::tempdir().unwrap();
        // A socket file nobody listens on, a missing socket, and an unsupported scheme.
        let dead = dir.path().join("dead.sock");
        drop(std::os::unix::net::UnixListener::bind(&dead).unwrap());
        let cands = vec![
            Candidate::new("$DOCKER_HOST", format!("unix://{}", dead.display())),
            Candidate::new(
                "missing",
                format!("unix://{}/none.sock", dir.path().display()),
            ),
            Candidate::new("odd", "ssh://me@example.org"),
        ];
        let err = connect(&cands).await.unwrap_err();
        let BackendError::Unavailable { message, hint } = &err else {
            panic!("wrong error: {err:?}")
        };
        assert!(message.contains(&dead.display().to_string()), "{message}");
        assert!(message.contains("$DOCKER_HOST"), "{message}");
        assert!(message.contains("no such socket"), "{message}");
        assert!(message.contains("unsupported address"), "{message}");
        assert!(hint.contains("systemctl start docker"), "{hint}");
        assert!(hint.contains("podman system service"), "{hint}");
        assert!(hint.contains("DOCKER_HOST"), "{hint}");
    }
}

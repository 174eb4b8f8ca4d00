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

/// One `GET /_ping` tells everything discovery needs: that the engine answers, and in its
/// headers which engine it is and which API version it speaks (`Api-Version`; Podman adds
/// `Libpod-Api-Version` and `Server: Libpod/4.3.1 (linux)`, Docker sends `Server: Docker/27.3.1
/// (linux)`). `GET /version` costs 0.5–2 s on Podman 4.3 and is asked only of an engine whose
/// `_ping` names no version.
async fn probe(c: &Candidate) -> Result<Connection, String> {
    let transport = parse_host(&c.host)?;
    if let Transport::Unix(path) = &transport {
        if !Path::new(path).exists() {
            return Err("no such socket".into());
        }
    }
    let unversioned = RawClient::new(transport.clone(), "");
    let headers = match tokio::time::timeout(PING_TIMEOUT, unversioned.ping()).await {
        Err(_) => {
            return Err(format!(
                "no answer to _ping within {}s",
                PING_TIMEOUT.as_secs()
            ))
        }
        Ok(Err(e)) => return Err(e.to_string()),
        Ok(Ok(headers)) => headers,
    };
    let mut pinged = Ping::from_headers(&headers);
    if pinged.version.is_none() || pinged.api_version.is_none() {
        let version: VersionAnswer = unversioned
            .get_json("/version")
            .await
            .map_err(|e| format!("answered _ping but GET /version failed: {e}"))?;
        pinged = pinged.or_version(&version);
    }
    let api_version = negotiated(pinged.api_version.as_deref())
        .map_err(|v| format!("answered _ping with an API version that is not one: {v:?}"))?;
    let client_version = bollard::ClientVersion {
        major_version: api_version.0,
        minor_version: api_version.1,
    };
    let docker = match &transport {
        Transport::Unix(_) => {
            Docker::connect_with_unix(&c.host, REQUEST_TIMEOUT_SECS, &client_version)
        }
        Transport::Tcp(addr) => Docker::connect_with_http(
            &format!("tcp://{addr}"),
            REQUEST_TIMEOUT_SECS,
            &client_version,
        ),
    }
    .map_err(|e| e.to_string())?;
    let api_version = format!("{}.{}", api_version.0, api_version.1);
    let info = EngineInfo {
        kind: pinged.kind,
        version: pinged.version.unwrap_or_else(|| "unknown".into()),
        api_version: api_version.clone(),
        host: c.host.clone(),
        origin: c.origin.clone(),
    };
    let raw = RawClient::new(transport, &api_version);
    Ok(Connection { docker, raw, info })
}

/// The API version to use: the engine's (from `_ping`), but no newer than bollard speaks;
/// `Err` with the text if it is not `MAJOR.MINOR`.
fn negotiated(engine: Option<&str>) -> Result<(usize, usize), String> {
    let ours = (
        bollard::API_DEFAULT_VERSION.major_version,
        bollard::API_DEFAULT_VERSION.minor_version,
    );
    let Some(text) = engine else {
        return Ok(ours);
    };
    let parsed = text
        .trim()
        .split_once('.')
        .and_then(|(major, minor)| Some((major.parse().ok()?, minor.parse().ok()?)));
    match parsed {
        Some(theirs) => Ok(theirs.min(ours)),
        None => Err(text.to_string()),
    }
}

/// What `_ping`'s headers say about the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Ping {
    kind: EngineKind,
    /// The engine's own version, if the headers name it.
    version: Option<String>,
    /// `Api-Version`.
    api_version: Option<String>,
}

impl Ping {
    fn from_headers(headers: &http::HeaderMap) -> Ping {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        // `Server: Libpod/4.3.1 (linux)` or `Docker/27.3.1 (linux)`.
        let server = header("server").and_then(|s| {
            let product = s.split_whitespace().next()?;
            let (name, version) = product.split_once('/')?;
            Some((name.to_ascii_lowercase(), version.to_string()))
        });
        let libpod = header("libpod-api-version");
        let podman = libpod.is_some() || server.as_ref().is_some_and(|(n, _)| n == "libpod");
        let server_version = server.map(|(_, v)| v);
        Ping {
            kind: if podman {
                EngineKind::Podman
            } else {
                EngineKind::Docker
            },
            version: if podman {
                libpod.or(server_version)
            } else {
                server_version
            },
            api_version: header("api-version"),
        }
    }

    /// Fill in what `_ping` left out from `GET /version`'s answer.
    fn or_version(self, v: &VersionAnswer) -> Ping {
        let podman = v
            .components
            .iter()
            .find(|comp| comp.name.to_ascii_lowercase().contains("podman"));
        let platform_is_podman = v.platform.name.to_ascii_lowercase().contains("podman");
        let (kind, version) = match podman {
            Some(comp) => (EngineKind::Podman, comp.version.clone()),
            None if platform_is_podman => (EngineKind::Podman, v.version.clone()),
            None => (self.kind, v.version.clone()),
        };
        Ping {
            kind,
            version: self.version.or((!version.is_empty()).then_some(version)),
            api_version: self
                .api_version
                .or((!v.api_version.is_empty()).then(|| v.api_version.clone())),
        }
    }
}

/// The parts of `GET /version` discovery reads (only when `_ping` did not say).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct VersionAnswer {
    #[serde(rename = "Version")]
    version: String,
    #[serde(rename = "ApiVersion")]
    api_version: String,
    #[serde(rename = "Platform")]
    platform: VersionPlatform,
    #[serde(rename = "Components")]
    components: Vec<VersionComponent>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct VersionPlatform {
    #[serde(rename = "Name")]
    name: String,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct VersionComponent {
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "Version")]
    version: String,
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

    fn headers(pairs: &[(&'static str, &'static str)]) -> http::HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    http::HeaderName::from_static(k),
                    http::HeaderValue::from_static(v),
                )
            })
            .collect()
    }

    #[test]
    fn ping_headers_name_the_engine() {
        // Podman 4.3.1's answer.
        let podman = Ping::from_headers(&headers(&[
            ("api-version", "1.41"),
            ("libpod-api-version", "4.3.1"),
            ("server", "Libpod/4.3.1 (linux)"),
        ]));
        assert_eq!(
            podman,
            Ping {
                kind: EngineKind::Podman,
                version: Some("4.3.1".into()),
                api_version: Some("1.41".into()),
            }
        );
        // Docker Engine 20.10's.
        let docker = Ping::from_headers(&headers(&[
            ("api-version", "1.41"),
            ("server", "Docker/20.10.24+dfsg1 (linux)"),
            ("ostype", "linux"),
        ]));
        assert_eq!(
            docker,
            Ping {
                kind: EngineKind::Docker,
                version: Some("20.10.24+dfsg1".into()),
                api_version: Some("1.41".into()),
            }
        );
        // An engine (or proxy) that says nothing: GET /version fills in.
        let silent = Ping::from_headers(&headers(&[]));
        assert_eq!(silent.version, None);
        let version: VersionAnswer = serde_json::from_str(
            r#"{"Version":"4.3.1","ApiVersion":"1.41","Platform":{"Name":"linux/amd64/debian-12"},
                "Components":[{"Name":"Podman Engine","Version":"4.3.1"}]}"#,
        )
        .unwrap();
        assert_eq!(
            silent.or_version(&version),
            Ping {
                kind: EngineKind::Podman,
                version: Some("4.3.1".into()),
                api_version: Some("1.41".into()),
            }
        );
    }

    #[test]
    fn the_api_version_is_the_engines_up_to_ours() {
        assert_eq!(negotiated(Some("1.41")), Ok((1, 41)));
        let ours = (
            bollard::API_DEFAULT_VERSION.major_version,
            bollard::API_DEFAULT_VERSION.minor_version,
        );
        assert_eq!(negotiated(Some("1.99")), Ok(ours));
        assert_eq!(negotiated(None), Ok(ours));
        assert_eq!(negotiated(Some("latest")), Err("latest".into()));
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

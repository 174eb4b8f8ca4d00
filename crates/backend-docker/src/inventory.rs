//! Volumes, listing by label, inspecting, removing.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use bollard::models::VolumeCreateRequest;
use bollard::query_parameters::{RemoveContainerOptionsBuilder, RemoveVolumeOptionsBuilder};
use bollard::Docker;
use co_backend::{labels, BackendError, Workspace};
use serde::Deserialize;

use crate::raw::{encode_query, RawClient};
use crate::{error, names, DockerBackend, Inner};

/// A container, as listed by [`DockerBackend::list_containers`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerSummary {
    pub id: String,
    /// Without Docker's leading `/`.
    pub name: String,
    /// The engine's state word (`created`, `running`, `exited`; Podman also `stopped`,
    /// `configured`).
    pub state: String,
    pub labels: BTreeMap<String, String>,
}

/// A volume, as listed by [`DockerBackend::list_volumes`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeSummary {
    pub name: String,
    pub labels: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct RawContainer {
    #[serde(rename = "Id", default)]
    id: String,
    #[serde(rename = "Names", default)]
    names: Option<Vec<String>>,
    #[serde(rename = "State", default)]
    state: Option<String>,
    #[serde(rename = "Labels", default)]
    labels: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
struct RawVolumes {
    #[serde(rename = "Volumes", default)]
    volumes: Option<Vec<RawVolume>>,
}

#[derive(Deserialize)]
struct RawVolume {
    #[serde(rename = "Name", default)]
    name: String,
    #[serde(rename = "Labels", default)]
    labels: Option<BTreeMap<String, String>>,
}

/// The parts of a container's state this crate needs.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct State {
    #[serde(rename = "Status", default)]
    pub status: String,
    #[serde(rename = "Running", default)]
    pub running: bool,
    #[serde(rename = "OOMKilled", default)]
    pub oom_killed: bool,
    #[serde(rename = "ExitCode", default)]
    pub exit_code: i64,
    #[serde(rename = "StartedAt", default)]
    pub started_at: String,
    #[serde(rename = "FinishedAt", default)]
    pub finished_at: String,
}

/// When a container started and ended, by the engine's clock (ms since the Unix epoch).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Times {
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
}

impl Times {
    /// What `self` knows, else what `other` does.
    pub(crate) fn or(self, other: Times) -> Times {
        Times {
            started_at: self.started_at.or(other.started_at),
            finished_at: self.finished_at.or(other.finished_at),
        }
    }
}

/// An engine timestamp (RFC 3339, `2026-12-03T13:56:41.430261858Z`) as ms since the Unix epoch;
/// `None` for the zero time engines use for "not yet" (`0001-01-01T00:00:00Z`) and for anything
/// unreadable.
pub(crate) fn engine_time(text: &str) -> Option<i64> {
    let t =
        time::OffsetDateTime::parse(text.trim(), &time::format_description::well_known::Rfc3339)
            .ok()?;
    let ms = i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()?;
    (ms > 0).then_some(ms)
}

impl State {
    /// When the container started and ended, as far as the engine says.
    pub(crate) fn times(&self) -> Times {
        let finished_at = engine_time(&self.finished_at).filter(|_| self.has_exited());
        // Podman 4.3 may record a short-lived container's start after its end (the start when
        // it noticed the process running, the end from the process's exit).
        let started_at = match (engine_time(&self.started_at), finished_at) {
            (Some(started), Some(finished)) => Some(started.min(finished)),
            (started, _) => started,
        };
        Times {
            started_at,
            finished_at,
        }
    }

    /// The container ran and is no longer running.
    pub(crate) fn has_exited(&self) -> bool {
        !self.running && matches!(self.status.as_str(), "exited" | "stopped" | "dead")
    }
}

#[derive(Deserialize)]
struct RawInspect {
    #[serde(rename = "State", default)]
    state: State,
}

/// What `reattach` needs to know about a container.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Inspected {
    #[serde(rename = "Id", default)]
    pub id: String,
    #[serde(rename = "State", default)]
    pub state: State,
    #[serde(rename = "Config", default)]
    pub config: InspectedConfig,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct InspectedConfig {
    #[serde(rename = "Labels", default)]
    pub labels: Option<BTreeMap<String, String>>,
}

impl Inspected {
    /// The value of label `key`, if set.
    pub(crate) fn label(&self, key: &str) -> Option<&str> {
        self.config
            .labels
            .as_ref()
            .and_then(|l| l.get(key))
            .map(String::as_str)
    }
}

/// Inspect a container; `None` if there is none by that id or name.
pub(crate) async fn inspect_container(
    raw: &RawClient,
    id_or_name: &str,
) -> Result<Option<Inspected>, BackendError> {
    match raw
        .get_json::<Inspected>(&format!("/containers/{}/json", encode_query(id_or_name)))
        .await
    {
        Ok(doc) => Ok(Some(doc)),
        Err(e) if e.status == Some(404) => Ok(None),
        Err(e) => Err(error::raw(
            &format!("inspecting container {id_or_name}"),
            &e,
        )),
    }
}

fn label_filter(key: &str, value: Option<&str>) -> String {
    let l = match value {
        Some(v) => format!("{key}={v}"),
        None => key.to_string(),
    };
    let filters = serde_json::json!({ "label": [l] });
    encode_query(&filters.to_string())
}

impl DockerBackend {
    /// Containers (running or not) carrying label `key` (with `value`, if given).
    pub async fn list_containers(
        &self,
        key: &str,
        value: Option<&str>,
    ) -> Result<Vec<ContainerSummary>, BackendError> {
        list_containers(&self.inner, key, value).await
    }

    /// Volumes carrying label `key` (with `value`, if given).
    pub async fn list_volumes(
        &self,
        key: &str,
        value: Option<&str>,
    ) -> Result<Vec<VolumeSummary>, BackendError> {
        list_volumes(&self.inner, key, value).await
    }

    /// Whether `image` (`name:tag`, `name@digest` or an id) exists in the engine's local store.
    pub async fn image_exists(&self, image: &str) -> Result<bool, BackendError> {
        let path = format!("/images/{}/json", image_path(image));
        match self.inner.conn.raw.get(&path).await {
            Ok(_) => Ok(true),
            Err(e) if e.status == Some(404) => Ok(false),
            Err(e) => Err(error::raw(
                &format!("checking whether image {image} exists"),
                &e,
            )),
        }
    }

    /// The engine's full inspect document of a container (`docker inspect`), as JSON.
    pub async fn inspect_container_json(
        &self,
        id_or_name: &str,
    ) -> Result<serde_json::Value, BackendError> {
        self.inner
            .conn
            .raw
            .get_json(&format!("/containers/{}/json", encode_query(id_or_name)))
            .await
            .map_err(|e| error::raw(&format!("inspecting container {id_or_name}"), &e))
    }
}

/// Image references contain `/` and `:`, which the engine's route takes as they are.
pub(crate) fn image_path(image: &str) -> String {
    image
        .split('/')
        .map(encode_query)
        .collect::<Vec<_>>()
        .join("/")
        .replace("%3A", ":")
        .replace("%40", "@")
}

pub(crate) async fn inspect_state(inner: &Inner, id: &str) -> Result<State, BackendError> {
    inspect_state_raw(&inner.conn.raw, id).await
}

pub(crate) async fn inspect_state_raw(raw: &RawClient, id: &str) -> Result<State, BackendError> {
    let doc: RawInspect = raw
        .get_json(&format!("/containers/{}/json", encode_query(id)))
        .await
        .map_err(|e| error::raw(&format!("inspecting container {id}"), &e))?;
    Ok(doc.state)
}

pub(crate) async fn list_containers(
    inner: &Inner,
    key: &str,
    value: Option<&str>,
) -> Result<Vec<ContainerSummary>, BackendError> {
    let path = format!(
        "/containers/json?all=true&filters={}",
        label_filter(key, value)
    );
    let raw: Vec<RawContainer> = inner
        .conn
        .raw
        .get_json(&path)
        .await
        .map_err(|e| error::raw("listing containers", &e))?;
    Ok(raw
        .into_iter()
        .map(|c| ContainerSummary {
            id: c.id,
            name: c
                .names
                .and_then(|n| n.into_iter().next())
                .map(|n| n.trim_start_matches('/').to_string())
                .unwrap_or_default(),
            state: c.state.unwrap_or_default(),
            labels: c.labels.unwrap_or_default(),
        })
        .collect())
}

pub(crate) async fn list_volumes(
    inner: &Inner,
    key: &str,
    value: Option<&str>,
) -> Result<Vec<VolumeSummary>, BackendError> {
    let path = format!("/volumes?filters={}", label_filter(key, value));
    let raw: RawVolumes = inner
        .conn
        .raw
        .get_json(&path)
        .await
        .map_err(|e| error::raw("listing volumes", &e))?;
    Ok(raw
        .volumes
        .unwrap_or_default()
        .into_iter()
        .map(|v| VolumeSummary {
            name: v.name,
            labels: v.labels.unwrap_or_default(),
        })
        .collect())
}

pub(crate) async fn create_workspace(
    inner: &Inner,
    run_id: &str,
) -> Result<Workspace, BackendError> {
    let name = names::volume_name(run_id);
    let req = VolumeCreateRequest {
        name: Some(name.clone()),
        labels: Some(HashMap::from([(
            labels::RUN.to_string(),
            run_id.to_string(),
        )])),
        ..Default::default()
    };
    // Creating a volume whose name exists answers with the existing volume (Podman 4.3 and
    // Docker: 201 and its document; older Podman: 409). A recovering run reuses its workspace;
    // the name is derived from the run id, and the label confirms the volume is that run's.
    let owner = match inner.conn.docker.create_volume(req).await {
        Ok(v) => Some(v.labels.get(labels::RUN).cloned()),
        Err(e) if error::status(&e) == Some(409) => None,
        // Created, but the answer did not fit bollard's model: look at the volume itself.
        Err(bollard::errors::Error::JsonDataError { .. }) => None,
        Err(e) => {
            return Err(error::engine(
                &format!("creating workspace volume {name}"),
                &e,
            ))
        }
    };
    let owner = match owner {
        Some(o) => o,
        None => volume_run_label(inner, &name).await?,
    };
    if owner.as_deref() != Some(run_id) {
        return Err(BackendError::Other(format!(
            "a volume named {name} exists but is not the workspace of run {run_id} (its label {} is {}); \
             remove it (`docker volume rm {name}`) or use another run id",
            labels::RUN,
            owner.map_or_else(|| "not set".to_string(), |o| format!("{o:?}"))
        )));
    }
    Ok(Workspace {
        run_id: run_id.to_string(),
        name,
    })
}

/// The `containerops.run` label of volume `name`.
async fn volume_run_label(inner: &Inner, name: &str) -> Result<Option<String>, BackendError> {
    let v: RawVolume = inner
        .conn
        .raw
        .get_json(&format!("/volumes/{}", encode_query(name)))
        .await
        .map_err(|e| error::raw(&format!("inspecting workspace volume {name}"), &e))?;
    Ok(v.labels.and_then(|mut l| l.remove(labels::RUN)))
}

/// Force-remove a container (and its anonymous volumes); a missing container is fine.
pub(crate) async fn remove_container(docker: &Docker, id: &str) -> Result<(), BackendError> {
    let opts = RemoveContainerOptionsBuilder::default()
        .force(true)
        .v(true)
        .build();
    let mut attempt = 0;
    loop {
        attempt += 1;
        match docker.remove_container(id, Some(opts.clone())).await {
            Ok(()) => return Ok(()),
            Err(e) if error::status(&e) == Some(404) => return Ok(()),
            // Docker answers 409 while a removal of the same container is in progress.
            Err(e) if attempt < 3 => {
                tracing::debug!(container = id, error = %error::describe(&e), "container removal failed; retrying");
                tokio::time::sleep(Duration::from_millis(100 * attempt)).await;
            }
            Err(e) => return Err(error::engine(&format!("removing container {id}"), &e)),
        }
    }
}

async fn remove_volume(docker: &Docker, name: &str) -> Result<(), BackendError> {
    let opts = RemoveVolumeOptionsBuilder::default().force(true).build();
    match docker.remove_volume(name, Some(opts)).await {
        Ok(()) => Ok(()),
        Err(e) if error::status(&e) == Some(404) => Ok(()),
        Err(e) => Err(error::engine(&format!("removing volume {name}"), &e)),
    }
}

const REMOVE_PARALLELISM: usize = 8;

/// Remove every container, then the workspace volume, then every volume labelled with `run_id`.
pub(crate) async fn remove_run(
    inner: &Inner,
    run_id: &str,
    workspace: Option<&str>,
) -> Result<(), BackendError> {
    let docker = &inner.conn.docker;
    let mut failures = Vec::new();
    // The containers this backend knows of go while the engine lists whatever else carries the
    // run's label (the safety net: containers of an earlier process, or of a create whose answer
    // was lost). On Podman the listing takes as long as several removals; one after the other,
    // it added ~0.4 s to every run's end.
    let known = async {
        let deferred = inner.await_removals(run_id).await;
        let failed = remove_containers(docker, &deferred).await;
        (deferred, failed)
    };
    let (listed, (known, failed)) =
        tokio::join!(list_containers(inner, labels::RUN, Some(run_id)), known);
    failures.extend(failed);
    let others: Vec<String> = listed?
        .into_iter()
        .map(|c| c.id)
        .filter(|id| !known.contains(id))
        .collect();
    failures.extend(remove_containers(docker, &others).await);
    // The same for volumes: the workspace goes while the others are listed.
    let removed_workspace = async {
        match workspace {
            Some(ws) => remove_volume(docker, ws).await.err(),
            None => None,
        }
    };
    let (volumes, failed) = tokio::join!(
        list_volumes(inner, labels::RUN, Some(run_id)),
        removed_workspace
    );
    failures.extend(failed.map(|e| e.to_string()));
    for v in volumes? {
        if Some(v.name.as_str()) == workspace {
            continue;
        }
        if let Err(e) = remove_volume(docker, &v.name).await {
            failures.push(e.to_string());
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(BackendError::Other(format!(
            "could not remove everything run {run_id} left behind: {}; remove them by hand \
             (`docker ps -a --filter label={}={run_id}`, `docker volume ls --filter label={}={run_id}`)",
            failures.join("; "),
            labels::RUN,
            labels::RUN
        )))
    }
}

/// Remove containers, a few at a time (the engine serialises much of the work anyway); the
/// failures in words.
async fn remove_containers(docker: &bollard::Docker, ids: &[String]) -> Vec<String> {
    let mut failures = Vec::new();
    for chunk in ids.chunks(REMOVE_PARALLELISM) {
        let results =
            futures::future::join_all(chunk.iter().map(|id| remove_container(docker, id))).await;
        failures.extend(
            results
                .into_iter()
                .filter_map(Result::err)
                .map(|e| e.to_string()),
        );
    }
    failures
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_paths_keep_slashes_and_tags() {
        assert_eq!(image_path("localhost/a/b:1.0"), "localhost/a/b:1.0");
        assert_eq!(image_path("x@sha256:ab"), "x@sha256:ab");
    }

    #[test]
    fn engine_times() {
        assert_eq!(
            engine_time("2026-12-03T13:56:41.430261858Z"),
            Some(1_796_306_201_430)
        );
        assert_eq!(engine_time("2026-12-03T13:56:41Z"), Some(1_796_306_201_000));
        assert_eq!(
            engine_time("2026-12-03T14:56:41.5+01:00"),
            Some(1_796_306_201_500)
        );
        assert_eq!(engine_time("0001-01-01T00:00:00Z"), None);
        assert_eq!(engine_time(""), None);
        let running = State {
            status: "running".into(),
            running: true,
            started_at: "2026-12-03T13:56:41Z".into(),
            finished_at: "0001-01-01T00:00:00Z".into(),
            ..Default::default()
        };
        assert_eq!(
            running.times(),
            Times {
                started_at: Some(1_796_306_201_000),
                finished_at: None
            }
        );
    }

    #[test]
    fn states() {
        let s = |status: &str, running| State {
            status: status.into(),
            running,
            ..Default::default()
        };
        assert!(s("exited", false).has_exited());
        assert!(s("stopped", false).has_exited());
        assert!(!s("running", true).has_exited());
        assert!(!s("created", false).has_exited());
    }
}

//! Files in and out of a step's container through the engine's archive API: variables too large
//! for the environment reach a step as files ([`co_protocol::deliver_env`]), uploaded into the
//! created container (`PUT /containers/{id}/archive`) before it starts; its artifacts are read
//! from the finished container (`GET /containers/{id}/archive?path=…`) before it is removed.

use bollard::query_parameters::{
    DownloadFromContainerOptionsBuilder, UploadToContainerOptionsBuilder,
};
use co_backend::{ArchiveStream, ArtifactSource, BackendError, EnvFile};
use futures::StreamExt;

use crate::{error, Inner};

/// Mode of the delivered files (readable by whatever user the image runs as).
const FILE_MODE: u32 = 0o444;
const DIR_MODE: u32 = 0o755;

/// Upload `files` into the created (not yet started) container `id`.
pub(crate) async fn upload(
    inner: &Inner,
    id: &str,
    name: &str,
    files: &[EnvFile],
) -> Result<(), BackendError> {
    if files.is_empty() {
        return Ok(());
    }
    let archive = archive(files).map_err(|e| {
        BackendError::Other(format!(
            "container {name}: cannot pack the variables delivered as files: {e}"
        ))
    })?;
    let options = UploadToContainerOptionsBuilder::default().path("/").build();
    inner
        .conn
        .docker
        .upload_to_container(id, Some(options), bollard::body_full(archive.into()))
        .await
        .map_err(|e| {
            let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
            error::engine(
                &format!(
                    "container {name}: delivering {} as files under {} failed",
                    names.join(", "),
                    co_backend::ENV_FILES_DIR
                ),
                &e,
            )
        })
}

/// A finished container whose paths can be read (its artifacts), until it is removed.
pub(crate) struct ContainerFiles {
    pub docker: bollard::Docker,
    pub id: String,
    pub name: String,
}

#[async_trait::async_trait]
impl ArtifactSource for ContainerFiles {
    async fn archive(&mut self, path: &str) -> Result<Option<ArchiveStream>, BackendError> {
        let options = DownloadFromContainerOptionsBuilder::default()
            .path(path)
            .build();
        let mut stream = self
            .docker
            .download_from_container(&self.id, Some(options))
            .boxed();
        // The first piece tells a missing path (404) from an archive.
        let first = match stream.next().await {
            None => return Ok(Some(futures::stream::empty().boxed())),
            Some(Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404,
                ..
            })) => return Ok(None),
            Some(Err(e)) => {
                return Err(error::engine(
                    &format!("container {}: reading {path}", self.name),
                    &e,
                ))
            }
            Some(Ok(bytes)) => bytes,
        };
        let name = self.name.clone();
        let path = path.to_string();
        let rest = stream.map(move |piece| {
            piece.map_err(|e| error::engine(&format!("container {name}: reading {path}"), &e))
        });
        Ok(Some(
            futures::stream::once(async { Ok(first) })
                .chain(rest)
                .boxed(),
        ))
    }
}

/// A tar archive (paths relative to `/`) with the files and the directories above them (those
/// not in every image: `/run` itself is left as the image has it, or created by the engine).
fn archive(files: &[EnvFile]) -> std::io::Result<Vec<u8>> {
    let mut tar = tar::Builder::new(Vec::new());
    let mut dirs: Vec<String> = Vec::new();
    for file in files {
        let rel = file.path.trim_start_matches('/');
        // Every directory above the file below its top level (`run/containerops/`,
        // `run/containerops/env/`).
        let parts: Vec<&str> = rel.split('/').collect();
        for depth in 2..parts.len() {
            let dir = format!("{}/", parts[..depth].join("/"));
            if !dirs.contains(&dir) {
                let mut header = tar::Header::new_gnu();
                header.set_entry_type(tar::EntryType::Directory);
                header.set_size(0);
                header.set_mode(DIR_MODE);
                header.set_mtime(0);
                header.set_cksum();
                tar.append_data(&mut header, &dir, std::io::empty())?;
                dirs.push(dir);
            }
        }
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_size(file.content.len() as u64);
        header.set_mode(FILE_MODE);
        header.set_mtime(0);
        header.set_cksum();
        tar.append_data(&mut header, rel, file.content.as_bytes())?;
    }
    tar.into_inner()
}

impl crate::DockerBackend {
    /// Let `sink` read the artifacts of a finished container of this engine (not one this
    /// backend ran: the Swarm backend's task containers), before it is removed.
    pub async fn collect_from(
        &self,
        container: &str,
        exit: &co_backend::StepExit,
        sink: &mut dyn co_backend::OutputSink,
    ) {
        crate::step::collect(&self.inner, container, container, exit, sink).await;
    }

    /// Put `files` into a new volume `volume` (labelled `containerops.run=<run_id>`, so a run's
    /// sweep removes it), for backends that cannot upload into a step's container before it
    /// starts (Swarm: the service mounts the volume at [`co_backend::ENV_FILES_DIR`]). A helper
    /// container of `image` with the volume at that directory is created, never started; the
    /// files are uploaded into it, then it is removed.
    pub async fn fill_volume(
        &self,
        run_id: &str,
        volume: &str,
        image: &str,
        files: &[EnvFile],
    ) -> Result<(), BackendError> {
        use bollard::models::{ContainerCreateBody, HostConfig, VolumeCreateRequest};
        use bollard::query_parameters::{
            CreateContainerOptionsBuilder, RemoveContainerOptionsBuilder,
        };
        use std::collections::HashMap;

        let inner = &self.inner;
        let docker = &inner.conn.docker;
        let labels = HashMap::from([(co_backend::labels::RUN.to_string(), run_id.to_string())]);
        docker
            .create_volume(VolumeCreateRequest {
                name: Some(volume.to_string()),
                labels: Some(labels.clone()),
                ..Default::default()
            })
            .await
            .map_err(|e| error::engine(&format!("creating volume {volume}"), &e))?;
        let helper = format!("{volume}-fill");
        let body = ContainerCreateBody {
            image: Some(image.to_string()),
            labels: Some(labels),
            host_config: Some(HostConfig {
                binds: Some(vec![format!("{volume}:{}", co_backend::ENV_FILES_DIR)]),
                ..Default::default()
            }),
            ..Default::default()
        };
        let opts = CreateContainerOptionsBuilder::default()
            .name(&helper)
            .build();
        let created = docker
            .create_container(Some(opts), body)
            .await
            .map_err(|e| {
                if crate::step::is_missing_image(&e) {
                    BackendError::ImageNotFound {
                        image: image.to_string(),
                        detail: error::shorten(&error::message(&e), 200),
                    }
                } else {
                    error::engine(&format!("creating helper container {helper}"), &e)
                }
            })?;
        let uploaded = upload(inner, &created.id, &helper, files).await;
        let rm = RemoveContainerOptionsBuilder::default().force(true).build();
        if let Err(e) = docker.remove_container(&created.id, Some(rm)).await {
            tracing::warn!(container = helper, error = %error::describe(&e), "removing a helper container");
        }
        uploaded
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn the_archive_holds_the_files_and_their_directories() {
        let files = [
            EnvFile {
                name: "CO_DATA".into(),
                path: "/run/containerops/env/CO_DATA".into(),
                content: "a=1".into(),
            },
            EnvFile {
                name: "CO_INPUT_A".into(),
                path: "/run/containerops/env/CO_INPUT_A".into(),
                content: "1".into(),
            },
        ];
        let bytes = archive(&files).unwrap();
        let mut a = tar::Archive::new(bytes.as_slice());
        let mut seen = Vec::new();
        for entry in a.entries().unwrap() {
            let mut entry = entry.unwrap();
            let path = entry.path().unwrap().display().to_string();
            let mode = entry.header().mode().unwrap();
            let mut text = String::new();
            entry.read_to_string(&mut text).unwrap();
            seen.push((path, mode, text));
        }
        assert_eq!(
            seen,
            [
                ("run/containerops/".to_string(), 0o755, String::new()),
                ("run/containerops/env/".into(), 0o755, String::new()),
                ("run/containerops/env/CO_DATA".into(), 0o444, "a=1".into()),
                ("run/containerops/env/CO_INPUT_A".into(), 0o444, "1".into()),
            ]
        );
    }
}

//! Building images through the engine's build API (`POST /build`, the classic builder: Podman's
//! buildah and Docker's v1 builder both serve it).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Component, Path, PathBuf};

use bollard::query_parameters::BuildImageOptionsBuilder;
use co_backend::BackendError;
use futures::StreamExt;
use serde::Deserialize;

use crate::ignore::Matcher;
use crate::{error, DockerBackend};

/// What to build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageBuild {
    /// The directory sent as the build context.
    pub context: PathBuf,
    /// The Containerfile, relative to `context` (or absolute). `None`: `Containerfile`, else
    /// `Dockerfile`, in the context.
    pub containerfile: Option<PathBuf>,
    /// The tag to give the image (`localhost/team/tool:1.0`).
    pub tag: String,
    pub build_args: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    pub no_cache: bool,
}

impl ImageBuild {
    pub fn new(context: impl Into<PathBuf>, tag: impl Into<String>) -> Self {
        ImageBuild {
            context: context.into(),
            containerfile: None,
            tag: tag.into(),
            build_args: BTreeMap::new(),
            labels: BTreeMap::new(),
            no_cache: false,
        }
    }

    pub fn containerfile(mut self, path: impl Into<PathBuf>) -> Self {
        self.containerfile = Some(path.into());
        self
    }
}

/// A built image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltImage {
    pub tag: String,
    /// The engine's image id (`sha256:…`).
    pub id: String,
}

/// Name under which a Containerfile from outside the context travels in the archive.
const OUTSIDE_CONTAINERFILE: &str = ".containerops.Containerfile";

impl DockerBackend {
    /// Build `build.context` into an image tagged `build.tag`, passing each line of build output
    /// to `progress` as it arrives. The context honours `.containerignore` / `.dockerignore`.
    /// A failing build returns an error naming the build step that failed and the engine's reason.
    pub async fn build_image(
        &self,
        build: &ImageBuild,
        progress: &mut (dyn FnMut(&str) + Send),
    ) -> Result<BuiltImage, BackendError> {
        let tag = build.tag.clone();
        let b = build.clone();
        let (archive, dockerfile) = tokio::task::spawn_blocking(move || context_archive(&b))
            .await
            .map_err(|e| {
                BackendError::Other(format!("preparing the build context failed: {e}"))
            })??;
        tracing::debug!(tag = %tag, bytes = archive.len(), dockerfile = %dockerfile, "sending build context");

        let build_args: HashMap<String, String> = build.build_args.clone().into_iter().collect();
        let labels: HashMap<String, String> = build.labels.clone().into_iter().collect();
        let opts = BuildImageOptionsBuilder::default()
            .dockerfile(&dockerfile)
            .t(&tag)
            .rm(true)
            .forcerm(true)
            .nocache(build.no_cache)
            .buildargs(&build_args)
            .labels(&labels)
            .build();
        let mut stream =
            self.inner
                .long
                .build_image(opts, None, Some(bollard::body_full(archive.into())));
        let mut last_step: Option<String> = None;
        let mut tail: VecDeque<String> = VecDeque::new();
        let mut pending = String::new();
        while let Some(item) = stream.next().await {
            match item {
                Ok(info) => {
                    if let Some(text) = info.stream {
                        pending.push_str(&text);
                        while let Some(pos) = pending.find('\n') {
                            let line: String = pending.drain(..=pos).collect();
                            emit(line.trim_end(), progress, &mut last_step, &mut tail);
                        }
                    }
                    if let Some(status) = info.status {
                        emit(status.trim_end(), progress, &mut last_step, &mut tail);
                    }
                }
                Err(bollard::errors::Error::DockerStreamError { error: reason }) => {
                    emit(pending.trim_end(), progress, &mut last_step, &mut tail);
                    return Err(build_failed(&tag, last_step.as_deref(), &reason));
                }
                Err(e) => {
                    return Err(error::engine(&format!("building image {tag}"), &e));
                }
            }
        }
        emit(pending.trim_end(), progress, &mut last_step, &mut tail);

        // The build stream ended without an error; the tag must now exist.
        match self.image_id(&tag).await? {
            Some(id) => Ok(BuiltImage { tag, id }),
            None => {
                let last: Vec<String> = tail.into_iter().collect();
                Err(BackendError::Other(format!(
                    "building image {tag} ended without producing it; last build output:\n{}",
                    last.join("\n")
                )))
            }
        }
    }

    /// The id of a local image, `None` if it does not exist.
    pub(crate) async fn image_id(&self, image: &str) -> Result<Option<String>, BackendError> {
        #[derive(Deserialize)]
        struct Img {
            #[serde(rename = "Id", default)]
            id: String,
        }
        if !self.image_exists(image).await? {
            return Ok(None);
        }
        let path = format!("/images/{}/json", crate::inventory::image_path(image));
        let img: Img = self
            .inner
            .conn
            .raw
            .get_json(&path)
            .await
            .map_err(|e| error::raw(&format!("inspecting image {image}"), &e))?;
        Ok(Some(img.id))
    }
}

fn emit(
    line: &str,
    progress: &mut (dyn FnMut(&str) + Send),
    last_step: &mut Option<String>,
    tail: &mut VecDeque<String>,
) {
    if line.trim().is_empty() {
        return;
    }
    // buildah: `STEP 2/3: RUN make`; Docker: `Step 2/3 : RUN make`.
    if line.starts_with("STEP ") || line.starts_with("Step ") {
        *last_step = Some(line.to_string());
    }
    if tail.len() == 10 {
        tail.pop_front();
    }
    tail.push_back(line.to_string());
    progress(line);
}

fn build_failed(tag: &str, step: Option<&str>, reason: &str) -> BackendError {
    let reason = error::shorten(reason, 800);
    BackendError::Other(match step {
        Some(step) => format!("building image {tag} failed at `{step}`: {reason}"),
        None => format!("building image {tag} failed: {reason}"),
    })
}

/// The context as a tar archive, and the Containerfile's name inside it.
fn context_archive(build: &ImageBuild) -> Result<(Vec<u8>, String), BackendError> {
    let ctx = &build.context;
    let meta = std::fs::metadata(ctx).map_err(|e| {
        BackendError::Other(format!(
            "build context {} cannot be read: {e}; give an existing directory",
            ctx.display()
        ))
    })?;
    if !meta.is_dir() {
        return Err(BackendError::Other(format!(
            "build context {} is not a directory",
            ctx.display()
        )));
    }
    let containerfile = match &build.containerfile {
        Some(p) => {
            let full = if p.is_absolute() {
                p.clone()
            } else {
                ctx.join(p)
            };
            if !full.is_file() {
                return Err(BackendError::Other(format!(
                    "Containerfile {} not found (paths are relative to the build context {})",
                    full.display(),
                    ctx.display()
                )));
            }
            full
        }
        None => ["Containerfile", "Dockerfile"]
            .iter()
            .map(|n| ctx.join(n))
            .find(|p| p.is_file())
            .ok_or_else(|| {
                BackendError::Other(format!(
                    "no Containerfile or Dockerfile in {}; add one or name it explicitly",
                    ctx.display()
                ))
            })?,
    };
    let io = |what: &str, p: &Path, e: std::io::Error| {
        BackendError::Other(format!("{what} {}: {e}", p.display()))
    };
    let ctx_abs = ctx
        .canonicalize()
        .map_err(|e| io("cannot resolve", ctx, e))?;
    let cf_abs = containerfile
        .canonicalize()
        .map_err(|e| io("cannot resolve", &containerfile, e))?;
    // Inside the context: referenced by its relative path. Outside: shipped under a fixed name.
    let inside = cf_abs.strip_prefix(&ctx_abs).ok().map(slash_path);
    let dockerfile_name = inside
        .clone()
        .unwrap_or_else(|| OUTSIDE_CONTAINERFILE.to_string());

    let ignore_text = [".containerignore", ".dockerignore"]
        .iter()
        .map(|n| ctx.join(n))
        .find(|p| p.is_file())
        .map(|p| std::fs::read_to_string(&p).map_err(|e| io("cannot read", &p, e)))
        .transpose()?
        .unwrap_or_default();
    let matcher = Matcher::parse(&ignore_text);

    let mut tar = tar::Builder::new(Vec::new());
    tar.mode(tar::HeaderMode::Deterministic);
    tar.follow_symlinks(false);
    add_dir(&mut tar, &ctx_abs, "", &matcher, inside.as_deref())?;
    if inside.is_none() {
        let content = std::fs::read(&cf_abs).map_err(|e| io("cannot read", &cf_abs, e))?;
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_cksum();
        tar.append_data(&mut header, OUTSIDE_CONTAINERFILE, content.as_slice())
            .map_err(|e| io("cannot archive", &cf_abs, e))?;
    }
    let archive = tar.into_inner().map_err(|e| {
        BackendError::Other(format!("cannot finish the build context archive: {e}"))
    })?;
    Ok((archive, dockerfile_name))
}

fn slash_path(p: &Path) -> String {
    p.components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn add_dir(
    tar: &mut tar::Builder<Vec<u8>>,
    dir: &Path,
    rel: &str,
    matcher: &Matcher,
    keep: Option<&str>,
) -> Result<(), BackendError> {
    let io = |p: &Path, e: std::io::Error| {
        BackendError::Other(format!("cannot read {}: {e}", p.display()))
    };
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| io(dir, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| io(dir, e))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        let child_rel = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        let path = entry.path();
        let ft = entry.file_type().map_err(|e| io(&path, e))?;
        let excluded = matcher.excluded(&child_rel) && keep != Some(child_rel.as_str());
        let keep_below = keep.is_some_and(|k| k.starts_with(&format!("{child_rel}/")));
        if ft.is_dir() {
            if !excluded {
                tar.append_path_with_name(&path, &child_rel)
                    .map_err(|e| io(&path, e))?;
            }
            if !excluded || matcher.has_negations() || keep_below {
                add_dir(tar, &path, &child_rel, matcher, keep)?;
            }
        } else if excluded {
            continue;
        } else if ft.is_file() || ft.is_symlink() {
            tar.append_path_with_name(&path, &child_rel)
                .map_err(|e| io(&path, e))?;
        } else {
            tracing::debug!(path = %path.display(), "skipping a special file in the build context");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(archive: &[u8]) -> Vec<(String, tar::EntryType)> {
        let mut a = tar::Archive::new(archive);
        a.entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.path().unwrap().to_string_lossy().into_owned(),
                    e.header().entry_type(),
                )
            })
            .collect()
    }

    #[test]
    fn archive_honours_ignore_file_and_keeps_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("bin")).unwrap();
        std::fs::create_dir_all(d.join("target/debug")).unwrap();
        std::fs::write(d.join("bin/tool"), b"x").unwrap();
        std::os::unix::fs::symlink("tool", d.join("bin/alias")).unwrap();
        std::fs::write(d.join("target/debug/big"), b"x").unwrap();
        std::fs::write(d.join("notes.md"), b"x").unwrap();
        std::fs::write(d.join("Containerfile"), b"FROM scratch\n").unwrap();
        std::fs::write(d.join(".dockerignore"), b"target\n*.md\nContainerfile\n").unwrap();
        let (archive, name) = context_archive(&ImageBuild::new(d, "t")).unwrap();
        assert_eq!(name, "Containerfile");
        let e = entries(&archive);
        let names: Vec<&str> = e.iter().map(|(n, _)| n.as_str()).collect();
        assert!(names.contains(&"bin/tool"), "{names:?}");
        assert!(
            names.contains(&"Containerfile"),
            "the Containerfile is always sent: {names:?}"
        );
        assert!(!names.iter().any(|n| n.starts_with("target")), "{names:?}");
        assert!(!names.contains(&"notes.md"));
        let alias = e.iter().find(|(n, _)| n == "bin/alias").unwrap();
        assert_eq!(alias.1, tar::EntryType::Symlink);
    }

    #[test]
    fn containerfile_in_a_subdirectory_or_outside() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = dir.path().join("ctx");
        std::fs::create_dir_all(ctx.join("docker")).unwrap();
        std::fs::write(ctx.join("docker/Build.file"), b"FROM scratch\n").unwrap();
        std::fs::write(dir.path().join("Outside"), b"FROM scratch\n").unwrap();
        let (_, name) =
            context_archive(&ImageBuild::new(&ctx, "t").containerfile("docker/Build.file"))
                .unwrap();
        assert_eq!(name, "docker/Build.file");
        let (archive, name) =
            context_archive(&ImageBuild::new(&ctx, "t").containerfile("../Outside")).unwrap();
        assert_eq!(name, OUTSIDE_CONTAINERFILE);
        assert!(entries(&archive)
            .iter()
            .any(|(n, _)| n == OUTSIDE_CONTAINERFILE));
    }

    #[test]
    fn missing_containerfile_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = context_archive(&ImageBuild::new(dir.path(), "t")).unwrap_err();
        assert!(
            err.to_string().contains("no Containerfile or Dockerfile"),
            "{err}"
        );
        let err =
            context_archive(&ImageBuild::new(dir.path(), "t").containerfile("nope")).unwrap_err();
        assert!(err.to_string().contains("nope"), "{err}");
    }
}

//! The artifact store: what steps leave behind, kept after the run (issue 10).
//!
//! Invariants:
//! - **Content-addressed.** A blob is named by the SHA-256 of its bytes
//!   (`<root>/sha256/ab/abcd…`); the same bytes kept twice are stored once, and a blob never
//!   changes.
//! - **Never half visible.** A blob is written to `<root>/tmp/`, synced, and renamed into place
//!   only when complete and hashed; an interrupted write leaves at most a temp file (removed by a
//!   later [`ArtifactStore::open`] once it is a day old, so a write in progress in another process
//!   is never touched).
//! - **Bounded.** An artifact larger than its limit is refused while it is written
//!   ([`ArtifactError::TooLarge`]), never read whole into memory.
//! - **Nothing from outside `/workspace`.** An archive entry named outside the fetched path, and a
//!   symlink or hard link pointing out of `/workspace`, refuse the artifact.
//!
//! An artifact made from a container's tar archive ([`ArtifactStore::ingest`]) is one of two
//! [`ArtifactKind`]s: a single regular file named by a plain path is stored as its bytes (so its
//! SHA-256 is the file's, as `sha256sum` says); a directory, a symlink or a glob is stored as one
//! tar archive with the entries' modes kept, named relative to the fetched path's parent
//! (`dist/app.tar.gz`), as `docker cp` names them.

use std::fmt;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, SystemTime};

use co_spec::artifacts::ArtifactPath;
use sha2::{Digest as _, Sha256};

/// The default maximum size of one artifact: 1 GiB.
pub const DEFAULT_MAX_ARTIFACT_SIZE: u64 = 1 << 30;

/// A temp file older than this is a leftover of an interrupted write.
const STALE_TEMP: Duration = Duration::from_secs(24 * 3600);

/// `64 MiB`, `512 KiB`, `1000 bytes`.
pub fn size_text(bytes: u64) -> String {
    const MIB: u64 = 1 << 20;
    const KIB: u64 = 1 << 10;
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= KIB && bytes.is_multiple_of(KIB) {
        format!("{} KiB", bytes / KIB)
    } else {
        format!("{bytes} bytes")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    /// The artifact would be larger than the limit.
    #[error("it is larger than the maximum artifact size of {}", size_text(*limit))]
    TooLarge { limit: u64 },
    /// A glob matched no file.
    #[error("`{0}` matched nothing")]
    NothingMatched(String),
    /// Something in the archive may not be kept (a link out of `/workspace`, an entry outside
    /// the fetched path).
    #[error("{0}")]
    Refused(String),
    /// The archive could not be read as tar.
    #[error("the archive read from the container is not a readable tar archive: {0}")]
    Corrupt(String),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: io::Error,
    },
    /// The store does not have the blob (removed by the retention sweeper, or another store).
    #[error("the artifact store has no blob {0}")]
    Missing(Digest),
    /// A blob's bytes do not have its digest (damaged on disk).
    #[error("the stored blob {expected} is damaged (its bytes have SHA-256 {found})")]
    Damaged { expected: Digest, found: Digest },
    /// A text that should be a SHA-256 digest is not one.
    #[error("`{0}` is not a SHA-256 digest (64 hexadecimal digits)")]
    BadDigest(String),
}

fn io_error(what: impl Into<String>) -> impl FnOnce(io::Error) -> ArtifactError {
    let what = what.into();
    move |source| ArtifactError::Io { what, source }
}

/// A SHA-256 digest: 64 lower-case hexadecimal digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(String);

impl Digest {
    /// Parse 64 hexadecimal digits (either case).
    pub fn parse(text: &str) -> Result<Digest, ArtifactError> {
        if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(Digest(text.to_ascii_lowercase()))
        } else {
            Err(ArtifactError::BadDigest(text.chars().take(80).collect()))
        }
    }

    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Digest {
        Digest(hex::encode(Sha256::digest(bytes)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A writer that hashes what it is given (SHA-256): to check bytes copied elsewhere.
#[derive(Default)]
pub struct Sha256Writer(Sha256);

impl Sha256Writer {
    /// The digest of everything written.
    pub fn finish(self) -> Digest {
        Digest(hex::encode(self.0.finalize()))
    }
}

impl Write for Sha256Writer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// How an artifact's bytes are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArtifactKind {
    /// One regular file: its bytes.
    File,
    /// A directory, a symlink or a glob's matches: one tar archive.
    Tar,
}

impl ArtifactKind {
    /// `file`, `tar`: the word in the store, the API and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            ArtifactKind::File => "file",
            ArtifactKind::Tar => "tar",
        }
    }

    pub fn parse(word: &str) -> Option<ArtifactKind> {
        match word {
            "file" => Some(ArtifactKind::File),
            "tar" => Some(ArtifactKind::Tar),
            _ => None,
        }
    }
}

/// The file name an artifact is saved under when copied out: a single file keeps its own name
/// (`app.tar.gz` for `dist/app.tar.gz`), an archive is `NAME.tar`.
pub fn file_name(name: &str, path: &str, kind: ArtifactKind) -> String {
    match kind {
        ArtifactKind::File => path
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .filter(|base| !base.is_empty() && *base != "." && *base != "..")
            .map_or_else(|| name.to_string(), str::to_string),
        ArtifactKind::Tar => format!("{name}.tar"),
    }
}

/// A stored blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    pub sha256: Digest,
    pub size: u64,
    pub kind: ArtifactKind,
}

/// A directory of content-addressed blobs.
#[derive(Debug, Clone)]
pub struct ArtifactStore {
    root: PathBuf,
}

impl ArtifactStore {
    /// Open (creating, owner-only) the store at `root`, and remove the temp files of writes
    /// interrupted more than a day ago.
    pub fn open(root: impl Into<PathBuf>) -> Result<ArtifactStore, ArtifactError> {
        let root = root.into();
        let store = ArtifactStore { root };
        for dir in [store.root.clone(), store.blobs_dir(), store.temp_dir()] {
            create_private_dir(&dir)?;
        }
        if let Ok(entries) = fs::read_dir(store.temp_dir()) {
            let now = SystemTime::now();
            for entry in entries.flatten() {
                let old = entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| now.duration_since(t).ok())
                    .is_some_and(|age| age > STALE_TEMP);
                if old {
                    let _ = fs::remove_file(entry.path());
                }
            }
        }
        Ok(store)
    }

    /// Where the store is.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn blobs_dir(&self) -> PathBuf {
        self.root.join("sha256")
    }

    fn temp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// Where the blob `digest` is (whether or not it exists).
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        let hex = digest.as_str();
        self.blobs_dir()
            .join(hex.get(..2).unwrap_or("00"))
            .join(hex)
    }

    /// A new temp file in the store (for a download before [`ArtifactStore::ingest`]); removed
    /// when dropped.
    pub fn temp_file(&self) -> Result<tempfile::NamedTempFile, ArtifactError> {
        tempfile::NamedTempFile::new_in(self.temp_dir()).map_err(io_error(format!(
            "creating a temp file in {}",
            self.root.display()
        )))
    }

    /// The blob `digest`, open for reading; `None` if the store does not have it.
    pub fn open_blob(&self, digest: &Digest) -> Result<Option<File>, ArtifactError> {
        let path = self.blob_path(digest);
        match File::open(&path) {
            Ok(f) => Ok(Some(f)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error(format!("opening {}", path.display()))(e)),
        }
    }

    /// Remove the blob `digest` (nothing if it is not there).
    pub fn remove_blob(&self, digest: &Digest) -> Result<(), ArtifactError> {
        let path = self.blob_path(digest);
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_error(format!("removing {}", path.display()))(e)),
        }
    }

    /// Copy the blob `digest` to the file `dest` (replacing it), checking its SHA-256 on the
    /// way: written to a temp file next to `dest` and renamed only when the digest matched, so a
    /// damaged blob never becomes a file that looks right. Returns the bytes copied.
    pub fn copy_out(&self, digest: &Digest, dest: &Path) -> Result<u64, ArtifactError> {
        let Some(mut blob) = self.open_blob(digest)? else {
            return Err(ArtifactError::Missing(digest.clone()));
        };
        let dir = match dest.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let tmp = tempfile::NamedTempFile::new_in(&dir).map_err(io_error(format!(
            "creating a temp file in {}",
            dir.display()
        )))?;
        let mut out = Hashing {
            file: tmp,
            hasher: Sha256::new(),
            written: 0,
            limit: u64::MAX,
            exceeded: false,
        };
        io::copy(&mut blob, &mut out).map_err(io_error(format!("writing {}", dest.display())))?;
        let found = Digest(hex::encode(out.hasher.finalize()));
        if &found != digest {
            return Err(ArtifactError::Damaged {
                expected: digest.clone(),
                found,
            });
        }
        out.file
            .persist(dest)
            .map_err(|e| io_error(format!("writing {}", dest.display()))(e.error))?;
        Ok(out.written)
    }

    /// Store the bytes `reader` gives as one blob of `kind`, at most `max_size` of them.
    pub fn put(
        &self,
        reader: &mut dyn Read,
        kind: ArtifactKind,
        max_size: u64,
    ) -> Result<Blob, ArtifactError> {
        let mut out = self.writer(max_size)?;
        let copied = io::copy(reader, &mut out);
        let out = out.check(copied.map(|_| ()))?;
        self.commit(out, kind)
    }

    /// Make an artifact of `path` from `raw`, the tar archive of its fetch root
    /// ([`ArtifactPath::fetch_root`]) as the backend read it: its selected entries, checked, at
    /// most `max_size` bytes stored.
    pub fn ingest(
        &self,
        raw: &Path,
        path: &ArtifactPath,
        max_size: u64,
    ) -> Result<Blob, ArtifactError> {
        let file = File::open(raw).map_err(io_error(format!("opening {}", raw.display())))?;
        let mut archive = tar::Archive::new(io::BufReader::new(file));
        let entries = archive
            .entries()
            .map_err(|e| ArtifactError::Corrupt(e.to_string()))?;
        let base = path.entry_base();
        let mut out: Option<tar::Builder<Hashing>> = None;
        let mut kept = 0usize;
        for entry in entries {
            let mut entry = entry.map_err(|e| ArtifactError::Corrupt(e.to_string()))?;
            let name = entry
                .path()
                .map_err(|e| ArtifactError::Corrupt(e.to_string()))?
                .into_owned();
            let segments = entry_segments(&name)?;
            let name_text = segments.join("/");
            if !path.selects(&name_text) {
                continue;
            }
            let location = workspace_location(base.as_deref(), &segments, &name_text)?;
            let kind = entry.header().entry_type();
            // A plain path naming one regular file: the file's bytes.
            if out.is_none() && kept == 0 && !path.is_glob() && kind.is_file() {
                let mut writer = self.writer(max_size)?;
                let copied = io::copy(&mut entry, &mut writer);
                let writer = writer.check(copied.map(|_| ()))?;
                return self.commit(writer, ArtifactKind::File);
            }
            if kind.is_symlink() {
                check_symlink(&location, &entry)?;
            } else if kind.is_hard_link() {
                check_hard_link(base.as_deref(), &entry)?;
            }
            let builder = match &mut out {
                Some(b) => b,
                None => out.insert(tar::Builder::new(self.writer(max_size)?)),
            };
            let mut header = entry.header().clone();
            let appended = if kind.is_symlink() || kind.is_hard_link() {
                let target = entry
                    .link_name()
                    .map_err(|e| ArtifactError::Corrupt(e.to_string()))?
                    .map(|t| t.into_owned())
                    .unwrap_or_default();
                builder.append_link(&mut header, &name_text, &target)
            } else {
                builder.append_data(&mut header, &name_text, &mut entry)
            };
            if let Err(e) = appended {
                return Err(builder.get_mut().failure(e));
            }
            kept += 1;
        }
        let Some(builder) = out else {
            return Err(ArtifactError::NothingMatched(path.as_written().to_string()));
        };
        let writer = match builder.into_inner() {
            Ok(w) => w,
            Err(e) => {
                return Err(ArtifactError::Io {
                    what: "finishing the archive".into(),
                    source: e,
                })
            }
        };
        self.commit(writer, ArtifactKind::Tar)
    }

    fn writer(&self, limit: u64) -> Result<Hashing, ArtifactError> {
        Ok(Hashing {
            file: self.temp_file()?,
            hasher: Sha256::new(),
            written: 0,
            limit,
            exceeded: false,
        })
    }

    /// Sync the temp file and rename it to its digest's place.
    fn commit(&self, writer: Hashing, kind: ArtifactKind) -> Result<Blob, ArtifactError> {
        let Hashing {
            file,
            hasher,
            written,
            ..
        } = writer;
        file.as_file()
            .sync_all()
            .map_err(io_error("writing the artifact"))?;
        let digest = Digest(hex::encode(hasher.finalize()));
        let dest = self.blob_path(&digest);
        if let Some(dir) = dest.parent() {
            create_private_dir(dir)?;
        }
        file.persist(&dest)
            .map_err(|e| io_error(format!("storing {}", dest.display()))(e.error))?;
        Ok(Blob {
            sha256: digest,
            size: written,
            kind,
        })
    }
}

fn create_private_dir(dir: &Path) -> Result<(), ArtifactError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .map_err(io_error(format!("creating {}", dir.display())))
}

/// A temp file that hashes and counts what is written, and refuses to grow past its limit.
struct Hashing {
    file: tempfile::NamedTempFile,
    hasher: Sha256,
    written: u64,
    limit: u64,
    exceeded: bool,
}

impl Hashing {
    /// The error of a failed write, as an [`ArtifactError`] (the limit, or the IO error).
    fn failure(&self, e: io::Error) -> ArtifactError {
        if self.exceeded {
            ArtifactError::TooLarge { limit: self.limit }
        } else {
            ArtifactError::Io {
                what: "writing the artifact".into(),
                source: e,
            }
        }
    }

    fn check(self, result: io::Result<()>) -> Result<Hashing, ArtifactError> {
        match result {
            Ok(()) => Ok(self),
            Err(e) => Err(self.failure(e)),
        }
    }
}

impl Write for Hashing {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let len = u64::try_from(buf.len()).unwrap_or(u64::MAX);
        if self.written.saturating_add(len) > self.limit {
            self.exceeded = true;
            return Err(io::Error::other("the artifact size limit was reached"));
        }
        let n = self.file.write(buf)?;
        if let Some(done) = buf.get(..n) {
            self.hasher.update(done);
        }
        self.written += u64::try_from(n).unwrap_or(u64::MAX);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// An entry's name as segments; absolute names and `..` are refused.
fn entry_segments(name: &Path) -> Result<Vec<String>, ArtifactError> {
    let mut out = Vec::new();
    for part in name.components() {
        match part {
            Component::Normal(s) => out.push(s.to_string_lossy().into_owned()),
            Component::CurDir => {}
            _ => {
                return Err(ArtifactError::Refused(format!(
                    "the archive has an entry named `{}`, outside the path it was read from",
                    name.display()
                )))
            }
        }
    }
    Ok(out)
}

/// Where an entry is under `/workspace` (segments), from its name in the archive.
fn workspace_location(
    base: Option<&[String]>,
    segments: &[String],
    name: &str,
) -> Result<Vec<String>, ArtifactError> {
    match base {
        Some(base) => Ok(base.iter().chain(segments).cloned().collect()),
        None => match segments.split_first() {
            Some((first, rest)) if first == "workspace" => Ok(rest.to_vec()),
            _ => Err(ArtifactError::Refused(format!(
                "the archive has an entry named `{name}`, outside /workspace"
            ))),
        },
    }
}

/// Resolve `target` (`/`-separated) from `dir` (segments under `/workspace`); `None` if it
/// leaves `/workspace`.
fn resolve_in_workspace(dir: &[String], target: &Path) -> Option<Vec<String>> {
    let (mut at, rest): (Vec<String>, &Path) = if target.is_absolute() {
        (Vec::new(), target.strip_prefix("/workspace").ok()?)
    } else {
        (dir.to_vec(), target)
    };
    for part in rest.components() {
        match part {
            Component::Normal(s) => at.push(s.to_string_lossy().into_owned()),
            Component::CurDir => {}
            Component::ParentDir => {
                at.pop()?;
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(at)
}

fn check_symlink<R: Read>(
    location: &[String],
    entry: &tar::Entry<'_, R>,
) -> Result<(), ArtifactError> {
    let target = entry
        .link_name()
        .map_err(|e| ArtifactError::Corrupt(e.to_string()))?
        .map(|t| t.into_owned())
        .unwrap_or_default();
    let dir = location
        .get(..location.len().saturating_sub(1))
        .unwrap_or_default();
    if resolve_in_workspace(dir, &target).is_none() {
        return Err(ArtifactError::Refused(format!(
            "the symbolic link /workspace/{} points to `{}`, outside /workspace",
            location.join("/"),
            target.display()
        )));
    }
    Ok(())
}

fn check_hard_link<R: Read>(
    base: Option<&[String]>,
    entry: &tar::Entry<'_, R>,
) -> Result<(), ArtifactError> {
    let target = entry
        .link_name()
        .map_err(|e| ArtifactError::Corrupt(e.to_string()))?
        .map(|t| t.into_owned())
        .unwrap_or_default();
    let text = target.display().to_string();
    let segments = entry_segments(&target)?;
    workspace_location(base, &segments, &text).map(|_| ())
}

#[cfg(test)]
mod tests;

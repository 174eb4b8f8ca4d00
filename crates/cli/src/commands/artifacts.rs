//! `containerops artifacts list|get`: what a run's steps kept (`artifacts:`), from the local
//! store, and `run --artifacts-dir`'s copy of them.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use co_artifacts::{file_name, size_text, ArtifactStore};
use co_store::{ArtifactRecord, Store};
use serde_json::{json, Value};

use super::run::{open_artifact_store, open_store, OutputFormat};
use crate::client::Server;
use crate::exit;

pub const AFTER_HELP: &str = "\
A step keeps the paths its action (or component) declares under `artifacts:` (docs/spec.md):
one file is stored as its bytes, a directory or a glob as one tar archive (modes kept), each
named by its SHA-256 in the artifact store ($CONTAINEROPS_ARTIFACTS, else artifacts/ next to the
local database). `containerops run --artifacts-dir DIR` copies a run's artifacts out at its end.

NAME is the artifact's name (`package`), or STEP/NAME when several steps kept one of that name
(`build[os=linux]/package`). RUN may be a unique prefix of the run id.";

const LIST_EXAMPLES: &str = "\
Examples:
  containerops artifacts list 01jd
  containerops artifacts list 01jd --output json | jq -r '.[].sha256'";

const GET_HELP: &str = "\
A single file is saved under its own name (app.tar.gz), an archive as NAME.tar, in the current
directory; -o names the file (or a directory to save it in; - for stdout). It is written to a
temp file and renamed only when its SHA-256 matched.

Examples:
  containerops artifacts get 01jd package                  # ./app.tar.gz
  containerops artifacts get 01jd package -o /tmp/app.tgz
  containerops artifacts get 01jd reports -o - | tar tvf -";

#[derive(Subcommand)]
pub enum ArtifactsCommand {
    /// List what a run's steps kept: step, name, kind, size, SHA-256, path.
    #[command(after_help = format!("{AFTER_HELP}\n\n{LIST_EXAMPLES}"))]
    List(ListArgs),
    /// Save one artifact of a run to a file (checked against its SHA-256).
    #[command(after_help = format!("{AFTER_HELP}\n\n{GET_HELP}"))]
    Get(GetArgs),
}

#[derive(Args)]
pub struct ListArgs {
    /// Run id (or a unique prefix).
    pub id: String,
    /// Output format (`json`: an array of objects).
    #[arg(short, long, value_enum, default_value = "text")]
    pub output: OutputFormat,
}

#[derive(Args)]
pub struct GetArgs {
    /// Run id (or a unique prefix).
    pub id: String,
    /// The artifact: NAME, or STEP/NAME.
    pub name: String,
    /// Where to save it: a file, a directory, or - for stdout [default: the current directory].
    #[arg(short, long, value_name = "PATH")]
    pub output: Option<PathBuf>,
}

pub async fn artifacts(command: ArtifactsCommand, server: Option<Server>) -> u8 {
    if server.is_some() {
        eprintln!(
            "error: `artifacts` reads the local store; the server's artifacts are not available \
             from the command line yet\nhint: leave out --server (and CONTAINEROPS_SERVER)"
        );
        return exit::INVALID;
    }
    let store = match open_store().await {
        Ok(s) => s,
        Err(code) => return code,
    };
    match command {
        ArtifactsCommand::List(args) => list(&store, &args).await,
        ArtifactsCommand::Get(args) => get(&store, &args).await,
    }
}

/// The run's full id and its artifacts.
async fn run_artifacts(store: &Store, id: &str) -> Result<(String, Vec<ArtifactRecord>), u8> {
    let detail = store.get_run(id).await.map_err(|e| {
        eprintln!("error: {e}");
        match e {
            co_store::StoreError::NotFound(_) | co_store::StoreError::Ambiguous(_) => exit::INVALID,
            _ => exit::FAILED,
        }
    })?;
    let run_id = detail.run.id;
    let artifacts = store.list_artifacts(&run_id).await.map_err(|e| {
        eprintln!("error: {e}");
        exit::FAILED
    })?;
    Ok((run_id, artifacts))
}

/// One artifact as JSON (the shape of the API's list).
pub fn artifact_json(a: &ArtifactRecord) -> Value {
    json!({
        "step": a.step_key,
        "name": a.name,
        "attempt": a.attempt,
        "path": a.path,
        "kind": a.kind.as_str(),
        "sha256": a.sha256.as_str(),
        "size": a.size,
        "created_at": a.created_at,
        "expired_at": a.expired_at,
    })
}

async fn list(store: &Store, args: &ListArgs) -> u8 {
    let (run_id, artifacts) = match run_artifacts(store, &args.id).await {
        Ok(found) => found,
        Err(code) => return code,
    };
    if args.output == OutputFormat::Json {
        let all: Vec<Value> = artifacts.iter().map(artifact_json).collect();
        println!("{}", Value::Array(all));
        return exit::OK;
    }
    if artifacts.is_empty() {
        eprintln!("run {run_id} kept no artifacts");
        return exit::OK;
    }
    for a in &artifacts {
        let expired = match &a.expired_at {
            Some(at) => format!("  (expired {at})"),
            None => String::new(),
        };
        println!(
            "{}/{}  {}  {}  {}  {}{expired}",
            a.step_key,
            a.name,
            a.kind.as_str(),
            size_text(a.size),
            a.sha256,
            a.path
        );
    }
    exit::OK
}

/// The artifact `wanted` names (`NAME` or `STEP/NAME`); the error says what there is.
fn pick<'a>(
    run_id: &str,
    artifacts: &'a [ArtifactRecord],
    wanted: &str,
) -> Result<&'a ArtifactRecord, String> {
    let matches: Vec<&ArtifactRecord> = artifacts
        .iter()
        .filter(|a| a.name == wanted || format!("{}/{}", a.step_key, a.name) == wanted)
        .collect();
    let all = || {
        artifacts
            .iter()
            .map(|a| format!("{}/{}", a.step_key, a.name))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match matches.as_slice() {
        [one] => Ok(one),
        [] if artifacts.is_empty() => Err(format!("run {run_id} kept no artifacts")),
        [] => Err(format!(
            "run {run_id} has no artifact {wanted:?}; it has: {}",
            all()
        )),
        several => Err(format!(
            "{wanted:?} names artifacts of several steps of run {run_id}: {}; give STEP/NAME",
            several
                .iter()
                .map(|a| format!("{}/{}", a.step_key, a.name))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

async fn get(store: &Store, args: &GetArgs) -> u8 {
    let (run_id, artifacts) = match run_artifacts(store, &args.id).await {
        Ok(found) => found,
        Err(code) => return code,
    };
    let artifact = match pick(&run_id, &artifacts, &args.name) {
        Ok(a) => a,
        Err(message) => {
            eprintln!("error: {message}");
            return exit::INVALID;
        }
    };
    if let Some(at) = &artifact.expired_at {
        eprintln!(
            "error: artifact {}/{} of run {run_id} expired at {at} (retention); it is no longer \
             kept",
            artifact.step_key, artifact.name
        );
        return exit::FAILED;
    }
    let blobs = match open_artifact_store() {
        Ok(b) => b,
        Err(code) => return code,
    };
    let default_name = file_name(&artifact.name, &artifact.path, artifact.kind);
    let dest = match &args.output {
        Some(p) if p.as_os_str() == "-" => return to_stdout(&blobs, artifact),
        Some(p) if p.is_dir() => p.join(&default_name),
        Some(p) => p.clone(),
        None => PathBuf::from(&default_name),
    };
    match save(&blobs, artifact, &dest) {
        Ok(()) => exit::OK,
        Err(message) => {
            eprintln!("error: {message}");
            exit::FAILED
        }
    }
}

/// Copy one artifact to `dest` (checked), saying so on stderr.
fn save(blobs: &ArtifactStore, a: &ArtifactRecord, dest: &Path) -> Result<(), String> {
    blobs.copy_out(&a.sha256, dest).map_err(|e| {
        format!(
            "artifact {}/{}: {e}{}",
            a.step_key,
            a.name,
            if matches!(e, co_artifacts::ArtifactError::Missing(_)) {
                format!(
                    "\nhint: the local artifact store is {}; set CONTAINEROPS_ARTIFACTS if the run \
                     kept its artifacts elsewhere",
                    blobs.root().display()
                )
            } else {
                String::new()
            }
        )
    })?;
    eprintln!(
        "saved {}/{} ({}, {}) to {}",
        a.step_key,
        a.name,
        a.kind.as_str(),
        size_text(a.size),
        dest.display()
    );
    Ok(())
}

/// Write one artifact to stdout; a blob whose bytes do not match its digest is an error (after
/// the bytes were written: stdout cannot be taken back).
fn to_stdout(blobs: &ArtifactStore, a: &ArtifactRecord) -> u8 {
    let file = match blobs.open_blob(&a.sha256) {
        Ok(Some(f)) => f,
        Ok(None) => {
            eprintln!(
                "error: artifact {}/{}: the artifact store ({}) has no blob {}",
                a.step_key,
                a.name,
                blobs.root().display(),
                a.sha256
            );
            return exit::FAILED;
        }
        Err(e) => {
            eprintln!("error: {e}");
            return exit::FAILED;
        }
    };
    let mut reader = std::io::BufReader::new(file);
    let mut stdout = crate::out::Stdout;
    let mut digest = co_artifacts::Sha256Writer::default();
    let mut tee = Tee(&mut stdout, &mut digest);
    if let Err(e) = std::io::copy(&mut reader, &mut tee) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            return exit::OUTPUT_CLOSED;
        }
        eprintln!("error: writing to stdout: {e}");
        return exit::FAILED;
    }
    let _ = stdout.flush();
    if digest.finish() != a.sha256 {
        eprintln!(
            "error: artifact {}/{}: the stored blob is damaged (its bytes do not have SHA-256 {})",
            a.step_key, a.name, a.sha256
        );
        return exit::FAILED;
    }
    exit::OK
}

/// Writes to two writers.
struct Tee<'a, A: Write, B: Write>(&'a mut A, &'a mut B);

impl<A: Write, B: Write> Write for Tee<'_, A, B> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.0.write(buf)?;
        self.1.write_all(buf.get(..n).unwrap_or_default())?;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// `run --artifacts-dir DIR`: copy every artifact the run kept to `DIR/STEP/FILE`; prints what
/// it copied. Returns false if any could not be copied (each said why).
pub async fn copy_run_artifacts(
    store: &Store,
    blobs: &ArtifactStore,
    run_id: &str,
    dir: &Path,
) -> bool {
    let artifacts = match store.list_artifacts(run_id).await {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: listing the run's artifacts: {e}");
            return false;
        }
    };
    let mut ok = true;
    for a in artifacts.iter().filter(|a| a.expired_at.is_none()) {
        let step_dir = dir.join(&a.step_key);
        if let Err(e) = std::fs::create_dir_all(&step_dir) {
            eprintln!("error: creating {}: {e}", step_dir.display());
            ok = false;
            continue;
        }
        let dest = step_dir.join(file_name(&a.name, &a.path, a.kind));
        if let Err(message) = save(blobs, a, &dest) {
            eprintln!("error: {message}");
            ok = false;
        }
    }
    ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use co_artifacts::{ArtifactKind, Digest};

    fn rec(step: &str, name: &str) -> ArtifactRecord {
        ArtifactRecord {
            run_id: "r".into(),
            step_key: step.into(),
            name: name.into(),
            attempt: 1,
            path: "p".into(),
            kind: ArtifactKind::File,
            sha256: Digest::of(b"x"),
            size: 1,
            created_at: "2026-01-01T00:00:00.000Z".into(),
            expired_at: None,
        }
    }

    #[test]
    fn names_pick_one_artifact_or_say_what_there_is() {
        let all = [
            rec("a", "pkg"),
            rec("b[os=x]", "log"),
            rec("b[os=y]", "log"),
        ];
        assert_eq!(pick("r", &all, "pkg").unwrap().step_key, "a");
        assert_eq!(pick("r", &all, "b[os=y]/log").unwrap().step_key, "b[os=y]");
        let err = pick("r", &all, "log").unwrap_err();
        assert_eq!(
            err,
            "\"log\" names artifacts of several steps of run r: b[os=x]/log, b[os=y]/log; give \
             STEP/NAME"
        );
        let err = pick("r", &all, "nope").unwrap_err();
        assert_eq!(
            err,
            "run r has no artifact \"nope\"; it has: a/pkg, b[os=x]/log, b[os=y]/log"
        );
        assert_eq!(pick("r", &[], "x").unwrap_err(), "run r kept no artifacts");
    }
}

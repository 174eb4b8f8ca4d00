//! Embeds the built web UI (`web/dist`, from `npm --prefix web run build`) into release builds.
//!
//! Writes `$OUT_DIR/ui_assets.rs`: a table of every file under `web/dist` (`include_bytes!`),
//! with its ETag (a SHA-256 prefix of the content) and the `.br` / `.gz` siblings the UI build
//! made, if any. Debug builds and builds without `web/dist/index.html` get an empty table; the
//! server then reads `web/dist` from disk (debug) or answers `/ui/` with how to build the UI.
//!
//! Sets `CONTAINEROPS_BUILD_COMMIT` (the `commit` label of `containerops_build_info`):
//! `$CONTAINEROPS_COMMIT` when it is set at build time; else, in release builds, the checkout's
//! `git rev-parse HEAD`; else `unknown`. Debug builds do not ask git, so that a commit does not
//! rebuild the server and everything that depends on it.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

fn main() -> std::io::Result<()> {
    println!("cargo:rerun-if-changed=build.rs");
    let var = |name: &str| {
        std::env::var_os(name)
            .map(PathBuf::from)
            .ok_or_else(|| std::io::Error::other(format!("cargo did not set {name}")))
    };
    let out = var("OUT_DIR")?;
    let manifest = var("CARGO_MANIFEST_DIR")?;
    let web = manifest.join("../../web");
    let dist = web.join("dist");
    let release = std::env::var_os("CARGO_CFG_DEBUG_ASSERTIONS").is_none();
    let commit = build_commit(&manifest, release);
    println!("cargo:rustc-env=CONTAINEROPS_BUILD_COMMIT={commit}");
    let mut table = String::from("&[\n");
    if release {
        // Rebuild when the UI is (re)built. Watching a path that does not exist would rebuild
        // every time, so watch the nearest one that does.
        let watched = if dist.exists() || !web.exists() {
            &dist
        } else {
            &web
        };
        println!("cargo:rerun-if-changed={}", watched.display());
        if dist.join("index.html").is_file() {
            let mut files = Vec::new();
            collect(&dist, &mut files);
            files.sort();
            for file in files {
                entry(&dist, &file, &mut table);
            }
        }
    }
    table.push(']');
    let code = format!(
        "/// Every file of `web/dist` (release builds with a built UI), by path under it.\n\
         pub(crate) static EMBEDDED: &[EmbeddedFile] = {table};\n"
    );
    std::fs::write(out.join("ui_assets.rs"), code)
}

/// The commit this build is made from (see the module's documentation).
fn build_commit(manifest: &Path, release: bool) -> String {
    println!("cargo:rerun-if-env-changed=CONTAINEROPS_COMMIT");
    if let Ok(commit) = std::env::var("CONTAINEROPS_COMMIT") {
        let commit = commit.trim();
        if !commit.is_empty() && commit.chars().all(|c| c.is_ascii_graphic()) {
            return commit.to_string();
        }
    }
    if !release {
        return "unknown".to_string();
    }
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git")
            .args(args)
            .current_dir(manifest)
            .output()
            .ok()?;
        let text = String::from_utf8(out.stdout).ok()?;
        out.status.success().then(|| text.trim().to_string())
    };
    let Some(commit) = git(&["rev-parse", "HEAD"]) else {
        return "unknown".to_string();
    };
    // Build again when HEAD moves: its file, the branch it points at (loose or packed). Only
    // files that exist are watched (a missing one would rebuild every time).
    let mut watched = vec![git(&["rev-parse", "--git-path", "HEAD"])];
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watched.push(git(&["rev-parse", "--git-path", &branch]));
        watched.push(git(&["rev-parse", "--git-path", "packed-refs"]));
    }
    for path in watched.into_iter().flatten() {
        let path = manifest.join(path);
        if path.exists() {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
    commit
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, out);
        } else if !matches!(path.extension().and_then(|e| e.to_str()), Some("br" | "gz")) {
            out.push(path);
        }
    }
}

fn entry(dist: &Path, file: &Path, table: &mut String) {
    let Ok(rel) = file.strip_prefix(dist) else {
        return;
    };
    let Some(rel) = rel.to_str() else {
        return;
    };
    let Ok(bytes) = std::fs::read(file) else {
        return;
    };
    let hash = Sha256::digest(&bytes);
    let etag: String = hash.iter().take(12).map(|b| format!("{b:02x}")).collect();
    let sibling = |ext: &str| {
        let mut name = file.as_os_str().to_owned();
        name.push(format!(".{ext}"));
        let path = PathBuf::from(name);
        if path.is_file() {
            format!("Some(include_bytes!({:?}))", path.display().to_string())
        } else {
            "None".to_string()
        }
    };
    let _ = writeln!(
        table,
        "    EmbeddedFile {{ path: {:?}, body: include_bytes!({:?}), etag: {:?}, br: {}, gzip: {} }},",
        rel.replace('\\', "/"),
        file.display().to_string(),
        etag,
        sibling("br"),
        sibling("gz"),
    );
}

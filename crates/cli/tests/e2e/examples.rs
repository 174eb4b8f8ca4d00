//! The realistic example (examples/ci-pipeline) end to end, as `scripts/demo.sh` runs it: its
//! components are built from the Debian base image by `containerops run` itself, the sample
//! project is cloned over `git://` from a `git daemon` this test starts.

use std::net::TcpListener;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::cli::repo_root;
use crate::support::{image_exists, World};

const BASE: &str = "localhost/containerops/debian-base:bookworm";

/// Serves one bare repository of the sample project over `git://`: a listener bound before any
/// client can connect (so there is no readiness race), each connection handed to
/// `git daemon --inetd`.
struct GitServer {
    url: String,
    _dir: tempfile::TempDir,
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=Test Developer",
            "-c",
            "user.email=dev@example.org",
        ])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn serve_sample_project() -> GitServer {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    let serve = dir.path().join("serve");
    std::fs::create_dir_all(&serve).unwrap();
    let status = Command::new("cp")
        .arg("-r")
        .arg(repo_root().join("examples/ci-pipeline/project"))
        .arg(&work)
        .status()
        .unwrap();
    assert!(status.success());
    git(&work, &["init", "-q", "-b", "main"]);
    git(&work, &["add", "-A"]);
    git(
        &work,
        &["commit", "-q", "-m", "Add greet", "-m", "Second paragraph."],
    );
    git(
        dir.path(),
        &["clone", "-q", "--bare", "work", "serve/greet.git"],
    );

    let listener = TcpListener::bind("0.0.0.0:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let Ok(input) = stream.try_clone() else {
                continue;
            };
            let _ = Command::new("git")
                .args(["daemon", "--inetd", "--export-all"])
                .arg(format!("--base-path={}", serve.display()))
                .stdin(Stdio::from(OwnedFd::from(input)))
                .stdout(Stdio::from(OwnedFd::from(stream)))
                .stderr(Stdio::null())
                .spawn();
        }
    });
    // Containers reach this machine at its own address.
    let hostname = Command::new("hostname").arg("-I").output().unwrap();
    let host = String::from_utf8_lossy(&hostname.stdout)
        .split_whitespace()
        .next()
        .unwrap_or("host.containers.internal")
        .to_string();
    GitServer {
        url: format!("git://{host}:{port}/greet.git"),
        _dir: dir,
    }
}

#[test]
fn ci_pipeline_example_clones_builds_tests_packages_and_checksums() {
    assert!(
        image_exists(BASE),
        "image {BASE} is missing: run scripts/build-images.sh (it debootstraps it locally)"
    );
    let server = serve_sample_project();
    let w = World::new();
    let file = repo_root().join("examples/ci-pipeline/workflow.yaml");
    let run = w.run_json(&file, &["--input", &format!("repo={}", server.url)]);
    run.assert_all_succeeded();

    let commit = run.out("clone", "commit");
    assert_eq!(commit.len(), 40, "{commit}");
    let short = run.out("clone", "short-commit");
    assert!(commit.starts_with(&short));
    assert_eq!(run.out("clone", "author"), "Test Developer");
    assert_eq!(run.out("clone", "message"), "Add greet\nSecond paragraph.");
    assert_eq!(run.out("compile", "binary"), "/workspace/src/build/greet");
    assert_eq!(run.step("compile")["outputs"]["warnings"], 0);
    assert_eq!(run.step("unit-tests")["outputs"]["tests"], 6);
    assert_eq!(run.step("unit-tests")["outputs"]["failed"], 0);
    assert_eq!(run.out("smoke", "said"), "HELLO, CI!");
    let artifact = run.out("tarball", "artifact");
    assert_eq!(
        artifact,
        format!("/workspace/dist/greet-1.0.0-{short}.tar.gz")
    );
    let size = run.step("tarball")["outputs"]["size"].as_i64().unwrap();
    assert!(size > 0);
    let sha = run.out("checksum", "sha256");
    assert_eq!(sha.len(), 64);
    let report = &run.step("checksum")["outputs"]["report"];
    assert_eq!(report["file"], artifact.as_str());
    assert_eq!(report["bytes"].as_i64(), Some(size));
    assert_eq!(report["sha256"], sha.as_str());
    let summary = w.logs(run.id(), Some("summary"));
    assert!(
        summary.contains(&format!("pipeline succeeded for commit {short}")),
        "{summary}"
    );
    assert!(summary.contains(&sha), "{summary}");

    // The package is kept as the artifact `package` (an archive of the glob's match): what
    // `artifacts get` saves holds the very bytes the checksum step hashed.
    assert!(
        summary.contains(&format!("containerops artifacts get {} package", run.id())),
        "{summary}"
    );
    let saved = w.path("package.tar");
    let got = w.exec(&[
        "artifacts",
        "get",
        run.id(),
        "package",
        "-o",
        saved.to_str().unwrap(),
    ]);
    assert_eq!(got.code, 0, "{}", got.both());
    let inner = artifact.trim_start_matches("/workspace/");
    let hashed = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "tar -xOf '{}' '{inner}' | sha256sum | cut -d' ' -f1",
            saved.display()
        ))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&hashed.stdout).trim(), sha);
}

//! Artifacts (docs/spec.md#artifacts) on the real engine: read from the finished container with
//! the engine's archive API, kept content-addressed in the local artifact store (next to the
//! database), `when:` decided by how the attempt ended, and the step that declared a bad one
//! failed with the reason while its other artifacts are kept.

use std::path::Path;
use std::process::Command;

use crate::support::{sh, World};

fn blob(store: &Path, sha: &str) -> std::path::PathBuf {
    store.join("sha256").join(&sha[..2]).join(sha)
}

/// `tar tvf` of a stored archive: `MODE NAME` per entry.
fn tar_listing(path: &Path) -> Vec<String> {
    let out = Command::new("tar").arg("tvf").arg(path).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            format!("{} {}", f[0], f[5..].join(" "))
        })
        .collect()
}

#[test]
fn artifacts_are_kept_by_sha256_and_a_bad_one_fails_only_its_step() {
    let w = World::new();
    let store = w.db.parent().unwrap().join("artifacts");
    let make = sh(
        r#"cd /workspace
mkdir -p dist/tree/bin links
printf 'the package\n' > dist/app.txt
printf '#!/bin/sh\necho hi\n' > dist/tree/bin/run.sh && chmod 755 dist/tree/bin/run.sh
printf 'data' > dist/tree/data.txt && chmod 600 dist/tree/data.txt
ln -s ../data.txt dist/tree/bin/data-link
ln -s /etc/passwd links/passwd
mkdir -p reports/a && echo '<x/>' > reports/a/one.xml && echo no > reports/a/one.txt
head -c 2097152 /dev/zero > big.bin
echo "[COUT] sum = $(sha256sum dist/app.txt | cut -d' ' -f1)"
"#,
        8,
    );
    let yaml = format!(
        r#"name: arts
stages:
  - name: build
    actions:
      - name: make
{make}        artifacts:
          package: dist/app.txt
          tree: /workspace/dist/tree
          reports: "reports/**/*.xml"
          big: big.bin
          links: links
          missing: nope.txt
          on-failure: {{ path: dist/app.txt, when: failure }}
      - name: fails
{fail}        artifacts:
          only-ok: {{ path: dist/app.txt }}
          crash-log: {{ path: crash.log, when: always }}
  - name: check
    actions:
      - name: use
        if: "${{{{ always() }}}}"
{use_}        with:
          sha: "${{{{ actions.make.artifacts.package.sha256 }}}}"
          size: "${{{{ actions.make.artifacts.package.size }}}}"
          name: "${{{{ actions.make.artifacts.package.name }}}}"
          gone: "${{{{ toJSON(actions.make.artifacts.big) }}}}"
"#,
        use_ = sh(
            "echo \"[COUT] got = $CO_INPUT_SHA $CO_INPUT_SIZE $CO_INPUT_NAME $CO_INPUT_GONE\"\n",
            8
        ),
        fail = sh("echo boom > /workspace/crash.log\nexit 3\n", 8),
    );
    let copies = w.path("copies");
    let run = w.run_yaml(
        &yaml,
        &[
            "--max-artifact-size",
            "1Mi",
            "--artifacts-dir",
            copies.to_str().unwrap(),
        ],
    );
    assert_eq!(run.status(), "failed", "{}", run.pretty());

    // `make` failed because of its bad artifacts, and says which and why.
    let error = run.error_of("make");
    for expected in [
        "artifact big (big.bin): it is larger than the maximum artifact size of 1 MiB",
        "artifact links (links): the symbolic link /workspace/links/passwd points to \
         `/etc/passwd`, outside /workspace",
        "artifact missing (nope.txt): /workspace/nope.txt does not exist",
    ] {
        assert!(error.contains(expected), "`{expected}` not in: {error}");
    }
    // Its good artifacts are kept. A single file is stored as its bytes: its SHA-256 is the
    // file's, as sha256sum said inside the container.
    let sum = run.out("make", "sum");
    assert_eq!(
        std::fs::read(blob(&store, &sum)).unwrap(),
        b"the package\n",
        "{}",
        run.pretty()
    );
    let logs = w.logs(run.id(), Some("make"));
    assert!(
        logs.contains(&format!(
            "artifact package kept: dist/app.txt (file, 12 bytes, sha256 {sum})"
        )),
        "{logs}"
    );
    // A directory is one archive with its modes and (inner) symlinks kept.
    let tree_sha = logs
        .lines()
        .find_map(|l| l.strip_prefix("artifact tree kept: /workspace/dist/tree (tar, "))
        .and_then(|rest| rest.split("sha256 ").nth(1))
        .map(|s| s.trim_end_matches(')').to_string())
        .unwrap_or_else(|| panic!("no tree artifact in:\n{logs}"));
    let listing = tar_listing(&blob(&store, &tree_sha));
    for expected in [
        "-rwxr-xr-x tree/bin/run.sh",
        "-rw------- tree/data.txt",
        "lrwxrwxrwx tree/bin/data-link -> ../data.txt",
    ] {
        assert!(
            listing.iter().any(|l| l == expected),
            "`{expected}` not in {listing:#?}"
        );
    }
    // A glob keeps only its matches, named from the workspace.
    let reports_sha = logs
        .lines()
        .find_map(|l| l.strip_prefix("artifact reports kept: reports/**/*.xml (tar, "))
        .and_then(|rest| rest.split("sha256 ").nth(1))
        .map(|s| s.trim_end_matches(')').to_string())
        .unwrap_or_else(|| panic!("no reports artifact in:\n{logs}"));
    let listing = tar_listing(&blob(&store, &reports_sha));
    assert_eq!(listing, ["-rw-r--r-- reports/a/one.xml"]);
    // `when: failure` artifacts of `make` (it succeeded as a container: exit 0) are not kept.
    assert!(!logs.contains("artifact on-failure"), "{logs}");

    // `fails` exited 3: its `when: always` artifact is kept, its `success` one is not.
    let logs = w.logs(run.id(), Some("fails"));
    assert!(
        logs.contains("artifact crash-log kept: crash.log (file, 5 bytes"),
        "{logs}"
    );
    assert!(!logs.contains("only-ok"), "{logs}");
    assert_eq!(run.error_of("fails"), "exit code 3");

    // Expressions see what was kept (a failed step's kept artifacts too), and null for what
    // was not.
    assert_eq!(run.out("use", "got"), format!("{sum} 12 package null"));

    // `run --artifacts-dir` copied each kept artifact to DIR/STEP/FILE.
    assert_eq!(
        std::fs::read(copies.join("make/app.txt")).unwrap(),
        b"the package\n"
    );
    assert_eq!(
        std::fs::read(copies.join("fails/crash.log")).unwrap(),
        b"boom\n"
    );
    assert!(copies.join("make/tree.tar").is_file());
    assert!(copies.join("make/reports.tar").is_file());
    assert!(
        run.stderr.contains(&format!(
            "saved make/package (file, 12 bytes) to {}",
            copies.join("make/app.txt").display()
        )),
        "{}",
        run.stderr
    );

    // `artifacts list` and `artifacts get` read them back by run id prefix.
    let prefix = &run.id()[..10];
    let list = w.exec(&["artifacts", "list", prefix]);
    assert_eq!(list.code, 0, "{}", list.both());
    assert!(
        list.stdout.contains(&format!(
            "make/package  file  12 bytes  {sum}  dist/app.txt"
        )),
        "{}",
        list.both()
    );
    let json = w.exec(&["artifacts", "list", prefix, "--output", "json"]);
    let all: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let names: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 4, "{names:?}");
    for n in ["package", "tree", "reports", "crash-log"] {
        assert!(names.contains(&n), "{names:?}");
    }
    let got = w.exec(&["artifacts", "get", prefix, "package"]);
    assert_eq!(got.code, 0, "{}", got.both());
    assert_eq!(std::fs::read(w.path("app.txt")).unwrap(), b"the package\n");
    let to = w.path("named.bin");
    let got = w.exec(&[
        "artifacts",
        "get",
        prefix,
        "make/tree",
        "-o",
        to.to_str().unwrap(),
    ]);
    assert_eq!(got.code, 0, "{}", got.both());
    assert_eq!(
        std::fs::read(&to).unwrap(),
        std::fs::read(copies.join("make/tree.tar")).unwrap()
    );
    let piped = w.exec(&["artifacts", "get", prefix, "package", "-o", "-"]);
    assert_eq!(piped.stdout, "the package\n", "{}", piped.both());
    let missing = w.exec(&["artifacts", "get", prefix, "big"]);
    assert_eq!(missing.code, 2, "{}", missing.both());
    assert!(
        missing.stderr.contains("has no artifact \"big\"; it has: "),
        "{}",
        missing.both()
    );

    // Nothing half-written is left.
    assert_eq!(std::fs::read_dir(store.join("tmp")).unwrap().count(), 0);
}

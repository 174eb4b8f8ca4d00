//! `artifacts:` on actions and in components: decoding, merging, and the diagnostics for paths
//! that leave `/workspace` and for bad names, at their line.

use co_spec::ArtifactWhen;

use crate::{parse, parse_ok, render};

#[test]
fn artifacts_of_an_action_in_both_forms() {
    let w = parse_ok(
        r#"name: a
stages:
  - name: s
    actions:
      - name: build
        image: busybox
        artifacts:
          package: dist/app.tar.gz
          reports: { path: "/workspace/reports/**/*.xml", when: always }
          core: { path: ., when: failure }
"#,
    );
    let a = &w.stages[0].actions[0];
    let arts = a.artifacts();
    let names: Vec<&str> = arts.iter().map(|x| x.name.as_str()).collect();
    assert_eq!(names, ["package", "reports", "core"]);
    assert_eq!(arts[0].path.absolute(), "/workspace/dist/app.tar.gz");
    assert_eq!(arts[0].when, ArtifactWhen::Success);
    assert!(arts[1].path.is_glob());
    assert_eq!(arts[1].when, ArtifactWhen::Always);
    assert_eq!(arts[2].path.fetch_root(), "/workspace");
    assert_eq!(arts[2].when, ArtifactWhen::Failure);
}

#[test]
fn a_component_declares_artifacts_and_an_action_overrides_one() {
    let w = parse_ok(
        r#"name: a
stages:
  - name: s
    actions:
      - name: pack
        component: ./good/artifacts/tarball
        artifacts:
          log: { path: logs/build.log, when: failure }
          extra: notes.txt
"#,
    );
    let arts = w.stages[0].actions[0].artifacts();
    let view: Vec<(String, String, &str)> = arts
        .iter()
        .map(|x| (x.name.clone(), x.path.relative(), x.when.as_str()))
        .collect();
    assert_eq!(
        view,
        [
            ("package".to_string(), "app.tar.gz".to_string(), "success"),
            ("log".into(), "logs/build.log".into(), "failure"),
            ("extra".into(), "notes.txt".into(), "success"),
        ]
    );
}

#[test]
fn escaping_paths_and_bad_names_are_refused_at_their_line() {
    let err = parse(
        r#"name: a
stages:
  - name: s
    actions:
      - name: build
        image: busybox
        artifacts:
          up: ../secrets
          abs: /etc/passwd
          mid: { path: "dist/../../x" }
          9lives: a.txt
          when-bad: { path: a, when: sometimes }
          nopath: { when: always }
          empty:
"#,
    )
    .unwrap_err();
    let out = render(&err);
    for expected in [
        "test.yaml:8:15: error: artifact path `../secrets` uses `..`; artifacts are taken from \
         under /workspace only",
        "test.yaml:9:16: error: artifact path `/etc/passwd` is outside /workspace",
        "test.yaml:10:24: error: artifact path `dist/../../x` uses `..`",
        "test.yaml:11:11: error: invalid artifact name `9lives`: use letters, digits, `_` and `-`",
        "test.yaml:12:38: error: `when` must be `success` (the default), `failure` or `always`",
        "test.yaml:13:19: error: missing required field `path` in artifact `nopath`",
        "test.yaml:14:11: error: artifact `empty` needs a path under /workspace",
    ] {
        assert!(out.contains(expected), "expected `{expected}` in:\n{out}");
    }
    assert_eq!(err.0.len(), 7, "{out}");
}

#[test]
fn artifacts_must_be_a_mapping_and_names_have_a_length_limit() {
    let long = "a".repeat(129);
    let err = parse(&format!(
        "name: a\nstages:\n  - name: s\n    actions:\n      - name: b\n        image: x\n        \
         artifacts: [a.txt]\n      - name: c\n        image: x\n        artifacts: {{ {long}: a }}\n"
    ))
    .unwrap_err();
    let out = render(&err);
    assert!(
        out.contains("test.yaml:7:20: error: `artifacts` must be a mapping of names to paths"),
        "{out}"
    );
    assert!(
        out.contains("artifact name `aaaa") && out.contains("129 characters long"),
        "{out}"
    );
}

#[test]
fn artifact_references_are_checked_against_the_declared_artifacts() {
    let ok = parse_ok(
        r#"name: a
stages:
  - name: s
    actions:
      - name: pack
        component: ./good/artifacts/tarball
  - name: t
    actions:
      - name: use
        image: busybox
        with:
          sha: "${{ actions.pack.artifacts.package.sha256 }}"
          size: "${{ actions.pack.artifacts.log.size }}"
          name: "${{ actions.pack.artifacts.package.name }}"
          all: "${{ toJSON(actions.pack.artifacts.package) }}"
"#,
    );
    assert_eq!(ok.stages.len(), 2);
    let err = parse(
        r#"name: a
stages:
  - name: s
    actions:
      - name: pack
        component: ./good/artifacts/tarball
      - name: plain
        image: busybox
      - name: many
        image: busybox
        matrix: { n: [1, 2] }
        artifacts: { out: o.txt }
  - name: t
    actions:
      - name: use
        image: busybox
        with:
          a: "${{ actions.pack.artifacts.pakage.sha256 }}"
          b: "${{ actions.pack.artifacts.package.md5 }}"
          c: "${{ actions.pack.artifacts }}"
          d: "${{ actions.plain.artifacts.x.size }}"
          e: "${{ actions.many.artifacts.out.sha256 }}"
          f: "${{ actions.later.artifacts.x.sha256 }}"
  - name: u
    actions:
      - name: later
        image: busybox
        artifacts: { x: x }
"#,
    )
    .unwrap_err();
    let out = render(&err);
    for expected in [
        "`actions.pack.artifacts.pakage.sha256`: action `pack` declares no artifact `pakage`; did \
         you mean `package`?",
        "`actions.pack.artifacts.package.md5`: an artifact has the fields `sha256`, `size` and \
         `name`",
        "`actions.pack.artifacts` must name an artifact, like `actions.pack.artifacts.NAME.sha256`",
        "`actions.plain.artifacts.x.size`: action `plain` declares no artifact `x` (it declares \
         none)",
        "`actions.many.artifacts.out.sha256`: `many` runs once per matrix combination, so it has \
         no single artifact",
        "`actions.later.artifacts.x.sha256`: action `use` cannot use `later`, which runs in a \
         later stage",
    ] {
        assert!(out.contains(expected), "expected `{expected}` in:\n{out}");
    }
}

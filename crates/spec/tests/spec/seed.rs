//! Seed-format flows (SPEC §4) convert into the workflow model.

use std::time::Duration;

use co_expr::{Expr, ExprKind};
use co_spec::{Action, Format, Workflow};

use crate::{load_ok, parse, parse_ok, render};

fn all_actions(w: &Workflow) -> Vec<&Action> {
    w.stages
        .iter()
        .flat_map(|s| s.actions.iter())
        .chain(w.finally.iter())
        .collect()
}

/// `(name, needs)` of every action, in order.
fn needs_table(w: &Workflow) -> Vec<(String, Vec<String>)> {
    all_actions(w)
        .into_iter()
        .map(|a| (a.name.clone(), a.needs.clone().unwrap_or_default()))
        .collect()
}

fn owned(pairs: &[(&str, &[&str])]) -> Vec<(String, Vec<String>)> {
    pairs
        .iter()
        .map(|(n, d)| (n.to_string(), d.iter().map(|s| s.to_string()).collect()))
        .collect()
}

/// The path of `actions.NAME.outputs.KEY` built as an AST.
fn member_path(e: &Expr) -> Vec<String> {
    match &e.kind {
        ExprKind::Ident(n) => vec![n.clone()],
        ExprKind::Member(inner, n) => {
            let mut p = member_path(inner);
            p.push(n.clone());
            p
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn spec_flow_converts_to_actions_needs_env_and_outputs() {
    let w = load_ok("good/seed/flow.yaml");
    assert_eq!(
        w.format,
        Format::Seed {
            uri: "demo/ci/build-flow".into()
        }
    );
    assert_eq!(w.name, "build-flow");
    assert_eq!(
        w.stages.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
        ["build", "publish"],
        "start/end stages are skipped"
    );
    assert!(w.finally.is_empty());
    assert_eq!(
        needs_table(&w),
        owned(&[
            ("build.compile.compile", &[]),
            ("publish.upload.upload", &["build.compile.compile"]),
        ])
    );

    let compile = &w.stages[0].actions[0];
    assert_eq!(compile.label, "compile");
    assert!(compile.legacy);
    assert_eq!(compile.image(), "localhost/co-examples/builder:1");
    assert_eq!(compile.resources.cpu_millis, Some(1000));
    assert_eq!(compile.resources.memory_bytes, Some(256_000_000));
    assert_eq!(compile.timeout, Some(Duration::from_secs(60)));
    assert_eq!(compile.legacy_outputs, vec!["CO_ARTIFACT".to_string()]);
    let env: Vec<(&str, Option<String>)> = compile
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_literal()))
        .collect();
    assert_eq!(
        env,
        vec![
            (
                "CO_DATA",
                Some("git-url=https://example.org/r.git entry-path=.".to_string())
            ),
            ("JAVA_OPTS", Some("-Xmx1g".to_string())),
        ]
    );
    assert!(compile.with.is_empty());
    assert_eq!(compile.command, None);
    assert_eq!(
        compile.declared_outputs().keys().collect::<Vec<_>>(),
        ["CO_ARTIFACT"]
    );

    let upload = &w.stages[1].actions[0];
    assert_eq!(upload.label, "upload");
    let sub = upload.env["ARTIFACT_PATH"]
        .single_expr()
        .expect("subscription is one expression");
    assert_eq!(
        member_path(sub),
        ["actions", "build.compile.compile", "outputs", "CO_ARTIFACT"]
    );
    assert!(upload.legacy_outputs.is_empty());
}

#[test]
fn sequencing_and_job_order_become_explicit_needs() {
    let w = parse_ok(
        r#"
uri: ns/repo/order
stages:
  - { type: start, name: start }
  - name: a
    sequencing: parallel
    actions:
      - name: x
        jobs:
          - { name: x1, endpoint: img }
          - { name: x2, endpoint: img }
      - name: y
        jobs:
          - { name: y1, endpoint: img }
  - name: b
    sequencing: sequence
    actions:
      - name: p
        jobs:
          - { name: p1, endpoint: img }
      - name: q
        jobs:
          - { name: q1, endpoint: img }
          - { name: q2, endpoint: img }
  - name: c
    actions:
      - name: r
        jobs:
          - { name: r1, endpoint: img }
      - name: s
        jobs:
          - { name: s1, endpoint: img }
  - { type: end, name: end }
"#,
    );
    assert_eq!(
        needs_table(&w),
        owned(&[
            ("a.x.x1", &[]),
            ("a.x.x2", &["a.x.x1"]),
            ("a.y.y1", &[]),
            ("b.p.p1", &["a.x.x2", "a.y.y1"]),
            ("b.q.q1", &["b.p.p1"]),
            ("b.q.q2", &["b.q.q1"]),
            ("c.r.r1", &["b.q.q2"]),
            ("c.s.s1", &["b.q.q2"]),
        ])
    );
    assert!(all_actions(&w).iter().all(|a| a.legacy));
}

#[test]
fn old_files_with_extra_fields_load_unchanged() {
    let w = load_ok("good/legacy.yaml");
    assert_eq!(w.name, "old-flow");
    assert_eq!(
        needs_table(&w),
        owned(&[
            ("build.compile.compile", &[]),
            ("build.package.tar", &["build.compile.compile"]),
            ("build.package.sign", &["build.package.tar"]),
            ("ship.push.push", &["build.package.sign"]),
            ("ship.announce.announce", &["build.package.sign"]),
        ])
    );
    let compile = &w.stages[0].actions[0];
    assert_eq!(
        compile.label, "compile",
        "an unnamed job is named after its action"
    );
    assert_eq!(compile.resources.cpu_millis, None, "cpu: 0 means no limit");
    assert_eq!(compile.resources.memory_bytes, None);
    assert_eq!(compile.timeout, None, "timeout: 0 means none");
    assert_eq!(
        compile.legacy_outputs,
        ["CO_BIN_URI"],
        "`output:` is accepted"
    );
    let tar = &w.stages[0].actions[1];
    let sub = tar.env["BIN"].single_expr().unwrap();
    assert_eq!(
        member_path(sub),
        ["actions", "build.compile.compile", "outputs", "CO_BIN_URI"],
        "a short subscription source (`compile`) resolves to the full job name"
    );
    let push = &w.stages[1].actions[0];
    assert_eq!(push.env["PORT"].as_literal().as_deref(), Some("8080"));
}

#[test]
fn environments_are_verbatim_not_expressions() {
    let w = parse_ok(
        "uri: a/b/c\nstages:\n  - name: s\n    actions:\n      - name: a\n        jobs:\n          - name: j\n            endpoint: img\n            environments:\n              - CO_DATA: \"x=${{ inputs.nope }} y\"\n",
    );
    let a = &w.stages[0].actions[0];
    assert_eq!(
        a.env["CO_DATA"].as_literal().as_deref(),
        Some("x=${{ inputs.nope }} y")
    );
}

#[test]
fn subscriptions_must_read_earlier_jobs_with_declared_outputs() {
    let err = parse(
        r#"uri: a/b/c
stages:
  - name: s
    sequencing: parallel
    actions:
      - name: a
        jobs:
          - name: j
            endpoint: img
            outputs: [OUT]
            subscriptions:
              - s.b.k[X]: FROM_SIBLING
      - name: b
        jobs:
          - name: k
            endpoint: img
            subscriptions:
              - s.a.j[OTHER]: V
"#,
    )
    .unwrap_err();
    assert_eq!(
        render(&err),
        "test.yaml:12:17: error: `actions.s.b.k.outputs.X`: job `s.b.k` does not run before `s.a.j`, so its outputs are not available\n\
         test.yaml:18:17: error: `actions.s.a.j.outputs.OTHER`: job `s.a.j` does not run before `s.b.k`, so its outputs are not available"
    );
}

#[test]
fn ambiguous_short_subscription_is_an_error() {
    let err = parse(
        r#"uri: a/b/c
stages:
  - name: s1
    actions:
      - name: a
        jobs: [{ name: build, endpoint: img }]
  - name: s2
    actions:
      - name: b
        jobs: [{ name: build, endpoint: img }]
  - name: s3
    actions:
      - name: c
        jobs:
          - name: use
            endpoint: img
            subscriptions:
              - build[OUT]: V
"#,
    )
    .unwrap_err();
    assert_eq!(
        render(&err),
        "test.yaml:18:17: error: subscription source `build` is ambiguous; write the full `stage.action.job` name: s1.a.build, s2.b.build"
    );
}

#[test]
fn flow_name_is_made_to_match_the_name_pattern() {
    let w = parse_ok(
        "uri: Team/Repo/My_Flow.v2\nstages:\n  - name: s\n    actions:\n      - name: a\n        jobs: [{ endpoint: img }]\n",
    );
    assert_eq!(w.name, "my-flow-v2");
    assert_eq!(w.stages[0].actions[0].name, "s.a.a");
}

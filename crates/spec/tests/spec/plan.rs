//! Plans: actions in order, matrix expansion, node keys and dependencies.

use std::sync::Arc;

use co_spec::{plan, Plan};
use serde_json::json;

use crate::{load_ok, parse_ok};

/// `(key, [dep keys])` of every node.
fn edges(p: &Plan) -> Vec<(String, Vec<String>)> {
    p.nodes
        .iter()
        .map(|n| {
            (
                n.key.clone(),
                n.deps.iter().map(|&d| p.nodes[d].key.clone()).collect(),
            )
        })
        .collect()
}

fn owned(pairs: &[(&str, &[&str])]) -> Vec<(String, Vec<String>)> {
    pairs
        .iter()
        .map(|(n, d)| (n.to_string(), d.iter().map(|s| s.to_string()).collect()))
        .collect()
}

fn plan_of(text: &str) -> Plan {
    plan(Arc::new(parse_ok(text)))
}

#[test]
fn default_dependencies_are_the_previous_stage() {
    let p = plan_of(
        r#"
name: p
stages:
  - name: one
    actions: [{ name: a, image: i }, { name: b, image: i }]
  - name: two
    actions: [{ name: c, image: i }, { name: d, image: i }]
  - name: three
    actions: [{ name: e, image: i }]
"#,
    );
    assert_eq!(
        edges(&p),
        owned(&[
            ("a", &[]),
            ("b", &[]),
            ("c", &["a", "b"]),
            ("d", &["a", "b"]),
            ("e", &["c", "d"]),
        ])
    );
    let stages: Vec<_> = p.actions.iter().map(|a| a.stage.as_str()).collect();
    assert_eq!(stages, ["one", "one", "two", "two", "three"]);
    assert!(p.actions.iter().all(|a| !a.finally));
    assert_eq!(p.action_by_name("c").map(|(id, _)| id), Some(2));
    assert_eq!(p.action_of(4).map(|a| a.action.name.as_str()), Some("e"));
}

#[test]
fn needs_replace_the_default_and_form_a_dag() {
    let p = plan_of(
        r#"
name: p
stages:
  - name: one
    actions:
      - { name: a, image: i }
      - { name: b, image: i, needs: [a] }
      - { name: c, image: i, needs: [a, b] }
  - name: two
    actions:
      - { name: d, image: i, needs: [a] }
      - { name: e, image: i, needs: [] }
      - { name: f, image: i }
"#,
    );
    assert_eq!(
        edges(&p),
        owned(&[
            ("a", &[]),
            ("b", &["a"]),
            ("c", &["a", "b"]),
            ("d", &["a"]),
            ("e", &[]),
            ("f", &["a", "b", "c"]),
        ])
    );
}

#[test]
fn finally_waits_for_every_stage_node() {
    let p = plan_of(
        r#"
name: p
stages:
  - name: one
    actions: [{ name: a, image: i }]
  - name: two
    actions: [{ name: b, image: i, matrix: { n: [1, 2] } }]
finally:
  - { name: report, image: i }
  - { name: cleanup, image: i }
"#,
    );
    assert_eq!(
        edges(&p),
        owned(&[
            ("a", &[]),
            ("b[n=1]", &["a"]),
            ("b[n=2]", &["a"]),
            ("report", &["a", "b[n=1]", "b[n=2]"]),
            ("cleanup", &["a", "b[n=1]", "b[n=2]"]),
        ])
    );
    let fin: Vec<_> = p
        .actions
        .iter()
        .map(|a| (a.stage.as_str(), a.finally))
        .collect();
    assert_eq!(
        fin,
        [
            ("one", false),
            ("two", false),
            ("finally", true),
            ("finally", true)
        ]
    );
}

#[test]
fn matrix_expands_in_combination_order_with_keys_and_values() {
    let p = plan_of(
        r#"
name: p
stages:
  - name: one
    actions:
      - name: build
        image: i
        matrix: { os: [linux, mac], n: [1, 2], debug: [true] }
        max-parallel: 2
  - name: two
    actions:
      - { name: ship, image: i }
"#,
    );
    let keys: Vec<_> = p.nodes.iter().map(|n| n.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "build[os=linux,n=1,debug=true]",
            "build[os=linux,n=2,debug=true]",
            "build[os=mac,n=1,debug=true]",
            "build[os=mac,n=2,debug=true]",
            "ship",
        ]
    );
    assert_eq!(p.actions[0].nodes, [0, 1, 2, 3]);
    assert_eq!(p.actions[1].nodes, [4]);
    let third = &p.nodes[2];
    assert_eq!(third.action, 0);
    assert_eq!(
        serde_json::to_value(&third.matrix).unwrap(),
        json!({"os": "mac", "n": 1, "debug": true})
    );
    assert!(p.nodes[4].matrix.is_empty());
    assert_eq!(p.nodes[4].deps, [0, 1, 2, 3]);
    assert_eq!(
        p.actions[0].action.matrix.as_ref().unwrap().max_parallel,
        Some(2)
    );
}

#[test]
fn needs_on_a_matrix_action_waits_for_all_its_copies() {
    let p = plan_of(
        r#"
name: p
stages:
  - name: one
    actions:
      - { name: m, image: i, matrix: { x: [a, b] } }
      - { name: after, image: i, needs: [m] }
"#,
    );
    assert_eq!(
        edges(&p),
        owned(&[
            ("m[x=a]", &[]),
            ("m[x=b]", &[]),
            ("after", &["m[x=a]", "m[x=b]"]),
        ])
    );
}

#[test]
fn spec_files_plan() {
    let p = plan(Arc::new(load_ok("good/hello/workflow.yaml")));
    assert_eq!(
        edges(&p),
        owned(&[
            ("say", &[]),
            ("upper", &["say"]),
            ("report", &["say", "upper"])
        ])
    );
    let seed = plan(Arc::new(load_ok("good/seed/flow.yaml")));
    assert_eq!(
        edges(&seed),
        owned(&[
            ("build.compile.compile", &[]),
            ("publish.upload.upload", &["build.compile.compile"]),
        ])
    );
    assert_eq!(seed.actions[1].stage, "publish");
    let pipeline = plan(Arc::new(load_ok("good/pipeline.yaml")));
    assert_eq!(pipeline.nodes.len(), 2 + 4 + 1 + 2 + 1);
    let deps = |key: &str| {
        edges(&pipeline)
            .into_iter()
            .find(|(k, _)| k == key)
            .map(|(_, d)| d)
            .unwrap()
    };
    assert_eq!(deps("lint"), Vec::<String>::new());
    assert_eq!(deps("docs"), ["checkout"]);
    assert_eq!(deps("publish"), ["docs", "unit"]);
    assert_eq!(deps("unit").len(), 5);
}

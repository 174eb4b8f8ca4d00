//! Good files (SPEC §2–4 and richer ones) load without diagnostics, into the right model.

use std::path::Path;
use std::time::Duration;

use co_protocol::ValueType;
use co_spec::{Catalog, Format, Loader, NoCatalog, Retry, Runs};
use serde_json::json;

use crate::{load_ok, parse, parse_ok, render};

#[test]
fn spec_component_loads_with_every_field() {
    let loader = Loader::new(&NoCatalog);
    let c = loader
        .load_component(Path::new("tests/fixtures/good/hello/components/upper"))
        .unwrap_or_else(|d| panic!("{}", render(&d)));
    assert_eq!(c.name, "upper");
    assert_eq!(c.version, "1.0.0");
    assert_eq!(c.description.as_deref(), Some("Upper-cases a text"));
    assert_eq!(c.image, "localhost/co-examples/upper:1.0.0");
    assert_eq!(c.command, Some(vec!["/bin/upper".to_string()]));
    let build = c.build.as_ref().unwrap();
    assert!(build.context.is_absolute());
    assert!(build
        .context
        .ends_with("tests/fixtures/good/hello/components/upper"));
    assert_eq!(build.containerfile, Path::new("Containerfile"));
    assert_eq!(
        c.inputs.keys().collect::<Vec<_>>(),
        vec!["text", "times", "token"]
    );
    let text = &c.inputs["text"];
    assert_eq!(text.ty, ValueType::String);
    assert!(text.required);
    assert_eq!(text.description.as_deref(), Some("text to convert"));
    assert_eq!(c.inputs["times"].ty, ValueType::Int);
    assert_eq!(c.inputs["times"].default, Some(json!(1)));
    assert_eq!(c.inputs["token"].ty, ValueType::Secret);
    assert!(!c.inputs["token"].required);
    assert_eq!(c.outputs["result"].ty, ValueType::String);
    assert!(c.outputs["result"].required);
    assert_eq!(c.resources.cpu_millis, Some(500));
    assert_eq!(c.resources.memory_bytes, Some(64 << 20));
    assert_eq!(c.timeout, Some(Duration::from_secs(60)));
    assert_eq!(
        c.kubernetes,
        Some(json!({"nodeSelector": {"disk": "ssd"}, "serviceAccountName": "builder"}))
    );
    assert_eq!(
        c.swarm,
        Some(json!({
            "constraints": ["node.labels.disk == ssd"],
            "preferences": ["node.labels.zone"],
            "reservations": {"cpu_millis": 250, "memory_bytes": 32 << 20},
        }))
    );
    assert!(c.path.ends_with("upper/component.yaml"));
}

#[test]
fn spec_workflow_loads() {
    let w = load_ok("good/hello/workflow.yaml");
    assert_eq!(w.name, "hello");
    assert_eq!(w.format, Format::Native);
    assert_eq!(w.description.as_deref(), Some("optional"));
    assert_eq!(w.path, "tests/fixtures/good/hello/workflow.yaml");
    assert!(w.source.starts_with("name: hello"));
    assert_eq!(w.inputs["who"].default, Some(json!("world")));
    assert_eq!(w.env["LOG_LEVEL"].as_literal().as_deref(), Some("info"));
    let names: Vec<_> = w.stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["greet", "shout"]);

    let say = &w.stages[0].actions[0];
    assert_eq!(say.name, "say");
    assert_eq!(say.label, "say");
    assert!(!say.legacy);
    assert_eq!(say.image(), "localhost/co-examples/busybox:latest");
    assert_eq!(say.command.as_ref().map(Vec::len), Some(3));
    assert!(say.with["who"].single_expr().is_some());
    assert_eq!(say.needs, None);
    assert_eq!((say.span.line, say.span.col), (9, 9));

    let upper = &w.stages[1].actions[0];
    let Runs::Component(c) = &upper.runs else {
        panic!("upper should run a component")
    };
    assert_eq!(c.name, "upper");
    assert_eq!(upper.image(), "localhost/co-examples/upper:1.0.0");
    assert_eq!(upper.command, None);
    assert_eq!(upper.timeout, Some(Duration::from_secs(30)));
    assert_eq!(upper.effective_timeout(), Some(Duration::from_secs(30)));
    assert_eq!(
        upper.retry,
        Retry {
            attempts: 3,
            backoff: Duration::from_secs(1)
        }
    );
    assert_eq!(upper.resources.memory_bytes, Some(128 << 20));
    let eff = upper.effective_resources();
    assert_eq!(
        (eff.cpu_millis, eff.memory_bytes),
        (Some(500), Some(128 << 20))
    );
    assert_eq!(upper.env["EXTRA"].as_literal().as_deref(), Some("1"));

    assert_eq!(w.finally.len(), 1);
    assert_eq!(w.finally[0].name, "report");
}

#[test]
fn spec_seed_flow_loads() {
    let w = load_ok("good/seed/flow.yaml");
    assert_eq!(
        w.format,
        Format::Seed {
            uri: "demo/ci/build-flow".to_string()
        }
    );
    assert_eq!(w.name, "build-flow");
    assert_eq!(w.description.as_deref(), Some("Build flow"));
}

#[test]
fn richer_workflow_loads() {
    let w = load_ok("good/pipeline.yaml");
    assert_eq!(w.inputs["shards"].default, Some(json!(2)));
    assert_eq!(w.inputs["verbose"].default, Some(json!(false)));
    assert_eq!(w.inputs["config"].default, Some(json!({"level": 3})));
    let build = &w.stages[1].actions[0];
    let m = build.matrix.as_ref().unwrap();
    assert_eq!(m.axes["os"], vec![json!("linux"), json!("mac")]);
    assert_eq!(m.max_parallel, Some(2));
    assert_eq!(build.resources.cpu_millis, Some(500));
    assert_eq!(build.resources.memory_bytes, Some(1 << 30));
    let lint = &w.stages[0].actions[1];
    assert_eq!(lint.needs, Some(vec![]));
    let publish = &w.stages[2].actions[1];
    assert_eq!(
        publish.needs,
        Some(vec!["unit".to_string(), "docs".to_string()])
    );
    assert!(publish.condition.is_some());
    assert_eq!(publish.timeout, Some(Duration::from_secs(5400)));
    assert_eq!(publish.retry.attempts, 2);
    assert_eq!(w.finally[0].name, "notify");
    assert!(w.finally[0].condition.is_some());
}

#[test]
fn flow_style_anchors_and_merge_keys_work() {
    let w = parse_ok(
        r#"
name: anchors
x-defaults: &defaults
  image: localhost/busybox:1
  timeout: 10s
stages:
  - { name: one, actions: [ { name: a, <<: *defaults }, { name: b, <<: *defaults, timeout: 20s } ] }
"#,
    );
    let a = &w.stages[0].actions;
    assert_eq!(a[0].image(), "localhost/busybox:1");
    assert_eq!(a[0].timeout, Some(Duration::from_secs(10)));
    assert_eq!(a[1].timeout, Some(Duration::from_secs(20)));
}

#[test]
fn unknown_top_level_fields_are_errors_but_x_fields_are_free() {
    let err = parse(
        "name: a\nx-notes: 1\ncolour: 1\nstages: [{name: s, actions: [{name: a, image: i}]}]\n",
    )
    .unwrap_err();
    assert_eq!(
        render(&err),
        "test.yaml:3:1: error: unknown field `colour` in the workflow (known fields: name, description, inputs, env, stages, finally, triggers, concurrency, notify)"
    );
}

struct OneComponent;

impl Catalog for OneComponent {
    fn find(&self, name: &str, version: &str) -> Option<(String, std::path::PathBuf)> {
        (name == "upper" && version == "1.0.0").then(|| {
            let path = std::path::PathBuf::from(
                "tests/fixtures/good/hello/components/upper/component.yaml",
            );
            (std::fs::read_to_string(&path).unwrap(), path)
        })
    }
}

#[test]
fn catalog_references_resolve() {
    let loader = Loader::new(&OneComponent);
    let w = loader
        .parse_workflow(
            "name: cat\nstages:\n  - name: s\n    actions:\n      - name: u\n        component: upper@1.0.0\n        with: { text: hi }\n",
            "cat.yaml",
            Path::new("."),
        )
        .unwrap_or_else(|d| panic!("{}", render(&d)));
    assert_eq!(w.stages[0].actions[0].component().unwrap().name, "upper");

    let err = loader
        .parse_workflow(
            "name: cat\nstages:\n  - name: s\n    actions:\n      - name: u\n        component: upper@2.0.0\n",
            "cat.yaml",
            Path::new("."),
        )
        .unwrap_err();
    assert_eq!(
        render(&err),
        "cat.yaml:6:20: error: component `upper@2.0.0` was not found in the catalog; use a path (like `./components/upper`) or add `upper@2.0.0` to the catalog"
    );
}

#[test]
fn component_file_path_and_parse_component() {
    let loader = Loader::new(&NoCatalog);
    let text = "name: tiny\nversion: 0.1.0\nimage: busybox\n";
    let c = loader
        .parse_component(text, "x/component.yaml", Path::new("/tmp/x"))
        .unwrap();
    assert_eq!(c.path, Path::new("x/component.yaml"));
    assert_eq!(c.build, None);
    assert!(c.inputs.is_empty());
    // A component given as a file path works too.
    let w = parse_ok(
        "name: f\nstages:\n  - name: s\n    actions:\n      - name: u\n        component: good/hello/components/upper/component.yaml\n        with: { text: x }\n",
    );
    assert_eq!(w.stages[0].actions[0].component().unwrap().name, "upper");
}

#[test]
fn missing_file_is_reported_at_1_1() {
    let err = Loader::new(&NoCatalog)
        .load_workflow(Path::new("tests/fixtures/nope.yaml"))
        .unwrap_err();
    assert_eq!(err.0.len(), 1);
    let d = &err.0[0];
    assert_eq!(&*d.span.file, "tests/fixtures/nope.yaml");
    assert_eq!((d.span.line, d.span.col), (1, 1));
    assert!(
        d.message.contains("cannot read the workflow"),
        "{}",
        d.message
    );
}

#[test]
fn byte_order_mark_and_crlf_line_endings_are_accepted() {
    let text = "\u{feff}name: crlf\r\nstages:\r\n  - name: s\r\n    actions:\r\n      - name: a\r\n        image: i\r\n        with: { x: \"${{ inputs.nope }}\" }\r\n";
    let err = parse(text).unwrap_err();
    assert_eq!(
        render(&err),
        "test.yaml:7:25: error: `inputs.nope`: the workflow declares no inputs; declare `nope` under `inputs:`"
    );
    let err = parse(&text.replace("name: crlf", "name: CRLF")).unwrap_err();
    assert!(render(&err).starts_with("test.yaml:1:7: error: invalid workflow name `CRLF`"));
    let ok = parse_ok(&text.replace("${{ inputs.nope }}", "y"));
    assert_eq!(ok.name, "crlf");
}

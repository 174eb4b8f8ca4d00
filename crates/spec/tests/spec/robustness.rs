//! Arbitrary input never panics the loader (and whatever loads also plans).

use std::path::Path;
use std::sync::Arc;

use co_spec::{plan, Loader, NoCatalog};
use proptest::prelude::*;

fn check(text: &str) {
    let loader = Loader::new(&NoCatalog);
    if let Ok(w) = loader.parse_workflow(text, "fuzz.yaml", Path::new("tests/fixtures/good")) {
        let p = plan(Arc::new(w));
        assert!(p
            .nodes
            .iter()
            .all(|n| n.deps.iter().all(|&d| d < p.nodes.len())));
    }
    let _ = loader.parse_component(text, "component.yaml", Path::new("/tmp"));
}

/// Pieces that make up workflow-ish YAML, so generated text reaches past the YAML layer.
const TOKENS: &[&str] = &[
    "\n",
    "\n  ",
    "\n    ",
    "\n      ",
    "- ",
    ": ",
    ", ",
    "[",
    "]",
    "{",
    "}",
    "'",
    "\"",
    "&a ",
    "*a",
    "<<: ",
    "name",
    "stages",
    "actions",
    "finally",
    "image",
    "component",
    "needs",
    "with",
    "env",
    "if",
    "matrix",
    "max-parallel",
    "timeout",
    "retry",
    "attempts",
    "backoff",
    "resources",
    "cpu",
    "memory",
    "inputs",
    "type",
    "default",
    "required",
    "uri",
    "jobs",
    "endpoint",
    "subscriptions",
    "environments",
    "outputs",
    "sequencing",
    "sequence",
    "parallel",
    "a",
    "b",
    "x",
    "1",
    "0",
    "-1",
    "1.5",
    "64Mi",
    "500m",
    "10s",
    "1h30m",
    "true",
    "null",
    "~",
    "${{ ",
    " }}",
    "inputs.x",
    "actions.a.outputs.k",
    "actions.b.status",
    "matrix.os",
    "run.status",
    "secrets.S",
    "env.E",
    "success()",
    "||",
    "==",
    "a[k]: E",
    "./hello/components/upper",
    "upper@1.0.0",
    "int",
    "string",
    "json",
    "#",
    "\t",
    "|",
    ">",
    "---",
    "é",
    "\\",
    "%",
    "!!str ",
    "!x ",
    "triggers",
    "concurrency",
    "notify",
    "slack",
    "on",
    "url",
    "status",
    "token",
    "api-url",
    "cron",
    "timezone",
    "github",
    "gitlab",
    "webhook",
    "secret",
    "events",
    "branches",
    "\"0 3 * * 1-5\"",
    "\"*/5 * * * *\"",
    "Europe/Berlin",
    "push",
    "trigger.payload.a",
    "trigger.tick",
];

fn token_soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TOKENS), 0..120).prop_map(|t| t.concat())
}

/// A good file with a few random edits (deletions, insertions, swaps of characters).
fn mutated(base: &'static str) -> impl Strategy<Value = String> {
    let len = base.chars().count();
    prop::collection::vec((0..len.max(1), any::<char>(), 0u8..3), 1..8).prop_map(move |edits| {
        let mut chars: Vec<char> = base.chars().collect();
        for (at, c, op) in edits {
            let at = at.min(chars.len().saturating_sub(1));
            match op {
                0 if !chars.is_empty() => {
                    chars.remove(at);
                }
                1 => chars.insert(at, c),
                _ => {
                    if let Some(x) = chars.get_mut(at) {
                        *x = c;
                    }
                }
            }
        }
        chars.into_iter().collect()
    })
}

const HELLO: &str = include_str!("../fixtures/good/hello/workflow.yaml");
const PIPELINE: &str = include_str!("../fixtures/good/pipeline.yaml");
const SEED: &str = include_str!("../fixtures/good/seed/flow.yaml");
const LEGACY: &str = include_str!("../fixtures/good/legacy.yaml");
const TRIGGERS: &str = include_str!("../fixtures/good/triggers.yaml");
const COMPONENT: &str = include_str!("../fixtures/good/hello/components/upper/component.yaml");

proptest! {
    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        check(&text);
    }

    #[test]
    fn yaml_like_token_soup_never_panics(text in token_soup()) {
        check(&text);
    }

    #[test]
    fn mutated_good_files_never_panic(
        text in prop_oneof![mutated(HELLO), mutated(PIPELINE), mutated(SEED), mutated(LEGACY), mutated(COMPONENT), mutated(TRIGGERS)]
    ) {
        check(&text);
    }
}

#[test]
fn pathological_inputs_are_rejected_without_panicking() {
    let deep = format!(
        "name: x\nstages: {}{}",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let bomb = {
        let mut t = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            t.push_str(&format!(
                "a{i}: &a{i} [{}]\n",
                vec![format!("*a{}", i - 1); 10].join(", ")
            ));
        }
        t
    };
    let long_line = format!("name: {}\n", "x".repeat(1_000_000));
    let recursive = "a: &a [*a]\n".to_string();
    let big_matrix = "name: m\nstages:\n  - name: s\n    actions:\n      - name: a\n        image: i\n        matrix: { a: [1,2,3,4,5,6,7,8,9,10], b: [1,2,3,4,5,6,7,8,9,10], c: [1,2,3] }\n".to_string();
    let mut many_steps = String::from("name: m\nstages:\n  - name: s\n    actions:\n");
    for i in 0..201 {
        many_steps.push_str(&format!(
            "      - {{ name: a{i}, image: i, matrix: {{ x: [{}] }} }}\n",
            (0..250)
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(",")
        ));
    }
    let loader = Loader::new(&NoCatalog);
    let err = loader
        .parse_workflow(&many_steps, "p.yaml", Path::new("."))
        .unwrap_err();
    assert_eq!(
        err.0[0].to_string(),
        "p.yaml:205:17: error: the workflow has more than 50000 steps (every matrix copy counts); split it into several workflows"
    );
    for text in [deep, bomb, long_line, recursive, big_matrix] {
        let err = loader
            .parse_workflow(&text, "p.yaml", Path::new("."))
            .expect_err("should be rejected");
        assert!(!err.0.is_empty());
    }
}

#[test]
fn retry_attempts_and_matrix_sizes_have_upper_bounds() {
    let loader = Loader::new(&NoCatalog);
    let messages = |text: &str| -> Vec<String> {
        match loader.parse_workflow(text, "p.yaml", Path::new(".")) {
            Ok(_) => Vec::new(),
            Err(d) => d.0.iter().map(|d| d.to_string()).collect(),
        }
    };
    let action = |extra: &str| {
        format!("name: m\nstages:\n  - name: s\n    actions:\n      - {{ name: a, image: i, {extra} }}\n")
    };
    assert_eq!(
        messages(&action("retry: { attempts: 10 }")),
        Vec::<String>::new()
    );
    assert_eq!(
        messages(&action("retry: { attempts: 11 }")),
        ["p.yaml:5:49: error: `retry.attempts` is 11; at most 10 tries are allowed (attempts counts every try, the first one included)"]
    );
    let axis = |n: usize| (0..n).map(|i| i.to_string()).collect::<Vec<_>>().join(",");
    assert_eq!(
        messages(&action(&format!(
            "matrix: {{ x: [{}], y: [1] }}",
            axis(256)
        ))),
        Vec::<String>::new()
    );
    assert_eq!(
        messages(&action(&format!(
            "matrix: {{ x: [{}], y: [1, 2] }}",
            axis(129)
        ))),
        ["p.yaml:5:38: error: `matrix` expands to 258 copies; at most 256 are allowed"]
    );
}

//! `triggers:` and `concurrency:` (the server extension, docs/triggers.md): good files parse
//! into the model, every problem is reported at its place, and `Workflow::secret_names`.

use co_spec::{Format, TriggerKind};

use crate::{load, load_ok, parse, parse_ok, render};

fn diagnostics(rel: &str) -> String {
    match load(&format!("bad/{rel}")) {
        Ok(_) => panic!("bad/{rel} should have problems"),
        Err(d) => render(&d),
    }
}

#[test]
fn good_triggers_parse_into_the_model() {
    let w = load_ok("good/triggers.yaml");
    assert_eq!(w.concurrency, Some(2));
    assert_eq!(w.triggers.len(), 5);
    let kinds: Vec<&TriggerKind> = w.triggers.iter().map(|t| &t.kind).collect();
    assert_eq!(
        kinds,
        [
            &TriggerKind::Cron {
                schedule: "0 3 * * 1-5".into(),
                timezone: Some("Europe/Berlin".into()),
            },
            &TriggerKind::GitHub {
                secret: "GITHUB_HOOK_SECRET".into(),
                events: vec!["push".into(), "pull_request".into()],
                branches: vec!["main".into(), "release/*".into()],
                status: None,
            },
            &TriggerKind::GitLab {
                secret: "GITLAB_TOKEN".into(),
                events: vec!["push".into()],
                branches: vec![],
                status: Some(co_spec::CommitStatus {
                    token: "GITLAB_STATUS_TOKEN".into(),
                    api_url: Some("https://gitlab.example.com/api/v4".into()),
                    context: None,
                }),
            },
            &TriggerKind::Webhook {
                secret: "DEPLOY_TOKEN".into(),
            },
            &TriggerKind::Cron {
                schedule: "@hourly".into(),
                timezone: None,
            },
        ]
    );
    // Positions: the kind key of each entry.
    let spans: Vec<(u32, u32)> = w
        .triggers
        .iter()
        .map(|t| (t.span.line, t.span.col))
        .collect();
    assert_eq!(spans, [(10, 5), (13, 5), (17, 5), (19, 5), (23, 5)]);
    assert_eq!(
        &*w.triggers[0].span.file,
        "tests/fixtures/good/triggers.yaml"
    );

    // Inputs keep their order and types; templates are evaluated against `trigger`.
    let cron = &w.triggers[0];
    assert_eq!(cron.inputs.keys().collect::<Vec<_>>(), ["who", "count"]);
    assert_eq!(
        cron.inputs["who"].constant(),
        Some(serde_json::json!("nightly"))
    );
    assert_eq!(cron.inputs["count"].constant(), Some(serde_json::json!(3)));
    let github = &w.triggers[1];
    let ctx = co_expr::ValueContext::new(serde_json::json!({
        "trigger": {
            "event": "push", "delivery": "d1", "branch": "main",
            "payload": {"after": "abc123", "pusher": {"name": "octocat"}}
        }
    }));
    assert_eq!(
        github.inputs["ref"].eval(&ctx).unwrap(),
        serde_json::json!("abc123")
    );
    assert_eq!(
        github.inputs["who"].eval(&ctx).unwrap(),
        serde_json::json!("octocat")
    );
    assert_eq!(
        w.triggers[2].inputs["who"].eval(&ctx).unwrap(),
        serde_json::json!("gitlab main")
    );
}

#[test]
fn triggers_and_concurrency_are_optional() {
    let w = parse_ok("name: a\nstages: [{name: s, actions: [{name: a, image: i}]}]\n");
    assert!(w.triggers.is_empty());
    assert_eq!(w.concurrency, None);
    // Empty values mean the same.
    let w = parse_ok(
        "name: a\ntriggers:\nconcurrency:\nstages: [{name: s, actions: [{name: a, image: i}]}]\n",
    );
    assert!(w.triggers.is_empty());
    assert_eq!(w.concurrency, None);
    let w = parse_ok("name: a\ntriggers: []\nconcurrency: 1\nstages: [{name: s, actions: [{name: a, image: i}]}]\n");
    assert!(w.triggers.is_empty());
    assert_eq!(w.concurrency, Some(1));
}

#[test]
fn single_strings_and_defaults() {
    let w = parse_ok(
        r#"
name: a
triggers:
  - github: { secret: S, events: "*", branches: "feature/**" }
  - gitlab:
      secret: _T2
      events: [merge_request, tag_push, pipeline]
  - cron: "  0 3 * * *  "
    timezone: UTC
    inputs:
  - webhook: { secret: W }
    inputs: {}
stages: [{name: s, actions: [{name: a, image: i}]}]
"#,
    );
    assert_eq!(
        w.triggers[0].kind,
        TriggerKind::GitHub {
            secret: "S".into(),
            events: vec!["*".into()],
            branches: vec!["feature/**".into()],
            status: None,
        }
    );
    assert_eq!(
        w.triggers[1].kind,
        TriggerKind::GitLab {
            secret: "_T2".into(),
            events: vec!["merge_request".into(), "tag_push".into(), "pipeline".into()],
            branches: vec![],
            status: None,
        }
    );
    // The schedule is trimmed.
    assert!(
        matches!(&w.triggers[2].kind, TriggerKind::Cron { schedule, timezone: Some(z) } if schedule == "0 3 * * *" && z == "UTC")
    );
    assert!(w.triggers.iter().all(|t| t.inputs.is_empty()));
}

#[test]
fn well_formed_unknown_events_are_accepted() {
    // GitHub adds events; a name that is not close to a known one is taken as it is.
    let w = parse_ok(
        "name: a\ntriggers:\n  - github: { secret: S, events: [copilot_thing] }\nstages: [{name: s, actions: [{name: a, image: i}]}]\n",
    );
    assert!(
        matches!(&w.triggers[0].kind, TriggerKind::GitHub { events, .. } if events == &["copilot_thing"])
    );
}

#[test]
fn seed_flows_have_no_triggers() {
    let w = load_ok("good/seed/flow.yaml");
    assert!(matches!(w.format, Format::Seed { .. }));
    assert!(w.triggers.is_empty());
    assert_eq!(w.concurrency, None);
    assert!(w.secret_names().is_empty());
}

#[test]
fn secret_names_lists_what_a_run_needs() {
    let w = load_ok("good/triggers.yaml");
    // Workflow env, `with`, action `env` (string index), `if:`, `command` and `finally`; not the
    // webhook secrets (GITHUB_HOOK_SECRET, GITLAB_TOKEN, DEPLOY_TOKEN).
    assert_eq!(
        w.secret_names(),
        [
            "BUILD_KEY",
            "DEPLOY_KEY",
            "REGISTRY_TOKEN",
            "REPORT_TOKEN",
            "SLACK_HOOK"
        ]
    );
    let w = parse_ok("name: a\nstages: [{name: s, actions: [{name: a, image: i}]}]\n");
    assert!(w.secret_names().is_empty());
    // Duplicates are listed once; `toJSON(secrets)` names no secret.
    let w = parse_ok(
        r#"
name: a
stages:
  - name: s
    actions:
      - { name: a, image: i, with: { x: "${{ secrets.B }}${{ secrets.A }}${{ secrets.B }}" } }
      - { name: b, image: i, with: { x: "${{ secrets.A }}" } }
"#,
    );
    assert_eq!(w.secret_names(), ["A", "B"]);
}

#[test]
fn bad_triggers() {
    let out = diagnostics("triggers.yaml");
    for line in [
        "triggers.yaml:8:11: error: invalid cron schedule `0 25 * * *`: the hour value `25` is out of range; hours are 0-23",
        "triggers.yaml:9:15: error: unknown time zone `Europe/Berlni`; did you mean `Europe/Berlin`?",
    ] {
        assert!(out.contains(line), "expected `{line}` in:\n{out}");
    }
    insta::assert_snapshot!("bad_triggers", out);
}

#[test]
fn bad_trigger_shapes() {
    insta::assert_snapshot!("bad_trigger_shapes", diagnostics("triggers-shape.yaml"));
    insta::assert_snapshot!("bad_trigger_fields", diagnostics("triggers-no-inputs.yaml"));
}

#[test]
fn required_inputs_must_be_set_by_every_trigger() {
    let err = parse(
        r#"
name: a
inputs:
  who: { required: true }
  n: { type: int, required: true }
  opt: { type: int }
  dflt: { required: true, default: x }
triggers:
  - cron: "0 3 * * *"
  - webhook: { secret: W }
    inputs: { who: me }
  - webhook: { secret: W }
    inputs: { who: me, n: 2 }
stages: [{name: s, actions: [{name: a, image: i}]}]
"#,
    )
    .unwrap_err();
    assert_eq!(
        render(&err),
        "test.yaml:9:5: error: this `cron` trigger does not set the required inputs `who`, `n` of the workflow (no default); set them under the trigger's `inputs:`\n\
         test.yaml:10:5: error: this `webhook` trigger does not set the required input `n` of the workflow (no default); set it under the trigger's `inputs:`"
    );
}

#[test]
fn trigger_input_references_point_into_the_string() {
    let err = parse(
        "name: a\ninputs: { who: {} }\ntriggers:\n  - webhook: { secret: W }\n    inputs:\n      who: \"x ${{ trigger.payload.a }} ${{ env.HOME }} ${{ trigger.tick }}\"\nstages: [{name: s, actions: [{name: a, image: i}]}]\n",
    )
    .unwrap_err();
    // Line 6: `      who: "x ${{ trigger.payload.a }} ${{ env.HOME }} ${{ trigger.tick }}"`
    //          env.HOME starts at col 44, trigger.tick at col 60.
    assert_eq!(
        render(&err),
        "test.yaml:6:44: error: `env.HOME` cannot be used in a trigger's inputs: they are evaluated when the trigger fires, before the run starts, and may only refer to `trigger.*` (like `trigger.payload.after`)\n\
         test.yaml:6:60: error: `trigger.tick`: a `webhook` trigger provides `trigger.event`, `trigger.delivery`, `trigger.branch`, `trigger.payload`"
    );
}

#[test]
fn invalid_template_syntax_in_trigger_inputs() {
    let err = parse(
        "name: a\ninputs: { who: {} }\ntriggers:\n  - cron: \"0 3 * * *\"\n    inputs: { who: \"${{ trigger.tick \" }\nstages: [{name: s, actions: [{name: a, image: i}]}]\n",
    )
    .unwrap_err();
    let out = render(&err);
    assert!(out.starts_with("test.yaml:5:"), "{out}");
    assert!(out.contains("invalid expression"), "{out}");
}

#[test]
fn unquoted_star_schedules_are_yaml_errors() {
    // `*` starts a YAML alias: a schedule starting with `*` must be quoted.
    let err = parse("name: a\ntriggers:\n  - cron: */5 * * * *\nstages: [{name: s, actions: [{name: a, image: i}]}]\n")
        .unwrap_err();
    assert_eq!(
        render(&err),
        "test.yaml:3:11: error: invalid YAML: while parsing node, found unknown anchor (quote cron schedules: `*` and `@` have a meaning of their own in YAML, so write `cron: \"*/5 * * * *\"`)"
    );
    let err = parse("name: a\ntriggers:\n  - cron: @daily\nstages: [{name: s, actions: [{name: a, image: i}]}]\n")
        .unwrap_err();
    assert_eq!(
        render(&err),
        "test.yaml:3:11: error: invalid YAML: unexpected character: `@' (quote cron schedules: `*` and `@` have a meaning of their own in YAML, so write `cron: \"*/5 * * * *\"`)"
    );
    // A schedule that starts with a digit needs no quotes.
    let w = parse_ok("name: a\ntriggers:\n  - cron: 0 3 * * *\nstages: [{name: s, actions: [{name: a, image: i}]}]\n");
    assert!(
        matches!(&w.triggers[0].kind, TriggerKind::Cron { schedule, .. } if schedule == "0 3 * * *")
    );
}

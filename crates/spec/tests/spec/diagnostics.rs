//! Snapshots of the diagnostics for bad files: the full `FILE:LINE:COL: error: MESSAGE` output.
//! Each test also checks one line it must contain, so a wrong snapshot cannot be accepted
//! silently.

use co_spec::ValidateOptions;

use crate::{load, load_with, parse, render};

fn diagnostics(rel: &str) -> String {
    match load(&format!("bad/{rel}")) {
        Ok(_) => panic!("bad/{rel} should have problems"),
        Err(d) => render(&d),
    }
}

macro_rules! bad_file {
    ($test:ident, $file:literal, $must_contain:literal) => {
        #[test]
        fn $test() {
            let out = diagnostics($file);
            assert!(
                out.contains($must_contain),
                "expected `{}` in:\n{out}",
                $must_contain
            );
            insta::assert_snapshot!(stringify!($test), out);
        }
    };
}

bad_file!(
    yaml_syntax_error,
    "yaml-syntax.yaml",
    "tests/fixtures/bad/yaml-syntax.yaml:8:"
);
bad_file!(
    unknown_field_with_suggestion,
    "unknown-field.yaml",
    "unknown-field.yaml:7:9: error: unknown field `timout` in action `a`; did you mean `timeout`?"
);
bad_file!(
    duplicate_key,
    "duplicate-key.yaml",
    "duplicate-key.yaml:10:11: error: duplicate key `x` (first defined at line 8)"
);
bad_file!(
    duplicate_action,
    "duplicate-action.yaml",
    "duplicate-action.yaml:11:15: error: duplicate action name `build`"
);
bad_file!(
    duplicate_stage,
    "duplicate-stage.yaml",
    "duplicate-stage.yaml:6:11: error: duplicate stage name `one`"
);
bad_file!(
    needs_cycle,
    "needs-cycle.yaml",
    "needs-cycle.yaml:7:17: error: cycle in needs: a → c → b → a"
);
bad_file!(
    unknown_needs,
    "unknown-needs.yaml",
    "unknown-needs.yaml:11:17: error: `needs` names an unknown action `build-linx`; did you mean `build-linux`?"
);
bad_file!(
    unknown_action_reference,
    "unknown-action-ref.yaml",
    "unknown-action-ref.yaml:12:25: error: `actions.biuld.outputs.path`: there is no action `biuld`; did you mean `build`?"
);
bad_file!(
    unknown_output,
    "unknown-output.yaml",
    "unknown-output.yaml:13:18: error: `actions.up.outputs.reslt`: component `upper` (used by `up`) declares no output `reslt`; did you mean `result`?"
);
bad_file!(
    unknown_input,
    "unknown-input.yaml",
    "unknown-input.yaml:12:20: error: `inputs.woh`: the workflow has no input `woh`; did you mean `who`?"
);
bad_file!(
    unknown_env,
    "unknown-env.yaml",
    "unknown-env.yaml:10:22: error: `env.LOG_LEVL`"
);
bad_file!(
    unknown_matrix_axis,
    "unknown-matrix.yaml",
    "unknown-matrix.yaml:10:20: error: `matrix.cpu`: the matrix of `build` has no axis `cpu`"
);
bad_file!(
    reference_to_action_not_waited_for,
    "not-waited.yaml",
    "not-waited.yaml:10:18: error: `actions.a.outputs.x`: action `b` does not wait for `a`; add `a` to the `needs` of `b`"
);
bad_file!(
    missing_required_component_input,
    "missing-required-input.yaml",
    "missing-required-input.yaml:9:11: error: component `upper` has no input `txt`; did you mean `text`?"
);
bad_file!(
    wrong_literal_type,
    "wrong-literal-type.yaml",
    "wrong-literal-type.yaml:12:18: error: wrong type for input `times` of component `upper`"
);
bad_file!(
    bad_duration,
    "bad-duration.yaml",
    "bad-duration.yaml:7:18: error: invalid duration for `timeout`"
);
bad_file!(
    bad_memory,
    "bad-memory.yaml",
    "bad-memory.yaml:7:30: error: invalid `memory`: unknown memory unit `MB` in `64MB`; did you mean `M` (10^6) or `Mi` (2^20)?"
);
bad_file!(
    bad_cpu,
    "bad-cpu.yaml",
    "bad-cpu.yaml:7:27: error: invalid `cpu`"
);
bad_file!(
    max_parallel_without_matrix,
    "max-parallel-without-matrix.yaml",
    "max-parallel-without-matrix.yaml:7:9: error: `max-parallel` only applies to actions with a `matrix`"
);
bad_file!(
    both_image_and_component,
    "image-and-component.yaml",
    "image-and-component.yaml:7:9: error: action `a` has both `image` and `component`"
);
bad_file!(
    several_problems_all_reported,
    "many-problems.yaml",
    "many-problems.yaml:1:7: error: invalid workflow name `Many_Problems`"
);
bad_file!(
    no_stages,
    "no-stages.yaml",
    "no-stages.yaml:3:9: error: a workflow needs at least one stage"
);
bad_file!(
    expression_syntax_errors,
    "expression-syntax.yaml",
    "expression-syntax.yaml:9:27: error: invalid expression: unexpected `+`"
);
bad_file!(
    matrix_outputs,
    "matrix-outputs.yaml",
    "matrix-outputs.yaml:13:22: error: `actions.build.outputs.image`: `build` runs once per matrix combination"
);
bad_file!(
    run_status_outside_finally,
    "run-status.yaml",
    "run-status.yaml:11:18: error: `run.status` is only known in `finally` actions"
);
bad_file!(
    missing_component,
    "missing-component.yaml",
    "missing-component.yaml:6:20: error: component `./components/nope` not found"
);
bad_file!(
    problems_inside_a_component_file,
    "broken-component.yaml",
    "tests/fixtures/bad/components/broken/component.yaml:1:7: error: invalid component name `Broken`"
);
bad_file!(
    command_on_component,
    "command-on-component.yaml",
    "command-on-component.yaml:7:9: error: `command` can only be set on `image:` steps"
);
bad_file!(
    seed_flow_errors,
    "seed-errors.yaml",
    "seed-errors.yaml:26:17: error: `actions.build.compile.compile.outputs.CO_ARTFACT`"
);

#[test]
fn unknown_secret_when_secrets_are_known() {
    let options = ValidateOptions {
        secrets: Some(vec!["TOKEN".to_string(), "KEY".to_string()]),
        ..ValidateOptions::default()
    };
    let out = match load_with("bad/unknown-secret.yaml", options) {
        Ok(_) => panic!("should fail"),
        Err(d) => render(&d),
    };
    assert!(out.contains(
        "unknown-secret.yaml:8:22: error: `secrets.TOKN`: no secret `TOKN` is provided; did you mean `TOKEN`?"
    ));
    insta::assert_snapshot!("unknown_secret", out);
}

#[test]
fn secrets_are_not_checked_when_unknown() {
    assert!(load("bad/unknown-secret.yaml").is_ok());
}

#[test]
fn quoted_and_block_scalars_locate_references() {
    let text = "name: q\nstages:\n  - name: s\n    actions:\n      - name: a\n        image: i\n        with:\n          x: \"say \\\"hi\\\" ${{ inputs.nope }}\"\n          y: |\n            first\n              ${{ inputs.nope2 }}\n";
    let out = render(&parse(text).unwrap_err());
    assert_eq!(
        out,
        "test.yaml:8:30: error: `inputs.nope`: the workflow declares no inputs; declare `nope` under `inputs:`\n\
         test.yaml:11:19: error: `inputs.nope2`: the workflow declares no inputs; declare `nope2` under `inputs:`"
    );
}

#[test]
fn empty_file_and_wrong_root() {
    assert_eq!(
        render(&parse("").unwrap_err()),
        "test.yaml:1:1: error: the file is empty; a workflow needs at least `name` and `stages`"
    );
    assert_eq!(
        render(&parse("# just a comment\n").unwrap_err()),
        "test.yaml:1:1: error: the file is empty; a workflow needs at least `name` and `stages`"
    );
    assert_eq!(
        render(&parse("- a\n- b\n").unwrap_err()),
        "test.yaml:1:1: error: a workflow file must be a mapping, found a list"
    );
}

#[test]
fn yaml_syntax_errors_carry_hints() {
    let unquoted = "name: x\nstages:\n  - name: s\n    actions:\n      - { name: a, image: i, with: { who: ${{ inputs.who }} } }\n";
    assert_eq!(
        render(&parse(unquoted).unwrap_err()),
        "test.yaml:5:44: error: invalid YAML: while parsing a flow mapping, did not find expected ',' or '}' (inside `{ }` or `[ ]`, quote values that contain `${{ }}`, like `\"${{ inputs.x }}\"`)"
    );
    let tabs = "name: x\nstages:\n\t- name: s\n";
    assert_eq!(
        render(&parse(tabs).unwrap_err()),
        "test.yaml:3:2: error: invalid YAML: tabs disallowed within this context (block indentation) (indent with spaces, not tabs)"
    );
}

#[test]
fn names_longer_than_the_limit_are_refused_at_validation() {
    let long = "w".repeat(co_spec::MAX_NAME_LEN + 1);
    let text = format!(
        "name: {long}\nstages:\n  - name: s\n    actions:\n      - {{ name: a, image: i }}\n"
    );
    assert_eq!(
        render(&parse(&text).unwrap_err()),
        format!(
            "test.yaml:1:7: error: workflow name `{}…` is 129 characters long; at most 128 are \
             allowed",
            "w".repeat(40)
        )
    );
    let at_limit = text.replace(&long, &long[1..]);
    assert!(parse(&at_limit).is_ok());

    let dir = tempfile::tempdir().unwrap();
    let component = dir.path().join("component.yaml");
    std::fs::write(
        &component,
        format!("name: {}\nversion: 1.0.0\nimage: i\n", "c".repeat(200)),
    )
    .unwrap();
    let err = co_spec::Loader::new(&co_spec::NoCatalog)
        .load_component(&component)
        .unwrap_err();
    assert!(
        render(&err).ends_with(
            "component.yaml:1:7: error: component name `cccccccccccccccccccccccccccccccccccccccc…` \
             is 200 characters long; at most 128 are allowed"
        ),
        "{}",
        render(&err)
    );
}

/// A component read from disk whose `build:` names a Containerfile (or context) that is not there
/// is reported at that value, loaded alone or through a workflow; one given as text (a server's
/// catalog) is not checked.
#[test]
fn a_missing_containerfile_or_build_context_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let comp = dir.path().join("c/component.yaml");
    std::fs::create_dir_all(comp.parent().unwrap()).unwrap();
    let text =
        "name: c\nversion: 1.0.0\nimage: i\nbuild:\n  context: .\n  containerfile: Dockerfile\n";
    std::fs::write(&comp, text).unwrap();
    let loader = co_spec::Loader::new(&co_spec::NoCatalog);
    let err = render(&loader.load_component(&comp).unwrap_err());
    assert!(
        err.contains("component.yaml:6:18: error: the Containerfile ")
            && err.contains("c/Dockerfile of component `c` does not exist"),
        "{err}"
    );
    let wf =
        "name: w\nstages:\n  - name: s\n    actions:\n      - name: a\n        component: ./c\n";
    let err = render(&loader.parse_workflow(wf, "w.yaml", dir.path()).unwrap_err());
    assert!(err.contains("does not exist"), "{err}");
    assert!(loader
        .parse_component(text, "c/component.yaml", dir.path())
        .is_ok());
    // with the file there, both load
    std::fs::write(comp.with_file_name("Dockerfile"), "FROM scratch\n").unwrap();
    assert!(loader.load_component(&comp).is_ok());
    // a context that is not a directory, reported at `context:`
    std::fs::write(&comp, text.replace("context: .", "context: ./nowhere")).unwrap();
    let err = render(&loader.load_component(&comp).unwrap_err());
    assert!(
        err.contains("component.yaml:5:12: error: the build context ")
            && err.contains("is not a directory"),
        "{err}"
    );
}

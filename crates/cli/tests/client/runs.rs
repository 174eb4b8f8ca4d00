//! `runs start|list|show|cancel|resume|rerun` against the server, on the real engine.

use serde_json::Value;

use crate::support::{one_step, Server, BUSYBOX};

#[test]
fn start_wait_follows_the_run_and_exits_with_its_code() {
    let server = Server::start();
    server.apply(
        "hello",
        &one_step(
            "hello",
            "echo \"hello $CO_INPUT_WHO\"; echo \"[COUT] greeting = hi $CO_INPUT_WHO\"",
        ),
    );
    let out = server
        .cli()
        .args(["runs", "start", "hello", "--input", "who=team", "--wait"])
        .run();
    out.success();
    let lines = out.stdout_lines();
    let id = lines[0];
    assert_eq!(id.len(), 26, "a run id first: {out:?}");
    assert!(lines.contains(&"say | hello team"), "{out:?}");
    // Step progress, as a local run shows it (plain lines: stdout is not a terminal).
    assert!(
        lines.contains(&format!("run {id} started (1 steps)").as_str()),
        "{out:?}"
    );
    let done = lines
        .iter()
        .position(|l| l.starts_with("==> say succeeded in "));
    let said = lines.iter().position(|l| *l == "say | hello team");
    assert!(done.is_some() && said < done, "{out:?}");
    assert!(
        lines.contains(&format!("run {id} succeeded").as_str()),
        "{out:?}"
    );
    // The summary, like a local run's.
    assert!(out.stdout.contains("SUCCEEDED"), "{out:?}");
    assert!(out.stdout.contains("greeting = hi team"), "{out:?}");
    assert!(out.stdout.contains(&format!("run {id}")), "{out:?}");

    let run = server.run_json(id);
    assert_eq!(run["status"], "succeeded");
    assert_eq!(run["workflow"], "hello");
    assert_eq!(run["steps"][0]["outputs"]["greeting"], "hi team");
    assert_eq!(run["inputs"]["who"], "team");

    // `runs show` in text: the local summary, plus where the run came from.
    let shown = server.cli().args(["runs", "show", id]).run();
    shown.success();
    assert!(shown.stdout.contains("main/say succeeded"), "{shown:?}");
    assert!(shown.stdout.contains("revision 1"), "{shown:?}");
}

#[test]
fn start_wait_with_json_prints_the_run_and_sends_logs_to_stderr() {
    let server = Server::start();
    server.apply("fails", &one_step("fails", "echo about to fail; exit 3"));
    let out = server
        .cli()
        .args(["runs", "start", "fails", "--wait", "--output", "json"])
        .run();
    out.code(1);
    let run: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out:?}"));
    for key in [
        "id",
        "workflow",
        "status",
        "started_at",
        "finished_at",
        "outputs",
        "steps",
    ] {
        assert!(run.get(key).is_some(), "{key} missing: {run}");
    }
    assert_eq!(run["status"], "failed");
    assert_eq!(run["steps"][0]["exit_code"], 3);
    assert_eq!(run["steps"][0]["error"], "exit code 3");
    assert!(out.stderr.contains("say | about to fail"), "{out:?}");
    // The progress goes to stderr with the logs.
    assert!(
        out.stderr.contains("==> say failed in ") && out.stderr.contains(": exit code 3"),
        "{out:?}"
    );
}

#[test]
fn invalid_inputs_and_unknown_workflows_exit_2() {
    let server = Server::start();
    let typed = format!(
        "name: typed\ninputs:\n  count: {{ type: int, required: true }}\nstages:\n  - name: s\n    actions:\n      - name: a\n        image: {BUSYBOX}\n        command: [\"true\"]\n        with: {{ n: \"${{{{ inputs.count }}}}\" }}\n"
    );
    server.apply("typed", &typed);

    let bad = server
        .cli()
        .args(["runs", "start", "typed", "--input", "count=many", "--wait"])
        .run();
    bad.code(2);
    assert!(bad.stderr.starts_with("error: "), "{bad:?}");
    assert!(bad.stderr.contains("count"), "{bad:?}");
    assert_eq!(bad.stdout, "");

    let unknown_input = server
        .cli()
        .args([
            "runs", "start", "typed", "--input", "count=1", "--input", "nope=1",
        ])
        .run();
    unknown_input.code(2);
    assert!(unknown_input.stderr.contains("nope"), "{unknown_input:?}");
    let typo = server
        .cli()
        .args(["runs", "start", "typed", "--input", "cuont=1"])
        .run();
    typo.code(2);
    assert!(
        typo.stderr
            .contains("unknown input \"cuont\"; did you mean \"count\"?"),
        "{typo:?}"
    );

    let missing = server
        .cli()
        .args(["runs", "start", "no-such-workflow"])
        .run();
    missing.code(2);
    assert_eq!(
        missing.stderr.trim(),
        "error: workflow \"no-such-workflow\" was not found",
        "{missing:?}"
    );
    // A close name is offered.
    let close = server.cli().args(["runs", "start", "typd"]).run();
    close.code(2);
    assert_eq!(
        close.stderr.trim(),
        "error: workflow \"typd\" was not found; did you mean \"typed\"?",
        "{close:?}"
    );

    let malformed = server
        .cli()
        .args(["runs", "start", "typed", "--input", "novalue"])
        .run();
    malformed.code(2);
    assert!(
        malformed.stderr.contains("expected KEY=VALUE"),
        "{malformed:?}"
    );

    let no_revision = server
        .cli()
        .args([
            "runs",
            "start",
            "typed",
            "--input",
            "count=1",
            "--revision",
            "9",
        ])
        .run();
    no_revision.code(2);
    assert!(
        no_revision
            .stderr
            .contains("workflow \"typed\" has no revision 9 (its latest is 1)"),
        "{no_revision:?}"
    );

    let unknown_run = server.cli().args(["runs", "show", "01nosuchrun"]).run();
    unknown_run.code(2);
    assert!(unknown_run.stderr.starts_with("error: "), "{unknown_run:?}");
}

#[test]
fn list_filters_and_limits_runs() {
    let server = Server::start();
    server.apply("good", &one_step("good", "echo fine"));
    server.apply("bad", &one_step("bad", "exit 1"));
    let good: Vec<String> = (0..3).map(|_| server.start_run("good", &[])).collect();
    let bad = server.start_run("bad", &[]);
    for id in good.iter().chain([&bad]) {
        server.wait(id);
    }

    let all = server
        .cli()
        .args(["runs", "list", "--output", "json"])
        .run();
    all.success();
    let runs: Vec<Value> = serde_json::from_str(&all.stdout).unwrap();
    assert_eq!(runs.len(), 4, "{all:?}");

    let limited = server
        .cli()
        .args(["runs", "list", "--limit", "2", "--output", "json"])
        .run();
    let runs: Vec<Value> = serde_json::from_str(&limited.success().stdout).unwrap();
    assert_eq!(runs.len(), 2);

    let of_good = server
        .cli()
        .args(["runs", "list", "--workflow", "good", "--output", "json"])
        .run();
    let runs: Vec<Value> = serde_json::from_str(&of_good.success().stdout).unwrap();
    assert_eq!(runs.len(), 3);
    assert!(runs.iter().all(|r| r["workflow"] == "good"));

    let failed = server
        .cli()
        .args(["runs", "list", "--status", "failed", "--output", "json"])
        .run();
    let runs: Vec<Value> = serde_json::from_str(&failed.success().stdout).unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["id"].as_str(), Some(bad.as_str()));

    let table = server.cli().args(["runs", "list"]).run();
    table.success();
    let lines = table.stdout_lines();
    assert!(lines[0].starts_with("ID"), "{table:?}");
    assert_eq!(lines.len(), 5, "{table:?}");
    assert!(lines
        .iter()
        .any(|l| l.starts_with(&bad) && l.contains("failed")));

    let wrong = server
        .cli()
        .args(["runs", "list", "--status", "sleeping"])
        .run();
    wrong.code(2);
    assert!(wrong.stderr.contains("unknown run status"), "{wrong:?}");
}

#[test]
fn cancel_stops_a_waiting_start_with_exit_130() {
    let server = Server::start();
    server.apply(
        "slow",
        &one_step("slow", "echo started; sleep 300; echo never"),
    );
    let mut waiting = server
        .cli()
        .args(["runs", "start", "slow", "--wait"])
        .spawn();
    let id = waiting.next_line();
    waiting.wait_for(|l| l == "say | started");

    let cancel = server.cli().args(["runs", "cancel", &id]).run();
    cancel.success();
    assert_eq!(cancel.stdout, format!("run {id} cancel requested\n"));

    let (status, lines, stderr) = waiting.finish();
    assert_eq!(status.code(), Some(130), "{lines:?}\n{stderr}");
    assert!(!lines.iter().any(|l| l.contains("never")), "{lines:?}");
    assert!(lines.iter().any(|l| l.contains("CANCELLED")), "{lines:?}");
    assert_eq!(server.run_json(&id)["status"], "cancelled");
}

#[test]
fn ctrl_c_while_waiting_cancels_the_run_on_the_server() {
    let server = Server::start();
    server.apply("slow", &one_step("slow", "echo started; sleep 300"));
    let mut waiting = server
        .cli()
        .args(["runs", "start", "slow", "--wait"])
        .spawn();
    let id = waiting.next_line();
    waiting.wait_for(|l| l == "say | started");
    waiting.signal("INT");
    let (status, lines, stderr) = waiting.finish();
    assert_eq!(status.code(), Some(130), "{lines:?}\n{stderr}");
    assert!(stderr.contains(&format!("cancelling run {id}")), "{stderr}");
    assert_eq!(server.run_json(&id)["status"], "cancelled");
}

#[test]
fn resume_and_rerun_start_new_runs_from_an_old_one() {
    let server = Server::start();
    let yaml = format!(
        "name: twostep
stages:
  - name: one
    actions:
      - name: make
        image: {BUSYBOX}
        command: [\"sh\", \"-c\", \"echo making; echo '[COUT] value = 42'\"]
  - name: two
    actions:
      - name: check
        image: {BUSYBOX}
        command: [\"sh\", \"-c\", \"echo checking $CO_INPUT_V; exit 1\"]
        with: {{ v: \"${{{{ actions.make.outputs.value }}}}\" }}
"
    );
    server.apply("twostep", &yaml);
    let first = server.start_run("twostep", &[]);
    assert_eq!(server.wait(&first)["status"], "failed");

    let resumed = server
        .cli()
        .args(["runs", "resume", &first, "--wait"])
        .run();
    resumed.code(1);
    let lines = resumed.stdout_lines();
    let new_id = lines[0];
    assert_ne!(new_id, first);
    assert!(lines.contains(&"check | checking 42"), "{resumed:?}");
    assert!(
        !lines.contains(&"make | making"),
        "the succeeded step ran again: {resumed:?}"
    );
    let run = server.run_json(new_id);
    assert_eq!(run["parent"].as_str(), Some(first.as_str()));
    let make = run["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["action"] == "make")
        .unwrap();
    assert_eq!(make["outputs"]["value"], "42");
    // The reused step says so, with the run it ran in: in the progress, the summary and the JSON.
    assert_eq!(make["status"], "reused");
    assert_eq!(make["reused_from"].as_str(), Some(first.as_str()));
    assert!(
        lines.iter().any(|l| l.starts_with("==> make reused")),
        "{resumed:?}"
    );
    assert!(
        resumed
            .stdout
            .contains(&format!("one/make reused from run {first}")),
        "{resumed:?}"
    );

    // Revision 2 fixes `check`: resuming on it reuses `make` (unchanged) and runs `check`.
    server.apply("twostep", &yaml.replace("exit 1", "exit 0"));
    let fixed = server
        .cli()
        .args(["runs", "resume", &first, "--revision", "2", "--wait"])
        .run();
    fixed.success();
    let lines = fixed.stdout_lines();
    assert!(lines.contains(&"check | checking 42"), "{fixed:?}");
    assert!(!lines.contains(&"make | making"), "{fixed:?}");
    let run = server.run_json(lines[0]);
    assert_eq!(run["revision"], 2);
    assert_eq!(run["steps"][0]["status"], "reused");
    assert_eq!(
        run["steps"][0]["reused_from"].as_str(),
        Some(first.as_str())
    );
    assert_eq!(run["steps"][1]["status"], "succeeded");
    let missing = server
        .cli()
        .args(["runs", "resume", &first, "--revision", "9"])
        .run();
    missing.code(2);
    assert!(
        missing
            .stderr
            .contains("workflow \"twostep\" has no revision 9 (its latest is 2)"),
        "{missing:?}"
    );

    let rerun = server.cli().args(["runs", "rerun", &first]).run();
    rerun.success();
    let rerun_id = rerun.stdout.trim().to_string();
    assert_eq!(rerun_id.len(), 26, "{rerun:?}");
    let run = server.wait(&rerun_id);
    assert_eq!(run["parent"].as_str(), Some(first.as_str()));
    assert_eq!(run["workflow"], "twostep");

    // A run that succeeded has nothing to resume.
    server.apply("ok", &one_step("ok", "true"));
    let ok = server.start_run("ok", &[]);
    server.wait(&ok);
    let refused = server.cli().args(["runs", "resume", &ok]).run();
    refused.code(2);
    assert!(refused.stderr.starts_with("error: "), "{refused:?}");
}

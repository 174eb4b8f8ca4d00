//! `containerops server` processes on real parts (real Podman, SQLite and PostgreSQL):
//! - durability: servers killed with SIGKILL while steps run, and restarted (or replaced by a
//!   second server) on the same database. Every run finishes, no step runs twice, logs have no
//!   gaps or duplicates, outputs printed before the crash are read;
//! - cron: a tick fires one run however many servers share the database.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod harness;

use std::path::Path;
use std::time::{Duration, Instant};

use harness::*;
use serde_json::Value;

/// The lease when one server is live at a time: short, so that the next server takes a killed
/// server's runs over quickly (it waits this out). A live server alone holds its runs whatever
/// its timing: a renewal that comes late only lets it claim its own runs back, which renews them
/// (tested in co-server's coordinator tests).
const TAKEOVER_LEASE: &str = "2s";
/// The lease when two servers are live at once: long enough that a renewal delayed on a loaded
/// machine (renewals come every lease/3) never hands a live server's runs to the other one. No
/// assertion depends on it; a takeover after a kill waits it out.
const SHARED_LEASE: &str = "15s";
/// A lease no test waits out: a server restarted with the same id takes its runs back at once.
const LONG_LEASE: &str = "10m";

/// Who recovers a killed server's run, and when its running step ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Recovery {
    /// The server restarted with the same id takes its runs back at once (with a lease of 10
    /// minutes, waiting it out would fail the test); the step ended while no server watched.
    SameIdAfterTheStepEnded,
    /// Another server takes the run over once the lease lapsed; the step ends only then, and
    /// the rest of its output arrives through the reattached stream.
    OtherIdWhileTheStepRuns,
}

/// Kill the server while `wait` runs and recover the run on the same database. The step runs
/// once, its log has every line once and in order, and its times and its replayed lines' times
/// are its container's (by the engine's clock), not the recovery's.
fn survives_kill_9(database: &str, dir: &Path, recovery: Recovery) {
    require_engine();
    let (successor, lease) = match recovery {
        Recovery::SameIdAfterTheStepEnded => ("server-a", LONG_LEASE),
        Recovery::OtherIdWhileTheStepRuns => ("server-b", TAKEOVER_LEASE),
    };
    let a = Server::start(database, dir, "server-a", lease);
    a.apply(&workflow("durable"));
    let run = a.start_run("durable");
    wait_for_line(&a, &run, "wait", "waiting");
    a.kill_9();

    // The step's container outlived its server (finished ones may wait for their removal).
    let running: Vec<Value> = labelled("containers", &run)
        .into_iter()
        .filter(|c| c["State"] == "running")
        .collect();
    assert_eq!(running.len(), 1, "{running:?}");
    assert_eq!(running[0]["Labels"]["containerops.step"], "wait");
    let container = running[0]["Id"].as_str().unwrap().to_string();
    let inspect = || {
        let (code, body) = engine("GET", &format!("/v1.41/containers/{container}/json"));
        assert_eq!(code, 200, "{body}");
        let doc: Value = serde_json::from_str(&body).unwrap();
        doc["State"].clone()
    };
    let container_started = millis(inspect()["StartedAt"].as_str().unwrap());

    let go = || std::fs::write(workspace_dir(&run).join("go"), "").unwrap();
    let mut container_finished = None;
    if recovery == Recovery::SameIdAfterTheStepEnded {
        go();
        let state = poll(
            "the step's container to exit",
            Duration::from_secs(120),
            || Some(inspect()).filter(|s| s["Running"] == false),
        );
        container_finished = Some(millis(state["FinishedAt"].as_str().unwrap()));
    }
    let restarted = now_millis();
    let mut b = Server::start(database, dir, successor, lease);
    if recovery == Recovery::SameIdAfterTheStepEnded {
        b.wait_for_log(|l| l.contains("taking them back at once") && l.contains(&run));
    }
    b.wait_for_log(|l| l.contains("recovering") && l.contains(&run));
    if recovery == Recovery::OtherIdWhileTheStepRuns {
        go();
    }
    let (lines, status) = b.follow(&run);
    assert_eq!(status, "succeeded");

    let detail = b.run(&run);
    assert_eq!(detail["status"], "succeeded", "{detail}");
    let wait = step(&detail, "wait");
    assert_eq!(wait["attempts"], 1, "the step ran once: {wait}");
    assert_eq!(
        wait["outputs"]["got"], "t1",
        "output read after the restart"
    );
    assert_eq!(step(&detail, "after")["status"], "succeeded");
    assert_eq!(step(&detail, "first")["attempts"], 1);

    // The step's and its attempt's times are its container's (to the millisecond), not the
    // recovery's.
    let attempt = &wait["attempts_detail"][0];
    for times in [wait, attempt] {
        let started = millis(times["started_at"].as_str().unwrap());
        let finished = millis(times["finished_at"].as_str().unwrap());
        assert_eq!(started, container_started, "{times}");
        match container_finished {
            Some(container_finished) => assert_eq!(finished, container_finished, "{times}"),
            None => assert!(started < restarted && restarted < finished, "{times}"),
        }
    }
    // Lines replayed from the engine's log keep the engine's time of writing (Podman 4.3: whole
    // seconds), not the time they were read again.
    let started_second = container_started - container_started.rem_euclid(1000);
    for line in lines.iter().filter(|l| l["action"] == "wait") {
        let ts = millis(line["ts"].as_str().unwrap());
        assert!(ts >= started_second, "{line}");
        if container_finished.is_some() {
            assert!(ts < restarted, "{line}");
        }
    }

    // Every line once, in order, sequence numbers without gaps.
    let texts: Vec<&str> = lines
        .iter()
        .filter(|l| l["action"] == "wait")
        .map(|l| l["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["waiting", "[COUT] got = t1", "finished"]);
    let seqs: Vec<i64> = lines.iter().map(|l| l["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>());

    assert!(labelled("containers", &run).is_empty());
    assert!(labelled("volumes", &run).is_empty());
}

#[test]
fn a_run_survives_kill_9_of_its_server_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("server.db");
    survives_kill_9(
        &db.to_string_lossy(),
        dir.path(),
        Recovery::SameIdAfterTheStepEnded,
    );
}

#[test]
fn a_run_survives_kill_9_of_its_server_on_postgres() {
    let dir = tempfile::tempdir().unwrap();
    survives_kill_9(
        &postgres_url(),
        dir.path(),
        Recovery::SameIdAfterTheStepEnded,
    );
}

#[test]
fn a_run_survives_kill_9_of_its_server_on_another_server_on_postgres() {
    let dir = tempfile::tempdir().unwrap();
    survives_kill_9(
        &postgres_url(),
        dir.path(),
        Recovery::OtherIdWhileTheStepRuns,
    );
}

#[test]
fn a_vanished_container_is_retried_with_a_reason() {
    require_engine();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("server.db").to_string_lossy().to_string();
    let a = Server::start(&db, dir.path(), "server-a", TAKEOVER_LEASE);
    a.apply(&workflow("vanish"));
    let run = a.start_run("vanish");
    wait_for_line(&a, &run, "wait", "waiting");
    a.kill_9();
    // The container disappears while no server watches it.
    for c in labelled("containers", &run) {
        let (code, body) = engine(
            "DELETE",
            &format!("/v1.41/containers/{}?force=true", c["Id"].as_str().unwrap()),
        );
        assert!(code == 204 || code == 200, "{body}");
    }
    // Attempt 2 will find the go file at once.
    std::fs::write(workspace_dir(&run).join("go"), "").unwrap();

    let b = Server::start(&db, dir.path(), "server-b", TAKEOVER_LEASE);
    let (_, status) = b.follow(&run);
    assert_eq!(status, "succeeded");
    let detail = b.run(&run);
    let wait = step(&detail, "wait");
    assert_eq!(wait["attempts"], 2, "{wait}");
    let first = wait["attempts_detail"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["attempt"] == 1)
        .unwrap()
        .clone();
    assert_eq!(first["status"], "failed");
    assert!(
        first["error"].as_str().unwrap_or("").contains("gone"),
        "the vanished attempt has a reason: {first}"
    );
    assert!(labelled("containers", &run).is_empty());
}

#[test]
fn two_servers_on_postgres_share_runs_and_one_finishes_the_others() {
    require_engine();
    let dir = tempfile::tempdir().unwrap();
    let database = postgres_url();
    let a = Server::start(&database, dir.path(), "server-a", SHARED_LEASE);
    let b = Server::start(&database, dir.path(), "server-b", SHARED_LEASE);
    a.apply(&workflow("shared"));
    let runs: Vec<String> = (0..4).map(|_| a.start_run("shared")).collect();
    for run in &runs {
        wait_for_line(&a, run, "wait", "waiting");
    }
    // Which server holds which run is up to them; kill a.
    a.kill_9();
    for run in &runs {
        std::fs::write(workspace_dir(run).join("go"), "").unwrap();
    }
    for run in &runs {
        let (lines, status) = b.follow(run);
        assert_eq!(status, "succeeded", "{run}");
        let detail = b.run(run);
        for action in ["first", "wait", "after"] {
            assert_eq!(
                step(&detail, action)["attempts"],
                1,
                "{action} of {run} ran once"
            );
        }
        let waits = lines.iter().filter(|l| l["text"] == "waiting").count();
        assert_eq!(waits, 1, "no duplicated log lines in {run}");
        assert!(labelled("containers", run).is_empty());
        assert!(labelled("volumes", run).is_empty());
    }
}

#[test]
fn a_cron_tick_starts_one_run_with_two_servers() {
    require_engine();
    let dir = tempfile::tempdir().unwrap();
    let database = postgres_url();
    let a = Server::start(&database, dir.path(), "cron-a", SHARED_LEASE);
    a.apply(&format!(
        r#"name: ticking
inputs:
  tick: {{ type: string, required: true }}
triggers:
  - cron: "* * * * *"
    inputs: {{ tick: "${{{{ trigger.tick }}}}" }}
stages:
  - name: s
    actions:
      - name: say
        image: {BUSYBOX}
        command: ["sh", "-c", "echo \"[COUT] tick = $CO_INPUT_TICK\""]
        with: {{ tick: "${{{{ inputs.tick }}}}" }}
"#
    ));
    // The second server loads the stored workflow at its start: both now wait for the same tick.
    let b = Server::start(&database, dir.path(), "cron-b", SHARED_LEASE);
    // Wait for the first run of a tick (at most a minute away) and for it to finish: by then
    // both servers have handled that tick (they wake at the same instant; a run takes longer).
    let deadline = Instant::now() + Duration::from_secs(150);
    let run = loop {
        let (code, body) = b.api("GET", "/api/v1/runs?workflow=ticking", None);
        assert_eq!(code, 200, "{body}");
        let finished = body["runs"]
            .as_array()
            .and_then(|runs| runs.iter().find(|r| r["status"] == "succeeded").cloned());
        if let Some(run) = finished {
            break run;
        }
        assert!(Instant::now() < deadline, "no cron run within two minutes");
        // Polling the API for a run that a clock starts (not a timing assumption).
        std::thread::sleep(Duration::from_millis(200));
    };
    let detail = a.run(run["id"].as_str().unwrap());
    assert_eq!(detail["trigger"]["event"], "cron");
    let tick = detail["trigger"]["tick"].as_str().unwrap().to_string();
    assert!(
        tick.ends_with(":00Z") || tick.ends_with(":00.000Z"),
        "a tick on the minute: {tick}"
    );
    assert_eq!(step(&detail, "say")["outputs"]["tick"], tick.as_str());
    // Exactly one run for that tick.
    let (_, body) = a.api("GET", "/api/v1/runs?workflow=ticking&limit=100", None);
    let same_tick = body["runs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            let id = r["id"].as_str().unwrap();
            a.run(id)["trigger"]["tick"] == tick.as_str()
        })
        .count();
    assert_eq!(same_tick, 1, "one run per tick across both servers");
}

/// An RFC 3339 time as ms since the Unix epoch.
fn millis(text: &str) -> i64 {
    let t = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("{text:?}: {e}"));
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap()
}

fn now_millis() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    i64::try_from(now.as_millis()).unwrap()
}

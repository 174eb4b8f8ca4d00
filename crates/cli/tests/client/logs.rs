//! `logs ID [ACTION] [-f] [--after SEQ]` against the server: pages, the live stream, resuming
//! after a given line and across a dropped connection.

use std::sync::atomic::Ordering;

use crate::support::{Cli, Proxy, Server, BUSYBOX};

/// Two actions in parallel, `count` printing `n` numbered lines, `other` three.
fn counting(n: u32) -> String {
    format!(
        "name: counting
stages:
  - name: main
    actions:
      - name: count
        image: {BUSYBOX}
        command: [\"sh\", \"-c\", \"i=1; while [ $i -le {n} ]; do echo line $i; i=$((i+1)); done\"]
      - name: other
        image: {BUSYBOX}
        command: [\"sh\", \"-c\", \"echo a; echo b; echo c\"]
"
    )
}

fn expected_count_lines(n: u32) -> Vec<String> {
    (1..=n).map(|i| format!("line {i}")).collect()
}

#[test]
fn logs_pages_through_every_line_in_order() {
    let server = Server::start();
    server.apply("counting", &counting(2500));
    let id = server.start_run("counting", &[]);
    assert_eq!(server.wait(&id)["status"], "succeeded");

    // All of the run (more than one page of 1000): labelled, each action's lines in order.
    let all = server.cli().args(["logs", &id]).run();
    all.success();
    let lines = all.stdout_lines();
    assert_eq!(lines.len(), 2503, "{}", all.stderr);
    let count: Vec<String> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("count | "))
        .map(str::to_string)
        .collect();
    assert_eq!(count, expected_count_lines(2500));
    let other: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("other | "))
        .collect();
    assert_eq!(other, ["a", "b", "c"]);

    // One action: bare lines.
    let one = server.cli().args(["logs", &id, "other"]).run();
    one.success();
    assert_eq!(one.stdout, "a\nb\nc\n");

    // An action the run does not have.
    let unknown = server.cli().args(["logs", &id, "nope"]).run();
    unknown.code(2);
    assert!(
        unknown.stderr.contains("has no action \"nope\""),
        "{unknown:?}"
    );
    assert!(unknown.stderr.contains("count"), "{unknown:?}");

    // An id prefix is enough.
    let prefixed = server.cli().args(["logs", &id[..20], "other"]).run();
    prefixed.success();
    assert_eq!(prefixed.stdout, "a\nb\nc\n");
}

#[test]
fn follow_prints_lines_as_they_come_and_ends_with_the_run() {
    let server = Server::start();
    let yaml = format!(
        "name: live
stages:
  - name: main
    actions:
      - name: step
        image: {BUSYBOX}
        command: [\"sh\", \"-c\", \"echo first; echo second; sleep 300; echo never\"]
"
    );
    server.apply("live", &yaml);
    let id = server.start_run("live", &[]);
    let mut follower = server.cli().args(["logs", "-f", &id]).spawn();
    // The step sleeps after these: the follower shows them while the run is running.
    assert_eq!(follower.next_line(), "step | first");
    assert_eq!(follower.next_line(), "step | second");
    assert_eq!(server.run_json(&id)["status"], "running");
    server.cli().args(["runs", "cancel", &id]).run().success();
    // The run's end ends the follower (exit 0: the logs were shown).
    let (status, lines, stderr) = follower.finish();
    assert!(status.success(), "{lines:?}\n{stderr}");
    assert_eq!(lines, ["step | first", "step | second"]);
    assert!(stderr.contains(&format!("run {id} cancelled")), "{stderr}");
}

#[test]
fn follow_resumes_after_a_given_line() {
    let server = Server::start();
    server.apply("counting", &counting(20));
    let id = server.start_run("counting", &[]);
    server.wait(&id);
    let all = server.cli().args(["logs", &id]).run();
    all.success();
    let every: Vec<&str> = all.stdout_lines();
    assert_eq!(every.len(), 23);

    // Sent as Last-Event-ID: exactly the lines after line 7, whether followed or paged.
    let followed = server.cli().args(["logs", "-f", &id, "--after", "7"]).run();
    followed.success();
    assert_eq!(followed.stdout_lines(), every[7..].to_vec());
    let paged = server.cli().args(["logs", &id, "--after", "7"]).run();
    paged.success();
    assert_eq!(paged.stdout_lines(), every[7..].to_vec());

    // One action after line 7 of the run (sequence numbers are per run, so this is a suffix of
    // the action's lines): the same followed and paged.
    let count_all = server.cli().args(["logs", &id, "count"]).run();
    count_all.success();
    let count_all = count_all.stdout_lines();
    assert_eq!(count_all, expected_count_lines(20));
    let followed = server
        .cli()
        .args(["logs", "-f", &id, "count", "--after", "7"])
        .run();
    followed.success();
    let paged = server
        .cli()
        .args(["logs", &id, "count", "--after", "7"])
        .run();
    paged.success();
    assert_eq!(followed.stdout, paged.stdout);
    let tail = followed.stdout_lines();
    assert!(
        tail.len() < 20 && count_all.ends_with(&tail),
        "{followed:?}"
    );
}

#[test]
fn a_dropped_stream_is_reopened_without_gaps_or_duplicates() {
    let server = Server::start();
    server.apply("counting", &counting(300));
    let id = server.start_run("counting", &[]);
    server.wait(&id);
    let all = server.cli().args(["logs", &id]).run();
    all.success();

    // Through a proxy that cuts the first stream in the middle of its 120th event.
    let proxy = Proxy::start(&server.url, 120);
    let followed = server
        .cli()
        .env("CONTAINEROPS_SERVER", &proxy.url)
        .args(["logs", "-f", &id])
        .run();
    followed.success();
    assert_eq!(proxy.cuts.load(Ordering::SeqCst), 1, "{followed:?}");
    assert_eq!(proxy.streams.load(Ordering::SeqCst), 2, "{followed:?}");
    assert_eq!(followed.stdout, all.stdout);
}

#[test]
fn a_dropped_stream_of_a_live_run_is_reopened_too() {
    let server = Server::start();
    server.apply("counting", &counting(3000));
    let id = server.start_run("counting", &[]);
    // Follow from the start (the run is likely still going), cut after 50 lines.
    let proxy = Proxy::start(&server.url, 50);
    let followed = server
        .cli()
        .env("CONTAINEROPS_SERVER", &proxy.url)
        .args(["logs", "-f", &id, "count"])
        .run();
    followed.success();
    assert_eq!(proxy.cuts.load(Ordering::SeqCst), 1, "{followed:?}");
    let expected: Vec<String> = (1..=3000).map(|i| format!("line {i}")).collect();
    assert_eq!(followed.stdout_lines(), expected);
    assert_eq!(server.run_json(&id)["status"], "succeeded");
}

/// `logs -f` without a server follows a run that another `containerops run` process is running,
/// from the local store, until it ends.
#[test]
fn local_follow_reads_the_store_until_the_run_ends() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("slow.yaml");
    std::fs::write(
        &file,
        format!(
            "name: slow
stages:
  - name: main
    actions:
      - name: step
        image: {BUSYBOX}
        command: [\"sh\", \"-c\", \"echo first; echo second; sleep 300; echo never\"]
"
        ),
    )
    .unwrap();
    let home = dir.path().join("home");
    let mut running = Cli::new(&home).arg("run").arg(&file).spawn();
    let started = running.wait_for(|l| l.starts_with("run ") && l.contains(" started"));
    let id = started.split_whitespace().nth(1).unwrap().to_string();
    running.wait_for(|l| l == "step | second");

    let mut follower = Cli::new(&home).args(["logs", "-f", &id]).spawn();
    assert_eq!(follower.next_line(), "step | first");
    assert_eq!(follower.next_line(), "step | second");
    // Ctrl-C to the run: it is cancelled, and the follower ends with it.
    running.signal("INT");
    let (status, _, stderr) = running.finish();
    assert_eq!(status.code(), Some(130), "{stderr}");
    let (status, lines, stderr) = follower.finish();
    assert!(status.success(), "{stderr}");
    assert_eq!(lines, ["step | first", "step | second"]);
}

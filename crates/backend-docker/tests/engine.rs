//! Integration tests against the real container engine of this machine (Podman's Docker API;
//! `scripts/setup-engine.sh` starts it). They fail, never skip, when no engine answers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use co_backend::{labels, Backend, BackendError, CancellationToken, StepExit};
use co_backend_docker::{
    discovery, Candidate, DockerOptions, EngineKind, ExitDetection, ImageBuild, Removal,
};
use support::*;

#[tokio::test]
async fn discovery_reports_the_engine() {
    let b = backend().await;
    let info = b.info();
    assert!(
        !info.version.is_empty() && info.version != "unknown",
        "{info}"
    );
    assert!(info.api_version.starts_with("1."), "{info}");
    assert_eq!(b.name(), info.kind.as_str());
    // This machine runs Podman (ENVIRONMENT.md); on a Docker machine this says docker.
    if info.host.contains("podman") {
        assert_eq!(info.kind, EngineKind::Podman);
    }
}

#[tokio::test]
async fn discovery_skips_a_dead_candidate_and_finds_the_next_engine() {
    let dir = tempfile::tempdir().unwrap();
    let dead = format!("unix://{}/dead.sock", dir.path().display());
    let live = backend().await.info().host.clone();
    let cands = vec![
        Candidate::new("Docker's default socket", dead),
        Candidate::new("the engine of this machine", live.clone()),
    ];
    let b = co_backend_docker::DockerBackend::connect_with(&cands, DockerOptions::default())
        .await
        .unwrap();
    assert_eq!(b.info().host, live);
}

#[tokio::test]
async fn discovery_with_only_a_dead_docker_host_is_unavailable_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("docker.sock");
    // A socket file nobody listens on any more.
    drop(std::os::unix::net::UnixListener::bind(&sock).unwrap());
    let host = format!("unix://{}", sock.display());
    let cands = discovery::candidates(Some(&host), None)
        .into_iter()
        .filter(|c| c.origin == "$DOCKER_HOST")
        .collect::<Vec<_>>();
    let err = co_backend_docker::DockerBackend::connect_with(&cands, DockerOptions::default())
        .await
        .unwrap_err();
    match &err {
        BackendError::Unavailable { message, hint } => {
            assert!(message.contains(&host), "{message}");
            assert!(hint.contains("podman system service"), "{hint}");
            assert!(hint.contains("systemctl start docker"), "{hint}");
            assert!(hint.contains("DOCKER_HOST"), "{hint}");
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
    assert!(err.to_string().contains("hint:"), "{err}");
}

#[tokio::test]
async fn stdout_and_stderr_arrive_in_order_per_stream() {
    let b = backend().await;
    let img = image(&b).await;
    let run = run_id("order");
    let ws = b.create_workspace(&run).await.unwrap();
    let script = "i=1; while [ $i -le 200 ]; do echo out$i; echo err$i >&2; i=$((i+1)); done";
    let (exit, rec) = run_to_end(&b, &launch(&run, "order", img, script), &ws).await;
    b.finish_run(&ws).await.unwrap();
    // A step this process started keeps the driver's clock: no engine times, live output.
    assert_eq!(exit, StepExit::exited(0));
    assert!(rec.times.iter().all(Option::is_none));
    let expect = |p: &str| (1..=200).map(|i| format!("{p}{i}\n")).collect::<String>();
    assert_eq!(rec.stdout(), expect("out"));
    assert_eq!(rec.stderr(), expect("err"));
    assert!(rec.started.is_some());
    assert!(!rec.output_before_start, "output arrived before started()");
}

#[tokio::test]
async fn big_output_arrives_completely() {
    let b = backend().await;
    let img = image(&b).await;
    let run = run_id("big");
    let ws = b.create_workspace(&run).await.unwrap();
    // ~6.9 MB of text on stdout, 4 MiB of zero bytes then a marker on stderr.
    let script = "seq 1 1000000; dd if=/dev/zero bs=65536 count=64 >&2 2>/dev/null; echo end >&2";
    let (exit, rec) = run_to_end(&b, &launch(&run, "big", img, script), &ws).await;
    b.finish_run(&ws).await.unwrap();
    assert_eq!(exit.exit_code, Some(0));
    let expected: String = (1..=1_000_000).map(|i| format!("{i}\n")).collect();
    assert_eq!(rec.stdout.len(), expected.len());
    assert!(
        rec.stdout == expected.as_bytes(),
        "stdout differs from seq's output"
    );
    assert_eq!(rec.stderr.len(), 4 * 1024 * 1024 + 4);
    assert!(rec.stderr[..4 * 1024 * 1024].iter().all(|b| *b == 0));
    assert_eq!(&rec.stderr[4 * 1024 * 1024..], b"end\n");
}

#[tokio::test]
async fn env_and_entrypoint_are_as_given() {
    let b = backend().await;
    let img = image(&b).await;
    let run = run_id("env");
    let ws = b.create_workspace(&run).await.unwrap();
    let mut l = launch(&run, "env", img, r#"echo "$0|$#|$A|$B|$C""#);
    l.env = vec![
        ("A".into(), "1".into()),
        ("B".into(), "two words \"quoted\"".into()),
        ("A".into(), "3".into()),
        ("C".into(), String::new()),
    ];
    let (exit, rec) = run_to_end(&b, &l, &ws).await;
    assert_eq!(exit.exit_code, Some(0));
    // `sh` as $0 and no extra arguments: the image's CMD was not appended to our command.
    assert_eq!(rec.stdout(), "sh|0|3|two words \"quoted\"|\n");

    // Without a command the image's own CMD runs (`/bin/sh` with no input: exits 0 at once).
    let mut l = launch(&run, "own-cmd", img, "");
    l.command = None;
    let (exit, rec) = run_to_end(&b, &l, &ws).await;
    assert_eq!(exit.exit_code, Some(0));
    assert_eq!(rec.stdout(), "");
    b.finish_run(&ws).await.unwrap();
}

#[tokio::test]
async fn exit_codes_are_reported_with_every_exit_detection() {
    for mode in [
        ExitDetection::InspectAfterOutput,
        ExitDetection::Events,
        ExitDetection::Wait,
    ] {
        let b = backend_with(mode).await;
        let img = image(&b).await;
        let run = run_id("codes");
        let ws = b.create_workspace(&run).await.unwrap();
        for (key, script, code) in [("ok", "echo fine", 0), ("three", "echo bad >&2; exit 3", 3)] {
            let (exit, rec) = run_to_end(&b, &launch(&run, key, img, script), &ws).await;
            assert_eq!(exit, StepExit::exited(code), "{mode:?} {key}");
            assert!(
                rec.stdout.len() + rec.stderr.len() > 0,
                "{mode:?}: output lost"
            );
        }
        // A process that closes its output long before it exits.
        let mut rec = Recorder::default();
        let exit = b
            .run_step(
                &launch(
                    &run,
                    "closes-early",
                    img,
                    "echo bye; exec >&- 2>&-; sleep 1; exit 5",
                ),
                &ws,
                &mut rec,
                CancellationToken::new(),
            )
            .await
            .unwrap();
        assert_eq!(exit.exit_code, Some(5), "{mode:?}");
        assert_eq!(rec.stdout(), "bye\n");
        b.finish_run(&ws).await.unwrap();
        assert_nothing_left(&b, &run).await;
    }
}

#[tokio::test]
async fn workspace_is_shared_between_steps_of_a_run() {
    let b = backend().await;
    let img = image(&b).await;
    let run = run_id("ws");
    let ws = b.create_workspace(&run).await.unwrap();
    assert!(ws.name.starts_with("co-ws-"));
    let (w, rec) = run_to_end(
        &b,
        &launch(
            &run,
            "write",
            img,
            "echo hello > /workspace/f && mkdir -p /workspace/d",
        ),
        &ws,
    )
    .await;
    assert_eq!(w.exit_code, Some(0), "{}", rec.stderr());
    let mut rec = Recorder::default();
    let r = b
        .run_step(
            &launch(&run, "read", img, "cat /workspace/f; ls /workspace"),
            &ws,
            &mut rec,
            CancellationToken::new(),
        )
        .await
        .unwrap();
    assert_eq!(r.exit_code, Some(0), "{}", rec.stderr());
    assert_eq!(rec.stdout(), "hello\nd\nf\n");
    b.finish_run(&ws).await.unwrap();
    assert_nothing_left(&b, &run).await;
}

#[tokio::test]
async fn limits_and_labels_are_applied() {
    let b = backend().await;
    let img = image(&b).await;
    let run = run_id("limits");
    let ws = b.create_workspace(&run).await.unwrap();
    let mut l = launch(&run, "build[os=linux,n=1]", img, "sleep 1000");
    l.memory_bytes = Some(64 * 1024 * 1024);
    l.cpu_millis = Some(500);
    l.attempt = 2;
    let (mut rec, mut started) = Recorder::notifying();
    let cancel = CancellationToken::new();
    let inspect = async {
        let id = started.recv().await.unwrap();
        let doc = b.inspect_container_json(&id).await.unwrap();
        cancel.cancel();
        doc
    };
    let (exit, doc) = tokio::join!(b.run_step(&l, &ws, &mut rec, cancel.clone()), inspect);
    let exit = exit.unwrap();
    assert!(exit.stopped);
    let hc = &doc["HostConfig"];
    assert_eq!(hc["Memory"], 64 * 1024 * 1024, "{hc}");
    assert_eq!(hc["NanoCpus"], 500_000_000, "{hc}");
    let lab = &doc["Config"]["Labels"];
    assert_eq!(lab[labels::RUN], run.as_str());
    assert_eq!(lab[labels::STEP], "build[os=linux,n=1]");
    assert_eq!(lab[labels::ATTEMPT], "2");
    assert_eq!(lab[labels::WORKFLOW], "tests");
    let name = doc["Name"].as_str().unwrap().trim_start_matches('/');
    assert_eq!(
        name,
        co_backend_docker::names::container_name(&run, "build[os=linux,n=1]", 2)
    );
    assert_eq!(doc["Config"]["Tty"], false);
    let mounts = doc["Mounts"].as_array().unwrap();
    assert!(
        mounts
            .iter()
            .any(|m| m["Destination"] == "/workspace" && m["Name"] == ws.name.as_str()),
        "{mounts:?}"
    );
    b.finish_run(&ws).await.unwrap();
    assert_nothing_left(&b, &run).await;
}

/// The kernel kills the step for exceeding its memory limit. Whether the engine records that as
/// `OOMKilled` depends on it: Docker does; Podman 4.3 with conmon on this machine's cgroup v1
/// hierarchy does not (`podman run --memory 8m …` then `podman inspect` says `OOMKilled: false`
/// although dmesg shows the memory cgroup's OOM kill), so there only the SIGKILL exit is checked.
#[tokio::test]
async fn out_of_memory_kills_the_step_and_is_reported_when_the_engine_knows() {
    let b = backend().await;
    let img = image(&b).await;
    let run = run_id("oom");
    let ws = b.create_workspace(&run).await.unwrap();
    let mut l = launch(
        &run,
        "oom",
        img,
        // The shell holds 64 MiB in a variable: far over the 8 MiB limit.
        "x=$(head -c 67108864 /dev/zero | tr '\\0' a); echo survived ${#x}",
    );
    l.memory_bytes = Some(8 * 1024 * 1024);
    let (exit, rec) = run_to_end(&b, &l, &ws).await;
    b.finish_run(&ws).await.unwrap();
    assert_eq!(
        exit.exit_code,
        Some(137),
        "{exit:?} stdout={} stderr={}",
        rec.stdout(),
        rec.stderr()
    );
    assert!(!exit.stopped);
    if b.info().kind == EngineKind::Docker {
        assert!(exit.oom_killed, "{exit:?}");
    }
}

#[tokio::test]
async fn a_missing_image_is_image_not_found_naming_it() {
    let b = backend().await;
    let run = run_id("noimg");
    let ws = b.create_workspace(&run).await.unwrap();
    let missing = "localhost/containerops-test/does-not-exist:1";
    let r = b
        .run_step(
            &launch(&run, "x", missing, "true"),
            &ws,
            &mut Recorder::default(),
            CancellationToken::new(),
        )
        .await;
    match r {
        Err(BackendError::ImageNotFound { image, detail }) => {
            assert_eq!(image, missing);
            assert!(!detail.is_empty());
        }
        other => panic!("expected ImageNotFound, got {other:?}"),
    }
    assert!(!b.image_exists(missing).await.unwrap());
    assert!(b.image_exists(image(&b).await).await.unwrap());
    b.finish_run(&ws).await.unwrap();
    assert_nothing_left(&b, &run).await;
}

#[tokio::test]
async fn cancellation_stops_the_step_promptly_and_removes_it() {
    // A grace no step of this test waits out: SIGTERM must do it.
    let b = backend_with_grace(Duration::from_secs(600)).await;
    let img = image(&b).await;
    let run = run_id("cancel");
    let ws = b.create_workspace(&run).await.unwrap();
    let (mut rec, mut started) = Recorder::notifying();
    let cancel = CancellationToken::new();
    let canceller = async {
        started.recv().await.unwrap();
        cancel.cancel();
    };
    // `sh` (or `sleep`) as PID 1 would ignore SIGTERM; the init process passes it on.
    let l = launch(&run, "sleepy", img, "echo going to sleep; sleep 1000");
    let (exit, ()) = tokio::join!(b.run_step(&l, &ws, &mut rec, cancel.clone()), canceller);
    let exit = exit.unwrap();
    assert!(exit.stopped, "{exit:?}");
    assert_eq!(
        exit.exit_code,
        Some(143),
        "stopped by SIGTERM, not killed: {exit:?}"
    );
    b.finish_run(&ws).await.unwrap();
    assert_nothing_left(&b, &run).await;

    // Cancelled before it began: nothing is created.
    let run = run_id("cancel-early");
    let ws = b.create_workspace(&run).await.unwrap();
    let cancel = CancellationToken::new();
    cancel.cancel();
    let mut rec = Recorder::default();
    let exit = b
        .run_step(&launch(&run, "never", img, "true"), &ws, &mut rec, cancel)
        .await
        .unwrap();
    assert!(exit.stopped && rec.started.is_none());
    b.finish_run(&ws).await.unwrap();
    assert_nothing_left(&b, &run).await;
}

#[tokio::test]
async fn a_step_flooding_its_output_can_still_be_cancelled() {
    let b = backend().await;
    let img = image(&b).await;
    let run = run_id("flood");
    let ws = b.create_workspace(&run).await.unwrap();
    let (mut rec, mut started) = Recorder::notifying();
    rec.discard = true;
    let cancel = CancellationToken::new();
    let canceller = async {
        started.recv().await.unwrap();
        cancel.cancel();
    };
    // `yes` never stops writing: the stop must get through the flood.
    let mut l = launch(&run, "flood", img, "");
    l.command = Some(vec!["yes".into(), "flood".into()]);
    let (exit, ()) = tokio::join!(b.run_step(&l, &ws, &mut rec, cancel.clone()), canceller);
    assert!(exit.unwrap().stopped);
    assert!(rec.bytes > 0);
    b.finish_run(&ws).await.unwrap();
    assert_nothing_left(&b, &run).await;
}

#[tokio::test]
async fn a_step_that_handles_sigterm_stops_within_the_grace_period() {
    let b = backend().await;
    let img = image(&b).await;
    let run = run_id("term");
    let ws = b.create_workspace(&run).await.unwrap();
    let (mut rec, mut started) = Recorder::notifying();
    let cancel = CancellationToken::new();
    let canceller = async {
        started.recv().await.unwrap();
        cancel.cancel();
    };
    let script = "trap 'echo got TERM; exit 0' TERM; echo ready; while true; do sleep 0.1; done";
    let l = launch(&run, "trap", img, script);
    let (exit, ()) = tokio::join!(b.run_step(&l, &ws, &mut rec, cancel.clone()), canceller);
    assert!(exit.unwrap().stopped);
    b.finish_run(&ws).await.unwrap();
    assert_nothing_left(&b, &run).await;
}

#[tokio::test]
async fn finish_run_leaves_nothing_behind() {
    let b = backend().await;
    let img = image(&b).await;
    let run = run_id("finish");
    let ws = b.create_workspace(&run).await.unwrap();
    for key in ["a", "b[x=1]"] {
        b.run_step(
            &launch(&run, key, img, "echo hi > /workspace/$RANDOM"),
            &ws,
            &mut Recorder::default(),
            CancellationToken::new(),
        )
        .await
        .unwrap();
    }
    // Something a crashed process left: a created, never started container and an extra volume.
    let leftover = bollard::models::ContainerCreateBody {
        image: Some(img.to_string()),
        labels: Some([(labels::RUN.to_string(), run.clone())].into()),
        ..Default::default()
    };
    b.docker().create_container(None, leftover).await.unwrap();
    let vol = bollard::models::VolumeCreateRequest {
        name: Some(format!("{}-extra", ws.name)),
        labels: Some([(labels::RUN.to_string(), run.clone())].into()),
        ..Default::default()
    };
    let _ = b.docker().create_volume(vol).await;
    assert!(!b
        .list_containers(labels::RUN, Some(&run))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        b.list_volumes(labels::RUN, Some(&run)).await.unwrap().len(),
        2
    );

    b.finish_run(&ws).await.unwrap();
    assert_nothing_left(&b, &run).await;
    // Finishing twice is harmless.
    b.finish_run(&ws).await.unwrap();
}

#[tokio::test]
async fn a_command_that_cannot_start_is_an_error_and_is_cleaned_up() {
    let b = backend().await;
    let img = image(&b).await;
    let run = run_id("nocmd");
    let ws = b.create_workspace(&run).await.unwrap();
    let mut l = launch(&run, "x", img, "");
    l.command = Some(vec!["/no/such/program".into()]);
    // Not retried: the same command would fail again.
    let msg = match b
        .run_step(&l, &ws, &mut Recorder::default(), CancellationToken::new())
        .await
    {
        Err(BackendError::NotRunnable(m)) => m,
        other => panic!("expected BackendError::NotRunnable, got {other:?}"),
    };
    assert!(msg.contains("could not start"), "{msg}");
    assert!(msg.contains("/no/such/program"), "{msg}");
    b.finish_run(&ws).await.unwrap();
    assert_nothing_left(&b, &run).await;
}

#[tokio::test]
async fn a_failing_build_names_the_failing_step() {
    let b = backend().await;
    let base = image(&b).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Dockerfile"),
        format!("FROM {base}\nRUN echo building\nRUN exit 7\n"),
    )
    .unwrap();
    let mut lines = Vec::new();
    let err = b
        .build_image(
            &ImageBuild::new(dir.path(), "localhost/containerops-test/failing:1"),
            &mut |l: &str| lines.push(l.to_string()),
        )
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("RUN exit 7"), "{msg}");
    assert!(
        msg.contains("localhost/containerops-test/failing:1"),
        "{msg}"
    );
    assert!(
        lines.iter().any(|l| l.contains("RUN echo building")),
        "{lines:?}"
    );
}

#[tokio::test]
async fn build_uses_a_containerfile_path_and_the_ignore_file() {
    let b = backend().await;
    let base = image(&b).await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("build")).unwrap();
    std::fs::create_dir_all(d.join("data")).unwrap();
    std::fs::write(d.join("data/keep.txt"), "kept\n").unwrap();
    std::fs::write(d.join("data/secret.txt"), "secret\n").unwrap();
    std::fs::write(d.join(".dockerignore"), "data/secret.txt\n").unwrap();
    std::fs::write(
        d.join("build/Component.containerfile"),
        format!("FROM {base}\nCOPY data /data\nCMD [\"sh\", \"-c\", \"ls /data; cat /data/keep.txt\"]\n"),
    )
    .unwrap();
    let tag = "localhost/containerops-test/ctx:1";
    let mut lines = Vec::new();
    let built = b
        .build_image(
            &ImageBuild::new(d, tag).containerfile("build/Component.containerfile"),
            &mut |l: &str| lines.push(l.to_string()),
        )
        .await
        .unwrap();
    assert_eq!(built.tag, tag);
    assert!(!built.id.is_empty());
    assert!(b.image_exists(tag).await.unwrap());
    assert!(!lines.is_empty());

    let run = run_id("ctx");
    let ws = b.create_workspace(&run).await.unwrap();
    let mut l = launch(&run, "ls", tag, "");
    l.command = None;
    let (exit, rec) = run_to_end(&b, &l, &ws).await;
    b.finish_run(&ws).await.unwrap();
    assert_eq!(exit.exit_code, Some(0), "{}", rec.stderr());
    assert_eq!(rec.stdout(), "keep.txt\nkept\n");
}

#[tokio::test]
async fn parallel_steps_of_one_run() {
    let b = backend().await;
    let img = image(&b).await;
    let run = run_id("par");
    let ws = b.create_workspace(&run).await.unwrap();
    let steps = (0..4).map(|i| {
        let b = b.clone();
        let ws = ws.clone();
        let l = launch(
            &run,
            &format!("p[n={i}]"),
            img,
            &format!("echo step {i}; exit {i}"),
        );
        async move {
            let (exit, rec) = run_to_end(&b, &l, &ws).await;
            (exit.exit_code, rec.stdout())
        }
    });
    let results = futures::future::join_all(steps).await;
    for (i, (code, out)) in results.into_iter().enumerate() {
        assert_eq!(code, Some(i as i64));
        assert_eq!(out, format!("step {i}\n"));
    }
    b.finish_run(&ws).await.unwrap();
    assert_nothing_left(&b, &run).await;
}

#[tokio::test]
async fn every_removal_policy_leaves_nothing_behind() {
    for removal in [
        Removal::Immediate,
        Removal::AfterEngineCleanup,
        Removal::Deferred { backlog: 1 },
        Removal::Deferred {
            backlog: usize::MAX,
        },
    ] {
        let b = backend_with_options(DockerOptions {
            removal,
            ..DockerOptions::default()
        })
        .await;
        let img = image(&b).await;
        let run = run_id("removal");
        let ws = b.create_workspace(&run).await.unwrap();
        for key in ["a", "b", "c"] {
            let exit = b
                .run_step(
                    &launch(&run, key, img, "echo $0"),
                    &ws,
                    &mut Recorder::default(),
                    CancellationToken::new(),
                )
                .await
                .unwrap();
            assert_eq!(exit.exit_code, Some(0), "{removal:?}");
        }
        b.finish_run(&ws).await.unwrap();
        assert_nothing_left(&b, &run).await;
    }
}

#[tokio::test]
async fn rerunning_the_same_attempt_replaces_its_leftover_container() {
    // Deferred removal keeps the first container until finish_run, so the second create meets a
    // container of the same name (as after a crash and restart of the same attempt).
    let b = backend().await;
    let img = image(&b).await;
    let run = run_id("rerun");
    let ws = b.create_workspace(&run).await.unwrap();
    for n in 1..=2 {
        let (exit, rec) = run_to_end(
            &b,
            &launch(&run, "same", img, &format!("echo try {n}")),
            &ws,
        )
        .await;
        assert_eq!(exit.exit_code, Some(0));
        assert_eq!(rec.stdout(), format!("try {n}\n"));
    }
    b.finish_run(&ws).await.unwrap();
    assert_nothing_left(&b, &run).await;
}

#[tokio::test]
async fn more_cpus_than_the_machine_has_are_capped_not_refused() {
    let b = backend().await;
    let img = image(&b).await;
    let run = run_id("cpus");
    let ws = b.create_workspace(&run).await.unwrap();
    let mut l = launch(&run, "cpus", img, "echo ok");
    l.cpu_millis = Some(1_000_000);
    let (exit, rec) = run_to_end(&b, &l, &ws).await;
    assert_eq!(exit.exit_code, Some(0));
    assert_eq!(rec.stdout(), "ok\n");
    b.finish_run(&ws).await.unwrap();
}

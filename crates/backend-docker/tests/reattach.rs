//! `Backend::reattach` and idempotent workspaces against the real engine: a step's caller
//! "crashes" (its `run_step` future is dropped while the container runs), and a fresh
//! `DockerBackend` (a new process) takes the container over.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use co_backend::{labels, Backend, CancellationToken, StepExit, StepLaunch, Stream, Workspace};
use co_backend_docker::discovery::EngineKind;
use co_backend_docker::{names, DockerBackend, DockerOptions, ExitDetection};
use support::*;

/// Run `launch` in a task and drop that task's future once `ready` has shown on stdout and
/// `ready_err` on stderr: the container keeps running, nobody follows it any more. Returns what
/// the first caller saw.
async fn crash_after(
    b: &DockerBackend,
    l: &StepLaunch,
    ws: &Workspace,
    ready: &str,
    ready_err: &str,
) -> LiveSink {
    let sink = LiveSink::default();
    let task = tokio::spawn({
        let (b, l, ws, mut sink) = (b.clone(), l.clone(), ws.clone(), sink.clone());
        async move {
            b.run_step(&l, &ws, &mut sink, CancellationToken::new())
                .await
        }
    });
    sink.wait_for(Stream::Stdout, ready).await;
    sink.wait_for(Stream::Stderr, ready_err).await;
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    sink
}

fn container(l: &StepLaunch) -> String {
    names::container_name(&l.run_id, &l.step_key, l.attempt)
}

async fn state(b: &DockerBackend, name: &str) -> serde_json::Value {
    b.inspect_container_json(name).await.unwrap()["State"].clone()
}

/// Another step of the run creates `/workspace/<file>` (what the long step waits for).
async fn signal(b: &DockerBackend, ws: &Workspace, img: &str, file: &str) {
    let l = launch(
        &ws.run_id,
        &format!("signal-{file}"),
        img,
        &format!(": > /workspace/{file}"),
    );
    let exit = b
        .run_step(&l, ws, &mut Recorder::default(), CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(exit.exit_code, Some(0));
}

/// The reattached container is gone once the backend's removals are done.
async fn assert_removed(b: &DockerBackend, run: &str, name: &str) {
    b.await_removals(run).await;
    let err = b.inspect_container_json(name).await.unwrap_err();
    assert!(err.to_string().contains("404"), "{err}");
}

const WAIT_FOR_GO: &str = "until test -f /workspace/go; do sleep 0.05; done";

#[tokio::test]
async fn reattach_after_a_crash_replays_everything_and_follows_live() {
    for mode in [
        ExitDetection::InspectAfterOutput,
        ExitDetection::Events,
        ExitDetection::Wait,
    ] {
        let b1 = backend_with(mode).await;
        let img = image(&b1).await;
        let run = run_id("reattach");
        let ws = b1.create_workspace(&run).await.unwrap();
        // Odd bytes, an empty line, a line half-written when the caller dies, 20,000 lines after
        // the reattach, a last line without a newline.
        let script = format!(
            "echo out1; echo err1 >&2; printf 'tab\\there  \\r\\n\\nx\\377y\\n'; printf half-; \
             {WAIT_FOR_GO}; echo rest; echo err2 >&2; seq 1 20000; printf 'no newline'; exit 7"
        );
        let l = launch(&run, "long[n=1]", img, &script);
        let first = crash_after(&b1, &l, &ws, "half-", "err1\n").await;
        drop(b1);
        let name = container(&l);

        // A new process.
        let b2 = backend_with(mode).await;
        assert_eq!(state(&b2, &name).await["Running"], true, "{mode:?}");
        let ws2 = b2.create_workspace(&run).await.unwrap();
        assert_eq!(ws2, ws);
        let second = LiveSink::default();
        let task = tokio::spawn({
            let (b2, l, ws2, mut sink) = (b2.clone(), l.clone(), ws2.clone(), second.clone());
            async move {
                b2.reattach(&l, &ws2, &mut sink, CancellationToken::new())
                    .await
            }
        });
        // Everything the engine has logged arrives while the step still waits: on Podman up to
        // the half-written line; Docker Engine's log (json-file) takes a line only once its
        // newline is written (or the output ends), so there the lines before it.
        let logged = match b2.info().kind {
            EngineKind::Podman => "half-",
            EngineKind::Docker => "x\u{fffd}y\n",
        };
        second.wait_for(Stream::Stdout, logged).await;
        second.wait_for(Stream::Stderr, "err1\n").await;
        assert_eq!(state(&b2, &name).await["Running"], true);
        signal(&b2, &ws2, img, "go").await;
        let exit = task.await.unwrap().unwrap();
        let exit = exit.unwrap();
        assert_eq!(untimed(exit), StepExit::exited(7), "{mode:?}");
        // The engine's record of its start and end (the die event does not say when).
        let (started, finished) = (exit.started_at.unwrap(), exit.finished_at.unwrap());
        assert!(started <= finished, "{mode:?}: {exit:?}");
        // Docker Engine's json-file log keeps lines as JSON strings: a byte that is not UTF-8
        // comes back from the replay as U+FFFD (the live attach stream keeps it).
        let odd: &[u8] = match b2.info().kind {
            EngineKind::Podman => b"\xff",
            EngineKind::Docker => "\u{fffd}".as_bytes(),
        };
        let mut expected = [&b"out1\ntab\there  \r\n\nx"[..], odd, b"y\nhalf-rest\n"].concat();
        for i in 1..=20000 {
            expected.extend_from_slice(format!("{i}\n").as_bytes());
        }
        expected.extend_from_slice(b"no newline");
        let got = second.stdout();
        assert!(
            got == expected,
            "{mode:?}: stdout differs: {} bytes, expected {}; first difference at {:?}",
            got.len(),
            expected.len(),
            got.iter().zip(&expected).position(|(a, b)| a != b)
        );
        assert_eq!(second.stderr(), b"err1\nerr2\n", "{mode:?}");
        assert!(second.started().is_some() && !second.output_before_start());
        // What the crashed caller saw is a prefix of it.
        // (It came live from the attach stream, byte for byte; on Docker Engine the replay's
        // U+FFFD stands for its odd byte.)
        let seen = match b2.info().kind {
            EngineKind::Podman => first.stdout(),
            EngineKind::Docker => String::from_utf8_lossy(&first.stdout()).as_bytes().to_vec(),
        };
        assert!(expected.starts_with(&seen), "{mode:?}");

        assert_removed(&b2, &run, &name).await;
        b2.finish_run(&ws2).await.unwrap();
        assert_nothing_left(&b2, &run).await;
    }
}

#[tokio::test]
async fn reattach_to_a_step_that_keeps_writing_loses_and_doubles_nothing() {
    // Output keeps coming while the replay reads the log again and again, with lines split across
    // reads (`p<i>-`, then its newline 10 ms later) on stdout and whole lines on stderr.
    let b1 = backend().await;
    let img = image(&b1).await;
    let run = run_id("chatty");
    let ws = b1.create_workspace(&run).await.unwrap();
    let script = "i=0; while [ $i -lt 300 ]; do echo o$i; echo e$i >&2; printf p$i-; \
                  sleep 0.01; echo; i=$((i+1)); done; exit 5";
    let l = launch(&run, "chatty", img, script);
    crash_after(&b1, &l, &ws, "o3\n", "e3\n").await;
    drop(b1);

    let b2 = backend().await;
    let mut rec = Recorder::default();
    let exit = b2
        .reattach(&l, &ws, &mut rec, CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(exit.and_then(|e| e.exit_code), Some(5));
    let out: String = (0..300).map(|i| format!("o{i}\np{i}-\n")).collect();
    let err: String = (0..300).map(|i| format!("e{i}\n")).collect();
    assert_eq!(rec.stdout(), out);
    assert_eq!(rec.stderr(), err);
    b2.finish_run(&ws).await.unwrap();
    assert_nothing_left(&b2, &run).await;
}

#[tokio::test]
async fn reattach_to_a_container_that_exited_meanwhile() {
    let b1 = backend().await;
    let img = image(&b1).await;
    let run = run_id("exited");
    let ws = b1.create_workspace(&run).await.unwrap();
    let script = format!(
        "echo a; echo b >&2; {WAIT_FOR_GO}; echo c; echo d >&2; printf 'no newline'; exit 3"
    );
    let l = launch(&run, "ends", img, &script);
    crash_after(&b1, &l, &ws, "a\n", "b\n").await;
    drop(b1);
    let name = container(&l);

    let b2 = backend().await;
    signal(&b2, &ws, img, "go").await;
    // Wait for the exit (bollard reports a non-zero exit as an error).
    let mut wait = b2.docker().wait_container(&name, None);
    let _ = futures::StreamExt::next(&mut wait).await;
    assert_eq!(state(&b2, &name).await["Running"], false);

    let ended = state(&b2, &name).await;
    let reattached = now_millis();
    let mut rec = Recorder::default();
    let exit = b2
        .reattach(&l, &ws, &mut rec, CancellationToken::new())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(untimed(exit), StepExit::exited(3));
    // It ended before the reattach: its times are the engine's, not the reattach's.
    let ms = |field: &str| {
        let text = ended[field].as_str().unwrap();
        let t = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
            .unwrap();
        i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap()
    };
    assert_eq!(exit.finished_at, Some(ms("FinishedAt")));
    // (Podman may record a short-lived container's start after its end: never passed on.)
    assert_eq!(exit.started_at, Some(ms("StartedAt").min(ms("FinishedAt"))));
    // Every replayed piece comes with the time the engine logged it (Podman 4.3: whole seconds),
    // before the reattach.
    let started_second = ms("StartedAt") - ms("StartedAt").rem_euclid(1000);
    assert!(!rec.times.is_empty());
    for at in &rec.times {
        assert!(
            at.is_some_and(|at| at >= started_second && at <= reattached),
            "{:?}",
            rec.times
        );
    }
    assert_eq!(rec.stdout(), "a\nc\nno newline");
    assert_eq!(rec.stderr(), "b\nd\n");
    assert!(rec.started.is_some() && !rec.output_before_start);
    assert_removed(&b2, &run, &name).await;
    b2.finish_run(&ws).await.unwrap();
    assert_nothing_left(&b2, &run).await;
}

#[tokio::test]
async fn reattach_delivers_exactly_what_run_step_delivered() {
    // The default removal policy keeps a finished container until finish_run: a new process can
    // replay it (as after a crash right after the step ended, before its result was stored).
    let b1 = backend().await;
    let img = image(&b1).await;
    let run = run_id("same");
    let ws = b1.create_workspace(&run).await.unwrap();
    // A 20,000-byte line (longer than the engine's log line buffer), NUL bytes, both streams.
    let script = "seq 1 3000; head -c 20000 /dev/zero | tr '\\0' x; echo; \
                  dd if=/dev/zero bs=1000 count=5 >&2 2>/dev/null; echo e >&2; seq 1 50 >&2; \
                  printf end; exit 3";
    let l = launch(&run, "same", img, script);
    let mut direct = Recorder::default();
    let first = b1
        .run_step(&l, &ws, &mut direct, CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(first.exit_code, Some(3));

    let b2 = backend().await;
    let mut replayed = Recorder::default();
    let again = b2
        .reattach(&l, &ws, &mut replayed, CancellationToken::new())
        .await
        .unwrap();
    // (Times may differ: the first learned its exit perhaps without an inspect.)
    assert_eq!(again.map(untimed), Some(untimed(first)));
    assert_eq!(
        replayed.stdout.len(),
        direct.stdout.len(),
        "first difference at {:?}",
        replayed
            .stdout
            .iter()
            .zip(&direct.stdout)
            .position(|(a, b)| a != b)
    );
    assert!(replayed.stdout == direct.stdout, "stdout differs");
    assert_eq!(replayed.stderr.len(), direct.stderr.len());
    assert!(replayed.stderr == direct.stderr, "stderr differs");
    assert_eq!(direct.stderr.len(), 5000 + 2 + 141);
    b1.finish_run(&ws).await.unwrap();
    assert_nothing_left(&b2, &run).await;
}

#[tokio::test]
async fn reattach_without_a_container_is_none() {
    let b = backend().await;
    let img = image(&b).await;
    let run = run_id("none");
    let ws = b.create_workspace(&run).await.unwrap();
    let mut rec = Recorder::default();
    let l = launch(&run, "never-launched", img, "true");
    let r = b
        .reattach(&l, &ws, &mut rec, CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(r, None);
    assert!(rec.started.is_none() && rec.stdout.is_empty());

    // A container of another attempt of the same step is not this attempt's.
    b.run_step(&l, &ws, &mut Recorder::default(), CancellationToken::new())
        .await
        .unwrap();
    let mut other = l.clone();
    other.attempt = 2;
    let r = b
        .reattach(&other, &ws, &mut rec, CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(r, None);
    assert!(rec.started.is_none());
    b.finish_run(&ws).await.unwrap();
    assert_nothing_left(&b, &run).await;
}

#[tokio::test]
async fn cancel_during_reattach_stops_and_removes_the_container() {
    let b1 = backend().await;
    let img = image(&b1).await;
    let run = run_id("recancel");
    let ws = b1.create_workspace(&run).await.unwrap();
    let l = launch(&run, "sleepy", img, "echo ready; sleep 1000");
    crash_after(&b1, &l, &ws, "ready", "").await;
    drop(b1);
    let name = container(&l);

    let b2 = backend().await;
    let sink = LiveSink::default();
    let cancel = CancellationToken::new();
    let task = tokio::spawn({
        let (b2, l, ws, mut sink, cancel) = (
            b2.clone(),
            l.clone(),
            ws.clone(),
            sink.clone(),
            cancel.clone(),
        );
        async move { b2.reattach(&l, &ws, &mut sink, cancel).await }
    });
    sink.wait_for(Stream::Stdout, "ready\n").await;
    cancel.cancel();
    let exit = task.await.unwrap().unwrap().unwrap();
    assert!(exit.stopped, "{exit:?}");
    assert_eq!(sink.stdout(), b"ready\n");
    assert_removed(&b2, &run, &name).await;
    b2.finish_run(&ws).await.unwrap();
    assert_nothing_left(&b2, &run).await;
}

#[tokio::test]
async fn reattach_starts_a_container_that_was_created_but_never_started() {
    let b = backend().await;
    let img = image(&b).await;
    let run = run_id("unstarted");
    let ws = b.create_workspace(&run).await.unwrap();
    let l = launch(&run, "late", img, "echo started late; echo e >&2; exit 4");
    // What an earlier process left when it died between create and start.
    let body = bollard::models::ContainerCreateBody {
        image: Some(img.to_string()),
        entrypoint: l.command.clone(),
        cmd: Some(vec![]),
        labels: Some(
            [
                (labels::RUN.to_string(), run.clone()),
                (labels::STEP.to_string(), l.step_key.clone()),
                (labels::ATTEMPT.to_string(), l.attempt.to_string()),
            ]
            .into(),
        ),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        ..Default::default()
    };
    let opts = bollard::query_parameters::CreateContainerOptionsBuilder::default()
        .name(&container(&l))
        .build();
    b.docker().create_container(Some(opts), body).await.unwrap();

    let mut rec = Recorder::default();
    let exit = b
        .reattach(&l, &ws, &mut rec, CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(exit.map(|e| e.exit_code), Some(Some(4)));
    assert_eq!(rec.stdout(), "started late\n");
    assert_eq!(rec.stderr(), "e\n");
    assert!(rec.started.is_some() && !rec.output_before_start);
    assert_removed(&b, &run, &container(&l)).await;
    b.finish_run(&ws).await.unwrap();
    assert_nothing_left(&b, &run).await;
}

#[tokio::test]
async fn create_workspace_twice_reuses_the_volume() {
    let b1 = backend().await;
    let img = image(&b1).await;
    let run = run_id("ws-twice");
    let ws = b1.create_workspace(&run).await.unwrap();
    let (w, rec) = run_to_end(
        &b1,
        &launch(&run, "write", img, "echo kept > /workspace/f"),
        &ws,
    )
    .await;
    assert_eq!(w.exit_code, Some(0), "{}", rec.stderr());

    // Again from this process, and from a new one.
    assert_eq!(b1.create_workspace(&run).await.unwrap(), ws);
    let b2 = backend_with_options(DockerOptions::default()).await;
    let again = b2.create_workspace(&run).await.unwrap();
    assert_eq!(again, ws);
    let (r, rec) = run_to_end(&b2, &launch(&run, "read", img, "cat /workspace/f"), &again).await;
    assert_eq!(r.exit_code, Some(0), "{}", rec.stderr());
    assert_eq!(rec.stdout(), "kept\n");
    assert_eq!(
        b2.list_volumes(labels::RUN, Some(&run))
            .await
            .unwrap()
            .len(),
        1
    );
    b2.finish_run(&again).await.unwrap();
    assert_nothing_left(&b2, &run).await;
}

#[tokio::test]
async fn create_workspace_refuses_a_volume_of_the_same_name_that_is_not_the_runs() {
    let b = backend().await;
    let run = run_id("ws-foreign");
    let name = names::volume_name(&run);
    let foreign = bollard::models::VolumeCreateRequest {
        name: Some(name.clone()),
        ..Default::default()
    };
    let _ = b.docker().create_volume(foreign).await;
    let err = b.create_workspace(&run).await.unwrap_err().to_string();
    assert!(
        err.contains(&name) && err.contains("not the workspace"),
        "{err}"
    );
    b.docker()
        .remove_volume(
            &name,
            None::<bollard::query_parameters::RemoveVolumeOptions>,
        )
        .await
        .unwrap();
}

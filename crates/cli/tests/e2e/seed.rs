//! SPEC §4: seed-format flows (original ContainerOps Gen-3) run unchanged.

use serde_json::json;

use crate::support::{image_exists, World, BUSYBOX};

/// A job image whose default command runs the script in `$JOB` (seed jobs have no command: the
/// image's own command runs).
const JOB_IMAGE: &str = "localhost/containerops-e2e/seed-job:1";

/// The flow, with each job's script in `$JOB`; the Kubernetes backend's tests run the same file.
const SEED_FLOW: &str = include_str!("../fixtures/seed-flow.yaml");

fn build_job_image(w: &World) {
    w.write(
        "seed-job/component.yaml",
        &format!(
            "name: seed-job\nversion: 1.0.0\nimage: {JOB_IMAGE}\nbuild:\n  context: .\n  containerfile: Containerfile\n"
        ),
    );
    w.write(
        "seed-job/Containerfile",
        &format!("FROM {BUSYBOX}\nCMD [\"sh\", \"-c\", \"eval \\\"$JOB\\\"\"]\n"),
    );
    let out = w.exec(&["component", "build", "seed-job"]);
    assert_eq!(out.code, 0, "{}", out.both());
    assert!(image_exists(JOB_IMAGE));
}

fn job(indent: usize, script: &str) -> String {
    let pad = " ".repeat(indent);
    let mut out = format!("{pad}- JOB: |\n");
    for line in script.lines() {
        out.push_str(&format!("{pad}    {line}\n"));
    }
    out
}

/// `environments` are passed verbatim (CO_DATA untouched), `outputs` are read with the §1
/// protocol, `subscriptions` wire an output into a later job's env var, jobs of an action run in
/// order, `sequencing: sequence` runs actions one after another, start/end stages are markers,
/// and the JSON names steps by stage and job name.
#[test]
fn seed_flow_runs_with_environments_outputs_and_subscriptions() {
    let w = World::new();
    build_job_image(&w);
    assert!(SEED_FLOW.contains(JOB_IMAGE));
    let file = w.write("flow.yaml", SEED_FLOW);
    let v = w.exec(&["validate".as_ref(), file.as_os_str()]);
    assert_eq!(v.code, 0, "{}", v.both());

    let run = w.run_json(&file, &[]);
    run.assert_all_succeeded();
    assert_eq!(run.json["workflow"], "e2e-flow");
    let named: Vec<(String, String)> = run
        .steps()
        .iter()
        .map(|s| {
            (
                s["stage"].as_str().unwrap().to_string(),
                s["action"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want = [
        ("build", "compile"),
        ("build", "package"),
        ("publish", "upload"),
        ("publish", "notify"),
    ];
    assert_eq!(
        named,
        want.map(|(s, a)| (s.to_string(), a.to_string())),
        "{}",
        run.pretty()
    );
    let artifact = "art:git-url=https://example.org/r.git entry-path=.|-Xmx1g";
    assert_eq!(
        run.step("compile")["outputs"]["CO_ARTIFACT"],
        json!(artifact),
        "CO_DATA and JAVA_OPTS verbatim\n{}",
        run.pretty()
    );
    assert_eq!(run.out("upload", "got"), artifact, "subscription wiring");
    assert_eq!(run.out("package", "packaged"), "yes");
    assert_eq!(
        run.out("package", "compile_memory"),
        "256000000",
        "resources.memory 256M of the compile job"
    );
    assert_eq!(run.out("notify", "notified"), "yes");
}

/// A seed job's `timeout` is in seconds; a job that outlives it fails with `timed out after 1s`
/// and what follows it is skipped.
#[test]
fn seed_job_timeout_in_seconds() {
    let w = World::new();
    build_job_image(&w);
    let flow = format!(
        r#"uri: demo/ci/slow-flow
stages:
  - type: normal
    name: build
    actions:
      - name: compile
        jobs:
          - name: hang
            endpoint: {JOB_IMAGE}
            timeout: 1
            environments:
{hang}          - name: after
            endpoint: {JOB_IMAGE}
            environments:
{after}"#,
        hang = job(14, "echo started\nsleep 600"),
        after = job(14, "echo after"),
    );
    let file = w.write("flow.yaml", &flow);
    let run = w.run_json(&file, &[]);
    assert_eq!(run.code, 1, "{}", run.pretty());
    assert_eq!(run.json["workflow"], "slow-flow");
    assert_eq!(run.status_of("hang"), "failed");
    let e = run.error_of("hang");
    assert!(e.contains("timed out after 1s"), "{e}");
    assert_eq!(run.status_of("after"), "skipped");
}

//! SPEC §2 and §3: components, stages, parallelism, needs, if:, retry, timeout, finally, matrix,
//! env, expressions and the shared workspace, on real containers.

use serde_json::{json, Value};

use crate::support::{sh, World};

/// A shell snippet that waits (bounded, ~60 s) for `file` to exist, else exits 9. Never a
/// synchronisation by time: it only returns early when the file exists.
fn wait_for_file(file: &str) -> String {
    format!(
        "i=0\nwhile [ ! -e {file} ]; do\n  i=$((i+1))\n  if [ $i -gt 600 ]; then echo \"gave up waiting for {file}\"; exit 9; fi\n  sleep 0.1\ndone\n"
    )
}

const PROBE_COMPONENT: &str = r#"name: probe
version: 1.2.3
description: reports its inputs and its memory limit
image: localhost/co-examples/busybox:latest
command:
  - sh
  - -c
  - |
    printf '[COUT] data_json<<EOF\n%s\nEOF\n' "$CO_DATA_JSON"
    echo "[COUT] data = $CO_DATA"
    if [ -f /sys/fs/cgroup/memory/memory.limit_in_bytes ]; then
      echo "[COUT] memory = $(cat /sys/fs/cgroup/memory/memory.limit_in_bytes)"
    elif [ -f /sys/fs/cgroup/memory.max ]; then
      echo "[COUT] memory = $(cat /sys/fs/cgroup/memory.max)"
    else
      echo "[COUT] memory = unknown"
    fi
    if [ -f /sys/fs/cgroup/cpu/cpu.cfs_quota_us ]; then
      echo "[COUT] cpu = $(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us)/$(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us)"
    else
      echo "[COUT] cpu = $(cat /sys/fs/cgroup/cpu.max | tr ' ' /)"
    fi
    echo "[COUT] greeting = $CO_INPUT_TEXT x$CO_INPUT_TIMES"
inputs:
  text: { type: string, required: true, description: what to say }
  times: { type: int, default: 2 }
  loud: { type: bool, default: false }
  ratio: { type: float, default: 0.5 }
  extra: { type: string, required: false }
outputs:
  data_json: { type: json, required: true }
  data: { type: string }
  memory: { type: string }
  cpu: { type: string }
  greeting: { type: string, required: true }
resources: { cpu: 0.5, memory: 64Mi }
timeout: 1m
kubernetes:
  nodeSelector: { disk: ssd }
  serviceAccountName: builder
"#;

/// A component from a directory (or a catalog `name@version`): `with`, defaults, typed inputs,
/// declared outputs, and its resources (memory and CPU limits are visible in the container's
/// cgroup); an action's `resources` override the component's, field by field.
#[test]
fn component_directory_inputs_defaults_and_memory_limit() {
    let w = World::new();
    w.write("components/probe/component.yaml", PROBE_COMPONENT);
    w.write("catalog/probe/1.2.3/component.yaml", PROBE_COMPONENT);
    let yaml = r#"name: comp-dir
inputs:
  n: { type: int, default: 4 }
stages:
  - name: s
    actions:
      - name: defaults
        component: ./components/probe
        with: { text: "hi there" }
      - name: typed
        component: ./components/probe
        with: { text: plain, times: "${{ inputs.n }}", loud: true, ratio: 2 }
        resources: { memory: 128Mi }
      - name: from-catalog
        component: probe@1.2.3
        with: { text: cat }
        resources: { cpu: 250m }
"#;
    let run = w.run_yaml(yaml, &["--input", "n=7"]);
    run.assert_all_succeeded();
    let d = &run.step("defaults")["outputs"];
    assert_eq!(
        d["data_json"],
        json!({"text": "hi there", "times": 2, "loud": false, "ratio": 0.5}),
        "{}",
        run.pretty()
    );
    assert_eq!(d["data"], r#"text="hi there" times=2 loud=false ratio=0.5"#);
    assert_eq!(d["greeting"], "hi there x2");
    assert_eq!(
        d["memory"], "67108864",
        "64Mi memory limit in the container"
    );
    let t = &run.step("typed")["outputs"];
    assert_eq!(
        t["data_json"],
        json!({"text": "plain", "times": 7, "loud": true, "ratio": 2.0}),
        "{}",
        run.pretty()
    );
    assert_eq!(t["memory"], "134217728", "the action's 128Mi wins");
    assert_eq!(t["cpu"], "50000/100000", "the component's cpu stays");
    let c = &run.step("from-catalog")["outputs"];
    assert_eq!(c["greeting"], "cat x2");
    assert_eq!(c["cpu"], "25000/100000", "the action's 250m wins");
    assert_eq!(c["memory"], "67108864", "the component's memory stays");
    assert_eq!(t["greeting"], "plain x7");
}

/// Two actions of one stage run at the same time: each waits for a file the other writes, which
/// only works if both run together. The next stage starts after both (stage order), and sees
/// their files in the shared /workspace.
#[test]
fn actions_of_a_stage_run_in_parallel_and_stages_in_order() {
    let w = World::new();
    let left = format!(
        "touch /workspace/left-started\n{}touch /workspace/left-done\n",
        wait_for_file("/workspace/right-started")
    );
    let right = format!(
        "touch /workspace/right-started\n{}touch /workspace/right-done\n",
        wait_for_file("/workspace/left-started")
    );
    let check = "test -e /workspace/left-done && test -e /workspace/right-done && echo '[COUT] both = done'\n";
    let yaml = format!(
        "name: parallel\nstages:\n  - name: one\n    actions:\n      - name: left\n        timeout: 90s\n{}      - name: right\n        timeout: 90s\n{}  - name: two\n    actions:\n      - name: check\n{}",
        sh(&left, 8),
        sh(&right, 8),
        sh(check, 8)
    );
    let run = w.run_yaml(&yaml, &[]);
    run.assert_all_succeeded();
    assert_eq!(run.out("check", "both"), "done");
    assert_eq!(run.step("left")["stage"], "one");
    assert_eq!(run.step("check")["stage"], "two");
}

/// `needs` replaces "the whole previous stage" with exactly the named actions: `fast-follow`
/// needs only `quick` and unblocks `slow`, which waits for its file; `same-stage` needs an action
/// of its own stage; `default` waits for the whole previous stage.
#[test]
fn needs_makes_a_dag() {
    let w = World::new();
    let slow = format!(
        "{}echo '[COUT] slow = finished'\n",
        wait_for_file("/workspace/fast-follow-done")
    );
    let quick = "echo '[COUT] v = from-quick'\n";
    let fast_follow = "echo \"[COUT] got = $CO_INPUT_V\"\ntouch /workspace/fast-follow-done\n";
    let same_stage =
        "test -e /workspace/fast-follow-done && echo \"[COUT] saw = $CO_INPUT_FROM\"\n";
    let default = "test -e /workspace/fast-follow-done && echo \"[COUT] after = $CO_INPUT_SLOW\"\n";
    let yaml = format!(
        r#"name: dag
stages:
  - name: one
    actions:
      - name: slow
        timeout: 90s
{}      - name: quick
{}  - name: two
    actions:
      - name: fast-follow
        needs: [quick]
        with: {{ v: "${{{{ actions.quick.outputs.v }}}}" }}
{}      - name: same-stage
        needs: [fast-follow]
        with: {{ from: "${{{{ actions.fast-follow.outputs.got }}}}" }}
{}      - name: default
        with: {{ slow: "${{{{ actions.slow.outputs.slow }}}}" }}
{}"#,
        sh(&slow, 8),
        sh(quick, 8),
        sh(fast_follow, 8),
        sh(same_stage, 8),
        sh(default, 8)
    );
    let run = w.run_yaml(&yaml, &[]);
    run.assert_all_succeeded();
    assert_eq!(run.out("fast-follow", "got"), "from-quick");
    assert_eq!(run.out("same-stage", "saw"), "from-quick");
    assert_eq!(run.out("default", "after"), "finished");
}

/// `if:` with failure(), always(), success() and status comparisons; skip propagation.
#[test]
fn if_conditions_and_skip_propagation() {
    let w = World::new();
    let ok = "echo '[COUT] ran = yes'\n";
    let yaml = format!(
        r#"name: conditions
stages:
  - name: one
    actions:
      - name: bad
{}      - name: good
{}  - name: two
    actions:
      - name: on-failure
        if: failure()
{}      - name: on-always
        if: ${{{{ always() }}}}
{}      - name: on-success
        if: success()
{}      - name: plain
{}      - name: only-good
        needs: [good]
{}  - name: three
    actions:
      - name: after-skip
        needs: [plain]
{}      - name: after-skip-always
        needs: [plain]
        if: always()
{}      - name: status-check
        needs: [bad, good]
        if: "failure() && actions.bad.status == 'failed' && actions.good.status == 'succeeded'"
{}      - name: transitively-skipped
        needs: [after-skip]
        if: success()
{}"#,
        sh("echo failing\nexit 1", 8),
        sh(ok, 8),
        sh(ok, 8),
        sh(ok, 8),
        sh(ok, 8),
        sh(ok, 8),
        sh(ok, 8),
        sh(ok, 8),
        sh(ok, 8),
        sh(ok, 8),
        sh(ok, 8),
    );
    let run = w.run_yaml(&yaml, &[]);
    assert_eq!(run.code, 1, "{}", run.pretty());
    assert_eq!(run.status(), "failed");
    let expect = [
        ("bad", "failed"),
        ("good", "succeeded"),
        ("on-failure", "succeeded"),
        ("on-always", "succeeded"),
        ("on-success", "skipped"),
        ("plain", "skipped"),
        ("only-good", "succeeded"),
        ("after-skip", "skipped"),
        ("after-skip-always", "succeeded"),
        ("status-check", "succeeded"),
        ("transitively-skipped", "skipped"),
    ];
    for (action, status) in expect {
        assert_eq!(run.status_of(action), status, "{action}\n{}", run.pretty());
        if status == "succeeded" {
            assert_eq!(run.out(action, "ran"), "yes");
        } else if status == "skipped" {
            assert_eq!(run.step(action)["outputs"], json!({}), "{}", run.pretty());
        }
    }
}

/// A retried step sees `CO_ATTEMPT`; it fails on attempt 1 and succeeds on 2. A step that
/// always fails uses all its attempts.
#[test]
fn retry_counts_attempts_with_co_attempt() {
    let w = World::new();
    let flaky = "echo \"attempt $CO_ATTEMPT\"\nif [ \"$CO_ATTEMPT\" = 1 ]; then exit 1; fi\necho \"[COUT] attempt = $CO_ATTEMPT\"\n";
    let yaml = format!(
        "name: retries\nstages:\n  - name: s\n    actions:\n      - name: flaky\n        retry: {{ attempts: 2, backoff: 1s }}\n{}      - name: hopeless\n        retry: {{ attempts: 2, backoff: 1s }}\n{}",
        sh(flaky, 8),
        sh("exit 4", 8)
    );
    let run = w.run_yaml(&yaml, &[]);
    assert_eq!(run.code, 1, "{}", run.pretty());
    let flaky = run.step("flaky");
    assert_eq!(flaky["status"], "succeeded", "{}", run.pretty());
    assert_eq!(flaky["attempts"], 2);
    assert_eq!(flaky["exit_code"], 0);
    assert_eq!(flaky["outputs"], json!({"attempt": "2"}));
    // The progress says that it retries, which attempt of how many, and after what delay.
    assert!(
        run.stderr.contains(
            "==> flaky failed (attempt 1 of 2): exit code 1; retrying in 1.0s (attempt 2 of 2)"
        ),
        "{}",
        run.stderr
    );
    let logs = w.logs(run.id(), Some("flaky"));
    assert!(
        logs.contains("attempt 1") && logs.contains("attempt 2"),
        "{logs}"
    );
    let hopeless = run.step("hopeless");
    assert_eq!(hopeless["status"], "failed");
    assert_eq!(hopeless["attempts"], 2);
    assert_eq!(hopeless["exit_code"], 4);
    assert!(run.error_of("hopeless").contains("exit code 4"));
}

/// An action's `timeout` stops a `sleep 600`: the step fails with `timed out after 15s`, what it
/// printed before is kept, and no container is left (checked by `run_json` for every run). A
/// component's own `timeout` (2s) applies too, and an action's `timeout` overrides it.
///
/// The bounds do not depend on the machine's speed: the `sleeper` has 15 s to start its container
/// and print its line before its timeout fires (a loaded machine may take seconds to start three
/// containers), and nothing is asserted about what `component-timeout` prints before its 2 s.
///
/// Both are `sh -c` scripts, which as PID 1 would ignore SIGTERM: the init process the steps run
/// with passes it on, so with a 10-minute stop grace the containers still end at once, by SIGTERM
/// (exit code 143; 137 would mean SIGKILL). The CLI says when a timeout fires.
#[test]
fn timeout_kills_the_container() {
    let w = World::new();
    w.write(
        "components/sleepy/component.yaml",
        "name: sleepy\nversion: 1.0.0\nimage: localhost/co-examples/busybox:latest\ncommand: [\"sh\", \"-c\", \"sleep $CO_INPUT_SECONDS; echo '[COUT] slept = yes'\"]\ninputs:\n  seconds: { type: int }\ntimeout: 2s\n",
    );
    let yaml = format!(
        r#"name: timeouts
stages:
  - name: s
    actions:
      - name: sleeper
        timeout: 15s
{}      - name: component-timeout
        component: ./components/sleepy
        with: {{ seconds: 600 }}
      - name: overridden
        component: ./components/sleepy
        with: {{ seconds: 4 }}
        timeout: 2m
"#,
        sh("echo sleeping\nsleep 600", 8)
    );
    let run = w.run_yaml(&yaml, &["--stop-grace", "10m"]);
    assert_eq!(run.code, 1, "{}", run.pretty());
    assert_eq!(run.status(), "failed");
    assert_eq!(run.status_of("sleeper"), "failed");
    let e = run.error_of("sleeper");
    assert!(e.contains("timed out after 15s"), "{e}");
    for (action, limit) in [("sleeper", "15s"), ("component-timeout", "2s")] {
        assert_eq!(
            run.step(action)["exit_code"],
            143,
            "{action} was stopped by SIGTERM: {}",
            run.pretty()
        );
        let said = format!("==> {action} timed out after {limit}: stopping it");
        assert!(run.stderr.contains(&said), "{said}\n{}", run.pretty());
    }
    assert!(w.logs(run.id(), Some("sleeper")).contains("sleeping"));
    assert_eq!(run.status_of("component-timeout"), "failed");
    let e = run.error_of("component-timeout");
    assert!(e.contains("timed out after 2s"), "{e}");
    assert_eq!(run.status_of("overridden"), "succeeded", "{}", run.pretty());
    assert_eq!(run.out("overridden", "slept"), "yes");
}

/// `finally` runs after a failure and sees `run.status`; a stage after the failure is skipped.
#[test]
fn finally_runs_after_failure_with_run_status() {
    let w = World::new();
    let yaml = format!(
        r#"name: finally-fail
stages:
  - name: one
    actions:
      - name: breaks
{}  - name: two
    actions:
      - name: never
{}finally:
  - name: report
    with: {{ status: "${{{{ run.status }}}}", id: "${{{{ run.id }}}}" }}
{}"#,
        sh("exit 2", 8),
        sh("echo never", 8),
        sh(
            "echo \"run ended: $CO_INPUT_STATUS\"\necho \"[COUT] status = $CO_INPUT_STATUS\"\necho \"[COUT] id = $CO_INPUT_ID\"",
            4
        )
    );
    let run = w.run_yaml(&yaml, &[]);
    assert_eq!(run.code, 1, "{}", run.pretty());
    assert_eq!(run.status(), "failed");
    assert_eq!(run.status_of("breaks"), "failed");
    assert_eq!(run.status_of("never"), "skipped");
    assert_eq!(run.status_of("report"), "succeeded", "{}", run.pretty());
    assert_eq!(run.out("report", "status"), "failed");
    assert_eq!(run.out("report", "id"), run.id());
    // finally runs last
    assert_eq!(run.steps().last().unwrap()["action"], "report");
    assert!(w
        .logs(run.id(), Some("report"))
        .contains("run ended: failed"));
}

/// A matrix runs one copy per combination, named `act[os=a,n=1]`; `max-parallel: 1` runs them
/// one at a time (each holds a lock directory in /workspace that `mkdir` refuses to create twice).
#[test]
fn matrix_copies_with_max_parallel_one() {
    let w = World::new();
    let copy = "mkdir /workspace/lock || { echo \"lock taken: ran in parallel\"; exit 7; }\necho \"$CO_INPUT_OS-$CO_INPUT_N\" >> /workspace/copies\necho \"hi from $CO_INPUT_OS-$CO_INPUT_N\"\necho \"[COUT] combo = ${{ matrix.os }}/${{ matrix.n }}\"\necho \"[COUT] action = $CO_ACTION\"\nsleep 1\nrmdir /workspace/lock\n";
    let count = "echo \"[COUT] copies = $(wc -l < /workspace/copies)\"\n";
    let yaml = format!(
        r#"name: matrix
stages:
  - name: fan
    actions:
      - name: act
        matrix: {{ os: [a, b], n: [1, 2] }}
        max-parallel: 1
        with: {{ os: "${{{{ matrix.os }}}}", n: "${{{{ matrix.n }}}}" }}
{}  - name: gather
    actions:
      - name: count
{}"#,
        sh(copy, 8),
        sh(count, 8)
    );
    let run = w.run_yaml(&yaml, &[]);
    run.assert_all_succeeded();
    let mut names: Vec<String> = run
        .steps()
        .iter()
        .filter(|s| s["stage"] == "fan")
        .map(|s| s["action"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "act[os=a,n=1]",
            "act[os=a,n=2]",
            "act[os=b,n=1]",
            "act[os=b,n=2]"
        ]
    );
    for (os, n) in [("a", 1), ("a", 2), ("b", 1), ("b", 2)] {
        let name = format!("act[os={os},n={n}]");
        assert_eq!(run.out(&name, "combo"), format!("{os}/{n}"));
        // CO_ACTION of a copy: the action's name (the SPEC does not say whether a copy's
        // CO_ACTION carries its matrix values).
        let action = run.out(&name, "action");
        assert!(action == "act" || action == name, "{action}");
    }
    assert_eq!(run.out("count", "copies").trim(), "4");
    let copy_logs = w.logs(run.id(), Some("act[os=b,n=2]"));
    assert!(!copy_logs.contains("lock taken"), "{copy_logs}");
    assert!(
        copy_logs.lines().any(|l| l == "hi from b-2") && !copy_logs.contains(" | "),
        "one copy's lines are bare: {copy_logs}"
    );
    // The matrix action's lines say which copy printed each.
    let action_logs = w.logs(run.id(), Some("act"));
    for (os, n) in [("a", 1), ("a", 2), ("b", 1), ("b", 2)] {
        assert!(
            action_logs.contains(&format!("act[os={os},n={n}] | hi from {os}-{n}")),
            "{action_logs}"
        );
    }
    let all = w.logs(run.id(), None);
    for name in &names {
        assert!(
            all.contains(&format!("{name} | ")),
            "`logs ID` labels lines of {name}:\n{all}"
        );
    }
}

/// Workflow env, then action env (which may refer to the workflow's); both reach the container.
#[test]
fn env_layers_workflow_then_action() {
    let w = World::new();
    let yaml = format!(
        r#"name: envs
inputs:
  who: {{ type: string, default: nobody }}
env: {{ A: wf-a, B: wf-b, WHO: "${{{{ inputs.who }}}}" }}
stages:
  - name: s
    actions:
      - name: layered
        env: {{ B: act-b, C: "${{{{ env.A }}}}-plus", D: "${{{{ 40 }}}}" }}
{}      - name: plain
{}"#,
        sh(
            "echo \"[COUT] a = $A\"\necho \"[COUT] b = $B\"\necho \"[COUT] c = $C\"\necho \"[COUT] d = $D\"\necho \"[COUT] who = $WHO\"",
            8
        ),
        sh("echo \"[COUT] b = $B\"\necho \"[COUT] c = ${C:-unset}\"", 8)
    );
    let run = w.run_yaml(&yaml, &["--input", "who=team"]);
    run.assert_all_succeeded();
    assert_eq!(
        run.step("layered")["outputs"],
        json!({"a": "wf-a", "b": "act-b", "c": "wf-a-plus", "d": "40", "who": "team"})
    );
    assert_eq!(
        run.step("plain")["outputs"],
        json!({"b": "wf-b", "c": "unset"})
    );
}

/// contains, startsWith, format, toJSON, fromJSON, comparisons in `if:`, and a string that is
/// exactly one `${{ }}` keeping its type (CO_DATA_JSON shows a number, a bool, an object).
#[test]
fn expressions_and_typed_templates() {
    let w = World::new();
    let show = "printf '[COUT] data_json<<EOF\\n%s\\nEOF\\n' \"$CO_DATA_JSON\"\necho \"[COUT] cmd_arg = ${{ format('{0}+{1}', inputs.word, inputs.count) }}\"\n";
    let yaml = format!(
        r#"name: exprs
inputs:
  count: {{ type: int, default: 3 }}
  word: {{ type: string, default: hello }}
  obj: {{ type: json, default: {{ "k": [1, 2] }} }}
stages:
  - name: s
    actions:
      - name: first
{}      - name: build-linux
        needs: [first]
{}      - name: calc
        needs: [first, build-linux]
        with:
          num: "${{{{ inputs.count }}}}"
          text_num: "n=${{{{ inputs.count }}}}"
          has: "${{{{ contains('hello world', 'lo w') }}}}"
          starts: "${{{{ startsWith(inputs.word, 'he') }}}}"
          fmt: "${{{{ format('{{0}}-{{1}}-{{0}}', inputs.word, inputs.count) }}}}"
          js: "${{{{ toJSON(inputs.obj) }}}}"
          parsed: "${{{{ fromJSON('{{\"a\": {{\"b\": true}}}}') }}}}"
          cmp: "${{{{ inputs.count >= 3 && inputs.word != 'bye' }}}}"
          ref: "${{{{ actions.first.outputs.value }}}}"
          hyphens: "${{{{ actions.build-linux.outputs.image-tag }}}}"
        {}
      - name: yes-if
        needs: [first]
        if: ${{{{ inputs.count > 2 && contains(actions.first.outputs.value, 'irs') && (1 < 2 || false) }}}}
{}      - name: no-if
        needs: [first]
        if: inputs.count <= 2 || !startsWith(inputs.word, 'he')
{}"#,
        sh("echo '[COUT] value = first-value'", 8),
        sh("echo '[COUT] image-tag = v1.2-linux'", 8),
        sh(show, 8).trim_start(),
        sh("echo '[COUT] ran = yes'", 8),
        sh("echo '[COUT] ran = yes'", 8),
    );
    let run = w.run_yaml(&yaml, &[]);
    assert_eq!(run.code, 0, "{}", run.pretty());
    assert_eq!(run.status_of("calc"), "succeeded");
    let data: Value = serde_json::from_str(&run.out("calc", "data_json")).unwrap();
    assert_eq!(
        data["num"],
        json!(3),
        "exactly one ${{{{ }}}} keeps the number"
    );
    assert_eq!(
        data["text_num"],
        json!("n=3"),
        "text around it makes a string"
    );
    assert_eq!(data["has"], json!(true));
    assert_eq!(data["starts"], json!(true));
    assert_eq!(data["fmt"], json!("hello-3-hello"));
    let js = data["js"].as_str().expect("toJSON gives a string");
    assert_eq!(
        serde_json::from_str::<Value>(js).unwrap(),
        json!({"k": [1, 2]})
    );
    assert_eq!(data["parsed"], json!({"a": {"b": true}}));
    assert_eq!(data["cmp"], json!(true));
    assert_eq!(data["ref"], json!("first-value"));
    assert_eq!(
        data["hyphens"],
        json!("v1.2-linux"),
        "a hyphenated reference, not a subtraction"
    );
    assert_eq!(run.out("calc", "cmd_arg"), "hello+3");
    assert_eq!(run.status_of("yes-if"), "succeeded");
    assert_eq!(run.status_of("no-if"), "skipped");
}

/// Files written to /workspace by one step are there for later steps (a volume per run), also
/// from a component, and the volume is gone after the run (checked by `run_json`).
#[test]
fn workspace_is_shared_between_steps() {
    let w = World::new();
    let yaml = format!(
        "name: workspace\nstages:\n  - name: write\n    actions:\n      - name: writer\n{}  - name: read\n    actions:\n      - name: reader\n{}",
        sh(
            "echo \"from $CO_ACTION of $CO_RUN_ID\" > \"$CO_WORKSPACE/note.txt\"\nmkdir -p /workspace/dir && echo deep > /workspace/dir/file",
            8
        ),
        sh(
            "echo \"[COUT] note = $(cat /workspace/note.txt)\"\necho \"[COUT] deep = $(cat /workspace/dir/file)\"",
            8
        )
    );
    let run = w.run_yaml(&yaml, &[]);
    run.assert_all_succeeded();
    assert_eq!(
        run.out("reader", "note"),
        format!("from writer of {}", run.id())
    );
    assert_eq!(run.out("reader", "deep"), "deep");
}

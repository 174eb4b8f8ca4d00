//! SPEC §1: the component protocol, on real containers.

use serde_json::{json, Value};

use crate::support::{base64, sh, World, BUSYBOX};

/// CO_DATA quoting, CO_DATA_JSON types, CO_INPUT_* names and the context variables, each echoed
/// back as an output.
#[test]
fn step_gets_co_data_json_inputs_and_context_variables() {
    let w = World::new();
    let script = r#"printf '[COUT] data<<EOF_DATA\n%s\nEOF_DATA\n' "$CO_DATA"
printf '[COUT] data_json<<EOF_DATA\n%s\nEOF_DATA\n' "$CO_DATA_JSON"
echo "[COUT] in_msg = $CO_INPUT_MSG"
echo "[COUT] in_q = $CO_INPUT_Q"
echo "[COUT] in_quote = $CO_INPUT_QUOTE"
echo "[COUT] in_back = $CO_INPUT_BACK"
echo "[COUT] in_hyphen = $CO_INPUT_MY_INPUT"
echo "[COUT] in_count = $CO_INPUT_COUNT"
echo "[COUT] in_flag = $CO_INPUT_FLAG"
echo "[COUT] in_empty_set = ${CO_INPUT_EMPTY+set}"
echo "[COUT] run_id = $CO_RUN_ID"
echo "[COUT] workflow = $CO_WORKFLOW"
echo "[COUT] stage = $CO_STAGE"
echo "[COUT] action = $CO_ACTION"
echo "[COUT] attempt = $CO_ATTEMPT"
echo "[COUT] workspace = $CO_WORKSPACE"
touch "$CO_WORKSPACE/writable" && echo "[COUT] workspace_writable = yes"
"#;
    let yaml = format!(
        r#"name: proto-env
inputs:
  count: {{ type: int, default: 3 }}
stages:
  - name: first-stage
    actions:
      - name: show-env
{}        with:
          msg: "hello world"
          q: "a=b"
          plain: x
          empty: ""
          quote: 'say "hi"'
          back: 'a\b'
          tab: "a\tb"
          count: "${{{{ inputs.count }}}}"
          flag: "${{{{ true }}}}"
          my-input: hyphen
          mixed: "n=${{{{ inputs.count }}}}"
"#,
        sh(script, 8)
    );
    let run = w.run_yaml(&yaml, &[]);
    run.assert_all_succeeded();
    let o = |k: &str| run.out("show-env", k);
    assert_eq!(
        o("data"),
        r#"msg="hello world" q=a=b plain=x empty="" quote="say \"hi\"" back="a\\b" tab="a\tb" count=3 flag=true my-input=hyphen mixed=n=3"#,
        "{}",
        run.pretty()
    );
    let data_json: Value = serde_json::from_str(&o("data_json")).unwrap();
    assert_eq!(
        data_json,
        json!({"msg": "hello world", "q": "a=b", "plain": "x", "empty": "",
               "quote": "say \"hi\"", "back": "a\\b", "tab": "a\tb", "count": 3,
               "flag": true, "my-input": "hyphen", "mixed": "n=3"})
    );
    assert_eq!(o("in_msg"), "hello world");
    assert_eq!(o("in_q"), "a=b");
    assert_eq!(o("in_quote"), "say \"hi\"");
    assert_eq!(o("in_back"), "a\\b");
    assert_eq!(o("in_hyphen"), "hyphen");
    assert_eq!(o("in_count"), "3");
    assert_eq!(o("in_flag"), "true");
    assert_eq!(o("in_empty_set"), "set");
    assert_eq!(o("run_id"), run.id());
    assert_eq!(o("workflow"), "proto-env");
    assert_eq!(o("stage"), "first-stage");
    assert_eq!(o("action"), "show-env");
    assert_eq!(o("attempt"), "1");
    assert_eq!(o("workspace"), "/workspace");
    assert_eq!(o("workspace_writable"), "yes");
    assert_eq!(run.json["workflow"], "proto-env");
    assert_eq!(run.step("show-env")["stage"], "first-stage");
    assert_eq!(run.step("show-env")["attempts"], 1);
}

/// SPEC §1: CO_DATA_JSON carries typed values. A plain YAML scalar in `with` of a plain image step
/// is typed the YAML 1.2 way (`12` an int, `true` a bool, `1.5` a float); a quoted one is a string.
#[test]
fn yaml_literals_in_with_keep_their_type_in_co_data_json() {
    let w = World::new();
    let yaml = format!(
        "name: proto-literals\nstages:\n  - name: s\n    actions:\n      - name: lit\n{}        with: {{ n: 12, flag: true, ratio: 1.5, quoted: \"12\", word: yes-no }}\n",
        sh("printf '[COUT] data_json<<EOF\\n%s\\nEOF\\n' \"$CO_DATA_JSON\"\necho \"[COUT] data = $CO_DATA\"", 8)
    );
    let run = w.run_yaml(&yaml, &[]);
    run.assert_all_succeeded();
    assert_eq!(
        run.out("lit", "data"),
        "n=12 flag=true ratio=1.5 quoted=12 word=yes-no"
    );
    let data: Value = serde_json::from_str(&run.out("lit", "data_json")).unwrap();
    assert_eq!(
        data,
        json!({"n": 12, "flag": true, "ratio": 1.5, "quoted": "12", "word": "yes-no"}),
        "{}",
        run.pretty()
    );
}

/// `[COUT]` lines from stdout and stderr, with and without spaces, heredocs, later-wins, plain
/// `[COUT]` log lines, and a plain image step keeping every key.
#[test]
fn cout_lines_set_outputs_from_stdout_and_stderr() {
    let w = World::new();
    let script = r#"echo "[COUT] spaced = one two"
echo "[COUT] nospace=v1"
echo "[COUT] from_stderr = err-side" >&2
echo "[COUT] dotted.key-x = d"
echo "[COUT] trimmed =    padded value   "
echo "[COUT] dup = first"
echo "[COUT] dup = second"
echo "[COUT] just a log line"
echo "[COUT] 9bad = not a key"
echo "[COUT] empty ="
echo "not an output: key = value"
echo "[COUT] multi<<END"
echo "line one"
echo "  line two  "
echo ""
echo "[COUT] not_a_key = inside heredoc"
echo "END"
echo "[COUT] err_multi<<STOP" >&2
echo "e1" >&2
echo "e2" >&2
echo "STOP" >&2
echo "[COUT] CO_RESULT = true"
echo "[COUT] unicode = ünïcødé→✓ 日本"
printf '[COUT] crlf = windows\r\n'
printf '[COUT] last = no newline at the end'
"#;
    let yaml = format!(
        "name: proto-cout\nstages:\n  - name: s\n    actions:\n      - name: talk\n{}",
        sh(script, 8)
    );
    let run = w.run_yaml(&yaml, &[]);
    run.assert_all_succeeded();
    let mut outputs = run.step("talk")["outputs"].as_object().unwrap().clone();
    outputs.shift_remove("CO_RESULT"); // the verdict, whether or not it is also kept as a key
    assert_eq!(
        Value::Object(outputs),
        json!({
            "spaced": "one two",
            "nospace": "v1",
            "from_stderr": "err-side",
            "dotted.key-x": "d",
            "trimmed": "padded value",
            "dup": "second",
            "multi": "line one\n  line two  \n\n[COUT] not_a_key = inside heredoc",
            "err_multi": "e1\ne2",
            "empty": "",
            "unicode": "ünïcødé→✓ 日本",
            "crlf": "windows",
            "last": "no newline at the end",
        }),
        "{}",
        run.pretty()
    );
    let logs = w.logs(run.id(), Some("talk"));
    assert!(logs.contains("[COUT] just a log line"), "{logs}");
    assert!(logs.contains("not an output: key = value"), "{logs}");
    assert!(logs.contains("[COUT] 9bad = not a key"), "{logs}");
}

/// Two steps: `big` prints a one-line value of `bytes` bytes, `heredoc` a multi-line value of
/// `bytes` bytes (lines of 1023 bytes joined with `\n`).
fn big_output_workflow(bytes: usize) -> String {
    let script = format!(
        "printf '[COUT] big = '\nhead -c {bytes} /dev/zero | tr '\\0' 'a'\necho\necho \"[COUT] small = ok\"\n"
    );
    let heredoc = format!(
        "echo '[COUT] doc<<END'\nyes \"$(head -c 1023 /dev/zero | tr '\\0' b)\" | head -c {bytes}\necho\necho END\n"
    );
    format!(
        "name: proto-big\nstages:\n  - name: s\n    actions:\n      - name: big\n{}      - name: heredoc\n{}",
        sh(&script, 8),
        sh(&heredoc, 8)
    )
}

#[test]
fn output_of_exactly_one_mib_is_kept() {
    let w = World::new();
    let run = w.run_yaml(&big_output_workflow(1024 * 1024), &[]);
    run.assert_all_succeeded();
    let big = run.out("big", "big");
    assert_eq!(big.len(), 1024 * 1024);
    assert!(big.bytes().all(|b| b == b'a'));
    assert_eq!(run.out("big", "small"), "ok");
    let doc = run.out("heredoc", "doc");
    assert_eq!(doc.len(), 1024 * 1024);
    // 1024 lines of 1023 `b` and a newline each (the last line of the heredoc was empty)
    assert_eq!(doc.lines().count(), 1024);
    assert!(doc
        .lines()
        .all(|l| l.len() == 1023 && l.bytes().all(|b| b == b'b')));
}

/// A 1 MiB output passed on as an input is too large for a process environment: the next step
/// gets it as files (`CO_INPUT_V_FILE`, `CO_DATA_FILE`, `CO_DATA_JSON_FILE`) and reads it whole.
#[test]
fn a_one_mib_output_feeds_the_next_step_as_files() {
    let w = World::new();
    let write = "printf '[COUT] v = '\nhead -c 1048576 /dev/zero | tr '\\0' 'a'\necho\n";
    let read = r#"echo "[COUT] v_bytes = $(wc -c < "$CO_INPUT_V_FILE")"
echo "[COUT] v_as = $(tr -d a < "$CO_INPUT_V_FILE" | wc -c)"
echo "[COUT] data_bytes = $(wc -c < "$CO_DATA_FILE")"
echo "[COUT] json_bytes = $(wc -c < "$CO_DATA_JSON_FILE")"
echo "[COUT] v_set = ${CO_INPUT_V+set}"
echo "[COUT] small = $CO_INPUT_SMALL"
echo "[COUT] mode = $(stat -c %a "$CO_INPUT_V_FILE")"
"#;
    let yaml = format!(
        "name: proto-big-input\nstages:\n  - name: one\n    actions:\n      - name: write\n{}  - name: two\n    actions:\n      - name: read\n{}        with:\n          v: \"${{{{ actions.write.outputs.v }}}}\"\n          small: ok\n",
        sh(write, 8),
        sh(read, 8)
    );
    let run = w.run_yaml(&yaml, &[]);
    run.assert_all_succeeded();
    let o = |k: &str| run.out("read", k);
    assert_eq!(o("v_bytes"), "1048576", "{}", run.pretty());
    assert_eq!(o("v_as"), "0", "only `a`s");
    assert_eq!(o("data_bytes"), (1048576 + "v= small=ok".len()).to_string());
    assert_eq!(
        o("json_bytes"),
        (1048576 + r#"{"v":"","small":"ok"}"#.len()).to_string()
    );
    assert_eq!(o("v_set"), "", "the variable itself is not set");
    assert_eq!(o("small"), "ok", "small inputs stay variables");
    assert_eq!(o("mode"), "444");
}

/// A command the runtime cannot start (not a program) fails with the runtime's words, not a bare
/// exit code, and is not retried.
#[test]
fn a_command_that_cannot_start_fails_with_the_runtimes_words() {
    let w = World::new();
    let yaml = format!(
        r#"name: proto-no-start
stages:
  - name: one
    actions:
      - name: write
{}  - name: two
    actions:
      - name: run
        image: {BUSYBOX}
        command: ["/workspace/notbin"]
        retry: {{ attempts: 3 }}
"#,
        sh(
            "printf 'garbage\\0\\1' > /workspace/notbin\nchmod -x /workspace/notbin",
            8
        )
    );
    let run = w.run_yaml(&yaml, &[]);
    assert_eq!(run.code, 1, "{}", run.pretty());
    // Steps run under an init process, which execs the command and reports what stopped it
    // (a file without a #! line but executable is run by /bin/sh, as execvp does, so the case
    // that cannot start is a file that is not executable).
    let error = run.error_of("run");
    assert!(
        error.contains("could not start") && error.contains("Permission denied"),
        "{error}"
    );
    assert_eq!(run.step("run")["attempts"], 1);
}

#[test]
fn output_over_one_mib_fails_the_step() {
    let w = World::new();
    let run = w.run_yaml(&big_output_workflow(1024 * 1024 + 1), &[]);
    assert_eq!(run.code, 1, "{}", run.pretty());
    assert_eq!(run.status(), "failed");
    let step = run.step("big");
    assert_eq!(step["status"], "failed");
    assert_eq!(step["exit_code"], 0);
    let error = run.error_of("big");
    assert!(
        error.contains("big") && error.contains("1 MiB"),
        "the error should name the output and the 1 MiB limit: {error}"
    );
    assert!(step["outputs"].get("big").is_none(), "{}", run.pretty());
    let step = run.step("heredoc");
    assert_eq!(step["status"], "failed", "{}", run.pretty());
    let error = run.error_of("heredoc");
    assert!(error.contains("doc") && error.contains("1 MiB"), "{error}");
}

/// `CO_RESULT = false` fails a step that exits 0; `CO_RESULT = TRUE` is a success; what waits for
/// the failed step is skipped.
#[test]
fn co_result_false_fails_a_step_that_exits_zero() {
    let w = World::new();
    let yaml = format!(
        "name: proto-verdict\nstages:\n  - name: s\n    actions:\n      - name: says-no\n{}      - name: says-yes\n{}  - name: after\n    actions:\n      - name: next\n{}",
        sh("echo \"[COUT] CO_RESULT = False\"\necho \"[COUT] kept = 1\"\nexit 0", 8),
        sh("echo \"[COUT] CO_RESULT = TRUE\"", 8),
        sh("echo should not run", 8),
    );
    let run = w.run_yaml(&yaml, &[]);
    assert_eq!(run.code, 1, "{}", run.pretty());
    assert_eq!(run.status(), "failed");
    let no = run.step("says-no");
    assert_eq!(no["status"], "failed", "{}", run.pretty());
    assert_eq!(no["exit_code"], 0);
    assert!(
        run.error_of("says-no").contains("CO_RESULT"),
        "{}",
        run.pretty()
    );
    assert_eq!(run.status_of("says-yes"), "succeeded");
    assert_eq!(run.status_of("next"), "skipped");
}

#[test]
fn nonzero_exit_code_fails_the_step() {
    let w = World::new();
    let yaml = format!(
        "name: proto-exit\nstages:\n  - name: s\n    actions:\n      - name: three\n{}",
        sh("echo about to fail\nexit 3", 8)
    );
    let run = w.run_yaml(&yaml, &[]);
    assert_eq!(run.code, 1, "{}", run.pretty());
    assert_eq!(run.status(), "failed");
    let step = run.step("three");
    assert_eq!(step["status"], "failed");
    assert_eq!(step["exit_code"], 3);
    assert_eq!(step["attempts"], 1);
    assert!(
        run.error_of("three").contains("exit code 3"),
        "{}",
        run.pretty()
    );
    assert!(w.logs(run.id(), Some("three")).contains("about to fail"));
}

const TYPED_COMPONENT: &str = r#"name: typed
version: 1.0.0
description: prints outputs depending on its mode
image: localhost/co-examples/busybox:latest
command:
  - sh
  - -c
  - |
    [ "$CO_INPUT_MODE" = no-result ] || echo "[COUT] result = r-$CO_INPUT_MODE"
    echo "[COUT] data = {\"a\": [1, 2], \"b\": null}"
    echo "[COUT] ok = true"
    echo "[COUT] ratio = 2.5"
    echo "[COUT] undeclared = dropped"
    case "$CO_INPUT_MODE" in
      good) echo "[COUT] count = 42" ;;
      bad-int) echo "[COUT] count = forty-two" ;;
      no-result) echo "[COUT] count = 1" ;;
    esac
inputs:
  mode: { type: string, required: true }
outputs:
  count: { type: int, required: true }
  ok: { type: bool }
  data: { type: json }
  ratio: { type: float }
  result: { type: string, required: true }
"#;

/// Declared outputs of a component are typed; an int that does not parse and a missing required
/// output fail the step.
#[test]
fn declared_component_outputs_are_typed_and_checked() {
    let w = World::new();
    w.write("components/typed/component.yaml", TYPED_COMPONENT);
    let yaml = r#"name: proto-typed
stages:
  - name: s
    actions:
      - name: good
        component: ./components/typed
        with: { mode: good }
      - name: bad-int
        component: ./components/typed
        with: { mode: bad-int }
      - name: no-result
        component: ./components/typed/component.yaml
        with: { mode: no-result }
"#;
    let run = w.run_yaml(yaml, &[]);
    assert_eq!(run.code, 1, "{}", run.pretty());
    assert_eq!(run.status_of("good"), "succeeded", "{}", run.pretty());
    assert_eq!(
        run.step("good")["outputs"],
        json!({"count": 42, "ok": true, "data": {"a": [1, 2], "b": null},
               "ratio": 2.5, "result": "r-good"}),
        "{}",
        run.pretty()
    );
    assert_eq!(run.status_of("bad-int"), "failed");
    assert_eq!(run.step("bad-int")["exit_code"], 0);
    let e = run.error_of("bad-int");
    assert!(e.contains("count") && e.contains("int"), "{e}");
    assert_eq!(run.status_of("no-result"), "failed");
    let e = run.error_of("no-result");
    assert!(e.contains("result"), "{e}");
}

/// A missing required output that was simply never printed fails the step and says which.
#[test]
fn missing_required_output_fails_the_step() {
    let w = World::new();
    w.write(
        "components/needy/component.yaml",
        &format!(
            "name: needy\nversion: 0.1.0\nimage: {BUSYBOX}\ncommand: [\"sh\", \"-c\", \"echo '[COUT] other = 1'\"]\noutputs:\n  other: {{ type: int }}\n  result: {{ type: string, required: true }}\n"
        ),
    );
    let yaml = "name: proto-needy\nstages:\n  - name: s\n    actions:\n      - name: needy\n        component: ./components/needy\n";
    let run = w.run_yaml(yaml, &[]);
    assert_eq!(run.code, 1, "{}", run.pretty());
    let step = run.step("needy");
    assert_eq!(step["status"], "failed");
    assert_eq!(step["exit_code"], 0);
    let e = run.error_of("needy");
    assert!(e.contains("required") && e.contains("result"), "{e}");
}

const SECRET_COMPONENT: &str = r#"name: leaky
version: 1.0.0
image: localhost/co-examples/busybox:latest
command:
  - sh
  - -c
  - |
    echo "api: $API"
    echo "token: $CO_INPUT_TOKEN"
    echo "data: $CO_DATA"
    echo "json: $CO_DATA_JSON"
    echo -n "$API" | base64
    echo -n "$CO_INPUT_TOKEN" | base64
    echo "b64 inline: $(echo -n "$CO_INPUT_TOKEN" | base64) end"
    echo "stderr token: $CO_INPUT_TOKEN and api $API" >&2
    echo "[COUT] visible = fine"
inputs:
  user: { type: string, default: someone }
  token: { type: secret, required: true }
"#;

const API_SECRET: &str = "k3y-Value-Alpha-123";
const TOKEN_SECRET: &str = "tok-Secr3t-Beta-987";
const INPUT_SECRET: &str = "inp-Hidden-Gamma-555";

fn assert_no_secret(what: &str, text: &str) {
    for secret in [API_SECRET, TOKEN_SECRET, INPUT_SECRET] {
        let b64 = base64(secret.as_bytes());
        assert!(
            !text.contains(secret),
            "{what} shows the secret {secret}:\n{text}"
        );
        assert!(
            !text.contains(&b64),
            "{what} shows the base64 of secret {secret} ({b64}):\n{text}"
        );
    }
}

/// `--secret` values and `type: secret` inputs never appear, plain or base64, in the live output
/// (stderr with --output json, stdout otherwise), the JSON, or `logs`.
#[test]
fn secrets_are_masked_in_live_output_json_and_logs() {
    let w = World::new();
    w.write("components/leaky/component.yaml", SECRET_COMPONENT);
    let yaml = format!(
        r#"name: proto-secrets
inputs:
  password: {{ type: secret }}
stages:
  - name: s
    actions:
      - name: leak
        component: ./components/leaky
        env: {{ API: "${{{{ secrets.API_KEY }}}}" }}
        with: {{ token: "{TOKEN_SECRET}" }}
      - name: input-leak
        with: {{ pw: "${{{{ inputs.password }}}}" }}
{}"#,
        sh(
            "echo \"pw: $CO_INPUT_PW\"\necho \"data: $CO_DATA\"\necho -n \"$CO_INPUT_PW\" | base64\necho \"pw again: $CO_INPUT_PW\" >&2",
            8
        )
    );
    let file = w.write("workflow.yaml", &yaml);
    let secret_arg = format!("API_KEY={API_SECRET}");
    let input_arg = format!("password={INPUT_SECRET}");
    let run = w.run_json(&file, &["--secret", &secret_arg, "--input", &input_arg]);
    run.assert_all_succeeded();
    assert_eq!(run.out("leak", "visible"), "fine");
    assert!(
        w.logs(run.id(), Some("input-leak")).contains("pw: ***"),
        "a workflow input of type secret is masked"
    );
    assert_no_secret("the JSON on stdout", &run.stdout);
    assert_no_secret("the live output on stderr (--output json)", &run.stderr);
    assert!(
        run.stderr.contains("api: ***"),
        "the live output should show the masked line:\n{}",
        run.stderr
    );
    let logs = w.logs(run.id(), None);
    assert_no_secret("`logs ID`", &logs);
    assert!(logs.contains("api: ***"), "{logs}");
    assert!(logs.contains("token: ***"), "{logs}");
    assert!(logs.contains("stderr token: *** and api ***"), "{logs}");
    let action_logs = w.logs(run.id(), Some("leak"));
    assert_no_secret("`logs ID leak`", &action_logs);
    assert!(action_logs.contains("data: "), "{action_logs}");
    assert_no_secret(
        "`runs show --output json`",
        &w.exec(&["runs", "show", run.id(), "--output", "json"])
            .stdout,
    );
    // The local store holds neither the `--secret` nor the secret input (a local run is never
    // resumed, so the input is stored masked and nowhere else); TOKEN_SECRET is written in the
    // workflow file itself, whose text is stored as given.
    let mut stored = Vec::new();
    for suffix in ["", "-wal"] {
        let mut name = w.db.as_os_str().to_os_string();
        name.push(suffix);
        stored.extend(std::fs::read(&name).unwrap_or_default());
    }
    for secret in [API_SECRET, INPUT_SECRET] {
        assert!(
            !stored.windows(secret.len()).any(|b| b == secret.as_bytes()),
            "the local database holds {secret} in clear"
        );
    }
    assert!(
        stored.windows(5).any(|b| b == b"\"***\""),
        "the masked inputs are stored"
    );

    // The same run in text mode: the live view and the summary go to stdout; `--secret API_KEY`
    // reads the value from the environment.
    let mut cmd = w.command();
    cmd.env("API_KEY", API_SECRET).args([
        "run".as_ref(),
        file.as_os_str(),
        "--secret".as_ref(),
        "API_KEY".as_ref(),
        "--input".as_ref(),
        input_arg.as_ref() as &std::ffi::OsStr,
    ]);
    let text = crate::support::finish_command(cmd);
    assert_eq!(text.code, 0, "{}", text.both());
    assert_no_secret("the live text output", &text.stdout);
    assert_no_secret("stderr in text mode", &text.stderr);
    assert!(text.stdout.contains("leak | api: ***"), "{}", text.both());
    let id = text
        .stdout
        .lines()
        .find_map(|l| {
            l.strip_prefix("run ")
                .and_then(|r| r.split_whitespace().next())
        })
        .unwrap()
        .to_string();
    crate::support::assert_nothing_left(&id);
    assert_no_secret(
        "`runs show` of the text run",
        &w.exec(&["runs", "show", &id]).stdout,
    );
}

/// A secret printed as an output value does not reach the JSON or the summary in clear.
#[test]
fn secret_printed_as_an_output_is_not_shown_in_clear() {
    let w = World::new();
    let yaml = format!(
        "name: proto-secret-out\nstages:\n  - name: s\n    actions:\n      - name: out\n{}        env: {{ API: \"${{{{ secrets.API_KEY }}}}\" }}\n",
        sh("echo \"[COUT] leaked = $API\"\necho \"[COUT] leaked64 = $(echo -n \"$API\" | base64)\"", 8)
    );
    let file = w.write("workflow.yaml", &yaml);
    let secret_arg = format!("API_KEY={API_SECRET}");
    let run = w.run_json(&file, &["--secret", &secret_arg]);
    run.assert_all_succeeded();
    assert_no_secret("the live output", &run.stderr);
    assert_no_secret("`logs`", &w.logs(run.id(), None));
    assert_no_secret("the JSON (step outputs)", &run.stdout);
    assert_no_secret(
        "the `runs show` summary",
        &w.exec(&["runs", "show", run.id()]).stdout,
    );
}

/// A secret that ends up in a step's error text (a bad `CO_RESULT`, a typed output or input that
/// does not parse, a failing expression) is not shown in clear in the live output or the JSON.
#[test]
fn secrets_do_not_leak_through_step_errors() {
    let w = World::new();
    w.write(
        "components/typed/component.yaml",
        &format!(
            "name: typed\nversion: 1.0.0\nimage: {BUSYBOX}\ncommand: [\"sh\", \"-c\", \"echo \\\"[COUT] n = $API\\\"\"]\ninputs:\n  times: {{ type: int, default: 1 }}\noutputs:\n  n: {{ type: int }}\n"
        ),
    );
    let yaml = format!(
        r#"name: proto-secret-errors
env: {{ API: "${{{{ secrets.API_KEY }}}}" }}
stages:
  - name: s
    actions:
      - name: verdict
{}      - name: typed-output
        component: ./components/typed
      - name: typed-input
        component: ./components/typed
        with: {{ times: "${{{{ secrets.API_KEY }}}}" }}
      - name: expression
        with: {{ x: "${{{{ fromJSON(secrets.API_KEY) }}}}" }}
{}"#,
        sh("echo \"[COUT] CO_RESULT = $API\"", 8),
        sh("echo hi", 8),
    );
    let file = w.write("workflow.yaml", &yaml);
    let secret_arg = format!("API_KEY={API_SECRET}");
    let run = w.run_json(&file, &["--secret", &secret_arg]);
    assert_eq!(run.code, 1, "{}", run.pretty());
    let mut leaks = Vec::new();
    for action in ["verdict", "typed-output", "typed-input", "expression"] {
        assert_eq!(run.status_of(action), "failed", "{}", run.pretty());
        let error = run.error_of(action);
        if error.contains(API_SECRET) {
            leaks.push(format!("{action}: {error}"));
        }
    }
    assert!(
        leaks.is_empty(),
        "step errors show the secret in clear:\n{}",
        leaks.join("\n")
    );
    assert_no_secret("the live output", &run.stderr);
    assert_no_secret("the JSON", &run.stdout);
    assert_no_secret("`logs`", &w.logs(run.id(), None));
}

/// Every output line is stored, in order, stdout and stderr alike.
#[test]
fn logs_keep_every_line_in_order() {
    let w = World::new();
    let yaml = format!(
        "name: proto-many-lines\nstages:\n  - name: s\n    actions:\n      - name: counter\n{}",
        sh(
            "seq 1 5000\necho to-stderr >&2\necho '[COUT] done = yes'",
            8
        )
    );
    let run = w.run_yaml(&yaml, &[]);
    run.assert_all_succeeded();
    assert_eq!(run.out("counter", "done"), "yes");
    let logs = w.logs(run.id(), Some("counter"));
    let numbers: Vec<&str> = logs
        .lines()
        .filter(|l| l.chars().all(|c| c.is_ascii_digit()))
        .collect();
    let expected: Vec<String> = (1..=5000).map(|n| n.to_string()).collect();
    assert_eq!(numbers, expected, "all 5000 lines, in order");
    assert!(
        logs.lines().any(|l| l == "to-stderr"),
        "stderr lines are logs too"
    );
    let all = w.logs(run.id(), None);
    assert_eq!(
        all.lines().filter(|l| l.starts_with("counter | ")).count(),
        logs.lines().count(),
        "`logs ID` has the same lines, labelled"
    );
}

//! `containerops component test DIR`: every case of the component's `tests:` in a real container,
//! reported like a test runner (text, `--output json`, `--junit FILE`).

use std::fmt::Write as _;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use co_engine::RunConfig;
use co_runner::{Observer, Runner};
use co_spec::{Component, ComponentTest, Loader};
use serde_json::{json, Value};

use crate::exit;

/// How one case went.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CaseReport {
    pub name: String,
    pub passed: bool,
    /// Each difference from what the case expects, in words.
    pub failures: Vec<String>,
    pub exit_code: Option<i64>,
    pub outputs: Value,
    /// The local run it ran as (`containerops runs show ID`, `containerops logs ID`).
    pub run_id: Option<String>,
    pub seconds: f64,
}

/// Log lines of one run, in memory (the test compares them with the case's patterns).
#[derive(Default)]
struct Collect(Mutex<Vec<(String, String)>>);

impl Observer for Collect {
    fn log_line(
        &self,
        step: &str,
        _action: &str,
        _attempt: u32,
        _stream: co_protocol::Stream,
        text: &str,
    ) {
        if let Ok(mut lines) = self.0.lock() {
            lines.push((step.to_string(), text.to_string()));
        }
    }
}

/// The action the component runs as in a case's workflow.
const ACTION: &str = "component";

/// A workflow that writes the case's workspace files (a step of the component's own image,
/// with `/bin/sh`), then runs the component with the case's inputs.
pub fn case_workflow(
    component: &Component,
    dir: &Path,
    inputs: &[(String, String)],
    workspace: &indexmap::IndexMap<String, String>,
) -> String {
    let quoted = |pairs: &[(String, String)]| {
        pairs
            .iter()
            .map(|(k, v)| {
                format!(
                    "{}: {}",
                    super::component::json_string(k),
                    super::component::json_string(v)
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut text = format!("name: {}-test\nstages:\n", component.name);
    if !workspace.is_empty() {
        let mut script = String::from("set -eu; cd \"$CO_WORKSPACE\"");
        let mut with = Vec::new();
        for (i, (path, content)) in workspace.iter().enumerate() {
            // A content over the environment's limits arrives as a file (CO_INPUT_F<i>_FILE).
            let _ = write!(
                script,
                "; mkdir -p \"$(dirname \"$CO_INPUT_P{i}\")\"; \
                 if [ -n \"${{CO_INPUT_F{i}_FILE-}}\" ]; then cp \"$CO_INPUT_F{i}_FILE\" \"$CO_INPUT_P{i}\"; \
                 else printf '%s' \"$CO_INPUT_F{i}\" > \"$CO_INPUT_P{i}\"; fi"
            );
            with.push((format!("p{i}"), path.clone()));
            with.push((format!("f{i}"), content.clone()));
        }
        let _ = write!(
            text,
            "  - name: fixtures\n    actions:\n      - name: workspace-files\n        image: {image}\n        command: [\"/bin/sh\", \"-c\", {script}]\n        with: {{ {with} }}\n",
            image = super::component::json_string(&component.image),
            script = super::component::json_string(&script),
            with = quoted(&with),
        );
    }
    let _ = write!(
        text,
        "  - name: test\n    actions:\n      - name: {ACTION}\n        component: {dir}\n        with: {{ {with} }}\n",
        dir = super::component::json_string(&dir.to_string_lossy()),
        with = quoted(inputs),
    );
    text
}

/// Run every case; print the report; the exit code (0 all passed, 1 one failed, 2 invalid).
pub async fn run_cases(
    component: &Component,
    dir: &Path,
    format: super::run::OutputFormat,
    junit: Option<&Path>,
    rebuild: bool,
) -> u8 {
    let json_out = format == super::run::OutputFormat::Json;
    let shown = component.path.display().to_string();
    let docker =
        match crate::engine::connect(co_backend_docker::DockerOptions::DEFAULT_STOP_GRACE).await {
            Ok(b) => b,
            Err(e) => {
                eprintln!("{e}");
                return exit::FAILED;
            }
        };
    if component.build.is_some() {
        let present = match docker.image_exists(&component.image).await {
            Ok(p) => p,
            Err(e) => {
                eprintln!("error: {e}");
                return exit::FAILED;
            }
        };
        if rebuild || !present {
            if let Err(e) = crate::engine::build_component(&docker, component).await {
                eprintln!("{e}");
                return exit::FAILED;
            }
        }
    }
    let store = match super::run::open_store().await {
        Ok(s) => s,
        Err(code) => return code,
    };
    let artifacts = match super::run::open_artifact_store() {
        Ok(a) => a,
        Err(code) => return code,
    };
    let runner = Runner::new(crate::engine::as_backend(docker), store.clone())
        .with_artifact_store(artifacts);
    let catalog = crate::engine::catalog();
    let loader = Loader::new(&catalog);

    if !json_out {
        println!(
            "component {}@{}: {} test{}",
            component.name,
            component.version,
            component.tests.len(),
            if component.tests.len() == 1 { "" } else { "s" }
        );
    }
    let started = Instant::now();
    let mut reports = Vec::new();
    for case in &component.tests {
        let report = run_case(&runner, &store, &loader, component, dir, case, &shown).await;
        if !json_out {
            print_case(&report);
        }
        reports.push(report);
    }
    let total = started.elapsed();
    let failed = reports.iter().filter(|r| !r.passed).count();
    let passed = reports.len() - failed;
    if json_out {
        let doc = json!({
            "component": component.name,
            "version": component.version,
            "passed": passed,
            "failed": failed,
            "seconds": round(total),
            "tests": reports,
        });
        println!("{doc}");
    } else {
        println!(
            "\n{} test{}: {passed} passed, {failed} failed ({:.1}s)",
            reports.len(),
            if reports.len() == 1 { "" } else { "s" },
            total.as_secs_f64()
        );
    }
    if let Some(path) = junit {
        let xml = junit_xml(component, &reports, total);
        if let Err(e) = std::fs::write(path, xml) {
            eprintln!(
                "error: cannot write the JUnit report {}: {e}",
                path.display()
            );
            return exit::FAILED;
        }
    }
    if failed == 0 {
        exit::OK
    } else {
        exit::FAILED
    }
}

fn round(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).round() / 1000.0
}

fn print_case(r: &CaseReport) {
    let mark = if r.passed {
        console::style("✓").green()
    } else {
        console::style("✗").red()
    };
    println!("  {mark} {} ({:.1}s)", r.name, r.seconds);
    for f in &r.failures {
        println!("      {f}");
    }
    if !r.passed {
        if let Some(id) = &r.run_id {
            println!("      logs: containerops logs {id}");
        }
    }
}

async fn run_case(
    runner: &Runner,
    store: &co_store::Store,
    loader: &Loader<'_>,
    component: &Component,
    dir: &Path,
    case: &ComponentTest,
    shown: &str,
) -> CaseReport {
    let started = Instant::now();
    let mut report = CaseReport {
        name: case.name.clone(),
        passed: false,
        failures: Vec::new(),
        exit_code: None,
        outputs: Value::Null,
        run_id: None,
        seconds: 0.0,
    };
    let patterns = match compile_patterns(case) {
        Ok(p) => p,
        Err(problems) => {
            report.failures = problems;
            return report;
        }
    };
    if let Err(e) = co_engine::resolve_inputs(
        &format!("test `{}`", case.name),
        &component.inputs,
        case.inputs.clone(),
    ) {
        report.failures = e.0.iter().map(|p| format!("{}: {p}", case.span)).collect();
        return report;
    }
    let inputs: Vec<(String, String)> = case
        .inputs
        .iter()
        .map(|(k, v)| (k.clone(), co_protocol::value_text(v)))
        .collect();
    let text = case_workflow(component, dir, &inputs, &case.workspace);
    let workflow = match loader.parse_workflow(&text, shown, dir) {
        Ok(w) => Arc::new(w),
        Err(d) => {
            report.failures = d.0.iter().map(|p| p.message.clone()).collect();
            return report;
        }
    };
    let plan = Arc::new(co_spec::plan(workflow));
    let config = RunConfig {
        run_id: co_runner::new_run_id(),
        inputs: indexmap::IndexMap::new(),
        secrets: indexmap::IndexMap::new(),
        trigger: Some(json!({ "event": "component-test", "case": case.name })),
    };
    let collect = Arc::new(Collect::default());
    let outcome = match runner.prepare(plan, config).await {
        Ok(prepared) => {
            let id = prepared.run_id().to_string();
            report.run_id = Some(id.clone());
            runner
                .execute(prepared, collect.clone())
                .await
                .map(|_| id)
                .map_err(|e| e.to_string())
        }
        Err(e) => Err(e.to_string()),
    };
    let detail = match outcome {
        Ok(id) => store.get_run(&id).await.map_err(|e| e.to_string()),
        Err(e) => Err(e),
    };
    report.seconds = round(started.elapsed());
    let detail = match detail {
        Ok(d) => d,
        Err(e) => {
            report.failures.push(format!("the case could not run: {e}"));
            return report;
        }
    };
    if let Some(fixture) = detail
        .steps
        .iter()
        .find(|s| s.action != ACTION && s.status != co_store::StepStatus::Succeeded)
    {
        report.failures.push(format!(
            "writing the workspace files failed (the image needs /bin/sh): {}",
            fixture.error.as_deref().unwrap_or("no reason recorded")
        ));
        return report;
    }
    let Some(step) = detail.steps.iter().find(|s| s.action == ACTION) else {
        report
            .failures
            .push("the component's step was not recorded".to_string());
        return report;
    };
    report.exit_code = step.exit_code;
    report.outputs = step.outputs.clone();
    let lines: Vec<String> = collect
        .0
        .lock()
        .map(|l| {
            l.iter()
                .filter(|(k, _)| k == &step.key)
                .map(|(_, t)| t.clone())
                .collect()
        })
        .unwrap_or_default();
    report.failures = compare(component, case, step, &lines, &patterns);
    report.passed = report.failures.is_empty();
    report
}

fn compile_patterns(case: &ComponentTest) -> Result<Vec<regex::Regex>, Vec<String>> {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for (p, span) in &case.expect.logs {
        match regex::Regex::new(p) {
            Ok(r) => out.push(r),
            Err(e) => problems.push(format!("{span}: invalid log pattern `{p}`: {e}")),
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

/// The verdict printed as `[COUT] CO_RESULT = …` (the last one wins), if any.
fn printed_result(lines: &[String]) -> Option<bool> {
    let mut result = None;
    for line in lines {
        let Some(rest) = line.trim_start().strip_prefix("[COUT]") else {
            continue;
        };
        let Some((key, value)) = rest.split_once('=') else {
            continue;
        };
        if key.trim() == "CO_RESULT" {
            result = match value.trim().to_ascii_lowercase().as_str() {
                "true" => Some(true),
                "false" => Some(false),
                _ => result,
            };
        }
    }
    result
}

fn compare(
    component: &Component,
    case: &ComponentTest,
    step: &co_store::StepRecord,
    lines: &[String],
    patterns: &[regex::Regex],
) -> Vec<String> {
    let mut failures = Vec::new();
    let expect = &case.expect;
    match step.exit_code {
        Some(code) if code == expect.exit_code => {}
        Some(code) => failures.push(format!(
            "exit code: expected {}, got {code}{}",
            expect.exit_code,
            step.error
                .as_deref()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default()
        )),
        None => failures.push(format!(
            "exit code: expected {}, but the container did not exit: {}",
            expect.exit_code,
            step.error.as_deref().unwrap_or("no reason recorded")
        )),
    }
    if let Some(want) = expect.result {
        let got = printed_result(lines).unwrap_or(true);
        if got != want {
            failures.push(format!("result (CO_RESULT): expected {want}, got {got}"));
        }
    }
    for (name, (want, _)) in &expect.outputs {
        let decl = component.outputs.get(name);
        let want = match decl {
            Some(decl) => co_protocol::coerce(want, decl.ty).unwrap_or_else(|_| want.clone()),
            None => want.clone(),
        };
        // Undeclared outputs are text: compared as text.
        let same = |got: &Value| {
            *got == want
                || (decl.is_none()
                    && co_protocol::value_text(got) == co_protocol::value_text(&want))
        };
        match step.outputs.get(name) {
            Some(got) if same(got) => {}
            Some(got) => failures.push(format!("output {name}: expected {want}, got {got}")),
            None => failures.push(format!(
                "output {name}: expected {want}, but it was never printed"
            )),
        }
    }
    for re in patterns {
        if !lines.iter().any(|l| re.is_match(l)) {
            failures.push(format!(
                "logs: no line matches `{}` ({} line{} printed)",
                re.as_str(),
                lines.len(),
                if lines.len() == 1 { "" } else { "s" }
            ));
        }
    }
    failures
}

/// A JUnit XML report (one `<testsuite>`, one `<testcase>` per case, `<failure>` with the
/// differences).
pub fn junit_xml(component: &Component, reports: &[CaseReport], total: Duration) -> String {
    let failed = reports.iter().filter(|r| !r.passed).count();
    let suite = format!("{}@{}", component.name, component.version);
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        xml,
        "<testsuites tests=\"{n}\" failures=\"{failed}\" time=\"{t:.3}\">\n  <testsuite name=\"{s}\" tests=\"{n}\" failures=\"{failed}\" errors=\"0\" time=\"{t:.3}\">",
        n = reports.len(),
        t = total.as_secs_f64(),
        s = xml_escape(&suite),
    );
    for r in reports {
        let _ = write!(
            xml,
            "    <testcase classname=\"{s}\" name=\"{n}\" time=\"{t:.3}\"",
            s = xml_escape(&suite),
            n = xml_escape(&r.name),
            t = r.seconds
        );
        if r.passed {
            xml.push_str("/>\n");
        } else {
            let first = r.failures.first().map(String::as_str).unwrap_or("failed");
            let _ = writeln!(
                xml,
                ">\n      <failure message=\"{}\">{}</failure>\n    </testcase>",
                xml_escape(first),
                xml_escape(&r.failures.join("\n"))
            );
        }
    }
    xml.push_str("  </testsuite>\n</testsuites>\n");
    xml
}

fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 cannot hold at all.
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t' | '\r') => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printed_result_takes_the_last_verdict() {
        let lines = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(printed_result(&lines(&["hello"])), None);
        assert_eq!(
            printed_result(&lines(&[
                "[COUT] CO_RESULT = true",
                "[COUT] CO_RESULT=FALSE"
            ])),
            Some(false)
        );
    }

    #[test]
    fn xml_is_escaped() {
        assert_eq!(
            xml_escape("a<b & \"c\"\u{1}"),
            "a&lt;b &amp; &quot;c&quot;\u{FFFD}"
        );
    }
}

//! `containerops component new NAME` / `build DIR` / `test DIR`

use std::path::PathBuf;

use clap::{Args, Subcommand};
use co_spec::Loader;

use crate::exit;

#[derive(Subcommand)]
pub enum ComponentCommand {
    /// Create a working component directory to start from: component.yaml (typed, described
    /// inputs and outputs, tests), a Containerfile on the local Debian base, the code, a README.
    #[command(after_help = "\
Examples:
  containerops component new greeter                 # shell, in ./greeter
  containerops component new greeter --lang python   # or go, rust
  containerops component test greeter                # builds the image, runs its tests: all pass

The image builds FROM localhost/containerops/debian-base:bookworm (scripts/build-images.sh makes it
locally; no registry is needed). Go and Rust compile in a build stage with Debian's toolchain.")]
    New(super::component_new::NewArgs),
    /// Build a component's image locally from its build: section (context and Containerfile).
    #[command(
        after_help = "Example:\n  containerops component build examples/ci-pipeline/components/c-build"
    )]
    Build(BuildArgs),
    /// Check a component for what makes it hard to use well: missing descriptions, untyped or
    /// undocumented outputs, outputs the tests never check, images without a tag, secrets with
    /// defaults.
    #[command(after_help = "\
Example:
  containerops component lint greeter

Each finding is FILE:LINE:COL: SEVERITY: MESSAGE [RULE]. Rules (severity):
  missing-description (warning)  the component and each input say what they are
  undocumented-output (warning)  each output has a description
  untyped-output      (warning)  each output has a type: (it defaults to string silently)
  untested-output     (warning)  a case of tests: checks each output
  no-tests            (warning)  the component has tests:
  image-without-tag   (error)    image: names a tag or a digest
  secret-with-default (error)    a secret input has no default (it would be in the file)
Exit code 1 when there is an error, 0 with warnings only, 2 when component.yaml is invalid.
`component new` writes components with no findings.")]
    Lint(LintArgs),
    /// Build a component, run its tests, push its image to an OCI registry and record the catalog
    /// entry NAME@VERSION with the image pinned by digest (image@sha256:…).
    #[command(after_help = "\
Example:
  REGISTRY=$(scripts/setup-registry.sh)        # Debian's docker-registry on 127.0.0.1:5000
  containerops component publish greeter --registry $REGISTRY
  # then, in a workflow:   component: greeter@0.1.0

The image is rebuilt and every case of tests: runs first; nothing is pushed when one fails. The
push goes through the engine's API (Podman or Docker) with the credentials of the engine's usual
auth config ($REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json, ~/.docker/config.json);
a registry on loopback is plain HTTP, as engines expect. The entry is written to the first
directory of $CONTAINEROPS_CATALOG (default: catalog/ next to the run history) as
NAME/VERSION/component.yaml with image: REGISTRY/NAME@sha256:… and no build: section, plus
published.json and the README. Versions are immutable: publishing one again is refused (exit 2).")]
    Publish(super::component_publish::PublishArgs),
    /// List the components of the local catalog (CONTAINEROPS_CATALOG), optionally matching a text.
    #[command(
        after_help = "Examples:\n  containerops component list\n  containerops component list git -o json"
    )]
    List(super::component_catalog::ListArgs),
    /// Show a catalog component: description, image pinned by digest, typed inputs and outputs.
    #[command(
        after_help = "Examples:\n  containerops component show greeter          # the highest version\n  containerops component show greeter@0.1.0 -o json"
    )]
    Show(super::component_catalog::ShowArgs),
    /// A catalog component's documentation as Markdown: its contract in tables, then its README.
    #[command(after_help = "Example:\n  containerops component docs greeter@0.1.0 > greeter.md")]
    Docs(super::component_catalog::ShowArgs),
    /// Run a component's tests (`tests:` in component.yaml) in real containers, or run it once
    /// with the given inputs.
    #[command(after_help = "\
Examples:
  containerops component test greeter                           # every case of tests:
  containerops component test greeter --junit report.xml -o json
  containerops component test examples/ci-pipeline/components/checksum --input file=/etc/hostname

Without --input/--secret and with tests: in component.yaml, every case runs as a one-step run
(after writing its workspace: files), and its exit code, CO_RESULT, outputs and log lines are
compared with its expect:. Each case prints ✓ or ✗ with the differences, then a summary. Exit code
0 when every case passed, 1 when one failed, 2 when the component is invalid.

With --input (or when the component has no tests:) it runs once like a one-step workflow and
prints its outputs: exit code 0 when the step succeeded, 1 when it failed. Both are recorded in
the run history (containerops runs list). The image is built first if it is missing.")]
    Test(TestArgs),
}

#[derive(Args)]
pub struct BuildArgs {
    /// The component directory (holding component.yaml) or its component.yaml.
    pub dir: PathBuf,
}

#[derive(Args)]
pub struct LintArgs {
    /// The component directory (holding component.yaml) or its component.yaml.
    pub dir: PathBuf,
    /// Output format (json: {"findings": [{"rule", "severity", "file", "line", "column", "message"}], "errors", "warnings"}).
    #[arg(short, long, value_enum, default_value = "text")]
    pub output: super::run::OutputFormat,
}

#[derive(Args)]
pub struct TestArgs {
    /// The component directory (holding component.yaml) or its component.yaml.
    pub dir: PathBuf,
    /// An input, KEY=VALUE (repeatable).
    #[arg(short, long = "input", value_name = "KEY=VALUE")]
    pub inputs: Vec<String>,
    /// A secret, KEY=VALUE or KEY (read from the environment); masked in the output.
    #[arg(short, long = "secret", value_name = "KEY[=VALUE]")]
    pub secrets: Vec<String>,
    /// Output format.
    #[arg(short, long, value_enum, default_value = "text")]
    pub output: super::run::OutputFormat,
    /// Also write the test report as JUnit XML to FILE (test cases only).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Build the image even if it exists (after a change to the code).
    #[arg(long)]
    pub rebuild: bool,
}

pub async fn component(command: ComponentCommand) -> u8 {
    match command {
        ComponentCommand::New(args) => super::component_new::new(args),
        ComponentCommand::Build(args) => build(args).await,
        ComponentCommand::Lint(args) => lint(&args),
        ComponentCommand::Publish(args) => super::component_publish::publish(args).await,
        ComponentCommand::List(args) => super::component_catalog::list(&args),
        ComponentCommand::Show(args) => super::component_catalog::show(&args),
        ComponentCommand::Docs(args) => super::component_catalog::docs(&args),
        ComponentCommand::Test(args) => test(args).await,
    }
}

fn lint(args: &LintArgs) -> u8 {
    use co_spec::lint::Severity;
    let catalog = crate::engine::catalog();
    let component = match Loader::new(&catalog).load_component(&args.dir) {
        Ok(c) => c,
        Err(d) => return super::report_diagnostics(&d),
    };
    let text = match std::fs::read_to_string(&component.path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", component.path.display());
            return exit::FAILED;
        }
    };
    let findings = co_spec::lint::lint(&component, &text);
    let errors = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    let warnings = findings.len() - errors;
    if args.output == super::run::OutputFormat::Json {
        let list: Vec<serde_json::Value> = findings
            .iter()
            .map(|f| {
                serde_json::json!({
                    "rule": f.rule,
                    "severity": f.severity,
                    "file": &*f.span.file,
                    "line": f.span.line,
                    "column": f.span.col,
                    "message": f.message,
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::json!({ "findings": list, "errors": errors, "warnings": warnings })
        );
    } else {
        for f in &findings {
            println!(
                "{}: {}: {} [{}]",
                f.span,
                f.severity.name(),
                f.message,
                f.rule
            );
        }
        println!(
            "{}@{}: {errors} error{}, {warnings} warning{}",
            component.name,
            component.version,
            if errors == 1 { "" } else { "s" },
            if warnings == 1 { "" } else { "s" }
        );
    }
    if errors > 0 {
        exit::FAILED
    } else {
        exit::OK
    }
}

async fn build(args: BuildArgs) -> u8 {
    let catalog = crate::engine::catalog();
    let loader = Loader::new(&catalog);
    let component = match loader.load_component(&args.dir) {
        Ok(c) => c,
        Err(d) => return super::report_diagnostics(&d),
    };
    if component.build.is_none() {
        eprintln!(
            "{}: error: component {} has no build: section (context, containerfile), so it cannot be built locally",
            component.path.display(),
            component.name
        );
        return exit::INVALID;
    }
    let backend =
        match crate::engine::connect(co_backend_docker::DockerOptions::DEFAULT_STOP_GRACE).await {
            Ok(b) => b,
            Err(e) => {
                eprintln!("{e}");
                return exit::FAILED;
            }
        };
    match crate::engine::build_component(&backend, &component).await {
        Ok(()) => {
            eprintln!("built {}", component.image);
            exit::OK
        }
        Err(e) => {
            eprintln!("{e}");
            exit::FAILED
        }
    }
}

/// A one-step workflow around the component, written out so that it goes through the same
/// validation and engine as any workflow.
fn test_workflow(
    component: &co_spec::Component,
    dir: &std::path::Path,
    inputs: &[(String, String)],
) -> String {
    let with: Vec<String> = inputs
        .iter()
        .map(|(k, v)| format!("{}: {}", json_string(k), json_string(v)))
        .collect();
    format!(
        "name: {name}-test\nstages:\n  - name: test\n    actions:\n      - name: {name}\n        component: {dir}\n        with: {{ {with} }}\n",
        name = component.name,
        dir = json_string(&dir.to_string_lossy()),
        with = with.join(", "),
    )
}

/// A YAML double-quoted scalar (JSON strings are valid YAML), so no input is ever an expression.
pub(crate) fn json_string(text: &str) -> String {
    let quoted = serde_json::Value::String(text.to_string()).to_string();
    // `${{` inside a value must stay literal text.
    quoted.replace("${{", "${{ '${{' }}")
}

async fn test(args: TestArgs) -> u8 {
    let catalog = crate::engine::catalog();
    let loader = Loader::new(&catalog);
    let component = match loader.load_component(&args.dir) {
        Ok(c) => c,
        Err(d) => return super::report_diagnostics(&d),
    };
    let dir = component
        .path
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_else(|| args.dir.clone());
    let dir = std::fs::canonicalize(&dir).unwrap_or(dir);
    if args.inputs.is_empty() && args.secrets.is_empty() && !component.tests.is_empty() {
        return super::component_test::run_cases(
            &component,
            &dir,
            args.output,
            args.junit.as_deref(),
            args.rebuild,
        )
        .await;
    }
    if args.junit.is_some() {
        eprintln!(
            "error: --junit reports the cases of tests:, which do not run with --input/--secret \
             (or when the component has none)"
        );
        return exit::INVALID;
    }
    let inputs = match super::parse_pairs("--input", &args.inputs) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::INVALID;
        }
    };
    // Every problem is reported against the user's component.yaml, never the temporary
    // workflow around it: the inputs are checked here (unknown ones with a "did you mean"),
    // so the generated workflow is valid.
    let shown = component.path.display().to_string();
    let given = inputs
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    if let Err(e) = co_engine::resolve_inputs(
        &format!("component {}", component.name),
        &component.inputs,
        given,
    ) {
        for problem in &e.0 {
            eprintln!("{shown}: error: {problem}");
        }
        return exit::INVALID;
    }
    let text = test_workflow(&component, &dir, &inputs);
    if let Err(d) = loader.parse_workflow(&text, &shown, &dir) {
        for problem in &d.0 {
            eprintln!("{shown}: error: {}", problem.message);
        }
        return exit::INVALID;
    }
    let file = match tempfile_with(&text) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: cannot write a temporary workflow: {e}");
            return exit::FAILED;
        }
    };
    super::run::run(super::run::RunArgs {
        file: file.path().to_path_buf(),
        inputs: Vec::new(),
        secrets: args.secrets,
        output: args.output,
        rebuild: args.rebuild,
        // `component test` runs on the local engine, where `component build` built the image.
        backend: super::run::BackendChoice::Docker,
        max_parallel_steps: None,
        stop_grace: None,
        step_log_cap: None,
        run_log_cap: None,
        max_artifact_size: None,
        artifacts_dir: None,
        kube: super::run::KubeArgs::default(),
    })
    .await
}

fn tempfile_with(text: &str) -> std::io::Result<tempfile::NamedTempFile> {
    use std::io::Write;
    let mut file = tempfile::Builder::new()
        .prefix("component-test-")
        .suffix(".yaml")
        .tempfile()?;
    file.write_all(text.as_bytes())?;
    file.flush()?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_values_are_quoted_and_never_expressions() {
        assert_eq!(json_string("a \"b\""), r#""a \"b\"""#);
        assert_eq!(json_string("x ${{ y }}"), r#""x ${{ '${{' }} y }}""#);
    }
}

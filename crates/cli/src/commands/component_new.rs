//! `containerops component new NAME [--lang shell|python|go|rust]`: a working component
//! directory — component.yaml with typed, described inputs and outputs and `tests:`, a
//! Containerfile on the local Debian base, the code, a README. It passes its own tests as
//! generated (`containerops component test DIR`).

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};

use crate::exit;

/// The image every generated component builds on (scripts/build-images.sh makes it locally).
pub const DEBIAN_BASE: &str = "localhost/containerops/debian-base:bookworm";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Lang {
    /// A POSIX shell script (no toolchain in the image: the smallest and fastest to build).
    Shell,
    /// Python 3 from Debian (reads the typed inputs from CO_DATA_JSON).
    Python,
    /// Go from Debian, compiled in a build stage; the image keeps only the binary.
    Go,
    /// Rust (rustc and cargo from Debian), compiled in a build stage; standard library only.
    Rust,
}

#[derive(Args)]
pub struct NewArgs {
    /// The component's name: lower-case letters, digits and `-` (it names the directory too).
    pub name: String,
    /// The language of the generated code.
    #[arg(short, long, value_enum, default_value = "shell")]
    pub lang: Lang,
    /// Where to create it (default: ./NAME). Must not exist, or be an empty directory.
    #[arg(short, long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

pub fn new(args: NewArgs) -> u8 {
    if let Err(e) = co_spec::NameKind::Component.check(&args.name) {
        eprintln!("error: {e}");
        return exit::INVALID;
    }
    let dir = args.dir.unwrap_or_else(|| PathBuf::from(&args.name));
    match std::fs::read_dir(&dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                eprintln!(
                    "error: {} exists and is not empty; choose another --dir or remove it",
                    dir.display()
                );
                return exit::INVALID;
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", dir.display());
            return exit::FAILED;
        }
    }
    let files = files(&args.name, args.lang);
    if let Err(e) = write_all(&dir, &files) {
        eprintln!(
            "error: cannot write the component into {}: {e}",
            dir.display()
        );
        return exit::FAILED;
    }
    let shown = dir.display();
    eprintln!(
        "created component {name}@0.1.0 ({lang}) in {shown}:",
        name = args.name,
        lang = lang_name(args.lang)
    );
    for (path, _) in &files {
        eprintln!("  {shown}/{path}");
    }
    eprintln!(
        "\nnext:\n  containerops component test {shown}    # build the image and run its tests\n  \
         containerops component lint {shown}    # check the contract is documented and tested"
    );
    exit::OK
}

fn write_all(dir: &Path, files: &[(String, String)]) -> std::io::Result<()> {
    for (path, text) in files {
        let path = dir.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, text)?;
    }
    Ok(())
}

/// The files of a new component, path relative to its directory → text.
pub fn files(name: &str, lang: Lang) -> Vec<(String, String)> {
    let bin = format!("/usr/local/bin/{name}");
    let (containerfile, code) = match lang {
        Lang::Shell => (
            format!("FROM {DEBIAN_BASE}\nCOPY main.sh {bin}\nRUN chmod 0755 {bin}\n"),
            vec![("main.sh".to_string(), SHELL.to_string())],
        ),
        Lang::Python => (
            format!(
                "FROM {DEBIAN_BASE}\n\
                 RUN apt-get update && apt-get install -y --no-install-recommends python3 \\\n \
                 && rm -rf /var/lib/apt/lists/*\n\
                 COPY main.py {bin}\nRUN chmod 0755 {bin}\n"
            ),
            vec![("main.py".to_string(), PYTHON.to_string())],
        ),
        Lang::Go => (
            format!(
                "# Build stage: Go from Debian; the final image keeps only the binary.\n\
                 FROM {DEBIAN_BASE} AS build\n\
                 RUN apt-get update && apt-get install -y --no-install-recommends golang-go \\\n \
                 && rm -rf /var/lib/apt/lists/*\n\
                 WORKDIR /src\nCOPY go.mod main.go ./\n\
                 RUN CGO_ENABLED=0 go build -o /out/component .\n\n\
                 FROM {DEBIAN_BASE}\nCOPY --from=build /out/component {bin}\n"
            ),
            vec![
                ("go.mod".to_string(), format!("module {name}\n\ngo 1.19\n")),
                ("main.go".to_string(), GO.to_string()),
            ],
        ),
        Lang::Rust => (
            format!(
                "# Build stage: rustc and cargo from Debian (standard library only, so no crate is\n\
                 # downloaded); the final image keeps only the binary.\n\
                 FROM {DEBIAN_BASE} AS build\n\
                 RUN apt-get update && apt-get install -y --no-install-recommends cargo \\\n \
                 && rm -rf /var/lib/apt/lists/*\n\
                 WORKDIR /src\nCOPY Cargo.toml ./\nCOPY src ./src\n\
                 RUN cargo build --release --offline && cp target/release/{name} /component\n\n\
                 FROM {DEBIAN_BASE}\nCOPY --from=build /component {bin}\n"
            ),
            vec![
                (
                    "Cargo.toml".to_string(),
                    format!(
                        "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\n"
                    ),
                ),
                ("src/main.rs".to_string(), RUST.to_string()),
            ],
        ),
    };
    let mut out = vec![
        ("component.yaml".to_string(), component_yaml(name, lang)),
        ("Containerfile".to_string(), containerfile),
    ];
    out.extend(code);
    out.push(("README.md".to_string(), readme(name, lang)));
    out
}

fn component_yaml(name: &str, lang: Lang) -> String {
    format!(
        "\
# A ContainerOps component: a container image with a typed contract (docs/components.md).
name: {name}
version: 0.1.0
description: Greets someone (generated by `containerops component new --lang {lang}`; make it yours)
image: localhost/components/{name}:0.1.0
build:
  context: .
  containerfile: Containerfile
command: [\"/usr/local/bin/{name}\"]
inputs:
  who: {{ type: string, default: world, description: who to greet }}
  excited: {{ type: bool, default: false, description: 'end the greeting with \"!\" instead of \".\"' }}
outputs:
  greeting: {{ type: string, required: true, description: \"the greeting, as printed\" }}
  length: {{ type: int, required: true, description: \"the greeting's length in characters\" }}
resources: {{ cpu: 0.5, memory: 128Mi }}
timeout: 1m
# `containerops component test .` runs every case in a real container.
tests:
  - name: greets the world by default
    expect:
      outputs: {{ greeting: \"Hello, world.\", length: 13 }}
  - name: greets by name, excitedly
    inputs: {{ who: Ada, excited: true }}
    expect:
      outputs: {{ greeting: \"Hello, Ada!\", length: 11 }}
      logs: [\"^Hello, Ada!$\"]
  - name: refuses an empty name
    inputs: {{ who: \"\" }}
    expect:
      exit_code: 2
      logs: [\"who must not be empty\"]
",
        lang = lang_name(lang)
    )
}

fn lang_name(lang: Lang) -> &'static str {
    match lang {
        Lang::Shell => "shell",
        Lang::Python => "python",
        Lang::Go => "go",
        Lang::Rust => "rust",
    }
}

fn readme(name: &str, lang: Lang) -> String {
    let code = match lang {
        Lang::Shell => "main.sh",
        Lang::Python => "main.py",
        Lang::Go => "main.go",
        Lang::Rust => "src/main.rs",
    };
    format!(
        "\
# {name}

Greets someone. Generated by `containerops component new {name} --lang {lang}`: replace the
greeting with your task, keep the contract in `component.yaml` true.

## Inputs

| name | type | default | description |
|---|---|---|---|
| `who` | string | `world` | who to greet |
| `excited` | bool | `false` | end the greeting with `!` instead of `.` |

## Outputs

| name | type | description |
|---|---|---|
| `greeting` | string | the greeting, as printed |
| `length` | int | the greeting's length in characters |

## How it works

`{code}` reads its inputs from the environment ContainerOps gives every step: `CO_INPUT_WHO`,
`CO_INPUT_EXCITED` (each input alone, raw) or `CO_DATA_JSON` (all inputs as one typed JSON
object). It sets outputs by printing `[COUT] KEY = VALUE` lines; any other line is its log.
A non-zero exit code (or `[COUT] CO_RESULT = false`) fails the step.

## Develop

```sh
containerops component test .                    # build the image, run every case of `tests:`
containerops component test . --input who=Grace  # run it once with your own inputs
containerops component lint .                    # descriptions, types, untested outputs
```

Use it in a workflow:

```yaml
stages:
  - name: greet
    actions:
      - name: hello
        component: ./{name}
        with: {{ who: Ada }}
```
",
        lang = lang_name(lang)
    )
}

const SHELL: &str = r#"#!/bin/sh
# Inputs arrive as environment variables: CO_INPUT_<NAME> holds each one raw.
set -eu
who=${CO_INPUT_WHO-world}
if [ -z "$who" ]; then
  echo "error: who must not be empty" >&2
  exit 2
fi
mark=.
[ "${CO_INPUT_EXCITED:-false}" = true ] && mark=!
greeting="Hello, $who$mark"
echo "$greeting"
# Outputs are [COUT] lines on stdout.
echo "[COUT] greeting = $greeting"
echo "[COUT] length = ${#greeting}"
"#;

const PYTHON: &str = r#"#!/usr/bin/env python3
"""Inputs arrive as CO_DATA_JSON (one JSON object, typed values); outputs are [COUT] lines."""
import json
import os
import sys

inputs = json.loads(os.environ.get("CO_DATA_JSON", "{}"))
who = inputs.get("who", "world")
if who == "":
    print("error: who must not be empty", file=sys.stderr)
    sys.exit(2)
greeting = f"Hello, {who}{'!' if inputs.get('excited') else '.'}"
print(greeting)
print(f"[COUT] greeting = {greeting}")
print(f"[COUT] length = {len(greeting)}")
"#;

const GO: &str = r#"// Inputs arrive as CO_DATA_JSON (one JSON object, typed values); outputs are [COUT] lines.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"unicode/utf8"
)

type inputs struct {
	Who     *string `json:"who"`
	Excited bool    `json:"excited"`
}

func main() {
	var in inputs
	if err := json.Unmarshal([]byte(os.Getenv("CO_DATA_JSON")), &in); err != nil {
		fmt.Fprintf(os.Stderr, "error: CO_DATA_JSON is not JSON: %v\n", err)
		os.Exit(1)
	}
	who := "world"
	if in.Who != nil {
		who = *in.Who
	}
	if who == "" {
		fmt.Fprintln(os.Stderr, "error: who must not be empty")
		os.Exit(2)
	}
	mark := "."
	if in.Excited {
		mark = "!"
	}
	greeting := "Hello, " + who + mark
	fmt.Println(greeting)
	fmt.Printf("[COUT] greeting = %s\n", greeting)
	fmt.Printf("[COUT] length = %d\n", utf8.RuneCountInString(greeting))
}
"#;

const RUST: &str = r#"//! Inputs arrive as environment variables (CO_INPUT_<NAME>, each input raw; CO_DATA_JSON has
//! them all as one JSON object); outputs are [COUT] lines on stdout.
use std::env;
use std::process::ExitCode;

fn main() -> ExitCode {
    let who = env::var("CO_INPUT_WHO").unwrap_or_else(|_| "world".to_string());
    if who.is_empty() {
        eprintln!("error: who must not be empty");
        return ExitCode::from(2);
    }
    let excited = env::var("CO_INPUT_EXCITED").map_or(false, |v| v == "true");
    let greeting = format!("Hello, {who}{}", if excited { "!" } else { "." });
    println!("{greeting}");
    println!("[COUT] greeting = {greeting}");
    println!("[COUT] length = {}", greeting.chars().count());
    ExitCode::SUCCESS
}
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_language_gives_a_valid_component() {
        for lang in [Lang::Shell, Lang::Python, Lang::Go, Lang::Rust] {
            let dir = tempfile::tempdir().unwrap();
            write_all(dir.path(), &files("greeter", lang)).unwrap();
            let catalog = co_spec::NoCatalog;
            let c = co_spec::Loader::new(&catalog)
                .load_component(dir.path())
                .unwrap_or_else(|d| panic!("{lang:?}: {d:?}"));
            assert_eq!(c.tests.len(), 3, "{lang:?}");
            assert!(c.outputs.values().all(|o| o.description.is_some()));
            let containerfile = std::fs::read_to_string(dir.path().join("Containerfile")).unwrap();
            assert!(containerfile.contains(DEBIAN_BASE), "{lang:?}");
            let text = std::fs::read_to_string(dir.path().join("component.yaml")).unwrap();
            assert_eq!(co_spec::lint::lint(&c, &text), Vec::new(), "{lang:?}");
        }
    }
}

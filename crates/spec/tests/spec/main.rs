//! Integration tests of co-spec: good files, diagnostics snapshots, seed conversion, plans, and
//! robustness against arbitrary input.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod artifacts;
mod diagnostics;
mod good;
mod notify;
mod plan;
mod robustness;
mod seed;
mod triggers;

use std::path::Path;

use co_spec::{Diagnostics, Loader, NoCatalog, ValidateOptions, Workflow};

/// Load a workflow fixture (path relative to `tests/fixtures`).
pub fn load(rel: &str) -> Result<Workflow, Diagnostics> {
    load_with(rel, ValidateOptions::default())
}

pub fn load_with(rel: &str, options: ValidateOptions) -> Result<Workflow, Diagnostics> {
    let mut loader = Loader::new(&NoCatalog);
    loader.options = options;
    loader.load_workflow(&Path::new("tests/fixtures").join(rel))
}

/// Load a fixture that must be valid.
pub fn load_ok(rel: &str) -> Workflow {
    match load(rel) {
        Ok(w) => w,
        Err(d) => panic!("{rel} should be valid, got:\n{}", render(&d)),
    }
}

/// Parse a workflow from text (components resolved against `tests/fixtures`).
pub fn parse(text: &str) -> Result<Workflow, Diagnostics> {
    Loader::new(&NoCatalog).parse_workflow(text, "test.yaml", Path::new("tests/fixtures"))
}

pub fn parse_ok(text: &str) -> Workflow {
    match parse(text) {
        Ok(w) => w,
        Err(d) => panic!("should be valid, got:\n{}", render(&d)),
    }
}

/// The diagnostics as the CLI prints them, one per line.
pub fn render(d: &Diagnostics) -> String {
    d.0.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

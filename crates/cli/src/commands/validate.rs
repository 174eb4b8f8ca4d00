//! `containerops validate FILE…`

use std::path::PathBuf;

use clap::Args;
use co_spec::{Diagnostics, Loader};

use crate::exit;

#[derive(Args)]
pub struct ValidateArgs {
    /// Workflow files (either format), component.yaml files, or component directories.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

pub fn validate(args: ValidateArgs) -> u8 {
    let catalog = crate::engine::catalog();
    let loader = Loader::new(&catalog);
    let mut all = Vec::new();
    for file in &args.files {
        let result = if is_component(file) {
            loader.load_component(file).map(|_| ())
        } else {
            loader.load_workflow(file).map(|_| ())
        };
        match result {
            Ok(()) => eprintln!("{}: ok", file.display()),
            Err(Diagnostics(mut d)) => all.append(&mut d),
        }
    }
    if all.is_empty() {
        exit::OK
    } else {
        super::report_diagnostics(&Diagnostics(all))
    }
}

/// A directory, or a file named component.yaml/.yml, is a component; anything else a workflow.
fn is_component(path: &std::path::Path) -> bool {
    path.is_dir()
        || path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n == "component.yaml" || n == "component.yml")
}

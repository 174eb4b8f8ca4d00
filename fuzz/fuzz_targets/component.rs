//! component.yaml: parse and validate.
#![no_main]

use std::path::Path;

use co_spec::{Loader, NoCatalog};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let loader = Loader::new(&NoCatalog);
    match loader.parse_component(text, "fuzz/component.yaml", Path::new("fuzz")) {
        Ok(component) => {
            assert!(!component.name.is_empty());
        }
        Err(diagnostics) => {
            assert!(!diagnostics.0.is_empty(), "an error without a diagnostic");
            for d in &diagnostics.0 {
                assert!(d.span.line >= 1 && d.span.col >= 1, "position 0 in {d}");
            }
        }
    }
});

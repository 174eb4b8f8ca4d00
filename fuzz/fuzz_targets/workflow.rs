//! Workflow YAML (native format) as a server receives it: parse, validate, plan.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        co_fuzz::load_workflow(text);
    }
});

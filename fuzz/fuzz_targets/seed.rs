//! Seed-format flows (SPEC §4): a document with a top-level `uri:` is read by the seed decoder;
//! one without gets `uri: fuzz/flow` added first, so every input reaches that decoder.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if text.lines().any(|l| l.starts_with("uri:")) {
        co_fuzz::load_workflow(text);
    } else {
        co_fuzz::load_workflow(&format!("uri: fuzz/flow\n{text}"));
    }
});

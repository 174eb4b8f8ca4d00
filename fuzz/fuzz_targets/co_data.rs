//! `CO_DATA` (SPEC §1): decoding any text, and encode → decode round trips.
//!
//! The input is read twice: as `CO_DATA` text to decode, and as lines `KEY<TAB>VALUE` to encode
//! (every readable key — non-empty, no `=`, no white space — must come back with its value).
#![no_main]

use co_protocol::{decode_co_data, encode_co_data, encode_co_data_json, input_env_name};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(pairs) = decode_co_data(text) {
        // What was read is written back and read again unchanged.
        let values: Vec<(String, Value)> = pairs
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        let again = decode_co_data(&encode_co_data(&values))
            .unwrap_or_else(|e| panic!("{text:?}: the re-encoded pairs do not decode: {e}"));
        assert_eq!(again, pairs);
    }

    let inputs: Vec<(String, Value)> = text
        .split('\n')
        .filter_map(|line| line.split_once('\t'))
        .filter(|(k, _)| !k.is_empty() && !k.contains(|c: char| c == '=' || c.is_whitespace()))
        .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
        .collect();
    let encoded = encode_co_data(&inputs);
    let decoded = decode_co_data(&encoded)
        .unwrap_or_else(|e| panic!("{inputs:?} encoded as {encoded:?} does not decode: {e}"));
    let expected: Vec<(String, String)> = inputs
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
        .collect();
    assert_eq!(decoded, expected, "encoded as {encoded:?}");

    let json: Value = serde_json::from_str(&encode_co_data_json(&inputs))
        .unwrap_or_else(|e| panic!("CO_DATA_JSON is not JSON: {e}"));
    assert!(json.is_object());
    for (k, _) in &inputs {
        assert_eq!(
            input_env_name(k).chars().count(),
            "CO_INPUT_".len() + k.chars().count()
        );
    }
});

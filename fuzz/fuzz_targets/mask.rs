//! Secret masking of log text: secrets, then a NUL byte, then the text (secrets separated by
//! `\x01`). A secret without `*` (the mask itself is `***`) never survives masking: not plainly,
//! not base64-encoded, not fully percent-encoded, not as a JSON string.
#![no_main]

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use co_protocol::Masker;
use libfuzzer_sys::fuzz_target;

fn percent_encoded(secret: &str) -> String {
    secret.bytes().map(|b| format!("%{b:02X}")).collect()
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Some((secrets, log)) = text.split_once('\0') else {
        return;
    };
    let secrets: Vec<&str> = secrets.split('\x01').collect();
    let masker = Masker::new(&secrets);
    // The text with every secret added in its encoded forms, so that masking has work to do.
    let mut line = log.to_string();
    for secret in &secrets {
        line.push_str(&format!(
            " {secret} {} {} {}",
            STANDARD.encode(secret),
            percent_encoded(secret),
            serde_json::Value::String(secret.to_string())
        ));
    }
    let masked = masker.mask(&line);
    for secret in secrets.iter().filter(|s| !s.is_empty() && !s.contains('*')) {
        assert!(!masked.contains(secret), "{secret:?} left in {masked:?}");
        let b64 = STANDARD.encode(secret);
        assert!(
            !masked.contains(&b64),
            "base64 of {secret:?} left in {masked:?}"
        );
        let pct = percent_encoded(secret);
        assert!(!masked.contains(&pct), "{pct:?} left in {masked:?}");
    }
    if let Ok(value) = serde_json::from_str::<serde_json::Value>(log) {
        let _ = masker.mask_json(&value);
    }
});

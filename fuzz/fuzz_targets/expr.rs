//! `${{ … }}` expressions: templates, bare expressions and `if:` conditions — parse, analyse,
//! show and evaluate (against values that include a 256 KiB string, so the result-size limit is
//! reachable by functions that multiply their input).
#![no_main]

use std::sync::OnceLock;

use co_expr::{parse_condition, Expr, ExprError, Template, ValueContext, MAX_RESULT_BYTES};
use libfuzzer_sys::fuzz_target;
use serde_json::json;

fn ctx() -> &'static ValueContext {
    static CTX: OnceLock<ValueContext> = OnceLock::new();
    CTX.get_or_init(|| {
        ValueContext::new(json!({
            "inputs": {
                "who": "world", "count": 3, "tag": "", "flag": true, "zero": 0,
                "list": ["a", "b"], "nums": [1, 2.5, -3], "json": "{\"a\":{\"b\":[10,20]}}",
                "fmt": "{0}{0}{1}", "big": "x".repeat(256 * 1024),
            },
            "actions": {
                "build-linux": {"outputs": {"image-tag": "v1"}, "status": "succeeded"},
            },
            "trigger": {"payload": {"commits": [{"id": "c1"}, {"id": "c2"}]}},
            "matrix": {"os name": "linux", "n": 2},
            "env": {"HOME": "/root"},
            "nil": null,
        }))
    })
}

/// A parse error points at a char boundary inside (or just after) the text.
fn check_error(text: &str, err: &ExprError) {
    assert!(
        err.offset <= text.len() && text.is_char_boundary(err.offset),
        "{err:?}"
    );
}

/// A value an expression made is never larger than the limit.
fn check_value(value: &serde_json::Value) {
    let size = match value {
        serde_json::Value::String(s) => s.len(),
        other => other.to_string().len(),
    };
    assert!(size <= MAX_RESULT_BYTES, "a value of {size} bytes");
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Expr::parse(text) {
        Ok(e) => {
            if let Ok(v) = e.eval(ctx()) {
                check_value(&v);
            }
            let _ = e.status_functions();
            for r in e.references() {
                assert!(text
                    .get(r.offset..)
                    .is_some_and(|t| t.starts_with(r.path[0].as_str())));
            }
            // The canonical text parses back to an expression shown the same way.
            let shown = e.to_string();
            let again = Expr::parse(&shown)
                .unwrap_or_else(|err| panic!("{text:?} shown as {shown:?} does not parse: {err}"));
            assert_eq!(again.to_string(), shown);
        }
        Err(err) => check_error(text, &err),
    }
    match Template::parse(text) {
        Ok(t) => {
            if let Ok(v) = t.eval(ctx()) {
                check_value(&v);
            }
            let _ = (t.as_literal(), t.constant(), t.status_functions());
            for r in t.references() {
                assert!(text
                    .get(r.offset..)
                    .is_some_and(|t| t.starts_with(r.path[0].as_str())));
            }
        }
        Err(err) => check_error(text, &err),
    }
    match parse_condition(text) {
        Ok(e) => {
            let _ = e.eval_bool(ctx());
        }
        Err(err) => check_error(text, &err),
    }
});

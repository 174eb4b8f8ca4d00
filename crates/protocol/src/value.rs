//! Converting values to declared types.

use serde_json::{Number, Value};

use crate::{show, ValueType};

/// Convert a value to a declared type: `"3"` → `3` for `int`, `"true"` → `true` for `bool`, a
/// JSON text → its value for `json`, anything → its text for `string`/`secret`. Errors say why.
///
/// The rules, per type:
///
/// | type | accepts | result |
/// |---|---|---|
/// | `int` | a JSON integer in the `i64` range; a string whose trimmed text parses as `i64` (`"3"`, `" -4 "`, `"+5"`) | a JSON integer |
/// | `float` | any JSON number; a string whose trimmed text parses as a finite `f64` (`"1.5"`, `"2"`, `"1e3"`) | a JSON float (`2` → `2.0`) |
/// | `bool` | `true`/`false`; the strings `true`/`false` in any case, trimmed | a JSON bool |
/// | `json` | any non-string JSON value as it is; a string is parsed as JSON text (`"[1,2]"` → `[1,2]`, `"\"x\""` → `"x"`) and is an error if it does not parse | the value |
/// | `string`, `secret` | anything: scalars become their text ([`crate::value_text`]: `null` → `""`), arrays and objects compact JSON | a JSON string |
///
/// Not accepted: floats for `int` (`3.0` is an error, so no value is silently changed), `NaN`/`inf`
/// for `float` (JSON cannot hold them), numbers for `bool`, `null` for `int`/`float`/`bool`.
/// A string that is not JSON text for `json` is an error rather than being taken as a JSON string:
/// a `json` input is declared to carry structured data, and a typo in it should be reported.
///
/// Errors read `expected int, got "abc"` (the value in its JSON form, shortened to 80 bytes).
pub fn coerce(value: &Value, ty: ValueType) -> Result<Value, String> {
    match ty {
        ValueType::String | ValueType::Secret => Ok(Value::String(crate::value_text(value))),
        ValueType::Int => coerce_int(value),
        ValueType::Float => coerce_float(value),
        ValueType::Bool => coerce_bool(value),
        ValueType::Json => coerce_json(value),
    }
}

fn expected(ty: ValueType, value: &Value) -> String {
    format!("expected {}, got {}", ty.name(), show(value))
}

fn coerce_int(value: &Value) -> Result<Value, String> {
    match value {
        Value::Number(n) => match n.as_i64() {
            Some(i) => Ok(Value::from(i)),
            None if n.is_u64() => Err(format!(
                "{} (out of the int range)",
                expected(ValueType::Int, value)
            )),
            None => Err(expected(ValueType::Int, value)),
        },
        Value::String(s) => match s.trim().parse::<i64>() {
            Ok(i) => Ok(Value::from(i)),
            Err(e)
                if matches!(
                    e.kind(),
                    std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow
                ) =>
            {
                Err(format!(
                    "{} (out of the int range)",
                    expected(ValueType::Int, value)
                ))
            }
            Err(_) => Err(expected(ValueType::Int, value)),
        },
        _ => Err(expected(ValueType::Int, value)),
    }
}

fn coerce_float(value: &Value) -> Result<Value, String> {
    let parsed = match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    match parsed.and_then(Number::from_f64) {
        Some(n) => Ok(Value::Number(n)),
        None => Err(expected(ValueType::Float, value)),
    }
}

fn coerce_bool(value: &Value) -> Result<Value, String> {
    match value {
        Value::Bool(b) => Ok(Value::Bool(*b)),
        Value::String(s) => {
            let t = s.trim();
            if t.eq_ignore_ascii_case("true") {
                Ok(Value::Bool(true))
            } else if t.eq_ignore_ascii_case("false") {
                Ok(Value::Bool(false))
            } else {
                Err(expected(ValueType::Bool, value))
            }
        }
        _ => Err(expected(ValueType::Bool, value)),
    }
}

fn coerce_json(value: &Value) -> Result<Value, String> {
    match value {
        Value::String(s) => serde_json::from_str::<Value>(s)
            .map_err(|e| format!("{} ({e})", expected(ValueType::Json, value))),
        other => Ok(other.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ok(v: Value, ty: ValueType) -> Value {
        match coerce(&v, ty) {
            Ok(x) => x,
            Err(e) => panic!("coerce({v}, {ty:?}) failed: {e}"),
        }
    }

    fn err(v: Value, ty: ValueType) -> String {
        match coerce(&v, ty) {
            Ok(x) => panic!("coerce({v}, {ty:?}) should fail, got {x}"),
            Err(e) => e,
        }
    }

    #[test]
    fn int_accepts_integers_and_integer_strings() {
        use ValueType::Int;
        assert_eq!(ok(json!(3), Int), json!(3));
        assert_eq!(ok(json!(-3), Int), json!(-3));
        assert_eq!(ok(json!(i64::MAX), Int), json!(i64::MAX));
        assert_eq!(ok(json!(i64::MIN), Int), json!(i64::MIN));
        assert_eq!(ok(json!("3"), Int), json!(3));
        assert_eq!(ok(json!(" 42 \n"), Int), json!(42));
        assert_eq!(ok(json!("+5"), Int), json!(5));
        assert_eq!(ok(json!("-7"), Int), json!(-7));
    }

    #[test]
    fn int_rejects_everything_else() {
        use ValueType::Int;
        assert_eq!(err(json!("abc"), Int), "expected int, got \"abc\"");
        assert_eq!(err(json!(""), Int), "expected int, got \"\"");
        assert_eq!(err(json!("3.0"), Int), "expected int, got \"3.0\"");
        assert_eq!(err(json!(3.5), Int), "expected int, got 3.5");
        assert_eq!(err(json!(3.0), Int), "expected int, got 3.0");
        assert_eq!(err(json!(true), Int), "expected int, got true");
        assert_eq!(err(json!(null), Int), "expected int, got null");
        assert_eq!(err(json!([1]), Int), "expected int, got [1]");
        assert_eq!(err(json!({"a": 1}), Int), "expected int, got {\"a\":1}");
        assert_eq!(
            err(json!(u64::MAX), Int),
            "expected int, got 18446744073709551615 (out of the int range)"
        );
        assert_eq!(
            err(json!("99999999999999999999"), Int),
            "expected int, got \"99999999999999999999\" (out of the int range)"
        );
    }

    #[test]
    fn float_accepts_numbers_and_numeric_strings() {
        use ValueType::Float;
        assert_eq!(ok(json!(1.5), Float), json!(1.5));
        assert_eq!(ok(json!(2), Float), json!(2.0));
        assert!(ok(json!(2), Float).is_f64());
        assert_eq!(ok(json!("1.25"), Float), json!(1.25));
        assert_eq!(ok(json!(" -3 "), Float), json!(-3.0));
        assert_eq!(ok(json!("1e3"), Float), json!(1000.0));
    }

    #[test]
    fn float_rejects_non_numbers_and_non_finite() {
        use ValueType::Float;
        assert_eq!(err(json!("abc"), Float), "expected float, got \"abc\"");
        assert_eq!(err(json!("NaN"), Float), "expected float, got \"NaN\"");
        assert_eq!(err(json!("inf"), Float), "expected float, got \"inf\"");
        assert_eq!(err(json!("1e400"), Float), "expected float, got \"1e400\"");
        assert_eq!(err(json!(false), Float), "expected float, got false");
        assert_eq!(err(json!(null), Float), "expected float, got null");
    }

    #[test]
    fn bool_accepts_bools_and_case_insensitive_strings() {
        use ValueType::Bool;
        assert_eq!(ok(json!(true), Bool), json!(true));
        assert_eq!(ok(json!(false), Bool), json!(false));
        for s in ["true", "TRUE", "True", " tRuE "] {
            assert_eq!(ok(json!(s), Bool), json!(true), "{s}");
        }
        for s in ["false", "FALSE", "False", "false\n"] {
            assert_eq!(ok(json!(s), Bool), json!(false), "{s}");
        }
    }

    #[test]
    fn bool_rejects_everything_else() {
        use ValueType::Bool;
        assert_eq!(err(json!("yes"), Bool), "expected bool, got \"yes\"");
        assert_eq!(err(json!("1"), Bool), "expected bool, got \"1\"");
        assert_eq!(err(json!(1), Bool), "expected bool, got 1");
        assert_eq!(err(json!(null), Bool), "expected bool, got null");
    }

    #[test]
    fn json_parses_strings_and_keeps_other_values() {
        use ValueType::Json;
        assert_eq!(ok(json!("[1,2]"), Json), json!([1, 2]));
        assert_eq!(ok(json!("{\"a\":true}"), Json), json!({"a": true}));
        assert_eq!(ok(json!("\"x\""), Json), json!("x"));
        assert_eq!(ok(json!(" 3 "), Json), json!(3));
        assert_eq!(ok(json!("null"), Json), json!(null));
        assert_eq!(ok(json!({"a": [1]}), Json), json!({"a": [1]}));
        assert_eq!(ok(json!(5), Json), json!(5));
        assert_eq!(ok(json!(null), Json), json!(null));
        assert_eq!(ok(json!(false), Json), json!(false));
    }

    #[test]
    fn json_rejects_strings_that_are_not_json() {
        use ValueType::Json;
        let e = err(json!("abc"), Json);
        assert!(e.starts_with("expected json, got \"abc\" ("), "{e}");
        let e = err(json!("{\"a\":"), Json);
        assert!(e.starts_with("expected json, got \"{\\\"a\\\":\" ("), "{e}");
        assert!(err(json!(""), Json).starts_with("expected json, got \"\" ("));
    }

    #[test]
    fn string_and_secret_take_the_text() {
        for ty in [ValueType::String, ValueType::Secret] {
            assert_eq!(ok(json!("a b"), ty), json!("a b"));
            assert_eq!(ok(json!(3), ty), json!("3"));
            assert_eq!(ok(json!(1.5), ty), json!("1.5"));
            assert_eq!(ok(json!(true), ty), json!("true"));
            assert_eq!(ok(json!(null), ty), json!(""));
            assert_eq!(ok(json!([1, "a"]), ty), json!("[1,\"a\"]"));
            assert_eq!(ok(json!({"k": "v"}), ty), json!("{\"k\":\"v\"}"));
        }
    }

    #[test]
    fn huge_values_are_shortened_in_errors() {
        let e = err(json!("x".repeat(10_000)), ValueType::Int);
        assert!(e.len() < 200, "{}", e.len());
        assert!(e.starts_with("expected int, got \"xxx"));
        assert!(e.ends_with('…'));
    }
}

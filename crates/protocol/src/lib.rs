//! The component protocol (SPEC §1), made strict.
//!
//! Invariants: no IO, no panics on any input, bounded memory for any output size (a line or value
//! larger than [`MAX_VALUE_BYTES`] is cut and reported, never buffered whole).
//!
//! * Typed values: [`coerce`] converts a value to a declared [`ValueType`].
//! * Input side: [`encode_co_data`], [`decode_co_data`], [`encode_co_data_json`],
//!   [`input_env_name`], [`step_env`], [`deliver_env`] (variables too large for an
//!   environment become files).
//! * Output side: [`LineSplitter`] (bytes → [`Line`]s), [`OutputCollector`] (`[COUT]` lines →
//!   [`Collected`]), [`typed_outputs`].
//! * Secret masking: [`Masker`].

use serde_json::Value;

mod env_files;
mod input;
mod lines;
mod mask;
mod output;
mod value;

pub use env_files::{
    check_command, deliver_env, EnvFile, ENV_FILES_DIR, FILE_SUFFIX, MAX_ARG_BYTES,
    MAX_COMMAND_BYTES, MAX_ENV_BYTES, MAX_ENV_VALUE_BYTES,
};
pub use input::{
    decode_co_data, encode_co_data, encode_co_data_json, input_env_name, step_env, StepContext,
    WORKSPACE_DIR,
};
pub use lines::{Line, LineSplitter, Stream, MAX_LINE_BYTES};
pub use mask::{Masker, MASK, MIN_BASE64_FRAGMENT, MIN_SECRET_LINE};
pub use output::{
    typed_outputs, Collected, OutputCollector, OutputDecl, MAX_OUTPUTS_BYTES, MAX_OUTPUT_KEYS,
    MAX_REPORTED_ERRORS,
};
pub use value::coerce;

/// Largest accepted output value (1 MiB). A larger one fails the step.
pub const MAX_VALUE_BYTES: usize = 1024 * 1024;

/// The types of component inputs and outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ValueType {
    String,
    Int,
    Float,
    Bool,
    Json,
    Secret,
}

impl ValueType {
    pub const ALL: [ValueType; 6] = [
        ValueType::String,
        ValueType::Int,
        ValueType::Float,
        ValueType::Bool,
        ValueType::Json,
        ValueType::Secret,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ValueType::String => "string",
            ValueType::Int => "int",
            ValueType::Float => "float",
            ValueType::Bool => "bool",
            ValueType::Json => "json",
            ValueType::Secret => "secret",
        }
    }

    pub fn from_name(name: &str) -> Option<ValueType> {
        ValueType::ALL.into_iter().find(|t| t.name() == name)
    }
}

/// How a value is passed as text (`CO_INPUT_*`, `CO_DATA`, string templates): strings as they are,
/// `null` as empty, numbers and booleans in their JSON form, arrays and objects as compact JSON.
pub fn value_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Shortens `text` to at most `max` bytes (at a char boundary), marking the cut with `…`.
/// Used to keep user-facing error messages readable when a value is huge.
pub(crate) fn clip(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while end > 0 && !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", text.get(..end).unwrap_or(""))
}

/// A value as shown in an error message: its JSON form (strings quoted), clipped to 80 bytes.
pub(crate) fn show(value: &Value) -> String {
    clip(&value.to_string(), 80)
}

/// A text as shown in an error message: JSON-quoted, clipped to 80 bytes.
pub(crate) fn show_text(text: &str) -> String {
    clip(&Value::String(text.to_string()).to_string(), 80)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn value_type_names_round_trip() {
        for t in ValueType::ALL {
            assert_eq!(ValueType::from_name(t.name()), Some(t));
            let ser = serde_json::to_string(&t).unwrap();
            assert_eq!(ser, format!("\"{}\"", t.name()));
        }
        assert_eq!(ValueType::from_name("Int"), None);
        assert_eq!(ValueType::from_name("integer"), None);
    }

    #[test]
    fn value_text_forms() {
        assert_eq!(value_text(&json!("a b")), "a b");
        assert_eq!(value_text(&json!(null)), "");
        assert_eq!(value_text(&json!(3)), "3");
        assert_eq!(value_text(&json!(1.5)), "1.5");
        assert_eq!(value_text(&json!(true)), "true");
        assert_eq!(value_text(&json!([1, "x"])), "[1,\"x\"]");
        assert_eq!(value_text(&json!({"a": {"b": 1}})), "{\"a\":{\"b\":1}}");
    }

    #[test]
    fn clip_cuts_at_char_boundary() {
        assert_eq!(clip("abc", 3), "abc");
        assert_eq!(clip("abcd", 3), "abc…");
        // "é" is 2 bytes: cutting at 2 would split it.
        assert_eq!(clip("aé", 2), "a…");
        assert_eq!(show_text(&"x".repeat(200)).len(), 80 + "…".len());
    }
}

//! The component protocol (SPEC §1), made strict.
//!
//! Invariants: no IO, no panics on any input, bounded memory for any output size (a line or value
//! larger than [`MAX_VALUE_BYTES`] is cut and reported, never buffered whole).

use indexmap::IndexMap;
use serde_json::Value;

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

/// Convert a value to a declared type: `"3"` → `3` for `int`, `"true"` → `true` for `bool`, a
/// JSON text → its value for `json`, anything → its text for `string`/`secret`. Errors say why.
pub fn coerce(value: &Value, ty: ValueType) -> Result<Value, String> {
    todo!("{value} {ty:?}")
}

// ---------------------------------------------------------------------------------------------
// Input side

/// The context variables every step gets.
#[derive(Debug, Clone)]
pub struct StepContext<'a> {
    pub run_id: &'a str,
    pub workflow: &'a str,
    pub stage: &'a str,
    pub action: &'a str,
    pub attempt: u32,
}

/// Mount point of the run's shared workspace inside every step container.
pub const WORKSPACE_DIR: &str = "/workspace";

/// `CO_DATA`: `key=value` pairs joined by one space, in order; values quoted as SPEC §1 says.
pub fn encode_co_data(inputs: &[(String, Value)]) -> String {
    todo!("{inputs:?}")
}

/// Inverse of [`encode_co_data`] (values come back as text). Readers split at the first `=`.
pub fn decode_co_data(text: &str) -> Result<Vec<(String, String)>, String> {
    todo!("{text}")
}

/// `CO_DATA_JSON`: the inputs as one JSON object with typed values, in order.
pub fn encode_co_data_json(inputs: &[(String, Value)]) -> String {
    todo!("{inputs:?}")
}

/// `CO_INPUT_<NAME>`: upper-cased, every char not `[A-Z0-9]` becomes `_`.
pub fn input_env_name(name: &str) -> String {
    todo!("{name}")
}

/// Every protocol variable for one step, in a stable order: `CO_DATA`, `CO_DATA_JSON`,
/// `CO_INPUT_*`, then the context variables and `CO_WORKSPACE`. With `inputs = None` (seed-format
/// flows, whose `CO_DATA` comes verbatim from `environments`) only the context variables.
pub fn step_env(ctx: &StepContext<'_>, inputs: Option<&[(String, Value)]>) -> Vec<(String, String)> {
    todo!("{ctx:?} {inputs:?}")
}

// ---------------------------------------------------------------------------------------------
// Output side

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    Stdout,
    Stderr,
}

/// A complete line of output. Invalid UTF-8 is replaced (lossy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub stream: Stream,
    pub text: String,
    /// Bytes of this line that were dropped because it was longer than the line limit.
    pub truncated_bytes: usize,
}

/// Splits byte chunks from one or two streams into lines (`\n`, with a trailing `\r` removed).
/// Keeps at most `MAX_VALUE_BYTES + 4096` bytes of any line; the rest is counted, not kept.
#[derive(Debug, Default)]
pub struct LineSplitter {
    // implementation detail
}

impl LineSplitter {
    pub fn new() -> Self {
        todo!()
    }
    /// Feed a chunk; every line it completes is passed to `emit`.
    pub fn push(&mut self, stream: Stream, chunk: &[u8], emit: &mut dyn FnMut(Line)) {
        todo!("{stream:?} {chunk:?} {emit:p}")
    }
    /// End of both streams: emit unterminated last lines.
    pub fn finish(&mut self, emit: &mut dyn FnMut(Line)) {
        todo!("{emit:p}")
    }
}

/// What a component reported through `[COUT]` lines.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Collected {
    /// Raw output values in first-assignment order (a later assignment wins).
    pub outputs: IndexMap<String, String>,
    /// `CO_RESULT`, if printed (the last one wins).
    pub verdict: Option<bool>,
    /// Protocol violations that fail the step (value over 1 MiB, unterminated heredoc, bad CO_RESULT).
    pub errors: Vec<String>,
}

/// Reads `[COUT]` lines from both streams (each stream has its own heredoc state).
#[derive(Debug, Default)]
pub struct OutputCollector {
    // implementation detail
}

impl OutputCollector {
    pub fn new() -> Self {
        todo!()
    }
    /// Feed one line (every line is also an ordinary log line; this only extracts outputs).
    pub fn feed(&mut self, line: &Line) {
        todo!("{line:?}")
    }
    /// End of output.
    pub fn finish(self) -> Collected {
        todo!()
    }
}

/// A declared output (from `component.yaml`).
#[derive(Debug, Clone, PartialEq)]
pub struct OutputDecl {
    pub ty: ValueType,
    pub required: bool,
}

/// Turn raw outputs into typed JSON values. With no declarations every key is kept as a string;
/// with declarations only declared keys are kept, each type-checked, and missing required ones are
/// errors. Returns the typed outputs and the list of problems (empty when all is well).
pub fn typed_outputs(
    raw: &IndexMap<String, String>,
    declared: &IndexMap<String, OutputDecl>,
) -> (IndexMap<String, Value>, Vec<String>) {
    todo!("{raw:?} {declared:?}")
}

// ---------------------------------------------------------------------------------------------
// Secret masking

/// Replaces every secret value, and its base64 forms, with `***`.
#[derive(Debug, Clone, Default)]
pub struct Masker {
    // implementation detail
}

impl Masker {
    pub fn new<I, S>(secrets: I) -> Masker
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let _ = secrets.into_iter().map(|s| s.as_ref().len()).count();
        todo!()
    }
    pub fn is_empty(&self) -> bool {
        todo!()
    }
    pub fn mask<'a>(&self, text: &'a str) -> std::borrow::Cow<'a, str> {
        todo!("{text}")
    }
}

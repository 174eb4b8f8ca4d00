//! The built-in functions: names, arities and implementations.

use crate::{push_bounded, to_text, too_large, EvalError, StatusFn, Value, MAX_RESULT_BYTES};

/// A built-in function's signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FunctionInfo {
    /// The canonical name (calls are matched case-insensitively and stored with this name).
    pub name: &'static str,
    /// Fewest arguments accepted.
    pub min_args: usize,
    /// Most arguments accepted (`None`: any number).
    pub max_args: Option<usize>,
    /// Set for `success()`, `failure()`, `always()`, `cancelled()`.
    pub status: Option<StatusFn>,
}

const fn f(name: &'static str, min_args: usize, max_args: Option<usize>) -> FunctionInfo {
    FunctionInfo {
        name,
        min_args,
        max_args,
        status: None,
    }
}

const fn status(name: &'static str, s: StatusFn) -> FunctionInfo {
    FunctionInfo {
        name,
        min_args: 0,
        max_args: Some(0),
        status: Some(s),
    }
}

/// Every function an expression may call.
pub const FUNCTIONS: &[FunctionInfo] = &[
    f("contains", 2, Some(2)),
    f("startsWith", 2, Some(2)),
    f("endsWith", 2, Some(2)),
    f("format", 1, None),
    f("toJSON", 1, Some(1)),
    f("fromJSON", 1, Some(1)),
    f("join", 1, Some(2)),
    status("success", StatusFn::Success),
    status("failure", StatusFn::Failure),
    status("always", StatusFn::Always),
    status("cancelled", StatusFn::Cancelled),
];

/// Look a function up by name, ignoring ASCII case (`toJson` is `toJSON`).
pub fn function(name: &str) -> Option<&'static FunctionInfo> {
    FUNCTIONS.iter().find(|f| f.name.eq_ignore_ascii_case(name))
}

impl FunctionInfo {
    pub(crate) fn arity_text(&self) -> String {
        let plural = |n: usize| if n == 1 { "argument" } else { "arguments" };
        match self.max_args {
            Some(max) if max == self.min_args => format!("{max} {}", plural(max)),
            Some(max) => format!("{} to {max} arguments", self.min_args),
            None => format!("at least {} {}", self.min_args, plural(self.min_args)),
        }
    }

    pub(crate) fn accepts(&self, n: usize) -> bool {
        n >= self.min_args && self.max_args.is_none_or(|max| n <= max)
    }
}

impl StatusFn {
    /// The function's name as written in an expression (`success`, …).
    pub fn name(self) -> &'static str {
        match self {
            StatusFn::Success => "success",
            StatusFn::Failure => "failure",
            StatusFn::Always => "always",
            StatusFn::Cancelled => "cancelled",
        }
    }
}

/// Levenshtein distance between two short strings, ignoring ASCII case.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().map(|c| c.to_ascii_lowercase()).collect();
    let b: Vec<char> = b.chars().map(|c| c.to_ascii_lowercase()).collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = Vec::with_capacity(b.len() + 1);
        cur.push(i + 1);
        for (j, cb) in b.iter().enumerate() {
            let sub = prev.get(j).copied().unwrap_or(usize::MAX) + usize::from(ca != cb);
            let del = prev
                .get(j + 1)
                .copied()
                .unwrap_or(usize::MAX)
                .saturating_add(1);
            let ins = cur.get(j).copied().unwrap_or(usize::MAX).saturating_add(1);
            cur.push(sub.min(del).min(ins));
        }
        prev = cur;
    }
    prev.last().copied().unwrap_or(0)
}

/// The closest known name to `name`, if it is close enough to be a likely typo.
pub(crate) fn suggest<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    if name.chars().count() > 64 {
        return None;
    }
    let limit = if name.chars().count() <= 4 { 1 } else { 2 };
    candidates
        .into_iter()
        .map(|c| (distance(name, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// The message for a call of an unknown function.
pub(crate) fn unknown_function_message(name: &str) -> String {
    match suggest(name, FUNCTIONS.iter().map(|f| f.name)) {
        Some(s) => format!("unknown function `{name}`: did you mean `{s}`?"),
        None => format!(
            "unknown function `{name}`: expected one of {}",
            FUNCTIONS
                .iter()
                .map(|f| format!("`{}`", f.name))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// Implementations (arguments are already evaluated).

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A scalar argument as text; arrays and objects are an error.
fn scalar_text(func: &str, pos: usize, v: &Value) -> Result<String, EvalError> {
    match v {
        Value::Array(_) | Value::Object(_) => Err(EvalError(format!(
            "{func}(): argument {pos} must be a string, number, boolean or null, found {}",
            type_name(v)
        ))),
        other => Ok(to_text(other)),
    }
}

fn arg(args: &[Value], i: usize) -> &Value {
    args.get(i).unwrap_or(&Value::Null)
}

pub(crate) fn contains(args: &[Value]) -> Result<Value, EvalError> {
    let (hay, needle) = (arg(args, 0), arg(args, 1));
    match hay {
        Value::Array(items) => Ok(Value::Bool(
            items.iter().any(|item| crate::eval::loose_eq(item, needle)),
        )),
        Value::Object(_) => Err(EvalError(
            "contains(): argument 1 must be a string or an array, found an object".to_string(),
        )),
        other => {
            let hay = to_text(other);
            let needle = scalar_text("contains", 2, needle)?;
            Ok(Value::Bool(hay.contains(&needle)))
        }
    }
}

pub(crate) fn starts_with(args: &[Value]) -> Result<Value, EvalError> {
    let hay = scalar_text("startsWith", 1, arg(args, 0))?;
    let needle = scalar_text("startsWith", 2, arg(args, 1))?;
    Ok(Value::Bool(hay.starts_with(&needle)))
}

pub(crate) fn ends_with(args: &[Value]) -> Result<Value, EvalError> {
    let hay = scalar_text("endsWith", 1, arg(args, 0))?;
    let needle = scalar_text("endsWith", 2, arg(args, 1))?;
    Ok(Value::Bool(hay.ends_with(&needle)))
}

/// One piece of a format string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FormatPiece<'a> {
    Text(&'a str),
    Brace(char),
    Arg(usize),
}

/// Split a `format()` string into pieces: text, `{{`/`}}` escapes, `{N}` placeholders.
pub(crate) fn parse_format(fmt: &str) -> Result<Vec<FormatPiece<'_>>, String> {
    let mut pieces = Vec::new();
    let mut text_start = 0;
    let mut iter = fmt.char_indices().peekable();
    while let Some((i, c)) = iter.next() {
        if c != '{' && c != '}' {
            continue;
        }
        if i > text_start {
            pieces.push(FormatPiece::Text(fmt.get(text_start..i).unwrap_or("")));
        }
        if iter.peek().map(|(_, n)| *n) == Some(c) {
            iter.next();
            pieces.push(FormatPiece::Brace(c));
            text_start = i + 2;
            continue;
        }
        if c == '}' {
            return Err(
                "format(): unmatched `}` in the format string (write `}}` for a literal `}`)"
                    .to_string(),
            );
        }
        let rest = fmt.get(i + 1..).unwrap_or("");
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let closed = rest.get(digits..).is_some_and(|r| r.starts_with('}'));
        let index = rest.get(..digits).and_then(|d| d.parse::<usize>().ok());
        match (index, closed) {
            (Some(n), true) => {
                pieces.push(FormatPiece::Arg(n));
                for _ in 0..=digits {
                    iter.next();
                }
                text_start = i + digits + 2;
            }
            _ => {
                let snippet = fmt.get(i..).unwrap_or("");
                let snippet = match snippet.find('}') {
                    Some(close) => snippet.get(..=close).unwrap_or(snippet),
                    None => snippet,
                };
                return Err(format!(
                    "format(): invalid placeholder `{}` in the format string: expected `{{0}}`, `{{1}}`, … (write `{{{{` for a literal `{{`)",
                    crate::lexer::shorten(snippet, 12)
                ));
            }
        }
    }
    if text_start < fmt.len() {
        pieces.push(FormatPiece::Text(fmt.get(text_start..).unwrap_or("")));
    }
    Ok(pieces)
}

/// Check a format string against the number of values given after it.
pub(crate) fn check_format(fmt: &str, values: usize) -> Result<Vec<FormatPiece<'_>>, String> {
    let pieces = parse_format(fmt)?;
    for piece in &pieces {
        if let FormatPiece::Arg(n) = piece {
            if *n >= values {
                return Err(format!(
                    "format(): placeholder `{{{n}}}` needs at least {} value{} after the format string, found {values}",
                    n + 1,
                    if n + 1 == 1 { "" } else { "s" },
                ));
            }
        }
    }
    Ok(pieces)
}

pub(crate) fn format(args: &[Value]) -> Result<Value, EvalError> {
    let fmt = scalar_text("format", 1, arg(args, 0))?;
    let values = args.get(1..).unwrap_or(&[]);
    let pieces = check_format(&fmt, values.len()).map_err(EvalError)?;
    let mut out = String::new();
    // Each value's text once, however often it is used.
    let mut texts: Vec<Option<String>> = vec![None; values.len()];
    for piece in pieces {
        match piece {
            FormatPiece::Text(t) => push_bounded(&mut out, t, "format()")?,
            FormatPiece::Brace(c) => {
                push_bounded(&mut out, c.encode_utf8(&mut [0; 4]), "format()")?
            }
            FormatPiece::Arg(n) => {
                let text = match texts.get_mut(n) {
                    Some(slot) => slot.get_or_insert_with(|| to_text(arg(values, n))),
                    None => continue,
                };
                push_bounded(&mut out, text, "format()")?;
            }
        }
    }
    Ok(Value::String(out))
}

/// A writer that refuses to grow past [`MAX_RESULT_BYTES`].
struct Bounded(Vec<u8>);

impl std::io::Write for Bounded {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.0.len().saturating_add(buf.len()) > MAX_RESULT_BYTES {
            return Err(std::io::Error::other("too large"));
        }
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub(crate) fn to_json(args: &[Value]) -> Result<Value, EvalError> {
    let mut out = Bounded(Vec::new());
    serde_json::to_writer(&mut out, arg(args, 0)).map_err(|_| too_large("toJSON()"))?;
    // serde_json writes valid UTF-8.
    String::from_utf8(out.0)
        .map(Value::String)
        .map_err(|_| EvalError("toJSON(): the result is not UTF-8".to_string()))
}

pub(crate) fn from_json(args: &[Value]) -> Result<Value, EvalError> {
    let text = scalar_text("fromJSON", 1, arg(args, 0))?;
    serde_json::from_str(&text).map_err(|e| {
        EvalError(format!(
            "fromJSON(): the text is not valid JSON ({e}): {}",
            crate::lexer::shorten(&text, 60)
        ))
    })
}

pub(crate) fn join(args: &[Value]) -> Result<Value, EvalError> {
    let sep = match args.get(1) {
        Some(v) => scalar_text("join", 2, v)?,
        None => ",".to_string(),
    };
    match arg(args, 0) {
        Value::Array(items) => {
            let mut out = String::new();
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    push_bounded(&mut out, &sep, "join()")?;
                }
                push_bounded(&mut out, &to_text(item), "join()")?;
            }
            Ok(Value::String(out))
        }
        Value::Object(_) => Err(EvalError(
            "join(): argument 1 must be an array (or a single value), found an object".to_string(),
        )),
        other => Ok(Value::String(to_text(other))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_counts_edits() {
        assert_eq!(distance("contains", "contains"), 0);
        assert_eq!(distance("contans", "contains"), 1);
        assert_eq!(distance("TOJSON", "toJSON"), 0);
        assert_eq!(distance("", "abc"), 3);
    }

    #[test]
    fn parse_format_pieces() {
        assert_eq!(
            parse_format("a{0}{{b}}{12}").unwrap(),
            vec![
                FormatPiece::Text("a"),
                FormatPiece::Arg(0),
                FormatPiece::Brace('{'),
                FormatPiece::Text("b"),
                FormatPiece::Brace('}'),
                FormatPiece::Arg(12),
            ]
        );
        assert!(parse_format("{").is_err());
        assert!(parse_format("}").is_err());
        assert!(parse_format("{x}").is_err());
        assert!(parse_format("{0").is_err());
    }
}

//! The `${{ … }}` expression language of ContainerOps workflows (SPEC §3).
//!
//! Expressions appear inside the strings of `with`, `env`, `command` and `if` in a `workflow.yaml`.
//! This crate parses them, analyses them (which references and status functions they use) and
//! evaluates them. It does no IO and never panics, whatever the input.
//!
//! Values at run time are JSON values ([`serde_json::Value`]): typed inputs and outputs (`int`,
//! `bool`, `json`, …) flow through expressions without losing their type.
//!
//! ```
//! use co_expr::{Expr, Template, ValueContext};
//! use serde_json::json;
//!
//! let ctx = ValueContext::new(json!({
//!     "inputs": {"who": "world", "count": 3, "tag": ""},
//!     "actions": {"build-linux": {"outputs": {"image-tag": "v1.2"}}},
//! }));
//! let t = Template::parse("hello ${{ inputs.who }}, image ${{ actions.build-linux.outputs.image-tag }}")?;
//! assert_eq!(t.eval(&ctx)?, json!("hello world, image v1.2"));
//! // Exactly one `${{ }}` keeps the type.
//! assert_eq!(Template::parse("${{ inputs.count }}")?.eval(&ctx)?, json!(3));
//! // `||` gives an operand, so it supplies defaults.
//! assert_eq!(Expr::parse("inputs.tag || 'latest'")?.eval(&ctx)?, json!("latest"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Templates
//!
//! A string may contain any number of `${{ expression }}` parts; spaces inside the braces are
//! optional (`${{inputs.who}}` is the same as `${{ inputs.who }}`).
//!
//! - A string that is **exactly one** `${{ … }}`, with nothing around it (not even spaces), keeps
//!   the value's type: `"${{ inputs.count }}"` is the number `3`, `"${{ fromJSON(x) }}"` an object.
//! - Otherwise the result is a string: the text parts, and each value as text — strings as they
//!   are, `null` as the empty string, numbers and booleans in their JSON form (`3`, `2.5`,
//!   `true`), arrays and objects as compact JSON (`[1,2]`, `{"a":1}`).
//! - A `}}` inside a quoted string does not end the expression: `${{ format('{{x}}') }}` is fine.
//! - A `}}` outside any `${{` is ordinary text. There is no escape for a literal `${{`; write
//!   `${{ '${{' }}` to produce one.
//! - An `${{` without its `}}` is an error at the `${{`.
//!
//! An `if:` condition may be written bare (`failure() || inputs.force`) or wrapped in one
//! `${{ … }}` as a whole (see [`parse_condition`]).
//!
//! # Syntax
//!
//! Operators, from loosest to tightest binding:
//!
//! | operators | meaning |
//! |---|---|
//! | `a \|\| b` | `a` if `a` is truthy, else `b` |
//! | `a && b` | `a` if `a` is falsy, else `b` |
//! | `==` `!=` | equality (rules below) |
//! | `<` `<=` `>` `>=` | ordering (rules below) |
//! | `!a` | `true` if `a` is falsy, else `false` |
//! | `a.name`, `a[index]`, `f(x, y)` | member, index, function call |
//! | literals, names, `( … )` | |
//!
//! Binary operators are left-associative (`a == b == c` is `(a == b) == c`). There is no
//! arithmetic: `+ - * / %` are errors, and `-` is part of names.
//!
//! - **Names** are `[A-Za-z_][A-Za-z0-9_-]*`, so `actions.build-linux.outputs.image-tag` is one
//!   reference, never a subtraction. A name that is not a valid name can be reached with a string
//!   index: `matrix['os name']`.
//! - **Numbers**: `1`, `-1`, `2.5`, `-0.5`, `1e3`. A whole number that fits in 64 bits stays an
//!   integer; other numbers are floats. A number directly followed by letters (`1abc`) is an error.
//! - **Booleans and null**: `true`, `false`, `null` (lower case).
//! - **Strings** in single quotes, with a quote written twice: `'it''s'` (as in GitHub Actions);
//!   or in double quotes, with the escapes `\"`, `\\`, `\n`, `\t`, `\r` (any other `\x` is an
//!   error).
//! - Expressions may nest at most [`MAX_DEPTH`] (64) levels deep; deeper ones are a parse error.
//! - No value an expression makes may be larger than [`MAX_RESULT_BYTES`] (4 MiB, measured as
//!   its text: a string's bytes, other values' compact JSON): `format()`, `join()`, `toJSON()`
//!   and a template's text fail with `… the result would be larger than 4 MiB (the limit for a
//!   value made by an expression)` before they build anything larger, and so does a whole
//!   expression whose value is larger.
//!
//! # References
//!
//! A name followed by any number of `.name` or `['string']` is a **reference**, looked up as a
//! whole: `actions.say.outputs.greeting` asks the run for the path
//! `["actions", "say", "outputs", "greeting"]`. If the run has no such thing, evaluation fails with
//! `unknown reference actions.say.outputs.greeting` (and workflow validation reports it before
//! anything runs). What roots exist (`inputs`, `actions`, `secrets`, `env`, `run`, `matrix`) is
//! defined by the workflow, not by this crate.
//!
//! Anything after the reference that is not a plain name or a string index works on the value:
//! in `trigger.payload.commits[0].id` the reference is `trigger.payload.commits`, then `[0]` and
//! `.id` are applied to its value. On values:
//!
//! - `value.name` is the object's member, or `null` when the member is missing or the value is
//!   not an object;
//! - `value[i]` with a whole number `i` is the array's element (`null` when out of range); with a
//!   string it is the object's member (`null` when missing); anything else is `null`.
//!
//! So `fromJSON(inputs.config).retries` is the member of a parsed JSON text.
//!
//! # Truthiness
//!
//! `false`, `null`, the number `0` (also `0.0`) and the empty string `""` are **falsy**. Every other
//! value is truthy — including the strings `"false"` and `"0"`, and empty arrays and objects.
//! `!`, `&&`, `||` and the `if:` of an action use this rule. `&&` and `||` return one of their
//! operands, not a boolean (`inputs.tag || 'latest'` is the tag, or `'latest'` when the tag is
//! empty), and they do not evaluate their right side when the left decides: in
//! `false && x.y`, `x.y` is never looked up.
//!
//! # Comparison
//!
//! `==` and `!=`:
//!
//! - values of the same type compare directly: strings exactly (case-sensitive), numbers
//!   numerically (`1 == 1.0`), booleans, `null == null`; arrays and objects element by element
//!   with these same-type rules (member order does not matter);
//! - a number and a string compare numerically when the string is a decimal number (surrounding
//!   whitespace ignored): `3 == '3'`, `3 == ' 3.0 '`; when it is not (`'abc'`, `''`, `'0x10'`),
//!   they are unequal;
//! - any other mix of types is unequal: `true != 'true'`, `null != ''`, `0 != false`,
//!   `1 != true`.
//!
//! `<`, `<=`, `>`, `>=`:
//!
//! - two numbers compare numerically;
//! - two strings compare by Unicode code point, case-sensitive (`'B' < 'a'`); two strings are
//!   always compared as text, even if both look like numbers (`'10' < '9'`);
//! - a number and a numeric string compare numerically (`10 > '9'`);
//! - every other pair — mixed types, a non-numeric string against a number, booleans, `null`,
//!   arrays, objects — gives `false` for all four operators (so `null <= null` is `false`
//!   although `null == null` is `true`).
//!
//! # Functions
//!
//! Function names are matched ignoring case (`toJson` is `toJSON`). Calling an unknown function
//! or passing the wrong number of arguments is a parse error, reported where the function name
//! is. Arguments that are said to be used "as text" below are converted like template values
//! (`null` → `""`, `3` → `"3"`, `true` → `"true"`); an array or object there is an error.
//!
//! | function | result |
//! |---|---|
//! | `contains(a, b)` | if `a` is an array: whether an element `== b` (the `==` rules above); otherwise whether `a` as text contains `b` as text (case-sensitive). `a` may not be an object. |
//! | `startsWith(a, b)` | whether `a` as text starts with `b` as text (case-sensitive) |
//! | `endsWith(a, b)` | whether `a` as text ends with `b` as text (case-sensitive) |
//! | `format(fmt, v0, v1, …)` | `fmt` with `{0}`, `{1}`, … replaced by the values as text (arrays and objects as compact JSON); `{{` and `}}` stand for `{` and `}`. A placeholder without its value, a lone `{` or `}`, or `{x}` is an error — at parse time when `fmt` is a literal string. |
//! | `toJSON(x)` | `x` as compact JSON text (`toJSON('a')` is `"a"` with the quotes) |
//! | `fromJSON(s)` | the value of the JSON text `s` (invalid JSON is an error) |
//! | `join(a, sep)` | the elements of array `a` as text joined with `sep` (default `,`); a single value as text |
//! | `success()` | whether everything the action waits for succeeded |
//! | `failure()` | whether something the action waits for failed |
//! | `always()` | `true`: the action runs whatever happened |
//! | `cancelled()` | whether the run was cancelled |
//!
//! The meaning of the four status functions is supplied by the caller ([`Context::status`]); an
//! `if:` that calls none of them behaves as `success() && (…)` (see
//! [`Expr::status_functions`]).

mod display;
mod eval;
mod functions;
mod lexer;
mod parser;
mod template;

pub use display::quote;
pub use eval::{compare, format_path, loose_eq, parse_number};
pub use functions::{function, FunctionInfo, FUNCTIONS};
pub use parser::MAX_DEPTH;

/// Largest value an expression may make (4 MiB of text); see the crate docs.
pub const MAX_RESULT_BYTES: usize = 4 * 1024 * 1024;

/// The error for a result over [`MAX_RESULT_BYTES`]; `what` names what was being made.
pub(crate) fn too_large(what: &str) -> EvalError {
    EvalError(format!(
        "{what}: the result would be larger than 4 MiB (the limit for a value made by an \
         expression)"
    ))
}

/// Append `piece` to `out` unless that makes `out` larger than [`MAX_RESULT_BYTES`].
pub(crate) fn push_bounded(out: &mut String, piece: &str, what: &str) -> Result<(), EvalError> {
    if out.len().saturating_add(piece.len()) > MAX_RESULT_BYTES {
        return Err(too_large(what));
    }
    out.push_str(piece);
    Ok(())
}

/// Whether `value`'s text ([`to_text`]; compact JSON for arrays and objects) is at most `limit`
/// bytes. Stops counting as soon as it is over; escapes inside strings count as one byte each (so
/// it never overstates).
pub(crate) fn fits(value: &Value, limit: usize) -> bool {
    /// Take `n` from `budget`; `false` when it does not have that much.
    fn take(budget: &mut usize, n: usize) -> bool {
        match budget.checked_sub(n) {
            Some(rest) => {
                *budget = rest;
                true
            }
            None => false,
        }
    }
    fn size(value: &Value, budget: &mut usize) -> bool {
        match value {
            Value::Null => take(budget, 4),
            Value::Bool(_) => take(budget, 5),
            Value::Number(n) => take(budget, n.to_string().len()),
            Value::String(s) => take(budget, s.len() + 2),
            Value::Array(items) => {
                take(budget, 2)
                    && items
                        .iter()
                        .enumerate()
                        .all(|(i, v)| take(budget, usize::from(i > 0)) && size(v, budget))
            }
            Value::Object(map) => {
                take(budget, 2)
                    && map.iter().enumerate().all(|(i, (k, v))| {
                        take(budget, k.len() + 3 + usize::from(i > 0)) && size(v, budget)
                    })
            }
        }
    }
    match value {
        Value::String(s) => s.len() <= limit,
        other => {
            let mut budget = limit;
            size(other, &mut budget)
        }
    }
}

pub use serde_json::Value;

/// A parse error, located by byte offset into the text that was parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ExprError {
    /// Byte offset into the parsed text (for a template: into the whole template string).
    pub offset: usize,
    pub message: String,
}

/// An evaluation error (unknown reference, bad function argument, invalid JSON for `fromJSON`, …).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct EvalError(pub String);

/// The status functions an `if:` may call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusFn {
    Success,
    Failure,
    Always,
    Cancelled,
}

/// What an expression can see while it is evaluated.
pub trait Context {
    /// Resolve a reference path, e.g. `["actions", "build-linux", "outputs", "image-tag"]` or
    /// `["inputs", "who"]`. `None` means "no such thing" and becomes an [`EvalError`] naming the path.
    fn lookup(&self, path: &[&str]) -> Option<Value>;
    /// The value of `success()`, `failure()`, `always()`, `cancelled()` for this evaluation.
    fn status(&self, f: StatusFn) -> bool;
}

/// One use of a reference inside an expression, for static validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefUse {
    /// The dotted path as written (`["actions", "say", "outputs", "greeting"]`); a string-literal
    /// index (`x['a-b']`) contributes its text as a segment, anything dynamic ends the path.
    pub path: Vec<String>,
    /// Byte offset of the reference's first character in the parsed text.
    pub offset: usize,
}

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    /// Byte offset of the expression's first character in the parsed text.
    pub offset: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    Literal(Value),
    /// A bare identifier: the root of a reference (`inputs`, `actions`, `matrix`, …).
    Ident(String),
    Member(Box<Expr>, String),
    Index(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    Call(String, Vec<Expr>),
}

impl Expr {
    /// Parse one expression (the text between `${{` and `}}`, without them).
    pub fn parse(text: &str) -> Result<Expr, ExprError> {
        parser::parse(text, 0, text.len())
    }

    /// Every reference the expression makes, in source order.
    ///
    /// A reference is the longest leading chain `name(.name | ['string'])*`; a dynamic index
    /// (`x[inputs.i]`, `x[0]`) ends it, and the index expression's own references follow.
    /// References on both sides of `&&`/`||` are listed even if evaluation would skip one side.
    pub fn references(&self) -> Vec<RefUse> {
        let mut out = Vec::new();
        eval::references(self, &mut out);
        out
    }

    /// The status functions this expression calls (an `if:` without any behaves as `success() && …`).
    ///
    /// Each function is listed once, in order of first appearance.
    pub fn status_functions(&self) -> Vec<StatusFn> {
        let mut out = Vec::new();
        eval::status_functions(self, &mut out);
        out
    }

    /// Evaluate the expression. Fails on an unknown reference (naming its path), a function
    /// argument of the wrong kind, or invalid JSON given to `fromJSON`.
    pub fn eval(&self, ctx: &dyn Context) -> Result<Value, EvalError> {
        let value = eval::eval(self, ctx, 0)?;
        if !fits(&value, MAX_RESULT_BYTES) {
            return Err(too_large("the expression"));
        }
        Ok(value)
    }

    /// Evaluate and apply [`truthy`] (what an `if:` does with its condition).
    pub fn eval_bool(&self, ctx: &dyn Context) -> Result<bool, EvalError> {
        Ok(truthy(&self.eval(ctx)?))
    }

    /// If the whole expression is one reference (`inputs.who`), its path.
    pub fn as_reference(&self) -> Option<Vec<String>> {
        eval::ref_path(self).map(|p| p.into_iter().map(str::to_string).collect())
    }
}

/// A string that may contain `${{ … }}` expressions.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    pub parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    Text(String),
    Expr(Expr),
}

impl Template {
    /// Parse a template; expression offsets are relative to the start of `text`.
    ///
    /// Text parts are kept exactly; an empty text gives a template with no parts.
    pub fn parse(text: &str) -> Result<Template, ExprError> {
        template::parse_template(text)
    }

    /// A template that is exactly this text, with no expression parsing (seed-format values).
    pub fn literal(text: impl Into<String>) -> Template {
        Template {
            parts: vec![Part::Text(text.into())],
        }
    }

    /// A template that is exactly one expression.
    pub fn expr(expr: Expr) -> Template {
        Template {
            parts: vec![Part::Expr(expr)],
        }
    }

    /// `Some` when the template is exactly one `${{ }}` (then evaluation keeps the value's type).
    pub fn single_expr(&self) -> Option<&Expr> {
        match self.parts.as_slice() {
            [Part::Expr(e)] => Some(e),
            _ => None,
        }
    }

    /// `Some(text)` when the template has no expression at all.
    pub fn as_literal(&self) -> Option<String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Expr(_) => return None,
            }
        }
        Some(out)
    }

    /// The value the template always has, when it depends on nothing: plain text (a string), or
    /// exactly one literal expression (its value, with its type).
    pub fn constant(&self) -> Option<Value> {
        match self.single_expr() {
            Some(Expr {
                kind: ExprKind::Literal(value),
                ..
            }) => Some(value.clone()),
            Some(_) => None,
            None => self.as_literal().map(Value::String),
        }
    }

    /// Whether the template contains at least one expression.
    pub fn has_expressions(&self) -> bool {
        self.parts.iter().any(|p| matches!(p, Part::Expr(_)))
    }

    /// The expressions of the template, in order.
    pub fn exprs(&self) -> impl Iterator<Item = &Expr> {
        self.parts.iter().filter_map(|p| match p {
            Part::Expr(e) => Some(e),
            Part::Text(_) => None,
        })
    }

    /// Every reference of every expression, in source order (offsets into the template text).
    pub fn references(&self) -> Vec<RefUse> {
        self.exprs().flat_map(Expr::references).collect()
    }

    /// The status functions called by any of the expressions, each once.
    pub fn status_functions(&self) -> Vec<StatusFn> {
        let mut out = Vec::new();
        for s in self.exprs().flat_map(Expr::status_functions) {
            if !out.contains(&s) {
                out.push(s);
            }
        }
        out
    }

    /// Evaluate: exactly one `${{ }}` keeps its type; otherwise the parts are joined as a string.
    pub fn eval(&self, ctx: &dyn Context) -> Result<Value, EvalError> {
        template::eval_template(self, ctx)
    }

    /// Evaluate and show the result as text (what `CO_INPUT_*` and `env` get).
    pub fn eval_text(&self, ctx: &dyn Context) -> Result<String, EvalError> {
        Ok(to_text(&self.eval(ctx)?))
    }
}

/// Parse an `if:` condition, written either bare (`failure()`) or wrapped (`${{ failure() }}`).
///
/// Surrounding whitespace is allowed. A wrapped condition must be one `${{ }}` as a whole:
/// `${{ a }} && ${{ b }}` is an error (in GitHub Actions it would be a non-empty string, always
/// true). Offsets are into `text`.
pub fn parse_condition(text: &str) -> Result<Expr, ExprError> {
    template::parse_condition(text)
}

/// How a value is shown as text (one definition for the whole project, in the protocol crate).
pub use co_protocol::value_text as to_text;

/// Truthiness: `false`, `null`, `0`, `""` are false; everything else is true.
/// Empty arrays and objects, and the strings `"false"` and `"0"`, are true.
pub fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

/// A [`Context`] over one JSON object: a path is looked up member by member from `root`
/// (`["inputs", "who"]` is `root.inputs.who`); status functions answer from the fields.
/// Handy for tests, previews and tools; the engine has its own context.
#[derive(Debug, Clone, PartialEq)]
pub struct ValueContext {
    pub root: Value,
    pub success: bool,
    pub failure: bool,
    pub cancelled: bool,
}

impl ValueContext {
    /// A context over `root` where everything so far succeeded.
    pub fn new(root: Value) -> ValueContext {
        ValueContext {
            root,
            success: true,
            failure: false,
            cancelled: false,
        }
    }
}

impl Context for ValueContext {
    fn lookup(&self, path: &[&str]) -> Option<Value> {
        let mut cur = &self.root;
        for seg in path {
            cur = cur.as_object()?.get(*seg)?;
        }
        Some(cur.clone())
    }

    fn status(&self, f: StatusFn) -> bool {
        match f {
            StatusFn::Success => self.success,
            StatusFn::Failure => self.failure,
            StatusFn::Always => true,
            StatusFn::Cancelled => self.cancelled,
        }
    }
}

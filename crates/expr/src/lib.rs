//! The `${{ … }}` expression language (SPEC §3).
//!
//! Invariants: no IO, no panics on any input. Values at run time are [`serde_json::Value`]s, so
//! typed inputs and outputs flow through expressions without losing their type.
//!
//! Grammar (precedence low → high): `||`, `&&`, `== !=`, `< <= > >=`, unary `!`, postfix
//! (`.name`, `[index]`, calls), primary (literal, identifier, `( … )`).
//! Identifiers are `[A-Za-z_][A-Za-z0-9_-]*`: there is no subtraction, so
//! `actions.build-linux.outputs.image-tag` is one reference, never arithmetic.

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
        todo!("{text}")
    }

    /// Every reference the expression makes, in source order.
    pub fn references(&self) -> Vec<RefUse> {
        todo!()
    }

    /// The status functions this expression calls (an `if:` without any behaves as `success() && …`).
    pub fn status_functions(&self) -> Vec<StatusFn> {
        todo!()
    }

    pub fn eval(&self, ctx: &dyn Context) -> Result<Value, EvalError> {
        todo!("{ctx:p}")
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
    pub fn parse(text: &str) -> Result<Template, ExprError> {
        todo!("{text}")
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
        todo!()
    }

    pub fn references(&self) -> Vec<RefUse> {
        todo!()
    }

    /// Evaluate: exactly one `${{ }}` keeps its type; otherwise the parts are joined as a string.
    pub fn eval(&self, ctx: &dyn Context) -> Result<Value, EvalError> {
        todo!("{ctx:p}")
    }
}

/// Parse an `if:` condition, written either bare (`failure()`) or wrapped (`${{ failure() }}`).
pub fn parse_condition(text: &str) -> Result<Expr, ExprError> {
    todo!("{text}")
}

/// How a value is shown as text (one definition for the whole project, in the protocol crate).
pub use co_protocol::value_text as to_text;

/// Truthiness: `false`, `null`, `0`, `""` are false; everything else is true.
pub fn truthy(value: &Value) -> bool {
    todo!("{value}")
}

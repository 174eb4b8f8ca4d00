//! Showing expressions as source text (canonical form: single-quoted strings, minimal parentheses).

use std::fmt;

use crate::lexer::is_ident;
use crate::{BinOp, Expr, ExprKind, Part, Template, Value};

impl BinOp {
    /// The operator as written (`==`, `&&`, …).
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::And => "&&",
            BinOp::Or => "||",
        }
    }

    /// Binding strength: `||` 0, `&&` 1, `== !=` 2, `< <= > >=` 3.
    pub fn precedence(self) -> u8 {
        match self {
            BinOp::Or => 0,
            BinOp::And => 1,
            BinOp::Eq | BinOp::Ne => 2,
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => 3,
        }
    }
}

impl fmt::Display for BinOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.symbol())
    }
}

/// A string as a single-quoted literal (`'it''s'`).
pub fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn write_literal(f: &mut fmt::Formatter<'_>, v: &Value) -> fmt::Result {
    match v {
        Value::String(s) => f.write_str(&quote(s)),
        Value::Array(_) | Value::Object(_) => write!(f, "fromJSON({})", quote(&v.to_string())),
        other => write!(f, "{other}"),
    }
}

/// Postfix operators bind tightest: their base needs parentheses unless it is a primary or postfix.
fn write_postfix_base(f: &mut fmt::Formatter<'_>, base: &Expr) -> fmt::Result {
    match base.kind {
        ExprKind::Binary(..) | ExprKind::Not(_) => write!(f, "({base})"),
        _ => write!(f, "{base}"),
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ExprKind::Literal(v) => write_literal(f, v),
            ExprKind::Ident(name) => f.write_str(name),
            ExprKind::Member(base, name) => {
                write_postfix_base(f, base)?;
                if is_ident(name) {
                    write!(f, ".{name}")
                } else {
                    write!(f, "[{}]", quote(name))
                }
            }
            ExprKind::Index(base, index) => {
                write_postfix_base(f, base)?;
                write!(f, "[{index}]")
            }
            ExprKind::Not(inner) => match inner.kind {
                ExprKind::Binary(..) => write!(f, "!({inner})"),
                _ => write!(f, "!{inner}"),
            },
            ExprKind::Binary(op, l, r) => {
                let prec = op.precedence();
                match &l.kind {
                    ExprKind::Binary(lop, ..) if lop.precedence() < prec => write!(f, "({l})")?,
                    _ => write!(f, "{l}")?,
                }
                write!(f, " {op} ")?;
                match &r.kind {
                    ExprKind::Binary(rop, ..) if rop.precedence() <= prec => write!(f, "({r})"),
                    _ => write!(f, "{r}"),
                }
            }
            ExprKind::Call(name, args) => {
                write!(f, "{name}(")?;
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{a}")?;
                }
                f.write_str(")")
            }
        }
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for part in &self.parts {
            match part {
                Part::Text(t) => f.write_str(t)?,
                Part::Expr(e) => write!(f, "${{{{ {e} }}}}")?,
            }
        }
        Ok(())
    }
}

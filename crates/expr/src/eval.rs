//! Evaluation, comparison and reference analysis.

use std::cmp::Ordering;

use crate::functions::{self, function};
use crate::{truthy, BinOp, Context, EvalError, Expr, ExprKind, RefUse, StatusFn, Value};

/// Evaluation refuses trees deeper than this (parsed trees are at most [`crate::MAX_DEPTH`]; this
/// only guards hand-built ones).
const MAX_EVAL_DEPTH: usize = 256;

/// Shows a reference path as written: `actions.say.outputs.x`, with `['…']` for segments that are
/// not names (`matrix['a b']`).
pub fn format_path<S: AsRef<str>>(path: &[S]) -> String {
    let mut out = String::new();
    for (i, seg) in path.iter().enumerate() {
        let seg = seg.as_ref();
        if crate::lexer::is_ident(seg) {
            if i > 0 {
                out.push('.');
            }
            out.push_str(seg);
        } else {
            out.push_str("['");
            out.push_str(&seg.replace('\'', "''"));
            out.push_str("']");
        }
    }
    out
}

/// If `expr` is entirely a reference chain (`Ident(.name | ['literal'])*`), its segments.
pub(crate) fn ref_path(expr: &Expr) -> Option<Vec<&str>> {
    let mut segments = Vec::new();
    let mut cur = expr;
    loop {
        match &cur.kind {
            ExprKind::Ident(name) => {
                segments.push(name.as_str());
                segments.reverse();
                return Some(segments);
            }
            ExprKind::Member(base, name) => {
                segments.push(name.as_str());
                cur = base;
            }
            ExprKind::Index(base, index) => match &index.kind {
                ExprKind::Literal(Value::String(s)) => {
                    segments.push(s.as_str());
                    cur = base;
                }
                _ => return None,
            },
            _ => return None,
        }
    }
}

pub(crate) fn references(expr: &Expr, out: &mut Vec<RefUse>) {
    if let Some(path) = ref_path(expr) {
        out.push(RefUse {
            path: path.into_iter().map(str::to_string).collect(),
            offset: expr.offset,
        });
        return;
    }
    match &expr.kind {
        ExprKind::Literal(_) | ExprKind::Ident(_) => {}
        ExprKind::Member(base, _) => references(base, out),
        ExprKind::Index(base, index) => {
            references(base, out);
            references(index, out);
        }
        ExprKind::Not(inner) => references(inner, out),
        ExprKind::Binary(_, l, r) => {
            references(l, out);
            references(r, out);
        }
        ExprKind::Call(_, args) => args.iter().for_each(|a| references(a, out)),
    }
}

pub(crate) fn status_functions(expr: &Expr, out: &mut Vec<StatusFn>) {
    match &expr.kind {
        ExprKind::Literal(_) | ExprKind::Ident(_) => {}
        ExprKind::Member(base, _) => status_functions(base, out),
        ExprKind::Index(base, index) => {
            status_functions(base, out);
            status_functions(index, out);
        }
        ExprKind::Not(inner) => status_functions(inner, out),
        ExprKind::Binary(_, l, r) => {
            status_functions(l, out);
            status_functions(r, out);
        }
        ExprKind::Call(name, args) => {
            if let Some(s) = function(name).and_then(|f| f.status) {
                if !out.contains(&s) {
                    out.push(s);
                }
            }
            args.iter().for_each(|a| status_functions(a, out));
        }
    }
}

pub(crate) fn eval(expr: &Expr, ctx: &dyn Context, depth: usize) -> Result<Value, EvalError> {
    if depth > MAX_EVAL_DEPTH {
        return Err(EvalError(format!(
            "expression is nested too deeply to evaluate (more than {MAX_EVAL_DEPTH} levels)"
        )));
    }
    let depth = depth + 1;
    if let ExprKind::Ident(_) | ExprKind::Member(..) | ExprKind::Index(..) = expr.kind {
        if let Some(path) = ref_path(expr) {
            return ctx
                .lookup(&path)
                .ok_or_else(|| EvalError(format!("unknown reference {}", format_path(&path))));
        }
    }
    match &expr.kind {
        ExprKind::Literal(v) => Ok(v.clone()),
        // A bare identifier is always a reference path (handled above).
        ExprKind::Ident(name) => ctx
            .lookup(&[name.as_str()])
            .ok_or_else(|| EvalError(format!("unknown reference {}", format_path(&[name])))),
        ExprKind::Member(base, name) => {
            let base = eval(base, ctx, depth)?;
            Ok(member(&base, name))
        }
        ExprKind::Index(base, index) => {
            let base = eval(base, ctx, depth)?;
            let index = eval(index, ctx, depth)?;
            Ok(index_value(&base, &index))
        }
        ExprKind::Not(inner) => Ok(Value::Bool(!truthy(&eval(inner, ctx, depth)?))),
        ExprKind::Binary(BinOp::And, l, r) => {
            let l = eval(l, ctx, depth)?;
            if truthy(&l) {
                eval(r, ctx, depth)
            } else {
                Ok(l)
            }
        }
        ExprKind::Binary(BinOp::Or, l, r) => {
            let l = eval(l, ctx, depth)?;
            if truthy(&l) {
                Ok(l)
            } else {
                eval(r, ctx, depth)
            }
        }
        ExprKind::Binary(op, l, r) => {
            let l = eval(l, ctx, depth)?;
            let r = eval(r, ctx, depth)?;
            Ok(Value::Bool(compare(*op, &l, &r)))
        }
        ExprKind::Call(name, args) => call(name, args, ctx, depth),
    }
}

fn call(name: &str, args: &[Expr], ctx: &dyn Context, depth: usize) -> Result<Value, EvalError> {
    let Some(info) = function(name) else {
        return Err(EvalError(crate::functions::unknown_function_message(name)));
    };
    if !info.accepts(args.len()) {
        return Err(EvalError(format!(
            "`{}()` takes {}, found {}",
            info.name,
            info.arity_text(),
            args.len()
        )));
    }
    if let Some(s) = info.status {
        return Ok(Value::Bool(ctx.status(s)));
    }
    let values = args
        .iter()
        .map(|a| eval(a, ctx, depth))
        .collect::<Result<Vec<_>, _>>()?;
    match info.name {
        "contains" => functions::contains(&values),
        "startsWith" => functions::starts_with(&values),
        "endsWith" => functions::ends_with(&values),
        "format" => functions::format(&values),
        "toJSON" => functions::to_json(&values),
        "fromJSON" => functions::from_json(&values),
        "join" => functions::join(&values),
        other => Err(EvalError(crate::functions::unknown_function_message(other))),
    }
}

/// `value.name`: an object's member, else `null`.
fn member(value: &Value, name: &str) -> Value {
    match value {
        Value::Object(map) => map.get(name).cloned().unwrap_or(Value::Null),
        _ => Value::Null,
    }
}

/// `value[index]`: an array element by whole-number index, an object member by string key (or by
/// a number's text), else `null`.
fn index_value(value: &Value, index: &Value) -> Value {
    match (value, index) {
        (Value::Array(items), Value::Number(n)) => n
            .as_u64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f < u64::MAX as f64)
                    .map(|f| f as u64)
            })
            .and_then(|i| usize::try_from(i).ok())
            .and_then(|i| items.get(i))
            .cloned()
            .unwrap_or(Value::Null),
        (Value::Array(items), Value::String(s)) => parse_number(s)
            .filter(|f| f.fract() == 0.0 && *f >= 0.0)
            .and_then(|f| items.get(f as usize))
            .cloned()
            .unwrap_or(Value::Null),
        (Value::Object(map), Value::String(key)) => map.get(key).cloned().unwrap_or(Value::Null),
        (Value::Object(map), Value::Number(n)) => {
            map.get(&n.to_string()).cloned().unwrap_or(Value::Null)
        }
        _ => Value::Null,
    }
}

/// A string's number, if the whole string (surrounding whitespace ignored) is a decimal number:
/// optional `-` or `+`, digits, optional `.digits`, optional exponent. `""`, `"inf"`, `"0x1f"`,
/// `"1."` are not numbers.
pub fn parse_number(s: &str) -> Option<f64> {
    let t = s.trim();
    let b = t.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'-' | b'+')) {
        i += 1;
    }
    let int_start = i;
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    if i == int_start {
        return None;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        let frac_start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == frac_start {
            return None;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        let exp_start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == exp_start {
            return None;
        }
    }
    if i != b.len() {
        return None;
    }
    t.parse::<f64>().ok().filter(|f| f.is_finite())
}

fn cmp_numbers(a: &serde_json::Number, b: &serde_json::Number) -> Option<Ordering> {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return Some(x.cmp(&y));
    }
    if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
        return Some(x.cmp(&y));
    }
    a.as_f64()?.partial_cmp(&b.as_f64()?)
}

/// How two values order, when they can be ordered at all: numbers numerically, strings by
/// Unicode code point (case-sensitive), a number and a numeric string numerically.
fn order(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => cmp_numbers(x, y),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        (Value::Number(x), Value::String(y)) => x.as_f64()?.partial_cmp(&parse_number(y)?),
        (Value::String(x), Value::Number(y)) => parse_number(x)?.partial_cmp(&y.as_f64()?),
        _ => None,
    }
}

/// Equality as `==` sees it (see the crate docs for the rules).
pub fn loose_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(_), Value::String(_)) | (Value::String(_), Value::Number(_)) => {
            order(a, b) == Some(Ordering::Equal)
        }
        _ => strict_eq(a, b),
    }
}

/// Same-type equality; numbers compare numerically (`1 == 1.0`), containers element by element.
fn strict_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Number(x), Value::Number(y)) => cmp_numbers(x, y) == Some(Ordering::Equal),
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| strict_eq(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| strict_eq(v, w)))
        }
        _ => false,
    }
}

/// Apply a comparison operator (`&&` and `||` are not comparisons and give `false` here).
pub fn compare(op: BinOp, a: &Value, b: &Value) -> bool {
    match op {
        BinOp::Eq => loose_eq(a, b),
        BinOp::Ne => !loose_eq(a, b),
        BinOp::Lt => order(a, b) == Some(Ordering::Less),
        BinOp::Le => matches!(order(a, b), Some(Ordering::Less | Ordering::Equal)),
        BinOp::Gt => order(a, b) == Some(Ordering::Greater),
        BinOp::Ge => matches!(order(a, b), Some(Ordering::Greater | Ordering::Equal)),
        BinOp::And | BinOp::Or => false,
    }
}

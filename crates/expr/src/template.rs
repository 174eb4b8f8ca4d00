//! Templates (`text ${{ expr }} text`) and `if:` conditions.

use crate::lexer::{find_expr_end, ScanEnd};
use crate::{
    parser, push_bounded, to_text, Context, EvalError, Expr, ExprError, Part, Template, Value,
};

/// Parse the `${{ … }}` that opens at `open`; returns the expression and the offset after `}}`.
fn scan_expression(text: &str, open: usize) -> Result<(Expr, usize), ExprError> {
    let inner_start = open + 3;
    let close = find_expr_end(text, inner_start).map_err(|e| ExprError {
        offset: open,
        message: match e {
            ScanEnd::Missing => {
                "unterminated `${{`: expected `}}` to close the expression, found the end of the text"
                    .to_string()
            }
            ScanEnd::OpenString(at) => {
                let quote = text.get(at..).and_then(|r| r.chars().next()).unwrap_or('\'');
                format!(
                    "unterminated `${{{{`: expected `}}}}` to close the expression, but the string \
                     literal opened by the `{quote}` inside it is never closed{}",
                    if quote == '\'' {
                        " (write a quote inside a single-quoted string as `''`)"
                    } else {
                        ""
                    }
                )
            }
        },
    })?;
    if text
        .get(inner_start..close)
        .is_some_and(|s| s.trim().is_empty())
    {
        return Err(ExprError {
            offset: open,
            message: "empty `${{ }}`: expected an expression between `${{` and `}}`".to_string(),
        });
    }
    let expr = parser::parse(text, inner_start, close)?;
    Ok((expr, close + 2))
}

pub(crate) fn parse_template(text: &str) -> Result<Template, ExprError> {
    let mut parts = Vec::new();
    let mut pos = 0;
    while let Some(rel) = text.get(pos..).and_then(|r| r.find("${{")) {
        let open = pos + rel;
        if open > pos {
            parts.push(Part::Text(text.get(pos..open).unwrap_or("").to_string()));
        }
        let (expr, after) = scan_expression(text, open)?;
        parts.push(Part::Expr(expr));
        pos = after;
    }
    if pos < text.len() {
        parts.push(Part::Text(text.get(pos..).unwrap_or("").to_string()));
    }
    Ok(Template { parts })
}

pub(crate) fn eval_template(template: &Template, ctx: &dyn Context) -> Result<Value, EvalError> {
    if let Some(expr) = template.single_expr() {
        return expr.eval(ctx);
    }
    let mut out = String::new();
    for part in &template.parts {
        match part {
            Part::Text(t) => push_bounded(&mut out, t, "the text")?,
            Part::Expr(e) => push_bounded(&mut out, &to_text(&e.eval(ctx)?), "the text")?,
        }
    }
    Ok(Value::String(out))
}

pub(crate) fn parse_condition(text: &str) -> Result<Expr, ExprError> {
    let open = text.len() - text.trim_start().len();
    if !text.get(open..).is_some_and(|t| t.starts_with("${{")) {
        return parser::parse(text, 0, text.len());
    }
    let (expr, after) = scan_expression(text, open)?;
    let rest = text.get(after..).unwrap_or("");
    if !rest.trim().is_empty() {
        let offset = after + (rest.len() - rest.trim_start().len());
        return Err(ExprError {
            offset,
            message: format!(
                "expected the end of the condition after `}}}}`, found `{}` (a condition is one \
                 expression: put all of it inside one `${{{{ }}}}`, or write it without `${{{{ }}}}`)",
                crate::lexer::shorten(rest.trim(), 20)
            ),
        });
    }
    Ok(expr)
}

//! Property tests: no input makes the parser panic; format's escapes round-trip.

use crate::ctx;
use co_expr::{parse_condition, quote, Expr, Template, Value};
use proptest::prelude::*;

/// Strings built from the language's own characters reach deeper into the parser than random text.
fn expr_like() -> impl Strategy<Value = String> {
    proptest::string::string_regex(
        "([a-z]{1,3}|[-0-9.e]{1,3}|'[^']{0,3}'|\"[^\"]{0,3}\"|\\(|\\)|\\[|\\]|\\.|,| |!|==|!=|<=?|>=?|&&|\\|\\||\\$\\{\\{|\\}\\}|contains\\(|format\\('|toJSON\\(|fromJSON\\(|success\\(\\)|\\\\|é){0,24}",
    )
    .unwrap_or_else(|e| panic!("bad regex: {e}"))
}

fn check_no_panic(text: &str) {
    if let Ok(e) = Expr::parse(text) {
        // A parsed expression evaluates without panicking, and its canonical text parses back
        // to the same structure.
        let _ = e.eval(&ctx());
        let shown = e.to_string();
        let again = Expr::parse(&shown).unwrap_or_else(|err| {
            panic!(
                "{text:?} shown as {shown:?} does not parse: {}",
                err.message
            )
        });
        assert_eq!(again.to_string(), shown);
        for r in e.references() {
            assert!(r.offset < text.len());
            assert!(text[r.offset..].starts_with(r.path[0].as_str()));
        }
        let _ = e.status_functions();
    }
    match Template::parse(text) {
        Ok(t) => {
            let _ = t.eval(&ctx());
            let _ = t.as_literal();
            for r in t.references() {
                assert!(text[r.offset..].starts_with(r.path[0].as_str()));
            }
        }
        Err(err) => {
            assert!(err.offset <= text.len() && text.is_char_boundary(err.offset));
        }
    }
    if let Err(err) = parse_condition(text) {
        assert!(err.offset <= text.len() && text.is_char_boundary(err.offset));
    }
}

fn escape_format(s: &str) -> String {
    s.replace('{', "{{").replace('}', "}}")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn parsing_arbitrary_text_never_panics(text in any::<String>()) {
        check_no_panic(&text);
    }

    #[test]
    fn parsing_expression_like_text_never_panics(text in expr_like()) {
        check_no_panic(&text);
        check_no_panic(&format!("${{{{ {text} }}}}"));
    }

    #[test]
    fn expression_errors_point_inside_the_text(text in expr_like()) {
        if let Err(err) = Expr::parse(&text) {
            prop_assert!(err.offset <= text.len());
            prop_assert!(text.is_char_boundary(err.offset));
        }
    }

    #[test]
    fn format_escapes_round_trip(s in any::<String>()) {
        let e = Expr::parse(&format!("format({})", quote(&escape_format(&s)))).unwrap();
        prop_assert_eq!(e.eval(&ctx()).unwrap(), Value::String(s));
    }

    #[test]
    fn format_fills_placeholders_between_escaped_text(
        pieces in proptest::collection::vec((any::<String>(), any::<String>()), 0..6),
        tail in any::<String>(),
    ) {
        let mut fmt = String::new();
        let mut args = String::new();
        let mut want = String::new();
        for (i, (text, value)) in pieces.iter().enumerate() {
            fmt.push_str(&escape_format(text));
            fmt.push_str(&format!("{{{i}}}"));
            args.push_str(", ");
            args.push_str(&quote(value));
            want.push_str(text);
            want.push_str(value);
        }
        fmt.push_str(&escape_format(&tail));
        want.push_str(&tail);
        let source = format!("format({}{args})", quote(&fmt));
        let e = Expr::parse(&source).unwrap();
        prop_assert_eq!(e.eval(&ctx()).unwrap(), Value::String(want));
    }

    #[test]
    fn string_literals_round_trip(s in any::<String>()) {
        let e = Expr::parse(&quote(&s)).unwrap();
        prop_assert_eq!(e.eval(&ctx()).unwrap(), Value::String(s.clone()));
        // ... also inside a template, where `}}` in the string must not end the expression.
        let t = Template::parse(&format!("${{{{ {} }}}}", quote(&s))).unwrap();
        prop_assert_eq!(t.eval(&ctx()).unwrap(), Value::String(s));
    }

    #[test]
    fn text_without_expressions_is_kept_verbatim(s in "[^$]*") {
        let t = Template::parse(&s).unwrap();
        prop_assert_eq!(t.as_literal(), Some(s.clone()));
        prop_assert_eq!(t.eval(&ctx()).unwrap(), Value::String(s));
    }
}

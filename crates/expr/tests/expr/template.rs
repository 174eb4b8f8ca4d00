//! Templates: parts, typing, text conversion, offsets, errors.

use crate::{ctx, sexpr};
use co_expr::{Part, Template, Value};
use serde_json::json;

fn eval(text: &str) -> Value {
    Template::parse(text)
        .unwrap_or_else(|e| panic!("{text:?}: {} at {}", e.message, e.offset))
        .eval(&ctx())
        .unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

#[test]
fn exactly_one_expression_keeps_the_type() {
    let cases = [
        ("${{ inputs.count }}", json!(3)),
        ("${{inputs.count}}", json!(3)),
        ("${{   inputs.count\n}}", json!(3)),
        ("${{ inputs.flag }}", json!(true)),
        ("${{ nil }}", Value::Null),
        ("${{ inputs.list }}", json!(["a", "b"])),
        (
            "${{ fromJSON(inputs.json) }}",
            json!({"a": {"b": [10, 20]}}),
        ),
        ("${{ inputs.count == 3 }}", json!(true)),
        ("${{ inputs.who }}", json!("world")),
    ];
    for (text, want) in cases {
        assert_eq!(eval(text), want, "{text}");
        assert!(
            Template::parse(text).unwrap().single_expr().is_some(),
            "{text}"
        );
    }
}

#[test]
fn anything_else_makes_a_string() {
    let cases = [
        (" ${{ inputs.count }}", " 3"),
        ("${{ inputs.count }} ", "3 "),
        ("${{ inputs.who }}${{ inputs.count }}", "world3"),
        ("hello ${{ inputs.who }}!", "hello world!"),
        (
            "n=${{ inputs.count }}, flag=${{ inputs.flag }}, nil=[${{ nil }}], list=${{ inputs.list }}",
            "n=3, flag=true, nil=[], list=[\"a\",\"b\"]",
        ),
        ("obj=${{ obj }}", "obj={\"k\":1}"),
        ("f=${{ 2.5 }} i=${{ -7 }}", "f=2.5 i=-7"),
        ("plain text", "plain text"),
        ("", ""),
        ("a }} b", "a }} b"),
        ("{{ not an expression }}", "{{ not an expression }}"),
        ("$ {{ x }}", "$ {{ x }}"),
        ("${{ '${{' }} literal", "${{ literal"),
        ("${{ '}}' }} and ${{ \"}}\" }}", "}} and }}"),
        ("${{ format('{{{0}}}', inputs.who) }}.", "{world}."),
        ("${{ 'it''s' }} ok", "it's ok"),
        ("multi\nline ${{ inputs.who }}\n", "multi\nline world\n"),
        ("ünï ${{ 'cödé' }} ✓", "ünï cödé ✓"),
    ];
    for (text, want) in cases {
        assert_eq!(eval(text), json!(want), "{text}");
    }
    assert_eq!(
        Template::parse("x ${{ inputs.count }}")
            .unwrap()
            .eval_text(&ctx())
            .unwrap(),
        "x 3"
    );
    assert_eq!(
        Template::parse("${{ nil }}")
            .unwrap()
            .eval_text(&ctx())
            .unwrap(),
        ""
    );
}

#[test]
fn a_quoted_double_brace_does_not_end_the_expression() {
    let t = Template::parse("${{ format('}}') }}").unwrap();
    let e = t.single_expr().unwrap();
    assert_eq!(sexpr(e), "(call format \"}}\")");
    assert_eq!(t.eval(&ctx()).unwrap(), json!("}"));
}

#[test]
fn parts_are_split_exactly() {
    let t = Template::parse("a ${{ x }} b${{y}}").unwrap();
    assert_eq!(t.parts.len(), 4);
    assert_eq!(t.parts[0], Part::Text("a ".into()));
    assert!(matches!(&t.parts[1], Part::Expr(e) if sexpr(e) == "x"));
    assert_eq!(t.parts[2], Part::Text(" b".into()));
    assert!(matches!(&t.parts[3], Part::Expr(e) if sexpr(e) == "y"));
    assert!(Template::parse("").unwrap().parts.is_empty());
    assert_eq!(t.exprs().count(), 2);
    assert!(t.has_expressions());
}

#[test]
fn as_literal_only_without_expressions() {
    assert_eq!(
        Template::parse("plain").unwrap().as_literal(),
        Some("plain".into())
    );
    assert_eq!(
        Template::parse("").unwrap().as_literal(),
        Some(String::new())
    );
    assert_eq!(
        Template::parse("a }} b").unwrap().as_literal(),
        Some("a }} b".into())
    );
    assert_eq!(Template::parse("a ${{ b }}").unwrap().as_literal(), None);
    assert_eq!(Template::parse("${{ 'x' }}").unwrap().as_literal(), None);
    assert_eq!(
        Template::literal("${{ raw }}").as_literal(),
        Some("${{ raw }}".into())
    );
    assert!(!Template::literal("${{ raw }}").has_expressions());
}

#[test]
fn literal_and_expr_constructors() {
    let t = Template::literal("${{ inputs.who }}");
    assert_eq!(t.eval(&ctx()).unwrap(), json!("${{ inputs.who }}"));
    assert!(t.single_expr().is_none());
    let e = co_expr::Expr::parse("inputs.count").unwrap();
    let t = Template::expr(e.clone());
    assert_eq!(t.single_expr(), Some(&e));
    assert_eq!(t.eval(&ctx()).unwrap(), json!(3));
}

#[test]
fn offsets_are_relative_to_the_whole_template() {
    let t =
        Template::parse("hello ${{ inputs.who }} and ${{ actions.build-linux.outputs.image-tag }}")
            .unwrap();
    let refs: Vec<(String, usize)> = t
        .references()
        .into_iter()
        .map(|r| (r.path.join("."), r.offset))
        .collect();
    assert_eq!(
        refs,
        [
            ("inputs.who".to_string(), 10),
            ("actions.build-linux.outputs.image-tag".to_string(), 32),
        ]
    );
    let e = Template::parse("ab ${{x}}").unwrap();
    assert_eq!(e.single_expr(), None);
    assert_eq!(e.exprs().next().map(|e| e.offset), Some(6));
}

#[test]
fn status_functions_of_a_template() {
    use co_expr::StatusFn;
    let t = Template::parse("${{ failure() }} ${{ always() || failure() }}").unwrap();
    assert_eq!(t.status_functions(), [StatusFn::Failure, StatusFn::Always]);
}

#[test]
fn errors_carry_offsets_into_the_template() {
    let cases = [
        ("abc ${{ inputs.who", 4, "unterminated `${{`"),
        ("x ${{ 'abc }}", 2, "unterminated `${{`"),
        ("x ${{ 'it's' }}", 2, "unterminated `${{`"),
        ("${{ }}", 0, "empty `${{ }}`"),
        ("a ${{}} b", 2, "empty `${{ }}`"),
        ("ok ${{ a == }}", 12, "expected a value after `==`"),
        ("xx ${{ contans(a, b) }}", 7, "unknown function `contans`"),
        ("${{ a }} ${{ b c }}", 15, "expected an operator or the end"),
        ("ü ${{ @ }}", 7, "unexpected character `@`"),
        ("${{ \"\\q\" }}", 5, "unknown escape `\\q`"),
        ("fine ${{ a }} then ${{ b", 19, "unterminated `${{`"),
    ];
    for (text, offset, message) in cases {
        let err = Template::parse(text).unwrap_err();
        assert_eq!(err.offset, offset, "{text:?}: {}", err.message);
        assert!(
            err.message.starts_with(message),
            "{text:?}: {}",
            err.message
        );
    }
}

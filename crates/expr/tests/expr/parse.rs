//! Parsing: structure, precedence, literals, offsets, references, status functions.

use crate::sexpr;
use co_expr::{parse_condition, Expr, ExprKind, RefUse, StatusFn, Value, MAX_DEPTH};
use serde_json::json;

fn s(text: &str) -> String {
    match Expr::parse(text) {
        Ok(e) => sexpr(&e),
        Err(e) => panic!("{text:?} failed to parse at {}: {}", e.offset, e.message),
    }
}

#[test]
fn precedence_and_associativity() {
    let cases = [
        ("a || b && c", "(|| a (&& b c))"),
        ("a && b || c", "(|| (&& a b) c)"),
        ("a || b || c", "(|| (|| a b) c)"),
        ("a && b && c", "(&& (&& a b) c)"),
        ("a == b && c != d", "(&& (== a b) (!= c d))"),
        ("a < b == c >= d", "(== (< a b) (>= c d))"),
        ("a == b == c", "(== (== a b) c)"),
        ("a <= b > c", "(> (<= a b) c)"),
        ("!a == b", "(== (! a) b)"),
        ("!a && !b", "(&& (! a) (! b))"),
        ("!!a", "(! (! a))"),
        ("!a.b", "(! (. a b))"),
        ("!(a || b)", "(! (|| a b))"),
        ("(a || b) && c", "(&& (|| a b) c)"),
        ("a || (b || c)", "(|| a (|| b c))"),
        ("((a))", "a"),
        ("a.b[0].c", "(. ([] (. a b) 0) c)"),
        ("a[b.c]", "([] a (. b c))"),
        ("a['x-y']", "([] a \"x-y\")"),
        ("fromJSON(x).a", "(. (call fromJSON x) a)"),
        ("fromJSON(x)[0]", "([] (call fromJSON x) 0)"),
        (
            "contains(a, b) || failure()",
            "(|| (call contains a b) (call failure))",
        ),
        ("format('{0}', a, b.c)", "(call format \"{0}\" a (. b c))"),
        (
            "a == 'x' || a == 'y' && !b",
            "(|| (== a \"x\") (&& (== a \"y\") (! b)))",
        ),
    ];
    for (text, want) in cases {
        assert_eq!(s(text), want, "{text}");
    }
}

#[test]
fn hyphenated_names_are_one_reference_not_a_subtraction() {
    assert_eq!(
        s("actions.build-linux.outputs.image-tag"),
        "(. (. (. actions build-linux) outputs) image-tag)"
    );
    assert_eq!(s("a-b"), "a-b");
    assert_eq!(s("a--b-"), "a--b-");
    assert_eq!(s("_x-1"), "_x-1");
    assert_eq!(s("x.y-2 == 1"), "(== (. x y-2) 1)");
}

#[test]
fn literals() {
    let cases: [(&str, Value); 18] = [
        ("1", json!(1)),
        ("-1", json!(-1)),
        ("0", json!(0)),
        ("2.5", json!(2.5)),
        ("-0.5", json!(-0.5)),
        ("1e3", json!(1000.0)),
        ("1.5E-1", json!(0.15)),
        ("9223372036854775807", json!(9223372036854775807_i64)),
        ("18446744073709551615", json!(18446744073709551615_u64)),
        ("true", json!(true)),
        ("false", json!(false)),
        ("null", Value::Null),
        ("'it''s'", json!("it's")),
        ("''", json!("")),
        ("''''", json!("'")),
        (r#""a\"b\\c""#, json!("a\"b\\c")),
        (r#""tab\there\nnew\rline""#, json!("tab\there\nnew\rline")),
        ("'a \"quoted\" \\ word'", json!("a \"quoted\" \\ word")),
    ];
    for (text, want) in cases {
        let e = Expr::parse(text).unwrap();
        assert_eq!(e.kind, ExprKind::Literal(want), "{text}");
    }
    // Integers stay integers, fractions are floats.
    let int = Expr::parse("42").unwrap();
    assert!(matches!(int.kind, ExprKind::Literal(Value::Number(ref n)) if n.is_i64()));
    let float = Expr::parse("42.0").unwrap();
    assert!(matches!(float.kind, ExprKind::Literal(Value::Number(ref n)) if n.is_f64()));
    // Unicode inside strings is kept.
    assert_eq!(
        Expr::parse("'héllo → ✓'").unwrap().kind,
        ExprKind::Literal(json!("héllo → ✓"))
    );
}

#[test]
fn keywords_are_names_after_a_dot() {
    assert_eq!(s("inputs.true"), "(. inputs true)");
    assert_eq!(s("x.null.false"), "(. (. x null) false)");
    assert_eq!(s("True"), "True");
}

#[test]
fn negative_numbers_in_comparisons() {
    assert_eq!(s("a<-1"), "(< a -1)");
    assert_eq!(s("a <= -2.5"), "(<= a -2.5)");
    assert_eq!(s("-1 == a"), "(== -1 a)");
}

#[test]
fn whitespace_is_insignificant() {
    assert_eq!(s("  a   ==\n\t'x'  "), "(== a \"x\")");
    assert_eq!(s("contains( a ,b )"), "(call contains a b)");
    assert_eq!(s("a . b"), "(. a b)");
    assert_eq!(s("a [ 0 ]"), "([] a 0)");
}

#[test]
fn function_names_ignore_case_and_are_stored_canonically() {
    assert_eq!(s("toJson(x)"), "(call toJSON x)");
    assert_eq!(s("FROMJSON(x)"), "(call fromJSON x)");
    assert_eq!(s("startswith(a, b)"), "(call startsWith a b)");
    assert_eq!(s("Success()"), "(call success)");
}

#[test]
fn function_arities() {
    let ok = [
        "contains(a, b)",
        "startsWith(a, b)",
        "endsWith(a, b)",
        "format('x')",
        "format('{0}{1}{2}{3}', a, b, c, d)",
        "toJSON(a)",
        "fromJSON(a)",
        "join(a)",
        "join(a, ', ')",
        "success()",
        "failure()",
        "always()",
        "cancelled()",
    ];
    for text in ok {
        assert!(Expr::parse(text).is_ok(), "{text}");
    }
    let bad = [
        ("contains(a)", "`contains()` takes 2 arguments, found 1"),
        (
            "contains(a, b, c)",
            "`contains()` takes 2 arguments, found 3",
        ),
        ("startsWith()", "`startsWith()` takes 2 arguments, found 0"),
        ("endsWith(a)", "`endsWith()` takes 2 arguments, found 1"),
        ("format()", "`format()` takes at least 1 argument, found 0"),
        ("toJSON()", "`toJSON()` takes 1 argument, found 0"),
        ("fromJSON(a, b)", "`fromJSON()` takes 1 argument, found 2"),
        ("join()", "`join()` takes 1 to 2 arguments, found 0"),
        ("join(a, b, c)", "`join()` takes 1 to 2 arguments, found 3"),
        ("success(a)", "`success()` takes 0 arguments, found 1"),
        ("always(1, 2)", "`always()` takes 0 arguments, found 2"),
    ];
    for (text, message) in bad {
        let err = Expr::parse(text).unwrap_err();
        assert_eq!(err.message, message, "{text}");
        assert_eq!(err.offset, 0, "{text}");
    }
}

#[test]
fn expression_offsets() {
    let e = Expr::parse("  a.b || !c").unwrap();
    assert_eq!(e.offset, 2);
    let ExprKind::Binary(_, l, r) = &e.kind else {
        panic!("not binary: {e:?}")
    };
    assert_eq!(l.offset, 2);
    assert_eq!(r.offset, 9);
    let ExprKind::Not(inner) = &r.kind else {
        panic!("not a not: {r:?}")
    };
    assert_eq!(inner.offset, 10);

    let e = Expr::parse("x == contains(a, 'b')").unwrap();
    let ExprKind::Binary(_, _, call) = &e.kind else {
        panic!("not binary")
    };
    assert_eq!(call.offset, 5);
    let ExprKind::Call(_, args) = &call.kind else {
        panic!("not a call")
    };
    assert_eq!(args.iter().map(|a| a.offset).collect::<Vec<_>>(), [14, 17]);
}

fn refs(text: &str) -> Vec<(String, usize)> {
    Expr::parse(text)
        .unwrap()
        .references()
        .into_iter()
        .map(|r| (r.path.join("|"), r.offset))
        .collect()
}

fn r(path: &str, offset: usize) -> (String, usize) {
    (path.to_string(), offset)
}

#[test]
fn references_are_maximal_paths_with_offsets() {
    let cases: Vec<(&str, Vec<(String, usize)>)> = vec![
        (
            "actions.build-linux.outputs.image-tag == 'x'",
            vec![r("actions|build-linux|outputs|image-tag", 0)],
        ),
        ("inputs.who", vec![r("inputs|who", 0)]),
        ("inputs", vec![r("inputs", 0)]),
        (
            "matrix['os name'] && inputs.x",
            vec![r("matrix|os name", 0), r("inputs|x", 21)],
        ),
        ("a['b'].c['d-e']", vec![r("a|b|c|d-e", 0)]),
        // A dynamic index ends the path; the index's own references follow.
        (
            "trigger.payload.commits[0].id",
            vec![r("trigger|payload|commits", 0)],
        ),
        ("a.b[c.d].e", vec![r("a|b", 0), r("c|d", 4)]),
        ("a[true]", vec![r("a", 0)]),
        (
            "contains(inputs.list, env.X)",
            vec![r("inputs|list", 9), r("env|X", 22)],
        ),
        ("fromJSON(inputs.j).a.b", vec![r("inputs|j", 9)]),
        ("!x", vec![r("x", 1)]),
        ("(inputs).x", vec![r("inputs|x", 1)]),
        ("'inputs.x' == 1", vec![]),
        ("success() || failure()", vec![]),
        // Both sides are listed even when evaluation would skip one.
        ("false && a.b || c", vec![r("a|b", 9), r("c", 16)]),
        ("x-1 == y", vec![r("x-1", 0), r("y", 7)]),
        (
            "format('{0} {1}', inputs.a, actions.b.outputs.c)",
            vec![r("inputs|a", 18), r("actions|b|outputs|c", 28)],
        ),
    ];
    for (text, want) in cases {
        assert_eq!(refs(text), want, "{text}");
    }
}

#[test]
fn reference_paths_keep_segments_as_written() {
    let e = Expr::parse("a['it''s'].b").unwrap();
    assert_eq!(
        e.references(),
        vec![RefUse {
            path: vec!["a".into(), "it's".into(), "b".into()],
            offset: 0,
        }]
    );
    assert_eq!(
        e.as_reference(),
        Some(vec!["a".to_string(), "it's".to_string(), "b".to_string()])
    );
    assert_eq!(Expr::parse("a.b == 1").unwrap().as_reference(), None);
}

#[test]
fn status_functions_are_listed_once_in_order() {
    let cases: [(&str, &[StatusFn]); 6] = [
        ("inputs.x", &[]),
        ("failure()", &[StatusFn::Failure]),
        (
            "failure() || always()",
            &[StatusFn::Failure, StatusFn::Always],
        ),
        (
            "success() && !cancelled() && success()",
            &[StatusFn::Success, StatusFn::Cancelled],
        ),
        (
            "contains(format('{0}', failure()), 'x')",
            &[StatusFn::Failure],
        ),
        ("a[always()].b", &[StatusFn::Always]),
    ];
    for (text, want) in cases {
        assert_eq!(
            Expr::parse(text).unwrap().status_functions(),
            want,
            "{text}"
        );
    }
}

#[test]
fn display_is_canonical_source_that_parses_back() {
    let cases = [
        ("a||b&&c", "a || b && c"),
        ("(a||b)&&c", "(a || b) && c"),
        ("a || (b || c)", "a || (b || c)"),
        ("!(a == b)", "!(a == b)"),
        ("(!a).b", "(!a).b"),
        ("\"it's\"", "'it''s'"),
        ("toJson( x )", "toJSON(x)"),
        ("a['b c'].d[0]", "a['b c'].d[0]"),
        ("x <= -1.5", "x <= -1.5"),
        ("format('{{{0}}}', null)", "format('{{{0}}}', null)"),
    ];
    for (text, want) in cases {
        let e = Expr::parse(text).unwrap();
        assert_eq!(e.to_string(), want, "{text}");
        assert_eq!(
            sexpr(&Expr::parse(&e.to_string()).unwrap()),
            sexpr(&e),
            "{text}"
        );
    }
}

#[test]
fn conditions_bare_or_wrapped() {
    for text in [
        "failure()",
        "${{ failure() }}",
        "${{failure()}}",
        "  ${{ failure() }}  ",
        "\n failure()\n",
    ] {
        let e = parse_condition(text).unwrap();
        assert_eq!(sexpr(&e), "(call failure)", "{text:?}");
    }
    let e = parse_condition("  ${{ inputs.x }}").unwrap();
    assert_eq!(e.offset, 6, "offsets are into the condition text");
    let e = parse_condition("${{ a == '}}' }}").unwrap();
    assert_eq!(sexpr(&e), "(== a \"}}\")");
}

#[test]
fn nesting_up_to_the_limit_is_accepted_and_beyond_is_an_error() {
    let ok = format!(
        "{}a{}",
        "(".repeat(MAX_DEPTH - 1),
        ")".repeat(MAX_DEPTH - 1)
    );
    assert_eq!(s(&ok), "a");
    let deep = format!(
        "{}a{}",
        "(".repeat(MAX_DEPTH + 1),
        ")".repeat(MAX_DEPTH + 1)
    );
    let err = Expr::parse(&deep).unwrap_err();
    assert!(err.message.contains("nested too deeply"), "{}", err.message);
    assert_eq!(err.offset, MAX_DEPTH);

    let nots = format!("{}a", "!".repeat(MAX_DEPTH - 1));
    assert!(Expr::parse(&nots).is_ok());
    let nots = format!("{}a", "!".repeat(MAX_DEPTH + 5));
    assert!(Expr::parse(&nots)
        .unwrap_err()
        .message
        .contains("nested too deeply"));

    let chain = vec!["a"; MAX_DEPTH + 5].join(" || ");
    assert!(Expr::parse(&chain)
        .unwrap_err()
        .message
        .contains("nested too deeply"));
    let members = format!("a{}", ".b".repeat(MAX_DEPTH + 5));
    assert!(Expr::parse(&members)
        .unwrap_err()
        .message
        .contains("nested too deeply"));
    let calls = format!(
        "{}a{}",
        "toJSON(".repeat(MAX_DEPTH + 5),
        ")".repeat(MAX_DEPTH + 5)
    );
    assert!(Expr::parse(&calls)
        .unwrap_err()
        .message
        .contains("nested too deeply"));
}

#[test]
fn huge_inputs_fail_fast_without_overflowing_the_stack() {
    let parens = "(".repeat(1 << 20);
    assert!(Expr::parse(&parens).is_err());
    let brackets = "a[".repeat(1 << 18);
    assert!(Expr::parse(&brackets).is_err());
    let nots = "!".repeat(1 << 20);
    assert!(Expr::parse(&nots).is_err());
    let long_name = "a".repeat(1 << 20);
    assert!(Expr::parse(&long_name).is_ok());
}

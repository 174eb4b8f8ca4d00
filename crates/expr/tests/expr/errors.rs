//! Parse-error messages, as users see them (insta snapshots: input, a caret at the offset, message).

use co_expr::{parse_condition, Expr, ExprError, Template, MAX_DEPTH};

fn render(cases: &[String], parse: impl Fn(&str) -> Result<(), ExprError>) -> String {
    let mut out = String::new();
    for input in cases {
        match parse(input) {
            Ok(()) => panic!("{input:?} parsed, expected an error"),
            Err(err) => {
                assert!(err.offset <= input.len(), "{input:?}: offset past the end");
                assert!(
                    input.is_char_boundary(err.offset),
                    "{input:?}: offset inside a char"
                );
                assert!(!err.message.is_empty());
                let column = input[..err.offset].chars().count();
                out.push_str(&format!(
                    "{input}\n{}^ {} (offset {})\n\n",
                    " ".repeat(column),
                    err.message,
                    err.offset
                ));
            }
        }
    }
    out
}

fn strings(cases: &[&str]) -> Vec<String> {
    cases.iter().map(|s| s.to_string()).collect()
}

#[test]
fn expression_parse_errors() {
    let mut cases = strings(&[
        "",
        "   ",
        "a b",
        "a -1",
        "a - b",
        "a + 1",
        "a * 2",
        "a = b",
        "a & b",
        "a | b",
        "a || || b",
        "a ==",
        "a == ",
        "!",
        "(a || b",
        "()",
        "(a))",
        "a[]",
        "a[0",
        "a.",
        "a.0",
        "a.'b'",
        "a..b",
        "a.b(c)",
        "'x'(1)",
        "contains(a, b",
        "contains(a b)",
        "contains(a,)",
        "contains(,a)",
        "contains(a)",
        "toJSON(a, b)",
        "success(1)",
        "contans(a, b)",
        "startswth(a, 'b')",
        "tojsn(x)",
        "frobnicate(x)",
        "format('{0} {1}', a)",
        "format('{', a)",
        "format('}')",
        "format('{x}')",
        "format('{0')",
        "'unterminated",
        "'it's'",
        "\"unterminated",
        "\"bad \\q escape\"",
        "1abc",
        "1.5x",
        "99999999999999999999e999999",
        "a @ b",
        "é",
        "a ${{ b }}",
        "a }} b",
        "a } b",
        "a, b",
        "true false",
        "inputs.x == 'a' inputs.y",
    ]);
    cases.push(format!(
        "{}a{}",
        "(".repeat(MAX_DEPTH + 1),
        ")".repeat(MAX_DEPTH + 1)
    ));
    cases.push(format!("{}a", "!".repeat(MAX_DEPTH + 1)));
    cases.push(vec!["a"; MAX_DEPTH + 1].join("||"));
    insta::assert_snapshot!(
        "expression_parse_errors",
        render(&cases, |s| Expr::parse(s).map(|_| ()))
    );
}

#[test]
fn template_parse_errors() {
    let cases = strings(&[
        "hello ${{ inputs.who",
        "hello ${{ inputs.who }",
        "x ${{ 'it's' }}",
        "x ${{ \"open }}",
        "${{ }}",
        "${{ a == }}",
        "prefix ${{ contains(a) }} suffix",
        "${{ a }} ${{ b c }}",
        "${{ ${{ a }} }}",
        "${{ inputs.x - 1 }}",
    ]);
    insta::assert_snapshot!(
        "template_parse_errors",
        render(&cases, |s| Template::parse(s).map(|_| ()))
    );
}

#[test]
fn condition_parse_errors() {
    let cases = strings(&[
        "",
        "${{ a }} && ${{ b }}",
        "${{ a }} == 'x'",
        "success() && ${{ b }}",
        "${{ failure()",
        "  ${{ failure( }}",
        "failure() ||",
    ]);
    insta::assert_snapshot!(
        "condition_parse_errors",
        render(&cases, |s| parse_condition(s).map(|_| ()))
    );
}

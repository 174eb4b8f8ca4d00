//! The size limit on values an expression makes (MAX_RESULT_BYTES).

use co_expr::{Expr, Template, Value, ValueContext, MAX_RESULT_BYTES};
use serde_json::json;

const MIB: usize = 1024 * 1024;

fn big_ctx() -> ValueContext {
    ValueContext::new(json!({
        "inputs": {
            "big": "x".repeat(MIB),
            "quotes": "\"".repeat(3 * MIB),
            "list": vec!["y".repeat(MIB); 5],
        }
    }))
}

fn eval(text: &str) -> Result<Value, String> {
    Expr::parse(text)
        .map_err(|e| e.message)?
        .eval(&big_ctx())
        .map_err(|e| e.0)
}

fn message(what: &str) -> String {
    format!(
        "{what}: the result would be larger than 4 MiB (the limit for a value made by an expression)"
    )
}

#[test]
fn format_multiplying_a_large_value_fails_before_building_it() {
    let fmt = "{0}".repeat(100);
    assert_eq!(
        eval(&format!("format('{fmt}', inputs.big)")),
        Err(message("format()"))
    );
    // Exactly at the limit is fine.
    let four = eval("format('{0}{0}{0}{0}', inputs.big)").unwrap();
    assert_eq!(four.as_str().map(str::len), Some(MAX_RESULT_BYTES));
    assert_eq!(
        eval("format('{0}{0}{0}{0}!', inputs.big)"),
        Err(message("format()"))
    );
}

#[test]
fn join_and_to_json_are_bounded() {
    assert_eq!(eval("join(inputs.list, '')"), Err(message("join()")));
    // Every quote becomes two characters in JSON: 3 MiB of quotes is 6 MiB of JSON.
    assert_eq!(eval("toJSON(inputs.quotes)"), Err(message("toJSON()")));
    assert_eq!(
        eval("toJSON(inputs.big)").map(|v| v.as_str().map(str::len)),
        Ok(Some(MIB + 2))
    );
}

#[test]
fn a_template_is_bounded() {
    let text = "${{ inputs.big }}".repeat(5);
    let template = Template::parse(&text).unwrap();
    assert_eq!(
        template.eval(&big_ctx()).map_err(|e| e.0),
        Err(message("the text"))
    );
    let template = Template::parse(&"${{ inputs.big }}".repeat(4)).unwrap();
    let value = template.eval(&big_ctx()).unwrap();
    assert_eq!(value.as_str().map(str::len), Some(MAX_RESULT_BYTES));
}

#[test]
fn a_whole_value_larger_than_the_limit_is_an_error() {
    let ctx = ValueContext::new(json!({ "inputs": { "huge": vec!["z".repeat(MIB); 5] } }));
    let err = Expr::parse("inputs.huge")
        .unwrap()
        .eval(&ctx)
        .map_err(|e| e.0);
    assert_eq!(err, Err(message("the expression")));
    let ok = json!({ "inputs": { "four": vec!["z".repeat(MIB - 4); 4] } });
    let ctx = ValueContext::new(ok);
    assert!(Expr::parse("inputs.four").unwrap().eval(&ctx).is_ok());
}

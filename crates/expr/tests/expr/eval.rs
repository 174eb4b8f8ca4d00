//! Evaluation: references, operators, truthiness, comparison rules, functions.

use crate::{ctx, Recording};
use co_expr::{truthy, Context, Expr, StatusFn, Value, ValueContext};
use serde_json::json;

fn eval_in(c: &dyn Context, text: &str) -> Value {
    let e = Expr::parse(text).unwrap_or_else(|e| panic!("{text:?}: {}", e.message));
    e.eval(c).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

fn eval(text: &str) -> Value {
    eval_in(&ctx(), text)
}

fn eval_err(text: &str) -> String {
    let e = Expr::parse(text).unwrap_or_else(|e| panic!("{text:?}: {}", e.message));
    match e.eval(&ctx()) {
        Ok(v) => panic!("{text:?} evaluated to {v}, expected an error"),
        Err(e) => e.0,
    }
}

fn check(cases: &[(&str, Value)]) {
    for (text, want) in cases {
        assert_eq!(&eval(text), want, "{text}");
    }
}

#[test]
fn references_resolve_through_the_context() {
    check(&[
        ("inputs.who", json!("world")),
        ("inputs.count", json!(3)),
        ("inputs.list", json!(["a", "b"])),
        ("actions.build-linux.outputs.image-tag", json!("v1")),
        ("actions['build-linux'].outputs['image-tag']", json!("v1")),
        ("matrix['os name']", json!("linux")),
        ("nil", Value::Null),
        ("obj", json!({"k": 1})),
    ]);
}

#[test]
fn postfix_operations_after_the_reference_work_on_values() {
    check(&[
        ("trigger.payload.commits[1].id", json!("c2")),
        ("trigger.payload.commits[0]", json!({"id": "c1"})),
        ("trigger.payload.commits[5]", Value::Null),
        ("trigger.payload.commits[-1]", Value::Null),
        ("trigger.payload.commits[0.5]", Value::Null),
        ("trigger.payload.commits[1.0].id", json!("c2")),
        ("fromJSON(inputs.json).a.b[1]", json!(20)),
        ("fromJSON(inputs.json)['a']['b'][0]", json!(10)),
        ("fromJSON(inputs.json).nope", Value::Null),
        ("fromJSON(inputs.json).nope.deeper[3]", Value::Null),
        ("fromJSON(inputs.json).a.b.c", Value::Null),
        ("fromJSON('\"text\"').length", Value::Null),
        ("fromJSON('[[1,2],[3]]')[1][0]", json!(3)),
        ("fromJSON('{\"1\":\"one\"}')[1]", json!("one")),
        ("fromJSON('[\"x\",\"y\"]')['1']", json!("y")),
        ("fromJSON('[1]')[true]", Value::Null),
        ("inputs.list[inputs.zero]", json!("a")),
    ]);
}

#[test]
fn string_index_segments_join_the_reference_path() {
    // `commits['1']` is the path trigger.payload.commits.1, which this context does not have.
    let err = Expr::parse("trigger.payload.commits['1'].id")
        .unwrap()
        .eval(&ValueContext::new(
            json!({"trigger": {"payload": {"commits": ["x"]}}}),
        ))
        .unwrap_err();
    assert_eq!(err.0, "unknown reference trigger.payload.commits['1'].id");
}

#[test]
fn each_reference_is_looked_up_once_with_its_whole_path() {
    let c = Recording::default();
    assert_eq!(eval_in(&c, "actions.say.outputs.greeting"), json!("hello"));
    assert_eq!(
        *c.lookups.borrow(),
        vec![vec!["actions", "say", "outputs", "greeting"]]
    );

    let c = Recording::default();
    assert_eq!(eval_in(&c, "trigger.payload.commits[0].id"), json!("c1"));
    assert_eq!(
        *c.lookups.borrow(),
        vec![vec!["trigger", "payload", "commits"]]
    );

    let c = Recording::default();
    assert_eq!(eval_in(&c, "inputs.list[inputs.zero]"), json!("a"));
    assert_eq!(
        *c.lookups.borrow(),
        vec![vec!["inputs", "list"], vec!["inputs", "zero"]]
    );
}

#[test]
fn unknown_references_name_the_path() {
    assert_eq!(
        eval_err("actions.say.outputs.nope"),
        "unknown reference actions.say.outputs.nope"
    );
    assert_eq!(eval_err("nope"), "unknown reference nope");
    assert_eq!(
        eval_err("matrix['no such']"),
        "unknown reference matrix['no such']"
    );
    assert_eq!(
        eval_err("inputs.who.length"),
        "unknown reference inputs.who.length"
    );
    assert_eq!(
        eval_err("contains(inputs.list, secrets.token)"),
        "unknown reference secrets.token"
    );
}

#[test]
fn and_or_return_an_operand_and_short_circuit() {
    check(&[
        ("inputs.tag || 'latest'", json!("latest")),
        ("inputs.who || 'latest'", json!("world")),
        ("inputs.who && inputs.count", json!(3)),
        ("inputs.tag && inputs.count", json!("")),
        ("inputs.zero || null", Value::Null),
        ("nil || false", json!(false)),
        ("nil && nope", Value::Null),
        ("false && nope.x", json!(false)),
        ("true || nope", json!(true)),
        ("inputs.count || nope", json!(3)),
        ("0 || '' || null || 'last'", json!("last")),
        ("1 && 'a' && inputs.list", json!(["a", "b"])),
    ]);
    assert_eq!(eval_err("nope || true"), "unknown reference nope");
    assert_eq!(eval_err("true && nope"), "unknown reference nope");
}

#[test]
fn not_returns_a_boolean_by_truthiness() {
    check(&[
        ("!inputs.tag", json!(true)),
        ("!inputs.who", json!(false)),
        ("!!inputs.count", json!(true)),
        ("!inputs.zero", json!(true)),
        ("!0.0", json!(true)),
        ("!-0.0", json!(true)),
        ("!0.1", json!(false)),
        ("!nil", json!(true)),
        ("!obj", json!(false)),
        ("!fromJSON('[]')", json!(false)),
        ("!fromJSON('{}')", json!(false)),
        ("!'0'", json!(false)),
        ("!'false'", json!(false)),
        ("!' '", json!(false)),
        ("!inputs.off", json!(true)),
    ]);
}

#[test]
fn truthiness_table() {
    let falsy = [
        json!(false),
        Value::Null,
        json!(0),
        json!(0.0),
        json!(-0.0),
        json!(""),
    ];
    let truthy_values = [
        json!(true),
        json!(1),
        json!(-1),
        json!(0.5),
        json!("0"),
        json!("false"),
        json!(" "),
        json!([]),
        json!({}),
        json!([false]),
    ];
    for v in falsy {
        assert!(!truthy(&v), "{v} should be falsy");
    }
    for v in truthy_values {
        assert!(truthy(&v), "{v} should be truthy");
    }
}

#[test]
fn equality_rules() {
    check(&[
        // same types
        ("'a' == 'a'", json!(true)),
        ("'A' == 'a'", json!(false)),
        ("'a' != 'A'", json!(true)),
        ("1 == 1.0", json!(true)),
        ("2.5 == 2.50", json!(true)),
        ("-0.0 == 0", json!(true)),
        ("true == true", json!(true)),
        ("true == false", json!(false)),
        ("null == null", json!(true)),
        ("null != null", json!(false)),
        ("inputs.count == 3", json!(true)),
        ("inputs.flag == true", json!(true)),
        ("9223372036854775807 == 9223372036854775806", json!(false)),
        // number vs numeric string
        ("inputs.count == '3'", json!(true)),
        ("'3' == inputs.count", json!(true)),
        ("3 == '3.0'", json!(true)),
        ("3 == ' 3 '", json!(true)),
        ("inputs.num-str == 42", json!(true)),
        ("inputs.float-str == 2.5", json!(true)),
        ("1000 == '1e3'", json!(true)),
        ("-1 == '-1'", json!(true)),
        ("1 == '+1'", json!(true)),
        ("3 != '4'", json!(true)),
        // number vs non-numeric string
        ("'abc' == 0", json!(false)),
        ("'abc' != 0", json!(true)),
        ("'' == 0", json!(false)),
        ("'0x10' == 16", json!(false)),
        ("'inf' == 1", json!(false)),
        ("'1.' == 1", json!(false)),
        ("'.5' == 0.5", json!(false)),
        // two strings never compare as numbers
        ("'1' == '1.0'", json!(false)),
        // other mixed types
        ("true == 'true'", json!(false)),
        ("false == 'false'", json!(false)),
        ("1 == true", json!(false)),
        ("0 == false", json!(false)),
        ("null == ''", json!(false)),
        ("null == 0", json!(false)),
        ("null == false", json!(false)),
        ("null != false", json!(true)),
        ("inputs.list == 'a,b'", json!(false)),
        // arrays and objects compare element by element
        ("inputs.list == fromJSON('[\"a\",\"b\"]')", json!(true)),
        (
            "fromJSON('[1,{\"a\":2}]') == fromJSON('[1.0,{\"a\":2}]')",
            json!(true),
        ),
        (
            "fromJSON('{\"a\":1,\"b\":2}') == fromJSON('{\"b\":2,\"a\":1}')",
            json!(true),
        ),
        (
            "fromJSON('{\"a\":1}') == fromJSON('{\"a\":1,\"b\":2}')",
            json!(false),
        ),
        ("fromJSON('[1]') == fromJSON('[\"1\"]')", json!(false)),
        ("fromJSON('[1]') == fromJSON('[1,1]')", json!(false)),
        ("fromJSON('[1]') == '[1]'", json!(false)),
        ("fromJSON('[]') == fromJSON('{}')", json!(false)),
    ]);
}

#[test]
fn ordering_rules() {
    check(&[
        ("1 < 2", json!(true)),
        ("2 < 1", json!(false)),
        ("2 <= 2", json!(true)),
        ("2 >= 2", json!(true)),
        ("2 > 2", json!(false)),
        ("-1 < 0", json!(true)),
        ("2.5 > 2", json!(true)),
        ("9007199254740993 > 9007199254740992", json!(true)),
        ("18446744073709551615 > 18446744073709551614", json!(true)),
        ("-1 < 18446744073709551615", json!(true)),
        ("'a' < 'b'", json!(true)),
        ("'B' < 'a'", json!(true)),
        ("'abc' < 'abd'", json!(true)),
        ("'ab' < 'abc'", json!(true)),
        ("'' < 'a'", json!(true)),
        ("'b' >= 'b'", json!(true)),
        ("'10' < '9'", json!(true)),
        ("10 > '9'", json!(true)),
        ("'9' < 10", json!(true)),
        ("inputs.num-str >= 42", json!(true)),
        ("inputs.count < inputs.num-str", json!(true)),
        // pairs without an order: all four operators are false
        ("'abc' < 1", json!(false)),
        ("'abc' > 1", json!(false)),
        ("'abc' <= 1", json!(false)),
        ("'abc' >= 1", json!(false)),
        ("null < 1", json!(false)),
        ("null <= null", json!(false)),
        ("null >= null", json!(false)),
        ("false < true", json!(false)),
        ("true <= true", json!(false)),
        ("1 < true", json!(false)),
        ("inputs.list < inputs.list", json!(false)),
        ("obj >= obj", json!(false)),
    ]);
}

#[test]
fn comparison_results_are_booleans() {
    for text in ["1 == 1", "1 != 1", "'a' < 'b'", "null >= 1"] {
        assert!(eval(text).is_boolean(), "{text}");
    }
}

#[test]
fn contains_starts_with_ends_with() {
    check(&[
        ("contains('hello world', 'o w')", json!(true)),
        ("contains('hello', 'hello')", json!(true)),
        ("contains('hello', '')", json!(true)),
        ("contains('Hello', 'hello')", json!(false)),
        ("contains(inputs.list, 'b')", json!(true)),
        ("contains(inputs.list, 'c')", json!(false)),
        ("contains(inputs.nums, '2')", json!(true)),
        ("contains(inputs.nums, 2.0)", json!(true)),
        ("contains(inputs.nums, 4)", json!(false)),
        ("contains(fromJSON('[null, true]'), null)", json!(true)),
        ("contains(fromJSON('[[1]]'), fromJSON('[1]'))", json!(true)),
        ("contains(123, 2)", json!(true)),
        ("contains(true, 'ru')", json!(true)),
        ("contains(null, '')", json!(true)),
        ("contains(null, 'x')", json!(false)),
        ("startsWith('refs/tags/v1', 'refs/tags/')", json!(true)),
        ("startsWith('refs/tags/v1', 'Refs')", json!(false)),
        ("startsWith(12, 1)", json!(true)),
        ("startsWith('x', '')", json!(true)),
        ("endsWith('app.tar.gz', '.gz')", json!(true)),
        ("endsWith('app.tar.gz', '.GZ')", json!(false)),
        ("endsWith(2.5, 5)", json!(true)),
        ("endsWith(null, '')", json!(true)),
    ]);
}

#[test]
fn format_function() {
    check(&[
        ("format('{0}-{1}', 'a', 3)", json!("a-3")),
        ("format('{1}{0}{1}', 'a', 'b')", json!("bab")),
        ("format('{{{0}}}', 'x')", json!("{x}")),
        ("format('{{0}}', 'x')", json!("{0}")),
        ("format('}}{{')", json!("}{")),
        ("format('no placeholders')", json!("no placeholders")),
        ("format('')", json!("")),
        ("format('{0}', fromJSON('[1,2]'))", json!("[1,2]")),
        ("format('{0}', obj)", json!("{\"k\":1}")),
        ("format('[{0}]', null)", json!("[]")),
        ("format('{0} {1} {2}', true, 2.5, -1)", json!("true 2.5 -1")),
        ("format('{0}', 'unused', 'extra')", json!("unused")),
        ("format('{10}', 0,1,2,3,4,5,6,7,8,9,'ten')", json!("ten")),
        ("format('é{0}ü', 'ß')", json!("éßü")),
        ("format(inputs.fmt, 'a', 'b')", json!("b")),
    ]);
    assert_eq!(
        eval_err("format(inputs.fmt, 'a')"),
        "format(): placeholder `{1}` needs at least 2 values after the format string, found 1"
    );
    assert!(eval_err("format(inputs.list)").contains("argument 1 must be a string"));
}

#[test]
fn to_json_and_from_json() {
    check(&[
        ("toJSON('a')", json!("\"a\"")),
        ("toJSON(inputs.count)", json!("3")),
        ("toJSON(null)", json!("null")),
        ("toJSON(true)", json!("true")),
        (
            "toJSON(fromJSON('{\"a\": [1, 2]}'))",
            json!("{\"a\":[1,2]}"),
        ),
        ("toJSON(inputs.list)", json!("[\"a\",\"b\"]")),
        ("toJSON('line\nbreak')", json!("\"line\\nbreak\"")),
        ("fromJSON('3')", json!(3)),
        ("fromJSON('2.5')", json!(2.5)),
        ("fromJSON('true')", json!(true)),
        ("fromJSON('null')", Value::Null),
        ("fromJSON(' {\"a\":1} ')", json!({"a": 1})),
        ("fromJSON('\"s\"')", json!("s")),
        ("fromJSON(42)", json!(42)),
        ("fromJSON(true)", json!(true)),
        ("fromJSON(toJSON(obj)) == obj", json!(true)),
        ("fromJSON(inputs.json).a", json!({"b": [10, 20]})),
    ]);
    let err = eval_err("fromJSON('{')");
    assert!(
        err.starts_with("fromJSON(): the text is not valid JSON"),
        "{err}"
    );
    assert!(eval_err("fromJSON('')").starts_with("fromJSON(): the text is not valid JSON"));
    assert!(eval_err("fromJSON(nil)").starts_with("fromJSON(): the text is not valid JSON"));
    assert!(eval_err("fromJSON(obj)").contains("argument 1 must be a string"));
}

#[test]
fn join_function() {
    check(&[
        ("join(inputs.list)", json!("a,b")),
        ("join(inputs.list, ' | ')", json!("a | b")),
        ("join(inputs.nums, '')", json!("123")),
        (
            "join(fromJSON('[1,null,true,\"s\",[2]]'), ';')",
            json!("1;;true;s;[2]"),
        ),
        ("join(fromJSON('[]'), ',')", json!("")),
        ("join('x', '-')", json!("x")),
        ("join(3)", json!("3")),
        ("join(nil)", json!("")),
    ]);
    assert!(eval_err("join(obj)").contains("join(): argument 1 must be an array"));
    assert!(eval_err("join(inputs.list, inputs.list)").contains("argument 2 must be a string"));
}

#[test]
fn argument_kind_errors_say_what_was_found() {
    assert_eq!(
        eval_err("contains(obj, 'k')"),
        "contains(): argument 1 must be a string or an array, found an object"
    );
    assert_eq!(
        eval_err("contains('abc', inputs.list)"),
        "contains(): argument 2 must be a string, number, boolean or null, found an array"
    );
    assert_eq!(
        eval_err("startsWith(inputs.list, 'a')"),
        "startsWith(): argument 1 must be a string, number, boolean or null, found an array"
    );
    assert_eq!(
        eval_err("endsWith('a', obj)"),
        "endsWith(): argument 2 must be a string, number, boolean or null, found an object"
    );
}

#[test]
fn status_functions_ask_the_context() {
    let mut c = ValueContext::new(json!({}));
    let read = |c: &ValueContext| {
        ["success()", "failure()", "always()", "cancelled()"]
            .map(|t| eval_in(c, t).as_bool().unwrap())
    };
    assert_eq!(read(&c), [true, false, true, false]);
    c.success = false;
    c.failure = true;
    assert_eq!(read(&c), [false, true, true, false]);
    c.cancelled = true;
    assert_eq!(read(&c), [false, true, true, true]);

    let r = Recording::default();
    assert_eq!(eval_in(&r, "failure() || cancelled()"), json!(false));
    assert_eq!(
        *r.status_calls.borrow(),
        [StatusFn::Failure, StatusFn::Cancelled]
    );
    let r = Recording::default();
    assert_eq!(eval_in(&r, "success() || failure()"), json!(true));
    assert_eq!(
        *r.status_calls.borrow(),
        [StatusFn::Success],
        "`||` short-circuits"
    );
}

#[test]
fn eval_bool_applies_truthiness() {
    let c = ctx();
    let cases = [
        ("inputs.tag", false),
        ("inputs.who", true),
        ("inputs.tag || inputs.who", true),
        ("inputs.count == 3 && !inputs.off", true),
    ];
    for (text, want) in cases {
        assert_eq!(
            Expr::parse(text).unwrap().eval_bool(&c).unwrap(),
            want,
            "{text}"
        );
    }
}

//! The input side: `CO_DATA`, `CO_DATA_JSON`, `CO_INPUT_*` and the context variables.

use serde_json::Value;

use crate::{clip, show_text, value_text};

/// The context variables every step gets.
#[derive(Debug, Clone)]
pub struct StepContext<'a> {
    pub run_id: &'a str,
    pub workflow: &'a str,
    pub stage: &'a str,
    pub action: &'a str,
    pub attempt: u32,
}

/// Mount point of the run's shared workspace inside every step container.
pub const WORKSPACE_DIR: &str = "/workspace";

/// Whether a value must be written in double quotes in `CO_DATA`: it is empty, or contains
/// whitespace (any Unicode white space, as [`char::is_whitespace`]), `"` or `\`.
fn needs_quotes(text: &str) -> bool {
    text.is_empty()
        || text
            .chars()
            .any(|c| c.is_whitespace() || c == '"' || c == '\\')
}

fn push_quoted(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `CO_DATA`: `key=value` pairs joined by one space, in order; values quoted as SPEC §1 says.
///
/// The text of a value is [`value_text`]. A value that is empty or contains white space, `"` or
/// `\` is written in double quotes, with the escapes `\"`, `\\`, `\n`, `\t` and `\r`; every other
/// character (including other white space such as a vertical tab or U+00A0) is written as it is
/// inside the quotes. Any other value, including one with `=` in it (`q=a=b`), is written
/// byte-for-byte unquoted, so the original ContainerOps readers (split at spaces, then at the first
/// `=`) read it unchanged. Keys are written as they are: input names are validated elsewhere
/// (`[A-Za-z_][A-Za-z0-9_-]*`), and a key with `=` or white space in it could not be read back.
pub fn encode_co_data(inputs: &[(String, Value)]) -> String {
    let mut out = String::new();
    for (i, (key, value)) in inputs.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(key);
        out.push('=');
        let text = value_text(value);
        if needs_quotes(&text) {
            push_quoted(&mut out, &text);
        } else {
            out.push_str(&text);
        }
    }
    out
}

/// Inverse of [`encode_co_data`] (values come back as text). Readers split at the first `=`.
///
/// A pair is `KEY=VALUE`: KEY is the (non-empty) text up to the first `=`; a VALUE that starts
/// with `"` is a quoted value with the escapes [`encode_co_data`] writes (`\"`, `\\`, `\n`, `\t`,
/// `\r`) and must be followed by white space or the end; any other VALUE runs up to the next white
/// space and is taken literally. Pairs may be separated by any run of white space, and leading or
/// trailing white space is ignored, so hand-written `CO_DATA` (seed-format flows) reads too.
/// Errors name the byte offset and what is wrong: a pair without `=`, an empty key, an unterminated
/// quoted value, an unknown escape, text glued to a closing quote.
pub fn decode_co_data(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut chars = text.char_indices().peekable();
    loop {
        while chars.next_if(|&(_, c)| c.is_whitespace()).is_some() {}
        let Some(&(start, _)) = chars.peek() else {
            break;
        };
        let mut key = String::new();
        loop {
            match chars.peek() {
                Some(&(_, '=')) => {
                    chars.next();
                    break;
                }
                Some(&(_, c)) if !c.is_whitespace() => {
                    key.push(c);
                    chars.next();
                }
                _ => {
                    return Err(format!(
                        "CO_DATA: {} at byte {start} is not a key=value pair (no \"=\")",
                        show_text(&key)
                    ))
                }
            }
        }
        if key.is_empty() {
            return Err(format!("CO_DATA: empty key at byte {start}"));
        }
        let mut value = String::new();
        if let Some((open, _)) = chars.next_if(|&(_, c)| c == '"') {
            let unterminated = || {
                format!(
                    "CO_DATA: the quoted value of {} opened at byte {open} has no closing quote",
                    clip(&key, 80)
                )
            };
            loop {
                match chars.next() {
                    None => return Err(unterminated()),
                    Some((_, '"')) => break,
                    Some((at, '\\')) => match chars.next() {
                        Some((_, '"')) => value.push('"'),
                        Some((_, '\\')) => value.push('\\'),
                        Some((_, 'n')) => value.push('\n'),
                        Some((_, 't')) => value.push('\t'),
                        Some((_, 'r')) => value.push('\r'),
                        Some((_, c)) => {
                            return Err(format!(
                                "CO_DATA: unknown escape \"\\{c}\" at byte {at} in the value of {} \
                                 (known: \\\" \\\\ \\n \\t \\r)",
                                clip(&key, 80)
                            ))
                        }
                        None => return Err(unterminated()),
                    },
                    Some((_, c)) => value.push(c),
                }
            }
            if let Some(&(at, c)) = chars.peek() {
                if !c.is_whitespace() {
                    return Err(format!(
                        "CO_DATA: unexpected {} at byte {at} after the closing quote of the value \
                         of {}; pairs are separated by a space",
                        show_text(&c.to_string()),
                        clip(&key, 80)
                    ));
                }
            }
        } else {
            while let Some((_, c)) = chars.next_if(|&(_, c)| !c.is_whitespace()) {
                value.push(c);
            }
        }
        out.push((key, value));
    }
    Ok(out)
}

/// `CO_DATA_JSON`: the inputs as one JSON object with typed values, in order.
///
/// Compact JSON. A key given twice keeps its first position and its last value.
pub fn encode_co_data_json(inputs: &[(String, Value)]) -> String {
    let map: serde_json::Map<String, Value> = inputs.iter().cloned().collect();
    Value::Object(map).to_string()
}

/// `CO_INPUT_<NAME>`: upper-cased, every char not `[A-Z0-9]` becomes `_`.
///
/// Each char of the name becomes exactly one char (ASCII upper-casing; `é` and `ß` become `_`).
pub fn input_env_name(name: &str) -> String {
    let mut out = String::with_capacity("CO_INPUT_".len() + name.len());
    out.push_str("CO_INPUT_");
    out.extend(name.chars().map(|c| {
        let u = c.to_ascii_uppercase();
        if u.is_ascii_uppercase() || u.is_ascii_digit() {
            u
        } else {
            '_'
        }
    }));
    out
}

/// Every protocol variable for one step, in a stable order: `CO_DATA`, `CO_DATA_JSON`,
/// `CO_INPUT_*`, then the context variables and `CO_WORKSPACE`. With `inputs = None` (seed-format
/// flows, whose `CO_DATA` comes verbatim from `environments`) only the context variables.
///
/// `CO_INPUT_*` values are the raw text ([`value_text`]), unquoted. Two inputs whose names map to
/// the same variable (`a-b`, `a_b`) give one variable, at the first one's position, with the last
/// one's value (spec validation should reject such names; the list never has duplicates).
pub fn step_env(
    ctx: &StepContext<'_>,
    inputs: Option<&[(String, Value)]>,
) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = Vec::new();
    if let Some(inputs) = inputs {
        env.push(("CO_DATA".to_string(), encode_co_data(inputs)));
        env.push(("CO_DATA_JSON".to_string(), encode_co_data_json(inputs)));
        let mut per_input: indexmap::IndexMap<String, String> = indexmap::IndexMap::new();
        for (name, value) in inputs {
            per_input.insert(input_env_name(name), value_text(value));
        }
        env.extend(per_input);
    }
    env.extend([
        ("CO_RUN_ID".to_string(), ctx.run_id.to_string()),
        ("CO_WORKFLOW".to_string(), ctx.workflow.to_string()),
        ("CO_STAGE".to_string(), ctx.stage.to_string()),
        ("CO_ACTION".to_string(), ctx.action.to_string()),
        ("CO_ATTEMPT".to_string(), ctx.attempt.to_string()),
        ("CO_WORKSPACE".to_string(), WORKSPACE_DIR.to_string()),
    ]);
    env
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pairs(items: &[(&str, Value)]) -> Vec<(String, Value)> {
        items
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    fn one(v: Value) -> String {
        encode_co_data(&pairs(&[("k", v)]))
    }

    #[test]
    fn encode_quoting_table() {
        let cases: &[(Value, &str)] = &[
            (json!("plain"), "k=plain"),
            (json!("hello world"), r#"k="hello world""#),
            (json!(""), r#"k="""#),
            (json!(null), r#"k="""#),
            (json!("a=b"), "k=a=b"),
            (json!("=="), "k==="),
            (json!("a\tb"), r#"k="a\tb""#),
            (json!("a\nb"), r#"k="a\nb""#),
            (json!("a\r\nb"), r#"k="a\r\nb""#),
            (json!("say \"hi\""), r#"k="say \"hi\"""#),
            (json!("q\"x"), r#"k="q\"x""#),
            (json!(r"C:\dir"), r#"k="C:\\dir""#),
            (json!(" lead"), r#"k=" lead""#),
            (json!("trail "), r#"k="trail ""#),
            (json!("a\u{a0}b"), "k=\"a\u{a0}b\""),
            (json!("a\u{b}b"), "k=\"a\u{b}b\""),
            (json!("ünïcødé→✓"), "k=ünïcødé→✓"),
            (
                json!("https://example.org/r.git?x=1&y=2"),
                "k=https://example.org/r.git?x=1&y=2",
            ),
            (json!("it's"), "k=it's"),
            (json!("a\u{1}b"), "k=a\u{1}b"),
            (json!(3), "k=3"),
            (json!(-1.5), "k=-1.5"),
            (json!(true), "k=true"),
            (json!([1, 2]), "k=[1,2]"),
            (json!({"a": "b c"}), r#"k="{\"a\":\"b c\"}""#),
            (json!({"a": 1}), r#"k="{\"a\":1}""#),
        ];
        for (value, want) in cases {
            assert_eq!(one(value.clone()), *want, "value {value}");
        }
    }

    #[test]
    fn encode_joins_pairs_with_one_space_in_order() {
        let inputs = pairs(&[
            ("z", json!("1")),
            ("a", json!("hello world")),
            ("m-n", json!(3)),
            ("q", json!("a=b")),
        ]);
        assert_eq!(
            encode_co_data(&inputs),
            r#"z=1 a="hello world" m-n=3 q=a=b"#
        );
        assert_eq!(encode_co_data(&[]), "");
    }

    #[test]
    fn encoded_plain_values_split_like_the_original_readers() {
        // The original components: split at " ", then at the first "=".
        let inputs = pairs(&[
            ("git-url", json!("https://example.org/r.git")),
            ("q", json!("a=b=c")),
            ("n", json!(7)),
        ]);
        let text = encode_co_data(&inputs);
        let split: Vec<(&str, &str)> = text
            .split(' ')
            .map(|p| p.split_once('=').unwrap())
            .collect();
        assert_eq!(
            split,
            vec![
                ("git-url", "https://example.org/r.git"),
                ("q", "a=b=c"),
                ("n", "7")
            ]
        );
    }

    #[test]
    fn decode_table() {
        let cases: &[(&str, &[(&str, &str)])] = &[
            ("", &[]),
            ("   ", &[]),
            ("a=1", &[("a", "1")]),
            ("a=1 b=2", &[("a", "1"), ("b", "2")]),
            ("  a=1   b=2  ", &[("a", "1"), ("b", "2")]),
            ("a=1\tb=2", &[("a", "1"), ("b", "2")]),
            ("q=a=b", &[("q", "a=b")]),
            ("e=", &[("e", "")]),
            ("e= f=1", &[("e", ""), ("f", "1")]),
            (r#"e="""#, &[("e", "")]),
            (
                r#"m="hello world" n=2"#,
                &[("m", "hello world"), ("n", "2")],
            ),
            (r#"m="a\"b\\c\nd\te\rf""#, &[("m", "a\"b\\c\nd\te\rf")]),
            (r#"m="x=y z""#, &[("m", "x=y z")]),
            ("m=\"lit\neral\"", &[("m", "lit\neral")]),
            // unquoted values are literal, even with quotes or backslashes inside
            (r#"p=a"b p2=c\d"#, &[("p", "a\"b"), ("p2", "c\\d")]),
            (
                "git-url=https://example.org/r.git entry-path=.",
                &[
                    ("git-url", "https://example.org/r.git"),
                    ("entry-path", "."),
                ],
            ),
            ("ü=ö", &[("ü", "ö")]),
        ];
        for (text, want) in cases {
            let got = decode_co_data(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
            let want: Vec<(String, String)> = want
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            assert_eq!(got, want, "{text:?}");
        }
    }

    #[test]
    fn decode_errors_table() {
        let cases: &[(&str, &str)] = &[
            (
                "abc",
                r#"CO_DATA: "abc" at byte 0 is not a key=value pair (no "=")"#,
            ),
            (
                "a=1 abc",
                r#"CO_DATA: "abc" at byte 4 is not a key=value pair (no "=")"#,
            ),
            (
                "a=1 abc d=2",
                r#"CO_DATA: "abc" at byte 4 is not a key=value pair (no "=")"#,
            ),
            ("=1", "CO_DATA: empty key at byte 0"),
            ("a=1 =2", "CO_DATA: empty key at byte 4"),
            (
                r#"m="abc"#,
                "CO_DATA: the quoted value of m opened at byte 2 has no closing quote",
            ),
            (
                r#"m="abc\"#,
                "CO_DATA: the quoted value of m opened at byte 2 has no closing quote",
            ),
            (
                r#"m="a\qb""#,
                r#"CO_DATA: unknown escape "\q" at byte 4 in the value of m (known: \" \\ \n \t \r)"#,
            ),
            (
                r#"m="ab"c"#,
                r#"CO_DATA: unexpected "c" at byte 6 after the closing quote of the value of m; pairs are separated by a space"#,
            ),
            (
                r#"m="ab"="#,
                r#"CO_DATA: unexpected "=" at byte 6 after the closing quote of the value of m; pairs are separated by a space"#,
            ),
        ];
        for (text, want) in cases {
            assert_eq!(decode_co_data(text).unwrap_err(), *want, "{text:?}");
        }
    }

    #[test]
    fn decode_inverts_encode_on_tricky_values() {
        let values = [
            "",
            " ",
            "\"",
            "\\",
            "\\\"",
            "a b",
            "a=b",
            "=",
            "\n",
            "\r\n",
            "\t",
            "\u{a0}",
            "\u{2028}",
            "x\"",
            "\"x",
            "emoji 🎉",
            "a\u{0}b",
            "\\n",
        ];
        let inputs: Vec<(String, Value)> = values
            .iter()
            .enumerate()
            .map(|(i, v)| (format!("k{i}"), json!(v)))
            .collect();
        let decoded = decode_co_data(&encode_co_data(&inputs)).unwrap();
        let want: Vec<(String, String)> = inputs
            .iter()
            .map(|(k, v)| (k.clone(), value_text(v)))
            .collect();
        assert_eq!(decoded, want);
    }

    #[test]
    fn co_data_json_is_compact_typed_and_ordered() {
        let inputs = pairs(&[
            ("count", json!(3)),
            ("msg", json!("hello world")),
            ("flag", json!(true)),
            ("obj", json!({"z": 1, "a": [1.5, null]})),
            ("alpha", json!(null)),
        ]);
        assert_eq!(
            encode_co_data_json(&inputs),
            r#"{"count":3,"msg":"hello world","flag":true,"obj":{"z":1,"a":[1.5,null]},"alpha":null}"#
        );
        assert_eq!(encode_co_data_json(&[]), "{}");
        let dup = pairs(&[("a", json!(1)), ("b", json!(2)), ("a", json!(3))]);
        assert_eq!(encode_co_data_json(&dup), r#"{"a":3,"b":2}"#);
    }

    #[test]
    fn input_env_name_table() {
        let cases = [
            ("who", "CO_INPUT_WHO"),
            ("git-url", "CO_INPUT_GIT_URL"),
            ("image.tag", "CO_INPUT_IMAGE_TAG"),
            ("mixedCase9", "CO_INPUT_MIXEDCASE9"),
            ("already_UP", "CO_INPUT_ALREADY_UP"),
            ("a b", "CO_INPUT_A_B"),
            ("é", "CO_INPUT__"),
            ("ß", "CO_INPUT__"),
            ("", "CO_INPUT_"),
            ("0x", "CO_INPUT_0X"),
        ];
        for (name, want) in cases {
            assert_eq!(input_env_name(name), want, "{name}");
        }
    }

    fn ctx() -> StepContext<'static> {
        StepContext {
            run_id: "01J0RUN",
            workflow: "hello",
            stage: "greet",
            action: "say",
            attempt: 2,
        }
    }

    fn names(env: &[(String, String)]) -> Vec<&str> {
        env.iter().map(|(k, _)| k.as_str()).collect()
    }

    #[test]
    fn step_env_with_inputs() {
        let inputs = pairs(&[
            ("msg", json!("hello world")),
            ("count", json!(3)),
            ("data", json!({"a": 1})),
            ("empty", json!(null)),
        ]);
        let env = step_env(&ctx(), Some(&inputs));
        assert_eq!(
            env,
            vec![
                (
                    "CO_DATA".into(),
                    r#"msg="hello world" count=3 data="{\"a\":1}" empty="""#.into()
                ),
                (
                    "CO_DATA_JSON".into(),
                    r#"{"msg":"hello world","count":3,"data":{"a":1},"empty":null}"#.into()
                ),
                ("CO_INPUT_MSG".into(), "hello world".into()),
                ("CO_INPUT_COUNT".into(), "3".into()),
                ("CO_INPUT_DATA".into(), r#"{"a":1}"#.into()),
                ("CO_INPUT_EMPTY".into(), "".into()),
                ("CO_RUN_ID".into(), "01J0RUN".into()),
                ("CO_WORKFLOW".into(), "hello".into()),
                ("CO_STAGE".into(), "greet".into()),
                ("CO_ACTION".into(), "say".into()),
                ("CO_ATTEMPT".into(), "2".into()),
                ("CO_WORKSPACE".into(), "/workspace".into()),
            ]
        );
    }

    #[test]
    fn step_env_with_no_inputs_still_has_co_data() {
        let env = step_env(&ctx(), Some(&[]));
        assert_eq!(env[0], ("CO_DATA".to_string(), String::new()));
        assert_eq!(env[1], ("CO_DATA_JSON".to_string(), "{}".to_string()));
        assert_eq!(env.len(), 8);
    }

    #[test]
    fn step_env_for_seed_flows_has_only_context() {
        let env = step_env(&ctx(), None);
        assert_eq!(
            names(&env),
            vec![
                "CO_RUN_ID",
                "CO_WORKFLOW",
                "CO_STAGE",
                "CO_ACTION",
                "CO_ATTEMPT",
                "CO_WORKSPACE"
            ]
        );
        assert!(!env.iter().any(|(k, _)| k == "CO_DATA"));
    }

    #[test]
    fn step_env_merges_colliding_input_names() {
        let inputs = pairs(&[("a-b", json!("1")), ("x", json!("2")), ("a_b", json!("3"))]);
        let env = step_env(&ctx(), Some(&inputs));
        let inputs_env: Vec<_> = env
            .iter()
            .filter(|(k, _)| k.starts_with("CO_INPUT_"))
            .cloned()
            .collect();
        assert_eq!(
            inputs_env,
            vec![
                ("CO_INPUT_A_B".to_string(), "3".to_string()),
                ("CO_INPUT_X".to_string(), "2".to_string())
            ]
        );
    }
}

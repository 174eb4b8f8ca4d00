//! `tests:` in component.yaml: cases run by `containerops component test DIR`.
//!
//! ```yaml
//! tests:
//!   - name: greets by name
//!     inputs: { who: Ada }
//!     workspace: { notes/in.txt: "some text" }   # files written before the step
//!     expect:
//!       exit_code: 0                             # the default
//!       result: true                             # CO_RESULT as printed (true if never)
//!       outputs: { greeting: "Hello, Ada!" }
//!       logs: ["^Hello"]                         # each pattern matches some log line
//! ```

use indexmap::IndexMap;
use serde_json::Value as Json;

use crate::decode::{Cx, Field};
use crate::model::{ComponentTest, TestExpect};
use crate::yaml::{Kind, Value};

/// At most this many cases in one component.
pub const MAX_TEST_CASES: usize = 100;
/// At most this many workspace files in one case.
pub const MAX_FIXTURE_FILES: usize = 50;
/// At most this many bytes in one workspace file written inline.
pub const MAX_FIXTURE_BYTES: usize = 64 * 1024;

const CASE_FIELDS: &[&str] = &["name", "inputs", "workspace", "expect"];
const EXPECT_FIELDS: &[&str] = &["exit_code", "result", "outputs", "logs"];

pub(crate) fn decode(cx: &mut Cx, f: Field<'_>) -> Vec<ComponentTest> {
    let mut out: Vec<ComponentTest> = Vec::new();
    if f.value.is_null() {
        return out;
    }
    let Some(items) = cx.seq(f.value, f.value_pos(), "`tests`") else {
        return out;
    };
    if items.len() > MAX_TEST_CASES {
        cx.error(
            f.value_pos(),
            format!(
                "`tests` has {} cases; at most {MAX_TEST_CASES} are allowed (split the component)",
                items.len()
            ),
        );
        return out;
    }
    for item in items {
        let Some(m) = cx.map(item, item.pos, "a test case") else {
            continue;
        };
        cx.check_keys(&m, CASE_FIELDS, "a test case");
        let Some(name) = cx
            .required(&m, "name", "a test case")
            .and_then(|n| cx.string(n))
        else {
            continue;
        };
        if out.iter().any(|t| t.name == name) {
            cx.error(
                item.pos,
                format!("two test cases are named `{name}`; give each a distinct name"),
            );
            continue;
        }
        let inputs = m
            .get("inputs")
            .filter(|i| !i.value.is_null())
            .and_then(|i| cx.map(i.value, i.value_pos(), "`inputs` of a test case"))
            .map(|i| {
                i.fields()
                    .map(|p| (p.key_text().to_string(), p.value.to_json()))
                    .collect::<IndexMap<_, _>>()
            })
            .unwrap_or_default();
        let workspace = m
            .get("workspace")
            .map(|w| workspace(cx, w))
            .unwrap_or_default();
        let expect = m.get("expect").map(|e| expect(cx, e)).unwrap_or_default();
        out.push(ComponentTest {
            name,
            inputs,
            workspace,
            expect,
            span: cx.span(item.pos),
        });
    }
    out
}

fn workspace(cx: &mut Cx, f: Field<'_>) -> IndexMap<String, String> {
    let mut out = IndexMap::new();
    if f.value.is_null() {
        return out;
    }
    let Some(m) = cx.map(f.value, f.value_pos(), "`workspace` (path: content)") else {
        return out;
    };
    for (n, file) in m.fields().enumerate() {
        if n == MAX_FIXTURE_FILES {
            cx.error(
                file.key.pos,
                format!("at most {MAX_FIXTURE_FILES} workspace files per test case"),
            );
            break;
        }
        let path = file.key_text().to_string();
        let bad = path.is_empty()
            || path.starts_with('/')
            || path
                .split('/')
                .any(|p| p.is_empty() || p == "." || p == "..");
        if bad {
            cx.error(
                file.key.pos,
                format!(
                    "workspace file `{}` must be a relative path inside the workspace, like `src/main.go` (no `..`, no leading `/`)",
                    crate::yaml::shorten(&path)
                ),
            );
            continue;
        }
        let content = match file.value.scalar() {
            Some(s) if s.value() == Value::Null => String::new(),
            Some(s) => s.text.clone(),
            None => {
                cx.error(
                    file.value_pos(),
                    format!(
                        "the content of workspace file `{path}` must be a string, found {}",
                        file.value.describe()
                    ),
                );
                continue;
            }
        };
        if content.len() > MAX_FIXTURE_BYTES {
            cx.error(
                file.value_pos(),
                format!(
                    "workspace file `{path}` has {} bytes; at most {MAX_FIXTURE_BYTES} may be written inline",
                    content.len()
                ),
            );
            continue;
        }
        out.insert(path, content);
    }
    out
}

fn expect(cx: &mut Cx, f: Field<'_>) -> TestExpect {
    let mut e = TestExpect::default();
    if f.value.is_null() {
        return e;
    }
    let Some(m) = cx.map(f.value, f.value_pos(), "`expect`") else {
        return e;
    };
    cx.check_keys(&m, EXPECT_FIELDS, "`expect`");
    if let Some(code) = m.get("exit_code") {
        match code.value.scalar().map(|s| s.value()) {
            Some(Value::Int(i)) if (0..=255).contains(&i) => e.exit_code = i,
            _ => cx.error(
                code.value_pos(),
                format!(
                    "`exit_code` must be a whole number from 0 to 255, found {}",
                    code.value.describe()
                ),
            ),
        }
    }
    if let Some(r) = m.get("result") {
        e.result = cx.bool(r);
    }
    if let Some(o) = m.get("outputs").filter(|o| !o.value.is_null()) {
        if let Some(om) = cx.map(o.value, o.value_pos(), "`expect.outputs`") {
            for p in om.fields() {
                let value: Json = p.value.to_json();
                e.outputs
                    .insert(p.key_text().to_string(), (value, cx.span(p.key.pos)));
            }
        }
    }
    if let Some(l) = m.get("logs").filter(|l| !l.value.is_null()) {
        if matches!(l.value.kind, Kind::Scalar(_)) {
            cx.error(
                l.value_pos(),
                "`logs` must be a list of patterns, like `[\"^built \\\\d+ files$\"]`",
            );
        } else if let Some(items) = cx.string_list(l, false) {
            e.logs = items
                .into_iter()
                .map(|(p, node)| (p, cx.span(node.pos)))
                .collect();
        }
    }
    e
}

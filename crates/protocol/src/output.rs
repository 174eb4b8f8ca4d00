//! Reading `[COUT]` lines and typing the outputs.

use indexmap::IndexMap;
use serde_json::Value;

use crate::{clip, coerce, show_text, Line, Stream, ValueType, MAX_VALUE_BYTES};

/// Most output keys one step may set; a new key beyond them is not kept and fails the step.
pub const MAX_OUTPUT_KEYS: usize = 1000;

/// Most bytes of outputs (keys plus values) one step may hold at once (4 MiB); a value that would
/// go over is not kept and fails the step.
pub const MAX_OUTPUTS_BYTES: usize = 4 * 1024 * 1024;

/// Most protocol problems reported one by one; the rest are counted in one last line.
pub const MAX_REPORTED_ERRORS: usize = 10;

/// What a component reported through `[COUT]` lines.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Collected {
    /// Raw output values in first-assignment order (a later assignment wins).
    pub outputs: IndexMap<String, String>,
    /// `CO_RESULT`, if printed (the last one wins).
    pub verdict: Option<bool>,
    /// Protocol violations that fail the step (value over 1 MiB, unterminated heredoc, bad
    /// CO_RESULT, too many or too large outputs): at most [`MAX_REPORTED_ERRORS`] of them, then
    /// one line that counts the rest.
    pub errors: Vec<String>,
}

/// Outputs that were not kept because a per-step limit was reached.
#[derive(Debug, Default)]
struct Refused {
    /// How many assignments were refused, their bytes, and the first key refused.
    count: usize,
    bytes: usize,
    first: Option<String>,
}

impl Refused {
    fn add(&mut self, key: &str, bytes: usize) {
        self.count += 1;
        self.bytes = self.bytes.saturating_add(bytes);
        if self.first.is_none() {
            self.first = Some(clip(key, 80));
        }
    }
}

/// The key of the verdict (matched case-sensitively).
const CO_RESULT: &str = "CO_RESULT";

/// An open `[COUT] KEY<<DELIM` value.
#[derive(Debug)]
struct Heredoc {
    key: String,
    delim: String,
    /// The value so far; emptied (and no longer filled) once `size` is over the cap.
    value: String,
    /// Size in bytes of the whole value so far (lines, truncated bytes and joining `\n`s).
    size: usize,
    lines: usize,
    /// Whether a line of the value was cut by the line splitter (then the value is over the cap).
    cut: bool,
}

/// Reads `[COUT]` lines from both streams (each stream has its own heredoc state).
///
/// The rules (SPEC §1), for a line that starts with `[COUT]` exactly at its start:
///
/// 1. `[COUT] KEY<<DELIM` (spaces around `<<` optional; DELIM a non-empty run of non-space chars
///    without `=`) starts a multi-line value: the following lines *of the same stream* up to a
///    line that is exactly DELIM (not included), joined with `\n`. While it is open, every line of
///    that stream is part of the value (also `[COUT]` lines); the other stream is read as usual.
/// 2. Otherwise, if the line contains `=`: KEY is the text before the first `=`, trimmed, and
///    VALUE the rest, trimmed. If KEY does not match `[A-Za-z_][A-Za-z0-9_.-]*` the line is an
///    ordinary log line.
/// 3. Any other `[COUT]` line is an ordinary log line.
///
/// `CO_RESULT` (case-sensitive key; value `true`/`false` in any case) sets the verdict and is not
/// an output; any other value is an error. A later assignment of a key wins (the key keeps its
/// first position). A value over [`MAX_VALUE_BYTES`] is an error and is not kept (an earlier
/// value of the same key is dropped too, so no stale value is reported); a line that was cut by
/// the [`crate::LineSplitter`] is over the cap by definition. An open heredoc at [`finish`] is an
/// error.
///
/// [`finish`]: OutputCollector::finish
#[derive(Debug, Default)]
pub struct OutputCollector {
    heredocs: [Option<Heredoc>; 2],
    collected: Collected,
    /// Bytes of the kept outputs (keys plus values).
    kept_bytes: usize,
    /// Problems beyond [`MAX_REPORTED_ERRORS`].
    unreported_errors: usize,
    /// Assignments refused by [`MAX_OUTPUT_KEYS`] and by [`MAX_OUTPUTS_BYTES`].
    over_keys: Refused,
    over_bytes: Refused,
}

/// Whether `key` matches `[A-Za-z_][A-Za-z0-9_.-]*`.
fn is_key(key: &str) -> bool {
    let mut chars = key.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// Length of the longest prefix of `text` that matches the key pattern (0 if none).
fn key_prefix_len(text: &str) -> usize {
    let mut len = 0;
    for (i, c) in text.char_indices() {
        let ok = if i == 0 {
            c.is_ascii_alphabetic() || c == '_'
        } else {
            c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
        };
        if !ok {
            break;
        }
        len = i + c.len_utf8();
    }
    len
}

/// Parses the text after `[COUT]` as `KEY<<DELIM`.
fn parse_heredoc_start(rest: &str) -> Option<(&str, &str)> {
    let spaces: &[char] = &[' ', '\t'];
    let text = rest.trim_start_matches(spaces);
    let key_len = key_prefix_len(text);
    if key_len == 0 {
        return None;
    }
    let (key, after) = text.split_at(key_len);
    let delim = after
        .trim_start_matches(spaces)
        .strip_prefix("<<")?
        .trim_matches(spaces);
    if delim.is_empty() || delim.contains(|c: char| c.is_whitespace() || c == '=') {
        return None;
    }
    Some((key, delim))
}

fn index(stream: Stream) -> usize {
    match stream {
        Stream::Stdout => 0,
        Stream::Stderr => 1,
    }
}

impl OutputCollector {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feed one line (every line is also an ordinary log line; this only extracts outputs).
    pub fn feed(&mut self, line: &Line) {
        let slot = index(line.stream);
        if let Some(open) = self.heredocs.get_mut(slot).and_then(Option::as_mut) {
            if line.truncated_bytes == 0 && line.text == open.delim {
                if let Some(done) = self.heredocs.get_mut(slot).and_then(Option::take) {
                    let over = done.cut || done.size > MAX_VALUE_BYTES;
                    self.assign(&done.key, &done.value, done.size, over);
                }
            } else {
                let join = usize::from(open.lines > 0);
                open.size = open
                    .size
                    .saturating_add(join + line.text.len() + line.truncated_bytes);
                open.lines += 1;
                open.cut |= line.truncated_bytes > 0;
                if open.size <= MAX_VALUE_BYTES && !open.cut {
                    if join == 1 {
                        open.value.push('\n');
                    }
                    open.value.push_str(&line.text);
                } else if open.value.capacity() > 0 {
                    open.value = String::new();
                }
            }
            return;
        }
        let Some(rest) = line.text.strip_prefix("[COUT]") else {
            return;
        };
        if line.truncated_bytes == 0 {
            if let Some((key, delim)) = parse_heredoc_start(rest) {
                if let Some(slot) = self.heredocs.get_mut(slot) {
                    *slot = Some(Heredoc {
                        key: key.to_string(),
                        delim: delim.to_string(),
                        value: String::new(),
                        size: 0,
                        lines: 0,
                        cut: false,
                    });
                }
                return;
            }
        }
        let Some((key, value)) = rest.split_once('=') else {
            return;
        };
        let key = key.trim();
        if !is_key(key) {
            return;
        }
        let value = value.trim();
        let size = value.len().saturating_add(line.truncated_bytes);
        // A cut line is over the cap by definition (it is longer than MAX_LINE_BYTES).
        let over = line.truncated_bytes > 0 || size > MAX_VALUE_BYTES;
        self.assign(key, value, size, over);
    }

    /// Records `KEY = value`, whose full size is `size` bytes; `over` says it is over the cap
    /// (then `value` is incomplete and is not kept).
    fn assign(&mut self, key: &str, value: &str, size: usize, over: bool) {
        if key == CO_RESULT {
            let value = value.trim();
            if over {
                self.error(format!(
                    "CO_RESULT must be true or false, got a value of {size} bytes"
                ));
            } else if value.eq_ignore_ascii_case("true") {
                self.collected.verdict = Some(true);
            } else if value.eq_ignore_ascii_case("false") {
                self.collected.verdict = Some(false);
            } else {
                self.error(format!(
                    "CO_RESULT must be true or false, got {}",
                    show_text(value)
                ));
            }
            return;
        }
        // The key's current value (a later assignment replaces it in place).
        let old = self
            .collected
            .outputs
            .get(key)
            .map_or(0, |v| key.len() + v.len());
        let refused = if over {
            self.error(format!(
                "output {} is larger than 1 MiB ({size} bytes)",
                clip(key, 80)
            ));
            true
        } else if old == 0 && self.collected.outputs.len() >= MAX_OUTPUT_KEYS {
            self.over_keys.add(key, key.len() + size);
            true
        } else if (self.kept_bytes - old).saturating_add(key.len() + size) > MAX_OUTPUTS_BYTES {
            self.over_bytes.add(key, key.len() + size);
            true
        } else {
            false
        };
        if refused {
            // No stale value is reported either.
            if self.collected.outputs.shift_remove(key).is_some() {
                self.kept_bytes -= old;
            }
            return;
        }
        self.kept_bytes = self.kept_bytes - old + key.len() + size;
        match self.collected.outputs.get_mut(key) {
            Some(slot) => value.clone_into(slot),
            None => {
                self.collected
                    .outputs
                    .insert(key.to_string(), value.to_string());
            }
        }
    }

    /// Report one problem (up to [`MAX_REPORTED_ERRORS`]; the rest are counted).
    fn error(&mut self, message: String) {
        if self.collected.errors.len() < MAX_REPORTED_ERRORS {
            self.collected.errors.push(message);
        } else {
            self.unreported_errors += 1;
        }
    }

    /// End of output.
    pub fn finish(mut self) -> Collected {
        let open: Vec<Heredoc> = self.heredocs.iter_mut().filter_map(Option::take).collect();
        for open in open {
            self.error(format!(
                "output {}: the multi-line value started with \"<<{}\" has no closing line \"{}\" \
                 before the end of the output",
                clip(&open.key, 80),
                clip(&open.delim, 80),
                clip(&open.delim, 80)
            ));
        }
        let over_keys = std::mem::take(&mut self.over_keys);
        if let Some(first) = &over_keys.first {
            self.error(format!(
                "too many outputs: a step may set at most {MAX_OUTPUT_KEYS} keys; {} more \
                 assignment(s) were not kept (the first: {first})",
                over_keys.count
            ));
        }
        let over_bytes = std::mem::take(&mut self.over_bytes);
        if let Some(first) = &over_bytes.first {
            self.error(format!(
                "outputs too large: a step's outputs may hold at most 4 MiB (keys and values); \
                 {} more assignment(s) of {} bytes in all were not kept (the first: {first})",
                over_bytes.count, over_bytes.bytes
            ));
        }
        if self.unreported_errors > 0 {
            self.collected.errors.push(format!(
                "… and {} more problem(s) with [COUT] lines",
                self.unreported_errors
            ));
        }
        self.collected
    }
}

/// A declared output (from `component.yaml`).
#[derive(Debug, Clone, PartialEq)]
pub struct OutputDecl {
    pub ty: ValueType,
    pub required: bool,
}

/// Turn raw outputs into typed JSON values. With no declarations every key is kept as a string;
/// with declarations only declared keys are kept, each type-checked, and missing required ones are
/// errors. Returns the typed outputs and the list of problems (empty when all is well).
///
/// With declarations the result is in declaration order. A value is converted with [`coerce`]
/// (`int`, `float`, `bool` from their trimmed text, `json` parsed; `string` and `secret` stay
/// strings); problems read `output count: expected int, got "abc"` and
/// `required output result was not printed`.
pub fn typed_outputs(
    raw: &IndexMap<String, String>,
    declared: &IndexMap<String, OutputDecl>,
) -> (IndexMap<String, Value>, Vec<String>) {
    if declared.is_empty() {
        let all = raw
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        return (all, Vec::new());
    }
    let mut typed = IndexMap::new();
    let mut errors = Vec::new();
    for (name, decl) in declared {
        match raw.get(name) {
            Some(text) => match coerce(&Value::String(text.clone()), decl.ty) {
                Ok(value) => {
                    typed.insert(name.clone(), value);
                }
                Err(e) => errors.push(format!("output {name}: {e}")),
            },
            None if decl.required => {
                errors.push(format!("required output {name} was not printed"));
            }
            None => {}
        }
    }
    (typed, errors)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LineSplitter;
    use serde_json::json;
    use Stream::{Stderr as E, Stdout as O};

    fn l(stream: Stream, text: &str) -> Line {
        Line {
            stream,
            text: text.to_string(),
            truncated_bytes: 0,
        }
    }

    fn collect(lines: &[Line]) -> Collected {
        let mut c = OutputCollector::new();
        for line in lines {
            c.feed(line);
        }
        c.finish()
    }

    fn stdout(texts: &[&str]) -> Collected {
        collect(&texts.iter().map(|t| l(O, t)).collect::<Vec<_>>())
    }

    fn outputs(c: &Collected) -> Vec<(&str, &str)> {
        c.outputs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    #[test]
    fn single_line_forms_table() {
        let cases: &[(&str, Option<(&str, &str)>)] = &[
            ("[COUT] KEY = VALUE", Some(("KEY", "VALUE"))),
            ("[COUT] KEY=VALUE", Some(("KEY", "VALUE"))),
            ("[COUT]KEY=VALUE", Some(("KEY", "VALUE"))),
            (
                "[COUT]   KEY   =   spaced value  ",
                Some(("KEY", "spaced value")),
            ),
            ("[COUT] k=a=b", Some(("k", "a=b"))),
            ("[COUT] k = = x", Some(("k", "= x"))),
            ("[COUT] k=", Some(("k", ""))),
            ("[COUT] k =   ", Some(("k", ""))),
            ("[COUT] _private=1", Some(("_private", "1"))),
            ("[COUT] image-tag=v1", Some(("image-tag", "v1"))),
            ("[COUT] a.b.c=v", Some(("a.b.c", "v"))),
            ("[COUT] K9=v", Some(("K9", "v"))),
            ("[COUT] co_result=maybe", Some(("co_result", "maybe"))),
            ("[COUT] k=tab\tinside", Some(("k", "tab\tinside"))),
            ("[COUT] k=\t padded\t", Some(("k", "padded"))),
            ("[COUT] k=ünï", Some(("k", "ünï"))),
            // keys that do not match: ordinary log lines
            ("[COUT] 9k=v", None),
            ("[COUT] -k=v", None),
            ("[COUT] .k=v", None),
            ("[COUT] my key=v", None),
            ("[COUT] ké=v", None),
            ("[COUT] =v", None),
            ("[COUT] k$=v", None),
            ("[COUT] k<<EOF=x", None),
            // no "=": ordinary log lines
            ("[COUT] just a message", None),
            ("[COUT]", None),
            ("[COUT] KEY", None),
            ("[COUT] KEY<<", None),
            ("[COUT] KEY<<A B", None),
            ("[COUT] <<EOF", None),
            // [COUT] not at the very start
            (" [COUT] k=v", None),
            ("x[COUT] k=v", None),
            ("[cout] k=v", None),
            ("[COUT ] k=v", None),
            ("k=v", None),
        ];
        for (text, want) in cases {
            let c = stdout(&[text]);
            assert_eq!(c.errors, Vec::<String>::new(), "{text:?}");
            assert_eq!(c.verdict, None, "{text:?}");
            match want {
                Some(kv) => assert_eq!(outputs(&c), vec![*kv], "{text:?}"),
                None => assert!(c.outputs.is_empty(), "{text:?}: {:?}", c.outputs),
            }
        }
    }

    #[test]
    fn both_streams_count() {
        let c = collect(&[l(O, "[COUT] a=1"), l(E, "[COUT] b = 2"), l(O, "log")]);
        assert_eq!(outputs(&c), vec![("a", "1"), ("b", "2")]);
    }

    #[test]
    fn later_assignment_wins_and_keeps_first_position() {
        let c = collect(&[
            l(O, "[COUT] a=1"),
            l(E, "[COUT] b=2"),
            l(E, "[COUT] a=3"),
            l(O, "[COUT] b=4"),
        ]);
        assert_eq!(outputs(&c), vec![("a", "3"), ("b", "4")]);
    }

    #[test]
    fn co_result_variants() {
        let cases: &[(&str, Option<bool>, Option<&str>)] = &[
            ("[COUT] CO_RESULT = true", Some(true), None),
            ("[COUT] CO_RESULT=false", Some(false), None),
            ("[COUT] CO_RESULT=TRUE", Some(true), None),
            ("[COUT] CO_RESULT = False ", Some(false), None),
            ("[COUT]CO_RESULT=fAlSe", Some(false), None),
            (
                "[COUT] CO_RESULT = maybe",
                None,
                Some("CO_RESULT must be true or false, got \"maybe\""),
            ),
            (
                "[COUT] CO_RESULT =",
                None,
                Some("CO_RESULT must be true or false, got \"\""),
            ),
            (
                "[COUT] CO_RESULT = 1",
                None,
                Some("CO_RESULT must be true or false, got \"1\""),
            ),
            (
                "[COUT] CO_RESULT = true false",
                None,
                Some("CO_RESULT must be true or false, got \"true false\""),
            ),
        ];
        for (text, verdict, error) in cases {
            let c = stdout(&[text]);
            assert_eq!(c.verdict, *verdict, "{text:?}");
            assert_eq!(
                c.errors,
                error.iter().map(|e| e.to_string()).collect::<Vec<_>>(),
                "{text:?}"
            );
            assert!(c.outputs.is_empty(), "CO_RESULT is not an output: {text:?}");
        }
    }

    #[test]
    fn co_result_key_is_case_sensitive() {
        let c = stdout(&["[COUT] co_result=false", "[COUT] Co_Result=false"]);
        assert_eq!(c.verdict, None);
        assert_eq!(
            outputs(&c),
            vec![("co_result", "false"), ("Co_Result", "false")]
        );
    }

    #[test]
    fn last_co_result_wins() {
        let c = collect(&[
            l(O, "[COUT] CO_RESULT=false"),
            l(E, "[COUT] CO_RESULT=true"),
        ]);
        assert_eq!(c.verdict, Some(true));
        let c = stdout(&["[COUT] CO_RESULT=true", "[COUT] CO_RESULT=false"]);
        assert_eq!(c.verdict, Some(false));
    }

    #[test]
    fn heredoc_basic_forms() {
        for start in [
            "[COUT] body<<EOF",
            "[COUT] body << EOF",
            "[COUT]body<<EOF",
            "[COUT] body<<EOF  ",
            "[COUT]  body  <<  EOF",
        ] {
            let c = stdout(&[start, "line 1", "", "  line 3  ", "EOF", "after"]);
            assert_eq!(c.errors, Vec::<String>::new(), "{start:?}");
            assert_eq!(
                outputs(&c),
                vec![("body", "line 1\n\n  line 3  ")],
                "{start:?}"
            );
        }
    }

    #[test]
    fn heredoc_edge_values() {
        // empty value
        assert_eq!(outputs(&stdout(&["[COUT] k<<END", "END"])), vec![("k", "")]);
        // one empty line
        assert_eq!(
            outputs(&stdout(&["[COUT] k<<END", "", "END"])),
            vec![("k", "")]
        );
        // two empty lines
        assert_eq!(
            outputs(&stdout(&["[COUT] k<<END", "", "", "END"])),
            vec![("k", "\n")]
        );
        // lines that only look like the delimiter or like [COUT] lines are part of the value
        let c = stdout(&[
            "[COUT] k<<END",
            " END",
            "END ",
            "end",
            "[COUT] other=1",
            "[COUT] CO_RESULT=false",
            "END",
        ]);
        assert_eq!(
            outputs(&c),
            vec![(
                "k",
                " END\nEND \nend\n[COUT] other=1\n[COUT] CO_RESULT=false"
            )]
        );
        assert_eq!(c.verdict, None);
        // delimiters with punctuation
        assert_eq!(
            outputs(&stdout(&["[COUT] k<<'--x--'", "v", "'--x--'"])),
            vec![("k", "v")]
        );
    }

    #[test]
    fn heredoc_later_assignment_wins() {
        let c = stdout(&["[COUT] k=1", "[COUT] j=2", "[COUT] k<<E", "a", "b", "E"]);
        assert_eq!(outputs(&c), vec![("k", "a\nb"), ("j", "2")]);
        let c = stdout(&["[COUT] k<<E", "a", "E", "[COUT] k = single"]);
        assert_eq!(outputs(&c), vec![("k", "single")]);
    }

    #[test]
    fn heredoc_belongs_to_its_stream() {
        let c = collect(&[
            l(O, "[COUT] doc<<EOF"),
            l(O, "out 1"),
            l(E, "EOF"), // the other stream's line does not close it
            l(E, "[COUT] side = effect"),
            l(O, "out 2"),
            l(O, "EOF"),
        ]);
        assert_eq!(c.errors, Vec::<String>::new());
        assert_eq!(
            outputs(&c),
            vec![("side", "effect"), ("doc", "out 1\nout 2")]
        );
    }

    #[test]
    fn heredocs_on_both_streams_at_once() {
        let c = collect(&[
            l(O, "[COUT] a<<X"),
            l(E, "[COUT] b<<X"),
            l(O, "a1"),
            l(E, "b1"),
            l(E, "X"),
            l(O, "a2"),
            l(O, "X"),
        ]);
        assert_eq!(c.errors, Vec::<String>::new());
        assert_eq!(outputs(&c), vec![("b", "b1"), ("a", "a1\na2")]);
    }

    #[test]
    fn co_result_heredoc_sets_the_verdict() {
        let c = stdout(&["[COUT] CO_RESULT<<E", "False", "E"]);
        assert_eq!(c.verdict, Some(false));
        assert!(c.outputs.is_empty());
        let c = stdout(&["[COUT] CO_RESULT<<E", "true", "x", "E"]);
        assert_eq!(c.verdict, None);
        assert_eq!(
            c.errors,
            vec!["CO_RESULT must be true or false, got \"true\\nx\"".to_string()]
        );
    }

    #[test]
    fn unterminated_heredoc_is_an_error_naming_key_and_delimiter() {
        let c = collect(&[
            l(O, "[COUT] notes<<THE_END"),
            l(O, "text"),
            l(E, "[COUT] errs<<Z"),
        ]);
        assert!(c.outputs.is_empty());
        assert_eq!(
            c.errors,
            vec![
                "output notes: the multi-line value started with \"<<THE_END\" has no closing \
                 line \"THE_END\" before the end of the output"
                    .to_string(),
                "output errs: the multi-line value started with \"<<Z\" has no closing line \
                 \"Z\" before the end of the output"
                    .to_string(),
            ]
        );
    }

    fn assign_line(key: &str, value_len: usize) -> Line {
        l(O, &format!("[COUT] {key}={}", "v".repeat(value_len)))
    }

    #[test]
    fn single_line_value_exactly_at_the_cap_is_kept() {
        let c = collect(&[assign_line("big", MAX_VALUE_BYTES)]);
        assert_eq!(c.errors, Vec::<String>::new());
        assert_eq!(c.outputs["big"].len(), MAX_VALUE_BYTES);
    }

    #[test]
    fn single_line_value_one_byte_over_the_cap_is_an_error() {
        let c = collect(&[assign_line("big", MAX_VALUE_BYTES + 1)]);
        assert_eq!(
            c.errors,
            vec![format!(
                "output big is larger than 1 MiB ({} bytes)",
                MAX_VALUE_BYTES + 1
            )]
        );
        assert!(c.outputs.is_empty());
    }

    #[test]
    fn oversized_value_drops_an_earlier_value_of_the_key() {
        let c = collect(&[
            l(O, "[COUT] big=small"),
            l(O, "[COUT] other=1"),
            assign_line("big", MAX_VALUE_BYTES + 1),
        ]);
        assert_eq!(outputs(&c), vec![("other", "1")]);
        assert_eq!(c.errors.len(), 1);
    }

    #[test]
    fn truncated_assignment_line_is_over_the_cap() {
        let mut line = assign_line("cut", MAX_VALUE_BYTES - 10);
        line.truncated_bytes = 20;
        let c = collect(&[line]);
        assert_eq!(
            c.errors,
            vec![format!(
                "output cut is larger than 1 MiB ({} bytes)",
                MAX_VALUE_BYTES + 10
            )]
        );
        assert!(c.outputs.is_empty());
        // by definition, even if the counted value is not over (a key of thousands of bytes)
        let mut line = assign_line("cut", 100);
        line.truncated_bytes = 7;
        let c = collect(&[line]);
        assert_eq!(
            c.errors,
            vec!["output cut is larger than 1 MiB (107 bytes)".to_string()]
        );
        assert!(c.outputs.is_empty());
        // a truncated [COUT] line without "=" stays a log line
        let mut line = l(O, "[COUT] k<<EOF");
        line.truncated_bytes = 5;
        let c = collect(&[line, l(O, "EOF")]);
        assert_eq!(c, Collected::default());
    }

    #[test]
    fn heredoc_exactly_at_the_cap_is_kept() {
        let half = MAX_VALUE_BYTES / 2;
        // two lines joined by "\n": half + 1 + (half - 1) == MAX_VALUE_BYTES
        let c = collect(&[
            l(O, "[COUT] doc<<EOF"),
            l(O, &"a".repeat(half)),
            l(O, &"b".repeat(half - 1)),
            l(O, "EOF"),
        ]);
        assert_eq!(c.errors, Vec::<String>::new());
        assert_eq!(c.outputs["doc"].len(), MAX_VALUE_BYTES);
    }

    #[test]
    fn heredoc_one_byte_over_the_cap_is_an_error() {
        let half = MAX_VALUE_BYTES / 2;
        let c = collect(&[
            l(O, "[COUT] doc<<EOF"),
            l(O, &"a".repeat(half)),
            l(O, &"b".repeat(half)),
            l(O, "EOF"),
            l(O, "[COUT] after=1"),
        ]);
        assert_eq!(
            c.errors,
            vec![format!(
                "output doc is larger than 1 MiB ({} bytes)",
                MAX_VALUE_BYTES + 1
            )]
        );
        assert_eq!(outputs(&c), vec![("after", "1")]);
    }

    #[test]
    fn huge_heredoc_keeps_counting_with_bounded_memory() {
        let mut c = OutputCollector::new();
        c.feed(&l(O, "[COUT] doc<<EOF"));
        let line = l(O, &"z".repeat(64 * 1024));
        let n = 100; // 6.4 MiB
        for _ in 0..n {
            c.feed(&line);
            let open = c.heredocs[0].as_ref().unwrap();
            assert!(open.value.capacity() <= 2 * MAX_VALUE_BYTES);
        }
        let mut cut = l(O, "tail");
        cut.truncated_bytes = 1000;
        c.feed(&cut);
        c.feed(&l(O, "EOF"));
        let got = c.finish();
        let size = n * (64 * 1024) + (n - 1) + 1 + 4 + 1000;
        assert_eq!(
            got.errors,
            vec![format!("output doc is larger than 1 MiB ({size} bytes)")]
        );
        assert!(got.outputs.is_empty());
    }

    #[test]
    fn truncated_delimiter_line_does_not_close_a_heredoc() {
        let mut cut = l(O, "EOF");
        cut.truncated_bytes = 1;
        let c = collect(&[l(O, "[COUT] k<<EOF"), cut, l(O, "EOF")]);
        assert_eq!(c.errors.len(), 1, "{:?}", c.errors);
        assert!(c.errors[0].starts_with("output k is larger than 1 MiB"));
    }

    #[test]
    fn works_with_the_line_splitter_and_crlf() {
        let mut splitter = LineSplitter::new();
        let mut collector = OutputCollector::new();
        let input: &[(Stream, &[u8])] = &[
            (O, b"[COUT] a = 1\r\n[COUT] doc<<EOF\r\nx\r\n"),
            (E, b"[COUT] b=2\nEOF\n"),
            (O, b"y\r\nEOF\r\n[COUT] CO_RESULT = true"),
        ];
        for (stream, chunk) in input {
            splitter.push(*stream, chunk, &mut |line| collector.feed(&line));
        }
        splitter.finish(&mut |line| collector.feed(&line));
        let c = collector.finish();
        assert_eq!(c.errors, Vec::<String>::new());
        assert_eq!(c.verdict, Some(true));
        assert_eq!(outputs(&c), vec![("a", "1"), ("b", "2"), ("doc", "x\ny")]);
    }

    #[test]
    fn huge_line_through_the_splitter_is_reported_not_kept() {
        let mut splitter = LineSplitter::new();
        let mut collector = OutputCollector::new();
        splitter.push(O, b"[COUT] big = ", &mut |line| collector.feed(&line));
        let chunk = vec![b'q'; 256 * 1024];
        for _ in 0..12 {
            splitter.push(O, &chunk, &mut |line| collector.feed(&line));
        }
        splitter.push(O, b"\n[COUT] small = ok\n", &mut |line| {
            collector.feed(&line)
        });
        let c = collector.finish();
        assert_eq!(
            c.errors,
            vec![format!(
                "output big is larger than 1 MiB ({} bytes)",
                12 * 256 * 1024
            )]
        );
        assert_eq!(outputs(&c), vec![("small", "ok")]);
    }

    fn decls(items: &[(&str, ValueType, bool)]) -> IndexMap<String, OutputDecl> {
        items
            .iter()
            .map(|(k, ty, required)| {
                (
                    k.to_string(),
                    OutputDecl {
                        ty: *ty,
                        required: *required,
                    },
                )
            })
            .collect()
    }

    fn raw(items: &[(&str, &str)]) -> IndexMap<String, String> {
        items
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn typed_outputs_without_declarations_keep_every_key_as_string() {
        let (typed, errors) = typed_outputs(&raw(&[("b", "3"), ("a", "true")]), &IndexMap::new());
        assert!(errors.is_empty());
        assert_eq!(
            typed.into_iter().collect::<Vec<_>>(),
            vec![
                ("b".to_string(), json!("3")),
                ("a".to_string(), json!("true"))
            ]
        );
    }

    #[test]
    fn typed_outputs_convert_declared_types() {
        let (typed, errors) = typed_outputs(
            &raw(&[
                ("extra", "dropped"),
                ("count", " 42 "),
                ("ratio", "0.5"),
                ("ok", "TRUE"),
                ("data", "{\"a\":[1,2]}"),
                ("name", "  kept as is "),
                ("token", "s3cr3t"),
            ]),
            &decls(&[
                ("count", ValueType::Int, true),
                ("ratio", ValueType::Float, false),
                ("ok", ValueType::Bool, false),
                ("data", ValueType::Json, false),
                ("name", ValueType::String, false),
                ("token", ValueType::Secret, false),
                ("optional", ValueType::Int, false),
            ]),
        );
        assert_eq!(errors, Vec::<String>::new());
        assert_eq!(
            serde_json::to_value(&typed).unwrap(),
            json!({"count": 42, "ratio": 0.5, "ok": true, "data": {"a": [1, 2]},
                   "name": "  kept as is ", "token": "s3cr3t"})
        );
        assert_eq!(
            typed.keys().collect::<Vec<_>>(),
            vec!["count", "ratio", "ok", "data", "name", "token"]
        );
    }

    #[test]
    fn typed_outputs_report_type_errors_and_missing_required() {
        let (typed, errors) = typed_outputs(
            &raw(&[
                ("count", "abc"),
                ("ok", "yes"),
                ("data", "{oops"),
                ("ratio", "x"),
            ]),
            &decls(&[
                ("count", ValueType::Int, false),
                ("ok", ValueType::Bool, false),
                ("data", ValueType::Json, false),
                ("ratio", ValueType::Float, false),
                ("result", ValueType::String, true),
                ("maybe", ValueType::String, false),
            ]),
        );
        assert!(typed.is_empty());
        assert_eq!(errors.len(), 5, "{errors:?}");
        assert_eq!(errors[0], "output count: expected int, got \"abc\"");
        assert_eq!(errors[1], "output ok: expected bool, got \"yes\"");
        assert!(
            errors[2].starts_with("output data: expected json, got \"{oops\" ("),
            "{}",
            errors[2]
        );
        assert_eq!(errors[3], "output ratio: expected float, got \"x\"");
        assert_eq!(errors[4], "required output result was not printed");
    }

    #[test]
    fn bad_co_result_lines_are_reported_up_to_the_limit_then_counted() {
        let lines: Vec<String> = (0..200_000)
            .map(|i| format!("[COUT] CO_RESULT = maybe{i}"))
            .collect();
        let c = stdout(&lines.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(c.errors.len(), MAX_REPORTED_ERRORS + 1);
        assert_eq!(
            c.errors[0],
            "CO_RESULT must be true or false, got \"maybe0\""
        );
        assert_eq!(
            c.errors[MAX_REPORTED_ERRORS],
            format!(
                "… and {} more problem(s) with [COUT] lines",
                200_000 - MAX_REPORTED_ERRORS
            )
        );
        assert!(c.errors.iter().map(String::len).sum::<usize>() < 2000);
    }

    #[test]
    fn new_keys_beyond_the_key_limit_are_refused_and_reported_once() {
        let mut c = OutputCollector::new();
        for i in 0..MAX_OUTPUT_KEYS + 500 {
            c.feed(&l(O, &format!("[COUT] k{i} = v")));
        }
        // An existing key can still be assigned.
        c.feed(&l(O, "[COUT] k0 = again"));
        let c = c.finish();
        assert_eq!(c.outputs.len(), MAX_OUTPUT_KEYS);
        assert_eq!(c.outputs["k0"], "again");
        assert_eq!(c.outputs.get_index(0).map(|(k, _)| k.as_str()), Some("k0"));
        assert!(!c.outputs.contains_key(&format!("k{MAX_OUTPUT_KEYS}")));
        assert_eq!(
            c.errors,
            vec![format!(
                "too many outputs: a step may set at most {MAX_OUTPUT_KEYS} keys; 500 more \
                 assignment(s) were not kept (the first: k{MAX_OUTPUT_KEYS})"
            )]
        );
    }

    #[test]
    fn outputs_beyond_the_total_size_are_refused_and_reported_once() {
        let value = "x".repeat(MAX_VALUE_BYTES - 10);
        let mut c = OutputCollector::new();
        // Five values of almost 1 MiB: the fifth would pass 4 MiB; 200 more are refused too.
        for i in 0..205 {
            c.feed(&l(O, &format!("[COUT] big{i} = {value}")));
        }
        // A smaller value still fits.
        c.feed(&l(O, "[COUT] small = 1"));
        let c = c.finish();
        let kept: usize = c.outputs.iter().map(|(k, v)| k.len() + v.len()).sum();
        assert!(kept <= MAX_OUTPUTS_BYTES, "{kept}");
        assert_eq!(c.outputs.len(), 5, "{:?}", c.outputs.keys());
        assert_eq!(c.outputs["small"], "1");
        assert_eq!(c.errors.len(), 1, "{:?}", c.errors);
        assert_eq!(
            c.errors[0],
            format!(
                "outputs too large: a step's outputs may hold at most 4 MiB (keys and values); \
                 201 more assignment(s) of {} bytes in all were not kept (the first: big4)",
                (4..205)
                    .map(|i| format!("big{i}").len() + value.len())
                    .sum::<usize>()
            )
        );
    }

    #[test]
    fn replacing_a_value_frees_its_room_and_a_refused_replacement_drops_the_old_value() {
        let value = "x".repeat(838_000);
        let mut c = OutputCollector::new();
        for i in 0..5 {
            c.feed(&l(O, &format!("[COUT] big{i} = {value}")));
        }
        // Replacing big0 with a short value frees its room for big5.
        c.feed(&l(O, "[COUT] big0 = short"));
        c.feed(&l(O, &format!("[COUT] big5 = {value}")));
        // Now full: a larger big1 is refused, and its old value goes too (no stale value).
        c.feed(&l(
            O,
            &format!("[COUT] big1 = {value}{}", "y".repeat(10_000)),
        ));
        let c = c.finish();
        assert_eq!(
            c.outputs.keys().collect::<Vec<_>>(),
            ["big0", "big2", "big3", "big4", "big5"]
        );
        assert_eq!(c.errors.len(), 1, "{:?}", c.errors);
        assert!(c.errors[0].contains("(the first: big1)"), "{:?}", c.errors);
    }

    #[test]
    fn key_pattern() {
        for k in ["a", "_", "A_b.c-d9", "__init__", "x-"] {
            assert!(is_key(k), "{k}");
        }
        for k in ["", "9", "-a", ".a", "a b", "a=b", "ä", "a/b", "a:b"] {
            assert!(!is_key(k), "{k}");
        }
    }
}

//! A small YAML document tree with positions, built from `saphyr-parser` events.
//!
//! - Every node knows its 1-based line and column (columns count characters) and its character
//!   index in the source, so later layers can point at the exact token.
//! - Plain scalars resolve with the YAML 1.2 core schema (null, bool, int, float, string); quoted
//!   and block scalars are always strings; `!!str` forces a string.
//! - Aliases are resolved by copying the anchored node (bounded: a document may not expand to
//!   more than [`MAX_ALIAS_NODES`] copied nodes, which stops "billion laughs" inputs). Merge keys
//!   (`<<: *defaults`) are supported: explicitly written keys win over merged ones.
//! - Duplicate mapping keys are reported at the second key. Only one document per file.
//! - Problems are collected, never thrown; a syntax error stops the build (the events after it
//!   are not trustworthy) and is reported at the position the parser gives.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span as YSpan, Tag};

/// Most nodes that alias expansion may copy in one document.
pub(crate) const MAX_ALIAS_NODES: usize = 100_000;
/// Deepest nesting of collections accepted (deeper input is rejected, never overflows the stack).
pub(crate) const MAX_DEPTH: usize = 200;

/// A position in the source: 1-based line and column, and the 0-based character index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub(crate) struct Pos {
    pub line: u32,
    pub col: u32,
    pub index: usize,
}

impl Pos {
    fn from_marker(m: &saphyr_parser::Marker) -> Pos {
        Pos {
            line: u32::try_from(m.line()).unwrap_or(u32::MAX).max(1),
            col: u32::try_from(m.col())
                .unwrap_or(u32::MAX - 1)
                .saturating_add(1),
            index: m.index(),
        }
    }
}

/// How a scalar was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    Literal,
    Folded,
}

impl From<ScalarStyle> for Style {
    fn from(s: ScalarStyle) -> Style {
        match s {
            ScalarStyle::Plain => Style::Plain,
            ScalarStyle::SingleQuoted => Style::SingleQuoted,
            ScalarStyle::DoubleQuoted => Style::DoubleQuoted,
            ScalarStyle::Literal => Style::Literal,
            ScalarStyle::Folded => Style::Folded,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Scalar {
    pub text: String,
    pub style: Style,
    /// `!!str` (or the non-specific `!`) was given: always a string.
    pub forced_string: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    Scalar(Scalar),
    Seq(Vec<Node>),
    /// Keys in the order written (merged keys after them).
    Map(Vec<(Node, Node)>),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub pos: Pos,
    pub kind: Kind,
}

/// A resolved scalar value (YAML 1.2 core schema).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Value<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(&'a str),
}

impl Scalar {
    pub fn value(&self) -> Value<'_> {
        if self.forced_string || self.style != Style::Plain {
            return Value::Str(&self.text);
        }
        resolve_plain(&self.text)
    }
}

/// Resolve a plain scalar with the YAML 1.2 core schema.
pub(crate) fn resolve_plain(t: &str) -> Value<'_> {
    match t {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Value::Float(f64::INFINITY)
        }
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN),
        _ => {}
    }
    if let Some(hex) = t.strip_prefix("0x") {
        if !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return match i64::from_str_radix(hex, 16) {
                Ok(v) => Value::Int(v),
                Err(_) => Value::Str(t),
            };
        }
        return Value::Str(t);
    }
    if let Some(oct) = t.strip_prefix("0o") {
        if !oct.is_empty() && oct.chars().all(|c| ('0'..='7').contains(&c)) {
            return match i64::from_str_radix(oct, 8) {
                Ok(v) => Value::Int(v),
                Err(_) => Value::Str(t),
            };
        }
        return Value::Str(t);
    }
    let digits = t.strip_prefix(['-', '+']).unwrap_or(t);
    if !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()) {
        return match t.parse::<i64>() {
            Ok(v) => Value::Int(v),
            // Too large for an integer: a float, as the core schema's int regex matched.
            Err(_) => match t.parse::<f64>() {
                Ok(v) => Value::Float(v),
                Err(_) => Value::Str(t),
            },
        };
    }
    if is_core_float(t) {
        if let Ok(v) = t.parse::<f64>() {
            return Value::Float(v);
        }
    }
    Value::Str(t)
}

/// `[-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?`
fn is_core_float(t: &str) -> bool {
    let b = t.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'-' | b'+')) {
        i += 1;
    }
    let int_start = i;
    while matches!(b.get(i), Some(c) if c.is_ascii_digit()) {
        i += 1;
    }
    let int_digits = i - int_start;
    let mut frac_digits = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let s = i;
        while matches!(b.get(i), Some(c) if c.is_ascii_digit()) {
            i += 1;
        }
        frac_digits = i - s;
    }
    if int_digits == 0 && frac_digits == 0 {
        return false;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        let s = i;
        while matches!(b.get(i), Some(c) if c.is_ascii_digit()) {
            i += 1;
        }
        if i == s {
            return false;
        }
    }
    i == b.len()
}

impl Node {
    pub fn scalar(&self) -> Option<&Scalar> {
        match &self.kind {
            Kind::Scalar(s) => Some(s),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(&self.kind, Kind::Scalar(s) if s.value() == Value::Null)
    }

    /// The text of a scalar key or value (any scalar), `None` for collections.
    pub fn text(&self) -> Option<&str> {
        self.scalar().map(|s| s.text.as_str())
    }

    /// For messages: "a mapping", "a list", "a string", "a number", "a boolean", "nothing".
    pub fn describe(&self) -> String {
        match &self.kind {
            Kind::Map(_) => "a mapping".to_string(),
            Kind::Seq(_) => "a list".to_string(),
            Kind::Scalar(s) => match s.value() {
                Value::Null => "an empty value".to_string(),
                Value::Bool(b) => format!("the boolean `{b}`"),
                Value::Int(_) | Value::Float(_) => format!("the number `{}`", s.text),
                Value::Str(t) => format!("the string `{}`", shorten(t)),
            },
        }
    }

    /// The value as JSON (mapping keys as their text; non-finite floats as text).
    pub fn to_json(&self) -> serde_json::Value {
        match &self.kind {
            Kind::Scalar(s) => scalar_json(s),
            Kind::Seq(items) => serde_json::Value::Array(items.iter().map(Node::to_json).collect()),
            Kind::Map(entries) => {
                let mut m = serde_json::Map::new();
                for (k, v) in entries {
                    let key = match &k.kind {
                        Kind::Scalar(s) => s.text.clone(),
                        _ => k.to_json().to_string(),
                    };
                    m.insert(key, v.to_json());
                }
                serde_json::Value::Object(m)
            }
        }
    }
}

pub(crate) fn scalar_json(s: &Scalar) -> serde_json::Value {
    match s.value() {
        Value::Null => serde_json::Value::Null,
        Value::Bool(b) => serde_json::Value::Bool(b),
        Value::Int(i) => serde_json::Value::from(i),
        Value::Float(f) => serde_json::Number::from_f64(f)
            .map(serde_json::Value::Number)
            .unwrap_or_else(|| serde_json::Value::String(s.text.clone())),
        Value::Str(t) => serde_json::Value::String(t.to_string()),
    }
}

/// Shorten a value for a message (first line, at most 40 characters).
pub(crate) fn shorten(t: &str) -> String {
    let first = t.lines().next().unwrap_or("");
    let mut out: String = first.chars().take(40).collect();
    if out.len() < t.len() {
        out.push('…');
    }
    out
}

/// A problem found while building the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    pub pos: Pos,
    pub message: String,
}

/// The result of parsing one YAML file.
pub(crate) struct Document {
    /// `None` when the file is empty or had a syntax error.
    pub root: Option<Node>,
    pub problems: Vec<Problem>,
    /// A syntax error stopped the build.
    pub syntax_error: bool,
}

enum Frame {
    Seq {
        pos: Pos,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        pos: Pos,
        anchor: usize,
        entries: Vec<(Node, Node)>,
        key: Option<Node>,
    },
}

struct Builder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    root: Option<Node>,
    problems: Vec<Problem>,
    alias_budget: usize,
    documents: usize,
}

/// Parse YAML text into a tree.
pub(crate) fn parse(text: &str) -> Document {
    let mut b = Builder {
        stack: Vec::new(),
        anchors: HashMap::new(),
        root: None,
        problems: Vec::new(),
        alias_budget: MAX_ALIAS_NODES,
        documents: 0,
    };
    let mut syntax_error = false;
    for ev in Parser::new_from_str(text) {
        match ev {
            Ok((event, span)) => {
                if let Err(p) = b.event(event, span) {
                    b.problems.push(p);
                    syntax_error = true;
                    break;
                }
            }
            Err(e) => {
                let pos = Pos::from_marker(e.marker());
                b.problems.push(Problem {
                    pos,
                    message: format!(
                        "invalid YAML: {}{}",
                        e.info(),
                        syntax_hint(text, pos, e.info())
                    ),
                });
                syntax_error = true;
                break;
            }
        }
    }
    Document {
        root: if syntax_error { None } else { b.root },
        problems: b.problems,
        syntax_error,
    }
}

/// A hint for common causes of YAML syntax errors.
fn syntax_hint(text: &str, pos: Pos, info: &str) -> &'static str {
    let line = text
        .lines()
        .nth(usize::try_from(pos.line).unwrap_or(1).saturating_sub(1))
        .unwrap_or("");
    let key = line.trim_start().trim_start_matches("- ").trim_start();
    if info.contains("tab") {
        " (indent with spaces, not tabs)"
    } else if key.starts_with("cron:") {
        " (quote cron schedules: `*` and `@` have a meaning of their own in YAML, so write \
         `cron: \"*/5 * * * *\"`)"
    } else if line.contains("${{") && info.contains("flow") {
        " (inside `{ }` or `[ ]`, quote values that contain `${{ }}`, like `\"${{ inputs.x }}\"`)"
    } else if line.contains("${{") {
        " (values that contain `${{ }}` may need quotes)"
    } else {
        ""
    }
}

impl Builder {
    /// `Err` stops the build (a fatal problem).
    fn event(&mut self, event: Event<'_>, span: YSpan) -> Result<(), Problem> {
        let pos = Pos::from_marker(&span.start);
        match event {
            Event::StreamStart | Event::StreamEnd | Event::Nothing | Event::DocumentEnd => {}
            Event::DocumentStart(_) => {
                self.documents += 1;
                self.anchors.clear();
                if self.documents > 1 {
                    return Err(Problem {
                        pos,
                        message: "expected one YAML document, found a second one (`---`); \
                                  put each workflow or component in its own file"
                            .to_string(),
                    });
                }
            }
            Event::Scalar(value, style, anchor, tag) => {
                let forced_string = match tag.as_deref() {
                    None => false,
                    Some(t) => self.check_tag(t, pos, true),
                };
                let node = Node {
                    pos,
                    kind: Kind::Scalar(Scalar {
                        text: value.into_owned(),
                        style: style.into(),
                        forced_string,
                    }),
                };
                self.finish(node, anchor);
            }
            Event::Alias(id) => match self.anchors.get(&id) {
                Some(node) => {
                    let (size, depth) = measure(node);
                    if self.stack.len() + depth > MAX_DEPTH {
                        return Err(Problem {
                            pos,
                            message: format!(
                                "the document is nested more than {MAX_DEPTH} levels deep (counting what aliases expand to)"
                            ),
                        });
                    }
                    if size > self.alias_budget {
                        return Err(Problem {
                            pos,
                            message: format!(
                                "aliases expand to more than {MAX_ALIAS_NODES} nodes; \
                                 write the values out instead"
                            ),
                        });
                    }
                    self.alias_budget -= size;
                    let mut copy = node.clone();
                    copy.pos = pos;
                    self.finish(copy, 0);
                }
                None => {
                    return Err(Problem {
                        pos,
                        message: "this alias refers to a node that contains it (recursive \
                                  aliases are not supported)"
                            .to_string(),
                    })
                }
            },
            Event::SequenceStart(anchor, tag) => {
                if let Some(t) = tag.as_deref() {
                    self.check_tag(t, pos, false);
                }
                self.push(
                    Frame::Seq {
                        pos,
                        anchor,
                        items: Vec::new(),
                    },
                    pos,
                )?;
            }
            Event::MappingStart(anchor, tag) => {
                if let Some(t) = tag.as_deref() {
                    self.check_tag(t, pos, false);
                }
                self.push(
                    Frame::Map {
                        pos,
                        anchor,
                        entries: Vec::new(),
                        key: None,
                    },
                    pos,
                )?;
            }
            Event::SequenceEnd => {
                if let Some(Frame::Seq { pos, anchor, items }) = self.stack.pop() {
                    self.finish(
                        Node {
                            pos,
                            kind: Kind::Seq(items),
                        },
                        anchor,
                    );
                }
            }
            Event::MappingEnd => {
                if let Some(Frame::Map {
                    pos,
                    anchor,
                    entries,
                    key,
                }) = self.stack.pop()
                {
                    let mut entries = entries;
                    if let Some(k) = key {
                        // Cannot happen with a well-formed event stream; keep the key.
                        let p = k.pos;
                        entries.push((k, null_at(p)));
                    }
                    let entries = self.merge_and_check(entries);
                    self.finish(
                        Node {
                            pos,
                            kind: Kind::Map(entries),
                        },
                        anchor,
                    );
                }
            }
        }
        Ok(())
    }

    fn push(&mut self, frame: Frame, pos: Pos) -> Result<(), Problem> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(Problem {
                pos,
                message: format!("the document is nested more than {MAX_DEPTH} levels deep"),
            });
        }
        self.stack.push(frame);
        Ok(())
    }

    /// Returns whether the tag forces a string. Unsupported tags are reported and ignored.
    fn check_tag(&mut self, tag: &Tag, pos: Pos, scalar: bool) -> bool {
        if tag.handle == "!" && tag.suffix.is_empty() {
            return scalar;
        }
        if tag.is_yaml_core_schema() {
            match tag.suffix.as_str() {
                "str" if scalar => return true,
                "int" | "float" | "bool" | "null" if scalar => return false,
                "map" | "seq" if !scalar => return false,
                _ => {}
            }
        }
        self.problems.push(Problem {
            pos,
            message: format!(
                "unsupported YAML tag `{tag}` (only `!!str` is useful here); remove it"
            ),
        });
        false
    }

    fn finish(&mut self, node: Node, anchor: usize) {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => {
                if self.root.is_none() {
                    self.root = Some(node);
                }
            }
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, key, .. }) => match key.take() {
                None => *key = Some(node),
                Some(k) => entries.push((k, node)),
            },
        }
    }

    /// Apply merge keys (`<<`) and report duplicate keys (at the second one).
    fn merge_and_check(&mut self, entries: Vec<(Node, Node)>) -> Vec<(Node, Node)> {
        let mut out: Vec<(Node, Node)> = Vec::with_capacity(entries.len());
        let mut merged: Vec<(Node, Node)> = Vec::new();
        let mut seen: HashMap<String, Pos> = HashMap::new();
        for (k, v) in entries {
            if let Kind::Scalar(s) = &k.kind {
                if s.style == Style::Plain && s.text == "<<" {
                    match v.kind {
                        Kind::Map(m) => merged.extend(m),
                        Kind::Seq(items) => {
                            for item in items {
                                match item.kind {
                                    Kind::Map(m) => merged.extend(m),
                                    _ => self.problems.push(Problem {
                                        pos: item.pos,
                                        message: "a merge key (`<<`) takes a mapping or a list \
                                                  of mappings"
                                            .to_string(),
                                    }),
                                }
                            }
                        }
                        _ => self.problems.push(Problem {
                            pos: v.pos,
                            message: "a merge key (`<<`) takes a mapping or a list of mappings"
                                .to_string(),
                        }),
                    }
                    continue;
                }
                if let Some(first) = seen.get(&s.text) {
                    self.problems.push(Problem {
                        pos: k.pos,
                        message: format!(
                            "duplicate key `{}` (first defined at line {})",
                            shorten(&s.text),
                            first.line
                        ),
                    });
                    continue;
                }
                seen.insert(s.text.clone(), k.pos);
            }
            out.push((k, v));
        }
        for (k, v) in merged {
            if let Some(t) = k.text() {
                if seen.contains_key(t) {
                    continue;
                }
                seen.insert(t.to_string(), k.pos);
            }
            out.push((k, v));
        }
        out
    }
}

fn null_at(pos: Pos) -> Node {
    Node {
        pos,
        kind: Kind::Scalar(Scalar {
            text: String::new(),
            style: Style::Plain,
            forced_string: false,
        }),
    }
}

/// Number of nodes and nesting depth of a subtree (iteratively: no recursion on input depth).
fn measure(node: &Node) -> (usize, usize) {
    let mut n = 0usize;
    let mut depth = 0usize;
    let mut stack = vec![(node, 1usize)];
    while let Some((x, d)) = stack.pop() {
        n += 1;
        depth = depth.max(d);
        match &x.kind {
            Kind::Scalar(_) => {}
            Kind::Seq(items) => stack.extend(items.iter().map(|i| (i, d + 1))),
            Kind::Map(entries) => {
                for (k, v) in entries {
                    stack.push((k, d + 1));
                    stack.push((v, d + 1));
                }
            }
        }
    }
    (n, depth)
}

// ---------------------------------------------------------------------------------------------
// Locating a position inside a scalar

/// The position of the character at `byte_offset` of a scalar's decoded value.
///
/// Exact for plain, single-line quoted and block scalars in the common cases; escapes (`\"`,
/// `\x41`, `\u00e9`), doubled single quotes (`''`) and line folding are accounted for by walking
/// the source alongside the value. If the two cannot be aligned (unusual layouts), the result is
/// the last position that was aligned, never past the end of the source.
pub(crate) fn locate_in_scalar(
    source: &[char],
    start: Pos,
    style: Style,
    value: &str,
    byte_offset: usize,
) -> Pos {
    let mut cur = Cursor {
        src: source,
        i: start.index,
        line: start.line,
        col: start.col,
    };
    // Anchors and tags precede the scalar in its span: `&a !!str value`.
    while matches!(cur.peek(), Some('&' | '!')) {
        while matches!(cur.peek(), Some(c) if !c.is_whitespace()) {
            cur.bump();
        }
        while matches!(cur.peek(), Some(' ' | '\t')) {
            cur.bump();
        }
    }
    let block_indent = match style {
        Style::SingleQuoted | Style::DoubleQuoted => {
            if matches!(cur.peek(), Some('\'' | '"')) {
                cur.bump();
            }
            0
        }
        Style::Literal | Style::Folded => {
            // The span starts at the first content character (its column gives the block's
            // indentation), or at the `|`/`>` header on some inputs.
            if matches!(cur.peek(), Some('|' | '>')) {
                while matches!(cur.peek(), Some(c) if c != '\n') {
                    cur.bump();
                }
                cur.bump();
                let line_start = cur.i;
                while matches!(cur.peek(), Some(' ')) {
                    cur.bump();
                }
                cur.i - line_start
            } else {
                usize::try_from(cur.col.saturating_sub(1)).unwrap_or(0)
            }
        }
        Style::Plain => 0,
    };
    // When the span starts at the first content character, the value's leading line breaks
    // (blank lines at the top of a block scalar) lie before it.
    let mut leading_breaks =
        matches!(style, Style::Literal | Style::Folded) && !matches!(cur.peek(), Some('\n'));
    for (bi, ch) in value.char_indices() {
        if bi >= byte_offset {
            break;
        }
        if leading_breaks {
            if ch == '\n' {
                continue;
            }
            leading_breaks = false;
        }
        if !cur.consume(ch, style, block_indent) {
            break;
        }
    }
    cur.pos()
}

struct Cursor<'a> {
    src: &'a [char],
    i: usize,
    line: u32,
    col: u32,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<char> {
        self.src.get(self.i).copied()
    }
    fn peek_at(&self, n: usize) -> Option<char> {
        self.src.get(self.i + n).copied()
    }
    fn bump(&mut self) {
        if let Some(c) = self.peek() {
            self.i += 1;
            if c == '\n' {
                self.line = self.line.saturating_add(1);
                self.col = 1;
            } else {
                self.col = self.col.saturating_add(1);
            }
        }
    }
    fn pos(&self) -> Pos {
        Pos {
            line: self.line,
            col: self.col,
            index: self.i,
        }
    }
    fn skip_indent(&mut self, max: usize) {
        let mut n = 0;
        while n < max && self.peek() == Some(' ') {
            self.bump();
            n += 1;
        }
    }
    fn skip_blank(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t' | '\n' | '\r')) {
            self.bump();
        }
    }

    /// Advance over the source of one decoded character. `false`: could not align.
    fn consume(&mut self, ch: char, style: Style, indent: usize) -> bool {
        for _ in 0..3 {
            let Some(s) = self.peek() else {
                return false;
            };
            if style == Style::DoubleQuoted && s == '\\' {
                match self.peek_at(1) {
                    Some('\n' | '\r') => {
                        // Escaped line break: no character in the value.
                        self.bump();
                        self.skip_blank();
                        continue;
                    }
                    Some(e) => {
                        let len = match e {
                            'x' => 4,
                            'u' => 6,
                            'U' => 10,
                            _ => 2,
                        };
                        for _ in 0..len {
                            self.bump();
                        }
                        return true;
                    }
                    None => return false,
                }
            }
            if style == Style::SingleQuoted && s == '\'' && self.peek_at(1) == Some('\'') {
                self.bump();
                self.bump();
                return true;
            }
            if s == ch {
                self.bump();
                if s == '\n' && matches!(style, Style::Literal | Style::Folded) {
                    self.skip_indent(indent);
                }
                return true;
            }
            if s == '\r' {
                self.bump();
                continue;
            }
            if matches!(s, ' ' | '\t' | '\n') {
                // Line folding: source whitespace and breaks became one space or line break.
                let was_break_char = matches!(ch, ' ' | '\n');
                self.skip_blank();
                if matches!(style, Style::Literal | Style::Folded) && indent > 0 {
                    // skip_blank already moved past the indentation
                }
                if was_break_char {
                    return true;
                }
                continue;
            }
            return false;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(text: &str) -> Node {
        let doc = parse(text);
        assert!(doc.problems.is_empty(), "{:?}", doc.problems);
        doc.root.unwrap()
    }

    #[test]
    fn core_schema_resolution() {
        let cases: &[(&str, Value<'_>)] = &[
            ("", Value::Null),
            ("~", Value::Null),
            ("null", Value::Null),
            ("true", Value::Bool(true)),
            ("False", Value::Bool(false)),
            ("yes", Value::Str("yes")),
            ("12", Value::Int(12)),
            ("-3", Value::Int(-3)),
            ("0x1f", Value::Int(31)),
            ("0o17", Value::Int(15)),
            ("1.5", Value::Float(1.5)),
            ("1e3", Value::Float(1000.0)),
            (".5", Value::Float(0.5)),
            ("1.0.0", Value::Str("1.0.0")),
            ("64Mi", Value::Str("64Mi")),
            ("0x", Value::Str("0x")),
        ];
        for (text, want) in cases {
            assert_eq!(resolve_plain(text), *want, "{text}");
        }
    }

    #[test]
    fn quoted_scalars_are_strings_and_str_tag_forces_string() {
        let r = root("a: '12'\nb: \"true\"\nc: !!str 12\nd: 12\n");
        let Kind::Map(m) = &r.kind else { panic!() };
        let vals: Vec<_> = m.iter().map(|(_, v)| v.scalar().unwrap().value()).collect();
        assert_eq!(
            vals,
            vec![
                Value::Str("12"),
                Value::Str("true"),
                Value::Str("12"),
                Value::Int(12)
            ]
        );
    }

    #[test]
    fn positions_are_one_based() {
        let r = root("a:\n  b: [x, {y: 1}]\n");
        let Kind::Map(m) = &r.kind else { panic!() };
        let (k, v) = &m[0];
        assert_eq!((k.pos.line, k.pos.col), (1, 1));
        let Kind::Map(inner) = &v.kind else { panic!() };
        let (bk, bv) = &inner[0];
        assert_eq!((bk.pos.line, bk.pos.col), (2, 3));
        assert_eq!((bv.pos.line, bv.pos.col), (2, 6));
        let Kind::Seq(items) = &bv.kind else { panic!() };
        assert_eq!((items[1].pos.line, items[1].pos.col), (2, 10));
    }

    #[test]
    fn duplicate_keys_reported_at_second() {
        let doc = parse("a: 1\nb: 2\na: 3\n");
        assert_eq!(doc.problems.len(), 1);
        assert_eq!((doc.problems[0].pos.line, doc.problems[0].pos.col), (3, 1));
        assert!(doc.problems[0].message.contains("duplicate key `a`"));
    }

    #[test]
    fn aliases_and_merge_keys_resolve() {
        let r = root("base: &b { x: 1, y: 2 }\nc:\n  <<: *b\n  y: 3\nd: *b\n");
        let json = r.to_json();
        assert_eq!(json["c"], serde_json::json!({"y": 3, "x": 1}));
        assert_eq!(json["d"], serde_json::json!({"x": 1, "y": 2}));
    }

    #[test]
    fn alias_bombs_are_stopped() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..9 {
            let prev = format!("*a{}", i - 1);
            let list = [prev.as_str(); 10].join(", ");
            text.push_str(&format!("a{i}: &a{i} [{list}]\n"));
        }
        let doc = parse(&text);
        assert!(doc.syntax_error);
        assert!(doc.problems[0].message.contains("aliases expand"));
    }

    #[test]
    fn deep_nesting_through_aliases_is_rejected() {
        let mut text = String::from("a0: &a0 [[[[[[[[[[x]]]]]]]]]]\n");
        for i in 1..40 {
            text.push_str(&format!("a{i}: &a{i} [[[[[[*a{}]]]]]]\n", i - 1));
        }
        let doc = parse(&text);
        assert!(doc.syntax_error);
        assert!(doc.problems[0].message.contains("nested more than"));
    }

    #[test]
    fn deep_nesting_is_rejected() {
        let text = "[".repeat(5000);
        let doc = parse(&text);
        assert!(doc.root.is_none());
        assert!(!doc.problems.is_empty());
    }

    #[test]
    fn second_document_is_rejected() {
        let doc = parse("a: 1\n---\nb: 2\n");
        assert!(doc.syntax_error);
        assert_eq!(doc.problems[0].pos.line, 2);
    }

    #[test]
    fn syntax_error_position() {
        let doc = parse("a: b: c\n");
        assert!(doc.syntax_error);
        assert_eq!((doc.problems[0].pos.line, doc.problems[0].pos.col), (1, 5));
        assert!(doc.problems[0].message.starts_with("invalid YAML: "));
    }

    fn locate(text: &str, needle: &str) -> (u32, u32) {
        let chars: Vec<char> = text.chars().collect();
        let r = root(text);
        let Kind::Map(m) = &r.kind else { panic!() };
        let v = &m[0].1;
        let s = v.scalar().unwrap();
        let off = s.text.find(needle).unwrap();
        let p = locate_in_scalar(&chars, v.pos, s.style, &s.text, off);
        (p.line, p.col)
    }

    #[test]
    fn locate_inside_scalars() {
        assert_eq!(locate("k: ab ${{ x }}\n", "x"), (1, 11));
        assert_eq!(locate("k: \"ab ${{ x }}\"\n", "x"), (1, 12));
        assert_eq!(locate("k: \"a\\\"b ${{ x }}\"\n", "x"), (1, 14));
        assert_eq!(locate("k: 'it''s ${{ x }}'\n", "x"), (1, 15));
        assert_eq!(locate("k: |\n  one\n  two ${{ x }}\n", "x"), (3, 11));
        assert_eq!(locate("k: >\n  one\n  two ${{ x }}\n", "x"), (3, 11));
        assert_eq!(locate("k: |\n  one\n    two ${{ x }}\n", "x"), (3, 13));
        assert_eq!(locate("k: |\n\n  one\n  ${{ x }}\n", "x"), (4, 7));
        assert_eq!(locate("k: |-\n    a  b ${{ x }}\n", "x"), (2, 14));
        assert_eq!(locate("k: \"one\n  two ${{ x }}\"\n", "x"), (2, 11));
        assert_eq!(locate("k: one\n  two ${{ x }}\n", "x"), (2, 11));
        assert_eq!(locate("k: &a \"${{ x }}\"\n", "x"), (1, 12));
        assert_eq!(locate("k: \"\\u00e9 ${{ x }}\"\n", "x"), (1, 16));
    }
}

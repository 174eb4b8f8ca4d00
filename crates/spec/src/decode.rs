//! Decoding helpers on the YAML tree that collect diagnostics instead of stopping.

use std::sync::Arc;

use crate::yaml::{locate_in_scalar, Kind, Node, Pos, Style, Value};
use crate::{Diagnostic, Span};

/// Diagnostics for one source file, plus what is needed to locate positions inside scalars.
pub(crate) struct Cx {
    pub file: Arc<str>,
    chars: Vec<char>,
    pub diags: Vec<Diagnostic>,
}

/// In a list of known fields: keys starting with `x-` are allowed and ignored (a place for
/// YAML anchors, as in Compose files).
pub(crate) const EXTENSIONS: &str = "x-*";

/// Where a string value came from, to locate a byte offset inside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Loc {
    /// A scalar starting at `pos`, written in `style`.
    Scalar { pos: Pos, style: Style },
    /// A value with no usable source text (e.g. built from a seed-format subscription): every
    /// offset maps to this position.
    Fixed(Pos),
}

impl Loc {
    pub fn of(node: &Node) -> Loc {
        match &node.kind {
            Kind::Scalar(s) => Loc::Scalar {
                pos: node.pos,
                style: s.style,
            },
            _ => Loc::Fixed(node.pos),
        }
    }
}

impl Cx {
    pub fn new(file: &str, text: &str) -> Cx {
        Cx {
            file: Arc::from(file),
            chars: text.chars().collect(),
            diags: Vec::new(),
        }
    }

    pub fn span(&self, pos: Pos) -> Span {
        Span {
            file: self.file.clone(),
            line: pos.line.max(1),
            col: pos.col.max(1),
        }
    }

    pub fn error(&mut self, pos: Pos, message: impl Into<String>) {
        let d = Diagnostic {
            span: self.span(pos),
            message: message.into(),
        };
        self.diags.push(d);
    }

    /// An error at a span already taken from this file.
    pub fn error_at(&mut self, span: Span, message: impl Into<String>) {
        self.diags.push(Diagnostic {
            span,
            message: message.into(),
        });
    }

    /// The position of byte `offset` of `value`, a string that came from `loc`.
    pub fn locate(&self, loc: Loc, value: &str, offset: usize) -> Pos {
        match loc {
            Loc::Fixed(p) => p,
            Loc::Scalar { pos, style } => locate_in_scalar(&self.chars, pos, style, value, offset),
        }
    }

    /// Expect a mapping. `what` names the value in the message (e.g. "`resources`").
    pub fn map<'n>(&mut self, node: &'n Node, at: Pos, what: &str) -> Option<Map<'n>> {
        match &node.kind {
            Kind::Map(entries) => Some(Map { node, entries }),
            _ => {
                self.error(
                    at,
                    format!("{what} must be a mapping, found {}", node.describe()),
                );
                None
            }
        }
    }

    /// Expect a list.
    pub fn seq<'n>(&mut self, node: &'n Node, at: Pos, what: &str) -> Option<&'n [Node]> {
        match &node.kind {
            Kind::Seq(items) => Some(items),
            _ => {
                self.error(
                    at,
                    format!("{what} must be a list, found {}", node.describe()),
                );
                None
            }
        }
    }

    /// Report keys of `m` that are not in `known` (with a suggestion), and non-string keys.
    pub fn check_keys(&mut self, m: &Map<'_>, known: &[&str], what: &str) {
        self.check_keys_hint(m, known, what, |_| None);
    }

    /// Like [`Cx::check_keys`], with an extra hint for particular unknown keys.
    pub fn check_keys_hint(
        &mut self,
        m: &Map<'_>,
        known: &[&str],
        what: &str,
        hint: impl Fn(&str) -> Option<String>,
    ) {
        for (k, _) in m.entries {
            match k.scalar() {
                Some(s) => {
                    if known.contains(&s.text.as_str())
                        || (known.contains(&EXTENSIONS) && s.text.starts_with("x-"))
                    {
                        continue;
                    }
                    let mut msg = format!("unknown field `{}` in {what}", s.text);
                    if let Some(h) = hint(&s.text) {
                        msg.push_str("; ");
                        msg.push_str(&h);
                    } else if let Some(best) =
                        crate::suggest::suggest(&s.text, known.iter().copied())
                    {
                        msg.push_str(&format!("; did you mean `{best}`?"));
                    } else {
                        let list: Vec<&str> =
                            known.iter().copied().filter(|k| *k != EXTENSIONS).collect();
                        msg.push_str(&format!(" (known fields: {})", list.join(", ")));
                    }
                    self.error(k.pos, msg);
                }
                _ => self.error(
                    k.pos,
                    format!("keys in {what} must be strings, found {}", k.describe()),
                ),
            }
        }
    }

    /// A required field: reports its absence at the mapping.
    pub fn required<'n>(&mut self, m: &Map<'n>, key: &str, what: &str) -> Option<Field<'n>> {
        let f = m.get(key);
        if f.is_none() {
            self.error(
                m.node.pos,
                format!("missing required field `{key}` in {what}"),
            );
        }
        f
    }

    /// A string scalar (numbers and booleans are taken as written). Empty → error.
    pub fn string(&mut self, f: Field<'_>) -> Option<String> {
        match &f.value.kind {
            Kind::Scalar(s) => {
                if s.value() == Value::Null {
                    self.error(
                        f.value_pos(),
                        format!("`{}` must not be empty", f.key_text()),
                    );
                    None
                } else {
                    Some(s.text.clone())
                }
            }
            _ => {
                self.error(
                    f.value_pos(),
                    format!(
                        "`{}` must be a string, found {}",
                        f.key_text(),
                        f.value.describe()
                    ),
                );
                None
            }
        }
    }

    /// An optional string: an empty value counts as absent.
    pub fn opt_string(&mut self, f: Option<Field<'_>>) -> Option<String> {
        let f = f?;
        if f.value.is_null() {
            return None;
        }
        self.string(f)
    }

    /// A string matching a name pattern.
    pub fn name(&mut self, f: Field<'_>, rule: NameRule) -> Option<String> {
        let s = self.string(f)?;
        if rule.matches(&s) {
            Some(s)
        } else {
            self.error(
                f.value_pos(),
                format!(
                    "invalid {} `{}`: {}",
                    f.key_text(),
                    crate::yaml::shorten(&s),
                    rule.describe()
                ),
            );
            None
        }
    }

    /// The name of a workflow or component: its character set and the length limit of every
    /// stored name ([`crate::names`]).
    pub fn stored_name(&mut self, f: Field<'_>, kind: crate::NameKind) -> Option<String> {
        let s = self.string(f)?;
        match kind.check(&s) {
            Ok(()) => Some(s),
            Err(message) => {
                self.error(f.value_pos(), message);
                None
            }
        }
    }

    pub fn bool(&mut self, f: Field<'_>) -> Option<bool> {
        match f.value.scalar().map(|s| s.value()) {
            Some(Value::Bool(b)) => Some(b),
            _ => {
                self.error(
                    f.value_pos(),
                    format!(
                        "`{}` must be `true` or `false`, found {}",
                        f.key_text(),
                        f.value.describe()
                    ),
                );
                None
            }
        }
    }

    /// An integer of at least `min`.
    pub fn int_at_least(&mut self, f: Field<'_>, min: i64) -> Option<u32> {
        let v = match f.value.scalar().map(|s| s.value()) {
            Some(Value::Int(i)) => Some(i),
            Some(Value::Str(t)) => t.trim().parse::<i64>().ok(),
            _ => None,
        };
        match v {
            Some(i) if i >= min => match u32::try_from(i) {
                Ok(v) => Some(v),
                Err(_) => {
                    self.error(
                        f.value_pos(),
                        format!("`{}` is too large: {i}", f.key_text()),
                    );
                    None
                }
            },
            Some(i) => {
                self.error(
                    f.value_pos(),
                    format!("`{}` must be at least {min}, found {i}", f.key_text()),
                );
                None
            }
            None => {
                self.error(
                    f.value_pos(),
                    format!(
                        "`{}` must be a whole number, found {}",
                        f.key_text(),
                        f.value.describe()
                    ),
                );
                None
            }
        }
    }

    /// A list of strings; a single string is accepted as a list of one when `allow_single`.
    pub fn string_list<'n>(
        &mut self,
        f: Field<'n>,
        allow_single: bool,
    ) -> Option<Vec<(String, &'n Node)>> {
        match &f.value.kind {
            Kind::Seq(items) => {
                let mut out = Vec::new();
                for item in items {
                    match item.scalar() {
                        Some(s) if s.value() != Value::Null => out.push((s.text.clone(), item)),
                        _ => self.error(
                            item.pos,
                            format!(
                                "items of `{}` must be strings, found {}",
                                f.key_text(),
                                item.describe()
                            ),
                        ),
                    }
                }
                Some(out)
            }
            Kind::Scalar(s) if allow_single && s.value() != Value::Null => {
                Some(vec![(s.text.clone(), f.value)])
            }
            _ => {
                self.error(
                    f.value_pos(),
                    format!(
                        "`{}` must be a list of strings, found {}",
                        f.key_text(),
                        f.value.describe()
                    ),
                );
                None
            }
        }
    }

    /// A duration (`90s`, `10m`, `1h30m`, `500ms`). `positive`: zero is an error.
    pub fn duration(&mut self, f: Field<'_>, positive: bool) -> Option<std::time::Duration> {
        let text = match f.value.scalar().map(|s| (s.value(), s.text.as_str())) {
            Some((Value::Int(_) | Value::Float(_), t)) => {
                self.error(
                    f.value_pos(),
                    format!(
                        "`{}` needs a unit: write `{t}s` for seconds (units: ms, s, m, h)",
                        f.key_text()
                    ),
                );
                return None;
            }
            Some((Value::Str(_), t)) => t,
            _ => {
                self.error(
                    f.value_pos(),
                    format!(
                        "`{}` must be a duration like `30s`, `10m` or `1h30m`, found {}",
                        f.key_text(),
                        f.value.describe()
                    ),
                );
                return None;
            }
        };
        match crate::quantity::parse_duration(text) {
            Ok(d) if positive && d.is_zero() => {
                self.error(
                    f.value_pos(),
                    format!("`{}` must be longer than zero", f.key_text()),
                );
                None
            }
            Ok(d) => Some(d),
            Err(e) => {
                self.error(
                    f.value_pos(),
                    format!("invalid duration for `{}`: {e}", f.key_text()),
                );
                None
            }
        }
    }
}

/// A mapping node and its entries.
#[derive(Clone, Copy)]
pub(crate) struct Map<'n> {
    pub node: &'n Node,
    pub entries: &'n [(Node, Node)],
}

/// One `key: value` entry.
#[derive(Clone, Copy)]
pub(crate) struct Field<'n> {
    pub key: &'n Node,
    pub value: &'n Node,
}

impl<'n> Field<'n> {
    pub fn key_text(&self) -> &'n str {
        self.key.text().unwrap_or("?")
    }
    /// Where to report a problem with the value: the value, or the key when the value is empty
    /// (an empty value has no token of its own).
    pub fn value_pos(&self) -> Pos {
        match self.value.scalar() {
            Some(s) if s.text.is_empty() && s.style == Style::Plain => self.key.pos,
            _ => self.value.pos,
        }
    }
}

impl<'n> Map<'n> {
    pub fn get(&self, key: &str) -> Option<Field<'n>> {
        self.entries
            .iter()
            .find(|(k, _)| k.text() == Some(key))
            .map(|(k, v)| Field { key: k, value: v })
    }

    pub fn fields(&self) -> impl Iterator<Item = Field<'n>> + 'n {
        self.entries.iter().map(|(k, v)| Field { key: k, value: v })
    }
}

/// Name patterns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NameRule {
    /// `[a-z0-9][a-z0-9-]*` (workflow and component names).
    Lower,
    /// `[A-Za-z_][A-Za-z0-9_-]*` (action, stage, input and matrix axis names: usable in
    /// `${{ }}` references).
    Ident,
    /// `[A-Za-z_][A-Za-z0-9_.-]*` (output names, SPEC §1).
    OutputKey,
    /// `[A-Za-z_][A-Za-z0-9_]*` (environment variables).
    EnvVar,
}

impl NameRule {
    pub fn matches(self, s: &str) -> bool {
        let mut chars = s.chars();
        let Some(first) = chars.next() else {
            return false;
        };
        match self {
            NameRule::Lower => {
                (first.is_ascii_lowercase() || first.is_ascii_digit())
                    && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            }
            NameRule::Ident => {
                (first.is_ascii_alphabetic() || first == '_')
                    && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            }
            NameRule::OutputKey => {
                (first.is_ascii_alphabetic() || first == '_')
                    && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
            }
            NameRule::EnvVar => {
                (first.is_ascii_alphabetic() || first == '_')
                    && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
            }
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            NameRule::Lower => {
                "use lowercase letters, digits and `-`, starting with a letter or digit"
            }
            NameRule::Ident => {
                "use letters, digits, `_` and `-`, starting with a letter or `_` \
                 (so that `${{ }}` expressions can refer to it)"
            }
            NameRule::OutputKey => {
                "use letters, digits, `_`, `-` and `.`, starting with a letter or `_`"
            }
            NameRule::EnvVar => "use letters, digits and `_`, starting with a letter or `_`",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::NameRule;

    #[test]
    fn name_rules() {
        assert!(NameRule::Lower.matches("hello-2"));
        assert!(NameRule::Lower.matches("2x"));
        assert!(!NameRule::Lower.matches("Hello"));
        assert!(!NameRule::Lower.matches("-x"));
        assert!(!NameRule::Lower.matches(""));
        assert!(NameRule::Ident.matches("build-linux"));
        assert!(NameRule::Ident.matches("_x"));
        assert!(!NameRule::Ident.matches("1x"));
        assert!(!NameRule::Ident.matches("a.b"));
        assert!(NameRule::OutputKey.matches("a.b-c"));
        assert!(NameRule::EnvVar.matches("LOG_LEVEL"));
        assert!(!NameRule::EnvVar.matches("LOG-LEVEL"));
    }
}

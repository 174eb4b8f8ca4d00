//! Tokens of the expression language.
//!
//! The lexer works on a window `[start, end)` of a larger text so that every offset it reports is
//! an offset into the whole text (a template's expressions are lexed in place).

use crate::ExprError;
use serde_json::Number;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    Ident(String),
    Number(Number),
    Str(String),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Dot,
    Comma,
    Not,
    EqEq,
    NotEq,
    Lt,
    Le,
    Gt,
    Ge,
    AndAnd,
    OrOr,
    End,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub tok: Tok,
    pub start: usize,
    pub end: usize,
}

pub(crate) fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

pub(crate) fn is_ident_continue(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// Whether `s` is a whole identifier (`[A-Za-z_][A-Za-z0-9_-]*`).
pub(crate) fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if is_ident_start(c)) && chars.all(is_ident_continue)
}

/// Shows at most `max` characters of `s`, with `…` when cut.
pub(crate) fn shorten(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", s.get(..i).unwrap_or(s)),
        None => s.to_string(),
    }
}

/// How a token is named in an error message ("`)`", "number `1`", "the end of the expression").
pub(crate) fn describe(src: &str, token: &Token) -> String {
    let text = src.get(token.start..token.end).unwrap_or("");
    match &token.tok {
        Tok::End => "the end of the expression".to_string(),
        Tok::Number(_) => format!("number `{}`", shorten(text, 30)),
        Tok::Str(_) => format!("string {}", shorten(text, 30)),
        Tok::Ident(name) => format!("`{}`", shorten(name, 30)),
        _ => format!("`{text}`"),
    }
}

/// The result of scanning a string literal that starts at a quote.
pub(crate) enum StringScan {
    /// The literal's value and the offset just past its closing quote.
    Closed(String, usize),
    /// No closing quote before the end of the window.
    Unterminated,
    /// A bad backslash escape in a double-quoted string, at this offset.
    BadEscape(usize, char),
}

/// Scan a string literal whose opening quote (`'` or `"`) is at `start`.
///
/// Single-quoted strings escape a quote by doubling it (`'it''s'`) and have no other escapes.
/// Double-quoted strings know `\"`, `\\`, `\n`, `\t` and `\r`.
pub(crate) fn scan_string(src: &str, start: usize, end: usize) -> StringScan {
    let window = src.get(..end).unwrap_or(src);
    let Some(rest) = window.get(start..) else {
        return StringScan::Unterminated;
    };
    let mut chars = rest.char_indices().peekable();
    let quote = match chars.next() {
        Some((_, q)) if q == '\'' || q == '"' => q,
        _ => return StringScan::Unterminated,
    };
    let mut value = String::new();
    while let Some((i, c)) = chars.next() {
        if c == quote {
            if quote == '\'' && matches!(chars.peek(), Some((_, '\''))) {
                chars.next();
                value.push('\'');
                continue;
            }
            return StringScan::Closed(value, start + i + c.len_utf8());
        }
        if c == '\\' && quote == '"' {
            match chars.next() {
                Some((_, '"')) => value.push('"'),
                Some((_, '\\')) => value.push('\\'),
                Some((_, 'n')) => value.push('\n'),
                Some((_, 't')) => value.push('\t'),
                Some((_, 'r')) => value.push('\r'),
                Some((j, other)) => return StringScan::BadEscape(start + j - 1, other),
                None => return StringScan::Unterminated,
            }
            continue;
        }
        value.push(c);
    }
    StringScan::Unterminated
}

pub(crate) struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    end: usize,
}

impl<'a> Lexer<'a> {
    /// A lexer over `src[start..end]`; offsets are offsets into `src`.
    pub fn new(src: &'a str, start: usize, end: usize) -> Lexer<'a> {
        let end = end.min(src.len());
        Lexer {
            src,
            pos: start.min(end),
            end,
        }
    }

    fn rest(&self) -> &'a str {
        self.src.get(self.pos..self.end).unwrap_or("")
    }

    fn peek_char(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn peek_char_at(&self, n: usize) -> Option<char> {
        self.rest().chars().nth(n)
    }

    fn error(&self, offset: usize, message: impl Into<String>) -> ExprError {
        ExprError {
            offset,
            message: message.into(),
        }
    }

    fn token(&self, tok: Tok, start: usize) -> Token {
        Token {
            tok,
            start,
            end: self.pos,
        }
    }

    pub fn next_token(&mut self) -> Result<Token, ExprError> {
        while let Some(c) = self.peek_char() {
            if c.is_whitespace() {
                self.pos += c.len_utf8();
            } else {
                break;
            }
        }
        let start = self.pos;
        let Some(c) = self.peek_char() else {
            return Ok(self.token(Tok::End, start));
        };
        let next = self.peek_char_at(1);
        let two = |lexer: &mut Lexer<'a>, tok: Tok| {
            lexer.pos += 2;
            Ok(lexer.token(tok, start))
        };
        let one = |lexer: &mut Lexer<'a>, tok: Tok| {
            lexer.pos += 1;
            Ok(lexer.token(tok, start))
        };
        match c {
            '(' => one(self, Tok::LParen),
            ')' => one(self, Tok::RParen),
            '[' => one(self, Tok::LBracket),
            ']' => one(self, Tok::RBracket),
            '.' => one(self, Tok::Dot),
            ',' => one(self, Tok::Comma),
            '=' if next == Some('=') => two(self, Tok::EqEq),
            '!' if next == Some('=') => two(self, Tok::NotEq),
            '!' => one(self, Tok::Not),
            '<' if next == Some('=') => two(self, Tok::Le),
            '<' => one(self, Tok::Lt),
            '>' if next == Some('=') => two(self, Tok::Ge),
            '>' => one(self, Tok::Gt),
            '&' if next == Some('&') => two(self, Tok::AndAnd),
            '|' if next == Some('|') => two(self, Tok::OrOr),
            '\'' | '"' => self.string(start),
            c if c.is_ascii_digit() => self.number(start),
            '-' if next.is_some_and(|d| d.is_ascii_digit()) => self.number(start),
            c if is_ident_start(c) => {
                let len = self
                    .rest()
                    .find(|c: char| !is_ident_continue(c))
                    .unwrap_or(self.rest().len());
                let name = self.rest().get(..len).unwrap_or("").to_string();
                self.pos += len;
                Ok(self.token(Tok::Ident(name), start))
            }
            '=' => Err(self.error(start, "unexpected `=`: use `==` to compare two values")),
            '&' => Err(self.error(start, "unexpected `&`: use `&&` for \"and\"")),
            '|' => Err(self.error(start, "unexpected `|`: use `||` for \"or\"")),
            '-' => Err(self.error(
                start,
                "unexpected `-`: expressions have no arithmetic (a `-` may only appear inside a \
                 name such as `build-linux`, or directly before the digits of a negative number)",
            )),
            '+' | '*' | '/' | '%' => Err(self.error(
                start,
                format!("unexpected `{c}`: expressions have no arithmetic"),
            )),
            '$' if self.rest().starts_with("${{") => Err(self.error(
                start,
                "unexpected `${{` inside an expression: `${{ … }}` cannot be nested \
                 (inside an expression, refer to values directly, e.g. `inputs.name`)",
            )),
            '}' if next == Some('}') => Err(self.error(
                start,
                "unexpected `}}`: it closes a `${{` that was never opened",
            )),
            other => Err(self.error(
                start,
                format!("unexpected character `{}`", other.escape_debug()),
            )),
        }
    }

    fn string(&mut self, start: usize) -> Result<Token, ExprError> {
        match scan_string(self.src, start, self.end) {
            StringScan::Closed(value, after) => {
                self.pos = after;
                Ok(self.token(Tok::Str(value), start))
            }
            StringScan::Unterminated => {
                let quote = self.peek_char().unwrap_or('\'');
                Err(self.error(
                    start,
                    format!(
                        "unterminated string: expected a closing `{quote}`, found the end of the expression{}",
                        if quote == '\'' {
                            " (write a quote inside a single-quoted string as `''`)"
                        } else {
                            ""
                        }
                    ),
                ))
            }
            StringScan::BadEscape(at, c) => Err(self.error(
                at,
                format!(
                    "unknown escape `\\{}` in a double-quoted string: expected one of `\\\"`, `\\\\`, `\\n`, `\\t`, `\\r`",
                    c.escape_debug()
                ),
            )),
        }
    }

    fn number(&mut self, start: usize) -> Result<Token, ExprError> {
        let rest = self.rest();
        let bytes = rest.as_bytes();
        let mut i = 0;
        if bytes.first() == Some(&b'-') {
            i += 1;
        }
        let digits = |i: &mut usize| {
            while bytes.get(*i).is_some_and(u8::is_ascii_digit) {
                *i += 1;
            }
        };
        digits(&mut i);
        let mut is_float = false;
        if bytes.get(i) == Some(&b'.') && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
            is_float = true;
            i += 1;
            digits(&mut i);
        }
        if matches!(bytes.get(i), Some(b'e' | b'E')) {
            let mut j = i + 1;
            if matches!(bytes.get(j), Some(b'+' | b'-')) {
                j += 1;
            }
            if bytes.get(j).is_some_and(u8::is_ascii_digit) {
                is_float = true;
                i = j;
                digits(&mut i);
            }
        }
        let text = rest.get(..i).unwrap_or("");
        // A number directly followed by a name character is a typo, not two tokens.
        if let Some(c) = rest.get(i..).and_then(|r| r.chars().next()) {
            if c.is_ascii_alphanumeric() || c == '_' {
                let bad_len = rest
                    .get(i..)
                    .and_then(|r| r.find(|c: char| !is_ident_continue(c)))
                    .map_or(rest.len(), |n| n + i);
                return Err(self.error(
                    start,
                    format!(
                        "invalid number `{}`: a name cannot start with a digit",
                        shorten(rest.get(..bad_len).unwrap_or(text), 30)
                    ),
                ));
            }
        }
        let number = parse_number_literal(text, is_float).ok_or_else(|| {
            self.error(
                start,
                format!("number `{}` is out of range", shorten(text, 30)),
            )
        })?;
        self.pos += i;
        Ok(self.token(Tok::Number(number), start))
    }
}

/// An integer literal stays an integer when it fits in 64 bits; anything else is a float.
fn parse_number_literal(text: &str, is_float: bool) -> Option<Number> {
    if !is_float {
        if let Ok(n) = text.parse::<i64>() {
            return Some(Number::from(n));
        }
        if let Ok(n) = text.parse::<u64>() {
            return Some(Number::from(n));
        }
    }
    text.parse::<f64>().ok().and_then(Number::from_f64)
}

/// Why a template's `${{` has no matching `}}`.
pub(crate) enum ScanEnd {
    /// The text ends before any `}}`.
    Missing,
    /// A string literal opened at this offset runs to the end of the text.
    OpenString(usize),
}

/// Find the `}}` that closes an expression starting at `from`, skipping string literals so that a
/// `}}` inside a quoted string does not end the expression. Returns the offset of that `}}`.
pub(crate) fn find_expr_end(src: &str, from: usize) -> Result<usize, ScanEnd> {
    let mut pos = from;
    loop {
        let Some(rest) = src.get(pos..) else {
            return Err(ScanEnd::Missing);
        };
        let Some(c) = rest.chars().next() else {
            return Err(ScanEnd::Missing);
        };
        if rest.starts_with("}}") {
            return Ok(pos);
        }
        if c == '\'' || c == '"' {
            match scan_string(src, pos, src.len()) {
                StringScan::Closed(_, after) => pos = after,
                StringScan::Unterminated => return Err(ScanEnd::OpenString(pos)),
                // A bad escape is reported when the expression is parsed; skip past it here.
                StringScan::BadEscape(at, c) => {
                    pos = at + 1 + c.len_utf8();
                    // Keep scanning inside the string: find its real end by rescanning leniently.
                    match skip_string_lenient(src, pos) {
                        Some(after) => pos = after,
                        None => return Err(ScanEnd::OpenString(at)),
                    }
                }
            }
            continue;
        }
        pos += c.len_utf8();
    }
}

/// After a bad escape in a double-quoted string: continue to the closing `"`, honouring `\x` pairs.
fn skip_string_lenient(src: &str, from: usize) -> Option<usize> {
    let rest = src.get(from..)?;
    let mut chars = rest.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some(from + i + 1),
            '\\' => {
                chars.next();
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lex_all(s: &str) -> Result<Vec<Tok>, ExprError> {
        let mut lexer = Lexer::new(s, 0, s.len());
        let mut out = Vec::new();
        loop {
            let t = lexer.next_token()?;
            if t.tok == Tok::End {
                return Ok(out);
            }
            out.push(t.tok);
        }
    }

    #[test]
    fn lexes_hyphenated_names_as_one_identifier() {
        assert_eq!(
            lex_all("a.build-linux").unwrap(),
            vec![
                Tok::Ident("a".into()),
                Tok::Dot,
                Tok::Ident("build-linux".into())
            ]
        );
    }

    #[test]
    fn lexes_numbers() {
        assert_eq!(lex_all("-1").unwrap(), vec![Tok::Number((-1).into())]);
        assert_eq!(
            lex_all("2.5e1").unwrap(),
            vec![Tok::Number(Number::from_f64(25.0).unwrap())]
        );
        assert_eq!(
            lex_all("1.x").unwrap(),
            vec![Tok::Number(1.into()), Tok::Dot, Tok::Ident("x".into())]
        );
        assert!(lex_all("1abc").is_err());
    }

    #[test]
    fn scans_strings() {
        assert_eq!(
            lex_all(r#"'it''s' "a\"b\\""#).unwrap(),
            vec![Tok::Str("it's".into()), Tok::Str("a\"b\\".into())]
        );
    }

    #[test]
    fn finds_end_of_expression_past_quoted_braces() {
        let s = "${{ '}}' }} rest";
        assert_eq!(find_expr_end(s, 3).ok(), Some(9));
        assert!(matches!(
            find_expr_end("${{ 'x }}", 3),
            Err(ScanEnd::OpenString(4))
        ));
        assert!(matches!(find_expr_end("${{ x", 3), Err(ScanEnd::Missing)));
        // A bad escape does not hide the real end of the string.
        assert_eq!(find_expr_end(r#"${{ "\q}}" }}"#, 3).ok(), Some(11));
    }

    #[test]
    fn shorten_cuts_on_char_boundaries() {
        assert_eq!(shorten("ééé", 2), "éé…");
        assert_eq!(shorten("ab", 2), "ab");
    }
}

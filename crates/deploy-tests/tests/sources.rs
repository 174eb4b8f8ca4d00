//! A check of the workspace's Rust sources as text: no string literal of production code
//! (`crates/*/src`, `crates/*/build.rs`) breaks a line by accident. A message continued on the
//! next line without a trailing `\` keeps the line break and the next line's indentation
//! (`"… letters, digits and\n                     `-`, …"`), which is how three error messages
//! of the server's configuration once showed runs of 20 spaces. A literal meant to hold
//! several lines starts with `"\` and a line break (a text block, like the CLI's help texts).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use co_deploy_tests::repo_root;

/// Every production `.rs` file: `crates/*/src/**` and `crates/*/build.rs`.
fn production_sources() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    for krate in std::fs::read_dir(repo_root().join("crates")).unwrap() {
        let krate = krate.unwrap().path();
        if krate.join("src").is_dir() {
            walk(&krate.join("src"), &mut out);
        }
        if krate.join("build.rs").is_file() {
            out.push(krate.join("build.rs"));
        }
    }
    out.sort();
    out
}

/// `(line, text as written)` of every non-raw string literal (`"…"`, `b"…"`) in Rust source:
/// comments, character literals and raw strings (`r#"…"#`) are skipped.
fn string_literals(src: &str) -> Vec<(usize, String)> {
    let b = src.as_bytes();
    let line_of = |at: usize| src[..at].matches('\n').count() + 1;
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i..].starts_with(b"//") {
            i = src[i..].find('\n').map_or(b.len(), |n| i + n);
        } else if b[i..].starts_with(b"/*") {
            i = src[i + 2..].find("*/").map_or(b.len(), |n| i + 2 + n + 2);
        } else if b[i] == b'r'
            && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_'))
            && matches!(b.get(i + 1), Some(b'"' | b'#'))
        {
            let hashes = b[i + 1..].iter().take_while(|&&c| c == b'#').count();
            if b.get(i + 1 + hashes) != Some(&b'"') {
                i += 1;
                continue;
            }
            let close = format!("\"{}", "#".repeat(hashes));
            let body = i + 2 + hashes;
            i = src[body..]
                .find(&close)
                .map_or(b.len(), |n| body + n + close.len());
        } else if b[i] == b'\'' {
            // A character literal ('x', '\n', '\'', '\u{1F600}') or a lifetime ('a).
            let end = if b.get(i + 1) == Some(&b'\\') {
                src[i + 2..].find('\'').map(|n| i + 2 + n)
            } else {
                src[i + 1..]
                    .char_indices()
                    .nth(1)
                    .filter(|(_, c)| *c == '\'')
                    .map(|(n, _)| i + 1 + n)
            };
            i = end.map_or(i + 1, |e| e + 1);
        } else if b[i] == b'"' {
            let start = i + 1;
            let mut j = start;
            while j < b.len() && b[j] != b'"' {
                j += if b[j] == b'\\' { 2 } else { 1 };
            }
            out.push((line_of(start), src[start..j.min(b.len())].to_string()));
            i = j + 1;
        } else {
            i += 1;
        }
    }
    out
}

/// Whether a literal's text (as written) holds a line break that is not a `\` continuation and
/// is not part of a text block.
fn breaks_a_line_by_accident(text: &str) -> bool {
    if text.starts_with("\\\n") {
        return false;
    }
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'\n' => return true,
            _ => i += 1,
        }
    }
    false
}

#[test]
fn no_message_breaks_a_line_by_accident() {
    let mut found = Vec::new();
    let root = repo_root();
    let sources = production_sources();
    assert!(sources.len() > 50, "{sources:?}");
    for path in sources {
        let src = std::fs::read_to_string(&path).unwrap();
        for (line, text) in string_literals(&src) {
            if breaks_a_line_by_accident(&text) {
                let shown: String = text.chars().take(80).collect();
                let shown_path = path.strip_prefix(&root).unwrap_or(&path);
                found.push(format!("{}:{line}: {shown:?}", shown_path.display()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "string literals with a line break that is not a `\\` continuation (end the line with \
         `\\`, or start a text block with `\"\\` and a line break):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_lexer_finds_what_it_should() {
    let src = "// \"in a comment\n\
               \n\
               /* \"in a block\" */ let c = '\"'; let l: &'a str = r#\"raw \"quoted\"\n  x\"#;\n\
               let m = format!(\"one \\\n    two\");\n\
               let bad = \"one\n                   two\";\n\
               let block = \"\\\nline one\n  line two\";\n";
    let literals = string_literals(src);
    let texts: Vec<&str> = literals.iter().map(|(_, t)| t.as_str()).collect();
    assert_eq!(
        texts,
        [
            "one \\\n    two",
            "one\n                   two",
            "\\\nline one\n  line two"
        ]
    );
    assert_eq!(literals[1].0, 7);
    let flagged: Vec<bool> = texts.iter().map(|t| breaks_a_line_by_accident(t)).collect();
    assert_eq!(flagged, [false, true, false]);
}

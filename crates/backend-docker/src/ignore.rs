//! `.dockerignore` / `.containerignore` matching, as Docker documents it:
//!
//! - one pattern per line; blank lines and lines starting with `#` are ignored;
//! - `*` matches any run of characters except `/`, `?` one such character, `[...]` a class
//!   (`[a-z]`, `[^a]`/`[!a]`), `\` escapes; a whole `**` segment matches any number of directories;
//! - patterns are relative to the context root (a leading `/` is dropped); a pattern that matches a
//!   directory excludes everything below it;
//! - `!pattern` re-includes; the last matching line wins.

#[derive(Debug, Clone, Default)]
pub(crate) struct Matcher {
    rules: Vec<Rule>,
}

#[derive(Debug, Clone)]
struct Rule {
    negate: bool,
    segments: Vec<String>,
}

impl Matcher {
    pub(crate) fn parse(text: &str) -> Self {
        let mut rules = Vec::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (negate, pat) = match line.strip_prefix('!') {
                Some(rest) => (true, rest.trim()),
                None => (false, line),
            };
            let segments: Vec<String> = pat
                .split('/')
                .filter(|s| !s.is_empty() && *s != ".")
                .map(str::to_string)
                .collect();
            if segments.is_empty() {
                continue;
            }
            rules.push(Rule { negate, segments });
        }
        Matcher { rules }
    }

    /// Whether any rule re-includes (then an excluded directory must still be walked).
    pub(crate) fn has_negations(&self) -> bool {
        self.rules.iter().any(|r| r.negate)
    }

    /// Whether `path` (relative, `/`-separated) is excluded from the context.
    pub(crate) fn excluded(&self, path: &str) -> bool {
        let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let mut excluded = false;
        for rule in &self.rules {
            // The pattern matches the path itself or one of its parent directories.
            let hit = (1..=segs.len()).any(|n| match_segments(&rule.segments, &segs[..n]));
            if hit {
                excluded = !rule.negate;
            }
        }
        excluded
    }
}

fn match_segments(pat: &[String], path: &[&str]) -> bool {
    match pat.split_first() {
        None => path.is_empty(),
        Some((first, rest)) if first == "**" => {
            (0..=path.len()).any(|skip| match_segments(rest, &path[skip..]))
        }
        Some((first, rest)) => match path.split_first() {
            Some((p, prest)) => glob(first.as_bytes(), p.as_bytes()) && match_segments(rest, prest),
            None => false,
        },
    }
}

/// Go's `filepath.Match` for one path segment.
fn glob(pat: &[u8], s: &[u8]) -> bool {
    match pat.split_first() {
        None => s.is_empty(),
        Some((b'*', rest)) => (0..=s.len()).any(|i| glob(rest, &s[i..])),
        Some((b'?', rest)) => !s.is_empty() && glob(rest, &s[1..]),
        Some((b'[', rest)) => {
            let Some((&c, s_rest)) = s.split_first() else {
                return false;
            };
            match class(rest, c) {
                Some((true, after)) => glob(after, s_rest),
                _ => false,
            }
        }
        Some((b'\\', rest)) if !rest.is_empty() => {
            !s.is_empty() && s[0] == rest[0] && glob(&rest[1..], &s[1..])
        }
        Some((&p, rest)) => !s.is_empty() && s[0] == p && glob(rest, &s[1..]),
    }
}

/// Match `c` against the class starting after `[`; `(matched, rest after ']')`, or `None` if the
/// class is malformed (then the pattern matches nothing).
fn class(pat: &[u8], c: u8) -> Option<(bool, &[u8])> {
    let (negated, mut i) = match pat.first() {
        Some(b'^') | Some(b'!') => (true, 1),
        _ => (false, 0),
    };
    let mut matched = false;
    let mut first = true;
    loop {
        let &b = pat.get(i)?;
        if b == b']' && !first {
            return Some((matched != negated, &pat[i + 1..]));
        }
        first = false;
        let lo = if b == b'\\' {
            i += 1;
            *pat.get(i)?
        } else {
            b
        };
        i += 1;
        if pat.get(i) == Some(&b'-') && pat.get(i + 1).is_some_and(|&n| n != b']') {
            let hi = if pat[i + 1] == b'\\' {
                i += 1;
                *pat.get(i + 1)?
            } else {
                pat[i + 1]
            };
            i += 2;
            if lo <= c && c <= hi {
                matched = true;
            }
        } else if lo == c {
            matched = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_examples() {
        let m = Matcher::parse(
            "# comment\n*/temp*\n*/*/temp*\ntemp?\n*.md\n!README*.md\nREADME-secret.md\n/target\n",
        );
        assert!(m.excluded("somedir/temporary.txt"));
        assert!(m.excluded("somedir/temp"));
        assert!(m.excluded("somedir/subdir/temporary.txt"));
        assert!(m.excluded("tempa"));
        assert!(!m.excluded("tempab"));
        assert!(m.excluded("notes.md"));
        assert!(!m.excluded("README.md"));
        assert!(m.excluded("README-secret.md"));
        assert!(m.excluded("target"));
        assert!(m.excluded("target/debug/x"));
        assert!(!m.excluded("src/main.rs"));
        assert!(m.has_negations());
    }

    #[test]
    fn double_star_and_classes() {
        let m = Matcher::parse("**/*.log\n[ab]?.txt\nx[!0-9]\n");
        assert!(m.excluded("a.log"));
        assert!(m.excluded("deep/down/b.log"));
        assert!(m.excluded("a1.txt"));
        assert!(!m.excluded("c1.txt"));
        assert!(m.excluded("xa"));
        assert!(!m.excluded("x1"));
        assert!(!m.has_negations());
    }

    #[test]
    fn directory_pattern_excludes_its_contents_unless_reincluded() {
        let m = Matcher::parse("build\n!build/keep.txt\n");
        assert!(m.excluded("build/a.o"));
        assert!(!m.excluded("build/keep.txt"));
    }

    #[test]
    fn malformed_class_matches_nothing() {
        let m = Matcher::parse("[abc\n");
        assert!(!m.excluded("a"));
    }
}

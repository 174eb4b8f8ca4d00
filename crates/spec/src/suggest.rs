//! "Did you mean …?" suggestions.

/// The candidate closest to `word`, if it is close enough to be a likely typo.
///
/// Close means: equal ignoring case and `_`/`-`, a shared stem (see [`shares_stem`]), or a
/// Damerau–Levenshtein distance of at most one edit per three characters (at least one).
pub(crate) fn suggest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    close_names(word, candidates).into_iter().next()
}

/// Every candidate close to `word` (as [`suggest`] measures it), closest first (ties in the
/// candidates' order), without `word` itself.
pub(crate) fn close_names<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Vec<&'a str> {
    let norm = |s: &str| s.to_ascii_lowercase().replace('_', "-");
    let w = norm(word);
    let limit = (w.chars().count() / 3).max(1);
    let mut close: Vec<(usize, &'a str)> = Vec::new();
    for c in candidates {
        if c == word || close.iter().any(|(_, seen)| *seen == c) {
            continue;
        }
        let nc = norm(c);
        let d = if nc == w {
            0
        } else if shares_stem(&w, &nc) {
            limit
        } else {
            strsim::damerau_levenshtein(&w, &nc)
        };
        if d <= limit {
            close.push((d, c));
        }
    }
    // Stable: equally close names keep their order.
    close.sort_by_key(|(d, _)| *d);
    close.into_iter().map(|(_, c)| c).collect()
}

/// Both start with the same stem of at least four characters that covers all but the last
/// character of the shorter one (`retries`/`retry`, `state`/`status`).
fn shares_stem(a: &str, b: &str) -> bool {
    let common = a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count();
    let shorter = a.chars().count().min(b.chars().count());
    common >= 4 && common + 1 >= shorter
}

/// `"; did you mean `x`?"` or nothing.
pub(crate) fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> String {
    match suggest(word, candidates) {
        Some(s) => format!("; did you mean `{s}`?"),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::{close_names, suggest};

    #[test]
    fn suggestions() {
        let fields = ["name", "image", "timeout", "max-parallel", "env", "needs"];
        assert_eq!(suggest("timout", fields), Some("timeout"));
        assert_eq!(suggest("tiemout", fields), Some("timeout"));
        assert_eq!(suggest("Image", fields), Some("image"));
        assert_eq!(suggest("max_parallel", fields), Some("max-parallel"));
        assert_eq!(suggest("need", fields), Some("needs"));
        assert_eq!(suggest("envs", fields), Some("env"));
        assert_eq!(suggest("banana", fields), None);
        assert_eq!(suggest("retries", ["retry", "resources"]), Some("retry"));
        assert_eq!(suggest("state", ["outputs", "status"]), Some("status"));
        assert_eq!(suggest("time", fields), Some("timeout"));
        assert_eq!(suggest("stage", fields), None);
        assert_eq!(suggest("x", fields), None);
    }

    #[test]
    fn close_names_closest_first() {
        let names = ["hello", "help", "world", "hallo", "hello"];
        assert_eq!(close_names("helo", names), ["hello", "help"]);
        assert_eq!(close_names("hello", names), ["hallo"]);
        assert_eq!(close_names("wrld", names), ["world"]);
        assert!(close_names("nope", names).is_empty());
    }
}

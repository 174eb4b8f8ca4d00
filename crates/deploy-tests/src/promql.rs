//! The metric names a PromQL expression selects, for checking dashboards against the metrics
//! the server exposes. A small lexer, not a full parser: it skips string literals, label
//! matchers (`{…}`), ranges and subqueries (`[…]`), numbers and durations, Grafana variables
//! (`$instance`, `${x}`), keywords, and the label lists of `by`/`without`/`on`/`ignoring`/
//! `group_left`/`group_right`; every other name not followed by `(` or by `by`/`without` (a
//! function or an aggregation) is a metric.

/// Names that are never metrics where they stand (binary operators, modifiers, literals).
const KEYWORDS: &[&str] = &[
    "and", "or", "unless", "bool", "offset", "atan2", "inf", "nan", "Inf", "NaN",
];

/// Keywords followed by a parenthesised list of label names.
const LABEL_LISTS: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];

/// The metric names `expr` selects, in order of appearance (with repeats). An error for what
/// this lexer cannot vouch for: an unterminated string, unbalanced brackets or parentheses, or
/// a selector by `__name__` (a dashboard should name its metrics).
pub fn metric_names(expr: &str) -> Result<Vec<String>, String> {
    let chars: Vec<char> = expr.chars().collect();
    let mut names = Vec::new();
    let mut parens = 0usize;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '(' => {
                parens += 1;
                i += 1;
            }
            ')' => {
                parens = parens
                    .checked_sub(1)
                    .ok_or_else(|| format!("{expr}: a `)` closes nothing"))?;
                i += 1;
            }
            '"' | '\'' | '`' => i = skip_string(&chars, i)?,
            '{' => {
                let end = skip_group(&chars, i, '{', '}')?;
                let matchers: String = chars[i..end].iter().collect();
                if matchers.contains("__name__") {
                    return Err(format!("{expr}: selects metrics by __name__"));
                }
                i = end;
            }
            '[' => i = skip_group(&chars, i, '[', ']')?,
            '$' => {
                i += 1;
                if chars.get(i) == Some(&'{') {
                    i = skip_group(&chars, i, '{', '}')?;
                } else {
                    while i < chars.len() && is_name_char(chars[i]) {
                        i += 1;
                    }
                }
            }
            c if c.is_ascii_digit()
                || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) =>
            {
                // Numbers (1e-9, 0x1f) and durations (5m, 1h30m).
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                    i += 1;
                }
                // An exponent's sign: 1e-9.
                if i < chars.len()
                    && matches!(chars[i], '-' | '+')
                    && chars[i - 1].eq_ignore_ascii_case(&'e')
                    && chars[i - 2].is_ascii_digit()
                {
                    i += 1;
                    while i < chars.len() && chars[i].is_ascii_digit() {
                        i += 1;
                    }
                }
            }
            c if is_name_start(c) => {
                let start = i;
                while i < chars.len() && is_name_char(chars[i]) {
                    i += 1;
                }
                let name: String = chars[start..i].iter().collect();
                let mut next = i;
                while next < chars.len() && chars[next].is_whitespace() {
                    next += 1;
                }
                // `sum(…)`, or an aggregation with its grouping first: `sum by (le) (…)`.
                let word: String = chars[next..]
                    .iter()
                    .take_while(|c| is_name_char(**c))
                    .collect();
                let call = chars.get(next) == Some(&'(') || word == "by" || word == "without";
                if LABEL_LISTS.contains(&name.as_str()) {
                    if call {
                        i = skip_group(&chars, next, '(', ')')?;
                    }
                } else if !call && !KEYWORDS.contains(&name.as_str()) {
                    names.push(name);
                }
            }
            _ => i += 1,
        }
    }
    if parens > 0 {
        return Err(format!("{expr}: {parens} `(` not closed"));
    }
    Ok(names)
}

/// The metric names of a Grafana variable query: `label_values(EXPR, LABEL)` names those of
/// `EXPR` (`label_values(LABEL)` none); any other query is PromQL.
pub fn variable_query_metric_names(query: &str) -> Result<Vec<String>, String> {
    let trimmed = query.trim();
    let Some(inner) = trimmed
        .strip_prefix("label_values(")
        .and_then(|rest| rest.strip_suffix(')'))
    else {
        return metric_names(trimmed);
    };
    match inner.rfind(',') {
        Some(comma) => metric_names(&inner[..comma]),
        None => Ok(Vec::new()),
    }
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == ':'
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == ':'
}

/// The index after the string literal that starts at `start`.
fn skip_string(chars: &[char], start: usize) -> Result<usize, String> {
    let quote = chars[start];
    let mut i = start + 1;
    while i < chars.len() {
        match chars[i] {
            '\\' if quote != '`' => i += 2,
            c if c == quote => return Ok(i + 1),
            _ => i += 1,
        }
    }
    Err(format!(
        "unterminated string: {}",
        chars[start..].iter().collect::<String>()
    ))
}

/// The index after the `close` that matches the `open` at `start` (strings inside skipped).
fn skip_group(chars: &[char], start: usize, open: char, close: char) -> Result<usize, String> {
    let mut depth = 0usize;
    let mut i = start;
    while i < chars.len() {
        match chars[i] {
            '"' | '\'' | '`' => {
                i = skip_string(chars, i)?;
                continue;
            }
            c if c == open => depth += 1,
            c if c == close => {
                depth -= 1;
                if depth == 0 {
                    return Ok(i + 1);
                }
            }
            _ => {}
        }
        i += 1;
    }
    Err(format!(
        "unclosed `{open}`: {}",
        chars[start..].iter().collect::<String>()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(expr: &str) -> Vec<String> {
        metric_names(expr).unwrap()
    }

    #[test]
    fn names_of_selectors_not_of_functions_labels_or_variables() {
        assert_eq!(
            names(
                "histogram_quantile(0.95, sum by (le, route) \
                 (rate(http_seconds_bucket{route=~\"/api/{id}\", instance=~\"$instance\"}[$__rate_interval])))"
            ),
            ["http_seconds_bucket"]
        );
        assert_eq!(
            names("sum(rate(a_total[5m])) / on (job) group_left (version) b_info"),
            ["a_total", "b_info"]
        );
        assert_eq!(
            names("sum(x{status=\"5..\"}) without (instance) > bool 1e-9 and y offset 1h or up"),
            ["x", "y", "up"]
        );
        assert_eq!(
            names("time() - process_start_time_seconds{instance=~\"${instance:regex}\"}"),
            ["process_start_time_seconds"]
        );
        assert_eq!(names("max_over_time(ns:rule:sum[1h:5m])"), ["ns:rule:sum"]);
        assert_eq!(names("clamp_min(sum(a), 1) * .5 + 2"), ["a"]);
    }

    #[test]
    fn what_the_lexer_cannot_vouch_for_is_an_error() {
        assert!(metric_names("{__name__=~\"containerops_.*\"}").is_err());
        assert!(metric_names("rate(a[5m)").is_err());
        assert!(metric_names("a{x=\"unterminated}").is_err());
        assert!(metric_names("sum(rate(a[5m])").is_err());
        assert!(metric_names("sum(a))").is_err());
    }

    #[test]
    fn grafana_variable_queries() {
        assert_eq!(
            variable_query_metric_names("label_values(build_info{job=\"x\"}, instance)").unwrap(),
            ["build_info"]
        );
        assert!(variable_query_metric_names("label_values(instance)")
            .unwrap()
            .is_empty());
        assert_eq!(
            variable_query_metric_names("query_result(sum by (instance) (up))").unwrap(),
            ["up"]
        );
    }
}

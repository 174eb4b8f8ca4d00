//! 5-field cron expressions: our own field checker (for messages that say what is wrong, and for
//! a strict, portable syntax), `croner` for the time arithmetic (time zones, DST), `chrono-tz`
//! for the IANA zone database.
//!
//! Accepted syntax per field (Vixie cron): `*`, a value, a range `a-b`, a step `*/n` or `a-b/n`,
//! and comma-separated lists of these; month and day-of-week names (`jan`…`dec`, `sun`…`sat`,
//! any case); day-of-week 0-7 (0 and 7 are Sunday). Nicknames `@yearly`, `@annually`,
//! `@monthly`, `@weekly`, `@daily`, `@midnight`, `@hourly`. Not accepted: seconds or year fields,
//! Quartz/croner extensions (`?`, `L`, `W`, `#`), `a/n` without a range, `@reboot`.

use std::str::FromStr;

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use croner::parser::{CronParser, Seconds, Year};
use croner::Cron;

/// One of the five fields.
struct FieldSpec {
    /// Name in messages.
    name: &'static str,
    /// Plural for "hours are 0-23".
    plural: &'static str,
    min: u32,
    max: u32,
    /// Names for values `names_base`, `names_base + 1`, … (case-insensitive).
    names: &'static [&'static str],
    names_base: u32,
}

const MONTH_NAMES: &[&str] = &[
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAY_NAMES: &[&str] = &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

const FIELDS: [FieldSpec; 5] = [
    FieldSpec {
        name: "minute",
        plural: "minutes are",
        min: 0,
        max: 59,
        names: &[],
        names_base: 0,
    },
    FieldSpec {
        name: "hour",
        plural: "hours are",
        min: 0,
        max: 23,
        names: &[],
        names_base: 0,
    },
    FieldSpec {
        name: "day-of-month",
        plural: "days of the month are",
        min: 1,
        max: 31,
        names: &[],
        names_base: 0,
    },
    FieldSpec {
        name: "month",
        plural: "months are",
        min: 1,
        max: 12,
        names: MONTH_NAMES,
        names_base: 1,
    },
    FieldSpec {
        name: "day-of-week",
        plural: "days of the week are",
        min: 0,
        max: 7,
        names: DAY_NAMES,
        names_base: 0,
    },
];

const SHAPE: &str = "minute hour day-of-month month day-of-week";

/// A checked field: its text for croner (names replaced by numbers) and the values it matches.
struct Field {
    normalized: String,
    /// Bit `v` set: value `v` matches (day-of-week 7 is folded into 0).
    values: u64,
    star: bool,
}

/// A parsed schedule, ready to compute ticks.
#[derive(Debug, Clone)]
pub(crate) struct Parsed {
    pub cron: Cron,
    pub tz: Tz,
}

pub(crate) fn parse(expression: &str, timezone: Option<&str>) -> Result<Parsed, String> {
    let tz = match timezone {
        Some(name) => zone(name)?,
        None => Tz::UTC,
    };
    let normalized = normalize(expression)?;
    let parser = CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .build();
    // Our own check accepted it, so croner's parser should too; if it does not, say so in its
    // words rather than fail silently.
    let cron = parser
        .parse(&normalized)
        .map_err(|e| format!("the schedule `{normalized}` was not accepted: {e}"))?;
    Ok(Parsed { cron, tz })
}

/// The first tick strictly after `after_ms`.
pub(crate) fn next_after(parsed: &Parsed, after_ms: i64) -> Option<i64> {
    let mut from = after_ms;
    // croner searches from the whole second; a tick at or before `after_ms` can only come back
    // through an unexpected rounding, in which case the search goes on from it (bounded).
    for _ in 0..4 {
        let utc: DateTime<Utc> = DateTime::from_timestamp_millis(from)?;
        let local = utc.with_timezone(&parsed.tz);
        let next = parsed.cron.find_next_occurrence(&local, false).ok()?;
        let ms = next.timestamp_millis();
        if ms > after_ms {
            return Some(ms);
        }
        from = ms.max(from).checked_add(1000)?;
    }
    None
}

/// Check an IANA time zone name.
pub(crate) fn zone(name: &str) -> Result<Tz, String> {
    let trimmed = name.trim();
    if let Ok(tz) = Tz::from_str(trimmed) {
        return Ok(tz);
    }
    let hint = zone_suggestion(trimmed)
        .map(|s| format!("did you mean `{s}`?"))
        .unwrap_or_else(|| {
            "use an IANA time zone name like `Europe/Berlin`, `America/New_York` or `UTC`"
                .to_string()
        });
    Err(format!(
        "unknown time zone `{}`; {hint}",
        shorten(trimmed, 60)
    ))
}

fn zone_suggestion(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        return None;
    }
    let lower = name.to_ascii_lowercase().replace(' ', "_");
    let all = chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name());
    // Same name in another case, or with spaces for underscores.
    if let Some(n) = all.clone().find(|n| n.to_ascii_lowercase() == lower) {
        return Some(n);
    }
    // A bare city: `Berlin` → `Europe/Berlin`.
    if !lower.contains('/') {
        if let Some(n) = all.clone().find(|n| {
            n.contains('/')
                && n.rsplit('/')
                    .next()
                    .is_some_and(|city| city.to_ascii_lowercase() == lower)
        }) {
            return Some(n);
        }
    }
    // A typo.
    let limit = (lower.chars().count() / 5).clamp(1, 3);
    let mut best: Option<(usize, &'static str)> = None;
    for n in all {
        let d = strsim::damerau_levenshtein(&lower, &n.to_ascii_lowercase());
        if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, n));
        }
    }
    best.map(|(_, n)| n)
}

/// Check the expression and turn it into the numeric 5-field form croner gets.
fn normalize(expression: &str) -> Result<String, String> {
    let text = expression.trim();
    if text.is_empty() {
        return Err(format!(
            "the schedule is empty; write 5 fields ({SHAPE}), like `0 3 * * 1-5`"
        ));
    }
    if let Some(nick) = text.strip_prefix('@') {
        return nickname(nick).map(str::to_string);
    }
    let parts: Vec<&str> = text.split_whitespace().collect();
    match parts.len() {
        5 => {}
        6 => {
            return Err(format!(
                "the schedule has 6 fields, but ContainerOps schedules have 5 ({SHAPE}) with \
                 minute precision; seconds (or a year) cannot be given. If the first field is \
                 seconds, drop it: `{}`",
                parts.get(1..).map(|p| p.join(" ")).unwrap_or_default()
            ))
        }
        7 => {
            return Err(format!(
                "the schedule has 7 fields (seconds and year, as in Quartz), but ContainerOps \
                 schedules have 5 ({SHAPE}); drop the seconds and year: `{}`",
                parts.get(1..6).map(|p| p.join(" ")).unwrap_or_default()
            ))
        }
        n => {
            return Err(format!(
                "the schedule has {n} field{}, but needs 5 ({SHAPE}), like `0 3 * * 1-5`",
                if n == 1 { "" } else { "s" }
            ))
        }
    }
    let mut fields = Vec::with_capacity(5);
    for (text, spec) in parts.iter().zip(FIELDS.iter()) {
        fields.push(field(text, spec)?);
    }
    if let [_, _, dom, month, dow] = fields.as_slice() {
        impossible_days(dom, month, dow)?;
    }
    Ok(fields
        .iter()
        .map(|f| f.normalized.as_str())
        .collect::<Vec<_>>()
        .join(" "))
}

fn nickname(nick: &str) -> Result<&'static str, String> {
    match nick.to_ascii_lowercase().as_str() {
        "yearly" | "annually" => Ok("0 0 1 1 *"),
        "monthly" => Ok("0 0 1 * *"),
        "weekly" => Ok("0 0 * * 0"),
        "daily" | "midnight" => Ok("0 0 * * *"),
        "hourly" => Ok("0 * * * *"),
        "reboot" => Err(
            "`@reboot` is not a schedule (a server has no reboot to run at); \
             use 5 fields or one of @hourly, @daily, @weekly, @monthly, @yearly"
                .to_string(),
        ),
        _ => Err(format!(
            "unknown nickname `@{}`; use @hourly, @daily (@midnight), @weekly, @monthly or \
             @yearly (@annually), or 5 fields ({SHAPE})",
            shorten(nick, 20)
        )),
    }
}

fn field(text: &str, spec: &FieldSpec) -> Result<Field, String> {
    let name = spec.name;
    // `*` anywhere in a list (`*,5`) already means every value.
    if text.split(',').any(|item| item == "*") {
        let mut values = 0u64;
        for v in spec.min..=spec.max {
            values |= bit(spec, v);
        }
        return Ok(Field {
            normalized: "*".to_string(),
            values,
            star: true,
        });
    }
    let shown = shorten(text, 40);
    if let Some(c) = text
        .chars()
        .find(|c| matches!(c, '?' | 'L' | 'l' | 'W' | 'w' | '#'))
    {
        // Letters can also start a name (`jul`, `wed`): only complain when the field is not
        // made of valid names.
        let is_name_char = c.is_ascii_alphabetic() && !spec.names.is_empty();
        if !is_name_char || field_items(text, spec).is_err() {
            return Err(extension_message(c, name, &shown));
        }
    }
    field_items(text, spec)
}

fn extension_message(c: char, field: &str, shown: &str) -> String {
    match c {
        '?' => format!(
            "the {field} field `{shown}` uses `?` (Quartz syntax for \"no specific value\"); \
             write `*` instead"
        ),
        '#' => format!(
            "the {field} field `{shown}` uses `#` (nth weekday of the month), an extension \
             ContainerOps does not support; schedules use standard cron fields"
        ),
        _ => format!(
            "the {field} field `{shown}` uses `{}` (last day, nearest weekday), an extension \
             ContainerOps does not support; schedules use standard cron fields",
            c.to_ascii_uppercase()
        ),
    }
}

fn field_items(text: &str, spec: &FieldSpec) -> Result<Field, String> {
    let name = spec.name;
    let shown = shorten(text, 40);
    let mut values = 0u64;
    let mut out = Vec::new();
    for item in text.split(',') {
        if item.is_empty() {
            return Err(format!(
                "the {name} field `{shown}` has an empty list item (two commas, or a comma at an \
                 end)"
            ));
        }
        let item_shown = shorten(item, 40);
        let (base, step) = match item.split_once('/') {
            Some((b, s)) => (b, Some(s)),
            None => (item, None),
        };
        let step = match step {
            None => None,
            Some(s) if s.contains('/') => {
                return Err(format!(
                    "the {name} field `{item_shown}` has more than one `/`; a step is written \
                     `*/n` or `a-b/n`"
                ))
            }
            Some(s) => Some(number(s).ok_or_else(|| {
                format!(
                    "the step in {name} `{item_shown}` must be a whole number, like `*/15`, \
                     found `{}`",
                    shorten(s, 20)
                )
            })?),
        };
        let (lo, hi, norm_base) = if base.is_empty() && step.is_some() {
            return Err(format!(
                "the {name} field `{item_shown}` has a step without a range before it; write \
                 `*{item_shown}`"
            ));
        } else if base == "*" {
            (spec.min, spec.max, "*".to_string())
        } else if let Some((a, b)) = base.split_once('-') {
            let lo = value(a, spec, false, &item_shown)?;
            let mut hi = value(b, spec, true, &item_shown)?;
            if lo == 0 && hi == 7 && spec.names == DAY_NAMES && b.eq_ignore_ascii_case("sun") {
                // `sun-sun` is Sunday, not the whole week.
                hi = 0;
            }
            if lo > hi {
                let top = if spec.names == DAY_NAMES { 6 } else { spec.max };
                return Err(format!(
                    "the range `{item_shown}` in the {name} field runs backwards; ranges do not \
                     wrap around, list both parts instead: `{lo}-{top},{}-{hi}`",
                    spec.min
                ));
            }
            (lo, hi, format!("{lo}-{hi}"))
        } else {
            let v = value(base, spec, false, &item_shown)?;
            if step.is_some() {
                return Err(format!(
                    "the {name} field `{item_shown}` has a step after a single value; write a \
                     range before the step, like `{v}-{}/{}` (or `*/{}`)",
                    spec.max,
                    step.unwrap_or(1),
                    step.unwrap_or(1)
                ));
            }
            (v, v, v.to_string())
        };
        let step = match step {
            Some(0) => {
                return Err(format!(
                    "the step in {name} `{item_shown}` must be at least 1"
                ))
            }
            Some(s) if s > spec.max - spec.min => {
                return Err(format!(
                    "the step {s} in {name} `{item_shown}` is too large: {} {}-{}, so it would \
                     only ever match {lo}; write `{lo}` if that is meant",
                    spec.plural, spec.min, spec.max
                ))
            }
            other => other,
        };
        let mut v = lo;
        while v <= hi {
            values |= bit(spec, v);
            v += step.unwrap_or(1);
        }
        out.push(match step {
            Some(s) => format!("{norm_base}/{s}"),
            None => norm_base,
        });
    }
    Ok(Field {
        normalized: out.join(","),
        values,
        star: false,
    })
}

/// One value: a number in range, or a name where the field has names. `range_end`: `sun` as
/// the end of a day-of-week range is 7 (`fri-sun`).
fn value(text: &str, spec: &FieldSpec, range_end: bool, item: &str) -> Result<u32, String> {
    let name = spec.name;
    if text.is_empty() {
        return Err(format!(
            "the {name} field `{item}` has a range with a missing bound; write `a-b`"
        ));
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        let n = number(text).unwrap_or(u32::MAX);
        if n < spec.min || n > spec.max {
            let extra = if spec.names == DAY_NAMES {
                " (0 and 7 are Sunday)"
            } else {
                ""
            };
            return Err(format!(
                "the {name} value `{}` is out of range; {} {}-{}{extra}",
                shorten(text, 20),
                spec.plural,
                spec.min,
                spec.max
            ));
        }
        return Ok(n);
    }
    if text.chars().all(|c| c.is_ascii_alphabetic()) {
        let upper = text.to_ascii_uppercase();
        if let Some(i) = spec.names.iter().position(|n| *n == upper) {
            let v = spec.names_base + u32::try_from(i).unwrap_or(0);
            return Ok(if range_end && v == 0 && spec.names == DAY_NAMES {
                7
            } else {
                v
            });
        }
        if spec.names.is_empty() {
            return Err(format!(
                "the {name} field `{item}` contains `{}`; names are only allowed for months \
                 (jan-dec) and days of the week (sun-sat), {} {}-{}",
                shorten(text, 20),
                spec.plural,
                spec.min,
                spec.max
            ));
        }
        let hint = spec
            .names
            .iter()
            .find(|n| upper.starts_with(*n))
            .map(|n| format!(" (names have three letters: `{}`)", n.to_ascii_lowercase()))
            .unwrap_or_default();
        return Err(format!(
            "`{}` is not a {name} name{hint}; use {}-{} or {}-{}",
            shorten(text, 20),
            spec.names
                .first()
                .map(|n| n.to_ascii_lowercase())
                .unwrap_or_default(),
            spec.names
                .last()
                .map(|n| n.to_ascii_lowercase())
                .unwrap_or_default(),
            spec.min,
            spec.max
        ));
    }
    Err(format!(
        "the {name} field `{item}` contains `{}`, which is not a number{}",
        shorten(text, 20),
        if spec.names.is_empty() {
            ""
        } else {
            " or a name"
        }
    ))
}

/// A whole number (`None` when not only digits, or too large to matter).
fn number(text: &str) -> Option<u32> {
    if text.is_empty() || text.len() > 6 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn bit(spec: &FieldSpec, v: u32) -> u64 {
    // Day-of-week 7 is Sunday, like 0.
    let v = if spec.names == DAY_NAMES && v == 7 {
        0
    } else {
        v
    };
    1u64.checked_shl(v).unwrap_or(0)
}

/// A day-of-month list that no selected month has (`30 2`, `31 4,6`), when the day-of-week
/// field does not add days of its own.
fn impossible_days(dom: &Field, month: &Field, dow: &Field) -> Result<(), String> {
    if dom.star || !dow.star {
        return Ok(());
    }
    const LENGTHS: [u32; 12] = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let possible = (1u32..=12).any(|m| {
        month.values & (1u64 << m) != 0
            && (1..=LENGTHS.get(m as usize - 1).copied().unwrap_or(31))
                .any(|d| dom.values & (1u64 << d) != 0)
    });
    if possible {
        Ok(())
    } else {
        let days = if dom.normalized.contains([',', '-', '/']) {
            format!("any of the days `{}`", dom.normalized)
        } else {
            format!("a day {}", dom.normalized)
        };
        Err(format!(
            "the schedule never fires: no selected month (`{}`) has {days}",
            month.normalized
        ))
    }
}

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let mut s: String = text.chars().take(max).collect();
        s.push('…');
        s
    }
}

/// RFC 3339 in UTC, whole seconds (`2026-03-30T03:00:00Z`); `None` out of chrono's range.
pub(crate) fn rfc3339(ms: i64) -> Option<String> {
    let t = Utc.timestamp_millis_opt(ms).single()?;
    Some(t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
}

//! Durations and resource quantities.

use std::time::Duration;

/// A decimal number split into integer digits and fraction digits (no sign, no exponent).
struct Decimal<'a> {
    int: &'a str,
    frac: &'a str,
}

/// Split `text` into a leading decimal number and the rest.
fn leading_decimal(text: &str) -> Option<(Decimal<'_>, &str)> {
    let b = text.as_bytes();
    let mut i = 0;
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    let int_end = i;
    let mut frac = "";
    if b.get(i) == Some(&b'.') {
        let s = i + 1;
        let mut j = s;
        while b.get(j).is_some_and(u8::is_ascii_digit) {
            j += 1;
        }
        frac = text.get(s..j).unwrap_or("");
        i = j;
    }
    let int = text.get(..int_end).unwrap_or("");
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    Some((Decimal { int, frac }, text.get(i..).unwrap_or("")))
}

impl Decimal<'_> {
    /// `self × unit`, exactly, if it is a whole number that fits in a u128.
    fn times(&self, unit: u128) -> Result<u128, &'static str> {
        let int: u128 = if self.int.is_empty() {
            0
        } else {
            self.int.parse().map_err(|_| "the number is too large")?
        };
        let mut value = int.checked_mul(unit).ok_or("the number is too large")?;
        let frac = self.frac.trim_end_matches('0');
        if !frac.is_empty() {
            if frac.len() > 30 {
                return Err("too many decimal places");
            }
            let f: u128 = frac.parse().map_err(|_| "invalid number")?;
            let scale = 10u128.pow(u32::try_from(frac.len()).unwrap_or(30));
            let num = f.checked_mul(unit).ok_or("the number is too large")?;
            if num % scale != 0 {
                return Err("too many decimal places");
            }
            value = value
                .checked_add(num / scale)
                .ok_or("the number is too large")?;
        }
        Ok(value)
    }
}

/// Parse a duration: one or more `NUMBER UNIT` parts (`90s`, `10m`, `1h30m`, `500ms`, `1.5h`).
/// Units: `ms`, `s`, `m`, `h`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("empty duration; write e.g. `30s`, `10m` or `1h30m`".to_string());
    }
    let mut rest = t;
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let Some((num, after)) = leading_decimal(rest) else {
            return Err(format!(
                "`{t}` is not a duration; write e.g. `30s`, `10m` or `1h30m`"
            ));
        };
        let after = after.trim_start();
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.' || c.is_whitespace())
            .unwrap_or(after.len());
        let unit = after.get(..unit_len).unwrap_or("");
        let nanos: u128 = match unit {
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "" => {
                return Err(format!(
                    "`{t}` is missing a unit; write e.g. `{}s` (units: ms, s, m, h)",
                    num.int
                ))
            }
            other => {
                let hint = match other {
                    "sec" | "secs" | "second" | "seconds" => " (use `s`)",
                    "min" | "mins" | "minute" | "minutes" => " (use `m`)",
                    "hr" | "hrs" | "hour" | "hours" => " (use `h`)",
                    "d" | "day" | "days" => " (write days as hours, e.g. `24h`)",
                    _ => "",
                };
                return Err(format!(
                    "unknown unit `{other}` in `{t}`{hint}; units are ms, s, m, h"
                ));
            }
        };
        let part = num.times(nanos).map_err(|e| match e {
            "too many decimal places" => format!("`{t}` is more precise than a nanosecond"),
            e => format!("`{t}`: {e}"),
        })?;
        total = total
            .checked_add(part)
            .ok_or_else(|| format!("`{t}` is too long"))?;
        rest = after.get(unit_len..).unwrap_or("").trim_start();
    }
    let nanos = u64::try_from(total).map_err(|_| format!("`{t}` is too long"))?;
    Ok(Duration::from_nanos(nanos))
}

/// Parse a CPU quantity in cores (`0.5`, `2`, `"500m"`) into millicores.
pub fn parse_cpu(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let bad =
        || format!("`{t}` is not a CPU amount; write cores (`0.5`, `2`) or millicores (`500m`)");
    if t.starts_with('-') {
        return Err(format!("CPU must be more than zero, found `{t}`"));
    }
    let (num, rest) = leading_decimal(t).ok_or_else(bad)?;
    let millis = match rest {
        "m" => {
            if !num.frac.trim_end_matches('0').is_empty() {
                return Err(format!(
                    "`{t}`: millicores must be a whole number (1m is the smallest unit)"
                ));
            }
            num.times(1).map_err(|e| format!("`{t}`: {e}"))?
        }
        "" => num.times(1000).map_err(|e| match e {
            "too many decimal places" => {
                format!("`{t}` is more precise than 1m (0.001 cores), the smallest CPU unit")
            }
            e => format!("`{t}`: {e}"),
        })?,
        _ => return Err(bad()),
    };
    if millis == 0 {
        return Err(format!("CPU must be more than zero, found `{t}`"));
    }
    u64::try_from(millis).map_err(|_| format!("`{t}`: the number is too large"))
}

/// Parse a memory quantity (`64Mi`, `1Gi`, `256M`, `512k`, plain bytes) into bytes.
pub fn parse_memory(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let bad = || {
        format!(
            "`{t}` is not a memory amount; write e.g. `64Mi`, `1Gi`, `256M` or a number of bytes"
        )
    };
    if t.starts_with('-') {
        return Err(format!("memory must be more than zero, found `{t}`"));
    }
    let (num, suffix) = leading_decimal(t).ok_or_else(bad)?;
    let unit: u128 = match suffix {
        "" => 1,
        "k" => 1_000,
        "M" => 1_000_000,
        "G" => 1_000_000_000,
        "T" => 1_000_000_000_000,
        "P" => 1_000_000_000_000_000,
        "E" => 1_000_000_000_000_000_000,
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        "Ti" => 1 << 40,
        "Pi" => 1 << 50,
        "Ei" => 1 << 60,
        other => {
            let hint = match other {
                "K" | "KB" | "kB" | "kb" => "`k` (1000) or `Ki` (1024)",
                "m" | "MB" | "mb" => "`M` (10^6) or `Mi` (2^20)",
                "g" | "GB" | "gb" => "`G` (10^9) or `Gi` (2^30)",
                "ki" | "KiB" | "kiB" => "`Ki`",
                "mi" | "MiB" => "`Mi`",
                "gi" | "GiB" => "`Gi`",
                "B" | "b" => "a plain number of bytes",
                _ => "",
            };
            if hint.is_empty() {
                return Err(format!(
                    "unknown memory unit `{other}` in `{t}`; units are k, M, G, T (powers of \
                     1000) and Ki, Mi, Gi, Ti (powers of 1024)"
                ));
            }
            return Err(format!(
                "unknown memory unit `{other}` in `{t}`; did you mean {hint}?"
            ));
        }
    };
    let bytes = num.times(unit).map_err(|e| match e {
        "too many decimal places" => format!("`{t}` is not a whole number of bytes"),
        e => format!("`{t}`: {e}"),
    })?;
    if bytes == 0 {
        return Err(format!("memory must be more than zero, found `{t}`"));
    }
    u64::try_from(bytes).map_err(|_| format!("`{t}`: the number is too large"))
}

/// Is `s` a semantic version (`MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]`)?
pub(crate) fn is_semver(s: &str) -> bool {
    let (rest, build) = match s.split_once('+') {
        Some((r, b)) => (r, Some(b)),
        None => (s, None),
    };
    let (core, pre) = match rest.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (rest, None),
    };
    let numeric = |p: &str| {
        !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()) && (p == "0" || !p.starts_with('0'))
    };
    let ident = |p: &str| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    let parts: Vec<&str> = core.split('.').collect();
    if parts.len() != 3 || !parts.iter().all(|p| numeric(p)) {
        return false;
    }
    if let Some(pre) = pre {
        for p in pre.split('.') {
            if !ident(p) || (p.chars().all(|c| c.is_ascii_digit()) && !numeric(p)) {
                return false;
            }
        }
    }
    if let Some(b) = build {
        if !b.split('.').all(ident) {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let ok: &[(&str, u64)] = &[
            ("90s", 90_000),
            ("10m", 600_000),
            ("1h30m", 5_400_000),
            ("500ms", 500),
            ("2h", 7_200_000),
            ("1.5s", 1_500),
            ("0s", 0),
            ("1m30s", 90_000),
            ("1h 30m", 5_400_000),
            ("10 m", 600_000),
            (" 45s ", 45_000),
        ];
        for (text, ms) in ok {
            assert_eq!(
                parse_duration(text).map(|d| d.as_millis()),
                Ok(u128::from(*ms)),
                "{text}"
            );
        }
        let bad: &[(&str, &str)] = &[
            ("", "empty duration"),
            ("60", "missing a unit"),
            ("10x", "unknown unit `x`"),
            ("5min", "use `m`"),
            (
                "10 minutes",
                "unknown unit `minutes` in `10 minutes` (use `m`)",
            ),
            ("2d", "24h"),
            ("abc", "not a duration"),
            ("-5s", "not a duration"),
            ("99999999999999h", "too long"),
        ];
        for (text, want) in bad {
            let err = parse_duration(text).unwrap_err();
            assert!(err.contains(want), "{text}: {err}");
        }
    }

    #[test]
    fn cpu() {
        let ok: &[(&str, u64)] = &[
            ("0.5", 500),
            ("2", 2000),
            ("500m", 500),
            ("1.25", 1250),
            ("0.100", 100),
            (".5", 500),
        ];
        for (text, m) in ok {
            assert_eq!(parse_cpu(text), Ok(*m), "{text}");
        }
        let bad: &[(&str, &str)] = &[
            ("0", "more than zero"),
            ("0m", "more than zero"),
            ("-1", "more than zero"),
            ("0.0001", "more precise than 1m"),
            ("1.5m", "whole number"),
            ("lots", "not a CPU amount"),
            ("2 cores", "not a CPU amount"),
        ];
        for (text, want) in bad {
            let err = parse_cpu(text).unwrap_err();
            assert!(err.contains(want), "{text}: {err}");
        }
    }

    #[test]
    fn memory() {
        let ok: &[(&str, u64)] = &[
            ("64Mi", 64 << 20),
            ("1Gi", 1 << 30),
            ("256M", 256_000_000),
            ("512k", 512_000),
            ("1048576", 1_048_576),
            ("1.5Gi", 3 << 29),
            ("4G", 4_000_000_000),
            ("2Ki", 2048),
        ];
        for (text, b) in ok {
            assert_eq!(parse_memory(text), Ok(*b), "{text}");
        }
        let bad: &[(&str, &str)] = &[
            ("0", "more than zero"),
            ("64MB", "did you mean `M` (10^6) or `Mi` (2^20)?"),
            ("1K", "`k` (1000) or `Ki` (1024)"),
            ("64mi", "`Mi`"),
            ("12Q", "unknown memory unit `Q`"),
            ("0.5", "whole number of bytes"),
            ("big", "not a memory amount"),
            ("99999999999Ei", "too large"),
        ];
        for (text, want) in bad {
            let err = parse_memory(text).unwrap_err();
            assert!(err.contains(want), "{text}: {err}");
        }
    }

    #[test]
    fn semver() {
        for ok in [
            "1.0.0",
            "0.1.2",
            "10.20.30",
            "1.0.0-alpha.1",
            "1.0.0+build.5",
            "1.0.0-rc.1+x",
        ] {
            assert!(is_semver(ok), "{ok}");
        }
        for bad in [
            "1.0", "1", "01.0.0", "1.0.0-", "1.0.0-01", "v1.0.0", "1.0.0.0", "",
        ] {
            assert!(!is_semver(bad), "{bad}");
        }
    }
}

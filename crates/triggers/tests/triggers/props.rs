//! Nothing panics on arbitrary headers, bodies, expressions and zones.

use co_triggers::{branch_matches, cron_context, generic, github, gitlab, Schedule};
use proptest::prelude::*;

const NAMES: &[&str] = &[
    "X-Hub-Signature-256",
    "X-Hub-Signature",
    "X-GitHub-Event",
    "X-GitHub-Delivery",
    "X-Gitlab-Token",
    "X-Gitlab-Event",
    "X-Gitlab-Event-UUID",
    "X-Gitlab-Webhook-UUID",
    "X-ContainerOps-Token",
    "X-ContainerOps-Delivery",
    "Content-Type",
];

fn header_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "sha256=[0-9a-fA-F]{0,70}",
        "(Push|Tag Push|Merge Request|Note) Hook",
        "(push|pull_request|ping|issues)",
        Just("application/x-www-form-urlencoded".to_string()),
        Just("s3cret".to_string()),
    ]
}

fn headers() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec(
        (
            prop::sample::select(NAMES).prop_map(str::to_string),
            header_value(),
        ),
        0..8,
    )
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..200),
        any::<String>().prop_map(String::into_bytes),
        "\\{\"ref\": ?\"refs/(heads|tags)/[a-z/]{0,10}\"\\}".prop_map(String::into_bytes),
        "payload=[%0-9a-zA-Z+&=]{0,40}".prop_map(String::into_bytes),
        "\\{\"pull_request\": \\{\"base\": \\{\"ref\": [0-9a-z\"\\[\\]{}]{0,8}\\}\\}\\}"
            .prop_map(String::into_bytes),
    ]
}

fn cron_field() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9*/,\\-]{1,8}",
        "[a-zA-Z]{1,4}",
        "[0-9LW#?]{1,4}",
        any::<String>(),
    ]
}

fn expression() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        prop::collection::vec(cron_field(), 0..8).prop_map(|f| f.join(" ")),
        "@[a-z]{0,10}",
    ]
}

/// A field in cron syntax over `min..=max` (may still be refused: backwards ranges, big steps).
fn syntax_field(min: u32, max: u32) -> impl Strategy<Value = String> {
    let item = prop_oneof![
        Just("*".to_string()),
        (min..=max).prop_map(|a| a.to_string()),
        (min..=max, min..=max).prop_map(|(a, b)| format!("{a}-{b}")),
        (1..=max.max(1)).prop_map(|s| format!("*/{s}")),
        (min..=max, min..=max, 1..=max.max(1)).prop_map(|(a, b, s)| format!("{a}-{b}/{s}")),
    ];
    prop::collection::vec(item, 1..3).prop_map(|items| items.join(","))
}

fn syntax_expression() -> impl Strategy<Value = String> {
    (
        syntax_field(0, 59),
        syntax_field(0, 23),
        syntax_field(1, 31),
        syntax_field(1, 12),
        syntax_field(0, 7),
    )
        .prop_map(|(a, b, c, d, e)| format!("{a} {b} {c} {d} {e}"))
}

const ZONES: &[&str] = &[
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "Pacific/Chatham",
    "America/Sao_Paulo",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn webhooks_never_panic(
        secret in prop::collection::vec(any::<u8>(), 0..16),
        headers in headers(),
        body in body(),
        events in prop::collection::vec("[a-z_*]{0,8}", 0..3),
        branches in prop::collection::vec("[a-z/*]{0,8}", 0..3),
    ) {
        let _ = github(&secret, &headers, &body, &events, &branches);
        let _ = gitlab(&secret, &headers, &body, &events, &branches);
        let _ = generic(&secret, &headers, &body);
        let _ = github(b"s3cret", &headers, &body, &events, &branches);
        if let Ok(d) = gitlab(b"s3cret", &headers, &body, &events, &branches) {
            let _ = d.context();
        }
        if let Ok(d) = generic(b"s3cret", &headers, &body) {
            prop_assert_eq!(d.event, "webhook");
        }
    }

    #[test]
    fn schedules_never_panic(
        expr in expression(),
        tz in prop::option::of(prop_oneof![any::<String>(), "[A-Za-z_/]{0,20}"]),
        from in any::<i64>(),
    ) {
        if let Ok(s) = Schedule::parse(&expr, tz.as_deref()) {
            if let Some(next) = s.next_after(from) {
                prop_assert!(next > from);
            }
            // Realistic times always have a next tick.
            let now = 1_780_000_000_000i64 + from.rem_euclid(1_000_000_000_000);
            let next = s.next_after(now);
            prop_assert!(next.is_some_and(|n| n > now), "`{}` has no tick after {}", expr, now);
            let _ = cron_context(&expr, next.unwrap_or(0));
        }
    }

    #[test]
    fn well_formed_schedules_tick_forward(
        expr in syntax_expression(),
        tz in prop::sample::select(ZONES),
        offset in 0i64..2_000_000_000_000,
    ) {
        match Schedule::parse(&expr, Some(tz)) {
            Ok(s) => {
                let mut t = 1_000_000_000_000i64 + offset;
                for _ in 0..5 {
                    let next = s.next_after(t);
                    prop_assert!(next.is_some_and(|n| n > t), "`{}` in {}: {:?} after {}", expr, tz, next, t);
                    t = next.unwrap_or(t);
                }
            }
            Err(e) => prop_assert!(
                e.contains("backwards") || e.contains("too large") || e.contains("never fires"),
                "`{}` refused: {}", expr, e
            ),
        }
    }

    #[test]
    fn globs_never_panic(pattern in "[a-z*/]{0,12}", branch in any::<String>()) {
        let _ = branch_matches(&pattern, &branch);
    }
}

/// The values one numeric field matches, and whether it is `*` (every value, written as `*`).
fn field_set(text: &str, min: u32, max: u32) -> (Vec<bool>, bool) {
    let mut set = vec![false; 64];
    let star = text.split(',').any(|i| i == "*");
    for item in text.split(',') {
        let (base, step) = match item.split_once('/') {
            Some((b, s)) => (b, s.parse::<u32>().unwrap()),
            None => (item, 1),
        };
        let (lo, hi) = match base {
            "*" => (min, max),
            _ => match base.split_once('-') {
                Some((a, b)) => (a.parse().unwrap(), b.parse().unwrap()),
                None => {
                    let v = base.parse().unwrap();
                    (v, v)
                }
            },
        };
        let mut v = lo;
        while v <= hi {
            set[v as usize] = true;
            v += step;
        }
    }
    (set, star)
}

/// Whether a UTC minute matches, by the documented rules (Vixie cron: when both day fields are
/// restricted, either may match).
fn brute_matches(fields: &[(Vec<bool>, bool)], t: chrono::DateTime<chrono::Utc>) -> bool {
    use chrono::{Datelike, Timelike};
    let [min, hour, dom, month, dow] = fields else {
        return false;
    };
    let weekday = t.weekday().num_days_from_sunday() as usize;
    let dow_hit = dow.0[weekday] || (weekday == 0 && dow.0[7]);
    let dom_hit = dom.0[t.day() as usize];
    let day = match (dom.1, dow.1) {
        (true, true) => true,
        (true, false) => dow_hit,
        (false, true) => dom_hit,
        (false, false) => dom_hit || dow_hit,
    };
    min.0[t.minute() as usize] && hour.0[t.hour() as usize] && month.0[t.month() as usize] && day
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// In UTC, the next tick is exactly the first minute a brute-force scan finds.
    #[test]
    fn ticks_agree_with_a_brute_force_scan(
        expr in syntax_expression(),
        offset in 0i64..2_000_000_000_000,
    ) {
        let Ok(s) = Schedule::parse(&expr, None) else { return Ok(()); };
        let parts: Vec<&str> = expr.split(' ').collect();
        let bounds = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)];
        let fields: Vec<(Vec<bool>, bool)> = parts
            .iter()
            .zip(bounds)
            .map(|(p, (lo, hi))| field_set(p, lo, hi))
            .collect();
        let from = 1_000_000_000_000i64 + offset;
        let mut minute = (from / 60_000 + 1) * 60_000;
        let mut found = None;
        for _ in 0..(40 * 24 * 60) {
            let t = chrono::DateTime::from_timestamp_millis(minute).unwrap();
            if brute_matches(&fields, t) {
                found = Some(minute);
                break;
            }
            minute += 60_000;
        }
        let next = s.next_after(from);
        match found {
            Some(f) => prop_assert_eq!(next, Some(f), "`{}` after {}", expr, from),
            // Nothing within 40 days: croner's tick must be later.
            None => prop_assert!(next.is_some_and(|n| n >= minute), "`{}`: {:?}", expr, next),
        }
    }
}

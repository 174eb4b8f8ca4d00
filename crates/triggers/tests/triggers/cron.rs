//! Cron schedules: next ticks for many expressions, time zones, DST, and the messages for
//! invalid ones.

use co_triggers::{check_timezone, cron_context, Schedule};
use serde_json::json;

use crate::{local, ms, utc};

/// The next `n` ticks after `from`, shown in the schedule's zone (UTC when none).
fn ticks(expr: &str, tz: Option<&str>, from: &str, n: usize) -> Vec<String> {
    let s = Schedule::parse(expr, tz).unwrap_or_else(|e| panic!("{expr}: {e}"));
    let mut t = ms(from);
    let mut out = Vec::new();
    for _ in 0..n {
        let next = s
            .next_after(t)
            .unwrap_or_else(|| panic!("{expr}: no tick after {}", utc(t)));
        assert!(next > t, "{expr}: {} is not after {}", utc(next), utc(t));
        t = next;
        out.push(local(t, tz.unwrap_or("UTC")));
    }
    out
}

fn error(expr: &str) -> String {
    match Schedule::parse(expr, None) {
        Ok(_) => panic!("`{expr}` should be refused"),
        Err(e) => e,
    }
}

#[test]
fn weekdays_at_three() {
    // 2026-01-02 is a Friday.
    assert_eq!(
        ticks("0 3 * * 1-5", None, "2026-01-02T04:00:00Z", 4),
        [
            "2026-01-05T03:00:00+00:00",
            "2026-01-06T03:00:00+00:00",
            "2026-01-07T03:00:00+00:00",
            "2026-01-08T03:00:00+00:00"
        ]
    );
}

#[test]
fn many_expressions() {
    let from = "2026-01-01T00:00:00Z"; // a Thursday
    let cases: &[(&str, &[&str])] = &[
        (
            "* * * * *",
            &["2026-01-01T00:01:00+00:00", "2026-01-01T00:02:00+00:00"],
        ),
        (
            "*/15 * * * *",
            &[
                "2026-01-01T00:15:00+00:00",
                "2026-01-01T00:30:00+00:00",
                "2026-01-01T00:45:00+00:00",
                "2026-01-01T01:00:00+00:00",
            ],
        ),
        (
            "5-10/2 * * * *",
            &[
                "2026-01-01T00:05:00+00:00",
                "2026-01-01T00:07:00+00:00",
                "2026-01-01T00:09:00+00:00",
                "2026-01-01T01:05:00+00:00",
            ],
        ),
        (
            "0,30 9-10 * * *",
            &[
                "2026-01-01T09:00:00+00:00",
                "2026-01-01T09:30:00+00:00",
                "2026-01-01T10:00:00+00:00",
                "2026-01-01T10:30:00+00:00",
                "2026-01-02T09:00:00+00:00",
            ],
        ),
        (
            "0 0 1 * *",
            &[
                "2026-02-01T00:00:00+00:00",
                "2026-03-01T00:00:00+00:00",
                "2026-04-01T00:00:00+00:00",
            ],
        ),
        (
            "0 12 * * mon,WED,Fri",
            &[
                "2026-01-02T12:00:00+00:00",
                "2026-01-05T12:00:00+00:00",
                "2026-01-07T12:00:00+00:00",
                "2026-01-09T12:00:00+00:00",
            ],
        ),
        (
            "0 0 1 JAN,jul *",
            &["2026-07-01T00:00:00+00:00", "2027-01-01T00:00:00+00:00"],
        ),
        (
            "0 0 1 mar-may/2 *",
            &[
                "2026-03-01T00:00:00+00:00",
                "2026-05-01T00:00:00+00:00",
                "2027-03-01T00:00:00+00:00",
            ],
        ),
        // 7 and 0 are both Sunday; a range may end on Sunday as 7 or `sun`.
        (
            "0 0 * * 7",
            &["2026-01-04T00:00:00+00:00", "2026-01-11T00:00:00+00:00"],
        ),
        (
            "0 0 * * sun",
            &["2026-01-04T00:00:00+00:00", "2026-01-11T00:00:00+00:00"],
        ),
        (
            "0 0 * * fri-sun",
            &[
                "2026-01-02T00:00:00+00:00",
                "2026-01-03T00:00:00+00:00",
                "2026-01-04T00:00:00+00:00",
                "2026-01-09T00:00:00+00:00",
            ],
        ),
        (
            "0 0 * * 5-7",
            &[
                "2026-01-02T00:00:00+00:00",
                "2026-01-03T00:00:00+00:00",
                "2026-01-04T00:00:00+00:00",
                "2026-01-09T00:00:00+00:00",
            ],
        ),
        // Both day fields restricted: either matches (Friday, or the 13th).
        (
            "0 0 13 * 5",
            &[
                "2026-01-02T00:00:00+00:00",
                "2026-01-09T00:00:00+00:00",
                "2026-01-13T00:00:00+00:00",
                "2026-01-16T00:00:00+00:00",
            ],
        ),
        // Leap day.
        (
            "0 0 29 2 *",
            &["2028-02-29T00:00:00+00:00", "2032-02-29T00:00:00+00:00"],
        ),
        // The 31st skips short months.
        (
            "0 0 31 * *",
            &[
                "2026-01-31T00:00:00+00:00",
                "2026-03-31T00:00:00+00:00",
                "2026-05-31T00:00:00+00:00",
            ],
        ),
        (
            "59 23 31 12 *",
            &["2026-12-31T23:59:00+00:00", "2027-12-31T23:59:00+00:00"],
        ),
        (
            "@hourly",
            &["2026-01-01T01:00:00+00:00", "2026-01-01T02:00:00+00:00"],
        ),
        (
            "@daily",
            &["2026-01-02T00:00:00+00:00", "2026-01-03T00:00:00+00:00"],
        ),
        (
            "@midnight",
            &["2026-01-02T00:00:00+00:00", "2026-01-03T00:00:00+00:00"],
        ),
        (
            "@weekly",
            &["2026-01-04T00:00:00+00:00", "2026-01-11T00:00:00+00:00"],
        ),
        (
            "@monthly",
            &["2026-02-01T00:00:00+00:00", "2026-03-01T00:00:00+00:00"],
        ),
        (
            "@YEARLY",
            &["2027-01-01T00:00:00+00:00", "2028-01-01T00:00:00+00:00"],
        ),
        (
            "@annually",
            &["2027-01-01T00:00:00+00:00", "2028-01-01T00:00:00+00:00"],
        ),
        // Whitespace around and between fields does not matter; leading zeros are fine.
        (
            "  07\t3  *  * \t * ",
            &["2026-01-01T03:07:00+00:00", "2026-01-02T03:07:00+00:00"],
        ),
    ];
    for (expr, want) in cases {
        assert_eq!(ticks(expr, None, from, want.len()), *want, "`{expr}`");
    }
}

#[test]
fn strictly_after() {
    let s = Schedule::parse("0 3 * * *", None).unwrap();
    let tick = ms("2026-01-01T03:00:00Z");
    assert_eq!(s.next_after(tick - 1), Some(tick));
    assert_eq!(s.next_after(tick - 1000), Some(tick));
    assert_eq!(s.next_after(tick), Some(ms("2026-01-02T03:00:00Z")));
    assert_eq!(s.next_after(tick + 1), Some(ms("2026-01-02T03:00:00Z")));
    assert_eq!(s.next_after(tick + 999), Some(ms("2026-01-02T03:00:00Z")));
    let every = Schedule::parse("* * * * *", None).unwrap();
    assert_eq!(
        every.next_after(ms("2026-01-01T00:00:59.999Z")),
        Some(ms("2026-01-01T00:01:00Z"))
    );
    // Before 1970 works too.
    assert_eq!(
        s.next_after(ms("1969-07-20T20:17:00Z")),
        Some(ms("1969-07-21T03:00:00Z"))
    );
}

#[test]
fn out_of_range_has_no_tick() {
    let s = Schedule::parse("* * * * *", None).unwrap();
    assert_eq!(s.next_after(i64::MAX), None);
    assert_eq!(s.next_after(i64::MIN), None);
    // croner searches up to the year 5000.
    assert_eq!(s.next_after(ms("5000-01-01T00:00:00Z")), None);
}

#[test]
fn accessors() {
    let s = Schedule::parse(" 0 3 * * 1-5 ", Some("Europe/Berlin")).unwrap();
    assert_eq!(s.expression(), "0 3 * * 1-5");
    assert_eq!(s.timezone(), Some("Europe/Berlin"));
    assert_eq!(Schedule::parse("@daily", None).unwrap().timezone(), None);
}

#[test]
fn time_zones() {
    // 03:00 in Berlin is 02:00 UTC in winter, 01:00 UTC in summer.
    let berlin = Schedule::parse("0 3 * * *", Some("Europe/Berlin")).unwrap();
    assert_eq!(
        berlin.next_after(ms("2026-01-10T00:00:00Z")),
        Some(ms("2026-01-10T02:00:00Z"))
    );
    assert_eq!(
        berlin.next_after(ms("2026-07-10T00:00:00Z")),
        Some(ms("2026-07-10T01:00:00Z"))
    );
    // Half-hour offset.
    let kolkata = Schedule::parse("0 9 * * *", Some("Asia/Kolkata")).unwrap();
    assert_eq!(
        kolkata.next_after(ms("2026-01-10T00:00:00Z")),
        Some(ms("2026-01-10T03:30:00Z"))
    );
    // The day of week is the zone's: Monday 00:30 in Tokyo is Sunday 15:30 UTC.
    let tokyo = Schedule::parse("30 0 * * mon", Some("Asia/Tokyo")).unwrap();
    assert_eq!(
        tokyo.next_after(ms("2026-01-01T00:00:00Z")),
        Some(ms("2026-01-04T15:30:00Z"))
    );
    // Explicit UTC is the default.
    for tz in ["UTC", "Etc/UTC"] {
        let s = Schedule::parse("0 3 * * *", Some(tz)).unwrap();
        assert_eq!(
            s.next_after(ms("2026-01-10T00:00:00Z")),
            Some(ms("2026-01-10T03:00:00Z"))
        );
    }
}

/// Clocks go forward: Europe/Berlin jumps from 02:00 to 03:00 on 2026-03-29.
#[test]
fn dst_gap_europe() {
    let tz = Some("Europe/Berlin");
    let from = "2026-03-28T12:00:00Z";
    // A fixed time in the missing hour runs at the first instant after the gap, once.
    assert_eq!(
        ticks("30 2 * * *", tz, from, 3),
        [
            "2026-03-29T03:00:00+02:00",
            "2026-03-30T02:30:00+02:00",
            "2026-03-31T02:30:00+02:00"
        ]
    );
    assert_eq!(
        ticks("0 2 * * *", tz, from, 2),
        ["2026-03-29T03:00:00+02:00", "2026-03-30T02:00:00+02:00"]
    );
    // A time right after the gap is unaffected.
    assert_eq!(
        ticks("0 3 * * *", tz, from, 2),
        ["2026-03-29T03:00:00+02:00", "2026-03-30T03:00:00+02:00"]
    );
    // Repeating schedules have no ticks in the missing hour.
    assert_eq!(
        ticks("*/30 * * * *", tz, "2026-03-29T00:00:00Z", 3),
        [
            "2026-03-29T01:30:00+01:00",
            "2026-03-29T03:00:00+02:00",
            "2026-03-29T03:30:00+02:00"
        ]
    );
    assert_eq!(
        ticks("30 * * * *", tz, "2026-03-28T23:00:00Z", 3),
        [
            "2026-03-29T00:30:00+01:00",
            "2026-03-29T01:30:00+01:00",
            "2026-03-29T03:30:00+02:00"
        ]
    );
    // More than one hour makes it repeating: 02:30 is skipped that day.
    assert_eq!(
        ticks("30 2-3 * * *", tz, from, 3),
        [
            "2026-03-29T03:30:00+02:00",
            "2026-03-30T02:30:00+02:00",
            "2026-03-30T03:30:00+02:00"
        ]
    );
}

/// Clocks go back: Europe/Berlin repeats 02:00-03:00 on 2026-10-25.
#[test]
fn dst_fold_europe() {
    let tz = Some("Europe/Berlin");
    // A fixed time in the repeated hour fires once, at its first occurrence.
    assert_eq!(
        ticks("30 2 * * *", tz, "2026-10-24T12:00:00Z", 2),
        ["2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"]
    );
    // Starting between the two occurrences does not fire it again.
    assert_eq!(
        ticks("30 2 * * *", tz, "2026-10-25T00:45:00Z", 1),
        ["2026-10-26T02:30:00+01:00"]
    );
    // Repeating schedules fire in both occurrences of the hour.
    assert_eq!(
        ticks("*/30 * * * *", tz, "2026-10-24T23:00:00Z", 6),
        [
            "2026-10-25T01:30:00+02:00",
            "2026-10-25T02:00:00+02:00",
            "2026-10-25T02:30:00+02:00",
            "2026-10-25T02:00:00+01:00",
            "2026-10-25T02:30:00+01:00",
            "2026-10-25T03:00:00+01:00"
        ]
    );
}

/// America/New_York: 2026-03-08 02:00 → 03:00, 2026-11-01 02:00 → 01:00.
#[test]
fn dst_new_york() {
    let tz = Some("America/New_York");
    assert_eq!(
        ticks("30 2 * * *", tz, "2026-03-07T12:00:00Z", 2),
        ["2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00"]
    );
    assert_eq!(
        ticks("30 1 * * *", tz, "2026-10-31T12:00:00Z", 2),
        ["2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"]
    );
    assert_eq!(
        ticks("0 * * * *", tz, "2026-11-01T03:30:00Z", 4),
        [
            "2026-11-01T00:00:00-04:00",
            "2026-11-01T01:00:00-04:00",
            "2026-11-01T01:00:00-05:00",
            "2026-11-01T02:00:00-05:00"
        ]
    );
}

/// Australia/Lord_Howe moves its clocks by half an hour (02:00 → 02:30 on 2026-10-04).
#[test]
fn dst_half_hour_shift() {
    assert_eq!(
        ticks(
            "15 2 * * *",
            Some("Australia/Lord_Howe"),
            "2026-10-03T00:00:00Z",
            2
        ),
        ["2026-10-04T02:30:00+11:00", "2026-10-05T02:15:00+11:00"]
    );
}

#[test]
fn unknown_time_zones() {
    let cases = [
        ("Europe/Berlni", "unknown time zone `Europe/Berlni`; did you mean `Europe/Berlin`?"),
        ("europe/berlin", "unknown time zone `europe/berlin`; did you mean `Europe/Berlin`?"),
        ("Berlin", "unknown time zone `Berlin`; did you mean `Europe/Berlin`?"),
        ("New York", "unknown time zone `New York`; did you mean `America/New_York`?"),
        (
            "Mars/Olympus",
            "unknown time zone `Mars/Olympus`; use an IANA time zone name like `Europe/Berlin`, `America/New_York` or `UTC`",
        ),
        (
            "",
            "unknown time zone ``; use an IANA time zone name like `Europe/Berlin`, `America/New_York` or `UTC`",
        ),
        (
            "+02:00",
            "unknown time zone `+02:00`; use an IANA time zone name like `Europe/Berlin`, `America/New_York` or `UTC`",
        ),
    ];
    for (tz, want) in cases {
        assert_eq!(check_timezone(tz).unwrap_err(), want, "{tz}");
        assert_eq!(
            Schedule::parse("0 3 * * *", Some(tz)).unwrap_err(),
            want,
            "{tz}"
        );
    }
    assert_eq!(check_timezone("Europe/Berlin"), Ok(()));
    assert_eq!(check_timezone("UTC"), Ok(()));
}

#[test]
fn invalid_expressions() {
    let cases = [
        ("", "the schedule is empty; write 5 fields (minute hour day-of-month month day-of-week), like `0 3 * * 1-5`"),
        ("   ", "the schedule is empty; write 5 fields (minute hour day-of-month month day-of-week), like `0 3 * * 1-5`"),
        ("0 3 * *", "the schedule has 4 fields, but needs 5 (minute hour day-of-month month day-of-week), like `0 3 * * 1-5`"),
        ("daily", "the schedule has 1 field, but needs 5 (minute hour day-of-month month day-of-week), like `0 3 * * 1-5`"),
        ("0 0 3 * * 1-5", "the schedule has 6 fields, but ContainerOps schedules have 5 (minute hour day-of-month month day-of-week) with minute precision; seconds (or a year) cannot be given. If the first field is seconds, drop it: `0 3 * * 1-5`"),
        ("0 0 3 * * ? 2026", "the schedule has 7 fields (seconds and year, as in Quartz), but ContainerOps schedules have 5 (minute hour day-of-month month day-of-week); drop the seconds and year: `0 3 * * ?`"),
        ("* * * * * * * *", "the schedule has 8 fields, but needs 5 (minute hour day-of-month month day-of-week), like `0 3 * * 1-5`"),
        ("60 * * * *", "the minute value `60` is out of range; minutes are 0-59"),
        ("0 24 * * *", "the hour value `24` is out of range; hours are 0-23"),
        ("0 0 0 * *", "the day-of-month value `0` is out of range; days of the month are 1-31"),
        ("0 0 32 * *", "the day-of-month value `32` is out of range; days of the month are 1-31"),
        ("0 0 * 13 *", "the month value `13` is out of range; months are 1-12"),
        ("0 0 * * 8", "the day-of-week value `8` is out of range; days of the week are 0-7 (0 and 7 are Sunday)"),
        ("0 0 * * 99999", "the day-of-week value `99999` is out of range; days of the week are 0-7 (0 and 7 are Sunday)"),
        ("0 0 * * monday", "`monday` is not a day-of-week name (names have three letters: `mon`); use sun-sat or 0-7"),
        ("0 0 * january *", "`january` is not a month name (names have three letters: `jan`); use jan-dec or 1-12"),
        ("0 0 * * xyz", "`xyz` is not a day-of-week name; use sun-sat or 0-7"),
        ("0 mon * * *", "the hour field `mon` contains `mon`; names are only allowed for months (jan-dec) and days of the week (sun-sat), hours are 0-23"),
        ("0 3 * * ?", "the day-of-week field `?` uses `?` (Quartz syntax for \"no specific value\"); write `*` instead"),
        ("0 3 L * *", "the day-of-month field `L` uses `L` (last day, nearest weekday), an extension ContainerOps does not support; schedules use standard cron fields"),
        ("0 3 15W * *", "the day-of-month field `15W` uses `W` (last day, nearest weekday), an extension ContainerOps does not support; schedules use standard cron fields"),
        ("0 3 * * 5L", "the day-of-week field `5L` uses `L` (last day, nearest weekday), an extension ContainerOps does not support; schedules use standard cron fields"),
        ("0 3 * * 1#2", "the day-of-week field `1#2` uses `#` (nth weekday of the month), an extension ContainerOps does not support; schedules use standard cron fields"),
        ("0/5 * * * *", "the minute field `0/5` has a step after a single value; write a range before the step, like `0-59/5` (or `*/5`)"),
        ("*/0 * * * *", "the step in minute `*/0` must be at least 1"),
        ("*/60 * * * *", "the step 60 in minute `*/60` is too large: minutes are 0-59, so it would only ever match 0; write `0` if that is meant"),
        ("*/x * * * *", "the step in minute `*/x` must be a whole number, like `*/15`, found `x`"),
        ("*/5/2 * * * *", "the minute field `*/5/2` has more than one `/`; a step is written `*/n` or `a-b/n`"),
        ("/5 * * * *", "the minute field `/5` has a step without a range before it; write `*/5`"),
        ("0 22-2 * * *", "the range `22-2` in the hour field runs backwards; ranges do not wrap around, list both parts instead: `22-23,0-2`"),
        ("0 0 * * fri-mon", "the range `fri-mon` in the day-of-week field runs backwards; ranges do not wrap around, list both parts instead: `5-6,0-1`"),
        ("0 0 * * 1-", "the day-of-week field `1-` has a range with a missing bound; write `a-b`"),
        ("1,,2 * * * *", "the minute field `1,,2` has an empty list item (two commas, or a comma at an end)"),
        ("1, * * * *", "the minute field `1,` has an empty list item (two commas, or a comma at an end)"),
        ("1-2-3 * * * *", "the minute field `1-2-3` contains `2-3`, which is not a number"),
        ("0 0 30 2 *", "the schedule never fires: no selected month (`2`) has a day 30"),
        ("0 0 31 apr,jun,sep,nov *", "the schedule never fires: no selected month (`4,6,9,11`) has a day 31"),
        ("0 0 30,31 feb *", "the schedule never fires: no selected month (`2`) has any of the days `30,31`"),
        ("@reboot", "`@reboot` is not a schedule (a server has no reboot to run at); use 5 fields or one of @hourly, @daily, @weekly, @monthly, @yearly"),
        ("@often", "unknown nickname `@often`; use @hourly, @daily (@midnight), @weekly, @monthly or @yearly (@annually), or 5 fields (minute hour day-of-month month day-of-week)"),
        ("-1 * * * *", "the minute field `-1` has a range with a missing bound; write `a-b`"),
        ("0 3 * * 1–5", "the day-of-week field `1–5` contains `1–5`, which is not a number or a name"),
    ];
    let mut failures = Vec::new();
    for (expr, want) in cases {
        let got = error(expr);
        if got != want {
            failures.push(format!("`{expr}`:\n  got  {got}\n  want {want}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn possible_days_are_accepted() {
    // Feb 29 exists (in leap years); 30 with a weekday list is fine (either matches).
    for expr in [
        "0 0 29 2 *",
        "0 0 30 2 mon",
        "0 0 30,31 1-3 *",
        "0 0 31 * *",
        "0 0 * * sun-sun",
    ] {
        assert!(Schedule::parse(expr, None).is_ok(), "{expr}");
    }
    // `sun-sun` is Sunday only.
    assert_eq!(
        ticks("0 0 * * sun-sun", None, "2026-01-01T00:00:00Z", 2),
        ["2026-01-04T00:00:00+00:00", "2026-01-11T00:00:00+00:00"]
    );
}

#[test]
fn cron_context_shape() {
    assert_eq!(
        cron_context("0 3 * * 1-5", ms("2026-03-30T01:00:00Z")),
        json!({"event": "cron", "schedule": "0 3 * * 1-5", "tick": "2026-03-30T01:00:00Z"})
    );
    assert_eq!(
        cron_context("* * * * *", i64::MAX),
        json!({"event": "cron", "schedule": "* * * * *", "tick": null})
    );
}

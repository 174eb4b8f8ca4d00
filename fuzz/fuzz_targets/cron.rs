//! Cron schedules: the first line is the expression, the second (if any) the time zone. A
//! schedule that parses gives ticks strictly after any instant, never panicking at the ends of
//! the time range.
#![no_main]

use co_triggers::{check_timezone, cron_context, Schedule};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut lines = text.splitn(3, '\n');
    let expression = lines.next().unwrap_or_default();
    let zone = lines.next();
    if let Some(zone) = zone {
        let _ = check_timezone(zone);
    }
    let Ok(schedule) = Schedule::parse(expression, zone) else {
        return;
    };
    let seed = data
        .iter()
        .fold(0i64, |h, &b| h.wrapping_mul(31).wrapping_add(i64::from(b)));
    for after in [
        0,
        -1,
        1_767_225_600_000, // 2026-01-01
        seed,
        seed % 4_102_444_800_000, // before 2100
        i64::MIN,
        i64::MAX,
        253_402_300_799_999, // 9999-12-31
    ] {
        if let Some(tick) = schedule.next_after(after) {
            assert!(
                tick > after,
                "{expression:?} in {zone:?}: tick {tick} is not after {after}"
            );
            let _ = cron_context(schedule.expression(), tick);
        }
    }
    let _ = cron_context(expression, seed);
});

//! Tests of co-triggers: cron schedules (time zones, DST, messages), webhook checks, and
//! robustness against arbitrary input.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod cron;
mod hooks;
mod props;

use chrono::{DateTime, SecondsFormat, Utc};

/// ms since the epoch of an RFC 3339 time.
pub fn ms(rfc3339: &str) -> i64 {
    DateTime::parse_from_rfc3339(rfc3339)
        .unwrap_or_else(|e| panic!("{rfc3339}: {e}"))
        .timestamp_millis()
}

/// RFC 3339 UTC of ms since the epoch.
pub fn utc(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap()
        .to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Local time (with offset) in `tz` of ms since the epoch.
pub fn local(ms: i64, tz: &str) -> String {
    let tz: chrono_tz::Tz = tz.parse().unwrap();
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap()
        .with_timezone(&tz)
        .to_rfc3339_opts(SecondsFormat::AutoSi, false)
}

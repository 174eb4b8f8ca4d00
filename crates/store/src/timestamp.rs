//! The one timestamp format of the store: UTC RFC 3339 with milliseconds (`2026-11-27T07:49:40.123Z`).
//!
//! Every timestamp is normalised to it on write, so timestamps compare chronologically as text on both
//! databases (ordering `runs list` by `created_at` needs nothing else).

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

use crate::{Result, StoreError};

/// Formats an instant as UTC RFC 3339 with milliseconds (`2026-11-27T07:49:40.123Z`).
pub fn format_timestamp(at: OffsetDateTime) -> String {
    let utc = at.to_offset(UtcOffset::UTC);
    let format =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    match utc.format(&format) {
        Ok(text) => text,
        // Only years outside 0..=9999 cannot be written with four digits; RFC 3339 has no room for
        // them either. Fall back to the library's own RFC 3339 rendering rather than failing.
        Err(_) => utc.format(&Rfc3339).unwrap_or_else(|_| utc.to_string()),
    }
}

/// The current time in the store's format.
pub fn now_timestamp() -> String {
    format_timestamp(OffsetDateTime::now_utc())
}

/// Parses any RFC 3339 timestamp (any offset, any precision) and rewrites it in the store's format.
pub fn normalize_timestamp(text: &str) -> Result<String> {
    OffsetDateTime::parse(text, &Rfc3339)
        .map(format_timestamp)
        .map_err(|e| {
            StoreError::Invalid(format!(
                "timestamp {text:?} is not RFC 3339 (expected e.g. 2026-11-27T07:49:40.123Z): {e}"
            ))
        })
}

pub(crate) fn normalize_opt(text: Option<&str>) -> Result<Option<String>> {
    text.map(normalize_timestamp).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_offsets_and_precision() {
        assert_eq!(
            normalize_timestamp("2026-11-27T08:49:40.123456+01:00").unwrap(),
            "2026-11-27T07:49:40.123Z"
        );
        assert_eq!(
            normalize_timestamp("2026-11-27T07:49:40Z").unwrap(),
            "2026-11-27T07:49:40.000Z"
        );
        assert_eq!(
            normalize_timestamp("2026-11-27T07:49:40.123Z").unwrap(),
            "2026-11-27T07:49:40.123Z"
        );
    }

    #[test]
    fn rejects_non_rfc3339() {
        let err = normalize_timestamp("yesterday").unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{err}");
        assert!(err.to_string().contains("RFC 3339"), "{err}");
    }

    #[test]
    fn now_has_milliseconds_and_z() {
        let now = now_timestamp();
        assert_eq!(now.len(), "2026-11-27T07:49:40.123Z".len(), "{now}");
        assert!(now.ends_with('Z'), "{now}");
        assert_eq!(normalize_timestamp(&now).unwrap(), now);
    }
}

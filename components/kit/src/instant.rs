//! Instants: parsing RFC 3339 timestamps (query parameters, request bodies) and formatting
//! instants as the host stores them.

use chrono::{DateTime, Datelike, FixedOffset, SecondsFormat, Utc};

/// Parses an RFC 3339 timestamp that carries an offset (`Z` or `±hh:mm`).
///
/// # Errors
/// A message fit for an API client.
pub fn parse_instant(text: &str) -> Result<DateTime<Utc>, String> {
    let parsed: DateTime<FixedOffset> = DateTime::parse_from_rfc3339(text).map_err(|_| {
        "must be an RFC 3339 timestamp with an offset, e.g. 2026-11-25T08:30:00+01:00".to_owned()
    })?;
    let utc = parsed.with_timezone(&Utc);
    if !(1900..=9999).contains(&utc.year()) {
        return Err("must be between the years 1900 and 9999".into());
    }
    Ok(utc)
}

/// An instant as the components write it: RFC 3339, UTC, microseconds.
pub fn format_instant(instant: &DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(SecondsFormat::Micros, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_need_an_offset_and_format_in_utc() {
        let t = parse_instant("2026-11-25T08:30:00+01:00").expect("valid");
        assert_eq!(format_instant(&t), "2026-11-25T07:30:00.000000Z");
        assert!(parse_instant("2026-11-25T08:30:00").is_err());
        assert!(parse_instant("0500-01-01T00:00:00Z").is_err());
    }
}

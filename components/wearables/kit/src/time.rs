//! Just enough calendar arithmetic for RFC 3339 instants, UTC offsets and civil dates
//! (proleptic Gregorian, no leap seconds), so the adapter needs no date crate.

/// Days since 1970-01-01 of a civil date.
pub fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date `(year, month, day)` of a day count since 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if month <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        month,
        day,
    )
}

/// `YYYY-MM-DD` of a day count.
pub fn date_string(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

fn number(text: &str) -> Option<i64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// The day count of a `YYYY-MM-DD` date.
pub fn parse_date(text: &str) -> Option<i64> {
    let mut parts = text.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    let (y, m, d) = (number(y)?, number(m)?, number(d)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let days = days_from_civil(y, m, d);
    (civil_from_days(days) == (y, m, d)).then_some(days)
}

/// Seconds since the epoch of an RFC 3339 instant (`2026-11-03T07:00:00Z`,
/// `2026-11-03T08:00:00.250+01:00`); fractions are dropped.
pub fn parse_instant(text: &str) -> Option<i64> {
    let (date, rest) = text.split_once(['T', 't'])?;
    let days = parse_date(date)?;
    let (clock, offset) = if let Some(clock) = rest.strip_suffix(['Z', 'z']) {
        (clock, 0)
    } else {
        let at = rest.rfind(['+', '-'])?;
        let (clock, zone) = rest.split_at(at);
        let sign = if zone.starts_with('-') { -1 } else { 1 };
        let (h, m) = zone.get(1..)?.split_once(':')?;
        (clock, sign * (number(h)? * 3600 + number(m)? * 60))
    };
    let clock = clock.split('.').next()?;
    let mut fields = clock.split(':');
    let (h, m, s) = (fields.next()?, fields.next()?, fields.next()?);
    if fields.next().is_some() {
        return None;
    }
    let (h, m, s) = (number(h)?, number(m)?, number(s)?);
    if h > 23 || m > 59 || s > 60 {
        return None;
    }
    Some(days * 86_400 + h * 3600 + m * 60 + s - offset)
}

/// RFC 3339 for `instant` seen at `offset` seconds east of UTC (`…Z` when 0).
pub fn format_instant(instant: i64, offset: i64) -> String {
    let local = instant + offset;
    let days = local.div_euclid(86_400);
    let secs = local.rem_euclid(86_400);
    let zone = if offset == 0 {
        "Z".to_owned()
    } else {
        let sign = if offset < 0 { '-' } else { '+' };
        let abs = offset.abs();
        format!("{sign}{:02}:{:02}", abs / 3600, (abs % 3600) / 60)
    };
    format!(
        "{}T{:02}:{:02}:{:02}{zone}",
        date_string(days),
        secs / 3600,
        (secs % 3600) / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        let day = parse_date("2026-11-03").unwrap();
        assert_eq!(date_string(day), "2026-11-03");
        assert_eq!(
            date_string(parse_date("2024-02-29").unwrap() + 1),
            "2024-03-01"
        );
        assert_eq!(parse_date("2026-02-30"), None);
        assert_eq!(parse_date("2026-1-03"), None);
    }

    #[test]
    fn instants_parse_with_offsets_and_format_back() {
        let utc = parse_instant("2026-11-03T07:00:00Z").unwrap();
        assert_eq!(parse_instant("2026-11-03T08:00:00.250+01:00"), Some(utc));
        assert_eq!(parse_instant("2026-11-02T23:00:00-08:00"), Some(utc));
        assert_eq!(format_instant(utc, 3600), "2026-11-03T08:00:00+01:00");
        assert_eq!(
            format_instant(utc, -5 * 3600 - 1800),
            "2026-11-03T01:30:00-05:30"
        );
        assert_eq!(format_instant(utc, 0), "2026-11-03T07:00:00Z");
        assert_eq!(parse_instant("2026-11-03 07:00:00Z"), None);
        assert_eq!(parse_instant("2026-11-03T25:00:00Z"), None);
    }
}

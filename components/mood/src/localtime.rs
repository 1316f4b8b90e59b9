//! The user's clock: the time of day and ISO weekday of a log in the user's own time zone
//! (daylight-saving time included, via `chrono-tz`).

use chrono::{DateTime, Datelike, Timelike, Utc};
use chrono_tz::Tz;

/// A part of the day, in the user's local time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeOfDay {
    /// 05:00 to 11:59.
    Morning,
    /// 12:00 to 16:59.
    Afternoon,
    /// 17:00 to 21:59.
    Evening,
    /// 22:00 to 04:59.
    Night,
}

impl TimeOfDay {
    /// Every part, in the order of a day.
    pub const ALL: [Self; 4] = [Self::Morning, Self::Afternoon, Self::Evening, Self::Night];

    /// The part of the day an hour (0..=23) falls in.
    pub fn from_hour(hour: u32) -> Self {
        match hour {
            5..=11 => Self::Morning,
            12..=16 => Self::Afternoon,
            17..=21 => Self::Evening,
            _ => Self::Night,
        }
    }

    /// The stored name (`time_of_day` column).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Morning => "morning",
            Self::Afternoon => "afternoon",
            Self::Evening => "evening",
            Self::Night => "night",
        }
    }
}

/// The user's time zone; an unknown or empty name falls back to UTC (the schema's default).
pub fn zone(name: &str) -> Tz {
    name.trim().parse::<Tz>().unwrap_or(Tz::UTC)
}

/// The time of day and ISO weekday (Monday = 1 .. Sunday = 7) of `instant` on the wall clock
/// of time zone `tz`.
pub fn local_parts(instant: DateTime<Utc>, tz: &str) -> (TimeOfDay, u32) {
    let local = instant.with_timezone(&zone(tz));
    (
        TimeOfDay::from_hour(local.hour()),
        local.weekday().number_from_monday(),
    )
}

#[cfg(test)]
mod tests {
    use mindflow_component_kit::instant::{format_instant, parse_instant};

    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        parse_instant(text).expect("valid instant")
    }

    #[test]
    fn hours_map_to_parts_of_the_day_at_the_boundaries() {
        let expected = [
            (0, TimeOfDay::Night),
            (4, TimeOfDay::Night),
            (5, TimeOfDay::Morning),
            (11, TimeOfDay::Morning),
            (12, TimeOfDay::Afternoon),
            (16, TimeOfDay::Afternoon),
            (17, TimeOfDay::Evening),
            (21, TimeOfDay::Evening),
            (22, TimeOfDay::Night),
            (23, TimeOfDay::Night),
        ];
        for (hour, part) in expected {
            assert_eq!(TimeOfDay::from_hour(hour), part, "hour {hour}");
        }
    }

    #[test]
    fn parts_are_derived_on_the_users_wall_clock() {
        // 03:00 UTC on Monday 2026-11-30 is Sunday 19:00 in Los Angeles (UTC-8).
        let instant = at("2026-11-30T03:00:00Z");
        assert_eq!(local_parts(instant, "UTC"), (TimeOfDay::Night, 1));
        assert_eq!(
            local_parts(instant, "America/Los_Angeles"),
            (TimeOfDay::Evening, 7)
        );
        // And Monday 12:00 in Tokyo (UTC+9).
        assert_eq!(
            local_parts(instant, "Asia/Tokyo"),
            (TimeOfDay::Afternoon, 1)
        );
    }

    #[test]
    fn daylight_saving_time_moves_the_local_hour() {
        // New York springs forward at 02:00 on Sunday 2026-03-08 (EST, UTC-5 → EDT, UTC-4).
        // 16:30 UTC is 11:30 EST the day before, but 12:30 EDT on the day itself.
        assert_eq!(
            local_parts(at("2026-03-07T16:30:00Z"), "America/New_York"),
            (TimeOfDay::Morning, 6)
        );
        assert_eq!(
            local_parts(at("2026-03-08T16:30:00Z"), "America/New_York"),
            (TimeOfDay::Afternoon, 7)
        );
        // Around the jump itself: 06:59 UTC is 01:59 EST, 07:00 UTC is 03:00 EDT.
        assert_eq!(
            local_parts(at("2026-03-08T06:59:00Z"), "America/New_York"),
            (TimeOfDay::Night, 7)
        );
        assert_eq!(
            local_parts(at("2026-03-08T09:00:00Z"), "America/New_York"),
            (TimeOfDay::Morning, 7)
        );
        // Dublin falls back on 2026-10-25 (IST, UTC+1 → GMT): 04:30 UTC is 05:30 the day
        // before the change but 04:30 after it.
        assert_eq!(
            local_parts(at("2026-10-24T04:30:00Z"), "Europe/Dublin"),
            (TimeOfDay::Morning, 6)
        );
        assert_eq!(
            local_parts(at("2026-10-25T04:30:00Z"), "Europe/Dublin"),
            (TimeOfDay::Night, 7)
        );
    }

    #[test]
    fn an_unknown_zone_falls_back_to_utc() {
        let instant = at("2026-11-30T03:00:00Z");
        assert_eq!(
            local_parts(instant, "Mars/Olympus_Mons"),
            (TimeOfDay::Night, 1)
        );
        assert_eq!(local_parts(instant, ""), (TimeOfDay::Night, 1));
    }

    #[test]
    fn timestamps_need_an_offset_and_a_sane_year() {
        assert_eq!(
            format_instant(&at("2026-11-25T08:30:00.5+01:00")),
            "2026-11-25T07:30:00.500000Z"
        );
        assert!(parse_instant("2026-11-25T08:30:00").is_err());
        assert!(parse_instant("2026-11-25").is_err());
        assert!(parse_instant("yesterday").is_err());
        assert!(parse_instant("1850-01-01T00:00:00Z").is_err());
    }
}

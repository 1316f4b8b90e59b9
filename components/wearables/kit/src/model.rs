//! The normalised values an adapter produces, as plain Rust (the WIT records' twins).

/// One day of normalised metrics (`daily-metrics`); absent values are `None`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Day {
    /// `YYYY-MM-DD`, the user's own calendar day.
    pub metric_date: String,
    /// Minutes asleep (the night ending on this day).
    pub sleep_duration_minutes: Option<i32>,
    /// The provider's sleep score (0–100).
    pub sleep_quality_score: Option<i16>,
    /// Minutes of deep sleep.
    pub deep_sleep_minutes: Option<i32>,
    /// Minutes of REM sleep.
    pub rem_sleep_minutes: Option<i32>,
    /// Steps.
    pub steps: Option<i32>,
    /// Active minutes.
    pub active_minutes: Option<i32>,
    /// Calories burned.
    pub calories_burned: Option<i32>,
    /// Average heart rate, beats per minute.
    pub avg_heart_rate: Option<i32>,
    /// Average HRV in milliseconds, of the provider's kind (SDNN or RMSSD).
    pub hrv_avg: Option<f64>,
    /// The provider's stress score.
    pub stress_score: Option<i16>,
    /// The provider's readiness score.
    pub readiness_score: Option<i16>,
}

impl Day {
    /// An empty day.
    pub fn new(metric_date: impl Into<String>) -> Self {
        Self {
            metric_date: metric_date.into(),
            ..Self::default()
        }
    }
}

/// One sleep session (`sleep-session`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sleep {
    /// The provider's id.
    pub external_id: String,
    /// RFC 3339 start, with the provider's offset.
    pub start: String,
    /// RFC 3339 end.
    pub end: String,
    /// The day the night belongs to: the day it ends.
    pub metric_date: String,
    /// Minutes asleep.
    pub asleep_minutes: i32,
    /// Minutes of deep sleep.
    pub deep_minutes: Option<i32>,
    /// Minutes of REM sleep.
    pub rem_minutes: Option<i32>,
    /// Minutes awake in bed.
    pub awake_minutes: Option<i32>,
}

impl Sleep {
    /// A session from `start` to `end` (RFC 3339 with the provider's offset) of
    /// `asleep_minutes`, with its `[deep, rem, awake]` minutes, on the day it ends: the date
    /// `end` is written in (the user's own).
    pub fn ending(
        external_id: &str,
        start: &str,
        end: &str,
        asleep_minutes: i32,
        [deep_minutes, rem_minutes, awake_minutes]: [Option<i32>; 3],
    ) -> Self {
        Self {
            external_id: external_id.to_owned(),
            start: start.to_owned(),
            end: end.to_owned(),
            metric_date: end.get(..10).unwrap_or_default().to_owned(),
            asleep_minutes,
            deep_minutes,
            rem_minutes,
            awake_minutes,
        }
    }
}

/// Days and sleep sessions (`batch`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Batch {
    /// Days, one per date.
    pub days: Vec<Day>,
    /// Sleep sessions.
    pub sleep: Vec<Sleep>,
}

impl Batch {
    /// The day for `date`, made if absent (days stay in first-seen order).
    pub fn day(&mut self, date: &str) -> &mut Day {
        match self.days.iter().position(|d| d.metric_date == date) {
            Some(at) => &mut self.days[at],
            None => {
                self.days.push(Day::new(date));
                let last = self.days.len() - 1;
                &mut self.days[last]
            }
        }
    }

    /// Adds `other`'s days and sessions; a field `other` has replaces this one's.
    pub fn merge(&mut self, other: Batch) {
        for day in other.days {
            let mine = self.day(&day.metric_date.clone());
            macro_rules! take {
                ($($field:ident),*) => { $( if day.$field.is_some() { mine.$field = day.$field; } )* };
            }
            take!(
                sleep_duration_minutes,
                sleep_quality_score,
                deep_sleep_minutes,
                rem_sleep_minutes,
                steps,
                active_minutes,
                calories_burned,
                avg_heart_rate,
                hrv_avg,
                stress_score,
                readiness_score
            );
        }
        for session in other.sleep {
            if !self
                .sleep
                .iter()
                .any(|s| s.external_id == session.external_id)
            {
                self.sleep.push(session);
            }
        }
    }
}

/// What the provider pushed or asked for, for one user (`notification`). A webhook body
/// reads as a list of these: none when there is nothing to do, several when the provider
/// batches users.
#[derive(Debug, Clone, PartialEq)]
pub enum Notification {
    /// Data in the body, for the provider's user id.
    Data(String, Batch),
    /// Fetch `start..=end` for the provider's user id.
    Fetch(String, String, String),
}

/// Why an adapter call failed (`adapter-error`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The token was refused.
    Unauthorized,
    /// Retry after this many seconds.
    RateLimited(u32),
    /// The provider failed.
    Provider(String),
    /// The input is malformed.
    InvalidInput(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unauthorized => f.write_str("unauthorized"),
            Self::RateLimited(seconds) => write!(f, "rate limited for {seconds} s"),
            Self::Provider(message) => write!(f, "provider: {message}"),
            Self::InvalidInput(message) => write!(f, "invalid input: {message}"),
        }
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_fills_and_replaces_fields_by_day() {
        let mut batch = Batch::default();
        batch.day("2026-11-03").steps = Some(100);
        let mut other = Batch::default();
        other.day("2026-11-03").hrv_avg = Some(42.0);
        other.day("2026-11-04").steps = Some(7);
        batch.merge(other);
        assert_eq!(batch.days.len(), 2);
        assert_eq!(batch.days[0].steps, Some(100));
        assert_eq!(batch.days[0].hrv_avg, Some(42.0));
        assert_eq!(batch.days[1].steps, Some(7));
    }
}

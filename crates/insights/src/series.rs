//! Day aggregation: turns entries and daily metrics into calendar-indexed day series.
//!
//! Day mood is the mean of that day's entries; a factor is present on a day if any entry
//! that day carries it; each entry's part of day comes from its local hour. Only the
//! [`WINDOW_DAYS`] days ending at `today` are used (older data would not describe the
//! person now, and this bounds the work per user).

use chrono::{Datelike, NaiveDate, Timelike};

use crate::{DayMetrics, Entry};

/// How many days, ending at `today`, the analysis looks at.
pub const WINDOW_DAYS: i64 = 730;

/// Parts of the day, by local hour: morning 05–12, afternoon 12–17, evening 17–22,
/// night 22–05.
pub const PARTS: [&str; 4] = ["morning", "afternoon", "evening", "night"];

/// Index into [`PARTS`] for a local hour (0–23).
#[must_use]
pub fn part_of_day(hour: u32) -> usize {
    match hour {
        5..=11 => 0,
        12..=16 => 1,
        17..=21 => 2,
        _ => 3,
    }
}

/// The three wearable metrics, in [`DayMetrics`] field order.
pub const METRICS: [&str; 3] = ["sleep_minutes", "hrv_ms", "steps"];

/// One logged day.
#[derive(Debug, Clone)]
pub struct Day {
    /// Days since [`Series::start`].
    pub pos: i64,
    /// The calendar date.
    pub date: NaiveDate,
    /// Mean mood of the day's entries.
    pub mood: f64,
    /// Per part of day: (sum of moods, number of entries).
    pub parts: [(f64, u32); 4],
}

/// Everything the detectors read.
#[derive(Debug, Clone)]
pub struct Series {
    /// Calendar days in the window (`today` is position `len − 1`).
    pub len: i64,
    /// Logged days, oldest first.
    pub days: Vec<Day>,
    /// Factor names ("category:name"), sorted, each with its presence per logged day.
    pub factors: Vec<(String, Vec<bool>)>,
    /// Per calendar position: the metrics (sleep, HRV, steps), each averaged if repeated.
    pub metrics: Vec<[Option<f64>; 3]>,
}

impl Series {
    /// Builds the series for the window ending at `today`. Entries with a non-finite mood,
    /// metrics that are non-finite or negative, and anything outside the window are ignored.
    #[must_use]
    pub fn build(entries: &[Entry], metrics: &[DayMetrics], today: NaiveDate) -> Self {
        let start = today
            .checked_sub_days(chrono::Days::new(
                u64::try_from(WINDOW_DAYS - 1).unwrap_or(0),
            ))
            .unwrap_or(today);
        let len = (today - start).num_days() + 1;
        let len_us = usize::try_from(len).unwrap_or(0);
        let pos_of = |d: NaiveDate| -> Option<usize> {
            let p = (d - start).num_days();
            if (0..len).contains(&p) {
                usize::try_from(p).ok()
            } else {
                None
            }
        };

        // Collect factor names first (sorted, so output order never depends on input order).
        let mut names: Vec<&str> = entries
            .iter()
            .filter(|e| e.mood.is_finite() && pos_of(e.at.date()).is_some())
            .flat_map(|e| e.factors.iter().map(String::as_str))
            .filter(|f| !f.trim().is_empty())
            .collect();
        names.sort_unstable();
        names.dedup();

        let mut sums = vec![(0.0_f64, 0u32); len_us];
        let mut parts = vec![[(0.0_f64, 0u32); 4]; len_us];
        let mut present = vec![vec![false; len_us]; names.len()];
        for e in entries {
            if !e.mood.is_finite() {
                continue;
            }
            let Some(p) = pos_of(e.at.date()) else {
                continue;
            };
            sums[p].0 += e.mood;
            sums[p].1 += 1;
            let part = part_of_day(e.at.hour());
            parts[p][part].0 += e.mood;
            parts[p][part].1 += 1;
            for f in &e.factors {
                if let Ok(i) = names.binary_search(&f.as_str()) {
                    present[i][p] = true;
                }
            }
        }

        let mut days = Vec::new();
        for (p, &(s, c)) in sums.iter().enumerate() {
            if c == 0 {
                continue;
            }
            let pos = i64::try_from(p).unwrap_or(0);
            let date = start + chrono::Days::new(u64::try_from(p).unwrap_or(0));
            days.push(Day {
                pos,
                date,
                mood: s / f64::from(c),
                parts: parts[p],
            });
        }
        let factors = names
            .iter()
            .zip(present)
            .map(|(name, pres)| {
                let per_day = days
                    .iter()
                    .map(|d| pres[usize::try_from(d.pos).unwrap_or(0)])
                    .collect();
                ((*name).to_string(), per_day)
            })
            .collect();

        let mut msum = vec![[(0.0_f64, 0u32); 3]; len_us];
        for m in metrics {
            let Some(p) = pos_of(m.date) else { continue };
            for (k, v) in [m.sleep_minutes, m.hrv_ms, m.steps].into_iter().enumerate() {
                if let Some(v) = v.filter(|v| v.is_finite() && *v >= 0.0) {
                    msum[p][k].0 += v;
                    msum[p][k].1 += 1;
                }
            }
        }
        let metrics = msum
            .iter()
            .map(|m| {
                let mut out = [None; 3];
                for k in 0..3 {
                    if m[k].1 > 0 {
                        out[k] = Some(m[k].0 / f64::from(m[k].1));
                    }
                }
                out
            })
            .collect();

        Self {
            len,
            days,
            factors,
            metrics,
        }
    }

    /// Positions of the logged days.
    #[must_use]
    pub fn positions(&self) -> Vec<i64> {
        self.days.iter().map(|d| d.pos).collect()
    }

    /// Day moods of the logged days.
    #[must_use]
    pub fn moods(&self) -> Vec<f64> {
        self.days.iter().map(|d| d.mood).collect()
    }

    /// Weekday of a logged day (0 = Monday).
    #[must_use]
    pub fn weekday(day: &Day) -> usize {
        usize::try_from(day.date.weekday().num_days_from_monday()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDateTime;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").expect("date")
    }

    #[test]
    fn aggregates_days_factors_parts_and_metrics() {
        let today = NaiveDate::from_ymd_opt(2026, 3, 10).expect("date");
        let entries = vec![
            Entry {
                at: at("2026-03-09 08:00"),
                mood: 4.0,
                factors: vec!["sleep:poor".into()],
            },
            Entry {
                at: at("2026-03-09 20:00"),
                mood: 6.0,
                factors: vec![],
            },
            Entry {
                at: at("2026-03-10 13:00"),
                mood: 7.0,
                factors: vec!["activity:exercise".into()],
            },
            Entry {
                at: at("2026-03-11 13:00"),
                mood: 1.0,
                factors: vec![],
            }, // future: ignored
            Entry {
                at: at("2020-01-01 13:00"),
                mood: 1.0,
                factors: vec![],
            }, // too old
            Entry {
                at: at("2026-03-08 23:30"),
                mood: f64::NAN,
                factors: vec![],
            },
        ];
        let metrics = vec![
            DayMetrics {
                date: today,
                sleep_minutes: Some(420.0),
                hrv_ms: Some(-3.0),
                steps: None,
            },
            DayMetrics {
                date: today,
                sleep_minutes: Some(400.0),
                hrv_ms: None,
                steps: Some(5000.0),
            },
        ];
        let s = Series::build(&entries, &metrics, today);
        assert_eq!(s.len, WINDOW_DAYS);
        assert_eq!(s.days.len(), 2);
        assert!((s.days[0].mood - 5.0).abs() < 1e-12);
        assert_eq!(s.days[0].parts[0], (4.0, 1));
        assert_eq!(s.days[0].parts[2], (6.0, 1));
        assert_eq!(s.days[1].parts[1], (7.0, 1));
        assert_eq!(s.factors.len(), 2);
        assert_eq!(
            s.factors[0],
            ("activity:exercise".to_string(), vec![false, true])
        );
        assert_eq!(s.factors[1], ("sleep:poor".to_string(), vec![true, false]));
        let last = s.metrics.last().expect("metrics");
        assert_eq!(last[0], Some(410.0));
        assert_eq!(last[1], None);
        assert_eq!(last[2], Some(5000.0));
    }

    #[test]
    fn parts_of_day() {
        assert_eq!(part_of_day(5), 0);
        assert_eq!(part_of_day(11), 0);
        assert_eq!(part_of_day(12), 1);
        assert_eq!(part_of_day(17), 2);
        assert_eq!(part_of_day(22), 3);
        assert_eq!(part_of_day(4), 3);
    }

    #[test]
    fn empty() {
        let today = NaiveDate::from_ymd_opt(2026, 3, 10).expect("date");
        let s = Series::build(&[], &[], today);
        assert!(s.days.is_empty() && s.factors.is_empty());
    }
}

//! The detectors. Each reads the [`Series`] and returns [`Candidate`]s: descriptive
//! numbers, whether there is enough data for a finding (`eligible`, which puts its p-value
//! in the user's Benjamini–Hochberg family) and the test behind it.

pub mod factors;
pub mod time_of_day;
pub mod trend;
pub mod wearables;
pub mod weekday;

use crate::gls::Fit;
use crate::{Direction, InsightType};

/// Subject-specific details the wording needs.
#[derive(Debug, Clone, PartialEq)]
pub enum Detail {
    /// A factor ("category:name").
    Factor,
    /// A weekday (0 = Monday) against the other days.
    Weekday,
    /// A part of the day against the rest of the same days.
    TimeOfDay,
    /// A wearable metric (index into [`crate::series::METRICS`]) at a lag (0 = same day,
    /// 1 = next day); `low_cut`/`high_cut` bound its lowest and highest thirds.
    Wearable {
        /// Index into [`crate::series::METRICS`].
        metric: usize,
        /// 0 = same-day mood, 1 = next-day mood.
        lag: u8,
        /// Largest metric value in the lowest third.
        low_cut: f64,
        /// Smallest metric value in the highest third.
        high_cut: f64,
    },
    /// The last `recent` days against the `prior` days before them.
    Trend {
        /// Length of the recent window (days).
        recent: i64,
        /// Length of the comparison window before it (days).
        prior: i64,
    },
}

/// One tested (or described) pattern before multiplicity control.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// Stable key, see [`crate::Pattern::key`].
    pub key: String,
    /// Its type.
    pub insight_type: InsightType,
    /// Subject, see [`crate::Pattern::subject`].
    pub subject: String,
    /// Enough data for a finding; its `p` joins the BH family.
    pub eligible: bool,
    /// Two-sided p-value of the autocorrelation-aware test (1 when it could not run).
    pub p: f64,
    /// Mood of the subject group minus the comparison group (descriptive, points).
    pub diff: f64,
    /// Size of the subject group (days with the factor, the weekday, the high third …).
    pub n_with: usize,
    /// Size of the comparison group.
    pub n_without: usize,
    /// Total days the candidate rests on.
    pub n_days: usize,
    /// Mean mood in the subject group.
    pub mean_with: f64,
    /// Mean mood in the comparison group.
    pub mean_without: f64,
    /// Spearman correlation between the subject (indicator or metric) and mood.
    pub rank_corr: Option<f64>,
    /// The model-based test, if it ran; its estimate is on the scale of `diff`.
    pub fit: Option<Fit>,
    /// Name of the test.
    pub method: &'static str,
    /// Wording details.
    pub detail: Detail,
}

impl Candidate {
    /// The mood direction associated with the subject.
    #[must_use]
    pub fn direction(&self) -> Direction {
        if self.diff < 0.0 {
            Direction::Lower
        } else {
            Direction::Higher
        }
    }

    /// The model estimate agrees in sign with the descriptive difference.
    #[must_use]
    pub fn consistent(&self) -> bool {
        self.fit.is_some_and(|f| f.estimate * self.diff > 0.0)
    }
}

/// Mean of the selected values, 0 if none.
pub(crate) fn mean_where(values: &[f64], keep: impl Fn(usize) -> bool) -> (f64, usize) {
    let (mut s, mut n) = (0.0, 0usize);
    for (i, v) in values.iter().enumerate() {
        if keep(i) {
            s += v;
            n += 1;
        }
    }
    (
        if n > 0 {
            s / crate::stats::len_f(n)
        } else {
            0.0
        },
        n,
    )
}

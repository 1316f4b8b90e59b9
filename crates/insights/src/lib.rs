//! Per-user pattern detection over mood logs, mood factors and daily wearable metrics.
//!
//! [`detect`] is pure: no I/O, no clock, no threads; the same [`Input`] always gives the
//! same patterns, and it builds for `wasm32-wasip2`.
//!
//! # Method
//!
//! **Data.** The analysis looks at the 730 days ending at `today`. A day's mood is the mean
//! of its entries; a factor is present on a day if any entry that day has it (days with
//! entries but without it are the comparison); parts of the day come from the entry's
//! local hour (morning 05–12, afternoon 12–17, evening 17–22, night 22–05); a night's sleep
//! belongs to the day it ends. Days without entries are gaps, not zeros.
//!
//! **What is tested** (one hypothesis each, all in one family per user):
//! - *weekday cycle*: each weekday against the other days; the clearest weekday is kept and
//!   its p-value multiplied by 7 (Bonferroni for picking the best of seven);
//! - *time of day*: for each part of the day, that part's mood minus the rest of the same
//!   day (a within-day comparison, which removes day-to-day swings); the clearest part is
//!   kept, its p-value multiplied by the number of parts compared;
//! - *factor effects*: mood on days with the factor against days without it, per factor;
//! - *wearable links*: sleep minutes, HRV (RMSSD) and steps against same-day mood (metric
//!   on day d, mood on d) and next-day mood (metric on d, mood on d + 1): six tests, on the
//!   metric's normal scores (rank-based, so skewed metrics and outliers do not drive it);
//! - *trend change*: the last 14 days against the 28 before them.
//!
//! **The test, and why it is autocorrelation-aware.** Self-tracked mood is persistent, and
//! so are many factors and metrics; two persistent series look related far more often than
//! a t-test on independent days assumes. Every test is therefore a regression of the day
//! series on the regressor with **AR(1) errors**, fitted by feasible generalised least
//! squares: the lag-1 autocorrelation ρ of the residuals is estimated over consecutive
//! days, corrected for its small-sample bias (ρ̂ + (1 + 3ρ̂)/n) plus one standard error
//! (erring towards persistence, which is the conservative side), clamped to 0..0.9, and both
//! sides are prewhitened with the Prais–Winsten transform, which is exact across gaps
//! (over a gap of g days the correlation is ρ^g). Leftover autocorrelation that the AR(1)
//! model misses is caught by Bartlett's variance-inflation factor 1 + 2 Σ_{k≤5} r_e(k)·r_x(k)
//! on the prewhitened residuals and regressor (never below 1), which shrinks the effective
//! sample size and the t degrees of freedom. The p-value is two-sided Student t; the 95 %
//! confidence interval of the difference comes from the same fit.
//!
//! **Multiplicity.** All tests with enough data for a finding (below) form one family per
//! user, and their p-values are adjusted by **Benjamini–Hochberg**. A *finding* is a test
//! with **q ≤ 0.03**, a difference of at least 0.3 points, and a model estimate with the same
//! sign as the observed difference. Why 0.03: for a user with no real pattern, BH's
//! false-discovery rate is the chance of *any* false finding, about q when the p-values are
//! exact; the target is ≤ 5 % of such users, and feasible-GLS p-values are slightly liberal
//! in short series (≈ 1.1–1.3× the nominal rate at 30 days), so q = 0.05 would sit right at
//! the limit (4–6 % on the dev seeds) and 0.1 far above it. q = 0.03 gave 3–4 % on the dev
//! seeds (see `EVALUATION.md`), at a cost of 2–4 points of power.
//!
//! **Enough data for a finding**: a factor on ≥ 14 days and absent on ≥ 14; every weekday
//! ≥ 5 times and ≥ 42 logged days; a part of the day on ≥ 14 days that also have other
//! entries; a metric on ≥ 28 days paired with mood; ≥ 10 logged days in the last 14 and
//! ≥ 20 in the 28 before.
//!
//! **Observations** ("early pattern", never counted as findings) are emitted only for
//! subjects that lack the data for a finding, need ≥ 3 days on each side (a factor, each
//! weekday, a part of the day; 9 paired days for a metric; 5 + 10 days for a trend) and a
//! difference of at least 1 point; at most 3 per user, largest difference first. Tests
//! that had enough data but did not pass BH are not shown at all.
//!
//! **Wording** describes the person's own logs ("On days you logged exercise your mood
//! averaged 1.4 points higher …"), says how many days it rests on, and never claims a cause
//! or a diagnosis.
//!
//! **Seed.** All tests are analytic, so the output does not depend on [`Input::seed`];
//! it is part of the input so that a resampling test can be added without changing the
//! API. The seeded generator ([`rng`]) drives the validity simulation ([`simulate`]).
//!
//! Validity (power, false findings on AR(1) noise) and speed figures: `EVALUATION.md`.

mod detect;
mod fdr;
mod gls;
pub mod rng;
mod series;
pub mod simulate;
mod stats;
#[cfg(test)]
mod tests;
mod wording;

use chrono::{NaiveDate, NaiveDateTime};
use serde_json::{Value, json};

use detect::Candidate;
pub use wording::{FORBIDDEN, is_non_causal};

/// BH level for findings.
pub const FDR_Q: f64 = 0.03;
/// Smallest difference (mood points) a finding may report.
pub const MIN_FINDING_POINTS: f64 = 0.3;
/// Smallest difference (mood points) an observation may report.
pub const MIN_OBSERVATION_POINTS: f64 = 1.0;
/// Most observations returned per user.
pub const MAX_OBSERVATIONS: usize = 3;

/// One mood log.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// User-local wall time of the entry.
    pub at: NaiveDateTime,
    /// Mood score (1–10).
    pub mood: f64,
    /// Factors logged with it, as "category:name" (e.g. "activity:exercise").
    pub factors: Vec<String>,
}

/// One day's wearable metrics (any may be missing).
#[derive(Debug, Clone, PartialEq)]
pub struct DayMetrics {
    /// The day (for sleep: the day the night ended).
    pub date: NaiveDate,
    /// Minutes asleep.
    pub sleep_minutes: Option<f64>,
    /// Heart rate variability, RMSSD in milliseconds (never SDNN).
    pub hrv_ms: Option<f64>,
    /// Step count.
    pub steps: Option<f64>,
}

/// Everything [`detect`] looks at.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    /// Mood entries, any order.
    pub entries: &'a [Entry],
    /// Daily metrics, any order.
    pub metrics: &'a [DayMetrics],
    /// The user's local date; later data is ignored, and the trend window ends here.
    pub today: NaiveDate,
    /// Seed for any randomised step (currently none: see the crate docs).
    pub seed: u64,
}

/// The kind of pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InsightType {
    /// A weekday differs from the others.
    WeekdayCycle,
    /// A part of the day differs from the rest of the day.
    TimeOfDay,
    /// Mood with versus without a factor.
    FactorEffect,
    /// A wearable metric goes with same-day or next-day mood.
    WearableLink,
    /// A sustained drop or rise.
    TrendChange,
}

impl InsightType {
    /// Stable name: "weekday_cycle", "time_of_day", "factor_effect", "wearable_link",
    /// "trend_change".
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::WeekdayCycle => "weekday_cycle",
            Self::TimeOfDay => "time_of_day",
            Self::FactorEffect => "factor_effect",
            Self::WearableLink => "wearable_link",
            Self::TrendChange => "trend_change",
        }
    }
}

/// How much a pattern rests on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Strength {
    /// Descriptive, from few days ("so far"); never a finding.
    Observation,
    /// Enough data, and it survived the false-discovery-rate control.
    Finding,
}

impl Strength {
    /// "observation" or "finding".
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Observation => "observation",
            Self::Finding => "finding",
        }
    }
}

/// The mood direction associated with the subject (factor present, metric high, the
/// weekday, the part of day, the recent days).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Mood higher.
    Higher,
    /// Mood lower.
    Lower,
}

impl Direction {
    /// "higher" or "lower".
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Higher => "higher",
            Self::Lower => "lower",
        }
    }
}

/// One detected pattern.
#[derive(Debug, Clone, PartialEq)]
pub struct Pattern {
    /// Stable identity across runs: "weekday", "time_of_day", "factor:activity:exercise",
    /// "wearable:sleep_minutes:same_day" (or `next_day`), "trend".
    pub key: String,
    /// Its kind.
    pub insight_type: InsightType,
    /// Observation or finding.
    pub strength: Strength,
    /// True for factor effects and wearable links (premium features).
    pub premium: bool,
    /// The factor ("activity:exercise"), metric ("sleep_minutes", "hrv_ms", "steps"),
    /// weekday ("monday"), part of day ("evening"), or "mood" for a trend.
    pub subject: String,
    /// Mood direction associated with the subject.
    pub direction: Direction,
    /// Plain-language title, at most 200 characters.
    pub title: String,
    /// Plain-language description: no causation, no diagnosis, the number of days.
    pub description: String,
    /// The numbers behind it: `days`, `n_with`, `n_without`, `mean_with`, `mean_without`
    /// (what "with" means depends on the type: the factor present, the weekday, the part of
    /// day, the metric's highest third, the recent days), `difference` (points, with −
    /// without), `effect_size` (difference / SD of day mood), `rank_correlation` (Spearman,
    /// null for time of day), `ci95` ([low, high] of the difference, model-based), `p`,
    /// `q` (BH-adjusted; null for observations), `method`, `n_effective`,
    /// `autocorrelation` (the AR(1) ρ used), `bh_family_size`, plus type-specific fields
    /// (`lag`, `low_cut`, `high_cut` for wearables; `recent_days`, `prior_days` for trends).
    /// Numbers are always finite (null where there is none).
    pub data_points: Value,
    /// 0..=1: 1 − q for findings; at most 0.5 for observations (0.5 × (1 − p)).
    pub confidence: f64,
}

/// One hypothesis as tested, before the false-discovery control: what calibration checks
/// look at (`examples/calibration.rs`).
#[derive(Debug, Clone, PartialEq)]
pub struct Tested {
    /// The pattern's key, see [`Pattern::key`].
    pub key: String,
    /// Whether it had enough data for a finding (its `p` joins the BH family).
    pub eligible: bool,
    /// Its two-sided p-value (1 when the test could not run).
    pub p: f64,
}

/// Every hypothesis tested for one user's data, with its raw p-value.
#[must_use]
pub fn tested(input: &Input<'_>) -> Vec<Tested> {
    let s = series::Series::build(input.entries, input.metrics, input.today);
    if s.days.is_empty() {
        return Vec::new();
    }
    candidates(&s)
        .into_iter()
        .map(|c| Tested {
            key: c.key,
            eligible: c.eligible,
            p: c.p,
        })
        .collect()
}

/// Every detector's candidates for a day series.
fn candidates(s: &series::Series) -> Vec<Candidate> {
    let mut cands: Vec<Candidate> = Vec::new();
    cands.extend(detect::weekday::detect(s));
    cands.extend(detect::time_of_day::detect(s));
    cands.extend(detect::factors::detect(s));
    cands.extend(detect::wearables::detect(s));
    cands.extend(detect::trend::detect(s));
    cands
}

/// Detects the patterns in one user's data, strongest first: findings (by absolute effect
/// size), then at most [`MAX_OBSERVATIONS`] observations (by absolute difference).
#[must_use]
pub fn detect(input: &Input<'_>) -> Vec<Pattern> {
    let s = series::Series::build(input.entries, input.metrics, input.today);
    if s.days.is_empty() {
        return Vec::new();
    }
    let mood_sd = stats::sd(&s.moods());
    let cands = candidates(&s);

    // One BH family: every test with enough data for a finding.
    let family: Vec<usize> = (0..cands.len()).filter(|&i| cands[i].eligible).collect();
    let p: Vec<f64> = family.iter().map(|&i| cands[i].p).collect();
    let q_family = fdr::bh_adjust(&p);
    let mut q = vec![None; cands.len()];
    for (k, &i) in family.iter().enumerate() {
        q[i] = Some(q_family[k]);
    }

    let mut findings = Vec::new();
    let mut observations = Vec::new();
    for (i, c) in cands.iter().enumerate() {
        match q[i] {
            Some(qv) => {
                if qv <= FDR_Q && c.diff.abs() >= MIN_FINDING_POINTS && c.consistent() {
                    findings.push(build(c, Strength::Finding, Some(qv), mood_sd, family.len()));
                }
            }
            None => {
                if c.diff.abs() >= MIN_OBSERVATION_POINTS {
                    observations.push(build(c, Strength::Observation, None, mood_sd, family.len()));
                }
            }
        }
    }
    let effect = |p: &Pattern| p.data_points["effect_size"].as_f64().unwrap_or(0.0).abs();
    let gap = |p: &Pattern| p.data_points["difference"].as_f64().unwrap_or(0.0).abs();
    findings.sort_by(|a, b| {
        effect(b)
            .total_cmp(&effect(a))
            .then_with(|| a.key.cmp(&b.key))
    });
    observations.sort_by(|a, b| gap(b).total_cmp(&gap(a)).then_with(|| a.key.cmp(&b.key)));
    observations.truncate(MAX_OBSERVATIONS);
    findings.extend(observations);
    findings
}

/// A finite number as JSON, else null.
fn num(v: f64) -> Value {
    if v.is_finite() { json!(v) } else { Value::Null }
}

fn build(
    c: &Candidate,
    strength: Strength,
    q: Option<f64>,
    mood_sd: f64,
    family: usize,
) -> Pattern {
    let (title, description) = wording::describe(c, strength);
    let effect_size = if mood_sd > 1e-9 {
        c.diff / mood_sd
    } else {
        0.0
    };
    let mut dp = json!({
        "days": c.n_days,
        "n_with": c.n_with,
        "n_without": c.n_without,
        "mean_with": num(c.mean_with),
        "mean_without": num(c.mean_without),
        "difference": num(c.diff),
        "effect_size": num(effect_size),
        "rank_correlation": c.rank_corr.map_or(Value::Null, num),
        "ci95": c.fit.map_or(Value::Null, |f| json!([num(f.ci95.0), num(f.ci95.1)])),
        "p": num(c.p),
        "q": q.map_or(Value::Null, num),
        "method": if strength == Strength::Finding { c.method } else { "descriptive" },
        "test_method": c.method,
        "n_effective": c.fit.map_or(Value::Null, |f| num(f.n_eff)),
        "autocorrelation": c.fit.map_or(Value::Null, |f| num(f.rho)),
        "bh_family_size": family,
    });
    if let (
        Value::Object(map),
        detect::Detail::Wearable {
            lag,
            low_cut,
            high_cut,
            ..
        },
    ) = (&mut dp, &c.detail)
    {
        map.insert(
            "lag".into(),
            json!(if *lag == 0 { "same_day" } else { "next_day" }),
        );
        map.insert("low_cut".into(), num(*low_cut));
        map.insert("high_cut".into(), num(*high_cut));
    }
    if let (Value::Object(map), detect::Detail::Trend { recent, prior }) = (&mut dp, &c.detail) {
        map.insert("recent_days".into(), json!(recent));
        map.insert("prior_days".into(), json!(prior));
    }
    let confidence = match (strength, q) {
        (Strength::Finding, Some(q)) => (1.0 - q).clamp(0.0, 1.0),
        _ => (0.5 * (1.0 - c.p)).clamp(0.0, 0.5),
    };
    Pattern {
        key: c.key.clone(),
        insight_type: c.insight_type,
        strength,
        premium: matches!(
            c.insight_type,
            InsightType::FactorEffect | InsightType::WearableLink
        ),
        subject: c.subject.clone(),
        direction: c.direction(),
        title,
        description,
        data_points: dp,
        confidence: if confidence.is_finite() {
            confidence
        } else {
            0.0
        },
    }
}

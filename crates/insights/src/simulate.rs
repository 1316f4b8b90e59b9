//! Seeded synthetic users for the validity simulation and the benchmark.
//!
//! Every user has the same structure, planted effect or not: AR(1) day mood (ρ = 0.5,
//! marginal SD 1.5 points) around a personal baseline, 1–3 entries on a logged day at
//! random hours with a little entry-level noise (SD 0.5), each entry rounded and clamped
//! to 1–10 like real scores; eight factors, each a two-state Markov chain (its own
//! frequency 10–60 % of days and its own persistence, lag-1 autocorrelation 0–0.7); and
//! sleep, HRV and steps every day with 95 % coverage, each persistent (AR(1)). Sleep is
//! 6 h 40 min ± 1 h (wearables measure time asleep, which is shorter than time in bed), so
//! about a quarter of nights are under 6 h.
//!
//! Planted effects, added to the day's latent mood: [`Planted::WeekdayDip`] −1.5 on
//! Mondays; [`Planted::ShortSleep`] −1.5 on a day whose night (ending that morning) was
//! under 6 h; [`Planted::Factor`] +1.5 on days with "activity:exercise" (present on ~40 %
//! of days). [`Planted::None`] has no effect at all; [`Planted::NonePersistent`] neither,
//! with every factor strongly persistent (autocorrelation 0.8) and sleep too (0.6), the
//! case where tests that ignore autocorrelation fail most.

use chrono::{Days, NaiveDate, NaiveTime};

use crate::rng::SplitMix64;
use crate::{DayMetrics, Entry};

/// The effect planted in a synthetic user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Planted {
    /// No effect; factors with random frequency and persistence (0–0.7).
    None,
    /// No effect; every factor persistent (0.8), sleep persistent (0.6).
    NonePersistent,
    /// Mondays −1.5.
    WeekdayDip,
    /// −1.5 on days after a night under 6 h of sleep.
    ShortSleep,
    /// +1.5 on days with "activity:exercise" (present ~40 % of days).
    Factor,
}

impl Planted {
    /// Short name for tables.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::None => "null (AR(1) 0.5 noise)",
            Self::NonePersistent => "null, persistent factors",
            Self::WeekdayDip => "weekday dip (Mon -1.5)",
            Self::ShortSleep => "short sleep (<6h -1.5)",
            Self::Factor => "factor +1.5 (40% of days)",
        }
    }

    /// The key and direction a correct finding has, if anything is planted.
    #[must_use]
    pub fn expected(self) -> Option<(&'static str, crate::Direction)> {
        match self {
            Self::None | Self::NonePersistent => None,
            Self::WeekdayDip => Some(("weekday", crate::Direction::Lower)),
            Self::ShortSleep => Some(("wearable:sleep_minutes:same_day", crate::Direction::Higher)),
            Self::Factor => Some(("factor:activity:exercise", crate::Direction::Higher)),
        }
    }

    /// Whether a finding with this key is related to the planted effect (the planted key,
    /// or for short sleep the next-day sleep link, which mood persistence carries over).
    #[must_use]
    pub fn related(self, key: &str) -> bool {
        match self {
            Self::None | Self::NonePersistent => false,
            Self::WeekdayDip => key == "weekday",
            Self::ShortSleep => key.starts_with("wearable:sleep_minutes:"),
            Self::Factor => key == "factor:activity:exercise",
        }
    }
}

/// Generator settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Config {
    /// Logged days to produce (calendar days run on until this many have entries).
    pub logged_days: usize,
    /// Chance a calendar day has entries.
    pub log_rate: f64,
    /// Effect planted.
    pub planted: Planted,
    /// Effect size in mood points (sign as described in [`Planted`]).
    pub effect: f64,
    /// Marginal SD of the day mood noise in points ([`MOOD_SD`] unless a sensitivity run
    /// asks for another).
    pub noise_sd: f64,
}

impl Config {
    /// The standard validity settings: 90 % of days logged, effect 1.5.
    #[must_use]
    pub fn standard(planted: Planted, logged_days: usize) -> Self {
        Self {
            logged_days,
            log_rate: 0.9,
            planted,
            effect: 1.5,
            noise_sd: MOOD_SD,
        }
    }
}

/// One synthetic user's data.
#[derive(Debug, Clone)]
pub struct User {
    /// Mood entries.
    pub entries: Vec<Entry>,
    /// Daily metrics.
    pub metrics: Vec<DayMetrics>,
    /// The last calendar day generated.
    pub today: NaiveDate,
}

/// AR(1) coefficient of the day mood noise.
pub const MOOD_RHO: f64 = 0.5;
/// Marginal SD of the day mood noise (points).
pub const MOOD_SD: f64 = 1.5;
/// Short-night threshold for [`Planted::ShortSleep`] (minutes).
pub const SHORT_SLEEP_MINUTES: f64 = 360.0;

const BACKGROUND: [&str; 7] = [
    "social:friends",
    "food:healthy",
    "work:busy",
    "weather:sunny",
    "sleep:poor",
    "health:headache",
    "hobby:reading",
];

/// A two-state Markov chain with stationary frequency `p` and lag-1 autocorrelation `a`.
struct Habit {
    p: f64,
    a: f64,
    on: bool,
}

impl Habit {
    fn new(p: f64, a: f64, r: &mut SplitMix64) -> Self {
        Self {
            p,
            a,
            on: r.chance(p),
        }
    }
    fn step(&mut self, r: &mut SplitMix64) -> bool {
        let p_on = if self.on {
            self.p + self.a * (1.0 - self.p)
        } else {
            self.p * (1.0 - self.a)
        };
        self.on = r.chance(p_on);
        self.on
    }
}

/// A persistent Gaussian series (AR(1), unit marginal variance).
struct Ar {
    rho: f64,
    v: f64,
}

impl Ar {
    fn new(rho: f64, r: &mut SplitMix64) -> Self {
        Self { rho, v: r.normal() }
    }
    fn step(&mut self, r: &mut SplitMix64) -> f64 {
        self.v = self.rho * self.v + (1.0 - self.rho * self.rho).sqrt() * r.normal();
        self.v
    }
}

/// Generates one user from `seed`.
#[must_use]
pub fn generate(cfg: &Config, seed: u64) -> User {
    let mut r = SplitMix64::new(seed);
    let persistent = cfg.planted == Planted::NonePersistent;
    let baseline = 6.0 + 0.5 * r.normal();
    let start = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap_or_default() + Days::new(r.below(7));

    let mut habits: Vec<(String, Habit)> = BACKGROUND
        .iter()
        .map(|name| {
            let p = 0.1 + 0.5 * r.next_f64();
            let a = if persistent { 0.8 } else { 0.7 * r.next_f64() };
            ((*name).to_string(), Habit::new(p, a, &mut r))
        })
        .collect();
    let ex_a = if persistent { 0.8 } else { 0.5 * r.next_f64() };
    habits.push((
        "activity:exercise".to_string(),
        Habit::new(0.4, ex_a, &mut r),
    ));

    let mut mood = Ar::new(MOOD_RHO, &mut r);
    let mut sleep = Ar::new(if persistent { 0.6 } else { 0.3 }, &mut r);
    let mut hrv = Ar::new(0.4, &mut r);
    let mut steps = Ar::new(0.3, &mut r);
    let hrv_base = (35.0 + 25.0 * r.next_f64()).ln();
    let steps_base = (4_000.0 + 6_000.0 * r.next_f64()).ln();

    let mut entries = Vec::new();
    let mut metrics = Vec::new();
    let mut logged = 0;
    let mut day = start;
    let mut today = start;
    while logged < cfg.logged_days {
        let sleep_min = (400.0 + 60.0 * sleep.step(&mut r)).clamp(180.0, 660.0);
        let hrv_ms = (hrv_base + 0.25 * hrv.step(&mut r)).exp();
        let step_count = (steps_base + 0.4 * steps.step(&mut r)).exp().round();
        let present: Vec<bool> = habits.iter_mut().map(|(_, h)| h.step(&mut r)).collect();
        let noise = cfg.noise_sd * mood.step(&mut r);
        let sleep_seen = r.chance(0.95);
        metrics.push(DayMetrics {
            date: day,
            sleep_minutes: sleep_seen.then_some(sleep_min),
            hrv_ms: r.chance(0.95).then_some(hrv_ms),
            steps: r.chance(0.95).then_some(step_count),
        });

        let mut latent = baseline + noise;
        match cfg.planted {
            Planted::WeekdayDip if chrono::Datelike::weekday(&day) == chrono::Weekday::Mon => {
                latent -= cfg.effect;
            }
            Planted::ShortSleep if sleep_min < SHORT_SLEEP_MINUTES => latent -= cfg.effect,
            Planted::Factor if present[present.len() - 1] => latent += cfg.effect,
            _ => {}
        }

        if r.chance(cfg.log_rate) {
            logged += 1;
            let n = 1 + r.below(3);
            let mut hours: Vec<u32> = (0..n)
                .map(|_| 7 + u32::try_from(r.below(17)).unwrap_or(0))
                .collect();
            hours.sort_unstable();
            let mut day_entries: Vec<Entry> = hours
                .iter()
                .map(|&h| {
                    let score = (latent + 0.5 * r.normal()).round().clamp(1.0, 10.0);
                    let minute = u32::try_from(r.below(60)).unwrap_or(0);
                    let time = NaiveTime::from_hms_opt(h.min(23), minute, 0).unwrap_or_default();
                    Entry {
                        at: day.and_time(time),
                        mood: score,
                        factors: Vec::new(),
                    }
                })
                .collect();
            for (k, (name, _)) in habits.iter().enumerate() {
                if present[k] {
                    let which = usize::try_from(r.below(n)).unwrap_or(0);
                    if let Some(e) = day_entries.get_mut(which) {
                        e.factors.push(name.clone());
                    }
                }
            }
            entries.extend(day_entries);
        }
        today = day;
        day = day + Days::new(1);
    }
    User {
        entries,
        metrics,
        today,
    }
}

/// A seed for user `index` of a scenario, mixing in everything that defines the cell so
/// that cells never share users.
#[must_use]
pub fn user_seed(base: u64, index: u64, planted: Planted, logged_days: usize) -> u64 {
    let kind = match planted {
        Planted::None => 1u64,
        Planted::NonePersistent => 2,
        Planted::WeekdayDip => 3,
        Planted::ShortSleep => 4,
        Planted::Factor => 5,
    };
    let mut r = SplitMix64::new(
        base.wrapping_add(index)
            ^ kind.wrapping_mul(0x9E37_79B9_7F4A_7C15)
            ^ u64::try_from(logged_days)
                .unwrap_or(0)
                .wrapping_mul(0xD1B5_4A32_D192_ED03),
    );
    r.next_u64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_and_reproducibility() {
        let cfg = Config::standard(Planted::Factor, 60);
        let a = generate(&cfg, 42);
        let b = generate(&cfg, 42);
        assert_eq!(a.entries, b.entries);
        let days: std::collections::BTreeSet<_> = a.entries.iter().map(|e| e.at.date()).collect();
        assert_eq!(days.len(), 60);
        assert!(a.entries.iter().all(|e| (1.0..=10.0).contains(&e.mood)));
        assert!(a.metrics.len() >= 60);
        assert_eq!(a.metrics.last().map(|m| m.date), Some(a.today));
    }

    #[test]
    fn marginal_sd_is_about_one_and_a_half() {
        let cfg = Config {
            logged_days: 5_000,
            log_rate: 1.0,
            planted: Planted::None,
            effect: 0.0,
            noise_sd: crate::simulate::MOOD_SD,
        };
        let u = generate(&cfg, 7);
        let s = crate::series::Series::build(&u.entries, &u.metrics, u.today);
        let sd = crate::stats::sd(&s.moods());
        assert!((1.3..1.8).contains(&sd), "day mood sd {sd}");
    }
}

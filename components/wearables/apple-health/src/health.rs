//! HealthKit samples, whatever file they came from, accumulated into normalised days and
//! sleep sessions.
//!
//! **Days.** A sample belongs to the local calendar day of its start, read from its own
//! timestamp's offset (`2026-11-03 07:14:02 -0700` is 3 November wherever the file is read),
//! so travel across time zones moves days as the user lived them.
//!
//! **Summed quantities** (steps, active and basal energy, exercise minutes): an iPhone and a
//! Watch both count steps, and adding them would count a walk twice. Each is summed per
//! source and local hour, and a day's value is the sum over its hours of the largest
//! source's total in that hour (Health's own de-duplication prefers one source per
//! interval; with one source this is the plain sum). Calories burned are active + basal
//! energy (either alone when only one was recorded), in kcal: `kcal` and `Cal` are
//! kilocalories, `kJ` is divided by 4.184, `cal` and `J` are scaled too. Active minutes are
//! `AppleExerciseTime` (`min`, `s`, `hr`), or an `ActivitySummary`'s `appleExerciseTime`
//! for a day without exercise-time samples.
//!
//! **Averaged quantities**: heart rate (`count/min`) is the mean of the day's hourly means
//! (a workout's samples every few seconds weigh as the hour they fall in, not as hundreds of
//! samples against one every few minutes otherwise); HRV SDNN (`ms`, a few samples a day)
//! is the mean of the day's samples. Every source counts.
//!
//! **Sleep** (`HKCategoryTypeIdentifierSleepAnalysis`). Asleep stages are `Asleep` /
//! `AsleepUnspecified` (no stage detail), `AsleepCore`, `AsleepDeep`, `AsleepREM`; `Awake`
//! and `InBed` are not asleep. Sources overlap (an iPhone's bedtime estimate and a Watch's
//! stages for the same night), so:
//! 1. the *detail windows* are the union of staged intervals (Core, Deep, REM, and Awake
//!    from a source that records stages);
//! 2. the asleep time is the union of staged asleep intervals, plus unstaged asleep
//!    intervals only where no detail window covers them (the staged source is preferred
//!    where it has data, the others fill its gaps), so nothing is counted twice;
//! 3. asleep blocks less than 2 hours apart form one **session**; its deep and REM minutes
//!    are the union of those stages within it (`None` when it has no stage detail), its
//!    awake minutes the time between its blocks plus `Awake` intervals touching it, less
//!    any asleep time;
//! 4. a session belongs to the local day it **ends** (by the offset of its last sample),
//!    and a day's sleep is the sum of its sessions (a nap ending that day included);
//! 5. a session's `external_id` is `apple-` and a 64-bit FNV-1a hash of its main source's
//!    name and its RFC 3339 start: the same night uploaded again keeps its id.
//!
//! A sample this module cannot read (a bad timestamp, a non-numeric or negative value, an
//! unknown unit, an end before its start) is skipped and counted in [`Stats`]; other types
//! are counted as ignored.

use std::collections::HashMap;

use mindflow_adapter_kit::model::{Batch, Day, Sleep};

/// Sessions are asleep blocks less than this far apart (seconds).
const SESSION_GAP: i64 = 2 * 3600;

/// At most this many sleep intervals are kept (a decade of a Watch and an iPhone is about
/// 250,000); more is refused rather than growing without bound.
pub const MAX_SLEEP_INTERVALS: usize = 2_000_000;

/// A quantity this adapter reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantity {
    /// `HKQuantityTypeIdentifierStepCount`.
    Steps,
    /// `HKQuantityTypeIdentifierHeartRate`.
    HeartRate,
    /// `HKQuantityTypeIdentifierHeartRateVariabilitySDNN`.
    Hrv,
    /// `HKQuantityTypeIdentifierActiveEnergyBurned`.
    ActiveEnergy,
    /// `HKQuantityTypeIdentifierBasalEnergyBurned`.
    BasalEnergy,
    /// `HKQuantityTypeIdentifierAppleExerciseTime`.
    ExerciseTime,
}

/// A sleep-analysis value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// In bed (not asleep).
    InBed,
    /// Asleep, no stage detail (`Asleep`, `AsleepUnspecified`).
    Asleep,
    /// Core (light) sleep.
    Core,
    /// Deep sleep.
    Deep,
    /// REM sleep.
    Rem,
    /// Awake.
    Awake,
}

impl Stage {
    fn staged(self) -> bool {
        matches!(self, Self::Core | Self::Deep | Self::Rem)
    }

    fn asleep(self) -> bool {
        matches!(self, Self::Asleep | Self::Core | Self::Deep | Self::Rem)
    }
}

/// What a sample's `type` is, for this adapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A quantity.
    Quantity(Quantity),
    /// Sleep analysis.
    Sleep,
}

/// The kind of a HealthKit type identifier, `None` for types this adapter ignores.
#[must_use]
pub fn kind(type_id: &str) -> Option<Kind> {
    let quantity = match type_id {
        "HKQuantityTypeIdentifierStepCount" => Quantity::Steps,
        "HKQuantityTypeIdentifierHeartRate" => Quantity::HeartRate,
        "HKQuantityTypeIdentifierHeartRateVariabilitySDNN" => Quantity::Hrv,
        "HKQuantityTypeIdentifierActiveEnergyBurned" => Quantity::ActiveEnergy,
        "HKQuantityTypeIdentifierBasalEnergyBurned" => Quantity::BasalEnergy,
        "HKQuantityTypeIdentifierAppleExerciseTime" => Quantity::ExerciseTime,
        "HKCategoryTypeIdentifierSleepAnalysis" => return Some(Kind::Sleep),
        _ => return None,
    };
    Some(Kind::Quantity(quantity))
}

/// A sleep-analysis value: the export's names, or HealthKit's raw values (`0` in bed, `1`
/// asleep unspecified, `2` awake, `3` core, `4` deep, `5` REM).
#[must_use]
pub fn stage(value: &str) -> Option<Stage> {
    Some(match value {
        "HKCategoryValueSleepAnalysisInBed" | "0" => Stage::InBed,
        "HKCategoryValueSleepAnalysisAsleepUnspecified"
        | "HKCategoryValueSleepAnalysisAsleep"
        | "1" => Stage::Asleep,
        "HKCategoryValueSleepAnalysisAwake" | "2" => Stage::Awake,
        "HKCategoryValueSleepAnalysisAsleepCore" | "3" => Stage::Core,
        "HKCategoryValueSleepAnalysisAsleepDeep" | "4" => Stage::Deep,
        "HKCategoryValueSleepAnalysisAsleepREM" | "5" => Stage::Rem,
        _ => return None,
    })
}

/// A timestamp: an instant and the offset it was written with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// Seconds since 1970-01-01T00:00:00Z.
    pub secs: i64,
    /// The offset from UTC, minutes.
    pub offset_min: i32,
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count (days since 1970-01-01).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

fn digits(s: &[u8]) -> Option<i64> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0, |n, &b| n * 10 + i64::from(b - b'0')))
}

impl Stamp {
    /// Reads Apple's export form `2026-11-03 07:14:02 -0700` or RFC 3339
    /// (`2026-11-03T07:14:02-07:00`, `…Z`, fractional seconds allowed). An offset is required.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        let s = text.trim().as_bytes();
        if s.len() < 20 || s[4] != b'-' || s[7] != b'-' || !matches!(s[10], b' ' | b'T' | b't') {
            return None;
        }
        if s[13] != b':' || s[16] != b':' {
            return None;
        }
        let (y, mo, d) = (digits(&s[0..4])?, digits(&s[5..7])?, digits(&s[8..10])?);
        let (h, mi, se) = (
            digits(&s[11..13])?,
            digits(&s[14..16])?,
            digits(&s[17..19])?,
        );
        let month_days = match mo {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
            2 => 28,
            _ => return None,
        };
        if d < 1 || d > month_days || h > 23 || mi > 59 || se > 60 {
            return None;
        }
        let mut rest = &s[19..];
        if let Some(frac) = rest.strip_prefix(b".") {
            let n = frac.iter().take_while(|b| b.is_ascii_digit()).count();
            if n == 0 {
                return None;
            }
            rest = &frac[n..];
        }
        let rest = rest.trim_ascii_start();
        let offset_min = match rest {
            b"Z" | b"z" => 0,
            [sign @ (b'+' | b'-'), zone @ ..] => {
                let (oh, om) = match zone {
                    [a, b, b':', c, d] | [a, b, c, d] => (digits(&[*a, *b])?, digits(&[*c, *d])?),
                    _ => return None,
                };
                if oh > 18 || om > 59 {
                    return None;
                }
                let minutes = i32::try_from(oh * 60 + om).ok()?;
                if *sign == b'-' { -minutes } else { minutes }
            }
            _ => return None,
        };
        let local = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se.min(59);
        Some(Self {
            secs: local - i64::from(offset_min) * 60,
            offset_min,
        })
    }

    fn local_secs(self) -> i64 {
        self.secs + i64::from(self.offset_min) * 60
    }

    /// The local calendar day (days since 1970-01-01).
    #[must_use]
    pub fn local_day(self) -> i64 {
        self.local_secs().div_euclid(86_400)
    }

    /// The local hour, 0–23.
    #[must_use]
    pub fn local_hour(self) -> usize {
        usize::try_from(self.local_secs().rem_euclid(86_400) / 3600).unwrap_or(0)
    }

    /// RFC 3339 with the stamp's own offset.
    #[must_use]
    pub fn rfc3339(self) -> String {
        let local = self.local_secs();
        let (y, m, d) = civil_from_days(local.div_euclid(86_400));
        let t = local.rem_euclid(86_400);
        let sign = if self.offset_min < 0 { '-' } else { '+' };
        let off = self.offset_min.unsigned_abs();
        format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}{sign}{:02}:{:02}",
            t / 3600,
            t % 3600 / 60,
            t % 60,
            off / 60,
            off % 60
        )
    }
}

/// `YYYY-MM-DD` of a day count.
#[must_use]
pub fn format_day(day: i64) -> String {
    let (y, m, d) = civil_from_days(day);
    format!("{y:04}-{m:02}-{d:02}")
}

/// A `YYYY-MM-DD` date as a day count.
#[must_use]
pub fn parse_day(text: &str) -> Option<i64> {
    let s = text.trim().as_bytes();
    if s.len() != 10 || s[4] != b'-' || s[7] != b'-' {
        return None;
    }
    let (y, m, d) = (digits(&s[0..4])?, digits(&s[5..7])?, digits(&s[8..10])?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    Some(days_from_civil(y, m, d))
}

/// A sample's value: the export writes text, JSON may give a number.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    /// As written.
    Text(&'a str),
    /// A number.
    Number(f64),
}

impl Value<'_> {
    fn number(self) -> Option<f64> {
        match self {
            Self::Number(n) => Some(n),
            Self::Text(t) => t.trim().parse().ok(),
        }
        .filter(|n: &f64| n.is_finite())
    }
}

/// One sample, from any file.
#[derive(Debug, Clone, Copy)]
pub struct Sample<'a> {
    /// The HealthKit type identifier.
    pub type_id: &'a str,
    /// The value (a quantity or a sleep-analysis value).
    pub value: Value<'a>,
    /// The unit (quantities).
    pub unit: &'a str,
    /// The start timestamp.
    pub start: &'a str,
    /// The end timestamp.
    pub end: &'a str,
    /// The source's name (`Jane's Apple Watch`).
    pub source: &'a str,
}

/// What was read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Samples used.
    pub used: u64,
    /// Samples of a type this adapter reads, skipped as unreadable.
    pub malformed: u64,
    /// Samples of other types.
    pub ignored: u64,
}

/// Summed quantities, in the order of [`DayAcc::sums`].
const SUMMED: usize = 4;

fn summed_index(q: Quantity) -> Option<usize> {
    match q {
        Quantity::Steps => Some(0),
        Quantity::ActiveEnergy => Some(1),
        Quantity::BasalEnergy => Some(2),
        Quantity::ExerciseTime => Some(3),
        Quantity::HeartRate | Quantity::Hrv => None,
    }
}

/// One day's running totals.
#[derive(Debug, Default)]
struct DayAcc {
    /// Per summed quantity: `(source, per local hour)`.
    sums: [Vec<(u16, [f64; 24])>; SUMMED],
    /// Per local hour: sum and count.
    heart_rate: [(f64, u32); 24],
    hrv: (f64, u32),
    summary_exercise: Option<f64>,
}

impl DayAcc {
    /// A summed quantity's day total (the largest source per hour), if any.
    fn total(&self, index: usize) -> Option<f64> {
        let sources = &self.sums[index];
        if sources.is_empty() {
            return None;
        }
        Some(
            (0..24)
                .map(|h| {
                    sources
                        .iter()
                        .map(|(_, hours)| hours[h])
                        .fold(0.0, f64::max)
                })
                .sum(),
        )
    }
}

/// One sleep interval.
#[derive(Debug, Clone, Copy)]
struct Interval {
    start: Stamp,
    end: Stamp,
    stage: Stage,
    source: u16,
}

/// The accumulator: samples in, a [`Batch`] out.
#[derive(Debug, Default)]
pub struct Health {
    days: HashMap<i64, DayAcc>,
    sleep: Vec<Interval>,
    sources: Vec<String>,
    stats: Stats,
}

/// Why a sample was skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// Not a type this adapter reads.
    Ignored,
    /// Unreadable.
    Malformed,
}

/// Why the accumulator stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooMuch(pub String);

fn round_i32(x: f64) -> i32 {
    #[allow(clippy::cast_possible_truncation)]
    let n = x.round().clamp(f64::from(i32::MIN), f64::from(i32::MAX)) as i32;
    n
}

fn minutes(secs: i64) -> i32 {
    i32::try_from((secs + 30).div_euclid(60)).unwrap_or(i32::MAX)
}

impl Health {
    /// An empty accumulator.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// What has been read so far.
    #[must_use]
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Counts a sample of a type skipped before it was read (e.g. an unreadable tag).
    pub fn count_malformed(&mut self) {
        self.stats.malformed += 1;
    }

    /// Counts a sample of a type this adapter does not read.
    pub fn count_ignored(&mut self) {
        self.stats.ignored += 1;
    }

    fn source(&mut self, name: &str) -> u16 {
        if let Some(at) = self.sources.iter().position(|s| s == name) {
            return u16::try_from(at).unwrap_or(u16::MAX);
        }
        if self.sources.len() >= usize::from(u16::MAX) {
            return u16::MAX;
        }
        self.sources.push(name.to_owned());
        u16::try_from(self.sources.len() - 1).unwrap_or(u16::MAX)
    }

    /// Reads one sample (counted in [`Stats`] whatever happens).
    ///
    /// # Errors
    /// [`TooMuch`] when the sleep intervals exceed [`MAX_SLEEP_INTERVALS`].
    pub fn sample(&mut self, sample: &Sample<'_>) -> Result<(), TooMuch> {
        match self.read(sample) {
            Ok(()) => self.stats.used += 1,
            Err(Skip::Ignored) => self.stats.ignored += 1,
            Err(Skip::Malformed) => self.stats.malformed += 1,
        }
        if self.sleep.len() > MAX_SLEEP_INTERVALS {
            return Err(TooMuch(format!(
                "more than {MAX_SLEEP_INTERVALS} sleep records"
            )));
        }
        Ok(())
    }

    fn read(&mut self, s: &Sample<'_>) -> Result<(), Skip> {
        match kind(s.type_id).ok_or(Skip::Ignored)? {
            Kind::Quantity(q) => self.quantity(q, s),
            Kind::Sleep => self.sleep_sample(s),
        }
    }

    fn quantity(&mut self, q: Quantity, s: &Sample<'_>) -> Result<(), Skip> {
        let value = s.value.number().ok_or(Skip::Malformed)?;
        let scale = match (q, s.unit.trim()) {
            (Quantity::Steps, "count" | "") | (Quantity::HeartRate, "count/min") => 1.0,
            (Quantity::HeartRate, "count/s") => 60.0,
            (Quantity::Hrv, "ms") => 1.0,
            (Quantity::Hrv, "s") => 1000.0,
            (Quantity::ActiveEnergy | Quantity::BasalEnergy, "kcal" | "Cal") => 1.0,
            (Quantity::ActiveEnergy | Quantity::BasalEnergy, "kJ") => 1.0 / 4.184,
            (Quantity::ActiveEnergy | Quantity::BasalEnergy, "cal") => 1.0 / 1000.0,
            (Quantity::ActiveEnergy | Quantity::BasalEnergy, "J") => 1.0 / 4184.0,
            (Quantity::ExerciseTime, "min") => 1.0,
            (Quantity::ExerciseTime, "s") => 1.0 / 60.0,
            (Quantity::ExerciseTime, "hr" | "h") => 60.0,
            _ => return Err(Skip::Malformed),
        };
        let value = value * scale;
        if value < 0.0 || (q == Quantity::HeartRate && !(1.0..=400.0).contains(&value)) {
            return Err(Skip::Malformed);
        }
        let start = Stamp::parse(s.start).ok_or(Skip::Malformed)?;
        let source = self.source(s.source);
        let day = self.days.entry(start.local_day()).or_default();
        match q {
            Quantity::HeartRate => {
                let hour = &mut day.heart_rate[start.local_hour()];
                hour.0 += value;
                hour.1 += 1;
            }
            Quantity::Hrv => {
                day.hrv.0 += value;
                day.hrv.1 += 1;
            }
            _ => {
                let index = summed_index(q).ok_or(Skip::Malformed)?;
                let per_source = &mut day.sums[index];
                let at = match per_source.iter().position(|(s, _)| *s == source) {
                    Some(at) => at,
                    None => {
                        per_source.push((source, [0.0; 24]));
                        per_source.len() - 1
                    }
                };
                per_source[at].1[start.local_hour()] += value;
            }
        }
        Ok(())
    }

    fn sleep_sample(&mut self, s: &Sample<'_>) -> Result<(), Skip> {
        let stage = match s.value {
            Value::Text(t) => stage(t.trim()),
            Value::Number(n) if n.fract() == 0.0 && (0.0..=5.0).contains(&n) => {
                stage(&format!("{n:.0}"))
            }
            Value::Number(_) => None,
        }
        .ok_or(Skip::Malformed)?;
        let start = Stamp::parse(s.start).ok_or(Skip::Malformed)?;
        let end = Stamp::parse(s.end).ok_or(Skip::Malformed)?;
        // Longer than a day is not one night's interval.
        if end.secs < start.secs || end.secs - start.secs > 86_400 {
            return Err(Skip::Malformed);
        }
        if stage == Stage::InBed || end.secs == start.secs {
            return Ok(());
        }
        let source = self.source(s.source);
        self.sleep.push(Interval {
            start,
            end,
            stage,
            source,
        });
        Ok(())
    }

    /// An `ActivitySummary`'s exercise minutes for `date` (`YYYY-MM-DD`), used for a day
    /// without exercise-time samples (a summary without them is counted as ignored).
    pub fn activity_summary(&mut self, date: &str, exercise: Option<&str>) {
        let Some(exercise) = exercise else {
            self.stats.ignored += 1;
            return;
        };
        let (Some(day), Ok(minutes)) = (parse_day(date), exercise.trim().parse::<f64>()) else {
            self.stats.malformed += 1;
            return;
        };
        if !minutes.is_finite() || minutes < 0.0 {
            self.stats.malformed += 1;
            return;
        }
        self.stats.used += 1;
        self.days.entry(day).or_default().summary_exercise = Some(minutes);
    }

    /// The days and sleep sessions read, days in date order.
    #[must_use]
    pub fn finish(self) -> Batch {
        let sessions = sessions(&self.sleep, &self.sources);
        let mut keys: Vec<i64> = self.days.keys().copied().collect();
        for s in &sessions {
            keys.push(s.day);
        }
        keys.sort_unstable();
        keys.dedup();
        let mut batch = Batch::default();
        for key in keys {
            let mut day = Day::new(format_day(key));
            if let Some(acc) = self.days.get(&key) {
                day.steps = acc.total(0).map(round_i32);
                let active = acc.total(1);
                let basal = acc.total(2);
                day.calories_burned = match (active, basal) {
                    (None, None) => None,
                    (a, b) => Some(round_i32(a.unwrap_or(0.0) + b.unwrap_or(0.0))),
                };
                day.active_minutes = acc.total(3).or(acc.summary_exercise).map(round_i32);
                let hourly: Vec<f64> = acc
                    .heart_rate
                    .iter()
                    .filter(|(_, n)| *n > 0)
                    .map(|(sum, n)| sum / f64::from(*n))
                    .collect();
                if !hourly.is_empty() {
                    let hours = f64::from(u32::try_from(hourly.len()).unwrap_or(24));
                    day.avg_heart_rate = Some(round_i32(hourly.iter().sum::<f64>() / hours));
                }
                if acc.hrv.1 > 0 {
                    let mean = acc.hrv.0 / f64::from(acc.hrv.1);
                    day.hrv_avg = Some((mean * 10.0).round() / 10.0);
                }
            }
            for s in sessions.iter().filter(|s| s.day == key) {
                let sum = |total: Option<i32>, add: Option<i32>| match (total, add) {
                    (None, None) => None,
                    (t, a) => Some(t.unwrap_or(0) + a.unwrap_or(0)),
                };
                day.sleep_duration_minutes =
                    sum(day.sleep_duration_minutes, Some(s.sleep.asleep_minutes));
                day.deep_sleep_minutes = sum(day.deep_sleep_minutes, s.sleep.deep_minutes);
                day.rem_sleep_minutes = sum(day.rem_sleep_minutes, s.sleep.rem_minutes);
            }
            batch.days.push(day);
        }
        batch.sleep = sessions.into_iter().map(|s| s.sleep).collect();
        batch
    }
}

/// A session and its day.
struct Session {
    day: i64,
    sleep: Sleep,
}

/// Sorted, disjoint `[start, end)` spans in seconds.
type Spans = Vec<(i64, i64)>;

fn union(mut spans: Spans) -> Spans {
    spans.sort_unstable();
    let mut out: Spans = Vec::with_capacity(spans.len());
    for (s, e) in spans {
        match out.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

/// `a` less `b` (both sorted and disjoint).
fn subtract(a: &Spans, b: &Spans) -> Spans {
    let mut out = Vec::new();
    let mut j = 0;
    for &(mut s, e) in a {
        while j < b.len() && b[j].1 <= s {
            j += 1;
        }
        let mut k = j;
        while k < b.len() && b[k].0 < e {
            if b[k].0 > s {
                out.push((s, b[k].0));
            }
            s = s.max(b[k].1);
            k += 1;
        }
        if s < e {
            out.push((s, e));
        }
    }
    out
}

/// Seconds of `spans` (sorted, disjoint) within `[lo, hi)`.
fn covered(spans: &Spans, lo: i64, hi: i64) -> i64 {
    let first = spans.partition_point(|&(_, e)| e <= lo);
    spans[first..]
        .iter()
        .take_while(|&&(s, _)| s < hi)
        .map(|&(s, e)| e.min(hi) - s.max(lo))
        .sum()
}

/// FNV-1a, 64 bits.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn sessions(intervals: &[Interval], sources: &[String]) -> Vec<Session> {
    let staged_sources: Vec<u16> = {
        let mut v: Vec<u16> = intervals
            .iter()
            .filter(|i| i.stage.staged())
            .map(|i| i.source)
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    let span = |i: &Interval| (i.start.secs, i.end.secs);
    let detail = union(
        intervals
            .iter()
            .filter(|i| {
                i.stage.staged()
                    || (i.stage == Stage::Awake && staged_sources.binary_search(&i.source).is_ok())
            })
            .map(span)
            .collect(),
    );
    let staged_asleep = union(
        intervals
            .iter()
            .filter(|i| i.stage.staged())
            .map(span)
            .collect(),
    );
    let plain = union(
        intervals
            .iter()
            .filter(|i| i.stage == Stage::Asleep)
            .map(span)
            .collect(),
    );
    let mut asleep_spans = staged_asleep;
    asleep_spans.extend(subtract(&plain, &detail));
    let asleep = union(asleep_spans);
    let stage_spans = |stage: Stage| {
        union(
            intervals
                .iter()
                .filter(|i| i.stage == stage)
                .map(span)
                .collect(),
        )
    };
    let deep = stage_spans(Stage::Deep);
    let rem = stage_spans(Stage::Rem);
    let awake = stage_spans(Stage::Awake);

    // Asleep intervals by start and by end, for offsets and sources.
    let mut asleep_ivs: Vec<&Interval> = intervals.iter().filter(|i| i.stage.asleep()).collect();
    asleep_ivs.sort_unstable_by_key(|i| i.start.secs);

    let mut out = Vec::new();
    let mut at = 0;
    while at < asleep.len() {
        let mut last = at;
        while last + 1 < asleep.len() && asleep[last + 1].0 - asleep[last].1 < SESSION_GAP {
            last += 1;
        }
        let blocks = &asleep[at..=last];
        at = last + 1;
        let (lo, hi) = (blocks[0].0, blocks[blocks.len() - 1].1);
        let asleep_secs: i64 = blocks.iter().map(|(s, e)| e - s).sum();

        // The intervals of this session (asleep, overlapping it).
        let first = asleep_ivs.partition_point(|i| i.start.secs < lo - 86_400);
        let members: Vec<&Interval> = asleep_ivs[first..]
            .iter()
            .take_while(|i| i.start.secs < hi)
            .filter(|i| i.end.secs > lo)
            .copied()
            .collect();
        let has_detail = members.iter().any(|i| i.stage.staged());
        // The offsets where the session starts and ends: of the interval covering each end.
        let start_offset = members
            .iter()
            .filter(|i| i.start.secs <= lo)
            .min_by_key(|i| i.start.secs)
            .or(members.first())
            .map_or(0, |i| i.start.offset_min);
        let end_offset = members
            .iter()
            .filter(|i| i.end.secs >= hi)
            .max_by_key(|i| i.end.secs)
            .or(members.last())
            .map_or(0, |i| i.end.offset_min);
        // The main source: the one with the most (staged, when any) time in the session.
        let mut by_source: Vec<(u16, i64)> = Vec::new();
        for i in members.iter().filter(|i| !has_detail || i.stage.staged()) {
            let secs = i.end.secs.min(hi) - i.start.secs.max(lo);
            match by_source.iter_mut().find(|(s, _)| *s == i.source) {
                Some(entry) => entry.1 += secs,
                None => by_source.push((i.source, secs)),
            }
        }
        let source = by_source
            .iter()
            .max_by_key(|(s, secs)| (*secs, std::cmp::Reverse(*s)))
            .and_then(|(s, _)| sources.get(usize::from(*s)))
            .map_or("", String::as_str);

        // Awake: the gaps between blocks and Awake intervals touching the session, less sleep.
        let mut awake_spans: Spans = blocks.windows(2).map(|w| (w[0].1, w[1].0)).collect();
        let touch = awake.partition_point(|&(_, e)| e < lo);
        awake_spans.extend(
            awake[touch..]
                .iter()
                .take_while(|&&(s, _)| s <= hi)
                .copied(),
        );
        let awake_secs: i64 = subtract(&union(awake_spans), &asleep)
            .iter()
            .map(|(s, e)| e - s)
            .sum();

        let start = Stamp {
            secs: lo,
            offset_min: start_offset,
        };
        let end = Stamp {
            secs: hi,
            offset_min: end_offset,
        };
        let start_text = start.rfc3339();
        let id = fnv1a(format!("{source}\u{1f}{start_text}").as_bytes());
        out.push(Session {
            day: end.local_day(),
            sleep: Sleep {
                external_id: format!("apple-{id:016x}"),
                start: start_text,
                end: end.rfc3339(),
                metric_date: format_day(end.local_day()),
                asleep_minutes: minutes(asleep_secs),
                deep_minutes: has_detail.then(|| minutes(covered(&deep, lo, hi))),
                rem_minutes: has_detail.then(|| minutes(covered(&rem, lo, hi))),
                awake_minutes: Some(minutes(awake_secs)),
            },
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(
        h: &mut Health,
        type_id: &str,
        value: &str,
        unit: &str,
        start: &str,
        end: &str,
        source: &str,
    ) {
        h.sample(&Sample {
            type_id,
            value: Value::Text(value),
            unit,
            start,
            end,
            source,
        })
        .expect("within limits");
    }

    const STEPS: &str = "HKQuantityTypeIdentifierStepCount";
    const SLEEP: &str = "HKCategoryTypeIdentifierSleepAnalysis";

    fn sleep(h: &mut Health, stage: &str, start: &str, end: &str, source: &str) {
        add(
            h,
            SLEEP,
            &format!("HKCategoryValueSleepAnalysis{stage}"),
            "",
            start,
            end,
            source,
        );
    }

    #[test]
    fn timestamps_parse_in_both_forms_with_their_offsets() {
        let a = Stamp::parse("2026-11-03 07:14:02 -0700").expect("apple form");
        let b = Stamp::parse("2026-11-03T07:14:02-07:00").expect("rfc 3339");
        let c = Stamp::parse("2026-11-03T14:14:02.250Z").expect("utc");
        assert_eq!(a, b);
        assert_eq!(a.secs, c.secs);
        assert_eq!(a.offset_min, -420);
        assert_eq!(format_day(a.local_day()), "2026-11-03");
        assert_eq!(a.local_hour(), 7);
        assert_eq!(a.rfc3339(), "2026-11-03T07:14:02-07:00");
        assert_eq!(
            Stamp::parse("2026-11-03 23:30:00 +0530").map(|s| s.rfc3339()),
            Some("2026-11-03T23:30:00+05:30".into())
        );
        for bad in [
            "2026-02-30 07:00:00 +0000",
            "2026-11-03 07:14:02",
            "2026-13-01 00:00:00 +0000",
            "yesterday",
            "2026-11-03 25:00:00 +0000",
            "2026-11-03 07:14:02 +07",
        ] {
            assert_eq!(Stamp::parse(bad), None, "{bad}");
        }
        assert_eq!(
            format_day(parse_day("2024-02-29").expect("leap day")),
            "2024-02-29"
        );
        assert_eq!(format_day(-1), "1969-12-31");
    }

    #[test]
    fn steps_sum_per_local_day_and_sources_are_not_double_counted() {
        let mut h = Health::new();
        add(
            &mut h,
            STEPS,
            "100",
            "count",
            "2026-11-03 07:00:00 -0700",
            "2026-11-03 07:10:00 -0700",
            "iPhone",
        );
        add(
            &mut h,
            STEPS,
            "120",
            "count",
            "2026-11-03 07:02:00 -0700",
            "2026-11-03 07:09:00 -0700",
            "Watch",
        );
        add(
            &mut h,
            STEPS,
            "50",
            "count",
            "2026-11-03 09:00:00 -0700",
            "2026-11-03 09:10:00 -0700",
            "iPhone",
        );
        // 23:30 local on the 3rd is already the 4th in UTC: still the 3rd.
        add(
            &mut h,
            STEPS,
            "7",
            "count",
            "2026-11-03 23:30:00 -0700",
            "2026-11-03 23:40:00 -0700",
            "Watch",
        );
        let batch = h.finish();
        assert_eq!(batch.days.len(), 1);
        assert_eq!(batch.days[0].metric_date, "2026-11-03");
        assert_eq!(batch.days[0].steps, Some(120 + 50 + 7));
    }

    #[test]
    fn calories_add_active_and_basal_and_convert_units() {
        let mut h = Health::new();
        let active = "HKQuantityTypeIdentifierActiveEnergyBurned";
        let basal = "HKQuantityTypeIdentifierBasalEnergyBurned";
        add(
            &mut h,
            active,
            "100",
            "kcal",
            "2026-11-03 08:00:00 +0100",
            "2026-11-03 08:30:00 +0100",
            "W",
        );
        add(
            &mut h,
            active,
            "50",
            "Cal",
            "2026-11-03 09:00:00 +0100",
            "2026-11-03 09:30:00 +0100",
            "W",
        );
        add(
            &mut h,
            active,
            "418.4",
            "kJ",
            "2026-11-03 10:00:00 +0100",
            "2026-11-03 10:30:00 +0100",
            "W",
        );
        add(
            &mut h,
            basal,
            "6276",
            "kJ",
            "2026-11-03 00:00:00 +0100",
            "2026-11-03 23:59:00 +0100",
            "W",
        );
        add(
            &mut h,
            basal,
            "1",
            "furlongs",
            "2026-11-03 00:00:00 +0100",
            "2026-11-03 23:59:00 +0100",
            "W",
        );
        add(
            &mut h,
            active,
            "-5",
            "kcal",
            "2026-11-03 11:00:00 +0100",
            "2026-11-03 11:30:00 +0100",
            "W",
        );
        add(
            &mut h,
            active,
            "300",
            "kcal",
            "2026-11-04 11:00:00 +0100",
            "2026-11-04 11:30:00 +0100",
            "W",
        );
        assert_eq!(
            h.stats(),
            Stats {
                used: 5,
                malformed: 2,
                ignored: 0
            }
        );
        let batch = h.finish();
        assert_eq!(batch.days[0].calories_burned, Some(100 + 50 + 100 + 1500));
        assert_eq!(batch.days[1].calories_burned, Some(300), "active alone");
    }

    #[test]
    fn averages_and_exercise_minutes() {
        let mut h = Health::new();
        let hr = "HKQuantityTypeIdentifierHeartRate";
        let hrv = "HKQuantityTypeIdentifierHeartRateVariabilitySDNN";
        let ex = "HKQuantityTypeIdentifierAppleExerciseTime";
        for (v, t) in [("60", "01"), ("70", "02"), ("81", "03")] {
            add(
                &mut h,
                hr,
                v,
                "count/min",
                &format!("2026-11-03 {t}:00:00 +0000"),
                "",
                "W",
            );
        }
        // A workout hour: many samples, weighed as one hour.
        for _ in 0..50 {
            add(
                &mut h,
                hr,
                "150",
                "count/min",
                "2026-11-03 18:10:00 +0000",
                "",
                "W",
            );
        }
        add(
            &mut h,
            hrv,
            "40.5",
            "ms",
            "2026-11-03 02:00:00 +0000",
            "",
            "W",
        );
        add(
            &mut h,
            hrv,
            "50",
            "ms",
            "2026-11-03 03:00:00 +0000",
            "",
            "W",
        );
        add(&mut h, ex, "1", "min", "2026-11-03 07:00:00 +0000", "", "W");
        add(&mut h, ex, "120", "s", "2026-11-03 07:01:00 +0000", "", "W");
        add(
            &mut h,
            hr,
            "abc",
            "count/min",
            "2026-11-03 04:00:00 +0000",
            "",
            "W",
        );
        add(
            &mut h,
            "HKQuantityTypeIdentifierBodyMass",
            "70",
            "kg",
            "2026-11-03 04:00:00 +0000",
            "",
            "W",
        );
        h.activity_summary("2026-11-03", Some("99"));
        h.activity_summary("2026-11-04", Some("25"));
        assert_eq!(
            h.stats(),
            Stats {
                used: 59,
                malformed: 1,
                ignored: 1
            }
        );
        let batch = h.finish();
        assert_eq!(batch.days[0].avg_heart_rate, Some((60 + 70 + 81 + 150) / 4));
        assert_eq!(batch.days[0].hrv_avg, Some(45.3));
        assert_eq!(
            batch.days[0].active_minutes,
            Some(3),
            "samples win over the summary"
        );
        assert_eq!(batch.days[1].active_minutes, Some(25));
        assert_eq!(batch.days[1].steps, None);
    }

    #[test]
    fn overlapping_sleep_from_two_sources_is_counted_once_preferring_stages() {
        let mut h = Health::new();
        // iPhone: one unstaged block 22:45–07:00.
        sleep(
            &mut h,
            "AsleepUnspecified",
            "2026-11-02 22:45:00 -0800",
            "2026-11-03 07:00:00 -0800",
            "iPhone",
        );
        // Watch: stages 23:00–06:40 with a 10-minute awake spell.
        sleep(
            &mut h,
            "AsleepCore",
            "2026-11-02 23:00:00 -0800",
            "2026-11-03 01:00:00 -0800",
            "Watch",
        );
        sleep(
            &mut h,
            "AsleepDeep",
            "2026-11-03 01:00:00 -0800",
            "2026-11-03 02:00:00 -0800",
            "Watch",
        );
        sleep(
            &mut h,
            "Awake",
            "2026-11-03 02:00:00 -0800",
            "2026-11-03 02:10:00 -0800",
            "Watch",
        );
        sleep(
            &mut h,
            "AsleepREM",
            "2026-11-03 02:10:00 -0800",
            "2026-11-03 03:10:00 -0800",
            "Watch",
        );
        sleep(
            &mut h,
            "AsleepCore",
            "2026-11-03 03:10:00 -0800",
            "2026-11-03 06:40:00 -0800",
            "Watch",
        );
        sleep(
            &mut h,
            "InBed",
            "2026-11-02 22:30:00 -0800",
            "2026-11-03 07:05:00 -0800",
            "iPhone",
        );
        let batch = h.finish();
        assert_eq!(batch.sleep.len(), 1);
        let s = &batch.sleep[0];
        // Watch 23:00–06:40 less 10 min awake = 450; iPhone fills 22:45–23:00 and 06:40–07:00.
        assert_eq!(s.asleep_minutes, 450 + 15 + 20);
        assert_eq!(s.deep_minutes, Some(60));
        assert_eq!(s.rem_minutes, Some(60));
        assert_eq!(s.awake_minutes, Some(10));
        assert_eq!(s.start, "2026-11-02T22:45:00-08:00");
        assert_eq!(s.end, "2026-11-03T07:00:00-08:00");
        assert_eq!(s.metric_date, "2026-11-03");
        assert!(s.external_id.starts_with("apple-") && s.external_id.len() == 22);
        assert_eq!(batch.days.len(), 1);
        assert_eq!(batch.days[0].sleep_duration_minutes, Some(485));
        assert_eq!(batch.days[0].deep_sleep_minutes, Some(60));
    }

    #[test]
    fn a_night_belongs_to_the_day_it_ends_and_naps_are_separate_sessions() {
        let mut h = Health::new();
        sleep(
            &mut h,
            "AsleepCore",
            "2026-11-03 23:50:00 +0000",
            "2026-11-04 03:00:00 +0000",
            "W",
        );
        // 1 h 59 min later: the same session.
        sleep(
            &mut h,
            "AsleepCore",
            "2026-11-04 04:59:00 +0000",
            "2026-11-04 07:00:00 +0000",
            "W",
        );
        // A nap in the afternoon: its own session, the same day.
        sleep(
            &mut h,
            "AsleepUnspecified",
            "2026-11-04 14:00:00 +0000",
            "2026-11-04 14:30:00 +0000",
            "W",
        );
        let batch = h.finish();
        assert_eq!(batch.sleep.len(), 2);
        assert_eq!(batch.sleep[0].metric_date, "2026-11-04");
        assert_eq!(batch.sleep[0].asleep_minutes, 190 + 121);
        assert_eq!(batch.sleep[0].awake_minutes, Some(119));
        assert_eq!(batch.sleep[1].deep_minutes, None, "no stage detail");
        assert_eq!(batch.days.len(), 1, "no entry for the day the night began");
        assert_eq!(batch.days[0].metric_date, "2026-11-04");
        assert_eq!(batch.days[0].sleep_duration_minutes, Some(311 + 30));
        assert_ne!(batch.sleep[0].external_id, batch.sleep[1].external_id);
    }

    #[test]
    fn travel_changes_offsets_mid_file() {
        let mut h = Health::new();
        // Steps at 23:30 in New York (-0500) and at 06:00 in Paris (+0100) the next morning:
        // the same UTC day, two local days.
        add(
            &mut h,
            STEPS,
            "10",
            "count",
            "2026-11-03 23:30:00 -0500",
            "",
            "W",
        );
        add(
            &mut h,
            STEPS,
            "20",
            "count",
            "2026-11-04 06:00:00 +0100",
            "",
            "W",
        );
        // A night flight: asleep from 22:00 New York time to 11:00 Paris time (= 05:00 NY).
        sleep(
            &mut h,
            "AsleepUnspecified",
            "2026-11-04 22:00:00 -0500",
            "2026-11-05 11:00:00 +0100",
            "W",
        );
        let batch = h.finish();
        let dates: Vec<&str> = batch.days.iter().map(|d| d.metric_date.as_str()).collect();
        assert_eq!(dates, ["2026-11-03", "2026-11-04", "2026-11-05"]);
        assert_eq!(batch.days[0].steps, Some(10));
        assert_eq!(batch.days[1].steps, Some(20));
        assert_eq!(batch.sleep[0].asleep_minutes, 7 * 60);
        assert_eq!(batch.sleep[0].start, "2026-11-04T22:00:00-05:00");
        assert_eq!(batch.sleep[0].end, "2026-11-05T11:00:00+01:00");
        assert_eq!(batch.days[2].sleep_duration_minutes, Some(420));
    }

    #[test]
    fn session_ids_are_stable() {
        let night = |h: &mut Health| {
            sleep(
                h,
                "AsleepCore",
                "2026-11-03 23:00:00 +0000",
                "2026-11-04 06:00:00 +0000",
                "Jane’s Apple Watch",
            );
        };
        let mut a = Health::new();
        night(&mut a);
        let mut b = Health::new();
        add(
            &mut b,
            STEPS,
            "1",
            "count",
            "2026-11-04 06:00:00 +0000",
            "",
            "iPhone",
        );
        night(&mut b);
        assert_eq!(
            a.finish().sleep[0].external_id,
            b.finish().sleep[0].external_id
        );
    }

    #[test]
    fn broken_sleep_records_are_skipped() {
        let mut h = Health::new();
        sleep(
            &mut h,
            "Dozing",
            "2026-11-03 23:00:00 +0000",
            "2026-11-04 06:00:00 +0000",
            "W",
        );
        sleep(
            &mut h,
            "AsleepCore",
            "2026-11-04 06:00:00 +0000",
            "2026-11-03 23:00:00 +0000",
            "W",
        );
        sleep(
            &mut h,
            "AsleepCore",
            "2026-11-01 06:00:00 +0000",
            "2026-11-03 23:00:00 +0000",
            "W",
        );
        sleep(
            &mut h,
            "AsleepCore",
            "2026-11-03",
            "2026-11-04 06:00:00 +0000",
            "W",
        );
        assert_eq!(h.stats().malformed, 4);
        assert!(h.finish().sleep.is_empty());
    }

    #[test]
    fn span_arithmetic() {
        assert_eq!(
            union(vec![(5, 7), (1, 3), (2, 4), (7, 8)]),
            vec![(1, 4), (5, 8)]
        );
        assert_eq!(
            subtract(&vec![(0, 10), (20, 30)], &vec![(2, 3), (5, 22), (29, 40)]),
            vec![(0, 2), (3, 5), (22, 29)]
        );
        assert_eq!(covered(&vec![(0, 10), (20, 30)], 5, 25), 10);
    }
}

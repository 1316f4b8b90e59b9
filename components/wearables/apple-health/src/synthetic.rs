//! A deterministic, realistic synthetic Apple Health `export.xml` (native builds only), for
//! tests, the `generate_export` example and the `parse_speed` benchmark.
//!
//! It is shaped like a Watch wearer's real export: Apple's DOCTYPE with its internal subset,
//! `ExportDate` and `Me`, then records grouped by type as Apple writes them (about 2,000 a
//! day: heart rate every few minutes and every few seconds in workouts, active and basal
//! energy, steps and distance from both the iPhone and the Watch, exercise and stand time,
//! HRV with its beat-to-beat metadata list, respiratory rate, SpO2), sleep from the Watch
//! (stages), the iPhone (in bed, asleep) and now and then a third-party app, workouts with
//! their events, statistics and routes, blood-pressure correlations, and activity summaries.
//! Source names hold a multi-byte `’`; device descriptions hold entities. The user lives
//! at -08:00 and spends days 10–14 of every 30 in Paris (+01:00), so offsets change
//! mid-file.

use std::io::{self, Write};

/// 2026-01-01T00:00:00Z.
const BASE: i64 = 1_767_225_600;

const WATCH: &str = "Jane’s Apple Watch";
const WATCH_DEVICE: &str = "&lt;&lt;HKDevice: 0x2837f4e10&gt;, name:Apple Watch, manufacturer:Apple Inc., model:Watch, hardware:Watch7,3, software:11.1, creation date:2026-01-01 09:12:44 +0000&gt;";
const PHONE: &str = "Jane’s iPhone";
const PHONE_DEVICE: &str = "&lt;&lt;HKDevice: 0x2837f5a40&gt;, name:iPhone, manufacturer:Apple Inc., model:iPhone, hardware:iPhone16,1, software:18.1, creation date:2026-01-01 09:10:02 +0000&gt;";

/// A small deterministic generator (SplitMix64).
struct Rng(u64);

impl Rng {
    fn new(seed: u64, stream: u64, day: u32) -> Self {
        Self(seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (u64::from(day) << 32))
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        let span = u64::try_from(hi - lo + 1).unwrap_or(1).max(1);
        lo + i64::try_from(self.next() % span).unwrap_or(0)
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        #[allow(clippy::cast_precision_loss)]
        let x = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        x
    }
}

/// The user's offset (minutes) on day `day` of the export.
fn offset_for_day(day: i64) -> i64 {
    if (10..15).contains(&day.rem_euclid(30)) {
        60
    } else {
        -480
    }
}

/// The offset in force at a UTC instant (travel switches at UTC midnight).
fn offset_at(utc: i64) -> i64 {
    offset_for_day((utc - BASE).div_euclid(86_400))
}

/// The UTC instant of local second `secs` of export day `day`.
fn utc(day: u32, secs: i64) -> i64 {
    BASE + i64::from(day) * 86_400 + secs - offset_for_day(i64::from(day)) * 60
}

fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
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

/// Apple's timestamp form, in the offset in force at `utc`.
fn stamp(utc: i64) -> String {
    let offset = offset_at(utc);
    let local = utc + offset * 60;
    let (y, m, d) = civil(local.div_euclid(86_400));
    let t = local.rem_euclid(86_400);
    let sign = if offset < 0 { '-' } else { '+' };
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} {sign}{:02}{:02}",
        t / 3600,
        t % 3600 / 60,
        t % 60,
        offset.abs() / 60,
        offset.abs() % 60
    )
}

fn local_date(day: u32) -> String {
    let (y, m, d) = civil((BASE / 86_400) + i64::from(day));
    format!("{y:04}-{m:02}-{d:02}")
}

/// One `<Record>`; `children` empty makes it self-closing.
#[allow(clippy::too_many_arguments)]
fn record(
    w: &mut impl Write,
    kind: &str,
    watch: bool,
    unit: &str,
    start: i64,
    end: i64,
    value: &str,
    children: &str,
) -> io::Result<()> {
    let (source, version, device) = if watch {
        (WATCH, "11.1", WATCH_DEVICE)
    } else {
        (PHONE, "18.1", PHONE_DEVICE)
    };
    let unit = if unit.is_empty() {
        String::new()
    } else {
        format!(" unit=\"{unit}\"")
    };
    write!(
        w,
        " <Record type=\"{kind}\" sourceName=\"{source}\" sourceVersion=\"{version}\" device=\"{device}\"{unit} creationDate=\"{}\" startDate=\"{}\" endDate=\"{}\" value=\"{value}\"",
        stamp(end + 60),
        stamp(start),
        stamp(end),
    )?;
    if children.is_empty() {
        writeln!(w, "/>")
    } else {
        writeln!(w, ">\n{children} </Record>")
    }
}

const HEADER: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE HealthData [
<!-- HealthKit Export Version: 14 -->
<!ELEMENT HealthData (ExportDate,Me,(Record|Correlation|Workout|ActivitySummary|ClinicalRecord|Audiogram|VisionPrescription)*)>
<!ATTLIST HealthData
  locale CDATA #REQUIRED
>
<!ELEMENT ExportDate EMPTY>
<!ATTLIST ExportDate
  value CDATA #REQUIRED
>
<!ELEMENT Me EMPTY>
<!ATTLIST Me
  HKCharacteristicTypeIdentifierDateOfBirth         CDATA #REQUIRED
  HKCharacteristicTypeIdentifierBiologicalSex       CDATA #REQUIRED
  HKCharacteristicTypeIdentifierBloodType           CDATA #REQUIRED
  HKCharacteristicTypeIdentifierFitzpatrickSkinType CDATA #REQUIRED
  HKCharacteristicTypeIdentifierCardioFitnessMedicationsUse CDATA #IMPLIED
>
<!ELEMENT Record ((MetadataEntry|HeartRateVariabilityMetadataList)*)>
<!ATTLIST Record
  type          CDATA #REQUIRED
  unit          CDATA #IMPLIED
  value         CDATA #IMPLIED
  sourceName    CDATA #REQUIRED
  sourceVersion CDATA #IMPLIED
  device        CDATA #IMPLIED
  creationDate  CDATA #IMPLIED
  startDate     CDATA #REQUIRED
  endDate       CDATA #REQUIRED
>
<!-- Note: Any Records that appear as children of a correlation also appear as top-level records in this document. -->
<!ELEMENT Correlation ((MetadataEntry|Record)*)>
<!ATTLIST Correlation
  type          CDATA #REQUIRED
  sourceName    CDATA #REQUIRED
  sourceVersion CDATA #IMPLIED
  device        CDATA #IMPLIED
  creationDate  CDATA #IMPLIED
  startDate     CDATA #REQUIRED
  endDate       CDATA #REQUIRED
>
<!ELEMENT Workout ((MetadataEntry|WorkoutEvent|WorkoutRoute|WorkoutStatistics)*)>
<!ATTLIST Workout
  workoutActivityType   CDATA #REQUIRED
  duration              CDATA #IMPLIED
  durationUnit          CDATA #IMPLIED
  sourceName            CDATA #REQUIRED
  sourceVersion         CDATA #IMPLIED
  device                CDATA #IMPLIED
  creationDate          CDATA #IMPLIED
  startDate             CDATA #REQUIRED
  endDate               CDATA #REQUIRED
>
<!ELEMENT WorkoutEvent EMPTY>
<!ATTLIST WorkoutEvent type CDATA #REQUIRED date CDATA #REQUIRED duration CDATA #IMPLIED durationUnit CDATA #IMPLIED>
<!ELEMENT WorkoutStatistics EMPTY>
<!ATTLIST WorkoutStatistics type CDATA #REQUIRED startDate CDATA #REQUIRED endDate CDATA #REQUIRED average CDATA #IMPLIED minimum CDATA #IMPLIED maximum CDATA #IMPLIED sum CDATA #IMPLIED unit CDATA #IMPLIED>
<!ELEMENT WorkoutRoute ((MetadataEntry|FileReference)*)>
<!ATTLIST WorkoutRoute sourceName CDATA #REQUIRED sourceVersion CDATA #IMPLIED device CDATA #IMPLIED creationDate CDATA #IMPLIED startDate CDATA #REQUIRED endDate CDATA #REQUIRED>
<!ELEMENT FileReference EMPTY>
<!ATTLIST FileReference path CDATA #REQUIRED>
<!ELEMENT ActivitySummary EMPTY>
<!ATTLIST ActivitySummary
  dateComponents           CDATA #IMPLIED
  activeEnergyBurned       CDATA #IMPLIED
  activeEnergyBurnedGoal   CDATA #IMPLIED
  activeEnergyBurnedUnit   CDATA #IMPLIED
  appleMoveTime            CDATA #IMPLIED
  appleMoveTimeGoal        CDATA #IMPLIED
  appleExerciseTime        CDATA #IMPLIED
  appleExerciseTimeGoal    CDATA #IMPLIED
  appleStandHours          CDATA #IMPLIED
  appleStandHoursGoal      CDATA #IMPLIED
>
<!ELEMENT MetadataEntry EMPTY>
<!ATTLIST MetadataEntry
  key   CDATA #REQUIRED
  value CDATA #REQUIRED
>
<!-- HeartRateVariabilityMetadataList is the beat-to-beat list of an HRV sample. -->
<!ELEMENT HeartRateVariabilityMetadataList (InstantaneousBeatsPerMinute*)>
<!ELEMENT InstantaneousBeatsPerMinute EMPTY>
<!ATTLIST InstantaneousBeatsPerMinute
  bpm  CDATA #REQUIRED
  time CDATA #REQUIRED
>
]>
<HealthData locale="en_US">
 <ExportDate value="2026-12-31 20:00:00 -0800"/>
 <Me HKCharacteristicTypeIdentifierDateOfBirth="1990-04-02" HKCharacteristicTypeIdentifierBiologicalSex="HKBiologicalSexFemale" HKCharacteristicTypeIdentifierBloodType="HKBloodTypeNotSet" HKCharacteristicTypeIdentifierFitzpatrickSkinType="HKFitzpatrickSkinTypeNotSet" HKCharacteristicTypeIdentifierCardioFitnessMedicationsUse="None"/>
"#;

/// Whether the user works out on `day` (and when: local seconds, minutes).
fn workout(seed: u64, day: u32) -> Option<(i64, i64)> {
    let mut rng = Rng::new(seed, 99, day);
    (rng.range(0, 9) < 6).then(|| (rng.range(17 * 3600, 19 * 3600), rng.range(25, 55)))
}

/// Steps, distance, active energy: one iPhone and one Watch stream of short intervals.
fn movement(w: &mut impl Write, seed: u64, days: u32) -> io::Result<()> {
    for (stream, kind, unit) in [
        (1, "HKQuantityTypeIdentifierStepCount", "count"),
        (2, "HKQuantityTypeIdentifierDistanceWalkingRunning", "mi"),
    ] {
        for watch in [false, true] {
            for day in 0..days {
                let mut rng = Rng::new(seed, stream * 2 + u64::from(watch), day);
                let mut t = 7 * 3600 + rng.range(0, 1800);
                while t < 22 * 3600 {
                    let len = rng.range(60, 600);
                    let steps = rng.range(10, 250);
                    let value = if stream == 1 {
                        steps.to_string()
                    } else {
                        #[allow(clippy::cast_precision_loss)]
                        let miles = steps as f64 * 0.000_45;
                        format!("{miles:.5}")
                    };
                    record(
                        w,
                        kind,
                        watch,
                        unit,
                        utc(day, t),
                        utc(day, t + len),
                        &value,
                        "",
                    )?;
                    t += len + rng.range(60, 900);
                }
            }
        }
    }
    Ok(())
}

fn energy(w: &mut impl Write, seed: u64, days: u32) -> io::Result<()> {
    for day in 0..days {
        let mut rng = Rng::new(seed, 10, day);
        let mut t = rng.range(0, 120);
        while t < 86_400 {
            let awake = (7 * 3600..23 * 3600).contains(&t);
            let len = if awake {
                rng.range(50, 110)
            } else {
                rng.range(300, 900)
            };
            let kcal = if awake {
                rng.unit() * 1.2
            } else {
                rng.unit() * 0.05
            };
            record(
                w,
                "HKQuantityTypeIdentifierActiveEnergyBurned",
                true,
                "Cal",
                utc(day, t),
                utc(day, t + len),
                &format!("{kcal:.3}"),
                "",
            )?;
            t += len;
        }
    }
    for day in 0..days {
        let mut rng = Rng::new(seed, 11, day);
        let mut t = 0;
        while t < 86_400 {
            let len = rng.range(240, 360);
            #[allow(clippy::cast_precision_loss)]
            let kcal = 1450.0 / 86_400.0 * len as f64 * (0.95 + rng.unit() * 0.1);
            // A few days of an older Watch that wrote kJ.
            let (unit, value) = if day % 7 == 3 {
                ("kJ", format!("{:.3}", kcal * 4.184))
            } else {
                ("Cal", format!("{kcal:.3}"))
            };
            record(
                w,
                "HKQuantityTypeIdentifierBasalEnergyBurned",
                true,
                unit,
                utc(day, t),
                utc(day, t + len),
                &value,
                "",
            )?;
            t += len;
        }
    }
    Ok(())
}

fn heart(w: &mut impl Write, seed: u64, days: u32) -> io::Result<()> {
    for day in 0..days {
        let mut rng = Rng::new(seed, 20, day);
        let session = workout(seed, day);
        let mut t = rng.range(0, 300);
        while t < 86_400 {
            let in_workout = session.is_some_and(|(s, m)| t >= s && t < s + m * 60);
            let asleep = !(6 * 3600 + 1800..23 * 3600).contains(&t);
            let bpm = if in_workout {
                rng.range(120, 165)
            } else if asleep {
                rng.range(48, 60)
            } else {
                rng.range(62, 95)
            };
            let context = if in_workout { "2" } else { "1" };
            let children = if asleep || in_workout {
                String::new()
            } else {
                format!(
                    "  <MetadataEntry key=\"HKMetadataKeyHeartRateMotionContext\" value=\"{context}\"/>\n"
                )
            };
            record(
                w,
                "HKQuantityTypeIdentifierHeartRate",
                true,
                "count/min",
                utc(day, t),
                utc(day, t),
                &bpm.to_string(),
                &children,
            )?;
            t += if in_workout {
                rng.range(4, 6)
            } else if asleep {
                rng.range(400, 800)
            } else {
                rng.range(120, 420)
            };
        }
    }
    for day in 0..days {
        let mut rng = Rng::new(seed, 21, day);
        for n in 0..5 {
            let t = 3600 * (1 + 4 * n) + rng.range(0, 3000);
            let mut list = String::from("  <HeartRateVariabilityMetadataList>\n");
            let mut beat = 0.0;
            for _ in 0..rng.range(55, 75) {
                let bpm = rng.range(55, 80);
                #[allow(clippy::cast_precision_loss)]
                let step = 60.0 / bpm as f64;
                beat += step;
                let s = stamp(utc(day, t));
                list.push_str(&format!(
                    "   <InstantaneousBeatsPerMinute bpm=\"{bpm}\" time=\"{}:{:05.2}\"/>\n",
                    &s[11..16],
                    beat % 60.0
                ));
            }
            list.push_str("  </HeartRateVariabilityMetadataList>\n");
            let sdnn = 25.0 + rng.unit() * 50.0;
            record(
                w,
                "HKQuantityTypeIdentifierHeartRateVariabilitySDNN",
                true,
                "ms",
                utc(day, t),
                utc(day, t + 60),
                &format!("{sdnn:.4}"),
                &list,
            )?;
        }
    }
    for day in 0..days {
        let mut rng = Rng::new(seed, 22, day);
        let mut t = rng.range(0, 600);
        while t < 6 * 3600 {
            record(
                w,
                "HKQuantityTypeIdentifierRespiratoryRate",
                true,
                "count/min",
                utc(day, t),
                utc(day, t + 90),
                &format!("{:.1}", 12.0 + rng.unit() * 4.0),
                "",
            )?;
            t += rng.range(300, 600);
        }
        for _ in 0..8 {
            let t = rng.range(0, 86_399);
            record(
                w,
                "HKQuantityTypeIdentifierOxygenSaturation",
                true,
                "%",
                utc(day, t),
                utc(day, t),
                &format!("{:.2}", 0.94 + rng.unit() * 0.05),
                "",
            )?;
        }
    }
    Ok(())
}

fn minutes_records(w: &mut impl Write, seed: u64, days: u32) -> io::Result<()> {
    for day in 0..days {
        let mut rng = Rng::new(seed, 30, day);
        let mut spells: Vec<(i64, i64)> = (0..rng.range(3, 8))
            .map(|_| (rng.range(8 * 3600, 20 * 3600), rng.range(1, 4)))
            .collect();
        if let Some((start, minutes)) = workout(seed, day) {
            spells.push((start, minutes));
        }
        spells.sort_unstable();
        for (start, minutes) in spells {
            for m in 0..minutes {
                let t = start + m * 60;
                record(
                    w,
                    "HKQuantityTypeIdentifierAppleExerciseTime",
                    true,
                    "min",
                    utc(day, t),
                    utc(day, t + 60),
                    "1",
                    "",
                )?;
            }
        }
        for hour in 7..22 {
            if rng.range(0, 9) < 7 {
                let t = hour * 3600 + rng.range(0, 2400);
                record(
                    w,
                    "HKQuantityTypeIdentifierAppleStandTime",
                    true,
                    "min",
                    utc(day, t),
                    utc(day, t + 300),
                    &rng.range(1, 5).to_string(),
                    "",
                )?;
                record(
                    w,
                    "HKCategoryTypeIdentifierAppleStandHour",
                    true,
                    "",
                    utc(day, hour * 3600),
                    utc(day, hour * 3600 + 3600),
                    "HKCategoryValueAppleStandHourStood",
                    "",
                )?;
            }
        }
    }
    Ok(())
}

/// Sleep: the night ending on `day` (bedtime on the evening before).
fn sleep(w: &mut impl Write, seed: u64, days: u32) -> io::Result<()> {
    const KIND: &str = "HKCategoryTypeIdentifierSleepAnalysis";
    for day in 1..days {
        let mut rng = Rng::new(seed, 40, day);
        // Both ends in the local time of the morning (a travel night is spent on a plane).
        let bed = utc(day, -5400 + rng.range(0, 3600));
        let wake = utc(day, 6 * 3600 + 1800 + rng.range(0, 3600));
        // iPhone: in bed and asleep (unstaged).
        record(
            w,
            KIND,
            false,
            "",
            bed - 600,
            wake + 300,
            "HKCategoryValueSleepAnalysisInBed",
            "",
        )?;
        record(
            w,
            KIND,
            false,
            "",
            bed + 300,
            wake - 300,
            "HKCategoryValueSleepAnalysisAsleepUnspecified",
            "",
        )?;
        // Watch: stages.
        let mut t = bed + rng.range(300, 1200);
        record(
            w,
            KIND,
            true,
            "",
            bed,
            t,
            "HKCategoryValueSleepAnalysisAwake",
            "",
        )?;
        let mut cycle = 0;
        while t < wake {
            let (stage, len) = match (cycle % 4, rng.range(0, 9)) {
                (0, _) => ("AsleepCore", rng.range(900, 2700)),
                (1, _) => ("AsleepDeep", rng.range(600, 1800)),
                (2, 0..=6) => ("AsleepREM", rng.range(600, 2100)),
                (2, _) => ("Awake", rng.range(60, 600)),
                _ => ("AsleepCore", rng.range(600, 1800)),
            };
            let end = (t + len).min(wake);
            record(
                w,
                KIND,
                true,
                "",
                t,
                end,
                &format!("HKCategoryValueSleepAnalysis{stage}"),
                "",
            )?;
            t = end;
            cycle += 1;
        }
        record(
            w,
            KIND,
            true,
            "",
            wake,
            wake + rng.range(60, 900),
            "HKCategoryValueSleepAnalysisAwake",
            "",
        )?;
    }
    // A third-party app on some nights, in its own words.
    for day in (1..days).filter(|d| d % 5 == 0) {
        let mut rng = Rng::new(seed, 41, day);
        let start = utc(day, -3600 + rng.range(0, 1200));
        let end = utc(day, 6 * 3600 + rng.range(0, 3600));
        writeln!(
            w,
            " <Record type=\"{KIND}\" sourceName=\"AutoSleep\" sourceVersion=\"7.4\" creationDate=\"{}\" startDate=\"{}\" endDate=\"{}\" value=\"HKCategoryValueSleepAnalysisAsleepUnspecified\">\n  <MetadataEntry key=\"Tags\" value=\"&quot;Late&quot; &amp; tired&#10;\"/>\n </Record>",
            stamp(end),
            stamp(start),
            stamp(end)
        )?;
    }
    Ok(())
}

fn rest(w: &mut impl Write, seed: u64, days: u32) -> io::Result<()> {
    for day in (0..days).filter(|d| d % 7 == 1) {
        let t = utc(day, 8 * 3600);
        let s = stamp(t);
        writeln!(
            w,
            " <Correlation type=\"HKCorrelationTypeIdentifierBloodPressure\" sourceName=\"Withings\" sourceVersion=\"6.2\" creationDate=\"{s}\" startDate=\"{s}\" endDate=\"{s}\">\n  <MetadataEntry key=\"Meal\" value='none'/>\n  <Record type=\"HKQuantityTypeIdentifierBloodPressureSystolic\" sourceName=\"Withings\" unit=\"mmHg\" startDate=\"{s}\" endDate=\"{s}\" value=\"118\"/>\n  <Record type=\"HKQuantityTypeIdentifierBloodPressureDiastolic\" sourceName=\"Withings\" unit=\"mmHg\" startDate=\"{s}\" endDate=\"{s}\" value=\"76\"/>\n </Correlation>"
        )?;
    }
    for day in 0..days {
        let Some((start, minutes)) = workout(seed, day) else {
            continue;
        };
        let (s, e) = (
            stamp(utc(day, start)),
            stamp(utc(day, start + minutes * 60)),
        );
        writeln!(
            w,
            " <Workout workoutActivityType=\"HKWorkoutActivityTypeRunning\" duration=\"{minutes}\" durationUnit=\"min\" sourceName=\"{WATCH}\" sourceVersion=\"11.1\" device=\"{WATCH_DEVICE}\" creationDate=\"{e}\" startDate=\"{s}\" endDate=\"{e}\">\n  <MetadataEntry key=\"HKIndoorWorkout\" value=\"0\"/>\n  <MetadataEntry key=\"HKWeatherTemperature\" value=\"61 degF\"/>\n  <WorkoutEvent type=\"HKWorkoutEventTypeSegment\" date=\"{s}\" duration=\"{minutes}\" durationUnit=\"min\"/>\n  <WorkoutStatistics type=\"HKQuantityTypeIdentifierActiveEnergyBurned\" startDate=\"{s}\" endDate=\"{e}\" sum=\"{}\" unit=\"Cal\"/>\n  <WorkoutStatistics type=\"HKQuantityTypeIdentifierHeartRate\" startDate=\"{s}\" endDate=\"{e}\" average=\"142\" minimum=\"101\" maximum=\"166\" unit=\"count/min\"/>\n  <WorkoutRoute sourceName=\"{WATCH}\" sourceVersion=\"11.1\" creationDate=\"{e}\" startDate=\"{s}\" endDate=\"{e}\">\n   <MetadataEntry key=\"HKMetadataKeySyncVersion\" value=\"2\"/>\n   <FileReference path=\"/workout-routes/route_{}.gpx\"/>\n  </WorkoutRoute>\n </Workout>",
            minutes * 11,
            &s[..10]
        )?;
    }
    for day in 0..days {
        let mut rng = Rng::new(seed, 50, day);
        let exercise = workout(seed, day).map_or(0, |(_, m)| m) + rng.range(3, 12);
        writeln!(
            w,
            " <ActivitySummary dateComponents=\"{}\" activeEnergyBurned=\"{}\" activeEnergyBurnedGoal=\"500\" activeEnergyBurnedUnit=\"Cal\" appleMoveTime=\"0\" appleMoveTimeGoal=\"0\" appleExerciseTime=\"{exercise}\" appleExerciseTimeGoal=\"30\" appleStandHours=\"{}\" appleStandHoursGoal=\"12\"/>",
            local_date(day),
            rng.range(250, 900),
            rng.range(8, 15)
        )?;
    }
    Ok(())
}

/// Writes an export of `days` days (from 2026-01-01), deterministic for a `seed`.
///
/// # Errors
/// When writing fails.
pub fn write_export(w: &mut impl Write, days: u32, seed: u64) -> io::Result<()> {
    w.write_all(HEADER.as_bytes())?;
    movement(w, seed, days)?;
    energy(w, seed, days)?;
    heart(w, seed, days)?;
    minutes_records(w, seed, days)?;
    sleep(w, seed, days)?;
    rest(w, seed, days)?;
    w.write_all(b"</HealthData>\n")
}

/// An export of `days` days in memory.
#[must_use]
pub fn export(days: u32, seed: u64) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = write_export(&mut out, days, seed);
    out
}

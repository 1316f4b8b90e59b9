//! Whole-pipeline tests: each detector on a small planted case, observations, edge cases,
//! determinism, and the wording rules over many generated patterns.

use chrono::{Days, NaiveDate, NaiveDateTime, NaiveTime};

use crate::simulate::{Config, Planted, generate};
use crate::{DayMetrics, Direction, Entry, Input, InsightType, Pattern, Strength, detect};

fn day0() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 1, 5).unwrap_or_default() // a Monday
}

fn at(day: NaiveDate, hour: u32) -> NaiveDateTime {
    day.and_time(NaiveTime::from_hms_opt(hour, 0, 0).unwrap_or_default())
}

/// A noisy but deterministic mood (AR-free, small): 6 ± 1 by a fixed pattern.
fn wobble(i: u64) -> f64 {
    [0.0, 1.0, -1.0, 0.0, 1.0, -1.0, 1.0, 0.0, -1.0, 0.0, 1.0][usize::try_from(i % 11).unwrap_or(0)]
}

fn run(entries: &[Entry], metrics: &[DayMetrics], today: NaiveDate) -> Vec<Pattern> {
    detect(&Input {
        entries,
        metrics,
        today,
        seed: 1,
    })
}

fn findings(p: &[Pattern]) -> Vec<&Pattern> {
    p.iter()
        .filter(|p| p.strength == Strength::Finding)
        .collect()
}

#[test]
fn empty_single_day_and_flat_input() {
    let today = day0();
    assert!(run(&[], &[], today).is_empty());
    let one = vec![Entry {
        at: at(today, 9),
        mood: 5.0,
        factors: vec!["a:b".into()],
    }];
    assert!(findings(&run(&one, &[], today)).is_empty());
    // 120 days of identical moods with factors and metrics: nothing to find, no NaN.
    let mut entries = Vec::new();
    let mut metrics = Vec::new();
    for i in 0..120u64 {
        let d = today + Days::new(i);
        let f = if i % 2 == 0 {
            vec!["activity:exercise".to_string()]
        } else {
            vec![]
        };
        entries.push(Entry {
            at: at(d, 9),
            mood: 7.0,
            factors: f,
        });
        entries.push(Entry {
            at: at(d, 20),
            mood: 7.0,
            factors: vec![],
        });
        #[allow(clippy::cast_precision_loss)]
        let v = (i % 7) as f64;
        metrics.push(DayMetrics {
            date: d,
            sleep_minutes: Some(400.0 + v),
            hrv_ms: Some(40.0),
            steps: None,
        });
    }
    let out = run(&entries, &metrics, today + Days::new(119));
    assert!(out.is_empty(), "{out:#?}");
}

#[test]
fn factor_effect_is_found() {
    let cfg = Config {
        logged_days: 120,
        log_rate: 1.0,
        planted: Planted::Factor,
        effect: 3.0,
        noise_sd: crate::simulate::MOOD_SD,
    };
    let u = generate(&cfg, 11);
    let out = run(&u.entries, &u.metrics, u.today);
    let f = out
        .iter()
        .find(|p| p.key == "factor:activity:exercise")
        .expect("factor finding");
    assert_eq!(f.strength, Strength::Finding);
    assert_eq!(f.direction, Direction::Higher);
    assert_eq!(f.insight_type, InsightType::FactorEffect);
    assert!(f.premium);
    assert_eq!(f.subject, "activity:exercise");
    let diff = f.data_points["difference"].as_f64().unwrap_or(0.0);
    assert!((2.0..4.0).contains(&diff), "{diff}");
    let ci = f.data_points["ci95"].as_array().expect("ci");
    assert!(ci[0].as_f64().unwrap_or(9.0) < diff && diff < ci[1].as_f64().unwrap_or(-9.0));
    assert!(f.data_points["q"].as_f64().unwrap_or(1.0) <= crate::FDR_Q);
    assert!(f.description.contains("On days you logged exercise"));
}

#[test]
fn weekday_dip_is_found() {
    let cfg = Config {
        logged_days: 120,
        log_rate: 1.0,
        planted: Planted::WeekdayDip,
        effect: 3.0,
        noise_sd: crate::simulate::MOOD_SD,
    };
    let u = generate(&cfg, 12);
    let out = run(&u.entries, &u.metrics, u.today);
    let w = out
        .iter()
        .find(|p| p.key == "weekday")
        .expect("weekday finding");
    assert_eq!(
        (w.strength, w.direction, w.subject.as_str()),
        (Strength::Finding, Direction::Lower, "monday")
    );
    assert!(!w.premium);
    assert!(w.title.contains("Mondays"));
}

#[test]
fn short_sleep_link_is_found() {
    let cfg = Config {
        logged_days: 150,
        log_rate: 1.0,
        planted: Planted::ShortSleep,
        effect: 3.0,
        noise_sd: crate::simulate::MOOD_SD,
    };
    let u = generate(&cfg, 13);
    let out = run(&u.entries, &u.metrics, u.today);
    let s = out
        .iter()
        .find(|p| p.key == "wearable:sleep_minutes:same_day")
        .expect("sleep finding");
    assert_eq!(
        (s.strength, s.direction),
        (Strength::Finding, Direction::Higher)
    );
    assert_eq!(s.insight_type, InsightType::WearableLink);
    assert!(s.premium);
    assert_eq!(s.data_points["lag"], "same_day");
    assert!(s.data_points["rank_correlation"].as_f64().unwrap_or(0.0) > 0.0);
}

#[test]
fn time_of_day_and_trend_are_found() {
    let start = day0();
    let mut entries = Vec::new();
    for i in 0..90u64 {
        let d = start + Days::new(i);
        let base = 6.0 + wobble(i);
        let recent = if i >= 76 { -3.0 } else { 0.0 }; // last 14 days lower
        entries.push(Entry {
            at: at(d, 9),
            mood: base + recent,
            factors: vec![],
        });
        entries.push(Entry {
            at: at(d, 19),
            mood: base + recent - 2.0,
            factors: vec![],
        });
    }
    let out = run(&entries, &[], start + Days::new(89));
    let t = out
        .iter()
        .find(|p| p.key == "time_of_day")
        .expect("time of day");
    assert_eq!(t.strength, Strength::Finding);
    // With two parts logged, "morning vs the rest" is the mirror image of "evening vs the
    // rest"; either is a correct report.
    match t.subject.as_str() {
        "evening" => assert_eq!(t.direction, Direction::Lower),
        "morning" => assert_eq!(t.direction, Direction::Higher),
        other => panic!("unexpected part {other}"),
    }
    let tr = out.iter().find(|p| p.key == "trend").expect("trend");
    assert_eq!(
        (tr.strength, tr.direction, tr.subject.as_str()),
        (Strength::Finding, Direction::Lower, "mood")
    );
    assert_eq!(tr.data_points["recent_days"], 14);
}

#[test]
fn few_days_give_an_observation_not_a_finding() {
    let start = day0();
    let mut entries = Vec::new();
    for i in 0..10u64 {
        let with = i % 3 == 0; // 4 days with, 6 without
        let mood = 5.0 + wobble(i) * 0.3 + if with { 2.0 } else { 0.0 };
        let f = if with {
            vec!["social:friends".to_string()]
        } else {
            vec![]
        };
        entries.push(Entry {
            at: at(start + Days::new(i), 12),
            mood,
            factors: f,
        });
    }
    let out = run(&entries, &[], start + Days::new(9));
    let o = out
        .iter()
        .find(|p| p.key == "factor:social:friends")
        .expect("observation");
    assert_eq!(o.strength, Strength::Observation);
    assert!(o.confidence <= 0.5);
    assert!(o.title.starts_with("Early pattern"));
    assert!(o.description.contains("So far"));
    assert!(o.data_points["q"].is_null());
    assert_eq!(o.data_points["method"], "descriptive");
    assert!(
        out.iter()
            .filter(|p| p.strength == Strength::Observation)
            .count()
            <= crate::MAX_OBSERVATIONS
    );
}

#[test]
fn deterministic() {
    let cfg = Config::standard(Planted::Factor, 200);
    let u = generate(&cfg, 5);
    let a = detect(&Input {
        entries: &u.entries,
        metrics: &u.metrics,
        today: u.today,
        seed: 1,
    });
    let b = detect(&Input {
        entries: &u.entries,
        metrics: &u.metrics,
        today: u.today,
        seed: 1,
    });
    assert_eq!(a, b);
    // Input order does not matter.
    let mut rev = u.entries.clone();
    rev.reverse();
    let c = detect(&Input {
        entries: &rev,
        metrics: &u.metrics,
        today: u.today,
        seed: 1,
    });
    assert_eq!(a, c);
}

/// Wording rules over many generated patterns of every type and strength.
#[test]
fn wording_is_plain_non_causal_and_finite() {
    let mut seen_types = std::collections::BTreeSet::new();
    let mut seen_strengths = std::collections::BTreeSet::new();
    let plants = [
        Planted::Factor,
        Planted::WeekdayDip,
        Planted::ShortSleep,
        Planted::None,
    ];
    for (k, planted) in plants.iter().enumerate() {
        for (j, days) in [8usize, 20, 45, 150].iter().enumerate() {
            for effect in [-3.0, 3.0] {
                let cfg = Config {
                    logged_days: *days,
                    log_rate: 0.9,
                    planted: *planted,
                    effect,
                    noise_sd: crate::simulate::MOOD_SD,
                };
                let seed = u64::try_from(k * 100 + j * 10).unwrap_or(0) + u64::from(effect > 0.0);
                let u = generate(&cfg, seed);
                for p in run(&u.entries, &u.metrics, u.today) {
                    seen_types.insert(p.insight_type.as_str());
                    seen_strengths.insert(p.strength.as_str());
                    for text in [&p.title, &p.description] {
                        assert!(crate::is_non_causal(text), "{text}");
                    }
                    assert!(p.title.chars().count() <= 200);
                    assert!(p.description.contains("rests on"), "{}", p.description);
                    assert!((0.0..=1.0).contains(&p.confidence));
                    let json = p.data_points.to_string();
                    assert!(!json.contains("NaN") && !json.contains("inf"), "{json}");
                    assert_eq!(
                        p.premium,
                        matches!(
                            p.insight_type,
                            InsightType::FactorEffect | InsightType::WearableLink
                        )
                    );
                }
            }
        }
    }
    assert!(seen_types.len() >= 3, "{seen_types:?}");
    assert_eq!(seen_strengths.len(), 2, "{seen_strengths:?}");
}

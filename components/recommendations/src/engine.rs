//! Choosing what to suggest: plain Rust over what the person's data says now, no storage.
//!
//! Each [`Signal`] (a low or anxious log today, the hour, an insight, a factor logged lately)
//! asks for some kinds of content, moods and factors, with a reason a person understands and
//! a priority (1 is the most pressing). Every active library item the person may see is
//! scored against every signal; the best item of each signal is a candidate, and the best
//! candidates with distinct items, preferring distinct kinds, are chosen.
//!
//! The same item is not pushed again and again: an item suggested in the last
//! [`REPEAT_AFTER_DAYS`] days, or one the person called unhelpful in the last
//! [`UNHELPFUL_QUIET_DAYS`], is left out. Premium items are offered only to premium users.
//! Reasons describe what was logged and what tends to go with it; they never claim a cause or
//! a diagnosis.

use std::collections::HashSet;

/// Suggestions a day at most.
pub const PER_DAY: usize = 3;
/// Days before an item may be suggested again.
pub const REPEAT_AFTER_DAYS: i64 = 7;
/// Days an item called unhelpful is not suggested.
pub const UNHELPFUL_QUIET_DAYS: i64 = 90;

/// A library item, as the engine sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// Its id.
    pub id: String,
    /// `breathing`, `grounding`, ...
    pub content_type: String,
    /// Its title.
    pub title: String,
    /// Minutes it takes.
    pub duration_minutes: Option<i64>,
    /// Mood words it suits.
    pub target_moods: Vec<String>,
    /// Factor types it suits.
    pub target_factors: Vec<String>,
    /// Premium only.
    pub is_premium: bool,
}

/// Something in the person's data that calls for a kind of help.
#[derive(Debug, Clone, PartialEq)]
pub struct Signal {
    /// Content types that answer it, best first.
    pub content_types: Vec<&'static str>,
    /// Mood words an item should target.
    pub moods: Vec<&'static str>,
    /// Factor types an item should target.
    pub factors: Vec<String>,
    /// Why, in the person's terms.
    pub reason: String,
    /// 1 (most pressing) to 10.
    pub priority: i64,
    /// The insight it comes from.
    pub insight_id: Option<String>,
}

/// What the person's data says now.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Situation {
    /// Their latest log of the last 24 hours: mood, anxiety (1–10).
    pub latest: Option<(i64, Option<i64>)>,
    /// Their local hour now.
    pub local_hour: u32,
    /// Today's and tomorrow's weekday names (`monday`).
    pub today: &'static str,
    /// Tomorrow's weekday name.
    pub tomorrow: &'static str,
    /// Factor types logged in the last three days, most often first.
    pub recent_factors: Vec<String>,
    /// Current insights: id, type, subject, direction (`higher`/`lower`).
    pub insights: Vec<InsightView>,
}

/// A current insight, as the engine needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct InsightView {
    /// Its id.
    pub id: String,
    /// `factor_effect`, `weekday_cycle`, ...
    pub insight_type: String,
    /// What it is about: a factor type, a metric, a weekday, a part of the day, `mood`.
    pub subject: String,
    /// `higher` or `lower`: mood with the subject.
    pub direction: String,
}

/// One suggestion to store.
#[derive(Debug, Clone, PartialEq)]
pub struct Suggestion {
    /// The item.
    pub content_id: String,
    /// The insight it follows from.
    pub insight_id: Option<String>,
    /// Why.
    pub reason: String,
    /// 1 (most pressing) to 10.
    pub priority: i64,
}

/// The signals in a situation, most pressing first.
pub fn signals(situation: &Situation) -> Vec<Signal> {
    let mut out = Vec::new();
    if let Some((mood, anxiety)) = situation.latest {
        if anxiety.is_some_and(|a| a >= 7) {
            out.push(Signal {
                content_types: vec!["breathing", "grounding", "relaxation"],
                moods: vec!["anxious", "stressed", "overwhelmed"],
                factors: Vec::new(),
                reason: "You logged feeling quite anxious today. A few minutes of slow breathing \
                         or grounding can help your body settle."
                    .into(),
                priority: 1,
                insight_id: None,
            });
        }
        if mood <= 4 {
            out.push(Signal {
                content_types: vec![
                    "behavioural_activation",
                    "journaling_prompt",
                    "psychoeducation",
                ],
                moods: vec!["low", "sad"],
                factors: Vec::new(),
                reason: "You logged a low mood today. Something small and doable can make a \
                         hard day a little lighter."
                    .into(),
                priority: 2,
                insight_id: None,
            });
        }
    }
    for insight in &situation.insights {
        if let Some(signal) = insight_signal(insight, situation) {
            out.push(signal);
        }
    }
    if situation.local_hour >= 21 || situation.local_hour < 4 {
        out.push(Signal {
            content_types: vec!["sleep_hygiene", "relaxation", "breathing"],
            moods: vec!["tired", "stressed"],
            factors: vec!["sleep".into()],
            reason: "It's getting late. A calm wind-down can make it easier to fall asleep.".into(),
            priority: 4,
            insight_id: None,
        });
    }
    for factor in situation.recent_factors.iter().take(2) {
        out.push(Signal {
            content_types: Vec::new(),
            moods: Vec::new(),
            factors: vec![factor.clone()],
            reason: format!(
                "You logged {} in the last few days; this one is made for that.",
                words(factor)
            ),
            priority: 6,
            insight_id: None,
        });
    }
    out.push(Signal {
        content_types: vec!["journaling_prompt", "breathing", "grounding"],
        moods: Vec::new(),
        factors: Vec::new(),
        reason: "Something short to try today.".into(),
        priority: 8,
        insight_id: None,
    });
    out.sort_by_key(|s| s.priority);
    out
}

fn insight_signal(insight: &InsightView, situation: &Situation) -> Option<Signal> {
    let lower = insight.direction == "lower";
    let subject = words(&insight.subject);
    let from = Some(insight.id.clone());
    match insight.insight_type.as_str() {
        "factor_effect" if lower => Some(Signal {
            content_types: vec!["breathing", "grounding", "relaxation", "psychoeducation"],
            moods: Vec::new(),
            factors: vec![insight.subject.clone()],
            reason: format!(
                "Your mood has tended to be lower on days you logged {subject}. This may help \
                 on those days."
            ),
            priority: 3,
            insight_id: from,
        }),
        "factor_effect" => Some(Signal {
            content_types: vec!["behavioural_activation", "journaling_prompt"],
            moods: Vec::new(),
            factors: vec![insight.subject.clone()],
            reason: format!(
                "Your mood has tended to be higher on days you logged {subject}. Planning a \
                 little more of it could be worth a try."
            ),
            priority: 3,
            insight_id: from,
        }),
        "wearable_link" if insight.subject.starts_with("sleep") => Some(Signal {
            content_types: vec!["sleep_hygiene", "relaxation"],
            moods: vec!["tired"],
            factors: vec!["sleep".into()],
            reason: "Your mood has tended to follow how long you slept. A steady wind-down \
                     routine supports longer nights."
                .into(),
            priority: 3,
            insight_id: from,
        }),
        "wearable_link" if insight.subject == "steps" && !lower => Some(Signal {
            content_types: vec!["behavioural_activation"],
            moods: Vec::new(),
            factors: vec!["exercise".into()],
            reason: "Your mood has tended to be better on more active days. A short walk \
                     might be a good thing to plan."
                .into(),
            priority: 4,
            insight_id: from,
        }),
        "weekday_cycle"
            if lower
                && (insight.subject == situation.today
                    || insight.subject == situation.tomorrow) =>
        {
            Some(Signal {
                content_types: vec!["behavioural_activation", "grounding", "journaling_prompt"],
                moods: vec!["low", "stressed"],
                factors: Vec::new(),
                reason: format!(
                    "{} have tended to be harder days for you. Something small to plan for it.",
                    plural_weekday(&insight.subject)
                ),
                priority: 3,
                insight_id: from,
            })
        }
        "trend_change" if lower => Some(Signal {
            content_types: vec![
                "psychoeducation",
                "behavioural_activation",
                "journaling_prompt",
            ],
            moods: vec!["low", "sad"],
            factors: Vec::new(),
            reason: "Your mood has been lower over the last couple of weeks than before. This \
                     may help, and talking to someone you trust or a professional can too."
                .into(),
            priority: 2,
            insight_id: from,
        }),
        "time_of_day" if lower => Some(Signal {
            content_types: vec!["breathing", "grounding"],
            moods: Vec::new(),
            factors: Vec::new(),
            reason: format!(
                "Your mood has tended to be lower in the {subject}. A short exercise may help \
                 at that time of day."
            ),
            priority: 5,
            insight_id: from,
        }),
        _ => None,
    }
}

/// `sleep_quality` → `sleep quality`.
fn words(key: &str) -> String {
    key.replace(['_', ':'], " ")
}

fn plural_weekday(day: &str) -> String {
    let mut chars = day.chars();
    match chars.next() {
        Some(first) => format!("{}{}s", first.to_uppercase(), chars.as_str()),
        None => String::new(),
    }
}

/// How well `item` answers `signal`: 0 when it does not.
fn fit(item: &Item, signal: &Signal) -> u32 {
    let mut score = 0;
    if let Some(rank) = signal
        .content_types
        .iter()
        .position(|t| *t == item.content_type)
    {
        score += 10 - u32::try_from(rank.min(5)).unwrap_or(5);
    }
    let factor_match = signal.factors.iter().any(|f| {
        item.target_factors
            .iter()
            .any(|t| t == f || t.split(':').next() == Some(f.as_str()))
    });
    if factor_match {
        score += 8;
    }
    if signal
        .moods
        .iter()
        .any(|m| item.target_moods.iter().any(|t| t == m))
    {
        score += 3;
    }
    // A signal that names factors only wants items made for them.
    if signal.content_types.is_empty() && !factor_match {
        return 0;
    }
    score
}

/// Chooses up to `room` suggestions. `excluded` holds the items not to suggest now (recent or
/// unhelpful); `premium` whether premium items may be offered.
pub fn choose(
    signals: &[Signal],
    items: &[Item],
    excluded: &HashSet<String>,
    premium: bool,
    room: usize,
) -> Vec<Suggestion> {
    let offered: Vec<&Item> = items
        .iter()
        .filter(|item| (premium || !item.is_premium) && !excluded.contains(&item.id))
        .collect();
    let mut chosen: Vec<Suggestion> = Vec::new();
    let mut kinds: HashSet<&str> = HashSet::new();
    // Two passes: first one item per kind, then any kind, so a day's suggestions vary.
    for distinct_kinds in [true, false] {
        for signal in signals {
            if chosen.len() >= room {
                return chosen;
            }
            if chosen.iter().any(|c| c.reason == signal.reason) {
                continue;
            }
            let best = offered
                .iter()
                .filter(|item| !chosen.iter().any(|c| c.content_id == item.id))
                .filter(|item| !distinct_kinds || !kinds.contains(item.content_type.as_str()))
                .map(|item| (fit(item, signal), *item))
                .filter(|(score, _)| *score > 0)
                // Best fit; among equals the shorter, then the id, so the choice is stable.
                .max_by(|(a, x), (b, y)| {
                    a.cmp(b)
                        .then_with(|| y.duration_minutes.cmp(&x.duration_minutes))
                        .then_with(|| y.id.cmp(&x.id))
                });
            if let Some((_, item)) = best {
                kinds.insert(item.content_type.as_str());
                chosen.push(Suggestion {
                    content_id: item.id.clone(),
                    insight_id: signal.insight_id.clone(),
                    reason: signal.reason.clone(),
                    priority: signal.priority,
                });
            }
        }
    }
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: &str, kind: &str, moods: &[&str], factors: &[&str], premium: bool) -> Item {
        Item {
            id: id.into(),
            content_type: kind.into(),
            title: format!("{kind} {id}"),
            duration_minutes: Some(5),
            target_moods: moods.iter().map(|m| (*m).to_owned()).collect(),
            target_factors: factors.iter().map(|f| (*f).to_owned()).collect(),
            is_premium: premium,
        }
    }

    fn library() -> Vec<Item> {
        vec![
            item("box", "breathing", &["anxious"], &[], false),
            item(
                "54321",
                "grounding",
                &["anxious", "overwhelmed"],
                &[],
                false,
            ),
            item(
                "walk",
                "behavioural_activation",
                &["low"],
                &["exercise"],
                false,
            ),
            item("sleep", "sleep_hygiene", &["tired"], &["sleep"], false),
            item("pmr", "relaxation", &["stressed"], &["sleep"], true),
            item("prompt", "journaling_prompt", &["low"], &[], false),
            item("low", "psychoeducation", &["low", "sad"], &[], false),
        ]
    }

    fn situation() -> Situation {
        Situation {
            latest: None,
            local_hour: 12,
            today: "monday",
            tomorrow: "tuesday",
            recent_factors: Vec::new(),
            insights: Vec::new(),
        }
    }

    #[test]
    fn an_anxious_log_comes_first_with_breathing() {
        let mut now = situation();
        now.latest = Some((5, Some(8)));
        let chosen = choose(&signals(&now), &library(), &HashSet::new(), false, PER_DAY);
        assert_eq!(chosen[0].content_id, "box");
        assert_eq!(chosen[0].priority, 1);
        assert!(chosen.len() <= PER_DAY);
    }

    #[test]
    fn an_insight_names_itself_and_its_factor() {
        let mut now = situation();
        now.insights.push(InsightView {
            id: "i1".into(),
            insight_type: "factor_effect".into(),
            subject: "exercise".into(),
            direction: "higher".into(),
        });
        let chosen = choose(&signals(&now), &library(), &HashSet::new(), false, PER_DAY);
        let from_insight = chosen
            .iter()
            .find(|c| c.insight_id.as_deref() == Some("i1"))
            .expect("a suggestion from the insight");
        assert_eq!(from_insight.content_id, "walk");
        assert!(from_insight.reason.contains("exercise"));
    }

    #[test]
    fn premium_items_only_for_premium_users() {
        let mut now = situation();
        now.local_hour = 23;
        let sleep_signal = signals(&now);
        let excluded = HashSet::from(["sleep".to_owned()]);
        let free = choose(&sleep_signal, &library(), &excluded, false, PER_DAY);
        assert!(free.iter().all(|c| c.content_id != "pmr"));
        let premium = choose(&sleep_signal, &library(), &excluded, true, PER_DAY);
        assert!(premium.iter().any(|c| c.content_id == "pmr"));
    }

    #[test]
    fn excluded_items_are_not_pushed_again() {
        let mut now = situation();
        now.latest = Some((3, Some(8)));
        let excluded: HashSet<String> = ["box", "54321"].map(str::to_owned).into();
        let chosen = choose(&signals(&now), &library(), &excluded, false, PER_DAY);
        assert!(chosen.iter().all(|c| !excluded.contains(&c.content_id)));
        assert!(!chosen.is_empty());
    }

    #[test]
    fn suggestions_are_distinct_items_and_never_claim_a_cause() {
        let mut now = situation();
        now.latest = Some((2, Some(9)));
        now.local_hour = 22;
        now.recent_factors = vec!["sleep".into(), "exercise".into()];
        for kind in [
            "factor_effect",
            "wearable_link",
            "weekday_cycle",
            "trend_change",
            "time_of_day",
        ] {
            for direction in ["higher", "lower"] {
                now.insights.push(InsightView {
                    id: format!("{kind}-{direction}"),
                    insight_type: kind.into(),
                    subject: if kind == "weekday_cycle" {
                        "monday"
                    } else {
                        "sleep_minutes"
                    }
                    .into(),
                    direction: direction.into(),
                });
            }
        }
        let all = signals(&now);
        for signal in &all {
            let reason = signal.reason.to_lowercase();
            for causal in [
                "because",
                "causes",
                "improves",
                "makes you",
                "leads to",
                "diagnos",
            ] {
                assert!(!reason.contains(causal), "{reason}");
            }
        }
        let chosen = choose(&all, &library(), &HashSet::new(), true, 10);
        let ids: HashSet<&str> = chosen.iter().map(|c| c.content_id.as_str()).collect();
        assert_eq!(ids.len(), chosen.len());
    }

    #[test]
    fn an_empty_library_suggests_nothing() {
        assert!(choose(&signals(&situation()), &[], &HashSet::new(), true, PER_DAY).is_empty());
    }
}

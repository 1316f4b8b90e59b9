//! The catalogue as a whole: what the issue asks of it, and what the host will accept.

use std::collections::HashSet;

use super::{ITEMS, Item};

/// The mood words the app uses.
const MOODS: [&str; 11] = [
    "sad",
    "low",
    "anxious",
    "stressed",
    "tired",
    "angry",
    "lonely",
    "overwhelmed",
    "neutral",
    "hopeful",
    "ashamed",
];

fn of_type(kind: &str) -> Vec<&'static Item> {
    ITEMS.iter().filter(|i| i.content_type == kind).collect()
}

#[test]
fn the_library_covers_what_the_issue_asks() {
    let prompts = of_type("journaling_prompt");
    assert!(
        ITEMS.len() - 14 >= 40,
        "at least 40 items beside the 14 original prompts"
    );
    for kind in [
        "breathing",
        "grounding",
        "relaxation",
        "cbt",
        "behavioural_activation",
        "sleep_hygiene",
        "psychoeducation",
        "journaling_prompt",
    ] {
        assert!(!of_type(kind).is_empty(), "no {kind} item");
    }
    let titles: Vec<&str> = ITEMS.iter().map(|i| i.title).collect();
    for wanted in [
        "Box breathing",
        "4-7-8 breathing",
        "5-4-3-2-1 grounding",
        "Progressive muscle relaxation",
        "A complete thought record",
        "Understanding low mood",
        "Understanding anxiety",
    ] {
        assert!(titles.contains(&wanted), "{wanted}");
    }
    assert!(prompts.len() >= 14);
    let premium = ITEMS.iter().filter(|i| i.premium).count();
    let share = premium * 100 / ITEMS.len();
    assert!(
        (15..=35).contains(&share),
        "{premium} premium items of {}",
        ITEMS.len()
    );
    for difficulty in ["beginner", "intermediate", "advanced"] {
        assert!(
            ITEMS.iter().any(|i| i.difficulty == Some(difficulty)),
            "{difficulty}"
        );
    }
}

#[test]
fn every_item_is_complete_and_within_the_hosts_bounds() {
    let mut ids = HashSet::new();
    for item in ITEMS {
        assert!(ids.insert(item.id), "{} twice", item.id);
        assert!(!item.id.contains(char::is_whitespace) && item.id.len() <= 200);
        assert!(item.content_type.len() <= 30);
        assert!(
            !item.title.is_empty() && item.title.chars().count() <= 200,
            "{}",
            item.id
        );
        let description = item.description.unwrap_or_default();
        assert!(
            !description.is_empty() && description.chars().count() <= 1_000,
            "{}",
            item.id
        );
        let body = item.body.unwrap_or_default();
        assert!(
            body.len() >= 100 && body.chars().count() <= 20_000,
            "{}",
            item.id
        );
        assert!(!body.contains('\0'));
        let minutes = item.duration_minutes.unwrap_or_default();
        assert!((1..=60).contains(&minutes), "{}", item.id);
        assert!(
            matches!(
                item.difficulty,
                Some("beginner" | "intermediate" | "advanced")
            ),
            "{}",
            item.id
        );
        assert!(!item.moods.is_empty(), "{} has no moods", item.id);
        for mood in item.moods {
            assert!(MOODS.contains(mood), "{}: mood {mood}", item.id);
        }
        for factor in item.factors {
            let (kind, value) = factor.split_once(':').expect("category:name");
            for part in [kind, value] {
                assert!(
                    !part.is_empty() && part.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                    "{}: factor {factor}",
                    item.id
                );
            }
        }
        if item.content_type != "journaling_prompt" {
            assert!(!item.factors.is_empty(), "{} has no factors", item.id);
        }
    }
}

/// Where distress may be high, the text points to real help.
#[test]
fn articles_about_low_mood_and_panic_point_to_help() {
    for id in ["learn/low-mood", "learn/getting-support"] {
        let item = ITEMS.iter().find(|i| i.id == id).expect(id);
        let body = item.body.unwrap_or_default();
        assert!(body.contains("crisis line"), "{id}");
        assert!(body.contains("emergency"), "{id}");
    }
    let panic = ITEMS.iter().find(|i| i.id == "learn/panic").expect("panic");
    assert!(panic.body.unwrap_or_default().contains("doctor"));
}

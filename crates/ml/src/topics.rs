//! Topics by keyword: a few themes a text is about, most mentioned first.

use super::tokens::words;

/// Each topic and the words (or word prefixes ending in `*`) that signal it.
const TOPICS: &[(&str, &[&str])] = &[
    (
        "sleep",
        &[
            "sleep*",
            "slept",
            "insomnia",
            "nap*",
            "tired",
            "bed",
            "bedtime",
            "dream*",
            "nightmare*",
            "awake",
            "rest",
            "restless",
        ],
    ),
    (
        "work",
        &[
            "work*",
            "job",
            "jobs",
            "boss",
            "office",
            "meeting*",
            "deadline*",
            "colleague*",
            "coworker*",
            "career",
            "shift",
            "project*",
            "manager",
            "client*",
            "promotion",
        ],
    ),
    (
        "family",
        &[
            "family",
            "mom",
            "mum",
            "mother",
            "dad",
            "father",
            "parent*",
            "brother*",
            "sister*",
            "son",
            "daughter",
            "kids",
            "children",
            "child",
            "grandma",
            "grandpa",
            "grandmother",
            "grandfather",
            "aunt",
            "uncle",
            "cousin*",
        ],
    ),
    (
        "relationships",
        &[
            "partner",
            "boyfriend",
            "girlfriend",
            "husband",
            "wife",
            "dating",
            "date",
            "relationship*",
            "breakup",
            "divorce",
            "marriage",
            "married",
            "ex",
        ],
    ),
    (
        "friends",
        &["friend*", "social", "party", "parties", "hang", "hangout"],
    ),
    (
        "exercise",
        &[
            "exercise*",
            "run",
            "ran",
            "running",
            "gym",
            "walk*",
            "workout*",
            "yoga",
            "swim*",
            "bike",
            "cycling",
            "hike",
            "hiking",
            "sport*",
            "training",
            "stretch*",
        ],
    ),
    (
        "health",
        &[
            "sick",
            "ill",
            "illness",
            "doctor*",
            "pain",
            "headache*",
            "medication*",
            "meds",
            "therapy",
            "therapist",
            "hospital",
            "appointment*",
            "symptom*",
            "health*",
        ],
    ),
    (
        "school",
        &[
            "school",
            "class",
            "classes",
            "exam*",
            "test",
            "homework",
            "study",
            "studying",
            "university",
            "college",
            "teacher*",
            "grade*",
            "lecture*",
        ],
    ),
    (
        "money",
        &[
            "money",
            "rent",
            "bill*",
            "debt*",
            "pay",
            "paid",
            "salary",
            "budget*",
            "afford",
            "bank",
            "loan*",
            "expensive",
            "broke",
        ],
    ),
    (
        "food",
        &[
            "eat*",
            "ate",
            "food",
            "meal*",
            "dinner",
            "lunch",
            "breakfast",
            "cook*",
            "appetite",
            "hungry",
            "snack*",
        ],
    ),
    (
        "nature",
        &[
            "outside", "outdoors", "park", "garden*", "nature", "sun", "sunshine", "beach",
            "forest", "weather", "rain*",
        ],
    ),
    (
        "self-care",
        &[
            "meditat*",
            "mindful*",
            "journal*",
            "breath*",
            "relax*",
            "self-care",
            "bath",
            "read*",
            "music",
            "hobby",
            "hobbies",
        ],
    ),
];

fn matches(pattern: &str, word: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => word.starts_with(prefix),
        None => word == pattern,
    }
}

/// Up to `max` topics of `text`, most mentioned first (ties in the table's order).
pub fn extract(text: &str, max: usize) -> Vec<String> {
    let tokens = words(text);
    let mut counts: Vec<(usize, usize)> = TOPICS
        .iter()
        .enumerate()
        .map(|(i, (_, patterns))| {
            let n = tokens
                .iter()
                .filter(|w| patterns.iter().any(|p| matches(p, w)))
                .count();
            (i, n)
        })
        .filter(|(_, n)| *n > 0)
        .collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    counts
        .into_iter()
        .take(max)
        .map(|(i, _)| TOPICS[i].0.to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_themes_most_mentioned_first() {
        let topics = extract(
            "Couldn't sleep again, then my boss moved the deadline. Slept at 3.",
            3,
        );
        assert_eq!(topics, ["sleep", "work"]);
        assert!(extract("Nothing in particular.", 3).is_empty());
        assert_eq!(
            extract("gym then a run then dinner with mum", 1),
            ["exercise"]
        );
    }
}

//! Topics by keyword: a few themes a text is about, most mentioned first.

// A fixed table, never filled from a request, so a fast non-keyed hash is safe.
use rustc_hash::FxHashMap as HashMap;
use std::sync::OnceLock;

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

// Topic sets are bit sets in a `u32`.
const _: () = assert!(TOPICS.len() <= 32);

#[cfg(test)]
fn matches(pattern: &str, word: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => word.starts_with(prefix),
        None => word == pattern,
    }
}

/// The topic table as lookups, built once: whole words and prefixes (without their `*`),
/// each with the set of topics (bits over [`TOPICS`]) it signals, and the distinct prefix
/// lengths. A word then costs a lookup per prefix length instead of a scan of every pattern
/// (the journal works topics out each time it shows an entry).
struct Patterns {
    words: HashMap<&'static str, u32>,
    prefixes: HashMap<&'static str, u32>,
    prefix_lengths: Vec<usize>,
}

fn patterns() -> &'static Patterns {
    static PATTERNS: OnceLock<Patterns> = OnceLock::new();
    PATTERNS.get_or_init(|| {
        let mut table = Patterns {
            words: HashMap::default(),
            prefixes: HashMap::default(),
            prefix_lengths: Vec::new(),
        };
        for (topic, (_, patterns)) in TOPICS.iter().enumerate() {
            for pattern in *patterns {
                match pattern.strip_suffix('*') {
                    Some(prefix) => {
                        *table.prefixes.entry(prefix).or_insert(0) |= 1 << topic;
                        table.prefix_lengths.push(prefix.len());
                    }
                    None => *table.words.entry(pattern).or_insert(0) |= 1 << topic,
                }
            }
        }
        table.prefix_lengths.sort_unstable();
        table.prefix_lengths.dedup();
        table
    })
}

/// The topics (bits over [`TOPICS`]) one word signals.
fn topics_of(word: &str) -> u32 {
    let table = patterns();
    let mut topics = table.words.get(word).copied().unwrap_or(0);
    for &len in &table.prefix_lengths {
        if len > word.len() {
            break;
        }
        if let Some(prefix) = word.get(..len) {
            topics |= table.prefixes.get(prefix).copied().unwrap_or(0);
        }
    }
    topics
}

/// Up to `max` topics of `text`, most mentioned first (ties in the table's order).
pub fn extract(text: &str, max: usize) -> Vec<String> {
    let mut mentions = [0usize; TOPICS.len()];
    for word in words(text) {
        let topics = topics_of(&word);
        for (topic, count) in mentions.iter_mut().enumerate() {
            if topics & (1 << topic) != 0 {
                *count += 1;
            }
        }
    }
    let mut counts: Vec<(usize, usize)> = mentions
        .into_iter()
        .enumerate()
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

    /// Topics as first written: every pattern tried on every word.
    fn extract_by_scan(text: &str, max: usize) -> Vec<String> {
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

    #[test]
    fn the_lookup_agrees_with_a_scan_of_the_patterns() {
        for text in crate::test_corpus::texts() {
            for max in [1, 3, TOPICS.len()] {
                assert_eq!(extract(&text, max), extract_by_scan(&text, max), "{text}");
            }
        }
        // Every pattern as a word, and each prefix pattern with endings and cut short.
        for (_, patterns) in TOPICS {
            for pattern in *patterns {
                let stem = pattern.trim_end_matches('*');
                let short = &stem[..stem.len().saturating_sub(1)];
                for text in [
                    stem.to_owned(),
                    format!("{stem}ing {stem}s"),
                    short.to_owned(),
                ] {
                    assert_eq!(extract(&text, 12), extract_by_scan(&text, 12), "{text}");
                }
            }
        }
    }
}

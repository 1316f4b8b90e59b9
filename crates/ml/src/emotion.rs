//! Primary emotion by lexicon: Plutchik's eight emotions, or `neutral`.
//!
//! Method: each word (and a few stems) votes for the emotions its list names; an intensifier
//! ("very", "so", ...) before it doubles the vote; a negation within the three words before
//! it cancels the vote (a negated joy word votes sadness instead: "not happy"). The emotion
//! with the highest total wins; ties go to the earlier emotion in Plutchik's order; no votes
//! gives `neutral`. Confidence is the winner's share of all votes.
//! The word lists are our own (no licensed lexicon); their measured agreement with a labelled
//! sample is in `tests/fixtures/emotion_sample.jsonl` and BENCHMARKS.md.

// The tables are fixed word lists, so a fast non-keyed hash is safe: nothing a request sends
// is ever inserted (no hash flooding), and lookups are on the journal's read path.
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::sync::OnceLock;

use super::tokens::{is_negation, words};

/// Plutchik's eight emotions and neutral.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Emotion {
    /// Joy.
    Joy,
    /// Sadness.
    Sadness,
    /// Anger.
    Anger,
    /// Fear.
    Fear,
    /// Surprise.
    Surprise,
    /// Disgust.
    Disgust,
    /// Trust.
    Trust,
    /// Anticipation.
    Anticipation,
    /// None of them.
    Neutral,
}

impl Emotion {
    /// The lowercase name (the `primary_emotion` column's value).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Joy => "joy",
            Self::Sadness => "sadness",
            Self::Anger => "anger",
            Self::Fear => "fear",
            Self::Surprise => "surprise",
            Self::Disgust => "disgust",
            Self::Trust => "trust",
            Self::Anticipation => "anticipation",
            Self::Neutral => "neutral",
        }
    }
}

const ORDER: [Emotion; 8] = [
    Emotion::Joy,
    Emotion::Sadness,
    Emotion::Anger,
    Emotion::Fear,
    Emotion::Surprise,
    Emotion::Disgust,
    Emotion::Trust,
    Emotion::Anticipation,
];

const JOY: &[&str] = &[
    "happy",
    "happier",
    "happiest",
    "happiness",
    "joy",
    "joyful",
    "glad",
    "delighted",
    "cheerful",
    "content",
    "grateful",
    "thankful",
    "gratitude",
    "love",
    "loved",
    "loving",
    "lovely",
    "great",
    "wonderful",
    "amazing",
    "awesome",
    "fantastic",
    "excellent",
    "good",
    "fun",
    "enjoy",
    "enjoyed",
    "enjoying",
    "laugh",
    "laughed",
    "laughing",
    "smile",
    "smiled",
    "smiling",
    "proud",
    "relieved",
    "relief",
    "peaceful",
    "calm",
    "relaxed",
    "blessed",
    "elated",
    "thrilled",
    "celebrate",
    "celebrated",
    "pleased",
    "satisfied",
    "uplifted",
    "accomplished",
    "beautiful",
    "best",
    "win",
    "won",
    "success",
    "successful",
    "better",
];
const SADNESS: &[&str] = &[
    "sad",
    "sadder",
    "sadness",
    "unhappy",
    "depressed",
    "depressing",
    "depression",
    "down",
    "low",
    "lonely",
    "alone",
    "loneliness",
    "cry",
    "cried",
    "crying",
    "tears",
    "grief",
    "grieving",
    "mourning",
    "miss",
    "missed",
    "missing",
    "lost",
    "loss",
    "heartbroken",
    "hurt",
    "hurting",
    "empty",
    "numb",
    "hopeless",
    "helpless",
    "worthless",
    "miserable",
    "gloomy",
    "blue",
    "sorrow",
    "regret",
    "disappointed",
    "disappointing",
    "disappointment",
    "tired",
    "exhausted",
    "drained",
    "defeated",
    "broken",
    "failure",
    "failed",
    "rejected",
    "abandoned",
    "awful",
    "terrible",
];
const ANGER: &[&str] = &[
    "angry",
    "anger",
    "mad",
    "furious",
    "rage",
    "raging",
    "irritated",
    "irritating",
    "annoyed",
    "annoying",
    "frustrated",
    "frustrating",
    "frustration",
    "resent",
    "resentful",
    "hate",
    "hated",
    "hostile",
    "outraged",
    "livid",
    "fuming",
    "pissed",
    "bitter",
    "unfair",
    "yelled",
    "yelling",
    "shouted",
    "screamed",
    "argue",
    "argued",
    "argument",
    "fight",
    "fought",
    "betrayed",
    "insulted",
    "disrespected",
];
const FEAR: &[&str] = &[
    "afraid",
    "scared",
    "fear",
    "fearful",
    "frightened",
    "terrified",
    "panic",
    "panicked",
    "panicking",
    "anxious",
    "anxiety",
    "worried",
    "worry",
    "worrying",
    "nervous",
    "dread",
    "dreading",
    "uneasy",
    "tense",
    "stressed",
    "stress",
    "overwhelmed",
    "threatened",
    "unsafe",
    "insecure",
    "paranoid",
    "phobia",
    "shaky",
    "shaking",
    "horror",
    "nightmare",
    "apprehensive",
];
const SURPRISE: &[&str] = &[
    "surprised",
    "surprise",
    "surprising",
    "shocked",
    "shock",
    "shocking",
    "astonished",
    "amazed",
    "unexpected",
    "unexpectedly",
    "suddenly",
    "sudden",
    "stunned",
    "startled",
    "speechless",
    "wow",
    "unbelievable",
    "incredible",
    "bewildered",
    "caught",
];
const DISGUST: &[&str] = &[
    "disgusted",
    "disgust",
    "disgusting",
    "gross",
    "sick",
    "sickening",
    "nauseous",
    "revolting",
    "repulsed",
    "repulsive",
    "vile",
    "yuck",
    "ew",
    "nasty",
    "loathe",
    "loathing",
    "ashamed",
    "shame",
    "shameful",
    "contempt",
    "despise",
    "filthy",
];
const TRUST: &[&str] = &[
    "trust",
    "trusted",
    "trusting",
    "safe",
    "secure",
    "supported",
    "support",
    "supportive",
    "reliable",
    "rely",
    "faith",
    "believe",
    "believed",
    "confident",
    "confidence",
    "loyal",
    "honest",
    "understood",
    "accepted",
    "belong",
    "connected",
    "comforted",
    "reassured",
];
const ANTICIPATION: &[&str] = &[
    "excited",
    "exciting",
    "anticipate",
    "anticipation",
    "looking",
    "forward",
    "hope",
    "hoping",
    "hopeful",
    "eager",
    "expect",
    "expecting",
    "await",
    "awaiting",
    "plan",
    "planning",
    "soon",
    "tomorrow",
    "upcoming",
    "ready",
    "prepare",
    "preparing",
    "curious",
    "wonder",
    "goal",
    "goals",
];

const INTENSIFIERS: &[&str] = &[
    "very",
    "so",
    "really",
    "extremely",
    "incredibly",
    "totally",
    "completely",
    "utterly",
    "deeply",
    "super",
    "absolutely",
];

fn list(emotion: Emotion) -> &'static [&'static str] {
    match emotion {
        Emotion::Joy => JOY,
        Emotion::Sadness => SADNESS,
        Emotion::Anger => ANGER,
        Emotion::Fear => FEAR,
        Emotion::Surprise => SURPRISE,
        Emotion::Disgust => DISGUST,
        Emotion::Trust => TRUST,
        Emotion::Anticipation => ANTICIPATION,
        Emotion::Neutral => &[],
    }
}

/// Each lexicon word and the emotions whose lists name it, as a bit set over [`ORDER`]'s
/// slots. Built once: a lookup per word instead of a scan of every list (the journal works the
/// emotion out each time it shows an entry, so this is on the read path).
fn lexicon() -> &'static HashMap<&'static str, u8> {
    static LEXICON: OnceLock<HashMap<&'static str, u8>> = OnceLock::new();
    LEXICON.get_or_init(|| {
        let mut lexicon = HashMap::default();
        for (slot, emotion) in ORDER.iter().enumerate() {
            for word in list(*emotion) {
                *lexicon.entry(*word).or_insert(0) |= 1 << slot;
            }
        }
        lexicon
    })
}

fn intensifiers() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| INTENSIFIERS.iter().copied().collect())
}

/// The primary emotion of `text` and the winner's share of the votes, in [0, 1].
pub fn classify(text: &str) -> (Emotion, f32) {
    let tokens = words(text);
    let negations: Vec<bool> = tokens.iter().map(|w| is_negation(w)).collect();
    let (lexicon, intensifiers) = (lexicon(), intensifiers());
    let mut votes = [0f32; 8];
    for (i, word) in tokens.iter().enumerate() {
        let Some(&slots) = lexicon.get(word.as_str()) else {
            continue;
        };
        let negated = negations[i.saturating_sub(3)..i].iter().any(|n| *n);
        let intensified = i > 0 && intensifiers.contains(tokens[i - 1].as_str());
        let weight = if intensified { 2.0 } else { 1.0 };
        for slot in (0..ORDER.len()).filter(|slot| slots & (1 << slot) != 0) {
            if negated {
                // "not happy" leans sad; other negated emotions simply do not count.
                if ORDER[slot] == Emotion::Joy {
                    votes[1] += weight;
                }
            } else {
                votes[slot] += weight;
            }
        }
    }
    let total: f32 = votes.iter().sum();
    if total == 0.0 {
        return (Emotion::Neutral, 1.0);
    }
    let mut best = 0;
    for slot in 1..8 {
        if votes[slot] > votes[best] {
            best = slot;
        }
    }
    (ORDER[best], votes[best] / total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_clear_cases() {
        assert_eq!(classify("I am so happy and grateful today").0, Emotion::Joy);
        assert_eq!(
            classify("I feel lonely and I cried all night").0,
            Emotion::Sadness
        );
        assert_eq!(
            classify("I'm furious, he yelled at me again").0,
            Emotion::Anger
        );
        assert_eq!(
            classify("Anxious and scared about the exam").0,
            Emotion::Fear
        );
        assert_eq!(classify("The meeting was at three.").0, Emotion::Neutral);
    }

    #[test]
    fn negated_joy_leans_sad() {
        assert_eq!(
            classify("I'm not happy with how things are").0,
            Emotion::Sadness
        );
    }

    /// The lexicon as first written: a scan of every list per word. The lookup table must
    /// give the same answer on every text.
    fn classify_by_scan(text: &str) -> (Emotion, f32) {
        let tokens = words(text);
        let mut votes = [0f32; 8];
        for (i, word) in tokens.iter().enumerate() {
            let negated = tokens[i.saturating_sub(3)..i]
                .iter()
                .any(|w| is_negation(w));
            let intensified = i > 0 && INTENSIFIERS.contains(&tokens[i - 1].as_str());
            let weight = if intensified { 2.0 } else { 1.0 };
            for (slot, emotion) in ORDER.iter().enumerate() {
                if !list(*emotion).contains(&word.as_str()) {
                    continue;
                }
                if negated {
                    if *emotion == Emotion::Joy {
                        votes[1] += weight;
                    }
                } else {
                    votes[slot] += weight;
                }
            }
        }
        let total: f32 = votes.iter().sum();
        if total == 0.0 {
            return (Emotion::Neutral, 1.0);
        }
        let mut best = 0;
        for slot in 1..8 {
            if votes[slot] > votes[best] {
                best = slot;
            }
        }
        (ORDER[best], votes[best] / total)
    }

    #[test]
    fn the_lookup_agrees_with_a_scan_of_the_lists() {
        let corpus = crate::test_corpus::texts();
        assert!(corpus.len() > 300, "{}", corpus.len());
        for text in &corpus {
            assert_eq!(classify(text), classify_by_scan(text), "{text}");
        }
        // Every lexicon word, alone, intensified and negated.
        for emotion in ORDER {
            for word in list(emotion) {
                for text in [
                    (*word).to_owned(),
                    format!("so {word}"),
                    format!("not very {word}"),
                ] {
                    assert_eq!(classify(&text), classify_by_scan(&text), "{text}");
                }
            }
        }
    }
}

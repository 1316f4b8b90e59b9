//! Lowercased word tokens, shared by the lexicon models.

/// Splits text into lowercase words (letters, digits and inner apostrophes).
pub(crate) fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '’'))
        .map(|w| w.trim_matches(|c| c == '\'' || c == '’'))
        .filter(|w| !w.is_empty())
        .map(|w| {
            // One allocation for the common word: plain ASCII is lowercased in place.
            if w.is_ascii() {
                w.to_ascii_lowercase()
            } else {
                w.to_lowercase().replace('’', "'")
            }
        })
        .collect()
}

/// Words that flip the meaning of what follows within a short window.
pub(crate) fn is_negation(word: &str) -> bool {
    matches!(
        word,
        "not"
            | "no"
            | "never"
            | "nothing"
            | "nobody"
            | "hardly"
            | "barely"
            | "neither"
            | "nor"
            | "don't"
            | "dont"
            | "doesn't"
            | "doesnt"
            | "didn't"
            | "didnt"
            | "isn't"
            | "isnt"
            | "wasn't"
            | "wasnt"
            | "aren't"
            | "arent"
            | "weren't"
            | "werent"
            | "can't"
            | "cant"
            | "cannot"
            | "couldn't"
            | "couldnt"
            | "won't"
            | "wont"
            | "wouldn't"
            | "wouldnt"
            | "haven't"
            | "havent"
            | "hasn't"
            | "hasnt"
            | "without"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_and_lowercases() {
        assert_eq!(
            words("I'm SO tired—can’t sleep!"),
            ["i'm", "so", "tired", "can't", "sleep"]
        );
    }
}

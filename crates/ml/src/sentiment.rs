//! Sentiment with VADER: the compound score in [-1, 1].

use std::sync::OnceLock;

use vader_sentiment::SentimentIntensityAnalyzer;

fn analyzer() -> &'static SentimentIntensityAnalyzer<'static> {
    static ANALYZER: OnceLock<SentimentIntensityAnalyzer<'static>> = OnceLock::new();
    ANALYZER.get_or_init(SentimentIntensityAnalyzer::new)
}

/// The sentiment of `text` in [-1, 1] (VADER's compound score); 0 for empty text.
pub fn score(text: &str) -> f32 {
    if text.trim().is_empty() {
        return 0.0;
    }
    let scores = analyzer().polarity_scores(text);
    // Clamped to [-1, 1] first: `f32` holds it with room to spare.
    #[allow(clippy::cast_possible_truncation)]
    let compound = scores
        .get("compound")
        .copied()
        .unwrap_or(0.0)
        .clamp(-1.0, 1.0) as f32;
    compound
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positive_negative_and_neutral() {
        assert!(score("What a wonderful, happy day with friends!") > 0.5);
        assert!(score("I feel awful and hopeless, everything is terrible.") < -0.5);
        assert!(score("").abs() < f32::EPSILON);
        assert!(score("I am not happy at all") < 0.0, "negation flips");
    }
}

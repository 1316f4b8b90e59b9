//! The guardrails every answer passes before a component sees it, applied by the host
//! (`mindflow_guardrails`): a finished answer is screened whole; a streamed answer is
//! released only as far as screening has cleared it (sentence by sentence), or replaced by
//! one safe answer in the user's language.
//!
//! This module is the one place the `llm` capability reaches the guardrails, so the
//! capability and the session deal in plain strings (the WIT's `filtered-reasons`).

use mindflow_guardrails::{StreamScreen, StreamStep, safe_replacement};

/// What a finished answer became.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Screened {
    /// The text the user may see: the answer, or the safe replacement.
    pub content: String,
    /// Whether the answer was replaced.
    pub filtered: bool,
    /// The guardrails it crossed (`diagnosis`, `medication`, `method`, `encouragement`,
    /// `human-claim`); empty when not filtered.
    pub reasons: Vec<String>,
}

/// One step of screening a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Text cleared for release (possibly empty: held back until a sentence ends).
    Release(String),
    /// The answer so far crossed a guardrail: show this instead; the stream ends.
    Replace {
        /// The guardrails crossed.
        reasons: Vec<String>,
        /// The safe answer.
        text: String,
    },
}

/// Screens a finished answer for a user of `locale` (BCP 47).
pub fn screen(text: &str, locale: &str) -> Screened {
    let verdict = mindflow_guardrails::screen(text);
    if verdict.is_safe() {
        return Screened {
            content: text.to_owned(),
            filtered: false,
            reasons: Vec::new(),
        };
    }
    Screened {
        content: safe_replacement(&verdict.reasons, locale),
        filtered: true,
        reasons: verdict
            .reasons
            .iter()
            .map(|r| r.as_str().to_owned())
            .collect(),
    }
}

/// A streamed answer's screen.
#[derive(Debug)]
pub struct StreamScreener(StreamScreen);

fn step(step: StreamStep) -> Step {
    match step {
        StreamStep::Release(text) => Step::Release(text),
        StreamStep::Replace { reasons, text } => Step::Replace {
            reasons: reasons.iter().map(|r| r.as_str().to_owned()).collect(),
            text,
        },
    }
}

impl StreamScreener {
    /// A screen for one answer to a user of `locale`.
    pub fn new(locale: &str) -> Self {
        Self(StreamScreen::new(locale))
    }

    /// Adds a delta; returns what may be released now, or the replacement.
    pub fn push(&mut self, delta: &str) -> Step {
        step(self.0.push(delta))
    }

    /// The answer is complete: the rest to release, or the replacement.
    pub fn finish(&mut self) -> Step {
        step(self.0.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_answers_pass_and_unsafe_ones_are_replaced() {
        let safe = screen(
            "That sounds really hard. Would a short walk help today?",
            "en",
        );
        assert!(!safe.filtered);
        assert_eq!(
            safe.content,
            "That sounds really hard. Would a short walk help today?"
        );
        let unsafe_answer = screen("You clearly have bipolar disorder.", "en");
        assert!(unsafe_answer.filtered, "{unsafe_answer:?}");
        assert_eq!(unsafe_answer.reasons, vec!["diagnosis".to_owned()]);
        assert!(!unsafe_answer.content.contains("bipolar"));
    }

    #[test]
    fn a_stream_releases_screened_sentences_or_one_replacement() {
        let mut screen = StreamScreener::new("en");
        assert_eq!(
            screen.push("You are not alone"),
            Step::Release(String::new())
        );
        assert_eq!(
            screen.push(". Let's "),
            Step::Release("You are not alone.".into())
        );
        match screen.push("up your dose of sertraline to 200 mg. ") {
            Step::Replace { reasons, .. } => assert_eq!(reasons, vec!["medication".to_owned()]),
            other => panic!("{other:?}"),
        }
    }
}

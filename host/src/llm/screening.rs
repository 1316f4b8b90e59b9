//! The guardrails every answer passes before a component sees it, applied by the host: a
//! finished answer is screened whole; a streamed answer is released piece by piece only as
//! far as screening has cleared it, or replaced by one safe answer.
//!
//! This module is the one place the `llm` capability reaches the guardrails
//! (`mindflow_guardrails`: `screen`, `Verdict`, `Reason`, `safe_replacement`,
//! `StreamScreen`, `StreamStep`).
//!
//! TODO(guardrails): the `mindflow-guardrails` crate is not on this branch yet. Until it is
//! merged, this module **fails closed**: no answer is released, every answer is replaced by
//! [`UNSCREENED_ANSWER`] with the reason `unscreened`. Nothing unscreened reaches a component.
//! With the crate merged, the bodies below become calls to it (see each function).

/// What a finished answer became.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Screened {
    /// The text the user may see: the answer, or the safe replacement.
    pub content: String,
    /// Whether the answer was replaced.
    pub filtered: bool,
    /// The guardrails it crossed (`diagnosis`, `medication`, `method`, `encouragement`,
    /// `human-claim`).
    pub reasons: Vec<String>,
}

/// One step of screening a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Text cleared for release (possibly empty: more is needed before anything can be).
    Release(String),
    /// The answer so far crossed a guardrail: show this instead; the stream ends.
    Replace {
        /// The guardrails crossed.
        reasons: Vec<String>,
        /// The safe answer.
        text: String,
    },
}

/// The reason given while no screener is built in.
pub const UNSCREENED: &str = "unscreened";

/// The answer shown while no screener is built in.
pub const UNSCREENED_ANSWER: &str = "I'm not able to answer that right now. If you are \
    struggling or thinking about harming yourself, please reach out to someone you trust or \
    to a crisis line in your country.";

/// Screens a finished answer for a user of `locale`.
///
/// With the guardrails: `let verdict = mindflow_guardrails::screen(text)`; safe → the text;
/// else `safe_replacement(&verdict.reasons, locale)` with `reasons` by `Reason::as_str`.
pub fn screen(text: &str, locale: &str) -> Screened {
    let _ = (text, locale);
    Screened {
        content: UNSCREENED_ANSWER.to_owned(),
        filtered: true,
        reasons: vec![UNSCREENED.to_owned()],
    }
}

/// A stream's screen (`mindflow_guardrails::StreamScreen` with the guardrails).
#[derive(Debug)]
pub struct StreamScreener {
    locale: String,
}

impl StreamScreener {
    /// A screen for a user of `locale` (`StreamScreen::new(locale)`).
    pub fn new(locale: &str) -> Self {
        Self {
            locale: locale.to_owned(),
        }
    }

    /// Adds a delta; returns what may be released now (`StreamScreen::push`). Fails closed
    /// without the guardrails: nothing is released before the end.
    pub fn push(&mut self, delta: &str) -> Step {
        let _ = (delta, &self.locale);
        Step::Release(String::new())
    }

    /// The answer is complete; returns the rest to release or the replacement
    /// (`StreamScreen::finish`). Fails closed without the guardrails: the replacement.
    pub fn finish(self) -> Step {
        Step::Replace {
            reasons: vec![UNSCREENED.to_owned()],
            text: UNSCREENED_ANSWER.to_owned(),
        }
    }
}

//! Screening a streamed answer sentence by sentence.

use crate::locale::lang;
use crate::screen::{boundaries, screen};
use crate::{Reason, safe_replacement};

/// Text held back without a sentence end before it is screened and released anyway (bytes,
/// cut at a whitespace when there is one).
pub const MAX_HOLD: usize = 300;

/// Screens a streamed answer as it arrives: text is released only once screened.
///
/// Text is held back until a sentence ends (`.`, `!`, `?` followed by whitespace, or a
/// newline) or [`MAX_HOLD`] bytes are held; then the whole answer so far is [`screen`]ed (so
/// context spanning sentences counts) and the new text is released only if it is safe.
/// Because the screener never looks ahead of a sentence, the user is never handed a sentence
/// that screening the full answer would flag; and a safe answer comes out whole.
#[derive(Debug, Clone)]
pub struct StreamScreen {
    locale: String,
    /// Everything received so far.
    text: String,
    /// How much of `text` was released.
    released: usize,
    /// The reasons of the replacement, once replaced.
    crossed: Option<Vec<Reason>>,
}

/// One step of a screened stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamStep {
    /// Screened text to append to what was shown (may be empty: held back until a sentence ends).
    Release(String),
    /// What was streamed so far crossed a guardrail: discard it all and show `text`. Terminal.
    Replace {
        /// The guardrails crossed, sorted and unique.
        reasons: Vec<Reason>,
        /// The safe answer to show instead ([`safe_replacement`]).
        text: String,
    },
}

impl StreamScreen {
    /// A screen for one answer, replacing in the language of `locale` (BCP 47).
    pub fn new(locale: &str) -> Self {
        let _ = lang(locale);
        StreamScreen {
            locale: locale.to_owned(),
            text: String::new(),
            released: 0,
            crossed: None,
        }
    }

    /// Takes the next piece of the answer; releases what is screened and safe, or replaces.
    /// After a replacement every further push returns `Release("")`.
    pub fn push(&mut self, delta: &str) -> StreamStep {
        if self.crossed.is_some() {
            return StreamStep::Release(String::new());
        }
        self.text.push_str(delta);
        match self.cut() {
            Some(cut) => self.release_to(cut),
            None => StreamStep::Release(String::new()),
        }
    }

    /// The answer is complete: screens it whole and releases the held tail, or replaces.
    /// After a replacement it returns `Release("")`.
    pub fn finish(&mut self) -> StreamStep {
        if self.crossed.is_some() {
            return StreamStep::Release(String::new());
        }
        self.release_to(self.text.len())
    }

    /// The guardrails the stream crossed, once it was replaced.
    pub fn crossed(&self) -> Option<&[Reason]> {
        self.crossed.as_deref()
    }

    /// Everything released so far.
    pub fn released(&self) -> &str {
        self.text.get(..self.released).unwrap_or_default()
    }

    /// Where the text may be cut for screening now: the last confirmed sentence end after
    /// what was released, else (over [`MAX_HOLD`] held) the last whitespace, else nothing.
    fn cut(&self) -> Option<usize> {
        // Only the unreleased tail can hold a new boundary, but deciding one needs the word
        // before it: look from the start of the current sentence, i.e. the released point.
        let from = self.released;
        let tail = self.text.get(from..)?;
        if let Some(end) = boundaries(tail).last() {
            return Some(from + end);
        }
        if tail.len() <= MAX_HOLD {
            return None;
        }
        let window = tail.get(..floor_char_boundary(tail, MAX_HOLD))?;
        match window.rfind(char::is_whitespace) {
            Some(at) if at > 0 => Some(from + at),
            _ => Some(from + window.len()),
        }
    }

    /// Screens `text[..cut]` and releases `text[released..cut]` if it is safe.
    fn release_to(&mut self, cut: usize) -> StreamStep {
        let Some(prefix) = self.text.get(..cut) else {
            return StreamStep::Release(String::new());
        };
        let verdict = screen(prefix);
        if verdict.is_safe() {
            let out = self
                .text
                .get(self.released..cut)
                .unwrap_or_default()
                .to_owned();
            self.released = cut;
            StreamStep::Release(out)
        } else {
            let text = safe_replacement(&verdict.reasons, &self.locale);
            self.crossed = Some(verdict.reasons.clone());
            StreamStep::Replace {
                reasons: verdict.reasons,
                text,
            }
        }
    }
}

/// The largest char boundary of `s` at or below `at`.
fn floor_char_boundary(s: &str, at: usize) -> usize {
    let mut at = at.min(s.len());
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    at
}

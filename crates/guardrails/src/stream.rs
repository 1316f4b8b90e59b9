//! Screening a streamed answer sentence by sentence.

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval_data::{Row, dev_rows};

    /// A small deterministic generator (xorshift64*), so the property test needs no crate.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            let x = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D);
            usize::try_from(x % u64::try_from(n.max(1)).unwrap_or(1)).unwrap_or(0)
        }
    }

    /// Cuts `text` into random pieces of 1 to `max` characters.
    fn deltas(text: &str, rng: &mut Rng, max: usize) -> Vec<String> {
        let chars: Vec<char> = text.chars().collect();
        let mut out = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            let n = 1 + rng.below(max);
            let end = (i + n).min(chars.len());
            out.push(chars[i..end].iter().collect());
            i = end;
        }
        out
    }

    /// Streams `pieces`; returns what was released and the replacement, if any.
    fn run(pieces: &[String]) -> (String, Option<(Vec<Reason>, String)>) {
        let mut s = StreamScreen::new("en-US");
        let mut shown = String::new();
        let mut replaced = None;
        for piece in pieces {
            match s.push(piece) {
                StreamStep::Release(t) => {
                    assert!(
                        replaced.is_none() || t.is_empty(),
                        "text after a replacement"
                    );
                    shown.push_str(&t);
                }
                StreamStep::Replace { reasons, text } => {
                    assert!(replaced.is_none(), "two replacements");
                    replaced = Some((reasons, text));
                }
            }
            // Whatever was shown so far passes the screener (so no sentence of it would be
            // flagged in the full answer either: the screener never looks ahead).
            assert!(screen(&shown).is_safe(), "unsafe text released: {shown}");
        }
        match s.finish() {
            StreamStep::Release(t) => {
                assert!(replaced.is_none() || t.is_empty());
                shown.push_str(&t);
            }
            StreamStep::Replace { reasons, text } => {
                assert!(replaced.is_none(), "two replacements");
                replaced = Some((reasons, text));
            }
        }
        assert_eq!(s.crossed(), replaced.as_ref().map(|(r, _)| r.as_slice()));
        (shown, replaced)
    }

    fn check(answer: &str, rng: &mut Rng, max: usize) {
        let verdict = screen(answer);
        let (shown, replaced) = run(&deltas(answer, rng, max));
        match replaced {
            None => {
                assert!(verdict.is_safe(), "not replaced but unsafe: {answer}");
                assert_eq!(shown, answer);
            }
            Some((reasons, text)) => {
                assert!(!verdict.is_safe(), "replaced but safe: {answer}");
                // The replacement names what was crossed by the time it was caught: a
                // subset of the full answer's reasons.
                assert!(
                    reasons.iter().all(|r| verdict.reasons.contains(r)),
                    "{answer}"
                );
                assert_eq!(text, safe_replacement(&reasons, "en-US"));
            }
        }
    }

    #[test]
    fn random_deltas_give_the_whole_answer_outcome() {
        let rows: Vec<Row> = dev_rows();
        let mut extra = vec![
            "Line one\nLine two without an end".to_owned(),
            "Hi, I'm Dr. Smith. Let's begin today's session.".to_owned(),
            "Ça va? Très bien… «Merci» — 🙂 ok.\n\nYou're not alone.".to_owned(),
            "Take 3.5 mg of melatonin tonight.".to_owned(),
            format!("{} you have ADHD.", "word ".repeat(120)),
            format!("{}. And then?", "x".repeat(700)),
        ];
        extra.extend(rows.into_iter().map(|r| r.answer));
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for answer in &extra {
            for max in [1, 3, 7, 20, 80, 400] {
                check(answer, &mut rng, max);
            }
        }
    }

    #[test]
    fn holds_until_a_sentence_ends() {
        let mut s = StreamScreen::new("en");
        assert_eq!(s.push("I'm here "), StreamStep::Release(String::new()));
        assert_eq!(s.push("for you."), StreamStep::Release(String::new()));
        // The period is confirmed by what follows it.
        assert_eq!(
            s.push(" What"),
            StreamStep::Release("I'm here for you.".into())
        );
        assert_eq!(s.finish(), StreamStep::Release(" What".into()));
        assert_eq!(s.released(), "I'm here for you. What");
        assert_eq!(s.crossed(), None);
    }

    #[test]
    fn replaces_once_and_then_stays_quiet() {
        let mut s = StreamScreen::new("es-ES");
        assert_eq!(
            s.push("That sounds hard. "),
            StreamStep::Release("That sounds hard.".into())
        );
        let step = s.push("You definitely have ADHD. More text. ");
        let StreamStep::Replace { reasons, text } = step else {
            panic!("expected a replacement, got {step:?}");
        };
        assert_eq!(reasons, vec![Reason::Diagnosis]);
        assert!(text.contains("diagnosticar"));
        assert_eq!(s.crossed(), Some(&[Reason::Diagnosis][..]));
        assert_eq!(s.push("anything"), StreamStep::Release(String::new()));
        assert_eq!(s.finish(), StreamStep::Release(String::new()));
    }

    #[test]
    fn context_from_an_earlier_sentence_counts() {
        let mut s = StreamScreen::new("en");
        assert_eq!(
            s.push("Cutting helps some people. "),
            StreamStep::Release("Cutting helps some people.".into())
        );
        assert!(matches!(
            s.push("If it works for you, that's okay. "),
            StreamStep::Replace { .. }
        ));
        assert_eq!(s.crossed(), Some(&[Reason::Encouragement][..]));
    }

    #[test]
    fn long_text_without_a_sentence_end_is_released_after_the_maximum_hold() {
        let mut s = StreamScreen::new("en");
        let word = "calm ";
        let mut released = String::new();
        for _ in 0..100 {
            if let StreamStep::Release(t) = s.push(word) {
                released.push_str(&t);
            }
        }
        assert!(!released.is_empty());
        assert!(s.text.len() - released.len() <= MAX_HOLD);
    }
}

//! The chat pipeline's safety layer, applied by the host whatever the model writes.
//!
//! A small local model can write anything, so the guardrails are not left to the model's
//! instructions alone: every answer is [`screen`]ed before the user sees it (a streamed one
//! sentence by sentence with [`StreamScreen`]), and an answer that crosses a guardrail is
//! replaced by a fixed [`safe_replacement`]. The screener is a set of general linguistic
//! rules (who asserts what, with negation, refusal and referral handling), not a model, so
//! it is deterministic, fast and explainable; [`prompts`] holds the instructions the model
//! gets and the fixed reply for high crisis risk.
//!
//! The rules were tuned on `evaluation/chat-safety/answers-dev.jsonl`; the held-out split is
//! only reported (`cargo run -p mindflow-guardrails --example screen_eval`; figures and
//! weaknesses in `EVALUATION.md`).

#[cfg(test)]
mod eval_data;
#[cfg(test)]
mod eval_tests;
mod locale;
#[cfg(test)]
mod probes;
pub mod prompts;
mod replacement;
mod screen;
mod stream;

pub use replacement::safe_replacement;
pub use screen::screen;
pub use stream::{MAX_HOLD, StreamScreen, StreamStep};

use std::fmt;
use std::str::FromStr;

/// A guardrail an answer can cross.
///
/// The order (declaration order) is the order of [`Verdict::reasons`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    /// The answer tells someone they (or a third person) have a mental disorder.
    Diagnosis,
    /// The answer gives medication advice: doses, changes, combinations, other people's pills.
    Medication,
    /// The answer describes a method of self-harm or suicide, or how lethal one is.
    Method,
    /// The answer encourages or validates suicide, self-harm or giving up.
    Encouragement,
    /// The answer claims to be a human, a clinician or to hold credentials.
    HumanClaim,
}

impl Reason {
    /// Every reason, in order.
    pub const ALL: [Reason; 5] = [
        Reason::Diagnosis,
        Reason::Medication,
        Reason::Method,
        Reason::Encouragement,
        Reason::HumanClaim,
    ];

    /// The name the WIT interface and the logs use (`filtered-reasons`).
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Diagnosis => "diagnosis",
            Reason::Medication => "medication",
            Reason::Method => "method",
            Reason::Encouragement => "encouragement",
            Reason::HumanClaim => "human-claim",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not one of [`Reason::as_str`]'s.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown guardrail reason {0:?}")]
pub struct UnknownReason(pub String);

impl FromStr for Reason {
    type Err = UnknownReason;

    /// Parses a name written by [`Reason::as_str`] (`human_claim` is accepted too, as the
    /// evaluation data spells it).
    ///
    /// # Errors
    /// [`UnknownReason`] for any other string.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "diagnosis" => Ok(Reason::Diagnosis),
            "medication" => Ok(Reason::Medication),
            "method" => Ok(Reason::Method),
            "encouragement" => Ok(Reason::Encouragement),
            "human-claim" | "human_claim" => Ok(Reason::HumanClaim),
            other => Err(UnknownReason(other.to_owned())),
        }
    }
}

impl serde::Serialize for Reason {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Reason {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

/// The screening outcome of a text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Verdict {
    /// The guardrails the text crossed, sorted and without duplicates; empty when safe.
    pub reasons: Vec<Reason>,
}

impl Verdict {
    /// Whether the text crossed no guardrail.
    pub fn is_safe(&self) -> bool {
        self.reasons.is_empty()
    }

    /// The reasons' names ([`Reason::as_str`]), as the WIT `filtered-reasons` carries them.
    pub fn reason_names(&self) -> Vec<String> {
        self.reasons.iter().map(|r| r.as_str().to_owned()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_names_round_trip() {
        for reason in Reason::ALL {
            assert_eq!(reason.as_str().parse::<Reason>(), Ok(reason));
        }
        assert_eq!("human_claim".parse::<Reason>(), Ok(Reason::HumanClaim));
        assert!("other".parse::<Reason>().is_err());
        let json = serde_json::to_string(&Reason::ALL).unwrap();
        assert_eq!(
            json,
            r#"["diagnosis","medication","method","encouragement","human-claim"]"#
        );
        let back: Vec<Reason> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, Reason::ALL);
    }

    #[test]
    fn verdict_is_safe_when_empty() {
        assert!(Verdict::default().is_safe());
        let v = Verdict {
            reasons: vec![Reason::Method],
        };
        assert!(!v.is_safe());
        assert_eq!(v.reason_names(), vec!["method"]);
    }
}

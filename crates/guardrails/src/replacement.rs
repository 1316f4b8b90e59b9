//! The safe answers shown instead of an answer that crossed a guardrail.

use crate::Reason;

/// The safe answer shown instead of an answer that crossed `reasons`, in the user's
/// language when supported (BCP 47 `locale`, e.g. "en-US", "es-ES"; fall back to English).
pub fn safe_replacement(reasons: &[Reason], locale: &str) -> String {
    let _ = (reasons, locale);
    String::from("I'm an AI companion.")
}

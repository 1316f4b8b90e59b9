//! Judging a text or a conversation with a crisis-rules version: the host's signals, then the
//! rules. Nothing is recorded here (the service records events); the evaluation command and
//! the gate judge exactly as production does.
//!
//! A conversation is judged as a window of the writer's recent messages, oldest first:
//! - every message of the window on its own, so one clear statement is never diluted;
//! - the window as one text (messages on their own lines), so escalation spread over several
//!   short messages ("the bridge near work" … "how high is it") is seen together;
//! - the result is the most severe of these. A later "I'm fine" or "jk" is a message of its
//!   own and lowers nothing: a high-risk message stays in the window until it ages out.

use std::sync::Arc;

use super::rules::{Assessment, AssessmentInput, Rules, Severity, Signals};
use super::semantic::{self, Semantic};
use mindflow_ml as ml;

/// The most recent messages a conversation is judged on.
pub const CONVERSATION_WINDOW: usize = 8;

/// The rules a judgement runs (shared with the blocking pool).
pub type SharedRules = Arc<Box<dyn Rules>>;

/// Judges `text` written in `language` (ISO 639-1) in `source`. `sentiment` is used when the
/// caller already computed it.
///
/// # Errors
/// Why the signals or the component failed (for logs).
pub async fn text(
    semantic: &Semantic,
    rules: &SharedRules,
    text: &str,
    source: &str,
    language: &str,
    sentiment: Option<f32>,
) -> Result<Assessment, String> {
    let signals = signals(semantic, rules, text, sentiment).await?;
    with_signals(rules, text, source, language, signals).await
}

/// The host's signals for `text` under `rules` (the embedding runs on the shared embedding
/// worker, batched with concurrent requests: it is milliseconds of CPU).
///
/// # Errors
/// When the blocking task fails.
pub async fn signals(
    semantic: &Semantic,
    rules: &SharedRules,
    text: &str,
    sentiment: Option<f32>,
) -> Result<Signals, String> {
    let passages = semantic.passages_batched(text).await?;
    let sentiment = sentiment.unwrap_or_else(|| ml::sentiment::score(text));
    Ok(semantic::signals(
        rules.exemplar_index(),
        text,
        &passages,
        sentiment,
    ))
}

/// Runs the rules on `text` with `signals` already computed.
///
/// # Errors
/// Why the component failed.
pub async fn with_signals(
    rules: &SharedRules,
    text: &str,
    source: &str,
    language: &str,
    signals: Signals,
) -> Result<Assessment, String> {
    let input = AssessmentInput {
        text: text.to_owned(),
        source: source.to_owned(),
        language: language.to_owned(),
        signals,
    };
    rules.assess(&input).await
}

/// Judges the last [`CONVERSATION_WINDOW`] of `messages` (oldest first; see the module).
/// Returns the most severe assessment and the text it judged (for the event's hash).
///
/// # Errors
/// As [`text`].
pub async fn conversation(
    semantic: &Semantic,
    rules: &SharedRules,
    messages: &[String],
    source: &str,
    language: &str,
    max_bytes: usize,
) -> Result<(Assessment, String), String> {
    let mut window: Vec<&str> = messages
        .iter()
        .rev()
        .take(CONVERSATION_WINDOW)
        .map(String::as_str)
        .filter(|m| !m.trim().is_empty())
        .collect();
    window.reverse();
    while window.iter().map(|m| m.len() + 1).sum::<usize>() > max_bytes && window.len() > 1 {
        window.remove(0);
    }
    let joined = window.join("\n");
    let mut candidates: Vec<String> = window.iter().map(|m| (*m).to_owned()).collect();
    if window.len() > 1 {
        candidates.push(joined.clone());
    }
    let mut best: Option<(Assessment, String)> = None;
    for candidate in candidates {
        let assessment = text(semantic, rules, &candidate, source, language, None).await?;
        let better = best.as_ref().is_none_or(|(b, _)| {
            (rank(assessment.severity), assessment.confidence) > (rank(b.severity), b.confidence)
        });
        if better {
            best = Some((assessment, candidate));
        }
    }
    best.ok_or_else(|| "the conversation has no message".to_owned())
}

/// The name of a rank (none 0 … imminent 4).
pub fn rank_name(rank: u8) -> &'static str {
    ["none", "low", "moderate", "high", "imminent"]
        .get(usize::from(rank))
        .copied()
        .unwrap_or("imminent")
}

/// none 0 … imminent 4.
pub fn rank(severity: Severity) -> u8 {
    match severity {
        Severity::None => 0,
        Severity::Low => 1,
        Severity::Moderate => 2,
        Severity::High => 3,
        Severity::Imminent => 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::Runtime;

    fn shipped() -> (Semantic, SharedRules) {
        let dir = tempfile::tempdir().expect("temp dir");
        let runtime = Runtime::new(dir.path().to_path_buf()).expect("runtime");
        let rules = crate::runtime::pure::tests::rules(&runtime, |_| {});
        (
            super::semantic::from_environment(),
            Arc::new(Box::new(rules)),
        )
    }

    fn messages(texts: &[&str]) -> Vec<String> {
        texts.iter().map(|t| (*t).to_owned()).collect()
    }

    async fn judged(semantic: &Semantic, rules: &SharedRules, texts: &[&str]) -> u8 {
        let (assessment, _) =
            conversation(semantic, rules, &messages(texts), "chat", "en", 120 * 1024)
                .await
                .expect("judged");
        rank(assessment.severity)
    }

    #[tokio::test]
    async fn a_later_reassurance_does_not_clear_a_high_risk_message() {
        let (semantic, rules) = shipped();
        let alone = text(
            &semantic,
            &rules,
            "jk i'm fine now, forget it",
            "chat",
            "en",
            None,
        )
        .await
        .expect("judged");
        assert!(rank(alone.severity) <= 1);
        let window = [
            "I'm going to take all my pills tonight when everyone is asleep",
            "jk i'm fine now, forget it",
        ];
        assert_eq!(judged(&semantic, &rules, &window).await, 4);
    }

    #[tokio::test]
    async fn escalation_spread_over_short_messages_is_judged_together() {
        let (semantic, rules) = shipped();
        let parts = [
            "i've been saving up my tablets",
            "it's going to be this weekend",
        ];
        for part in parts {
            let alone = text(&semantic, &rules, part, "chat", "en", None)
                .await
                .expect("judged");
            assert!(rank(alone.severity) < 4, "{part} alone");
        }
        assert_eq!(judged(&semantic, &rules, &parts).await, 4);
    }

    #[tokio::test]
    async fn only_the_recent_window_counts_and_everyday_talk_stays_calm() {
        let (semantic, rules) = shipped();
        let mut old = vec!["I want to kill myself"];
        old.extend(["work was fine"; CONVERSATION_WINDOW]);
        assert!(
            judged(&semantic, &rules, &old).await <= 1,
            "aged out of the window"
        );
        let calm = [
            "long day at work",
            "had pizza with sam",
            "feeling better now",
        ];
        assert!(judged(&semantic, &rules, &calm).await <= 1);
    }
}

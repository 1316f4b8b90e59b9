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
//!
//! A conversation is judged on every turn, and all its candidates but the newest message and
//! the window were judged on the turn before. A judgement is a pure function of the rules
//! version, the text, its source and language (the rules are deterministic; the signals are
//! computed from the text alone), so each version remembers its recent ones
//! ([`RecentJudgements`]) and a turn judges two texts, not nine.

use std::sync::{Arc, Mutex, PoisonError};

use mindflow_ml::recent::Recent;
use sha2::{Digest, Sha256};

use super::rules::{Assessment, AssessmentInput, Rules, Severity, Signals};
use super::semantic::{self, Semantic};
use mindflow_ml as ml;

/// The most recent messages a conversation is judged on.
pub const CONVERSATION_WINDOW: usize = 8;

/// The rules a judgement runs (shared with the blocking pool).
pub type SharedRules = Arc<Box<dyn Rules>>;

/// How many judgements a rules version remembers (a few hundred bytes each).
const RECENT_JUDGEMENTS: usize = 4096;

/// The recent judgements of one rules version, by a SHA-256 of the source, the language and
/// the text (never the text itself).
pub struct RecentJudgements(Mutex<Recent<Assessment>>);

impl Default for RecentJudgements {
    fn default() -> Self {
        Self(Mutex::new(Recent::new(RECENT_JUDGEMENTS)))
    }
}

impl RecentJudgements {
    fn key(text: &str, source: &str, language: &str) -> [u8; 32] {
        let mut hash = Sha256::new();
        for part in [source, language, text] {
            hash.update(part.len().to_le_bytes());
            hash.update(part.as_bytes());
        }
        hash.finalize().into()
    }

    fn get(&self, key: &[u8; 32]) -> Option<Assessment> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
    }

    fn put(&self, key: [u8; 32], assessment: Assessment) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .put(key, assessment);
    }

    /// How many judgements are remembered.
    pub fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Judges `text` written in `language` (ISO 639-1) in `source`. `sentiment` is used when the
/// caller already computed it; without it, a text the version judged recently is not judged
/// again ([`RecentJudgements`]).
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
    let key = sentiment
        .is_none()
        .then(|| RecentJudgements::key(text, source, language));
    if let Some(judged) = key.as_ref().and_then(|k| rules.recent_judgements().get(k)) {
        return Ok(judged);
    }
    let signals = signals(semantic, rules, text, sentiment).await?;
    let assessment = with_signals(rules, text, source, language, signals).await?;
    if let Some(key) = key {
        rules.recent_judgements().put(key, assessment.clone());
    }
    Ok(assessment)
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
        // (Stockpiling stated outright, "i've been saving up my tablets", is judged imminent
        // on its own since 2026.12.8: a preparatory act. Since 2026.12.9's lower threshold,
        // so are a bare time, "it's going to be this weekend", and a bare decision, "sunday
        // then. i have decided": the timing part here names no decision.)
        let parts = [
            "i keep a stash of my tablets now",
            "i've got enough now",
            "the weekend works best",
        ];
        for part in parts {
            let alone = text(&semantic, &rules, part, "chat", "en", None)
                .await
                .expect("judged");
            assert!(
                rank(alone.severity) < 4,
                "{part} alone: {:?}",
                alone.severity
            );
        }
        assert_eq!(judged(&semantic, &rules, &parts).await, 4);
    }

    #[tokio::test]
    async fn a_turn_judges_only_its_new_message_and_the_window() {
        let (semantic, rules) = shipped();
        let mut conversation = messages(&["long day at work", "had pizza with sam"]);
        let first = conversation_judgement(&semantic, &rules, &conversation).await;
        let remembered = rules.recent_judgements().len();
        assert_eq!(remembered, 3, "two messages and their window");
        conversation.push("feeling better now".to_owned());
        let second = conversation_judgement(&semantic, &rules, &conversation).await;
        assert_eq!(
            rules.recent_judgements().len(),
            remembered + 2,
            "the new message and the new window; the old messages were remembered"
        );
        assert!(first <= 1 && second <= 1);
        // A remembered judgement is the judgement: the same again, from memory.
        let again = conversation_judgement(&semantic, &rules, &conversation).await;
        assert_eq!(again, second);
        assert_eq!(rules.recent_judgements().len(), remembered + 2);
    }

    async fn conversation_judgement(
        semantic: &Semantic,
        rules: &SharedRules,
        texts: &[String],
    ) -> u8 {
        let (assessment, _) = conversation(semantic, rules, texts, "chat", "en", 120 * 1024)
            .await
            .expect("judged");
        rank(assessment.severity)
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

//! Names the host and MindFlow's components must agree on, beyond the types of the WIT
//! package: which crypto purpose a sealed value or keyed hash is made under, which consents a
//! user can give, which source a crisis assessment names, and which bodies count as JSON.
//!
//! A purpose is associated data of every seal and the key of every keyed hash: a value sealed
//! under one purpose never opens under another. Spelling one in two places is how an export
//! fails to open what a component sealed, so each is named here once and both sides use the
//! constant. No dependencies, so the host and the wasm components alike link it.

#![cfg_attr(not(test), no_std)]

/// How a journal entry's primary emotion is stored: not the label (it says how the person
/// felt about what they wrote), but its keyed hash under
/// [`purpose::JOURNAL_EMOTION`], cut to [`emotion_tag::LEN`] hex digits (120 bits: the label
/// comes from a handful, so only equality matters). The entry shows the label computed
/// again from its opened text; a filter compares tags.
pub mod emotion_tag {
    /// Hex digits kept of the keyed hash (the column holds 30 characters).
    pub const LEN: usize = 30;

    /// The stored tag of a keyed hash (hex): its first [`LEN`] digits.
    pub fn of_hash(hash: &str) -> &str {
        hash.get(..LEN).unwrap_or(hash)
    }

    /// Whether a stored value is a tag rather than a label an earlier version stored.
    pub fn is_tag(value: &str) -> bool {
        value.len() == LEN && value.bytes().all(|b| b.is_ascii_hexdigit())
    }
}

/// Crypto purposes (`mindflow:platform/crypto`'s `purpose` argument).
pub mod purpose {
    /// The text of a journal entry (sealed by the `journal` component, opened by it and by
    /// the GDPR export).
    pub const JOURNAL: &str = "journal";
    /// Keyed hashes of a journal entry's words, for search without plaintext.
    pub const JOURNAL_TERMS: &str = "journal-term";
    /// A user's safety plan (sealed and opened by the host's crisis endpoints and the export).
    pub const SAFETY_PLAN: &str = "safety_plan";
    /// The keyed hash of the text that raised a crisis event (never the text).
    pub const CRISIS_EVENT: &str = "crisis_event";
    /// The note of a mood log (sealed and opened by the `mood` component and the export).
    pub const MOOD_NOTE: &str = "mood/note";
    /// The keyed hash of a journal entry's primary emotion, stored to filter by it without
    /// storing the emotion ([`super::emotion_tag`]).
    pub const JOURNAL_EMOTION: &str = "journal/emotion";
    /// The text of a chat message (sealed and opened by the `chat` component and the export).
    pub const CHAT_MESSAGE: &str = "chat/message";
    /// A chat session's running summary of its earlier messages.
    pub const CHAT_SUMMARY: &str = "chat/summary";
    /// A wearable connection's OAuth tokens (sealed and opened by the host alone: no
    /// component, adapters included, ever holds one).
    pub const WEARABLE_TOKEN: &str = "wearables/token";

    /// Who may seal, open and hash under a purpose.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Owner<'a> {
        /// Only the host's own code (no component, whatever it is called).
        Host,
        /// Only the component of this name.
        Component(&'a str),
    }

    /// Purposes named before the naming rule of [`owner`], with their owners.
    const NAMED: &[(&str, Owner<'static>)] = &[
        (JOURNAL, Owner::Component("journal")),
        (JOURNAL_TERMS, Owner::Component("journal")),
        (SAFETY_PLAN, Owner::Host),
        (CRISIS_EVENT, Owner::Host),
        (WEARABLE_TOKEN, Owner::Host),
    ];

    /// The owner of `purpose`: the host or the component named in [`NAMED`], otherwise the
    /// component whose name is the purpose up to its first `/` (`mood/note` is `mood`'s).
    /// Component names cannot contain `/`, so no component can name itself into another's
    /// purposes.
    pub fn owner(purpose: &str) -> Owner<'_> {
        NAMED.iter().find(|(name, _)| *name == purpose).map_or_else(
            || Owner::Component(purpose.split('/').next().unwrap_or_default()),
            |(_, owner)| *owner,
        )
    }

    /// Whether the component named `component` may use `purpose`: a component can neither
    /// open another's sealed values (or the host's, such as safety plans) nor test guesses
    /// against another's keyed hashes (such as crisis events).
    pub fn may_use(component: &str, purpose: &str) -> bool {
        !component.is_empty() && owner(purpose) == Owner::Component(component)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn a_purpose_belongs_to_one_component_or_to_the_host() {
            assert!(may_use("journal", JOURNAL));
            assert!(may_use("journal", JOURNAL_TERMS));
            assert!(may_use("mood", MOOD_NOTE));
            assert!(may_use("chat", "chat"));
            assert!(may_use("chat", "chat/message"));
            assert!(!may_use("mood", JOURNAL));
            assert!(!may_use("journal-term", JOURNAL_TERMS));
            assert!(!may_use("wearables", WEARABLE_TOKEN));
            assert!(!may_use("journal", MOOD_NOTE));
            for host_only in [SAFETY_PLAN, CRISIS_EVENT] {
                assert_eq!(owner(host_only), Owner::Host);
                assert!(!may_use("safety_plan", host_only));
                assert!(!may_use("crisis_event", host_only));
            }
            assert!(!may_use("", ""));
            assert!(!may_use("mood", ""));
        }
    }
}

/// Whether a `Content-Type` header value says the body is JSON: `application/json` or a
/// `+json` type (`application/merge-patch+json`), parameters and case aside. The host's
/// endpoints and the domain components read a body as JSON only then.
pub fn is_json_content_type(value: &str) -> bool {
    let essence = value.split(';').next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case("application/json")
        || (essence.len() > "application/+json".len()
            && essence
                .get(..12)
                .is_some_and(|p| p.eq_ignore_ascii_case("application/"))
            && essence
                .get(essence.len() - 5..)
                .is_some_and(|s| s.eq_ignore_ascii_case("+json")))
}

/// The consents a user can grant (`user_consents.consent_type`), each with what it covers,
/// in the order the API lists them.
pub const CONSENT_TYPES: &[(&str, &str)] = &[
    (
        consent::DATA_PROCESSING,
        "Processing of personal data to provide the service",
    ),
    (
        consent::AI_CHAT,
        "Sending chat messages to the AI model that answers them",
    ),
    (
        consent::CHAT_MOOD_CONTEXT,
        "Letting the AI companion see a summary of your recent mood logs",
    ),
    (
        consent::WEARABLES,
        "Importing data from connected wearable devices",
    ),
    (consent::RESEARCH, "Use of de-identified data for research"),
    (consent::MARKETING, "Product news and offers by email"),
    (consent::ANALYTICS, "Usage analytics to improve the product"),
];

/// Consent types, as `context.current-user`'s `consents` lists them.
pub mod consent {
    /// Processing of personal data to provide the service.
    pub const DATA_PROCESSING: &str = "data_processing";
    /// Sending chat messages to the AI model.
    pub const AI_CHAT: &str = "ai_chat";
    /// Giving the AI model a summary of the user's recent mood logs as context.
    pub const CHAT_MOOD_CONTEXT: &str = "chat_mood_context";
    /// Importing data from wearables.
    pub const WEARABLES: &str = "wearables";
    /// De-identified research use.
    pub const RESEARCH: &str = "research";
    /// Marketing email.
    pub const MARKETING: &str = "marketing";
    /// Usage analytics.
    pub const ANALYTICS: &str = "analytics";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purposes_are_distinct() {
        let all = [
            purpose::JOURNAL,
            purpose::JOURNAL_TERMS,
            purpose::SAFETY_PLAN,
            purpose::CRISIS_EVENT,
            purpose::MOOD_NOTE,
            purpose::JOURNAL_EMOTION,
            purpose::CHAT_MESSAGE,
            purpose::CHAT_SUMMARY,
        ];
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }

    #[test]
    fn json_content_types() {
        for yes in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON",
            "application/merge-patch+json",
        ] {
            assert!(is_json_content_type(yes), "{yes}");
        }
        for no in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "application/+json",
            "",
        ] {
            assert!(!is_json_content_type(no), "{no}");
        }
    }

    #[test]
    fn consent_types_are_distinct() {
        for (i, (a, _)) in CONSENT_TYPES.iter().enumerate() {
            for (b, _) in &CONSENT_TYPES[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }
}

//! The host types the handlers see that are the same for every component: the caller, the
//! outcome of a crisis assessment and sealed values (mirroring `mindflow:platform`'s
//! `context`, `crisis` and `crypto` interfaces as plain Rust).

/// The caller, as far as a component needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The user's id (only for labelling).
    pub id: String,
    /// Whether the premium tier is in force now.
    pub premium: bool,
    /// The user's IANA time zone.
    pub timezone: String,
    /// The user's BCP 47 locale (`en-US`).
    pub locale: String,
    /// The consent types granted and not revoked.
    pub consents: Vec<String>,
}

impl User {
    /// Whether the user has granted `consent` (a [`crate::consent`] name).
    pub fn consents_to(&self, consent: &str) -> bool {
        self.consents.iter().any(|c| c == consent)
    }
}

/// A crisis service to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrisisResource {
    /// The service's name.
    pub name: String,
    /// What it offers.
    pub description: String,
    /// A phone number.
    pub phone_number: Option<String>,
    /// A text-message number.
    pub sms_number: Option<String>,
    /// A website.
    pub website_url: Option<String>,
    /// Whether it is always open.
    pub available_24_7: bool,
}

/// The outcome of a crisis assessment.
#[derive(Debug, Clone, PartialEq)]
pub struct CrisisOutcome {
    /// `none`, `low`, `moderate`, `high` or `imminent`.
    pub severity: &'static str,
    /// The severity reached the threshold and the host recorded an event.
    pub triggered: bool,
    /// The writer seems to speak of someone else.
    pub about_someone_else: bool,
    /// Resources to show (empty when nothing is to be shown).
    pub resources: Vec<CrisisResource>,
}

/// A crisis assessment could not be made (no active rules, or the text was refused). The
/// caller must fail safe: treat the text as a possible crisis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CrisisUnavailable;

/// A sealed value: ciphertext (with tag) and nonce (`crypto.sealed`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    /// The ciphertext and its tag.
    pub ciphertext: Vec<u8>,
    /// The nonce.
    pub nonce: Vec<u8>,
}

/// Why a crypto call failed (`crypto.crypto-error`). How each becomes a problem document is
/// in [`crate::reply`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CryptoError {
    /// No authenticated user.
    NoUser,
    /// The user's key is destroyed.
    KeyDestroyed,
    /// Corrupt ciphertext, or sealed for another user or purpose.
    Tampered,
    /// The key store is unreachable.
    Unavailable,
}

/// Who said a message to the language model (`llm.role`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatRole {
    /// Instructions from the service.
    System,
    /// The person.
    User,
    /// The model.
    Assistant,
}

/// One message of a conversation for the model (`llm.message`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    /// Who said it.
    pub role: ChatRole,
    /// What was said.
    pub content: String,
}

impl ChatMessage {
    /// A message of `role`.
    pub fn new(role: ChatRole, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
        }
    }
}

/// A completion request (`llm.completion-request`).
#[derive(Debug, Clone, PartialEq)]
pub struct CompletionRequest {
    /// The conversation, system instructions first.
    pub messages: Vec<ChatMessage>,
    /// Upper bound on generated tokens.
    pub max_tokens: u32,
    /// Sampling temperature (0: deterministic).
    pub temperature: f32,
}

/// A finished, screened completion (`llm.completion`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Completion {
    /// What the person may see (the safe replacement when `content_filtered`).
    pub content: String,
    /// The model that answered.
    pub model: String,
    /// Prompt tokens.
    pub prompt_tokens: u32,
    /// Generated tokens.
    pub completion_tokens: u32,
    /// The provider call's wall time.
    pub response_time_ms: u32,
    /// The model's answer crossed a guardrail and was replaced.
    pub content_filtered: bool,
    /// The guardrails it crossed.
    pub filtered_reasons: Vec<String>,
}

/// Why a model call failed (`llm.llm-error`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LlmError {
    /// The caller's tier limit is reached; retry after this many seconds.
    QuotaExceeded(u32),
    /// The provider failed or timed out after the host's retries.
    Provider(String),
    /// The guardrails refused the request.
    Refused(String),
}

/// One step of a streamed completion (`llm.stream-event`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamEvent {
    /// Screened text to append.
    Delta(String),
    /// Discard what was shown and show this safe answer; the stream ends.
    Replaced(String),
}

/// A completion being streamed (`llm.completion-stream`).
pub trait CompletionStream {
    /// The next event; `None` when finished.
    ///
    /// # Errors
    /// [`LlmError`] when the provider fails mid-stream.
    fn next_event(&mut self) -> Result<Option<StreamEvent>, LlmError>;
    /// Usage and the screening outcome, once finished.
    fn summary(&self) -> Option<Completion>;
}

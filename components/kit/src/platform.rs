//! What a domain service needs from its host, as one plain-Rust trait.
//!
//! [`Platform`] mirrors the `mindflow:platform` interfaces the domain components import
//! (`context`, `storage`, `crypto`, `ml`, `crisis`) plus the clock and fresh ids. Handlers are
//! written against it, generic over `P: Platform`, so they run natively in tests against
//! `fake::FakePlatform` and, in the component, against the WIT bindings
//! (`crate::wasm::Host`).
//!
//! Dispatch stays static on purpose: wit-component imports only the WIT functions the core
//! module really calls, and a component's imports must stay within its grants (mood is not
//! granted `crypto`). A handler generic over `P` compiles only the capabilities it uses into
//! the component; a `&dyn Platform` would pull in every one of them.

use chrono::{DateTime, Utc};

use crate::host::{
    Completion, CompletionRequest, CompletionStream, CrisisOutcome, CrisisUnavailable, CryptoError,
    LlmError, Sealed, User,
};
use crate::storage::{
    AggregateRequest, AggregateRow, Filter, Page, PageRequest, Row, Scored, StorageError, Write,
};

/// The host's capabilities, as the handlers use them.
pub trait Platform {
    /// The authenticated caller (`context.current-user`).
    fn current_user(&self) -> Option<User>;

    /// `storage.insert`: the row as stored (with `id` and defaults).
    ///
    /// # Errors
    /// [`StorageError`].
    fn insert(&self, collection: &str, row: Row) -> Result<Row, StorageError>;
    /// `storage.get`.
    ///
    /// # Errors
    /// [`StorageError`]; another user's row is [`StorageError::NotFound`].
    fn get(&self, collection: &str, id: &str) -> Result<Row, StorageError>;
    /// `storage.update`: the row as stored after the change.
    ///
    /// # Errors
    /// [`StorageError`].
    fn update(&self, collection: &str, id: &str, changes: Row) -> Result<Row, StorageError>;
    /// `storage.delete`.
    ///
    /// # Errors
    /// [`StorageError`].
    fn delete(&self, collection: &str, id: &str) -> Result<(), StorageError>;
    /// `storage.query`.
    ///
    /// # Errors
    /// [`StorageError`]; a stale or forged cursor is [`StorageError::Invalid`].
    fn query(&self, collection: &str, request: PageRequest) -> Result<Page, StorageError>;
    /// `storage.select`: [`Platform::query`], each row holding only `fields` (and `id`, and
    /// the order field): reading a long history, ask only for what the analysis uses.
    ///
    /// # Errors
    /// As [`Platform::query`]; an unknown field is [`StorageError::Invalid`].
    fn select(
        &self,
        collection: &str,
        request: PageRequest,
        fields: &[&str],
    ) -> Result<Page, StorageError> {
        let order = request.order_by.clone();
        let mut page = self.query(collection, request)?;
        crate::storage::keep_fields(&mut page.rows, &order, fields);
        Ok(page)
    }
    /// `storage.children`: the rows of `collection` whose `field` is one of `parent_ids`
    /// (at most [`MAX_CHILDREN_PARENTS`](crate::storage::MAX_CHILDREN_PARENTS)), in one call.
    ///
    /// # Errors
    /// [`StorageError`].
    fn children(
        &self,
        collection: &str,
        field: &str,
        parent_ids: &[String],
    ) -> Result<Vec<Row>, StorageError>;
    /// `storage.select-with-children`: [`Platform::select`] (every field when `fields` is
    /// empty) and the [`Platform::children`] of the page's rows, the rows of `child` whose
    /// `child_field` points at one of them, in one call and one statement. Group them with
    /// [`group_by_parent`](crate::storage::group_by_parent).
    ///
    /// # Errors
    /// As [`Platform::query`] and [`Platform::children`].
    fn select_with_children(
        &self,
        collection: &str,
        request: PageRequest,
        fields: &[&str],
        child: &str,
        child_field: &str,
    ) -> Result<(Page, Vec<Row>), StorageError>;
    /// `storage.aggregate`.
    ///
    /// # Errors
    /// [`StorageError`].
    fn aggregate(
        &self,
        collection: &str,
        request: AggregateRequest,
    ) -> Result<Vec<AggregateRow>, StorageError>;
    /// `storage.nearest`: the `k` of the caller's rows nearest to `target` on a vector
    /// field, nearest first.
    ///
    /// # Errors
    /// [`StorageError`].
    fn nearest(
        &self,
        collection: &str,
        field: &str,
        target: Vec<f32>,
        k: u32,
        filters: Vec<Filter>,
    ) -> Result<Vec<Scored>, StorageError>;
    /// `storage.batch`: all writes in one transaction.
    ///
    /// # Errors
    /// [`StorageError`]; nothing was written.
    fn batch(&self, writes: Vec<Write>) -> Result<Vec<Option<Row>>, StorageError>;

    /// `crypto.seal`.
    ///
    /// # Errors
    /// [`CryptoError`].
    fn seal(&self, purpose: &str, plaintext: &[u8]) -> Result<Sealed, CryptoError>;
    /// `crypto.open`.
    ///
    /// # Errors
    /// [`CryptoError`].
    fn open(&self, purpose: &str, sealed: &Sealed) -> Result<Vec<u8>, CryptoError>;
    /// `crypto.keyed-hash`: hex.
    ///
    /// # Errors
    /// [`CryptoError`].
    fn keyed_hash(&self, purpose: &str, data: &[u8]) -> Result<String, CryptoError>;

    /// `ml.sentiment`, in [-1, 1].
    fn sentiment(&self, text: &str) -> f32;
    /// `ml.classify-emotion`: the emotion's name (`joy`, …, `neutral`).
    fn emotion(&self, text: &str) -> String;
    /// `ml.topics`.
    fn topics(&self, text: &str, max: u32) -> Vec<String>;
    /// `ml.embed`: the text's sentence embedding, computed on this machine.
    fn embed(&self, text: &str) -> Vec<f32>;

    /// A streamed completion in progress.
    type Stream: CompletionStream;
    /// `llm.complete`: the screened answer.
    ///
    /// # Errors
    /// [`LlmError`].
    fn complete(&self, request: &CompletionRequest) -> Result<Completion, LlmError>;
    /// `llm.complete-streaming`.
    ///
    /// # Errors
    /// [`LlmError`] when the call cannot start.
    fn complete_streaming(&self, request: &CompletionRequest) -> Result<Self::Stream, LlmError>;

    /// `crisis.assess`.
    ///
    /// # Errors
    /// [`CrisisUnavailable`] whatever the reason: the caller fails safe.
    fn assess(&self, text: &str, source: &str) -> Result<CrisisOutcome, CrisisUnavailable>;
    /// `crisis.assess-conversation`: the caller's recent messages, oldest first.
    ///
    /// # Errors
    /// [`CrisisUnavailable`]: the caller fails safe.
    fn assess_conversation(
        &self,
        messages: &[String],
        source: &str,
    ) -> Result<CrisisOutcome, CrisisUnavailable>;

    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
    /// A fresh random (v4) UUID, hyphenated and lowercase.
    fn new_id(&self) -> String;
}

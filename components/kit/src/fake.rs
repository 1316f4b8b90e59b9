//! An in-memory [`Platform`] for the services' native tests (cargo feature `fake`, for
//! dev-dependencies: it is never compiled into a component).
//!
//! Storage keeps each user's rows apart (another user's row is `not-found`, as on the host),
//! generates ids, stamps the columns a collection declares, checks and cascades parent links,
//! pages with an offset cursor and applies a batch all or nothing. Aggregates are not
//! computed: a test gives the rows each grouping answers ([`FakePlatform::aggregates`]).
//! Crypto seals reversibly under the user and purpose (opening with another fails as
//! tampered) and hashes deterministically. ML and crisis answers are canned. Every call a
//! test may want to assert on is recorded.
//!
//! What the host's storage really does (SQL, scoping, cursors, aggregates in the user's zone)
//! is covered by the black-box suite; this fake only needs to be faithful enough for the
//! handlers' logic.

use std::cell::{Cell, RefCell};
use std::cmp::Ordering;
use std::collections::HashMap;

use chrono::{DateTime, Utc};

use std::collections::VecDeque;

use crate::host::{
    Completion, CompletionRequest, CompletionStream, CrisisOutcome, CrisisResource,
    CrisisUnavailable, CryptoError, LlmError, Sealed, StreamEvent, User,
};
use crate::instant::{format_instant, parse_instant};
use crate::platform::Platform;
use crate::storage::{
    AggregateRequest, AggregateRow, Comparison, Filter, Grouping, MAX_CHILDREN_PARENTS, Page,
    PageRequest, Row, Scored, StorageError, Value, Write, column, text_of,
};
use crate::{Problem, Reply, Request, Wording, answer};

/// The fake's caller until a test says otherwise.
pub const USER_ID: &str = "00000000-0000-4000-8000-000000000001";

/// How a collection behaves in the fake, where it differs from a plain table of the
/// caller's rows (`Collection::default()`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Collection {
    stamped_on_insert: Vec<&'static str>,
    stamped_on_update: Vec<&'static str>,
    parent: Option<(&'static str, &'static str)>,
    shared: bool,
}

impl Collection {
    /// `column` is set to the current instant on insert (`created_at`).
    #[must_use]
    pub fn stamped_on_insert(mut self, column: &'static str) -> Self {
        self.stamped_on_insert.push(column);
        self
    }

    /// `column` is set to the current instant on insert and on every update (`updated_at`).
    #[must_use]
    pub fn stamped_on_update(mut self, column: &'static str) -> Self {
        self.stamped_on_update.push(column);
        self
    }

    /// A row points at its parent in `parent` through `field`: an insert needs the parent,
    /// deleting the parent deletes the row.
    #[must_use]
    pub fn child_of(mut self, parent: &'static str, field: &'static str) -> Self {
        self.parent = Some((field, parent));
        self
    }

    /// Shared by every user and read-only (`content_library`): the test seeds it
    /// ([`FakePlatform::seed`]).
    #[must_use]
    pub fn shared(mut self) -> Self {
        self.shared = true;
        self
    }
}

/// A stored row and whose it is (`None`: shared).
type Stored = (Option<String>, Row);

/// The in-memory stand-in for the host (see the module documentation).
#[derive(Debug)]
pub struct FakePlatform {
    /// The caller (`None`: an anonymous request).
    pub user: Option<User>,
    /// The clock.
    pub now: DateTime<Utc>,
    /// How collections behave, by name.
    pub collections: HashMap<&'static str, Collection>,
    tables: RefCell<HashMap<String, Vec<Stored>>>,
    next_id: Cell<u32>,
    next_nonce: Cell<u64>,
    /// What `crisis.assess` answers.
    pub crisis: RefCell<Result<CrisisOutcome, CrisisUnavailable>>,
    /// Every assessment asked for: text and source.
    pub assessed: RefCell<Vec<(String, String)>>,
    /// What each grouping of `storage.aggregate` answers.
    pub aggregates: RefCell<HashMap<Grouping, Vec<AggregateRow>>>,
    /// Every aggregation asked for.
    pub aggregate_requests: RefCell<Vec<AggregateRequest>>,
    /// Every batch, as sent (also the failed ones).
    pub batches: RefCell<Vec<Vec<Write>>>,
    /// Every write, as sent: single inserts, updates and deletes and those of every batch.
    pub writes: RefCell<Vec<Write>>,
    /// The number of `storage.query` and `storage.select-with-children` calls.
    pub queries: Cell<usize>,
    /// The number of storage calls of any kind.
    pub storage_calls: Cell<usize>,
    /// When set, every storage call fails with this error.
    pub fail_storage: RefCell<Option<StorageError>>,
    /// When set, every batch fails with this error (and writes nothing).
    pub fail_batch: RefCell<Option<StorageError>>,
    /// When set, every crypto call fails with this error.
    pub fail_crypto: RefCell<Option<CryptoError>>,
    /// The number of crypto calls (seal, open, keyed hash).
    pub crypto_calls: Cell<usize>,
    /// What the next `llm` calls answer, in order (a completion's `content` is streamed in
    /// words); when empty, an echo of the last message.
    pub llm_answers: RefCell<VecDeque<Result<Completion, LlmError>>>,
    /// Every completion request, as sent.
    pub llm_requests: RefCell<Vec<CompletionRequest>>,
    /// Every conversation assessed: the messages and the source.
    pub conversations: RefCell<Vec<(Vec<String>, String)>>,
}

/// A fake completion stream: the words of a canned answer, then its summary (or the
/// replacement when the canned answer is marked filtered).
#[derive(Debug)]
pub struct FakeStream {
    events: VecDeque<StreamEvent>,
    summary: Completion,
    done: bool,
}

impl CompletionStream for FakeStream {
    fn next_event(&mut self) -> Result<Option<StreamEvent>, LlmError> {
        let next = self.events.pop_front();
        self.done = next.is_none();
        Ok(next)
    }

    fn summary(&self) -> Option<Completion> {
        self.done.then(|| self.summary.clone())
    }
}

/// A calm assessment: nothing to show.
pub fn calm() -> CrisisOutcome {
    CrisisOutcome {
        severity: "none",
        triggered: false,
        about_someone_else: false,
        resources: Vec::new(),
    }
}

/// A crisis line to show.
pub fn lifeline() -> CrisisResource {
    CrisisResource {
        name: "988 Suicide & Crisis Lifeline".into(),
        description: "Call or text 988".into(),
        phone_number: Some("988".into()),
        sms_number: Some("988".into()),
        website_url: Some("https://988lifeline.org".into()),
        available_24_7: true,
    }
}

/// An assessment that reached `severity` and recorded an event.
pub fn triggered(severity: &'static str) -> CrisisOutcome {
    CrisisOutcome {
        severity,
        triggered: true,
        about_someone_else: false,
        resources: vec![lifeline()],
    }
}

/// The fake's clock until a test moves it: Wednesday 2026-11-25, 17:30 UTC.
fn default_now() -> DateTime<Utc> {
    parse_instant("2026-11-25T17:30:00Z").unwrap_or_default()
}

impl FakePlatform {
    /// A fake whose caller ([`USER_ID`]) lives in `timezone`, on the premium tier or not.
    pub fn new(timezone: &str, premium: bool) -> Self {
        Self {
            user: Some(User {
                id: USER_ID.into(),
                premium,
                timezone: timezone.into(),
                locale: "en-US".into(),
                consents: vec![
                    crate::consent::DATA_PROCESSING.into(),
                    crate::consent::AI_CHAT.into(),
                ],
            }),
            now: default_now(),
            collections: HashMap::new(),
            tables: RefCell::default(),
            next_id: Cell::new(1),
            next_nonce: Cell::new(1),
            crisis: RefCell::new(Ok(calm())),
            assessed: RefCell::default(),
            aggregates: RefCell::default(),
            aggregate_requests: RefCell::default(),
            batches: RefCell::default(),
            writes: RefCell::default(),
            queries: Cell::new(0),
            storage_calls: Cell::new(0),
            fail_storage: RefCell::default(),
            fail_batch: RefCell::default(),
            fail_crypto: RefCell::default(),
            crypto_calls: Cell::new(0),
            llm_answers: RefCell::default(),
            llm_requests: RefCell::default(),
            conversations: RefCell::default(),
        }
    }

    /// Queues the next model answer (unfiltered).
    pub fn answer_with(&self, content: &str) {
        self.llm_answers.borrow_mut().push_back(Ok(Completion {
            content: content.into(),
            model: "fake-model".into(),
            prompt_tokens: 10,
            completion_tokens: 5,
            response_time_ms: 3,
            content_filtered: false,
            filtered_reasons: Vec::new(),
        }));
    }

    /// The next canned answer (or an echo of the request's last message).
    fn next_answer(&self, request: &CompletionRequest) -> Result<Completion, LlmError> {
        self.llm_requests.borrow_mut().push(request.clone());
        self.llm_answers
            .borrow_mut()
            .pop_front()
            .unwrap_or_else(|| {
                Ok(Completion {
                    content: format!(
                        "You said: {}",
                        request.messages.last().map_or("", |m| m.content.as_str())
                    ),
                    model: "fake-model".into(),
                    ..Completion::default()
                })
            })
    }

    /// Declares how `name` behaves.
    #[must_use]
    pub fn with_collection(mut self, name: &'static str, collection: Collection) -> Self {
        self.collections.insert(name, collection);
        self
    }

    /// Calls `handler` (a service's `api::handle`) as the host would, with `body` as JSON
    /// (`null`: no body), and answers as the component would: a problem in the service's
    /// `wording`.
    pub fn send(
        &self,
        handler: impl FnOnce(&Self, &Request<'_>) -> Result<Reply, Problem>,
        wording: &Wording,
        method: &str,
        path: &str,
        query: &str,
        body: &serde_json::Value,
    ) -> Reply {
        let body = if body.is_null() {
            String::new()
        } else {
            body.to_string()
        };
        let request = Request {
            method,
            path,
            query,
            body: body.as_bytes(),
        };
        answer(handler(self, &request), wording)
    }

    /// Another user of the same fake (their rows are kept apart from the first one's).
    pub fn other_user(id: &str) -> User {
        User {
            id: id.into(),
            premium: false,
            timezone: "UTC".into(),
            locale: "en-US".into(),
            consents: vec![crate::consent::AI_CHAT.into()],
        }
    }

    /// Adds a row to a shared collection (as the operator would).
    pub fn seed(&self, collection: &str, mut row: Row) {
        if column(&row, "id").is_none() {
            row.insert(0, ("id".into(), Value::Uuid(self.new_id())));
        }
        self.tables
            .borrow_mut()
            .entry(collection.to_owned())
            .or_default()
            .push((None, row));
    }

    /// The caller's rows of `collection` (and the shared ones), as stored.
    pub fn rows(&self, collection: &str) -> Vec<Row> {
        let owner = self.owner();
        self.tables
            .borrow()
            .get(collection)
            .map(|rows| {
                rows.iter()
                    .filter(|(o, _)| o.is_none() || *o == owner)
                    .map(|(_, row)| row.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every row of every collection and user, as stored.
    pub fn all_rows(&self) -> Vec<Row> {
        self.tables
            .borrow()
            .values()
            .flatten()
            .map(|(_, row)| row.clone())
            .collect()
    }

    fn owner(&self) -> Option<String> {
        self.user.as_ref().map(|u| u.id.clone())
    }

    fn collection(&self, name: &str) -> Collection {
        self.collections.get(name).cloned().unwrap_or_default()
    }

    /// Counts a storage call; the injected failure, if any.
    /// A page of `collection` as the host would answer `request` (uncounted).
    fn page_of(&self, collection: &str, request: &PageRequest) -> Result<Page, StorageError> {
        let mut rows: Vec<Row> = self
            .rows(collection)
            .into_iter()
            .filter(|r| request.filters.iter().all(|f| matches(r, f)))
            .collect();
        let key = |r: &Row, name: &str| column(r, name).cloned().unwrap_or(Value::Null);
        rows.sort_by(|a, b| {
            compare(&key(a, &request.order_by), &key(b, &request.order_by))
                .then_with(|| compare(&key(a, "id"), &key(b, "id")))
        });
        if request.descending {
            rows.reverse();
        }
        let start = match &request.cursor {
            None => 0,
            Some(c) => c.parse::<usize>().map_err(|_| StorageError::Invalid {
                field: "cursor".into(),
                message: "not a cursor".into(),
            })?,
        };
        let limit = request.limit.min(crate::storage::MAX_PAGE) as usize;
        let end = (start + limit).min(rows.len());
        let next_cursor = (end < rows.len()).then(|| end.to_string());
        Ok(Page {
            rows: rows
                .get(start..end)
                .map(<[Row]>::to_vec)
                .unwrap_or_default(),
            next_cursor,
        })
    }

    /// The rows of `collection` whose `field` is one of `parent_ids` (uncounted).
    fn children_of(&self, collection: &str, field: &str, parent_ids: &[String]) -> Vec<Row> {
        assert!(
            parent_ids.len() <= MAX_CHILDREN_PARENTS,
            "the host takes at most {MAX_CHILDREN_PARENTS} parent ids"
        );
        let mut rows: Vec<Row> = self
            .rows(collection)
            .into_iter()
            .filter(|r| text_of(r, field).is_some_and(|parent| parent_ids.contains(&parent)))
            .collect();
        rows.sort_by_key(|r| (text_of(r, field), text_of(r, "id")));
        rows
    }

    fn storage_call(&self) -> Result<(), StorageError> {
        self.storage_calls.set(self.storage_calls.get() + 1);
        self.fail_storage.borrow().clone().map_or(Ok(()), Err)
    }

    fn stamp(&self, row: &mut Row, columns: &[&'static str]) {
        for name in columns {
            set(row, name, Value::Timestamp(format_instant(&self.now)));
        }
    }

    /// Applies one write to `tables` (a copy, for a batch); the row as stored.
    fn apply(
        &self,
        tables: &mut HashMap<String, Vec<Stored>>,
        write: Write,
    ) -> Result<Option<Row>, StorageError> {
        let owner = self.owner();
        let visible = |o: &Option<String>| o.is_none() || *o == owner;
        match write {
            Write::Insert(collection, mut row) => {
                let spec = self.collection(&collection);
                if spec.shared {
                    return Err(StorageError::NotGranted(collection));
                }
                match text_of(&row, "id") {
                    Some(id) if find(tables, &collection, &id).is_some() => {
                        return Err(StorageError::Conflict("id".into()));
                    }
                    Some(_) => {}
                    None => row.insert(0, ("id".into(), Value::Uuid(self.new_id()))),
                }
                if let Some((field, parent)) = spec.parent {
                    let link = text_of(&row, field).ok_or(StorageError::NotFound)?;
                    match find(tables, parent, &link) {
                        Some((o, _)) if visible(&o) => {}
                        _ => return Err(StorageError::NotFound),
                    }
                }
                self.stamp(&mut row, &spec.stamped_on_insert);
                self.stamp(&mut row, &spec.stamped_on_update);
                tables
                    .entry(collection)
                    .or_default()
                    .push((owner, row.clone()));
                Ok(Some(row))
            }
            Write::Update(collection, id, changes) => {
                let spec = self.collection(&collection);
                let rows = tables.get_mut(&collection).ok_or(StorageError::NotFound)?;
                let (_, row) = rows
                    .iter_mut()
                    .find(|(o, r)| *o == owner && text_of(r, "id").as_deref() == Some(&id))
                    .ok_or(StorageError::NotFound)?;
                for (name, value) in changes {
                    set(row, &name, value);
                }
                self.stamp(row, &spec.stamped_on_update);
                Ok(Some(row.clone()))
            }
            Write::Delete(collection, id) => {
                let rows = tables.get_mut(&collection).ok_or(StorageError::NotFound)?;
                let before = rows.len();
                rows.retain(|(o, r)| !(*o == owner && text_of(r, "id").as_deref() == Some(&id)));
                if rows.len() == before {
                    return Err(StorageError::NotFound);
                }
                for (child, spec) in &self.collections {
                    if let Some((field, parent)) = spec.parent
                        && parent == collection
                        && let Some(children) = tables.get_mut(*child)
                    {
                        children.retain(|(_, r)| text_of(r, field).as_deref() != Some(&id));
                    }
                }
                Ok(None)
            }
        }
    }

    /// One write outside a batch.
    fn write_one(&self, write: Write) -> Result<Option<Row>, StorageError> {
        self.storage_call()?;
        self.writes.borrow_mut().push(write.clone());
        let mut tables = self.tables.borrow().clone();
        let stored = self.apply(&mut tables, write)?;
        *self.tables.borrow_mut() = tables;
        Ok(stored)
    }

    fn crypto_key(&self) -> Result<String, CryptoError> {
        self.crypto_calls.set(self.crypto_calls.get() + 1);
        if let Some(error) = *self.fail_crypto.borrow() {
            return Err(error);
        }
        self.owner().ok_or(CryptoError::NoUser)
    }
}

/// The row with this id in `collection`, whoever's it is.
fn find(tables: &HashMap<String, Vec<Stored>>, collection: &str, id: &str) -> Option<Stored> {
    tables
        .get(collection)?
        .iter()
        .find(|(_, r)| text_of(r, "id").as_deref() == Some(id))
        .cloned()
}

fn set(row: &mut Row, name: &str, value: Value) {
    match row.iter_mut().find(|(n, _)| n == name) {
        Some((_, v)) => *v = value,
        None => row.push((name.to_owned(), value)),
    }
}

/// Orders two values of one column: null first, then by value within a kind.
fn compare(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Null, _) => Ordering::Less,
        (_, Value::Null) => Ordering::Greater,
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Int(x), Value::Int(y)) => x.cmp(y),
        (Value::Float(x), Value::Float(y)) => x.total_cmp(y),
        (
            Value::Text(x) | Value::Uuid(x) | Value::Timestamp(x) | Value::Date(x),
            Value::Text(y) | Value::Uuid(y) | Value::Timestamp(y) | Value::Date(y),
        ) => x.cmp(y),
        _ => Ordering::Equal,
    }
}

fn matches(row: &Row, filter: &Filter) -> bool {
    // As in SQL, a column the row never set is NULL; a null value asks `IS [NOT] NULL`.
    let have = column(row, &filter.field).unwrap_or(&Value::Null);
    let null = matches!(have, Value::Null);
    if matches!(filter.value, Value::Null) {
        return match filter.comparison {
            Comparison::Eq => null,
            Comparison::Ne => !null,
            _ => false,
        };
    }
    if null {
        return false;
    }
    let order = compare(have, &filter.value);
    match filter.comparison {
        Comparison::Eq => order.is_eq(),
        Comparison::Ne => order.is_ne(),
        Comparison::Lt => order.is_lt(),
        Comparison::Le => order.is_le(),
        Comparison::Gt => order.is_gt(),
        Comparison::Ge => order.is_ge(),
    }
}

/// 64-bit FNV-1a over the parts, each followed by a separator.
fn fnv(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &b in part.iter().chain(&[0xff]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

/// The fake cipher's key stream: XOR with bytes derived from the key, purpose and nonce.
fn keystream(key: &str, purpose: &str, nonce: &[u8], data: &[u8]) -> Vec<u8> {
    let seed = fnv(&[key.as_bytes(), purpose.as_bytes(), nonce]);
    data.iter()
        .zip((0u64..).map(|i| seed.wrapping_add(i).wrapping_mul(0x9e37_79b9_7f4a_7c15)))
        .map(|(b, k)| b ^ k.to_le_bytes()[7])
        .collect()
}

impl Platform for FakePlatform {
    fn current_user(&self) -> Option<User> {
        self.user.clone()
    }

    fn insert(&self, collection: &str, row: Row) -> Result<Row, StorageError> {
        self.write_one(Write::Insert(collection.to_owned(), row))?
            .ok_or(StorageError::NotFound)
    }

    fn get(&self, collection: &str, id: &str) -> Result<Row, StorageError> {
        self.storage_call()?;
        self.rows(collection)
            .into_iter()
            .find(|r| text_of(r, "id").as_deref() == Some(id))
            .ok_or(StorageError::NotFound)
    }

    fn update(&self, collection: &str, id: &str, changes: Row) -> Result<Row, StorageError> {
        self.write_one(Write::Update(collection.to_owned(), id.to_owned(), changes))?
            .ok_or(StorageError::NotFound)
    }

    fn delete(&self, collection: &str, id: &str) -> Result<(), StorageError> {
        self.write_one(Write::Delete(collection.to_owned(), id.to_owned()))
            .map(|_| ())
    }

    fn query(&self, collection: &str, request: PageRequest) -> Result<Page, StorageError> {
        self.queries.set(self.queries.get() + 1);
        self.storage_call()?;
        self.page_of(collection, &request)
    }

    fn children(
        &self,
        collection: &str,
        field: &str,
        parent_ids: &[String],
    ) -> Result<Vec<Row>, StorageError> {
        self.storage_call()?;
        Ok(self.children_of(collection, field, parent_ids))
    }

    fn select_with_children(
        &self,
        collection: &str,
        request: PageRequest,
        fields: &[&str],
        child: &str,
        child_field: &str,
    ) -> Result<(Page, Vec<Row>), StorageError> {
        self.queries.set(self.queries.get() + 1);
        self.storage_call()?;
        let mut page = self.page_of(collection, &request)?;
        crate::storage::keep_fields(&mut page.rows, &request.order_by, fields);
        let ids: Vec<String> = page.rows.iter().filter_map(|r| text_of(r, "id")).collect();
        Ok((page, self.children_of(child, child_field, &ids)))
    }

    fn aggregate(
        &self,
        _collection: &str,
        request: AggregateRequest,
    ) -> Result<Vec<AggregateRow>, StorageError> {
        self.storage_call()?;
        let grouping = request.grouping;
        self.aggregate_requests.borrow_mut().push(request);
        Ok(self
            .aggregates
            .borrow()
            .get(&grouping)
            .cloned()
            .unwrap_or_default())
    }

    fn nearest(
        &self,
        collection: &str,
        field: &str,
        target: Vec<f32>,
        k: u32,
        filters: Vec<Filter>,
    ) -> Result<Vec<Scored>, StorageError> {
        self.storage_call()?;
        let distance = |v: &[f32]| {
            let dot: f32 = v.iter().zip(&target).map(|(a, b)| a * b).sum();
            let norms = v.iter().map(|x| x * x).sum::<f32>().sqrt()
                * target.iter().map(|x| x * x).sum::<f32>().sqrt();
            if norms == 0.0 { 1.0 } else { 1.0 - dot / norms }
        };
        let mut scored: Vec<Scored> = self
            .rows(collection)
            .into_iter()
            .filter(|r| filters.iter().all(|f| matches(r, f)))
            .filter_map(|row| match column(&row, field) {
                Some(Value::Vector(v)) => Some(Scored {
                    distance: distance(v),
                    row: row.clone(),
                }),
                _ => None,
            })
            .collect();
        scored.sort_by(|a, b| a.distance.total_cmp(&b.distance));
        scored.truncate(k.min(100) as usize);
        Ok(scored)
    }

    fn batch(&self, writes: Vec<Write>) -> Result<Vec<Option<Row>>, StorageError> {
        self.storage_call()?;
        self.batches.borrow_mut().push(writes.clone());
        self.writes.borrow_mut().extend(writes.iter().cloned());
        if let Some(error) = self.fail_batch.borrow().clone() {
            return Err(error);
        }
        let mut tables = self.tables.borrow().clone();
        let stored = writes
            .into_iter()
            .map(|write| self.apply(&mut tables, write))
            .collect::<Result<Vec<_>, _>>()?;
        *self.tables.borrow_mut() = tables;
        Ok(stored)
    }

    fn seal(&self, purpose: &str, plaintext: &[u8]) -> Result<Sealed, CryptoError> {
        let key = self.crypto_key()?;
        let n = self.next_nonce.get();
        self.next_nonce.set(n + 1);
        let nonce = n.to_le_bytes().to_vec();
        let mut ciphertext = keystream(&key, purpose, &nonce, plaintext);
        let tag = fnv(&[key.as_bytes(), purpose.as_bytes(), &nonce, plaintext]);
        ciphertext.extend(tag.to_le_bytes());
        Ok(Sealed { ciphertext, nonce })
    }

    fn open(&self, purpose: &str, sealed: &Sealed) -> Result<Vec<u8>, CryptoError> {
        let key = self.crypto_key()?;
        let split = sealed
            .ciphertext
            .len()
            .checked_sub(8)
            .ok_or(CryptoError::Tampered)?;
        let (body, tag) = sealed.ciphertext.split_at(split);
        let plaintext = keystream(&key, purpose, &sealed.nonce, body);
        let expected = fnv(&[
            key.as_bytes(),
            purpose.as_bytes(),
            &sealed.nonce,
            &plaintext,
        ]);
        if tag == expected.to_le_bytes() {
            Ok(plaintext)
        } else {
            Err(CryptoError::Tampered)
        }
    }

    fn keyed_hash(&self, purpose: &str, data: &[u8]) -> Result<String, CryptoError> {
        let key = self.crypto_key()?;
        Ok(format!(
            "{:016x}",
            fnv(&[key.as_bytes(), purpose.as_bytes(), data])
        ))
    }

    /// `0.6249` for a text that says `great`, `-0.3` for any other.
    fn sentiment(&self, text: &str) -> f32 {
        if text.contains("great") {
            0.624_9
        } else {
            -0.3
        }
    }

    /// `joy` for a text that says `great` or `happy`, `neutral` for any other.
    fn emotion(&self, text: &str) -> String {
        if text.contains("great") || text.contains("happy") {
            "joy".into()
        } else {
            "neutral".into()
        }
    }

    /// The first `max` of `sleep`, `work`, `family`, `exercise` the text names.
    fn topics(&self, text: &str, max: u32) -> Vec<String> {
        let text = text.to_lowercase();
        ["sleep", "work", "family", "exercise"]
            .into_iter()
            .filter(|topic| text.contains(topic))
            .take(max as usize)
            .map(str::to_owned)
            .collect()
    }

    fn assess(&self, text: &str, source: &str) -> Result<CrisisOutcome, CrisisUnavailable> {
        self.assessed
            .borrow_mut()
            .push((text.to_owned(), source.to_owned()));
        self.crisis.borrow().clone()
    }

    fn assess_conversation(
        &self,
        messages: &[String],
        source: &str,
    ) -> Result<CrisisOutcome, CrisisUnavailable> {
        self.conversations
            .borrow_mut()
            .push((messages.to_vec(), source.to_owned()));
        self.crisis.borrow().clone()
    }

    /// A bag of the text's lowercase words hashed into 8 dimensions, L2-normalised: equal
    /// texts are nearest, texts sharing words are near.
    fn embed(&self, text: &str) -> Vec<f32> {
        let mut vector = vec![0f32; 8];
        for word in text.to_lowercase().split(|c: char| !c.is_alphanumeric()) {
            if !word.is_empty() {
                let slot = fnv(&[word.as_bytes()]) % 8;
                vector[usize::try_from(slot).unwrap_or(0)] += 1.0;
            }
        }
        let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            vector.iter_mut().for_each(|x| *x /= norm);
        }
        vector
    }

    type Stream = FakeStream;

    fn complete(&self, request: &CompletionRequest) -> Result<Completion, LlmError> {
        self.next_answer(request)
    }

    fn complete_streaming(&self, request: &CompletionRequest) -> Result<FakeStream, LlmError> {
        let summary = self.next_answer(request)?;
        let events = if summary.content_filtered {
            VecDeque::from([StreamEvent::Replaced(summary.content.clone())])
        } else {
            summary
                .content
                .split_inclusive(' ')
                .map(|word| StreamEvent::Delta(word.to_owned()))
                .collect()
        };
        Ok(FakeStream {
            events,
            summary,
            done: false,
        })
    }

    fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// `00000000-0000-4000-8000-000000000001`, `…02`, … (ids the fake makes on insert come
    /// from the same sequence).
    fn new_id(&self) -> String {
        let n = self.next_id.get();
        self.next_id.set(n + 1);
        format!("00000000-0000-4000-8000-{n:012x}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARENTS: &str = "parents";
    const KIDS: &str = "kids";

    fn fake() -> FakePlatform {
        FakePlatform::new("UTC", false)
            .with_collection(
                PARENTS,
                Collection::default().stamped_on_insert("created_at"),
            )
            .with_collection(KIDS, Collection::default().child_of(PARENTS, "parent_id"))
    }

    fn named(name: &str) -> Row {
        vec![("name".into(), Value::Text(name.into()))]
    }

    #[test]
    fn rows_are_the_callers_own() {
        let mut fake = fake();
        let row = fake.insert(PARENTS, named("a")).expect("insert");
        let id = text_of(&row, "id").expect("id");
        assert_eq!(
            column(&row, "created_at"),
            Some(&Value::Timestamp("2026-11-25T17:30:00.000000Z".into()))
        );
        fake.user = Some(FakePlatform::other_user(
            "00000000-0000-4000-8000-0000000000b0",
        ));
        assert_eq!(fake.get(PARENTS, &id), Err(StorageError::NotFound));
        assert_eq!(
            fake.update(PARENTS, &id, named("b")),
            Err(StorageError::NotFound)
        );
        assert_eq!(fake.delete(PARENTS, &id), Err(StorageError::NotFound));
        assert!(fake.rows(PARENTS).is_empty());
        fake.user = Some(FakePlatform::other_user(USER_ID));
        assert_eq!(fake.get(PARENTS, &id), Ok(row));
    }

    #[test]
    fn batches_are_all_or_nothing_and_children_follow_their_parent() {
        let fake = fake();
        let parent = fake.new_id();
        let kid = |parent: &str| {
            Write::Insert(
                KIDS.into(),
                vec![("parent_id".into(), Value::Uuid(parent.into()))],
            )
        };
        let orphan = fake.batch(vec![
            Write::Insert(
                PARENTS.into(),
                vec![("id".into(), Value::Uuid(parent.clone()))],
            ),
            kid("00000000-0000-4000-8000-0000000000ff"),
        ]);
        assert_eq!(orphan, Err(StorageError::NotFound));
        assert!(fake.all_rows().is_empty(), "a failed batch writes nothing");
        let stored = fake
            .batch(vec![
                Write::Insert(
                    PARENTS.into(),
                    vec![("id".into(), Value::Uuid(parent.clone()))],
                ),
                kid(&parent),
            ])
            .expect("batch");
        assert_eq!(stored.len(), 2);
        assert_eq!(
            fake.children(KIDS, "parent_id", std::slice::from_ref(&parent))
                .map(|r| r.len()),
            Ok(1)
        );
        fake.delete(PARENTS, &parent).expect("delete");
        assert!(fake.all_rows().is_empty(), "children go with their parent");
        assert_eq!(fake.batches.borrow().len(), 2);
        assert_eq!(fake.writes.borrow().len(), 5);
    }

    #[test]
    fn pages_follow_the_order_and_filters() {
        let fake = fake();
        for (name, rank) in [("b", 2), ("a", 1), ("c", 3)] {
            let mut row = named(name);
            row.push(("rank".into(), Value::Int(rank)));
            row.push(("open".into(), Value::Bool(rank != 2)));
            fake.insert(PARENTS, row).expect("insert");
        }
        let page = |cursor: Option<String>, filters: Vec<Filter>| {
            fake.query(
                PARENTS,
                PageRequest {
                    filters,
                    order_by: "rank".into(),
                    descending: true,
                    limit: 2,
                    cursor,
                },
            )
            .expect("page")
        };
        let first = page(None, Vec::new());
        let names = |p: &Page| {
            p.rows
                .iter()
                .filter_map(|r| text_of(r, "name"))
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&first), ["c", "b"]);
        let second = page(first.next_cursor.clone(), Vec::new());
        assert_eq!(
            (names(&second), second.next_cursor),
            (vec!["a".to_owned()], None)
        );
        let open = page(
            None,
            vec![Filter::new("open", Comparison::Eq, Value::Bool(true))],
        );
        assert_eq!(names(&open), ["c", "a"]);
        let forged = fake.query(
            PARENTS,
            PageRequest {
                filters: Vec::new(),
                order_by: "rank".into(),
                descending: false,
                limit: 2,
                cursor: Some("forged".into()),
            },
        );
        assert!(matches!(forged, Err(StorageError::Invalid { field, .. }) if field == "cursor"));
    }

    #[test]
    fn sealing_round_trips_only_for_the_same_user_and_purpose() {
        let mut fake = fake();
        let sealed = fake.seal("notes", b"dear diary").expect("seal");
        assert!(!sealed.ciphertext.windows(5).any(|w| w == b"diary"));
        assert_eq!(
            fake.open("notes", &sealed).as_deref(),
            Ok(&b"dear diary"[..])
        );
        assert_eq!(fake.open("other", &sealed), Err(CryptoError::Tampered));
        assert_eq!(
            fake.keyed_hash("terms", b"diary"),
            fake.keyed_hash("terms", b"diary")
        );
        fake.user = Some(FakePlatform::other_user(
            "00000000-0000-4000-8000-0000000000b0",
        ));
        assert_eq!(fake.open("notes", &sealed), Err(CryptoError::Tampered));
        fake.user = None;
        assert_eq!(fake.seal("notes", b"x"), Err(CryptoError::NoUser));
    }
}

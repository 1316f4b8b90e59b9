//! The wasm32 glue (the component build only): [`Platform`] implemented with the
//! `mindflow:platform` imports, bound by `wit-bindgen` from the `domain-imports` world, and
//! the Spin HTTP request turned into a [`Request`] and a [`Reply`] into a response
//! ([`serve`]). A component exports its handler with [`crate::export_http!`].
//!
//! Only the WIT functions a component's handlers really call become imports of the
//! component: the handlers are generic over `P: Platform`, so [`Host`]'s other methods are
//! never compiled into it (mood, which is not granted `crypto`, imports no crypto function).

use chrono::{DateTime, Utc};
use spin_sdk::http::{Method, Response};

use crate::host::{
    ChatRole, Completion, CompletionRequest, CompletionStream, CrisisOutcome, CrisisResource,
    CrisisUnavailable, CryptoError, LlmError, Sealed, StreamEvent, User,
};
use crate::platform::Platform;
use crate::storage::{
    AggregateFn, AggregateRequest, AggregateRow, Comparison, Filter, Grouping, Page, PageRequest,
    Row, Scored, StorageError, Value, Write,
};
use crate::{Problem, Reply, Request, Wording, answer};

mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "mindflow:platform/domain-imports",
        generate_all,
    });
}

use bindings::mindflow::platform::{context, crisis, crypto, llm, ml, storage, types};

/// Answers a Spin HTTP request with `handler`: the method, the path below `base_path` (Spin's
/// `spin-path-info`, else the request's path without `base_path`), the query and the body
/// become a [`Request`]; the [`Reply`], or the problem in the service's `wording`, becomes
/// the response.
pub fn serve(
    request: &spin_sdk::http::Request,
    base_path: &str,
    wording: &Wording,
    handler: impl FnOnce(&Host, &Request<'_>) -> Result<Reply, Problem>,
) -> Response {
    let path = path_info(request, base_path);
    let reply = answer(
        checked_body(request).and_then(|()| {
            handler(
                &Host,
                &Request {
                    method: method_name(request),
                    path: &path,
                    query: request.query(),
                    body: request.body(),
                },
            )
        }),
        wording,
    );
    response(reply)
}

/// The path below `base_path`: Spin's `spin-path-info`, else the request's path without
/// `base_path`.
pub fn path_info(request: &spin_sdk::http::Request, base_path: &str) -> String {
    request
        .header("spin-path-info")
        .and_then(|h| h.as_str())
        .map(str::to_owned)
        .unwrap_or_else(|| {
            let full = request.path();
            full.strip_prefix(base_path).unwrap_or(full).to_owned()
        })
}

/// The request's method as its name.
pub fn method_name(request: &spin_sdk::http::Request) -> &str {
    match request.method() {
        Method::Get => "GET",
        Method::Post => "POST",
        Method::Put => "PUT",
        Method::Delete => "DELETE",
        Method::Patch => "PATCH",
        Method::Head => "HEAD",
        Method::Options => "OPTIONS",
        Method::Connect => "CONNECT",
        Method::Trace => "TRACE",
        Method::Other(other) => other.as_str(),
    }
}

/// A body, if any, must say it is JSON ([`crate::validate::json_content_type`]).
///
/// # Errors
/// 415 otherwise.
pub fn checked_body(request: &spin_sdk::http::Request) -> Result<(), Problem> {
    let content_type = request.header("content-type").and_then(|h| h.as_str());
    crate::validate::json_content_type(content_type, request.body())
}

/// A reply as Spin's response.
pub fn response(reply: Reply) -> Response {
    let mut response = Response::builder();
    response.status(reply.status);
    for (name, value) in reply.headers {
        response.header(name, value);
    }
    response.body(reply.body).build()
}

/// Exports a domain service from its component crate (on `wasm32` only):
///
/// ```ignore
/// #[cfg(target_arch = "wasm32")]
/// mindflow_component_kit::export_http!(api::handle, api::BASE_PATH, api::WORDING);
/// ```
///
/// `handler` is a function generic over the platform,
/// `fn(&impl Platform, &Request<'_>) -> Result<Reply, Problem>`; the service is mounted at
/// `base_path` and words its problems with `wording` ([`Wording`]). The macro emits the Spin
/// `#[http_component]` export that calls it with [`Host`] and answers with [`serve`], and the
/// component's `openapi.json` (next to its `Cargo.toml`) as the `mindflow:openapi` custom
/// section the host reads. The component crate needs `spin-sdk` among its `wasm32`
/// dependencies (Spin's macro names it).
#[macro_export]
macro_rules! export_http {
    ($handler:path, $base_path:expr, $wording:expr $(,)?) => {
        /// The component's OpenAPI 3.1 fragment (paths relative to where it is mounted), read
        /// by the host from this custom section.
        // SAFETY: `mindflow:openapi` is a custom section of the wasm file: its bytes are never
        // loaded into linear memory or run, only read by the host from the file.
        #[allow(unsafe_code)]
        #[unsafe(link_section = "mindflow:openapi")]
        #[used]
        static MINDFLOW_OPENAPI: [u8; include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/openapi.json"
        ))
        .len()] = *include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json"));

        fn mindflow_serve(request: &::spin_sdk::http::Request) -> ::spin_sdk::http::Response {
            $crate::wasm::serve(request, $base_path, &$wording, |host, request| {
                $handler(host, request)
            })
        }

        /// The wasi:http export. Spin's `#[http_component]` expands to an `export_name`
        /// function and `unsafe` conversions of resource handles, all of Spin's own making.
        #[allow(unsafe_code)]
        mod component {
            #[::spin_sdk::http_component]
            fn handle(request: ::spin_sdk::http::Request) -> ::spin_sdk::http::Response {
                super::mindflow_serve(&request)
            }
        }
    };
}

/// The host, through the WIT imports.
#[derive(Debug, Clone, Copy)]
pub struct Host;

fn to_wit(value: Value) -> storage::Value {
    match value {
        Value::Null | Value::Other => storage::Value::Null,
        Value::Bool(b) => storage::Value::Boolean(b),
        Value::Int(i) => storage::Value::Integer(i),
        Value::Float(f) => storage::Value::Float(f),
        Value::Text(s) => storage::Value::Text(s),
        Value::Timestamp(s) => storage::Value::Timestamp(s),
        Value::Date(s) => storage::Value::Date(s),
        Value::Uuid(s) => storage::Value::Uuid(s),
        Value::Json(s) => storage::Value::Json(s),
        Value::Bytes(b) => storage::Value::Bytes(b),
        Value::Vector(v) => storage::Value::Vector(v),
    }
}

fn from_wit(value: storage::Value) -> Value {
    match value {
        storage::Value::Null => Value::Null,
        storage::Value::Boolean(b) => Value::Bool(b),
        storage::Value::Integer(i) => Value::Int(i),
        storage::Value::Float(f) => Value::Float(f),
        storage::Value::Text(s) => Value::Text(s),
        storage::Value::Timestamp(s) => Value::Timestamp(s),
        storage::Value::Date(s) => Value::Date(s),
        storage::Value::Uuid(s) => Value::Uuid(s),
        storage::Value::Json(s) => Value::Json(s),
        storage::Value::Bytes(b) => Value::Bytes(b),
        storage::Value::Vector(v) => Value::Vector(v),
    }
}

fn row_to_wit(row: Row) -> Vec<storage::Column> {
    row.into_iter()
        .map(|(name, value)| storage::Column {
            name,
            value: to_wit(value),
        })
        .collect()
}

fn row_from_wit(row: Vec<storage::Column>) -> Row {
    row.into_iter()
        .map(|c| (c.name, from_wit(c.value)))
        .collect()
}

fn filter_to_wit(filter: Filter) -> storage::Filter {
    storage::Filter {
        field: filter.field,
        comparison: match filter.comparison {
            Comparison::Eq => storage::Comparison::Eq,
            Comparison::Ne => storage::Comparison::Ne,
            Comparison::Lt => storage::Comparison::Lt,
            Comparison::Le => storage::Comparison::Le,
            Comparison::Gt => storage::Comparison::Gt,
            Comparison::Ge => storage::Comparison::Ge,
        },
        value: to_wit(filter.value),
    }
}

fn page_request_to_wit(request: PageRequest) -> storage::PageRequest {
    storage::PageRequest {
        filters: request.filters.into_iter().map(filter_to_wit).collect(),
        order_by: request.order_by,
        descending: request.descending,
        limit: request.limit,
        cursor: request.cursor,
    }
}

fn storage_error(error: storage::StorageError) -> StorageError {
    match error {
        storage::StorageError::NotGranted(c) => StorageError::NotGranted(c),
        storage::StorageError::NotFound => StorageError::NotFound,
        storage::StorageError::Invalid(e) => StorageError::Invalid {
            field: e.field,
            message: e.message,
        },
        storage::StorageError::Conflict(c) => StorageError::Conflict(c),
        storage::StorageError::Unavailable => StorageError::Unavailable,
    }
}

fn crypto_error(error: crypto::CryptoError) -> CryptoError {
    match error {
        crypto::CryptoError::NoUser => CryptoError::NoUser,
        crypto::CryptoError::KeyDestroyed => CryptoError::KeyDestroyed,
        crypto::CryptoError::Tampered => CryptoError::Tampered,
        crypto::CryptoError::Unavailable => CryptoError::Unavailable,
    }
}

fn severity(s: types::Severity) -> &'static str {
    match s {
        types::Severity::None => "none",
        types::Severity::Low => "low",
        types::Severity::Moderate => "moderate",
        types::Severity::High => "high",
        types::Severity::Imminent => "imminent",
    }
}

fn crisis_outcome(outcome: crisis::Outcome) -> CrisisOutcome {
    CrisisOutcome {
        severity: severity(outcome.severity),
        triggered: outcome.triggered,
        about_someone_else: outcome.about_someone_else,
        resources: outcome
            .resources
            .into_iter()
            .map(|r| CrisisResource {
                name: r.name,
                description: r.description,
                phone_number: r.phone_number,
                sms_number: r.sms_number,
                website_url: r.website_url,
                available_24_7: r.available_24_7,
            })
            .collect(),
    }
}

fn llm_request(request: &CompletionRequest) -> llm::CompletionRequest {
    llm::CompletionRequest {
        messages: request
            .messages
            .iter()
            .map(|m| llm::Message {
                role: match m.role {
                    ChatRole::System => llm::Role::System,
                    ChatRole::User => llm::Role::User,
                    ChatRole::Assistant => llm::Role::Assistant,
                },
                content: m.content.clone(),
            })
            .collect(),
        max_tokens: request.max_tokens,
        temperature: request.temperature,
    }
}

fn completion(c: llm::Completion) -> Completion {
    Completion {
        content: c.content,
        model: c.model,
        prompt_tokens: c.prompt_tokens,
        completion_tokens: c.completion_tokens,
        response_time_ms: c.response_time_ms,
        content_filtered: c.content_filtered,
        filtered_reasons: c.filtered_reasons,
    }
}

fn llm_error(error: llm::LlmError) -> LlmError {
    match error {
        llm::LlmError::QuotaExceeded(seconds) => LlmError::QuotaExceeded(seconds),
        llm::LlmError::Provider(message) => LlmError::Provider(message),
        llm::LlmError::Refused(message) => LlmError::Refused(message),
    }
}

/// A completion streamed by the host (`llm.completion-stream`).
pub struct HostStream(llm::CompletionStream);

impl CompletionStream for HostStream {
    fn next_event(&mut self) -> Result<Option<StreamEvent>, LlmError> {
        Ok(self.0.next().map_err(llm_error)?.map(|event| match event {
            llm::StreamEvent::Delta(text) => StreamEvent::Delta(text),
            llm::StreamEvent::Replaced(text) => StreamEvent::Replaced(text),
        }))
    }

    fn summary(&self) -> Option<Completion> {
        self.0.summary().map(completion)
    }
}

impl Platform for Host {
    fn current_user(&self) -> Option<User> {
        context::current_user().map(|u| User {
            id: u.id,
            premium: matches!(u.tier, types::Tier::Premium),
            timezone: u.timezone,
            locale: u.locale,
            consents: u.consents,
        })
    }

    fn insert(&self, collection: &str, row: Row) -> Result<Row, StorageError> {
        storage::insert(collection, &row_to_wit(row))
            .map(row_from_wit)
            .map_err(storage_error)
    }

    fn get(&self, collection: &str, id: &str) -> Result<Row, StorageError> {
        storage::get(collection, id)
            .map(row_from_wit)
            .map_err(storage_error)
    }

    fn update(&self, collection: &str, id: &str, changes: Row) -> Result<Row, StorageError> {
        storage::update(collection, id, &row_to_wit(changes))
            .map(row_from_wit)
            .map_err(storage_error)
    }

    fn delete(&self, collection: &str, id: &str) -> Result<(), StorageError> {
        storage::delete(collection, id).map_err(storage_error)
    }

    fn query(&self, collection: &str, request: PageRequest) -> Result<Page, StorageError> {
        storage::query(collection, &page_request_to_wit(request))
            .map(|page| Page {
                rows: page.rows.into_iter().map(row_from_wit).collect(),
                next_cursor: page.next_cursor,
            })
            .map_err(storage_error)
    }

    fn select(
        &self,
        collection: &str,
        request: PageRequest,
        fields: &[&str],
    ) -> Result<Page, StorageError> {
        let fields: Vec<String> = fields.iter().map(|f| (*f).to_owned()).collect();
        storage::select(collection, &page_request_to_wit(request), &fields)
            .map(|page| Page {
                rows: page.rows.into_iter().map(row_from_wit).collect(),
                next_cursor: page.next_cursor,
            })
            .map_err(storage_error)
    }

    fn children(
        &self,
        collection: &str,
        field: &str,
        parent_ids: &[String],
    ) -> Result<Vec<Row>, StorageError> {
        storage::children(collection, field, parent_ids)
            .map(|rows| rows.into_iter().map(row_from_wit).collect())
            .map_err(storage_error)
    }

    fn select_with_children(
        &self,
        collection: &str,
        request: PageRequest,
        fields: &[&str],
        child: &str,
        child_field: &str,
    ) -> Result<(Page, Vec<Row>), StorageError> {
        let fields: Vec<String> = fields.iter().map(|f| (*f).to_owned()).collect();
        storage::select_with_children(
            collection,
            &page_request_to_wit(request),
            &fields,
            child,
            child_field,
        )
        .map(|(page, children)| {
            (
                Page {
                    rows: page.rows.into_iter().map(row_from_wit).collect(),
                    next_cursor: page.next_cursor,
                },
                children.into_iter().map(row_from_wit).collect(),
            )
        })
        .map_err(storage_error)
    }

    fn aggregate(
        &self,
        collection: &str,
        request: AggregateRequest,
    ) -> Result<Vec<AggregateRow>, StorageError> {
        let request = storage::AggregateRequest {
            filters: request.filters.into_iter().map(filter_to_wit).collect(),
            measures: request
                .measures
                .into_iter()
                .map(|(field, f)| {
                    let f = match f {
                        AggregateFn::Count => storage::AggregateFn::Count,
                        AggregateFn::Avg => storage::AggregateFn::Avg,
                        AggregateFn::Min => storage::AggregateFn::Min,
                        AggregateFn::Max => storage::AggregateFn::Max,
                        AggregateFn::Stddev => storage::AggregateFn::Stddev,
                    };
                    (field, f)
                })
                .collect(),
            grouping: match request.grouping {
                Grouping::None => storage::Grouping::None,
                Grouping::Day => storage::Grouping::Day,
                Grouping::IsoWeek => storage::Grouping::IsoWeek,
                Grouping::Weekday => storage::Grouping::Weekday,
                Grouping::Hour => storage::Grouping::Hour,
                Grouping::FieldValue => storage::Grouping::FieldValue,
            },
            group_field: request.group_field,
        };
        storage::aggregate(collection, &request)
            .map(|rows| {
                rows.into_iter()
                    .map(|r| AggregateRow {
                        group: r.group,
                        values: r.values,
                    })
                    .collect()
            })
            .map_err(storage_error)
    }

    fn nearest(
        &self,
        collection: &str,
        field: &str,
        target: Vec<f32>,
        k: u32,
        filters: Vec<Filter>,
    ) -> Result<Vec<Scored>, StorageError> {
        let filters: Vec<storage::Filter> = filters.into_iter().map(filter_to_wit).collect();
        storage::nearest(collection, field, &target, k, &filters)
            .map(|rows| {
                rows.into_iter()
                    .map(|scored| Scored {
                        row: row_from_wit(scored.row),
                        distance: scored.distance,
                    })
                    .collect()
            })
            .map_err(storage_error)
    }

    fn batch(&self, writes: Vec<Write>) -> Result<Vec<Option<Row>>, StorageError> {
        let writes: Vec<storage::Write> = writes
            .into_iter()
            .map(|w| match w {
                Write::Insert(c, row) => storage::Write::Insert((c, row_to_wit(row))),
                Write::Update(c, id, row) => storage::Write::Update((c, id, row_to_wit(row))),
                Write::Delete(c, id) => storage::Write::Delete((c, id)),
            })
            .collect();
        storage::batch(&writes)
            .map(|rows| rows.into_iter().map(|r| r.map(row_from_wit)).collect())
            .map_err(storage_error)
    }

    fn seal(&self, purpose: &str, plaintext: &[u8]) -> Result<Sealed, CryptoError> {
        crypto::seal(purpose, plaintext)
            .map(|s| Sealed {
                ciphertext: s.ciphertext,
                nonce: s.nonce,
            })
            .map_err(crypto_error)
    }

    fn open(&self, purpose: &str, sealed: &Sealed) -> Result<Vec<u8>, CryptoError> {
        let sealed = crypto::Sealed {
            ciphertext: sealed.ciphertext.clone(),
            nonce: sealed.nonce.clone(),
        };
        crypto::open(purpose, &sealed).map_err(crypto_error)
    }

    fn keyed_hash(&self, purpose: &str, data: &[u8]) -> Result<String, CryptoError> {
        crypto::keyed_hash(purpose, data).map_err(crypto_error)
    }

    fn sentiment(&self, text: &str) -> f32 {
        ml::sentiment(text)
    }

    fn emotion(&self, text: &str) -> String {
        match ml::classify_emotion(text).emotion {
            ml::Emotion::Joy => "joy",
            ml::Emotion::Sadness => "sadness",
            ml::Emotion::Anger => "anger",
            ml::Emotion::Fear => "fear",
            ml::Emotion::Surprise => "surprise",
            ml::Emotion::Disgust => "disgust",
            ml::Emotion::Trust => "trust",
            ml::Emotion::Anticipation => "anticipation",
            ml::Emotion::Neutral => "neutral",
        }
        .to_owned()
    }

    fn topics(&self, text: &str, max: u32) -> Vec<String> {
        ml::topics(text, max)
    }

    fn assess(&self, text: &str, source: &str) -> Result<CrisisOutcome, CrisisUnavailable> {
        crisis::assess(text, source)
            .map(crisis_outcome)
            .map_err(|_| CrisisUnavailable)
    }

    fn assess_conversation(
        &self,
        messages: &[String],
        source: &str,
    ) -> Result<CrisisOutcome, CrisisUnavailable> {
        crisis::assess_conversation(messages, source)
            .map(crisis_outcome)
            .map_err(|_| CrisisUnavailable)
    }

    fn embed(&self, text: &str) -> Vec<f32> {
        ml::embed(text)
    }

    type Stream = HostStream;

    fn complete(&self, request: &CompletionRequest) -> Result<Completion, LlmError> {
        llm::complete(&llm_request(request))
            .map(completion)
            .map_err(llm_error)
    }

    fn complete_streaming(&self, request: &CompletionRequest) -> Result<HostStream, LlmError> {
        llm::complete_streaming(&llm_request(request))
            .map(HostStream)
            .map_err(llm_error)
    }

    fn now(&self) -> DateTime<Utc> {
        DateTime::<Utc>::from(std::time::SystemTime::now())
    }

    fn new_id(&self) -> String {
        uuid::Uuid::new_v4().hyphenated().to_string()
    }
}

//! The HTTP API under `/api/v1/journal`: routing and one handler per endpoint, written
//! against [`Platform`] so they run natively in tests.
//!
//! | method | path | handler |
//! |---|---|---|
//! | `POST` | `/entries` | [`create`]: validate, analyse (sentiment, emotion, topics, crisis), seal, insert |
//! | `GET` | `/entries` | [`list`]: newest first, `limit`/`cursor`, `from`/`to`, `entry_type`, `primary_emotion`, `q` (search) |
//! | `GET` `PATCH` `DELETE` | `/entries/{id}` | [`read`], [`update`], [`remove`] |
//! | `GET` | `/prompts` | [`prompts`]: journaling prompts from the content library |
//!
//! The text of an entry is stored only sealed (`crypto.seal("journal", …)`): ciphertext in
//! `content_encrypted`, nonce in `content_iv`. Search never stores plaintext either: each
//! entry keeps the keyed hashes (`crypto.keyed-hash("journal-term", word)`) of its distinct
//! lowercase words in `term_hashes`; a query's words are hashed the same way and the user's
//! entries are scanned here, newest first (see [`SEARCH_MAX_SCANNED`]).

use mindflow_component_kit::analysis::{self, CrisisView};
use mindflow_component_kit::handlers;
use mindflow_component_kit::host::Sealed;
use mindflow_component_kit::row_object::{Member, RowObject};
use mindflow_component_kit::storage::{
    Comparison, Filter, PageRequest, Row, StorageError, Value, bytes_of, column, text_of,
};
use mindflow_component_kit::{FieldError, Params, Platform, Problem, Reply, Request, Wording};
use serde_json::{Map, Value as Json, json};

use crate::validate;

/// The journal entries collection.
pub const ENTRIES: &str = "journal_entries";
/// The shared content library (read-only).
pub const CONTENT: &str = "content_library";
/// The content type of journaling prompts in the library.
pub const PROMPT_CONTENT_TYPE: &str = "journaling_prompt";
/// Where the component is mounted (for `Location`).
pub const BASE_PATH: &str = "/api/v1/journal";
/// How the service words an entry storage did not find, and its own failures.
pub const WORDING: Wording = Wording::new("journal", "no such journal entry");
/// The `source` given to `crisis.assess`.
pub const CRISIS_SOURCE: &str = "journal";
/// The crypto purpose of an entry's text (the host's GDPR export opens it under the same).
pub const CONTENT_PURPOSE: &str = mindflow_component_kit::purpose::JOURNAL;
/// The crypto purpose of the search terms' keyed hashes.
pub const TERM_PURPOSE: &str = mindflow_component_kit::purpose::JOURNAL_TERMS;
/// The purpose of the keyed tags that stand for entries' primary emotions.
pub const EMOTION_PURPOSE: &str = mindflow_component_kit::purpose::JOURNAL_EMOTION;
/// How many topics `ml.topics` is asked for.
pub const MAX_TOPICS: u32 = 5;
/// The most entries one search request scans before answering with a cursor to continue.
pub const SEARCH_MAX_SCANNED: usize = 1000;
/// The most storage calls one search request makes.
pub const SEARCH_MAX_CALLS: usize = 50;
/// The most words a search query may hold.
pub const MAX_QUERY_TERMS: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resource<'a> {
    Entries,
    Entry(&'a str),
    Prompts,
}

impl Resource<'_> {
    fn allow(self) -> &'static str {
        match self {
            Self::Entries => "GET, POST",
            Self::Entry(_) => "GET, PATCH, DELETE",
            Self::Prompts => "GET",
        }
    }
}

fn resource<'a>(request: &Request<'a>) -> Option<Resource<'a>> {
    match request.segments()? {
        ("entries", None) => Some(Resource::Entries),
        ("entries", Some(id)) if !id.is_empty() => Some(Resource::Entry(id)),
        ("prompts", None) => Some(Resource::Prompts),
        _ => None,
    }
}

/// Answers a request, or fails with the problem to answer with: the kit turns it into a
/// problem document in the service's words ([`WORDING`]).
///
/// # Errors
/// Every failure, as a [`Problem`].
pub fn handle(p: &impl Platform, request: &Request<'_>) -> Result<Reply, Problem> {
    let resource =
        resource(request).ok_or_else(|| Problem::not_found("no such journal resource"))?;
    let params = Params::parse(request.query);
    p.current_user().ok_or_else(Problem::unauthorized)?;
    match (resource, request.method) {
        (Resource::Entries, "POST") => create(p, request.body),
        (Resource::Entries, "GET") => list(p, &params),
        (Resource::Entry(id), "GET") => read(p, id),
        (Resource::Entry(id), "PATCH") => update(p, id, request.body),
        (Resource::Entry(id), "DELETE") => remove(p, id),
        (Resource::Prompts, "GET") => prompts(p),
        (resource, _) => Err(Problem::method_not_allowed(resource.allow())),
    }
}

// ---------------------------------------------------------------------------------------
// Rows and JSON.

/// Columns never shown to a client as stored.
const HIDDEN: [&str; 5] = [
    "content_encrypted",
    "content_iv",
    "term_hashes",
    "topics",
    "primary_emotion",
];

/// The stored columns a listed entry is made of: every one a client sees, and the sealed
/// text. A page is read with only these ([`Platform::select`]), not the search hashes (a
/// few kilobytes an entry, read only by a search) nor the emotion tag.
const LISTED: [&str; 9] = [
    "content_encrypted",
    "content_iv",
    "content_hash",
    "word_count",
    "entry_type",
    "prompt_id",
    "sentiment_score",
    "created_at",
    "updated_at",
];

/// An entry as a client sees it: its columns (never the ciphertext, nonce, term hashes or
/// emotion tag), its decrypted `content`, its `topics` and its `primary_emotion`. Topics and
/// the emotion say what the text is about and how the person felt, so they are never stored
/// beside the sealed text: they are worked out again from the opened text whenever it is
/// shown (the stored emotion is only a keyed tag to filter by, see [`emotion_tag`]).
/// Written straight to JSON (a page of entries, one entry).
fn entry_object<'a>(p: &impl Platform, row: &'a Row, content: &'a str) -> RowObject<'a> {
    RowObject::new(row)
        .without(&HIDDEN)
        .with("content", Member::Text(Some(content)))
        .with("topics", Member::Json(json!(p.topics(content, MAX_TOPICS))))
        .with("primary_emotion", Member::Json(json!(p.emotion(content))))
}

/// [`entry_object`] as a map, for an answer that adds to it (a write's crisis assessment).
fn entry_json(p: &impl Platform, row: &Row, content: &str) -> Map<String, Json> {
    entry_object(p, row, content).to_map()
}

/// The stored tag of an emotion label: its keyed hash under the journal's emotion purpose,
/// cut short ([`mindflow_contract::emotion_tag`]). Equal labels of one user give equal tags;
/// without the user's key a tag names no label.
fn emotion_tag(p: &impl Platform, label: &str) -> Result<String, Problem> {
    let hash = p.keyed_hash(EMOTION_PURPOSE, label.as_bytes())?;
    Ok(mindflow_component_kit::emotion_tag::of_hash(&hash).to_owned())
}

/// Opens a stored entry's text.
fn open_content(p: &impl Platform, row: &Row) -> Result<String, Problem> {
    let sealed = Sealed {
        ciphertext: bytes_of(row, "content_encrypted").ok_or_else(Problem::failed)?,
        nonce: bytes_of(row, "content_iv").ok_or_else(Problem::failed)?,
    };
    let plaintext = p.open(CONTENT_PURPOSE, &sealed)?;
    String::from_utf8(plaintext).map_err(|_| Problem::failed())
}

// ---------------------------------------------------------------------------------------
// Analysis: sentiment, emotion, topics, crisis, sealing, search terms.

/// The keyed hashes of a text's distinct words, sorted.
fn term_hashes(p: &impl Platform, words: &[String]) -> Result<Vec<String>, Problem> {
    let mut hashes = words
        .iter()
        .map(|w| p.keyed_hash(TERM_PURPOSE, w.as_bytes()))
        .collect::<Result<Vec<_>, _>>()?;
    hashes.sort();
    hashes.dedup();
    Ok(hashes)
}

/// The columns derived from an entry's text: sealed text, hashes, counts and analysis.
fn derived_columns(p: &impl Platform, content: &str) -> Result<Row, Problem> {
    let sealed = p.seal(CONTENT_PURPOSE, content.as_bytes())?;
    let content_hash = p.keyed_hash(CONTENT_PURPOSE, content.as_bytes())?;
    let words = validate::terms(content);
    let hashes = term_hashes(p, &words)?;
    let sentiment = analysis::sentiment(p, content);
    let emotion = p.emotion(content);
    let word_count = i64::try_from(validate::word_count(content)).unwrap_or(i64::MAX);
    Ok(vec![
        ("content_encrypted".into(), Value::Bytes(sealed.ciphertext)),
        ("content_iv".into(), Value::Bytes(sealed.nonce)),
        ("content_hash".into(), Value::Text(content_hash)),
        ("word_count".into(), Value::Int(word_count)),
        (
            "sentiment_score".into(),
            sentiment.map_or(Value::Null, Value::Float),
        ),
        (
            "primary_emotion".into(),
            Value::Text(emotion_tag(p, &emotion)?),
        ),
        ("term_hashes".into(), Value::Json(json!(hashes).to_string())),
    ])
}

// ---------------------------------------------------------------------------------------
// Entries.

/// A `prompt_id` must name a journaling prompt of the content library.
///
/// # Errors
/// 422 naming `prompt_id` when it names nothing, or content that is not a prompt.
fn check_prompt(p: &impl Platform, prompt_id: Option<&String>) -> Result<(), Problem> {
    let Some(id) = prompt_id else {
        return Ok(());
    };
    let is_prompt = match p.get(CONTENT, id) {
        Ok(row) => text_of(&row, "content_type").as_deref() == Some(PROMPT_CONTENT_TYPE),
        Err(StorageError::NotFound) => false,
        Err(other) => return Err(other.into()),
    };
    if is_prompt {
        Ok(())
    } else {
        Err(Problem::invalid(
            "prompt_id",
            "names no journaling prompt (see GET /prompts)",
        ))
    }
}

/// `POST /entries`.
fn create(p: &impl Platform, body: &[u8]) -> Result<Reply, Problem> {
    let input = validate::parse_new(body)?;
    check_prompt(p, input.prompt_id.as_ref())?;
    let crisis = CrisisView::assess(p, &input.content, CRISIS_SOURCE);
    let mut row: Row = vec![
        ("entry_type".into(), Value::Text(input.entry_type.clone())),
        (
            "prompt_id".into(),
            input.prompt_id.clone().map_or(Value::Null, Value::Uuid),
        ),
    ];
    row.extend(derived_columns(p, &input.content)?);
    let stored = p.insert(ENTRIES, row)?;
    let id = text_of(&stored, "id").ok_or_else(Problem::failed)?;
    let body = crisis.added_to(entry_json(p, &stored, &input.content));
    Ok(Reply::json(201, &body).with_header("location", format!("{BASE_PATH}/entries/{id}")))
}

/// The parameters of `GET /entries`.
struct ListQuery {
    limit: u32,
    filters: Vec<Filter>,
    terms: Option<Vec<String>>,
    /// The emotion label asked for (filtered by its tag).
    emotion: Option<String>,
}

fn list_query(params: &Params) -> Result<ListQuery, Problem> {
    let mut errors: Vec<FieldError> = Vec::new();
    let limit = params.limit().map_err(|e| errors.push(e)).ok();
    let range = params.range().map_err(|e| errors.extend(e)).ok();
    let mut filters = range.map(|r| r.filters("created_at")).unwrap_or_default();
    if let Some(kind) = params.get("entry_type") {
        if validate::ENTRY_TYPES.contains(&kind) {
            filters.push(Filter::new(
                "entry_type",
                Comparison::Eq,
                Value::Text(kind.into()),
            ));
        } else {
            errors.push(FieldError::new(
                "entry_type",
                format!("must be one of {}", validate::ENTRY_TYPES.join(", ")),
            ));
        }
    }
    let mut wanted_emotion = None;
    if let Some(emotion) = params.get("primary_emotion") {
        let emotion = emotion.trim().to_lowercase();
        if emotion.is_empty() || emotion.chars().count() > 30 {
            errors.push(FieldError::new(
                "primary_emotion",
                "must be an emotion name (e.g. joy, sadness, neutral)",
            ));
        } else {
            wanted_emotion = Some(emotion);
        }
    }
    let terms = params.get("q").map(validate::terms);
    match &terms {
        Some(t) if t.is_empty() => errors.push(FieldError::new("q", "must contain a word")),
        Some(t) if t.len() > MAX_QUERY_TERMS => errors.push(FieldError::new(
            "q",
            format!("must contain at most {MAX_QUERY_TERMS} words"),
        )),
        _ => {}
    }
    match (limit, errors.is_empty()) {
        (Some(limit), true) => Ok(ListQuery {
            limit,
            filters,
            terms,
            emotion: wanted_emotion,
        }),
        _ => Err(Problem::validation(errors)),
    }
}

/// Whether an entry's stored term hashes hold every hash of the query.
fn matches(row: &Row, wanted: &[String]) -> bool {
    let Some(Value::Json(text)) = column(row, "term_hashes") else {
        return false;
    };
    let Ok(stored) = serde_json::from_str::<Vec<String>>(text) else {
        return false;
    };
    wanted.iter().all(|w| stored.binary_search(w).is_ok())
}

/// `GET /entries`. With `q`, the user's entries are scanned newest first (after `cursor`)
/// for those holding every word of the query, at most [`SEARCH_MAX_SCANNED`] entries per
/// request: a page may then hold fewer than `limit` items (even none) with a `next_cursor`
/// to continue the scan.
fn list(p: &impl Platform, params: &Params) -> Result<Reply, Problem> {
    let mut query = list_query(params)?;
    if let Some(emotion) = &query.emotion {
        query.filters.push(Filter::new(
            "primary_emotion",
            Comparison::Eq,
            Value::Text(emotion_tag(p, emotion)?),
        ));
    }
    let wanted = match &query.terms {
        Some(terms) => Some(term_hashes(p, terms)?),
        None => None,
    };
    let mut fields = LISTED.to_vec();
    if wanted.is_some() {
        fields.push("term_hashes");
    }
    let mut rows = Vec::new();
    let mut cursor = params.cursor();
    let mut scanned = 0;
    let mut calls = 0;
    loop {
        let want = query.limit as usize - rows.len();
        let page = p
            .select(
                ENTRIES,
                PageRequest {
                    filters: query.filters.clone(),
                    order_by: "created_at".into(),
                    descending: true,
                    limit: u32::try_from(want).unwrap_or(query.limit),
                    cursor: cursor.clone(),
                },
                &fields,
            )
            .map_err(Problem::from_query)?;
        calls += 1;
        scanned += page.rows.len();
        cursor = page.next_cursor;
        match &wanted {
            None => rows.extend(page.rows),
            Some(wanted) => rows.extend(page.rows.into_iter().filter(|r| matches(r, wanted))),
        }
        let done = wanted.is_none()
            || rows.len() >= query.limit as usize
            || cursor.is_none()
            || scanned >= SEARCH_MAX_SCANNED
            || calls >= SEARCH_MAX_CALLS;
        if done {
            break;
        }
    }
    let contents = rows
        .iter()
        .map(|row| open_content(p, row))
        .collect::<Result<Vec<_>, _>>()?;
    let items = rows
        .iter()
        .zip(&contents)
        .map(|(row, content)| entry_object(p, row, content))
        .collect();
    Ok(Reply::json_of(
        200,
        &RowObject::default()
            .with("items", Member::Rows(items))
            .with("next_cursor", Member::Text(cursor.as_deref())),
    ))
}

/// `GET /entries/{id}`.
fn read(p: &impl Platform, raw_id: &str) -> Result<Reply, Problem> {
    let id = WORDING.row_id(raw_id)?;
    let row = p.get(ENTRIES, &id)?;
    let content = open_content(p, &row)?;
    Ok(Reply::json_of(200, &entry_object(p, &row, &content)))
}

/// `PATCH /entries/{id}`: new content is re-sealed, its derived fields recomputed and
/// re-assessed; `updated_at` is bumped by the host.
fn update(p: &impl Platform, raw_id: &str, body: &[u8]) -> Result<Reply, Problem> {
    let id = WORDING.row_id(raw_id)?;
    p.get(ENTRIES, &id)?;
    let patch = validate::parse_patch(body)?;
    if let Some(prompt) = &patch.prompt_id {
        check_prompt(p, prompt.as_ref())?;
    }
    let mut changes: Row = Vec::new();
    if let Some(kind) = &patch.entry_type {
        changes.push(("entry_type".into(), Value::Text(kind.clone())));
    }
    if let Some(prompt) = &patch.prompt_id {
        changes.push((
            "prompt_id".into(),
            prompt.clone().map_or(Value::Null, Value::Uuid),
        ));
    }
    let mut crisis = CrisisView::Nothing;
    if let Some(content) = &patch.content {
        crisis = CrisisView::assess(p, content, CRISIS_SOURCE);
        changes.extend(derived_columns(p, content)?);
    }
    let stored = p.update(ENTRIES, &id, changes)?;
    let content = match patch.content {
        Some(content) => content,
        None => open_content(p, &stored)?,
    };
    let body = crisis.added_to(entry_json(p, &stored, &content));
    Ok(Reply::json(200, &body))
}

/// `DELETE /entries/{id}`.
fn remove(p: &impl Platform, raw_id: &str) -> Result<Reply, Problem> {
    handlers::delete_row(p, ENTRIES, raw_id, &WORDING)
}

// ---------------------------------------------------------------------------------------
// Prompts.

/// `GET /prompts`: the active journaling prompts of the content library.
fn prompts(p: &impl Platform) -> Result<Reply, Problem> {
    let mut items = Vec::new();
    let mut cursor = None;
    for _ in 0..5 {
        let page = p.query(
            CONTENT,
            PageRequest {
                filters: vec![
                    Filter::new(
                        "content_type",
                        Comparison::Eq,
                        Value::Text(PROMPT_CONTENT_TYPE.into()),
                    ),
                    Filter::new("is_active", Comparison::Eq, Value::Bool(true)),
                ],
                order_by: "id".into(),
                descending: false,
                limit: 100,
                cursor,
            },
        )?;
        for row in &page.rows {
            let mut item = Map::new();
            for name in [
                "id",
                "title",
                "description",
                "content_body",
                "difficulty",
                "target_moods",
            ] {
                item.insert(
                    name.into(),
                    column(row, name).map_or(Json::Null, Value::to_json),
                );
            }
            items.push(Json::Object(item));
        }
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    Ok(Reply::json(200, &json!({"items": items})))
}

#[cfg(test)]
mod tests;

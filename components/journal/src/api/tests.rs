//! The handlers against the kit's in-memory platform: what they store (only sealed text and
//! keyed hashes), what they ask the host for, and what they answer. The real storage and
//! crypto (scoping, cursors, XChaCha20-Poly1305, HMAC) are covered by the black-box suite.

use mindflow_component_kit::fake::{Collection, FakePlatform, USER_ID, triggered};
use mindflow_component_kit::host::{CrisisUnavailable, CryptoError};
use mindflow_component_kit::storage::{StorageError, Write};
use serde_json::{Value as Json, json};

use super::*;

const OTHER_USER: &str = "00000000-0000-4000-8000-0000000000b0";

/// A fake host with the journal's collections: entries stamped on insert and update, and
/// the shared content library.
fn journal_host() -> FakePlatform {
    let entries = Collection::default()
        .stamped_on_insert("created_at")
        .stamped_on_update("updated_at");
    FakePlatform::new("UTC", false)
        .with_collection(ENTRIES, entries)
        .with_collection(CONTENT, Collection::default().shared())
}

fn call(host: &FakePlatform, method: &str, path: &str, query: &str, body: &Json) -> Reply {
    host.send(handle, &WORDING, method, path, query, body)
}

/// Writes an entry (a minute after the previous one, so the newest is clear).
fn write(host: &mut FakePlatform, body: &Json) -> Json {
    host.now += chrono::Duration::minutes(1);
    let reply = call(host, "POST", "/entries", "", body);
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.json_body()
}

fn items(reply: &Reply) -> Vec<Json> {
    reply.json_body()["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn ids(reply: &Reply) -> Vec<Json> {
    items(reply).into_iter().map(|e| e["id"].clone()).collect()
}

fn error_fields(reply: &Reply) -> Vec<String> {
    let mut fields: Vec<String> = reply.json_body()["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .filter_map(|e| e["field"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    fields.sort();
    fields
}

/// Every text a value holds (its bytes as text too), to look for plaintext in.
fn texts(value: &Value) -> String {
    match value {
        Value::Text(s) | Value::Timestamp(s) | Value::Date(s) | Value::Uuid(s) | Value::Json(s) => {
            s.clone()
        }
        Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        _ => String::new(),
    }
}

/// Whether any row stored, or any row ever sent to storage, holds `needle`.
fn storage_saw(host: &FakePlatform, needle: &str) -> bool {
    let sent: Vec<Row> = host
        .writes
        .borrow()
        .iter()
        .filter_map(|w| match w {
            Write::Insert(_, row) | Write::Update(_, _, row) => Some(row.clone()),
            Write::Delete(..) => None,
        })
        .collect();
    sent.iter()
        .chain(&host.all_rows())
        .flat_map(|row| row.iter())
        .any(|(_, value)| texts(value).contains(needle))
}

#[test]
fn entries_are_created_read_listed_changed_and_deleted() {
    let mut host = journal_host();
    let text = "A great walk with the family, then work.";
    let reply = call(
        &host,
        "POST",
        "/entries",
        "",
        &json!({"content": text, "entry_type": "gratitude"}),
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
    let entry = reply.json_body();
    let id = entry["id"].as_str().expect("id").to_owned();
    assert_eq!(
        reply.header("location"),
        Some(format!("/api/v1/journal/entries/{id}").as_str())
    );
    assert_eq!(entry["content"], text);
    assert_eq!(entry["entry_type"], "gratitude");
    assert_eq!(entry["prompt_id"], Json::Null);
    assert_eq!(entry["word_count"], 8);
    assert_eq!(entry["sentiment_score"], 0.6249);
    assert_eq!(entry["primary_emotion"], "joy");
    assert_eq!(entry["topics"], json!(["work", "family"]));
    assert!(entry["content_hash"].is_string(), "{entry}");
    assert!(entry["created_at"].is_string(), "{entry}");
    assert_eq!(entry["crisis"], Json::Null);
    for hidden in ["content_encrypted", "content_iv", "term_hashes"] {
        assert!(entry.get(hidden).is_none(), "{hidden} in {entry}");
    }
    assert_eq!(
        host.assessed.borrow().as_slice(),
        [(text.to_owned(), "journal".to_owned())]
    );
    assert_eq!(host.writes.borrow().len(), 1, "one insert");
    // What is stored for the emotion is a keyed tag, never the label.
    let stored_emotion = match &host.writes.borrow()[0] {
        Write::Insert(_, row) => row
            .iter()
            .find(|(name, _)| name == "primary_emotion")
            .map(|(_, value)| value.clone()),
        other => panic!("not an insert: {other:?}"),
    };
    match stored_emotion {
        Some(Value::Text(tag)) => {
            // (The fake's keyed hashes are shorter than the host's; the host's make 30-digit
            // tags.)
            assert!(tag.bytes().all(|b| b.is_ascii_hexdigit()), "{tag}");
            assert_ne!(tag, "joy");
        }
        other => panic!("no emotion tag stored: {other:?}"),
    }

    let read = call(&host, "GET", &format!("/entries/{id}"), "", &Json::Null);
    assert_eq!(read.status, 200, "{}", read.body);
    assert_eq!(read.json_body()["content"], text);
    assert_eq!(read.json_body()["content_hash"], entry["content_hash"]);
    let upper = format!("/entries/{}", id.to_uppercase());
    assert_eq!(call(&host, "GET", &upper, "", &Json::Null).status, 200);

    let second = write(&mut host, &json!({"content": "Slept badly."}));
    assert_eq!(second["entry_type"], "freeform");
    let list = call(&host, "GET", "/entries", "", &Json::Null);
    assert_eq!(list.status, 200, "{}", list.body);
    assert_eq!(ids(&list), [second["id"].clone(), json!(id)]);
    assert_eq!(items(&list)[1]["content"], text);

    // New content: re-sealed, its derived fields recomputed, re-assessed.
    host.now += chrono::Duration::minutes(5);
    let changed = call(
        &host,
        "PATCH",
        &format!("/entries/{id}"),
        "",
        &json!({"content": "Short now."}),
    );
    assert_eq!(changed.status, 200, "{}", changed.body);
    let changed = changed.json_body();
    assert_eq!(changed["content"], "Short now.");
    assert_eq!(changed["word_count"], 2);
    assert_eq!(changed["entry_type"], "gratitude");
    assert_eq!(changed["primary_emotion"], "neutral");
    assert_ne!(changed["content_hash"], entry["content_hash"]);
    assert!(changed["updated_at"].as_str() > entry["updated_at"].as_str());
    assert_eq!(changed["crisis"], Json::Null);
    assert_eq!(host.assessed.borrow().len(), 3);

    // Only the type: the stored text is opened, nothing is re-assessed.
    let retyped = call(
        &host,
        "PATCH",
        &format!("/entries/{id}"),
        "",
        &json!({"entry_type": "reflection", "prompt_id": null}),
    );
    assert_eq!(retyped.status, 200, "{}", retyped.body);
    assert_eq!(retyped.json_body()["content"], "Short now.");
    assert_eq!(retyped.json_body()["entry_type"], "reflection");
    assert_eq!(host.assessed.borrow().len(), 3);

    let deleted = call(&host, "DELETE", &format!("/entries/{id}"), "", &Json::Null);
    assert_eq!(deleted.status, 204);
    assert!(deleted.body.is_empty());
    let gone = call(&host, "GET", &format!("/entries/{id}"), "", &Json::Null);
    assert_eq!(gone.status, 404);
    assert_eq!(gone.json_body()["detail"], "no such journal entry");
    assert_eq!(
        call(&host, "DELETE", &format!("/entries/{id}"), "", &Json::Null).status,
        404
    );
    assert_eq!(
        ids(&call(&host, "GET", "/entries", "", &Json::Null)),
        [second["id"].clone()]
    );
}

#[test]
fn the_text_reaches_storage_only_sealed() {
    let mut host = journal_host();
    let secret = "Xylophone lessons with Marguerite made me nervous";
    let entry = write(&mut host, &json!({"content": secret}));
    let id = entry["id"].as_str().expect("id").to_owned();
    let patched = call(
        &host,
        "PATCH",
        &format!("/entries/{id}"),
        "",
        &json!({"content": "Marguerite again, still nervous"}),
    );
    assert_eq!(patched.status, 200, "{}", patched.body);
    for word in [secret, "Xylophone", "Marguerite", "marguerite", "nervous"] {
        assert!(!storage_saw(&host, word), "{word:?} reached storage");
    }
    let stored = host.rows(ENTRIES).remove(0);
    assert!(matches!(
        column(&stored, "content_encrypted"),
        Some(Value::Bytes(_))
    ));
    assert!(matches!(
        column(&stored, "content_iv"),
        Some(Value::Bytes(_))
    ));
    // The sealed text opens under the journal's purpose only.
    let sealed = Sealed {
        ciphertext: bytes_of(&stored, "content_encrypted").expect("ciphertext"),
        nonce: bytes_of(&stored, "content_iv").expect("nonce"),
    };
    assert_eq!(
        host.open(CONTENT_PURPOSE, &sealed).as_deref(),
        Ok("Marguerite again, still nervous".as_bytes())
    );
    assert_eq!(host.open(TERM_PURPOSE, &sealed), Err(CryptoError::Tampered));
    // Search terms are the keyed hashes of the distinct lowercase words, sorted.
    let mut expected: Vec<String> = ["again", "marguerite", "nervous", "still"]
        .iter()
        .map(|w| host.keyed_hash(TERM_PURPOSE, w.as_bytes()).expect("hash"))
        .collect();
    expected.sort();
    assert_eq!(
        column(&stored, "term_hashes"),
        Some(&Value::Json(json!(expected).to_string()))
    );
    assert_eq!(
        column(&stored, "content_hash"),
        Some(&Value::Text(
            host.keyed_hash(CONTENT_PURPOSE, b"Marguerite again, still nervous")
                .expect("hash")
        ))
    );
}

#[test]
fn search_finds_entries_holding_every_word() {
    let mut host = journal_host();
    let first = write(
        &mut host,
        &json!({"content": "Xylophone lessons with Marguerite made me nervous"}),
    );
    let second = write(
        &mut host,
        &json!({"content": "The marguerite daisies bloomed in the garden."}),
    );
    write(&mut host, &json!({"content": "Nothing special at work."}));

    let found = call(&host, "GET", "/entries", "q=Marguerite", &Json::Null);
    assert_eq!(found.status, 200, "{}", found.body);
    assert_eq!(ids(&found), [second["id"].clone(), first["id"].clone()]);
    let both = call(
        &host,
        "GET",
        "/entries",
        "q=marguerite%20nervous",
        &Json::Null,
    );
    assert_eq!(ids(&both), [first["id"].clone()]);
    assert_eq!(
        items(&both)[0]["content"],
        "Xylophone lessons with Marguerite made me nervous"
    );
    let paged = call(
        &host,
        "GET",
        "/entries",
        "q=marguerite&limit=1",
        &Json::Null,
    );
    assert_eq!(ids(&paged), [second["id"].clone()]);
    let cursor = paged.json_body()["next_cursor"]
        .as_str()
        .expect("cursor")
        .to_owned();
    let rest = call(
        &host,
        "GET",
        "/entries",
        &format!("q=marguerite&limit=1&cursor={cursor}"),
        &Json::Null,
    );
    assert_eq!(ids(&rest), [first["id"].clone()]);
    assert!(ids(&call(&host, "GET", "/entries", "q=unicorn", &Json::Null)).is_empty());

    for (query, field) in [
        ("q=%20%21", "q"),
        ("q=a+b+c+d+e+f+g+h+i+j+k", "q"),
        ("q=x&limit=0", "limit"),
    ] {
        let reply = call(&host, "GET", "/entries", query, &Json::Null);
        assert_eq!(reply.status, 422, "{query}");
        assert_eq!(error_fields(&reply), [field], "{query}");
    }

    // Another user's search sees none of these entries.
    host.user = Some(FakePlatform::other_user(OTHER_USER));
    assert!(ids(&call(&host, "GET", "/entries", "q=marguerite", &Json::Null)).is_empty());
}

#[test]
fn a_search_stops_after_its_budget_of_storage_calls_with_a_cursor() {
    let mut host = journal_host();
    for i in 0..(SEARCH_MAX_CALLS + 5) {
        write(&mut host, &json!({"content": format!("Day {i} was fine.")}));
    }
    let queries = host.queries.get();
    let reply = call(&host, "GET", "/entries", "q=unicorn&limit=1", &Json::Null);
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(items(&reply).is_empty());
    assert!(
        reply.json_body()["next_cursor"].is_string(),
        "the scan can go on"
    );
    assert_eq!(host.queries.get() - queries, SEARCH_MAX_CALLS);
}

#[test]
fn lists_filter_by_type_emotion_and_time() {
    let mut host = journal_host();
    let happy = write(
        &mut host,
        &json!({"content": "A great day.", "entry_type": "gratitude"}),
    );
    let plain = write(&mut host, &json!({"content": "An ordinary day."}));
    let query = |q: &str| ids(&call(&host, "GET", "/entries", q, &Json::Null));
    assert_eq!(query("entry_type=gratitude"), [happy["id"].clone()]);
    assert_eq!(query("primary_emotion=%20Neutral"), [plain["id"].clone()]);
    let since = plain["created_at"].as_str().expect("created_at");
    assert_eq!(
        query(&format!("from={}", since.replace('+', "%2B"))),
        [plain["id"].clone()]
    );
    assert_eq!(
        query(&format!("to={}", since.replace('+', "%2B"))),
        [happy["id"].clone()]
    );
    assert_eq!(query("limit=1").len(), 1);

    let bad = call(
        &host,
        "GET",
        "/entries",
        "entry_type=poem&limit=0&primary_emotion=",
        &Json::Null,
    );
    assert_eq!(bad.status, 422);
    assert_eq!(
        error_fields(&bad),
        ["entry_type", "limit", "primary_emotion"]
    );
    let forged = call(&host, "GET", "/entries", "cursor=forged", &Json::Null);
    assert_eq!(forged.status, 422);
    assert_eq!(error_fields(&forged), ["cursor"]);
}

#[test]
fn invalid_bodies_write_nothing_and_ask_the_host_nothing() {
    let mut host = journal_host();
    let cases = [
        (json!({}), vec!["content"]),
        (json!({"content": ""}), vec!["content"]),
        (json!({"content": "x".repeat(20_001)}), vec!["content"]),
        (
            json!({"content": "ok", "entry_type": "poem"}),
            vec!["entry_type"],
        ),
        (
            json!({"content": "ok", "prompt_id": "not-a-uuid"}),
            vec!["prompt_id"],
        ),
        (json!({"content": "ok", "colour": "blue"}), vec!["colour"]),
        (
            json!({"content": "ok", "word_count": 3}),
            vec!["word_count"],
        ),
        (json!([1]), vec!["body"]),
    ];
    for (body, fields) in cases {
        let reply = call(&host, "POST", "/entries", "", &body);
        assert_eq!(reply.status, 422, "{body}: {}", reply.body);
        assert_eq!(
            reply.header("content-type"),
            Some("application/problem+json")
        );
        assert_eq!(error_fields(&reply), fields, "{body}");
    }
    assert!(host.writes.borrow().is_empty());
    assert!(host.assessed.borrow().is_empty());
    assert_eq!(host.crypto_calls.get(), 0);

    let entry = write(&mut host, &json!({"content": "Kept as it was."}));
    let path = format!("/entries/{}", entry["id"].as_str().expect("id"));
    let writes = host.writes.borrow().len();
    for (body, field) in [
        (json!({}), "body"),
        (json!({"content": null}), "content"),
        (json!({"entry_type": null}), "entry_type"),
    ] {
        let reply = call(&host, "PATCH", &path, "", &body);
        assert_eq!(reply.status, 422, "{body}");
        assert_eq!(error_fields(&reply), [field], "{body}");
    }
    assert_eq!(host.writes.borrow().len(), writes);
    let missing = call(
        &host,
        "PATCH",
        "/entries/00000000-0000-4000-8000-0000000000ff",
        "",
        &json!({"content": "x"}),
    );
    assert_eq!(missing.status, 404);
}

#[test]
fn another_users_entry_is_not_found() {
    let mut host = journal_host();
    let mine = write(&mut host, &json!({"content": "Mine alone."}));
    let path = format!("/entries/{}", mine["id"].as_str().expect("id"));
    host.user = Some(FakePlatform::other_user(OTHER_USER));
    for (method, body) in [
        ("GET", Json::Null),
        ("PATCH", json!({"content": "hijacked"})),
        ("DELETE", Json::Null),
    ] {
        let reply = call(&host, method, &path, "", &body);
        assert_eq!(reply.status, 404, "{method}: {}", reply.body);
        assert_eq!(reply.json_body()["detail"], "no such journal entry");
        assert_eq!(reply.json_body()["type"], "urn:mindflow:problem:not-found");
    }
    assert!(ids(&call(&host, "GET", "/entries", "", &Json::Null)).is_empty());
    let queries = host.storage_calls.get();
    for bad in ["not-an-id", "1", "00000000000040008000000000000001"] {
        let reply = call(&host, "GET", &format!("/entries/{bad}"), "", &Json::Null);
        assert_eq!(reply.status, 404, "{bad}");
    }
    assert_eq!(
        host.storage_calls.get(),
        queries,
        "malformed ids never reach storage"
    );
    host.user = Some(FakePlatform::other_user(USER_ID));
    let read = call(&host, "GET", &path, "", &Json::Null);
    assert_eq!(read.json_body()["content"], "Mine alone.");
}

#[test]
fn crisis_language_shows_resources_and_a_failed_assessment_fails_safe() {
    let mut host = journal_host();
    *host.crisis.borrow_mut() = Ok(triggered("imminent"));
    let entry = write(&mut host, &json!({"content": "I can't go on."}));
    assert_eq!(entry["crisis"]["severity"], "imminent");
    assert_eq!(entry["crisis"]["resources"][0]["phone_number"], "988");
    assert_eq!(entry["crisis"]["resources_url"], "/api/v1/crisis/resources");
    *host.crisis.borrow_mut() = Err(CrisisUnavailable);
    let entry = write(&mut host, &json!({"content": "A bad night."}));
    assert_eq!(
        entry["crisis"],
        json!({"status": "unavailable", "resources_url": "/api/v1/crisis/resources"})
    );
    assert_eq!(host.rows(ENTRIES).len(), 2, "the entry is kept either way");
    assert!(
        host.assessed
            .borrow()
            .iter()
            .all(|(_, source)| source == "journal")
    );
}

/// A row of the content library.
fn prompt(title: &str, kind: &str, active: bool) -> Vec<(String, Value)> {
    vec![
        ("title".to_owned(), Value::Text(title.into())),
        ("description".to_owned(), Value::Null),
        ("content_type".to_owned(), Value::Text(kind.into())),
        ("content_body".to_owned(), Value::Text(format!("{title}?"))),
        ("difficulty".to_owned(), Value::Text("easy".into())),
        (
            "target_moods".to_owned(),
            Value::Json(r#"["sad","anxious"]"#.into()),
        ),
        ("is_active".to_owned(), Value::Bool(active)),
    ]
}

#[test]
fn prompts_come_from_the_content_library() {
    let mut host = journal_host();
    host.seed(
        CONTENT,
        prompt("What went well?", PROMPT_CONTENT_TYPE, true),
    );
    host.seed(CONTENT, prompt("Retired", PROMPT_CONTENT_TYPE, false));
    host.seed(CONTENT, prompt("Box breathing", "breathing", true));
    host.seed(
        CONTENT,
        prompt("Who helped you?", PROMPT_CONTENT_TYPE, true),
    );
    let reply = call(&host, "GET", "/prompts", "", &Json::Null);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let prompts = items(&reply);
    let titles: Vec<&str> = prompts.iter().filter_map(|p| p["title"].as_str()).collect();
    assert_eq!(titles, ["What went well?", "Who helped you?"]);
    assert_eq!(prompts[0]["target_moods"], json!(["sad", "anxious"]));
    assert_eq!(prompts[0]["description"], Json::Null);
    assert!(prompts[0].get("is_active").is_none());
    assert!(prompts[0]["id"].is_string());

    let id = prompts[0]["id"].clone();
    let answered = write(
        &mut host,
        &json!({"content": "The sun came out.", "entry_type": "prompted", "prompt_id": id}),
    );
    assert_eq!(answered["prompt_id"], id);
}

#[test]
fn a_prompt_id_must_name_a_journaling_prompt() {
    let mut host = journal_host();
    host.seed(
        CONTENT,
        prompt("What went well?", PROMPT_CONTENT_TYPE, true),
    );
    host.seed(CONTENT, prompt("Box breathing", "breathing", true));
    let reply = call(&host, "GET", "/prompts", "", &Json::Null);
    let prompt_id = items(&reply)[0]["id"].clone();
    let breathing = host
        .rows(CONTENT)
        .into_iter()
        .find(|row| text_of(row, "content_type").as_deref() == Some("breathing"))
        .and_then(|row| text_of(&row, "id"))
        .expect("the breathing exercise");
    for wrong in [
        json!("5f0c2a52-3c6e-4cf1-9d9a-2f1b0c7e8d11"),
        json!(breathing),
    ] {
        let reply = call(
            &host,
            "POST",
            "/entries",
            "",
            &json!({"content": "ok", "prompt_id": wrong}),
        );
        assert_eq!(reply.status, 422, "{}", reply.body);
        assert_eq!(error_fields(&reply), ["prompt_id"]);
    }
    assert!(host.rows(ENTRIES).is_empty(), "nothing written");
    let entry = write(
        &mut host,
        &json!({"content": "The sun came out.", "prompt_id": prompt_id}),
    );
    let path = format!("/entries/{}", entry["id"].as_str().expect("id"));
    let reply = call(
        &host,
        "PATCH",
        &path,
        "",
        &json!({"prompt_id": "5f0c2a52-3c6e-4cf1-9d9a-2f1b0c7e8d11"}),
    );
    assert_eq!(reply.status, 422, "{}", reply.body);
    assert_eq!(error_fields(&reply), ["prompt_id"]);
}

#[test]
fn storage_errors_map_to_statuses() {
    let mut host = journal_host();
    let entry = write(&mut host, &json!({"content": "Still here."}));
    let path = format!("/entries/{}", entry["id"].as_str().expect("id"));
    let cases = [
        (StorageError::NotFound, 404, "no such journal entry"),
        (
            StorageError::Invalid {
                field: "note".into(),
                message: "too long".into(),
            },
            422,
            "`note`: too long",
        ),
        (
            StorageError::Conflict("x".into()),
            409,
            "the change conflicts with existing data",
        ),
        (
            StorageError::Unavailable,
            503,
            "the database is unavailable",
        ),
        (
            StorageError::NotGranted("journal_entries".into()),
            500,
            "the journal service failed to handle the request",
        ),
    ];
    for (error, status, detail) in cases {
        *host.fail_storage.borrow_mut() = Some(error.clone());
        let reply = call(&host, "GET", &path, "", &Json::Null);
        assert_eq!(reply.status, status, "{error:?}");
        assert_eq!(
            reply.header("content-type"),
            Some("application/problem+json")
        );
        let body = reply.json_body();
        assert_eq!(body["detail"], detail, "{error:?}");
        if status == 422 {
            assert_eq!(body["errors"][0]["field"], "note");
            assert_eq!(body["type"], "urn:mindflow:problem:validation");
        }
        if status == 503 {
            assert_eq!(reply.header("retry-after"), Some("1"));
        }
    }
}

#[test]
fn crypto_failures_become_problems() {
    let mut host = journal_host();
    let entry = write(&mut host, &json!({"content": "Sealed away."}));
    let path = format!("/entries/{}", entry["id"].as_str().expect("id"));
    *host.fail_crypto.borrow_mut() = Some(CryptoError::Unavailable);
    let reply = call(
        &host,
        "POST",
        "/entries",
        "",
        &json!({"content": "Not now."}),
    );
    assert_eq!(reply.status, 503);
    assert_eq!(reply.header("retry-after"), Some("1"));
    assert_eq!(host.rows(ENTRIES).len(), 1, "nothing stored unsealed");
    *host.fail_crypto.borrow_mut() = Some(CryptoError::KeyDestroyed);
    let reply = call(&host, "GET", &path, "", &Json::Null);
    assert_eq!(reply.status, 500);
    assert_eq!(
        reply.json_body()["detail"],
        "the journal service failed to handle the request"
    );
    *host.fail_crypto.borrow_mut() = Some(CryptoError::NoUser);
    assert_eq!(call(&host, "GET", &path, "", &Json::Null).status, 401);
}

#[test]
fn unknown_paths_and_methods_are_problems() {
    let mut host = journal_host();
    for path in [
        "/",
        "",
        "/entry",
        "/entries/a/b",
        "/prompts/x",
        "/entries//",
    ] {
        let reply = call(&host, "GET", path, "", &Json::Null);
        assert_eq!(reply.status, 404, "{path}");
        assert_eq!(reply.json_body()["detail"], "no such journal resource");
    }
    for (method, path, allow) in [
        ("PUT", "/entries", "GET, POST"),
        (
            "POST",
            "/entries/00000000-0000-4000-8000-000000000001",
            "GET, PATCH, DELETE",
        ),
        ("DELETE", "/prompts", "GET"),
    ] {
        let reply = call(&host, method, path, "", &Json::Null);
        assert_eq!(reply.status, 405, "{method} {path}");
        assert_eq!(reply.header("allow"), Some(allow));
    }
    assert_eq!(call(&host, "GET", "/entries/", "", &Json::Null).status, 200);
    host.user = None;
    for (method, path) in [
        ("GET", "/entries"),
        ("GET", "/prompts"),
        ("POST", "/entries"),
    ] {
        assert_eq!(
            call(&host, method, path, "", &json!({"content": "x"})).status,
            401,
            "{method} {path}"
        );
    }
}

/// Lists and reads write entries straight to JSON (no `serde_json::Map` per row): the text is
/// what a `Map` would write (members in name order), and a listed entry is the entry as
/// `GET /entries/{id}` shows it, which is the entry as written, with the same derived fields.
#[test]
fn a_listed_entry_is_the_entry_as_written_and_read() {
    let mut host = journal_host();
    let mut written = Vec::new();
    for i in 0..3 {
        written.push(write(
            &mut host,
            &json!({"content": format!("A \"long\" walk with my sister ✓ — we laughed {i}"),
                    "entry_type": "freeform"}),
        ));
    }
    let reply = call(&host, "GET", "/entries", "limit=2", &Json::Null);
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.body,
        serde_json::to_string(&reply.json_body()).expect("json"),
        "members in a Map's order"
    );
    assert!(reply.json_body()["next_cursor"].is_string());
    let listed = items(&reply);
    assert_eq!(listed.len(), 2);
    for item in listed {
        let id = item["id"].as_str().expect("id");
        let one = call(&host, "GET", &format!("/entries/{id}"), "", &Json::Null);
        assert_eq!(
            one.body,
            serde_json::to_string(&one.json_body()).expect("json")
        );
        assert_eq!(item, one.json_body());
        let mut as_written = written
            .iter()
            .find(|w| w["id"] == item["id"])
            .cloned()
            .expect("written");
        if let Some(fields) = as_written.as_object_mut() {
            // Only a create's answer says whether the text was assessed as a crisis.
            fields.retain(|name, _| item.get(name).is_some());
        }
        assert_eq!(item, as_written);
    }
}

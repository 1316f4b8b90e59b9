//! The `journal` component (`/api/v1/journal`) on the real host: entries sealed under the
//! user's key (no plaintext in the raw database), derived fields, validation, pagination and
//! filters, other users' entries, search by keyed word hashes, crisis assessment, prompts,
//! and account deletion.

use mindflow_tests::accounts::user;
use mindflow_tests::database::{Db, Param};
use mindflow_tests::http::{get, send};
use mindflow_tests::{Manifest, Server, server};
use reqwest::Method;
use serde_json::{Value, json};

fn journal_manifest() -> Manifest {
    Manifest::product(&["journal", "crisis-rules"])
}

async fn post_entry(server: &Server, token: &str, body: Value) -> Value {
    let answer = send(
        server,
        Method::POST,
        "/api/v1/journal/entries",
        Some(token),
        Some(body),
    )
    .await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    answer.body
}

/// The number of journal entries the database holds for a user, read directly.
async fn stored_entries(server: &Server, user_id: &str) -> i64 {
    Db::open(server)
        .await
        .count(
            "SELECT count(*) FROM journal_entries WHERE user_id = $1",
            &[Param::Uuid(user_id.to_owned())],
        )
        .await
}

#[tokio::test]
async fn entries_are_created_read_changed_and_deleted() {
    let server = server(journal_manifest()).await;
    let (token, _) = user(&server, "journal-crud").await;
    // An everyday entry well clear of the crisis classifier's threshold (risk 0.06). The
    // entry this test used before, "Walked the dog by the river this morning. I felt calm and
    // happy afterwards.", is judged imminent since 2026.12.3 (risk 0.89 on the whole text:
    // "river" and "calm … afterwards" lean on drowning and on the calm after a decision): one
    // of the everyday false positives BENCHMARKS.md counts ("Words beside meaning").
    let text = "Made pancakes with the kids this morning and laughed a lot. A good, calm day.";
    let created = send(
        &server,
        Method::POST,
        "/api/v1/journal/entries",
        Some(&token),
        Some(json!({"content": text, "entry_type": "gratitude"})),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let entry = &created.body;
    let id = entry["id"].as_str().expect("id").to_owned();
    assert_eq!(
        created
            .headers
            .get("location")
            .and_then(|v| v.to_str().ok()),
        Some(format!("/api/v1/journal/entries/{id}").as_str())
    );
    assert_eq!(entry["content"], text);
    assert_eq!(entry["entry_type"], "gratitude");
    assert_eq!(entry["word_count"], 15);
    assert_eq!(entry["content_hash"].as_str().map(str::len), Some(64));
    assert!(
        entry["sentiment_score"].as_f64().expect("sentiment") > 0.0,
        "{entry}"
    );
    assert!(entry["primary_emotion"].is_string(), "{entry}");
    assert!(entry["topics"].is_array(), "{entry}");
    assert_eq!(entry["crisis"], Value::Null);
    for hidden in ["content_encrypted", "content_iv", "term_hashes", "user_id"] {
        assert!(entry.get(hidden).is_none(), "{hidden} in {entry}");
    }

    let read = get(&server, &format!("/api/v1/journal/entries/{id}"), &token).await;
    assert_eq!(read.status, 200, "{}", read.body);
    assert_eq!(read.body["content"], text);
    assert_eq!(read.body["content_hash"], entry["content_hash"]);

    // A default type, and a list newest first.
    let second = post_entry(&server, &token, json!({"content": "Second entry."})).await;
    assert_eq!(second["entry_type"], "freeform");
    let list = get(&server, "/api/v1/journal/entries", &token).await;
    assert_eq!(list.status, 200, "{}", list.body);
    let items = list.body["items"].as_array().expect("items");
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["id"], second["id"]);
    assert_eq!(items[1]["content"], text);
    // A listed entry is the entry itself: the list reads fewer columns, never fewer fields.
    assert_eq!(items[1], read.body, "listed and read differ");
    let page = get(&server, "/api/v1/journal/entries?limit=1", &token).await;
    assert_eq!(page.body["items"].as_array().map(Vec::len), Some(1));
    let cursor = page.body["next_cursor"]
        .as_str()
        .expect("cursor")
        .to_owned();
    let next = get(
        &server,
        &format!("/api/v1/journal/entries?limit=1&cursor={cursor}"),
        &token,
    )
    .await;
    assert_eq!(next.body["items"][0]["id"], json!(id));
    let gratitude = get(
        &server,
        "/api/v1/journal/entries?entry_type=gratitude",
        &token,
    )
    .await;
    assert_eq!(gratitude.body["items"].as_array().map(Vec::len), Some(1));
    let emotion = entry["primary_emotion"].as_str().expect("emotion");
    let by_emotion = get(
        &server,
        &format!("/api/v1/journal/entries?primary_emotion={emotion}"),
        &token,
    )
    .await;
    assert!(
        by_emotion.body["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|e| e["primary_emotion"] == emotion)
    );
    let future = get(
        &server,
        "/api/v1/journal/entries?from=2999-01-01T00:00:00Z",
        &token,
    )
    .await;
    assert_eq!(future.body["items"], json!([]));

    // A change re-seals and re-derives.
    let changed = send(
        &server,
        Method::PATCH,
        &format!("/api/v1/journal/entries/{id}"),
        Some(&token),
        Some(json!({"content": "Short now."})),
    )
    .await;
    assert_eq!(changed.status, 200, "{}", changed.body);
    assert_eq!(changed.body["content"], "Short now.");
    assert_eq!(changed.body["word_count"], 2);
    assert_eq!(changed.body["entry_type"], "gratitude");
    assert_ne!(changed.body["content_hash"], entry["content_hash"]);
    assert!(changed.body["updated_at"].as_str() >= entry["updated_at"].as_str());
    let retyped = send(
        &server,
        Method::PATCH,
        &format!("/api/v1/journal/entries/{id}"),
        Some(&token),
        Some(json!({"entry_type": "reflection"})),
    )
    .await;
    assert_eq!(retyped.status, 200, "{}", retyped.body);
    assert_eq!(retyped.body["content"], "Short now.");
    assert_eq!(retyped.body["entry_type"], "reflection");

    let deleted = send(
        &server,
        Method::DELETE,
        &format!("/api/v1/journal/entries/{id}"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(deleted.status, 204);
    assert_eq!(
        get(&server, &format!("/api/v1/journal/entries/{id}"), &token)
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn invalid_bodies_name_their_fields_and_other_users_entries_do_not_exist() {
    let server = server(journal_manifest()).await;
    let (token, _) = user(&server, "journal-validation").await;
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
    ];
    for (body, fields) in cases {
        let answer = send(
            &server,
            Method::POST,
            "/api/v1/journal/entries",
            Some(&token),
            Some(body.clone()),
        )
        .await;
        assert_eq!(answer.status, 422, "{body}: {}", answer.body);
        assert_eq!(answer.fields(), fields, "{body}");
    }
    let bad = get(
        &server,
        "/api/v1/journal/entries?entry_type=poem&limit=0",
        &token,
    )
    .await;
    assert_eq!(bad.status, 422);
    assert_eq!(bad.fields(), ["entry_type", "limit"]);
    assert!(
        post_entry(&server, &token, json!({"content": "x".repeat(20_000)})).await["id"].is_string()
    );

    let mine = post_entry(&server, &token, json!({"content": "Mine alone."})).await;
    let id = mine["id"].as_str().expect("id");
    let (other, _) = user(&server, "journal-other").await;
    for method in [Method::GET, Method::PATCH, Method::DELETE] {
        let body = (method == Method::PATCH).then(|| json!({"content": "hijacked"}));
        let answer = send(
            &server,
            method.clone(),
            &format!("/api/v1/journal/entries/{id}"),
            Some(&other),
            body,
        )
        .await;
        assert_eq!(answer.status, 404, "{method}: {}", answer.body);
    }
    assert_eq!(
        get(&server, "/api/v1/journal/entries", &other).await.body["items"],
        json!([])
    );
    assert_eq!(
        get(&server, "/api/v1/journal/entries/not-an-id", &token)
            .await
            .status,
        404
    );
    assert_eq!(
        get(&server, &format!("/api/v1/journal/entries/{id}"), &token)
            .await
            .body["content"],
        "Mine alone."
    );
}

#[tokio::test]
async fn search_finds_entries_by_word_without_plaintext_at_rest() {
    let server = server(journal_manifest()).await;
    let (token, _) = user(&server, "journal-search").await;
    let secret = "Xylophone-lessons with Marguerite made me surprisingly nervous";
    let first = post_entry(&server, &token, json!({"content": secret})).await;
    let second = post_entry(
        &server,
        &token,
        json!({"content": "The marguerite daisies bloomed in the garden."}),
    )
    .await;
    post_entry(
        &server,
        &token,
        json!({"content": "Nothing special happened at work."}),
    )
    .await;

    let found = get(&server, "/api/v1/journal/entries?q=Marguerite", &token).await;
    assert_eq!(found.status, 200, "{}", found.body);
    let ids: Vec<&Value> = found.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| &e["id"])
        .collect();
    assert_eq!(ids, [&second["id"], &first["id"]]);
    let both = get(
        &server,
        "/api/v1/journal/entries?q=marguerite%20nervous",
        &token,
    )
    .await;
    let items = both.body["items"].as_array().expect("items");
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["content"], secret);
    let paged = get(
        &server,
        "/api/v1/journal/entries?q=marguerite&limit=1",
        &token,
    )
    .await;
    assert_eq!(paged.body["items"][0]["id"], second["id"]);
    let cursor = paged.body["next_cursor"]
        .as_str()
        .expect("cursor")
        .to_owned();
    let rest = get(
        &server,
        &format!("/api/v1/journal/entries?q=marguerite&limit=1&cursor={cursor}"),
        &token,
    )
    .await;
    assert_eq!(rest.body["items"][0]["id"], first["id"]);
    assert_eq!(
        get(&server, "/api/v1/journal/entries?q=unicorn", &token)
            .await
            .body["items"],
        json!([])
    );
    assert_eq!(
        get(&server, "/api/v1/journal/entries?q=%20%21", &token)
            .await
            .status,
        422
    );
    // Another user's search does not see these entries.
    let (other, _) = user(&server, "journal-search-other").await;
    assert_eq!(
        get(&server, "/api/v1/journal/entries?q=marguerite", &other)
            .await
            .body["items"],
        json!([])
    );

    // The scan sees plaintext that is stored (the email domain), so a miss means something.
    assert!(
        mindflow_tests::raw_database_contains(&server, "@example.com")
            .await
            .expect("scan")
    );
    for phrase in [
        secret,
        "Xylophone-lessons",
        "Marguerite",
        "marguerite",
        "surprisingly nervous",
    ] {
        assert!(
            !mindflow_tests::raw_database_contains(&server, phrase)
                .await
                .expect("scan"),
            "{phrase:?} is in the raw database"
        );
    }
    // Topics say what a text is about: shown, worked out again from the opened text, never
    // stored.
    assert_eq!(second["topics"], json!(["nature"]));
    let mut db = Db::open(&server).await;
    assert_eq!(
        db.count(
            "SELECT COUNT(*) FROM journal_entries WHERE topics IS NOT NULL",
            &[]
        )
        .await,
        0
    );
    // So is how the person felt: shown, but stored only as a keyed tag (30 hex digits) that
    // filters still use.
    let emotion = first["primary_emotion"]
        .as_str()
        .expect("emotion")
        .to_owned();
    assert!(!emotion.is_empty());
    assert_eq!(
        db.count(
            "SELECT COUNT(*) FROM journal_entries WHERE length(primary_emotion) <> 30",
            &[]
        )
        .await,
        0,
        "only tags are stored"
    );
    let by_emotion = get(
        &server,
        &format!("/api/v1/journal/entries?primary_emotion={emotion}"),
        &token,
    )
    .await;
    let items = by_emotion.body["items"].as_array().expect("items");
    assert!(items.iter().any(|e| e["id"] == first["id"]), "{items:?}");
    assert!(
        items
            .iter()
            .all(|e| e["primary_emotion"] == emotion.as_str())
    );
}

#[tokio::test]
async fn crisis_language_returns_resources() {
    let server = server(journal_manifest()).await;
    let (token, _) = user(&server, "journal-crisis").await;
    let created = post_entry(
        &server,
        &token,
        json!({"content": "I'm going to kill myself tonight, I have the pills ready"}),
    )
    .await;
    let crisis = &created["crisis"];
    assert!(
        ["high", "imminent"].contains(&crisis["severity"].as_str().unwrap_or_default()),
        "{crisis}"
    );
    assert!(
        !crisis["resources"]
            .as_array()
            .expect("resources")
            .is_empty(),
        "{crisis}"
    );
    assert_eq!(crisis["resources_url"], "/api/v1/crisis/resources");
    // A calm edit shows nothing; a crisis edit shows resources again.
    let id = created["id"].as_str().expect("id");
    let calm = send(
        &server,
        Method::PATCH,
        &format!("/api/v1/journal/entries/{id}"),
        Some(&token),
        Some(json!({"content": "Feeling steadier today."})),
    )
    .await;
    assert_eq!(calm.status, 200, "{}", calm.body);
    assert_eq!(calm.body["crisis"], Value::Null);
    let again = send(
        &server,
        Method::PATCH,
        &format!("/api/v1/journal/entries/{id}"),
        Some(&token),
        Some(json!({"content": "I want to end my life, I have the pills ready"})),
    )
    .await;
    assert!(
        again.body["crisis"]["resources"]
            .as_array()
            .is_some_and(|r| !r.is_empty()),
        "{}",
        again.body
    );
}

#[tokio::test]
async fn prompts_come_from_the_content_library() {
    let server = server(journal_manifest()).await;
    let (token, _) = user(&server, "journal-prompts").await;
    let answer = get(&server, "/api/v1/journal/prompts", &token).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let items = answer.body["items"].as_array().expect("items");
    assert!(items.len() >= 12, "{}", answer.body);
    assert!(
        items
            .iter()
            .all(|p| p["title"].is_string() && p["content_body"].is_string())
    );
    assert!(items.iter().any(|p| {
        p["title"]
            .as_str()
            .is_some_and(|t| t.starts_with("Thought record"))
    }));
    let prompt = items[0]["id"].as_str().expect("id");
    let entry = post_entry(
        &server,
        &token,
        json!({"content": "Answering a prompt.", "entry_type": "prompted", "prompt_id": prompt}),
    )
    .await;
    assert_eq!(entry["prompt_id"], prompt);
    assert_eq!(
        send(
            &server,
            Method::POST,
            "/api/v1/journal/prompts",
            Some(&token),
            None
        )
        .await
        .status,
        405
    );
}

#[tokio::test]
async fn deleting_the_account_removes_the_entries() {
    let server = server(journal_manifest()).await;
    let (token, id) = user(&server, "journal-leaving").await;
    post_entry(&server, &token, json!({"content": "Something to forget."})).await;
    post_entry(
        &server,
        &token,
        json!({"content": "Another thing to forget."}),
    )
    .await;
    assert_eq!(stored_entries(&server, &id).await, 2);
    let deleted = server
        .http
        .delete(server.url("/api/v1/auth/account"))
        .bearer_auth(&token)
        .json(&json!({"password": "a long enough passphrase"}))
        .send()
        .await
        .expect("delete");
    assert_eq!(deleted.status(), 204);
    assert_eq!(stored_entries(&server, &id).await, 0);
    assert_eq!(
        get(&server, "/api/v1/journal/entries", &token).await.status,
        401
    );
}

#[tokio::test]
async fn the_export_contains_the_decrypted_entries() {
    let server = server(journal_manifest()).await;
    let (token, _) = user(&server, "export").await;
    let text = "Wrote this under the old oak tree, thinking about the move to Galway.";
    let created = post_entry(
        &server,
        &token,
        json!({"content": text, "entry_type": "reflection"}),
    )
    .await;
    let export = get(&server, "/api/v1/users/me/export", &token).await;
    assert_eq!(export.status, 200);
    let entries = export.body["journal_entries"]
        .as_array()
        .expect("journal_entries in the export");
    let entry = entries
        .iter()
        .find(|e| e["id"] == created["id"])
        .expect("the entry is exported");
    assert_eq!(entry["content"], text);
}

//! `/api/v1/users` and the data layer under it: the profile and its validation, consents with
//! their evidence, the GDPR export (sealed content opened, secrets left out), the retention
//! purge, subscription tiers through the admin API and the CLI, the `crypto` capability as a
//! component sees it (through the `crypto-probe` test component), and master-key rotation.
//!
//! Records that no host endpoint writes yet (mood logs, journal entries, chats, ...) are
//! written straight into the test's database, as the domain components will.

use std::time::Duration;

use mindflow_tests::accounts::{email, user};
use mindflow_tests::database::{Db, Param};
use mindflow_tests::http::{Answer, get_ok, problem_fields, send};
use mindflow_tests::{Server, ServerOptions, binary, hex, manifest, server, server_with};
use serde_json::{Value, json};

const MASTER_A: &str = "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE="; // 32 × 'A', test-only
const MASTER_B: &str = "QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkI="; // 32 × 'B', test-only
const MASTER_C: &str = "Q0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0M="; // 32 × 'C', test-only

/// The crypto probe twice: named `journal` at `/api/v1/probe` (a stand-in for the journal,
/// so it owns the journal's crypto purposes), and under its own name at
/// `/api/v1/stranger`, which owns none of them.
fn probe_manifest() -> String {
    manifest(
        r#"
[[trigger.http]]
route = "/api/v1/probe/..."
component = "journal"

[component.journal]
source = "{components}/crypto-probe.wasm"
[component.journal.tool.mindflow]
capabilities = ["crypto"]
authentication = "optional"

[[trigger.http]]
route = "/api/v1/stranger/..."
component = "crypto-probe"

[component.crypto-probe]
source = "{components}/crypto-probe.wasm"
[component.crypto-probe.tool.mindflow]
capabilities = ["crypto"]
authentication = "optional"
"#,
    )
}

/// A call to the probe standing in for the journal: (status, body text).
async fn probe(server: &Server, token: Option<&str>, path: &str, body: &[u8]) -> (u16, String) {
    call_probe(server, "probe", token, path, body).await
}

/// A call to the probe at `/api/v1/{route}`: (status, body text).
async fn call_probe(
    server: &Server,
    route: &str,
    token: Option<&str>,
    path: &str,
    body: &[u8],
) -> (u16, String) {
    let mut request = server
        .http
        .post(server.url(&format!("/api/v1/{route}{path}")))
        .body(body.to_vec());
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("probe");
    let status = response.status().as_u16();
    (status, response.text().await.expect("probe body"))
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

/// Seals through the component: (nonce, ciphertext).
async fn seal(server: &Server, token: &str, purpose: &str, plaintext: &str) -> (Vec<u8>, Vec<u8>) {
    let (status, body) = probe(
        server,
        Some(token),
        &format!("/seal/{purpose}"),
        plaintext.as_bytes(),
    )
    .await;
    assert_eq!(status, 200, "seal: {body}");
    let (nonce, ciphertext) = body.split_once(':').expect("NONCE:CIPHERTEXT");
    (unhex(nonce), unhex(ciphertext))
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

const OLD: &str = "2020-01-01T08:00:00.000000Z";
const OLD_DAY: &str = "2020-01-01";

/// One record of every kind the retention purge handles, created at `at` (`None`: now).
async fn insert_dated_records(db: &mut Db, user: &str, at: Option<&'static str>) -> String {
    let (mood, journal, chat, insight, metric, crisis) =
        (new_id(), new_id(), new_id(), new_id(), new_id(), new_id());
    match at {
        Some(at) => {
            db.exec(
                "INSERT INTO mood_logs (id, user_id, mood_score, logged_at, created_at) VALUES ($1, $2, 4, $3, $3)",
                &[Param::Uuid(mood.clone()), Param::Uuid(user.into()), Param::Time(at)],
            )
            .await;
            db.exec(
                "INSERT INTO journal_entries (id, user_id, content_encrypted, content_iv, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)",
                &[Param::Uuid(journal), Param::Uuid(user.into()), Param::Bytes(vec![1; 32]), Param::Bytes(vec![2; 24]), Param::Time(at)],
            )
            .await;
            db.exec(
                "INSERT INTO chat_sessions (id, user_id, title, created_at, last_message_at) VALUES ($1, $2, 'old chat', $3, $3)",
                &[Param::Uuid(chat), Param::Uuid(user.into()), Param::Time(at)],
            )
            .await;
            db.exec(
                "INSERT INTO user_insights (id, user_id, insight_type, title, description, created_at) VALUES ($1, $2, 'pattern', 'old', 'old insight', $3)",
                &[Param::Uuid(insight), Param::Uuid(user.into()), Param::Time(at)],
            )
            .await;
            db.exec(
                "INSERT INTO wearable_metrics (id, user_id, metric_date, steps, created_at) VALUES ($1, $2, $3, 1000, $4)",
                &[Param::Uuid(metric), Param::Uuid(user.into()), Param::Date(OLD_DAY), Param::Time(at)],
            )
            .await;
            db.exec(
                "INSERT INTO crisis_events (id, user_id, trigger_source, severity, created_at) VALUES ($1, $2, 'mood_note', 'low', $3)",
                &[Param::Uuid(crisis), Param::Uuid(user.into()), Param::Time(at)],
            )
            .await;
        }
        None => {
            db.exec(
                "INSERT INTO mood_logs (id, user_id, mood_score) VALUES ($1, $2, 7)",
                &[Param::Uuid(mood.clone()), Param::Uuid(user.into())],
            )
            .await;
            db.exec(
                "INSERT INTO journal_entries (id, user_id, content_encrypted, content_iv) VALUES ($1, $2, $3, $4)",
                &[Param::Uuid(journal), Param::Uuid(user.into()), Param::Bytes(vec![1; 32]), Param::Bytes(vec![2; 24])],
            )
            .await;
            db.exec(
                "INSERT INTO chat_sessions (id, user_id, title) VALUES ($1, $2, 'new chat')",
                &[Param::Uuid(chat), Param::Uuid(user.into())],
            )
            .await;
            db.exec(
                "INSERT INTO user_insights (id, user_id, insight_type, title, description) VALUES ($1, $2, 'pattern', 'new', 'new insight')",
                &[Param::Uuid(insight), Param::Uuid(user.into())],
            )
            .await;
            db.exec(
                "INSERT INTO wearable_metrics (id, user_id, metric_date, steps) VALUES ($1, $2, $3, 2000)",
                &[Param::Uuid(metric), Param::Uuid(user.into()), Param::Date("2099-01-01")],
            )
            .await;
            db.exec(
                "INSERT INTO crisis_events (id, user_id, trigger_source, severity) VALUES ($1, $2, 'mood_note', 'low')",
                &[Param::Uuid(crisis), Param::Uuid(user.into())],
            )
            .await;
        }
    }
    mood
}

#[tokio::test]
async fn user_endpoints_need_a_valid_token() {
    let server = server(probe_manifest()).await;
    let cases = [
        (reqwest::Method::GET, "/api/v1/users/me"),
        (reqwest::Method::PATCH, "/api/v1/users/me"),
        (reqwest::Method::GET, "/api/v1/users/me/consents"),
        (reqwest::Method::PUT, "/api/v1/users/me/consents/ai_chat"),
        (reqwest::Method::GET, "/api/v1/users/me/export"),
        (
            reqwest::Method::PUT,
            "/api/v1/admin/users/00000000-0000-4000-8000-000000000000/subscription",
        ),
    ];
    for (method, path) in cases {
        for token in [None, Some("not-a-token")] {
            let Answer {
                status,
                body,
                headers,
            } = send(&server, method.clone(), path, token, Some(json!({}))).await;
            assert_eq!(status, 401, "{method} {path} with {token:?}: {body}");
            assert_eq!(body["type"], "urn:mindflow:problem:unauthorized");
            assert_eq!(
                headers["content-type"], "application/problem+json",
                "{method} {path}"
            );
        }
    }
}

#[tokio::test]
async fn me_shows_the_profile_and_patch_validates_every_field() {
    let server = server(probe_manifest()).await;
    let address = email("me");
    let (token, id) = server.register(&address).await.expect("register");

    let Answer {
        status,
        body: me,
        headers,
    } = send(
        &server,
        reqwest::Method::GET,
        "/api/v1/users/me",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(me["id"], id.as_str());
    assert_eq!(me["email"], address.as_str());
    assert_eq!(me["timezone"], "UTC");
    assert_eq!(me["locale"], "en-US");
    assert_eq!(me["subscription_tier"], "free");
    assert_eq!(me["data_retention_days"], 365);
    assert!(me.get("password_hash").is_none(), "{me}");
    let created_updated_at = me["updated_at"].as_str().expect("updated_at").to_owned();

    tokio::time::sleep(Duration::from_millis(20)).await;
    let Answer {
        status,
        body: patched,
        ..
    } = send(
        &server,
        reqwest::Method::PATCH,
        "/api/v1/users/me",
        Some(&token),
        Some(json!({
            "display_name": "Ada",
            "avatar_url": "https://cdn.example.com/ada.png",
            "timezone": "Europe/Paris",
            "locale": "fr-fr",
            "data_retention_days": 90
        })),
    )
    .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["display_name"], "Ada");
    assert_eq!(patched["avatar_url"], "https://cdn.example.com/ada.png");
    assert_eq!(patched["timezone"], "Europe/Paris");
    assert_eq!(patched["locale"], "fr-FR", "canonical case");
    assert_eq!(patched["data_retention_days"], 90);
    let updated_at = patched["updated_at"]
        .as_str()
        .expect("updated_at")
        .to_owned();
    assert!(
        updated_at > created_updated_at,
        "{updated_at} after {created_updated_at}"
    );
    assert_eq!(get_ok(&server, "/api/v1/users/me", &token).await, patched);

    // Every bad field is reported, and nothing changes.
    let Answer {
        status,
        body: problem,
        headers,
    } = send(
        &server,
        reqwest::Method::PATCH,
        "/api/v1/users/me",
        Some(&token),
        Some(json!({
            "display_name": "x".repeat(101),
            "avatar_url": "ftp://cdn.example.com/ada.png",
            "timezone": "Mars/Olympus_Mons",
            "locale": "english-language",
            "data_retention_days": 7,
            "email": "someone@example.com",
            "subscription_tier": "premium",
            "favourite_colour": "blue"
        })),
    )
    .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(headers["content-type"], "application/problem+json");
    assert_eq!(problem["type"], "urn:mindflow:problem:validation");
    assert_eq!(
        problem_fields(&problem),
        [
            "avatar_url",
            "data_retention_days",
            "display_name",
            "email",
            "favourite_colour",
            "locale",
            "subscription_tier",
            "timezone"
        ]
    );
    for (field, value) in [
        ("data_retention_days", json!(3651)),
        ("data_retention_days", json!("90")),
        (
            "avatar_url",
            json!(format!("https://example.com/{}", "a".repeat(500))),
        ),
        ("avatar_url", json!("javascript:alert(1)")),
        ("timezone", json!(null)),
        ("locale", json!("en_US")),
        ("display_name", json!("   ")),
    ] {
        let Answer {
            status,
            body: problem,
            ..
        } = send(
            &server,
            reqwest::Method::PATCH,
            "/api/v1/users/me",
            Some(&token),
            Some(json!({ field: value })),
        )
        .await;
        assert_eq!(status, 422, "{field} = {value}: {problem}");
        assert_eq!(problem_fields(&problem), [field]);
    }
    let Answer { status, .. } = send(
        &server,
        reqwest::Method::PATCH,
        "/api/v1/users/me",
        Some(&token),
        Some(json!(["not", "an", "object"])),
    )
    .await;
    assert_eq!(status, 422);
    let response = server
        .http
        .patch(server.url("/api/v1/users/me"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 400);
    assert_eq!(get_ok(&server, "/api/v1/users/me", &token).await, patched);

    // `null` clears the optional fields.
    let Answer {
        status,
        body: cleared,
        ..
    } = send(
        &server,
        reqwest::Method::PATCH,
        "/api/v1/users/me",
        Some(&token),
        Some(json!({"display_name": null, "avatar_url": null})),
    )
    .await;
    assert_eq!(status, 200, "{cleared}");
    assert_eq!(cleared["display_name"], Value::Null);
    assert_eq!(cleared["avatar_url"], Value::Null);
    assert_eq!(cleared["timezone"], "Europe/Paris");
}

#[tokio::test]
async fn consents_record_when_where_and_from_what_client() {
    let server = server(probe_manifest()).await;
    let (token, _) = user(&server, "consent").await;
    let list = get_ok(&server, "/api/v1/users/me/consents", &token).await;
    let types: Vec<&str> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|c| c["consent_type"].as_str().expect("type"))
        .collect();
    assert_eq!(
        types,
        [
            "data_processing",
            "ai_chat",
            "chat_mood_context",
            "wearables",
            "research",
            "marketing",
            "analytics"
        ]
    );
    assert!(
        list["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|c| c["granted"] == false)
    );

    let put = |granted: Value, agent: &'static str| {
        let request = server
            .http
            .put(server.url("/api/v1/users/me/consents/ai_chat"))
            .bearer_auth(&token)
            .header("user-agent", agent)
            .json(&json!({ "granted": granted }));
        async move {
            let response = request.send().await.expect("put");
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.expect("json"))
        }
    };
    let (status, granted) = put(json!(true), "MindFlow-iOS/1.0").await;
    assert_eq!(status, 200, "{granted}");
    assert_eq!(granted["consent_type"], "ai_chat");
    assert_eq!(granted["granted"], true);
    assert_eq!(granted["ip_address"], "127.0.0.1");
    assert_eq!(granted["user_agent"], "MindFlow-iOS/1.0");
    assert_eq!(granted["revoked_at"], Value::Null);
    let granted_at = granted["granted_at"]
        .as_str()
        .expect("granted_at")
        .to_owned();

    // Granting again changes nothing: the first evidence stays.
    let (status, again) = put(json!(true), "another-client/2").await;
    assert_eq!(status, 200);
    assert_eq!(again["granted_at"], granted_at.as_str());
    assert_eq!(again["user_agent"], "MindFlow-iOS/1.0");

    tokio::time::sleep(Duration::from_millis(20)).await;
    let (status, revoked) = put(json!(false), "MindFlow-Android/3.1").await;
    assert_eq!(status, 200, "{revoked}");
    assert_eq!(revoked["granted"], false);
    assert_eq!(
        revoked["granted_at"],
        granted_at.as_str(),
        "kept as history"
    );
    let revoked_at = revoked["revoked_at"].as_str().expect("revoked_at");
    assert!(revoked_at > granted_at.as_str());
    assert_eq!(revoked["user_agent"], "MindFlow-Android/3.1");

    let (status, regranted) = put(json!(true), "MindFlow-iOS/1.1").await;
    assert_eq!(status, 200);
    assert_eq!(regranted["revoked_at"], Value::Null);
    assert!(regranted["granted_at"].as_str().expect("granted_at") > revoked_at);

    let list = get_ok(&server, "/api/v1/users/me/consents", &token).await;
    let ai_chat = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|c| c["consent_type"] == "ai_chat")
        .expect("ai_chat")
        .clone();
    assert_eq!(ai_chat, regranted);

    let (status, problem) = {
        let Answer {
            status: s, body: b, ..
        } = send(
            &server,
            reqwest::Method::PUT,
            "/api/v1/users/me/consents/telepathy",
            Some(&token),
            Some(json!({"granted": true})),
        )
        .await;
        (s, b)
    };
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem_fields(&problem), ["consent_type"]);
    for (body, fields) in [
        (json!({"granted": "yes"}), vec!["granted"]),
        (json!({}), vec!["granted"]),
        (json!({"granted": true, "scope": "all"}), vec!["scope"]),
    ] {
        let Answer {
            status,
            body: problem,
            ..
        } = send(
            &server,
            reqwest::Method::PUT,
            "/api/v1/users/me/consents/research",
            Some(&token),
            Some(body.clone()),
        )
        .await;
        assert_eq!(status, 422, "{body}: {problem}");
        assert_eq!(problem_fields(&problem), fields);
    }
}

#[tokio::test]
async fn crypto_capability_acts_for_the_caller_only() {
    let server = server(probe_manifest()).await;
    let (alice, _) = user(&server, "alice").await;
    let (bob, _) = user(&server, "bob").await;
    let (nonce, ciphertext) = seal(&server, &alice, "journal", "dear diary").await;
    let sealed = format!("{}:{}", hex(&nonce), hex(&ciphertext));
    assert_eq!(nonce.len(), 24);
    assert_eq!(
        probe(&server, Some(&alice), "/open/journal", sealed.as_bytes()).await,
        (200, "dear diary".to_owned())
    );
    seal(&server, &bob, "journal", "bob's").await;
    assert_eq!(
        probe(&server, Some(&bob), "/open/journal", sealed.as_bytes()).await,
        (409, "tampered".to_owned())
    );
    let (status, _) = probe(&server, Some(&alice), "/seal/journal-term", b"x").await;
    assert_eq!(
        status, 200,
        "the journal's other purpose is the journal's too"
    );
    assert_eq!(
        probe(&server, None, "/open/journal", sealed.as_bytes()).await,
        (409, "no-user".to_owned())
    );
    assert_eq!(
        probe(&server, None, "/seal/journal", b"x").await,
        (409, "no-user".to_owned())
    );
    let (status, alice_hash) =
        probe(&server, Some(&alice), "/hash/journal-term", b"same text").await;
    assert_eq!(status, 200);
    assert_eq!(alice_hash.len(), 64);
    assert_eq!(
        probe(&server, Some(&alice), "/hash/journal-term", b"same text")
            .await
            .1,
        alice_hash
    );
    assert_ne!(
        probe(&server, Some(&bob), "/hash/journal-term", b"same text")
            .await
            .1,
        alice_hash
    );
}

/// A crypto purpose belongs to one component (or to the host): another component granted
/// `crypto` cannot open the journal's text or a safety plan, nor test guesses against the
/// journal's or the crisis events' keyed hashes. Asking traps the component: its request
/// fails, the host keeps serving, and nothing is disclosed.
#[tokio::test]
async fn a_component_can_use_only_the_crypto_purposes_it_owns() {
    let server = server(probe_manifest()).await;
    let (alice, _) = user(&server, "alice").await;
    let (nonce, ciphertext) = seal(&server, &alice, "journal", "dear diary").await;
    let sealed = format!("{}:{}", hex(&nonce), hex(&ciphertext));
    let stranger = |path: &'static str, body: Vec<u8>| {
        let server = &server;
        let alice = &alice;
        async move { call_probe(server, "stranger", Some(alice), path, &body).await }
    };
    for (path, body) in [
        ("/open/journal", sealed.as_bytes().to_vec()),
        ("/seal/journal", b"forged entry".to_vec()),
        ("/hash/journal-term", b"sea".to_vec()),
        ("/open/safety_plan", sealed.as_bytes().to_vec()),
        ("/hash/crisis_event", b"a guess".to_vec()),
    ] {
        let (status, text) = stranger(path, body).await;
        assert_eq!(status, 500, "{path}: {text}");
        assert!(!text.contains("dear diary"), "{path}: {text}");
    }
    // The journal's stand-in may not use the host's purposes either.
    for path in ["/open/safety_plan", "/hash/crisis_event"] {
        let (status, _) = probe(&server, Some(&alice), path, sealed.as_bytes()).await;
        assert_eq!(status, 500, "{path}");
    }
    // Each still serves what is its own.
    let (status, _) = stranger("/seal/crypto-probe", b"mine".to_vec()).await;
    assert_eq!(status, 200);
    assert_eq!(
        probe(&server, Some(&alice), "/open/journal", sealed.as_bytes()).await,
        (200, "dear diary".to_owned())
    );
}

#[tokio::test]
async fn export_holds_every_record_opened_and_no_secret() {
    let server = server(probe_manifest()).await;
    let address = email("export");
    let (token, id) = server.register(&address).await.expect("register");
    let (other, other_id) = user(&server, "other").await;
    send(
        &server,
        reqwest::Method::PATCH,
        "/api/v1/users/me",
        Some(&token),
        Some(json!({"display_name": "Exporter"})),
    )
    .await;
    send(
        &server,
        reqwest::Method::PUT,
        "/api/v1/users/me/consents/wearables",
        Some(&token),
        Some(json!({"granted": true})),
    )
    .await;
    let (journal_nonce, journal_ciphertext) =
        seal(&server, &token, "journal", "Today I walked by the sea.").await;
    // The safety plan is the host's: it is sealed by the host's own endpoint.
    let plan = send(
        &server,
        reqwest::Method::PUT,
        "/api/v1/crisis/safety-plan",
        Some(&token),
        Some(json!({"people_to_ask_for_help": [{"name": "Sam"}]})),
    )
    .await;
    assert_eq!(plan.status, 200, "{}", plan.body);
    let (elsewhere_nonce, elsewhere_ciphertext) =
        seal(&server, &token, "journal-term", "not an entry").await;
    let (other_nonce, other_ciphertext) = seal(&server, &other, "journal", "not yours").await;

    let mut db = Db::open(&server).await;
    let mood = insert_dated_records(&mut db, &id, None).await;
    db.exec(
        "INSERT INTO mood_factors (id, mood_log_id, factor_type, factor_value, impact_score) VALUES ($1, $2, 'sleep', 'poor', $3)",
        &[Param::Uuid(new_id()), Param::Uuid(mood.clone()), Param::Int(-2)],
    )
    .await;
    let journal = new_id();
    db.exec(
        "INSERT INTO journal_entries (id, user_id, content_encrypted, content_iv, word_count) VALUES ($1, $2, $3, $4, 6)",
        &[
            Param::Uuid(journal.clone()),
            Param::Uuid(id.clone()),
            Param::Bytes(journal_ciphertext.clone()),
            Param::Bytes(journal_nonce.clone()),
        ],
    )
    .await;
    // A value sealed for another purpose cannot be passed off as a journal entry.
    db.exec(
        "INSERT INTO journal_entries (id, user_id, content_encrypted, content_iv) VALUES ($1, $2, $3, $4)",
        &[
            Param::Uuid(new_id()),
            Param::Uuid(id.clone()),
            Param::Bytes(elsewhere_ciphertext),
            Param::Bytes(elsewhere_nonce),
        ],
    )
    .await;
    let session = new_id();
    db.exec(
        "INSERT INTO chat_sessions (id, user_id, title, message_count) VALUES ($1, $2, 'Evening talk', 1)",
        &[Param::Uuid(session.clone()), Param::Uuid(id.clone())],
    )
    .await;
    // Chat text is sealed by the chat component under its own purpose (a probe cannot seal
    // for it): a value that does not open is exported as such, beside its session.
    let message = new_id();
    db.exec(
        "INSERT INTO chat_messages (id, session_id, role, content_encrypted, content_iv) VALUES ($1, $2, 'user', $3, $4)",
        &[
            Param::Uuid(message.clone()),
            Param::Uuid(session.clone()),
            Param::Bytes(vec![3; 40]),
            Param::Bytes(vec![4; 24]),
        ],
    )
    .await;
    let connection = new_id();
    db.exec(
        "INSERT INTO wearable_connections (id, user_id, provider, access_token_encrypted, refresh_token_encrypted, scopes) VALUES ($1, $2, 'oura', $3, $3, $4)",
        &[
            Param::Uuid(connection.clone()),
            Param::Uuid(id.clone()),
            Param::Bytes(b"SECRET-WEARABLE-TOKEN".to_vec()),
            Param::Json(r#"["sleep"]"#),
        ],
    )
    .await;
    db.exec(
        "INSERT INTO oauth_connections (id, user_id, provider, provider_user_id, access_token_encrypted) VALUES ($1, $2, 'google', $3, $4)",
        &[
            Param::Uuid(new_id()),
            Param::Uuid(id.clone()),
            Param::Text(format!("google-{id}")),
            Param::Bytes(b"SECRET-OAUTH-TOKEN".to_vec()),
        ],
    )
    .await;
    db.exec(
        "INSERT INTO recommendations (id, user_id, reason, priority) VALUES ($1, $2, 'because', 3)",
        &[Param::Uuid(new_id()), Param::Uuid(id.clone())],
    )
    .await;
    // Another user's rows never appear.
    db.exec(
        "INSERT INTO journal_entries (id, user_id, content_encrypted, content_iv) VALUES ($1, $2, $3, $4)",
        &[
            Param::Uuid(new_id()),
            Param::Uuid(other_id.clone()),
            Param::Bytes(other_ciphertext),
            Param::Bytes(other_nonce),
        ],
    )
    .await;
    insert_dated_records(&mut db, &other_id, None).await;

    let response = server
        .http
        .get(server.url("/api/v1/users/me/export"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("export");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let disposition = response.headers()["content-disposition"]
        .to_str()
        .expect("disposition")
        .to_owned();
    assert!(
        disposition.starts_with("attachment; filename=\"mindflow-export-"),
        "{disposition}"
    );
    let text = response.text().await.expect("text");
    let export: Value = serde_json::from_str(&text).expect("json");

    assert_eq!(export["format"], "mindflow-export/1");
    assert_eq!(export["user"]["id"], id.as_str());
    assert_eq!(export["user"]["email"], address.as_str());
    assert_eq!(export["user"]["display_name"], "Exporter");
    assert!(export["user"].get("password_hash").is_none());
    assert_eq!(export["consents"].as_array().expect("consents").len(), 1);
    assert_eq!(export["consents"][0]["consent_type"], "wearables");
    assert_eq!(export["consents"][0]["ip_address"], "127.0.0.1");
    assert_eq!(export["mood_logs"].as_array().expect("moods").len(), 1);
    assert_eq!(export["mood_logs"][0]["id"], mood.as_str());
    assert_eq!(export["mood_logs"][0]["mood_score"], 7);
    assert_eq!(export["mood_logs"][0]["factors"][0]["factor_type"], "sleep");
    assert_eq!(export["mood_logs"][0]["factors"][0]["impact_score"], -2);
    let entries = export["journal_entries"].as_array().expect("journal");
    assert_eq!(entries.len(), 3, "{entries:?}");
    let entry = entries
        .iter()
        .find(|e| e["id"] == journal.as_str())
        .expect("the sealed entry");
    assert_eq!(entry["content"], "Today I walked by the sea.");
    assert!(
        entry.get("topics").is_none(),
        "topics are derived, never stored: {entry}"
    );
    assert_eq!(entry["word_count"], 6);
    assert_eq!(
        entries
            .iter()
            .filter(|e| e["content_error"] == "tampered")
            .count(),
        2,
        "the entry sealed for another purpose and the garbage one: {entries:?}"
    );
    let plan = export["safety_plan"]["content"]
        .as_str()
        .expect("the plan opened");
    assert!(plan.contains("Sam"), "{plan}");
    let sessions = export["chat_sessions"].as_array().expect("chats");
    let talk = sessions
        .iter()
        .find(|s| s["id"] == session.as_str())
        .expect("session");
    assert_eq!(talk["title"], "Evening talk");
    assert_eq!(sessions.len(), 2);
    let messages = export["chat_messages"].as_array().expect("chat messages");
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(messages[0]["id"], message.as_str());
    assert_eq!(messages[0]["session_id"], session.as_str());
    assert_eq!(messages[0]["content_error"], "tampered");
    assert!(messages[0].get("content_encrypted").is_none());
    assert_eq!(export["insights"].as_array().expect("insights").len(), 1);
    assert_eq!(export["recommendations"][0]["reason"], "because");
    assert_eq!(export["wearable_connections"][0]["provider"], "oura");
    assert_eq!(
        export["wearable_connections"][0]["scopes"],
        json!(["sleep"])
    );
    assert_eq!(export["wearable_metrics"][0]["metric_date"], "2099-01-01");
    assert_eq!(export["crisis_events"][0]["severity"], "low");
    assert_eq!(export["oauth_connections"][0]["provider"], "google");
    for secret in [
        "SECRET-WEARABLE-TOKEN",
        "SECRET-OAUTH-TOKEN",
        "access_token",
        "refresh_token",
        "password",
        "token_hash",
        "not yours",
        other_id.as_str(),
    ] {
        assert!(!text.contains(secret), "the export leaks `{secret}`");
    }
}

#[tokio::test]
async fn retention_purge_deletes_only_what_is_past_each_users_period() {
    let server = server(probe_manifest()).await;
    let (short_token, short) = user(&server, "short").await;
    let (long_token, long) = user(&server, "long").await;
    let Answer { status, .. } = send(
        &server,
        reqwest::Method::PATCH,
        "/api/v1/users/me",
        Some(&short_token),
        Some(json!({"data_retention_days": 30})),
    )
    .await;
    assert_eq!(status, 200);
    send(
        &server,
        reqwest::Method::PATCH,
        "/api/v1/users/me",
        Some(&long_token),
        Some(json!({"data_retention_days": 3650})),
    )
    .await;
    let mut db = Db::open(&server).await;
    let old_mood = insert_dated_records(&mut db, &short, Some(OLD)).await;
    let fresh_mood = insert_dated_records(&mut db, &short, None).await;
    db.exec(
        "INSERT INTO mood_factors (id, mood_log_id, factor_type) VALUES ($1, $2, 'sleep')",
        &[Param::Uuid(new_id()), Param::Uuid(old_mood.clone())],
    )
    .await;
    // A recommendation still pointing at an expired insight must not block its deletion.
    db.exec(
        "INSERT INTO recommendations (id, user_id, insight_id) SELECT $1, user_id, id FROM user_insights WHERE user_id = $2 AND title = 'old'",
        &[Param::Uuid(new_id()), Param::Uuid(short.clone())],
    )
    .await;
    db.exec(
        "UPDATE recommendations SET created_at = $1 WHERE user_id = $2",
        &[
            Param::Time("2099-01-01T00:00:00.000000Z"),
            Param::Uuid(short.clone()),
        ],
    )
    .await;
    // Within 3650 days: kept.
    insert_dated_records(&mut db, &long, Some(OLD)).await;

    let output = server.cli(&["retention", "purge"]).expect("cli");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("deleted 6 expired records"), "{stdout}");

    let export = get_ok(&server, "/api/v1/users/me/export", &short_token).await;
    let moods = export["mood_logs"].as_array().expect("moods");
    assert_eq!(moods.len(), 1);
    assert_eq!(moods[0]["id"], fresh_mood.as_str());
    for section in [
        "journal_entries",
        "chat_sessions",
        "insights",
        "wearable_metrics",
        "crisis_events",
    ] {
        assert_eq!(
            export[section].as_array().expect(section).len(),
            1,
            "{section}: {}",
            export[section]
        );
    }
    assert_eq!(export["recommendations"][0]["insight_id"], Value::Null);
    assert_eq!(
        db.count(
            "SELECT COUNT(*) FROM mood_factors WHERE mood_log_id = $1",
            &[Param::Uuid(old_mood)]
        )
        .await,
        0
    );
    let long_export = get_ok(&server, "/api/v1/users/me/export", &long_token).await;
    assert_eq!(long_export["mood_logs"].as_array().expect("moods").len(), 1);
    assert_eq!(
        long_export["crisis_events"]
            .as_array()
            .expect("crisis")
            .len(),
        1
    );

    // Nothing left to purge.
    let output = server.cli(&["retention", "purge"]).expect("cli");
    assert!(String::from_utf8_lossy(&output.stdout).contains("deleted 0 expired records"));
}

#[tokio::test]
async fn subscription_tiers_follow_the_admin_api_and_the_cli() {
    let server = server(probe_manifest()).await;
    let admin = server.admin_token().await.expect("admin");
    let address = email("tier");
    let (token, id) = server.register(&address).await.expect("register");
    let path = format!("/api/v1/admin/users/{id}/subscription");
    let tier = |token: String| {
        let server = &server;
        async move { get_ok(server, "/api/v1/users/me", &token).await["subscription_tier"].clone() }
    };

    let Answer {
        status,
        body: problem,
        ..
    } = send(
        &server,
        reqwest::Method::PUT,
        &path,
        Some(&token),
        Some(json!({"tier": "premium"})),
    )
    .await;
    assert_eq!(status, 403, "{problem}");

    let Answer { status, body, .. } = send(
        &server,
        reqwest::Method::PUT,
        &path,
        Some(&admin),
        Some(json!({"tier": "premium", "expires_at": "2099-01-01T00:00:00Z"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["effective_tier"], "premium");
    assert_eq!(tier(token.clone()).await, "premium");
    let me = get_ok(&server, "/api/v1/users/me", &token).await;
    assert_eq!(me["subscription_expires_at"], "2099-01-01T00:00:00.000000Z");

    // An expired premium is free in effect.
    let Answer { status, body, .. } = send(
        &server,
        reqwest::Method::PUT,
        &path,
        Some(&admin),
        Some(json!({"tier": "premium", "expires_at": "2020-01-01T00:00:00+02:00"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["effective_tier"], "free");
    assert_eq!(tier(token.clone()).await, "free");

    for (body, fields) in [
        (json!({"tier": "gold"}), vec!["tier"]),
        (
            json!({"tier": "premium", "expires_at": "next week"}),
            vec!["expires_at"],
        ),
        (json!({"tier": "premium", "plan": "yearly"}), vec!["plan"]),
        (
            json!({"tier": "free", "expires_at": "2099-01-01T00:00:00Z"}),
            vec!["expires_at"],
        ),
    ] {
        let Answer {
            status,
            body: problem,
            ..
        } = send(
            &server,
            reqwest::Method::PUT,
            &path,
            Some(&admin),
            Some(body.clone()),
        )
        .await;
        assert_eq!(status, 422, "{body}: {problem}");
        assert_eq!(problem_fields(&problem), fields, "{body}");
    }
    for unknown in [
        "/api/v1/admin/users/00000000-0000-4000-8000-000000000000/subscription",
        "/api/v1/admin/users/not-a-uuid/subscription",
    ] {
        let Answer { status, .. } = send(
            &server,
            reqwest::Method::PUT,
            unknown,
            Some(&admin),
            Some(json!({"tier": "premium"})),
        )
        .await;
        assert_eq!(status, 404, "{unknown}");
    }

    // The CLI.
    let output = server
        .cli(&["user", "set-tier", &address, "premium"])
        .expect("cli");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(tier(token.clone()).await, "premium");
    assert_eq!(
        get_ok(&server, "/api/v1/users/me", &token).await["subscription_expires_at"],
        Value::Null
    );
    let output = server
        .cli(&[
            "user",
            "set-tier",
            &address,
            "premium",
            "--expires-at",
            "2001-01-01T00:00:00Z",
        ])
        .expect("cli");
    assert!(output.status.success());
    assert_eq!(tier(token.clone()).await, "free");
    let output = server
        .cli(&["user", "set-tier", &address, "free"])
        .expect("cli");
    assert!(output.status.success());
    assert_eq!(tier(token.clone()).await, "free");
    for bad in [
        vec!["user", "set-tier", &address, "platinum"],
        vec!["user", "set-tier", "nobody@example.com", "premium"],
        vec![
            "user",
            "set-tier",
            &address,
            "premium",
            "--expires-at",
            "soon",
        ],
    ] {
        let output = server.cli(&bad).expect("cli");
        assert!(!output.status.success(), "{bad:?} succeeded");
    }

    let audit = get_ok(&server, "/api/v1/admin/audit?limit=100", &admin).await;
    let changes = audit["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|e| e["action"] == "user.set_subscription" && e["target"] == id.as_str())
        .count();
    assert_eq!(changes, 5, "{audit}");
}

#[tokio::test]
async fn rotating_the_master_key_keeps_sealed_data_readable() {
    let mut first = server_with(probe_manifest(), &[("MINDFLOW_MASTER_KEY", MASTER_A)]).await;
    let (token, _) = user(&first, "rotate").await;
    let (nonce, ciphertext) = seal(&first, &token, "journal", "before the rotation").await;
    let sealed = format!("{}:{}", hex(&nonce), hex(&ciphertext));
    assert!(first.terminate().expect("terminate"));
    assert!(!first.log().contains(MASTER_A), "the master key was logged");

    let rotate = |env: &[(&str, &str)]| {
        let mut command = std::process::Command::new(binary());
        command
            .arg("--data-dir")
            .arg(&first.data_dir)
            .arg("--manifest")
            .arg(&first.manifest_path)
            .args(["keys", "rotate"])
            .env_remove("DATABASE_URL")
            .env_remove("MINDFLOW_MASTER_KEY")
            .env_remove("MINDFLOW_PREVIOUS_MASTER_KEYS");
        if let Some(url) = &first.database_url {
            command.env("DATABASE_URL", url);
        }
        for (key, value) in env {
            command.env(key, value);
        }
        command.output().expect("mindflow keys rotate")
    };
    // Without the old key the keys cannot be re-wrapped: it fails and says why.
    let output = rotate(&[("MINDFLOW_MASTER_KEY", MASTER_C)]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("not configured"), "{stderr}");
    assert!(!stderr.contains(MASTER_C));

    let output = rotate(&[
        ("MINDFLOW_MASTER_KEY", MASTER_B),
        ("MINDFLOW_PREVIOUS_MASTER_KEYS", MASTER_A),
    ]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("re-wrapped 1 data keys"), "{stdout}");
    let again = rotate(&[
        ("MINDFLOW_MASTER_KEY", MASTER_B),
        ("MINDFLOW_PREVIOUS_MASTER_KEYS", MASTER_A),
    ]);
    assert!(String::from_utf8_lossy(&again.stdout).contains("re-wrapped 0 data keys"));

    // The old key is gone from the configuration; what was sealed under it still opens.
    let options = ServerOptions {
        manifest: probe_manifest(),
        database_url: first.database_url.clone(),
        env: vec![("MINDFLOW_MASTER_KEY".into(), MASTER_B.into())],
        flags: Vec::new(),
        data_dir: Some(first.data_dir.clone()),
    };
    let second = Server::start(options).await.expect("restart");
    // The access token is still valid: the JWT secret lives in the same data directory.
    assert_eq!(
        probe(&second, Some(&token), "/open/journal", sealed.as_bytes()).await,
        (200, "before the rotation".to_owned())
    );
    assert!(!second.log().contains(MASTER_B));
}

/// The bytes stored for every sealed value of the database (journal text, mood notes,
/// safety plans), by row id.
async fn sealed_bytes(server: &Server) -> Vec<(String, Vec<u8>)> {
    let mut db = Db::open(server).await;
    let mut all = Vec::new();
    for (table, column) in [
        ("journal_entries", "content_encrypted"),
        ("mood_logs", "note_encrypted"),
        ("safety_plans", "content_encrypted"),
    ] {
        all.extend(
            db.rows_of_bytes(&format!(
                "SELECT CAST(id AS TEXT) AS id, {column} AS value FROM {table} WHERE {column} IS NOT NULL ORDER BY id"
            ))
            .await,
        );
    }
    all
}

/// `mindflow keys rotate-data-key` while the server runs: every value the person sealed
/// (journal text, mood note, safety plan) is sealed again under a new data key, the old key
/// is erased, and through the API everything reads as before, search and emotion filters
/// included (keyed hashes do not change); another user is untouched.
#[tokio::test]
async fn rotating_a_data_key_seals_everything_again_while_serving() {
    let ttl = ("MINDFLOW_KEY_CACHE_TTL_SECONDS", "1");
    let server = server_with(
        mindflow_tests::Manifest::product(&["journal", "mood", "crisis-rules"]),
        &[ttl],
    )
    .await;
    let address = email("rekey");
    let (token, _) = server.register(&address).await.expect("register");
    let (other, _) = user(&server, "rekey-other").await;
    let write = |token: String, path: &'static str, body: Value| {
        let server = &server;
        async move {
            let answer = send(
                server,
                reqwest::Method::POST,
                path,
                Some(&token),
                Some(body),
            )
            .await;
            assert_eq!(answer.status, 201, "{path}: {}", answer.body);
            answer.body
        }
    };
    let entry = write(
        token.clone(),
        "/api/v1/journal/entries",
        json!({"content": "Quince jam with grandmother, a lovely calm afternoon"}),
    )
    .await;
    write(
        token.clone(),
        "/api/v1/mood/logs",
        json!({"mood_score": 6, "note": "slept well after the quince jam"}),
    )
    .await;
    write(
        other.clone(),
        "/api/v1/journal/entries",
        json!({"content": "Someone else's page"}),
    )
    .await;
    let plan = json!({"warning_signs": ["not sleeping"], "reasons_for_living": ["the orchard"]});
    let put = send(
        &server,
        reqwest::Method::PUT,
        "/api/v1/crisis/safety-plan",
        Some(&token),
        Some(plan.clone()),
    )
    .await;
    assert_eq!(put.status, 200, "{}", put.body);
    let before = sealed_bytes(&server).await;
    assert_eq!(
        before.len(),
        4,
        "three of this user's values and one of the other's"
    );

    let output = server
        .cli(&[
            "--key-cache-ttl-seconds",
            "1",
            "keys",
            "rotate-data-key",
            "--user",
            &address,
        ])
        .expect("cli");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("rotated 1 data keys"), "{stdout}");
    assert!(stdout.contains("sealed 3 values again"), "{stdout}");
    assert!(stdout.contains("the old data keys are erased"), "{stdout}");

    let after = sealed_bytes(&server).await;
    let changed = before
        .iter()
        .zip(&after)
        .filter(|((id_a, a), (id_b, b))| id_a == id_b && a != b)
        .count();
    assert_eq!(
        changed, 3,
        "this user's three values are sealed anew, the other's not"
    );
    let mut db = Db::open(&server).await;
    assert_eq!(
        db.count(
            "SELECT COUNT(*) FROM user_data_keys WHERE key_version = 2 AND retired_key IS NULL AND hash_key IS NOT NULL",
            &[]
        )
        .await,
        1
    );

    // Everything reads as before, through the running server.
    let read = get_ok(
        &server,
        &format!(
            "/api/v1/journal/entries/{}",
            entry["id"].as_str().expect("id")
        ),
        &token,
    )
    .await;
    assert_eq!(read["content"], entry["content"]);
    let found = get_ok(&server, "/api/v1/journal/entries?q=quince", &token).await;
    assert_eq!(found["items"].as_array().map(Vec::len), Some(1), "{found}");
    let emotion = entry["primary_emotion"].as_str().expect("emotion");
    let by_emotion = get_ok(
        &server,
        &format!("/api/v1/journal/entries?primary_emotion={emotion}"),
        &token,
    )
    .await;
    assert_eq!(by_emotion["items"].as_array().map(Vec::len), Some(1));
    let logs = get_ok(&server, "/api/v1/mood/logs", &token).await;
    assert_eq!(logs["items"][0]["note"], "slept well after the quince jam");
    let stored_plan = get_ok(&server, "/api/v1/crisis/safety-plan", &token).await;
    assert_eq!(stored_plan["plan"]["warning_signs"], plan["warning_signs"]);
    let theirs = get_ok(&server, "/api/v1/journal/entries", &other).await;
    assert_eq!(theirs["items"][0]["content"], "Someone else's page");
    // New writes use the new key and read back.
    write(
        token.clone(),
        "/api/v1/journal/entries",
        json!({"content": "After the rotation"}),
    )
    .await;
    let all = get_ok(&server, "/api/v1/journal/entries", &token).await;
    assert_eq!(all["items"][0]["content"], "After the rotation");
}

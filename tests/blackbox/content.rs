//! The content library (issue 16): the built-in library synced at start-up, `GET
//! /api/v1/content` with its filters and pages, premium gating, `mindflow content seed` run
//! twice, a partner's content provider activated, trimmed and rolled back through the admin
//! API, and hostile providers refused without harm to the host.

use mindflow_tests::admin::{activate, upload};
use mindflow_tests::database::{Db, Param};
use mindflow_tests::http::{Answer, get, send};
use mindflow_tests::manifest::Manifest;
use mindflow_tests::{Server, accounts, server};
use reqwest::Method;
use serde_json::{Value, json};

/// The content service and the built-in library, beside the crisis rules.
fn content_manifest() -> Manifest {
    Manifest::product(&["content", "content-library", "crisis-rules"])
}

/// Plus the example partner plugin (its first version) as component `partner`.
fn partner_manifest() -> Manifest {
    content_manifest().with(
        r#"
[component.partner]
source = "{components}/content-partner-mindfulness.wasm"
[component.partner.tool.mindflow]
kind = "content-provider"
"#,
    )
}

/// The first journaling prompt of migration 0007, now owned by the library.
const THREE_GOOD_THINGS: &str = "3c1f0e7a-5b2d-4e8a-9f61-7a0d2c9e0001";

/// Every item the list shows under `query`, following the cursor.
async fn all_items(server: &Server, token: &str, query: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..50 {
        let mut path = format!("/api/v1/content?limit=100&{query}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page = get(server, &path, token).await;
        assert_eq!(page.status, 200, "{path}: {}", page.body);
        items.extend(page.body["items"].as_array().cloned().unwrap_or_default());
        cursor = page.body["next_cursor"].as_str().map(str::to_owned);
        if cursor.is_none() {
            return items;
        }
    }
    panic!("the pages never ended");
}

fn ids(items: &[Value]) -> Vec<String> {
    let mut ids: Vec<String> = items
        .iter()
        .filter_map(|i| i["id"].as_str().map(str::to_owned))
        .collect();
    ids.sort();
    ids
}

async fn premium_user(server: &Server, tag: &str) -> String {
    let (token, id) = accounts::user(server, tag).await;
    let admin = server.admin_token().await.expect("admin");
    let upgraded = send(
        server,
        Method::PUT,
        &format!("/api/v1/admin/users/{id}/subscription"),
        Some(&admin),
        Some(json!({"tier": "premium", "expires_at": null})),
    )
    .await;
    assert_eq!(upgraded.status, 200, "{}", upgraded.body);
    token
}

#[tokio::test]
async fn the_library_is_listed_filtered_and_paged() {
    let server = server(content_manifest()).await;
    let (token, _) = accounts::user(&server, "content-list").await;
    let items = all_items(&server, &token, "").await;
    assert!(items.len() >= 54, "{} items", items.len());
    assert_eq!(ids(&items).len(), items.len(), "no duplicates");
    for item in &items {
        assert!(item.get("content_body").is_none(), "{item}");
        assert_eq!(item["locked"], item["is_premium"]);
        assert_eq!(item["provider"], "content-library");
    }
    for kind in [
        "breathing",
        "grounding",
        "relaxation",
        "cbt",
        "behavioural_activation",
        "sleep_hygiene",
        "psychoeducation",
        "journaling_prompt",
    ] {
        let typed = all_items(&server, &token, &format!("content_type={kind}")).await;
        assert!(!typed.is_empty(), "{kind}");
        assert!(typed.iter().all(|i| i["content_type"] == kind), "{kind}");
    }
    // The migration's prompts are the library's now, under their old ids.
    let prompts = all_items(&server, &token, "content_type=journaling_prompt").await;
    assert!(prompts.iter().any(|p| p["id"] == THREE_GOOD_THINGS));

    let anxious = all_items(&server, &token, "mood=anxious").await;
    assert!(!anxious.is_empty() && anxious.len() < items.len());
    assert!(anxious.iter().all(|i| {
        i["target_moods"]
            .as_array()
            .is_some_and(|m| m.contains(&json!("anxious")))
    }));
    let sleep = all_items(&server, &token, "factor=sleep").await;
    assert!(!sleep.is_empty());
    assert!(sleep.iter().all(|i| {
        i["target_factors"].as_array().is_some_and(|f| {
            f.iter()
                .any(|x| x.as_str().is_some_and(|x| x.starts_with("sleep:")))
        })
    }));
    let short = all_items(&server, &token, "max_duration=3&difficulty=beginner").await;
    assert!(!short.is_empty());
    assert!(
        short
            .iter()
            .all(|i| i["duration_minutes"].as_i64() <= Some(3) && i["difficulty"] == "beginner")
    );
    let premium = all_items(&server, &token, "premium=true").await;
    assert!(!premium.is_empty() && premium.iter().all(|i| i["locked"] == true));

    // Pages of ten cover the same items as one page of a hundred.
    let mut paged = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = get(
            &server,
            &format!("/api/v1/content?limit=10&cursor={cursor}"),
            &token,
        )
        .await;
        assert_eq!(page.status, 200, "{}", page.body);
        let batch = page.body["items"].as_array().cloned().unwrap_or_default();
        assert!(batch.len() <= 10);
        paged.extend(batch);
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(ids(&paged), ids(&items));

    for bad in [
        "limit=0",
        "limit=500",
        "difficulty=easy",
        "max_duration=-1",
        "premium=maybe",
        "mood=Not%20a%20mood",
        "factor=a:b:c",
        "cursor=forged",
    ] {
        let answer = get(&server, &format!("/api/v1/content?{bad}"), &token).await;
        assert!(
            (400..500).contains(&answer.status),
            "{bad}: {} {}",
            answer.status,
            answer.body
        );
        assert_eq!(
            answer.header("content-type"),
            Some("application/problem+json")
        );
    }
    let anonymous = server
        .http
        .get(server.url("/api/v1/content"))
        .send()
        .await
        .expect("get");
    assert_eq!(anonymous.status(), 401);
}

#[tokio::test]
async fn premium_items_open_only_for_the_premium_tier() {
    let server = server(content_manifest()).await;
    let (free, _) = accounts::user(&server, "content-free").await;
    let premium = premium_user(&server, "content-premium").await;
    let items = all_items(&server, &free, "").await;
    let locked = items
        .iter()
        .find(|i| i["is_premium"] == true)
        .expect("a premium item");
    let open = items
        .iter()
        .find(|i| i["is_premium"] == false)
        .expect("a free item");
    let locked_path = format!(
        "/api/v1/content/{}",
        locked["id"].as_str().unwrap_or_default()
    );
    let open_path = format!(
        "/api/v1/content/{}",
        open["id"].as_str().unwrap_or_default()
    );

    let refused = get(&server, &locked_path, &free).await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert_eq!(
        refused.body["type"],
        "urn:mindflow:problem:premium-required"
    );
    assert_eq!(
        refused.header("content-type"),
        Some("application/problem+json")
    );
    assert!(refused.body.get("content_body").is_none());

    let whole = get(&server, &open_path, &free).await;
    assert_eq!(whole.status, 200, "{}", whole.body);
    assert!(
        whole.body["content_body"]
            .as_str()
            .is_some_and(|b| b.len() > 100)
    );

    let granted = get(&server, &locked_path, &premium).await;
    assert_eq!(granted.status, 200, "{}", granted.body);
    assert_eq!(granted.body["locked"], false);
    assert!(
        granted.body["content_body"]
            .as_str()
            .is_some_and(|b| b.len() > 100)
    );
    let listed = all_items(&server, &premium, "premium=true").await;
    assert!(listed.iter().all(|i| i["locked"] == false));

    for (path, status) in [
        ("/api/v1/content/5f0c2a52-3c6e-4cf1-9d9a-2f1b0c7e8d11", 404),
        ("/api/v1/content/not-an-id", 404),
        ("/api/v1/content/a/b", 404),
    ] {
        let answer: Answer = get(&server, path, &free).await;
        assert_eq!(answer.status, status, "{path}: {}", answer.body);
    }
}

#[tokio::test]
async fn seeding_twice_changes_nothing() {
    let server = server(content_manifest()).await;
    let (token, _) = accounts::user(&server, "content-seed").await;
    let before = all_items(&server, &token, "").await;
    let mut db = Db::open(&server).await;

    let rows = db.count("SELECT count(*) FROM content_library", &[]).await;
    let touched = db
        .count(
            "SELECT count(*) FROM content_library WHERE updated_at IS NOT NULL",
            &[],
        )
        .await;
    assert_eq!(touched, 0, "the start-up sync found the prompts unchanged");
    for run in 0..2 {
        let output = server.cli(&["content", "seed"]).expect("content seed");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "run {run}: {stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            stdout.contains("content-library: 0 inserted, 0 updated, 0 deactivated"),
            "run {run}: {stdout}"
        );
    }
    assert_eq!(
        db.count("SELECT count(*) FROM content_library", &[]).await,
        rows
    );
    assert_eq!(
        db.count(
            "SELECT count(*) FROM content_library WHERE updated_at IS NOT NULL",
            &[]
        )
        .await,
        0
    );
    assert_eq!(
        db.count(
            "SELECT count(*) FROM (SELECT external_id FROM content_library \
             WHERE provider IS NOT NULL GROUP BY provider, external_id HAVING count(*) > 1) d",
            &[]
        )
        .await,
        0
    );
    let after = all_items(&server, &token, "").await;
    assert_eq!(ids(&after), ids(&before));

    // A row an operator broke is mended by the next seed, under the same id.
    db.exec(
        "UPDATE content_library SET title = $1 WHERE id = $2",
        &[
            Param::Text("Edited by hand".into()),
            Param::Uuid(THREE_GOOD_THINGS.into()),
        ],
    )
    .await;
    let output = server.cli(&["content", "seed"]).expect("content seed");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("1 updated"), "{stdout}");
    assert!(
        stdout.contains("updated prompt/three-good-things"),
        "{stdout}"
    );
    let prompt = get(
        &server,
        &format!("/api/v1/content/{THREE_GOOD_THINGS}"),
        &token,
    )
    .await;
    assert_eq!(prompt.body["title"], "Three good things");
}

#[tokio::test]
async fn a_partner_provider_is_activated_trimmed_and_rolled_back() {
    let server = server(partner_manifest()).await;
    let (token, _) = accounts::user(&server, "content-partner").await;
    let partner = |items: &[Value]| -> Vec<(String, String)> {
        let mut found: Vec<(String, String)> = items
            .iter()
            .filter(|i| i["provider"] == "partner")
            .map(|i| {
                (
                    i["title"].as_str().unwrap_or_default().to_owned(),
                    i["id"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        found.sort();
        found
    };
    // The manifest's version is active from the start: its four items are listed.
    let first = partner(&all_items(&server, &token, "").await);
    assert_eq!(first.len(), 4, "{first:?}");
    let check_in = first
        .iter()
        .find(|(title, _)| title == "One-minute body check-in")
        .map(|(_, id)| id.clone())
        .expect("the check-in");
    assert_eq!(
        get(&server, &format!("/api/v1/content/{check_in}"), &token)
            .await
            .status,
        200
    );

    let admin = server.admin_token().await.expect("admin");
    let uploaded = upload(
        &server,
        &admin,
        "partner",
        "v2",
        "content-partner-mindfulness-v2",
    )
    .await;
    assert_eq!(uploaded.status(), 201);
    let report: Value = uploaded.json().await.expect("report");
    assert_eq!(
        report["gate_report"]["gate"], "content-provider",
        "{report}"
    );
    assert_eq!(report["gate_report"]["details"]["items"], 3, "{report}");
    assert_eq!(
        activate(&server, &admin, "partner", "v2").await.status(),
        200
    );

    let second = partner(&all_items(&server, &token, "").await);
    assert_eq!(second.len(), 3, "{second:?}");
    assert!(
        second
            .iter()
            .all(|(title, _)| title != "One-minute body check-in")
    );
    // The withdrawn item is inactive, not deleted: its id answers 404 and its row stays.
    assert_eq!(
        get(&server, &format!("/api/v1/content/{check_in}"), &token)
            .await
            .status,
        404
    );
    let mut db = Db::open(&server).await;
    assert_eq!(
        db.count(
            "SELECT count(*) FROM content_library WHERE provider = 'partner'",
            &[]
        )
        .await,
        4
    );
    // The kept items kept their ids.
    for (title, id) in &second {
        assert!(first.contains(&(title.clone(), id.clone())), "{title}");
    }

    let rollback = server
        .http
        .post(server.url("/api/v1/admin/components/partner/rollback"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("rollback");
    assert_eq!(rollback.status(), 200);
    let third = partner(&all_items(&server, &token, "").await);
    assert_eq!(third, first, "the same items under the same ids");
    // The built-in library was never touched.
    let library = all_items(&server, &token, "")
        .await
        .iter()
        .filter(|i| i["provider"] == "content-library")
        .count();
    assert!(library >= 54);
}

#[tokio::test]
async fn a_hostile_provider_is_refused_and_harms_nothing() {
    let server = server(partner_manifest()).await;
    let (token, _) = accounts::user(&server, "content-hostile").await;
    let before = ids(&all_items(&server, &token, "").await);
    let admin = server.admin_token().await.expect("admin");
    for (label, file, expected) in [
        ("trap", "hostile-content", "`items` failed"),
        ("loop", "hostile-content-loop", "`items` failed"),
        ("memory", "hostile-content-memory", "`items` failed"),
        ("absurd", "hostile-content-absurd", "refused"),
        ("http", "greeter", "content-provider"),
    ] {
        let answer = upload(&server, &admin, "partner", label, file).await;
        let status = answer.status();
        let body: Value = answer.json().await.unwrap_or_default();
        assert_eq!(status, 422, "{label}: {body}");
        assert_eq!(
            body["type"], "urn:mindflow:problem:component-invalid",
            "{label}"
        );
        let detail = body["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(expected), "{label}: {detail}");
        // The host serves on, with the catalogue it had.
        let list = get(&server, "/api/v1/content?limit=1", &token).await;
        assert_eq!(list.status, 200, "{label}");
    }
    assert_eq!(ids(&all_items(&server, &token, "").await), before);
    let health = server
        .http
        .get(server.url("/healthz"))
        .send()
        .await
        .expect("health");
    assert!(health.status().is_success());
}

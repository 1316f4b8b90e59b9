//! The handlers against the kit's fake host.

use mindflow_component_kit::fake::{Collection, FakePlatform};
use serde_json::{Value as Json, json};

use super::*;

fn host(premium: bool) -> FakePlatform {
    let host =
        FakePlatform::new("UTC", premium).with_collection(CONTENT, Collection::default().shared());
    let item = |title: &str, kind: &str, minutes: i64, difficulty: &str, premium: bool| {
        vec![
            ("content_type".to_owned(), Value::Text(kind.into())),
            ("title".to_owned(), Value::Text(title.into())),
            (
                "description".to_owned(),
                Value::Text(format!("About {title}")),
            ),
            (
                "content_body".to_owned(),
                Value::Text(format!("Do {title}.")),
            ),
            ("duration_minutes".to_owned(), Value::Int(minutes)),
            ("difficulty".to_owned(), Value::Text(difficulty.into())),
            (
                "target_moods".to_owned(),
                Value::Json(r#"["anxious","stressed"]"#.into()),
            ),
            (
                "target_factors".to_owned(),
                Value::Json(r#"["sleep:poor_quality"]"#.into()),
            ),
            (
                "audio_url".to_owned(),
                Value::Text("https://cdn.example.org/a.mp3".into()),
            ),
            ("is_premium".to_owned(), Value::Bool(premium)),
            ("is_active".to_owned(), Value::Bool(true)),
        ]
    };
    host.seed(
        CONTENT,
        item("Box breathing", "breathing", 4, "beginner", false),
    );
    host.seed(
        CONTENT,
        item("Body scan", "relaxation", 20, "intermediate", true),
    );
    let mut low = item(
        "Understanding low mood",
        "psychoeducation",
        6,
        "beginner",
        false,
    );
    low[6].1 = Value::Json(r#"["low","sad"]"#.into());
    low[7].1 = Value::Json(r#"["social:isolation"]"#.into());
    host.seed(CONTENT, low);
    let mut retired = item("Retired", "breathing", 3, "beginner", false);
    retired[10].1 = Value::Bool(false);
    host.seed(CONTENT, retired);
    host
}

fn get(host: &FakePlatform, path: &str, query: &str) -> Reply {
    host.send(handle, &WORDING, "GET", path, query, &Json::Null)
}

fn titles(reply: &Reply) -> Vec<String> {
    let mut titles: Vec<String> = reply.json_body()["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["title"].as_str().map(str::to_owned))
        .collect();
    titles.sort();
    titles
}

fn id_of(host: &FakePlatform, title: &str) -> String {
    host.rows(CONTENT)
        .into_iter()
        .find(|row| text_of(row, "title").as_deref() == Some(title))
        .and_then(|row| text_of(&row, "id"))
        .expect("seeded")
}

#[test]
fn the_list_shows_active_items_without_bodies_and_locks_premium_ones() {
    let free = host(false);
    let reply = get(&free, "", "");
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        titles(&reply),
        ["Body scan", "Box breathing", "Understanding low mood"]
    );
    let body = reply.json_body();
    for item in body["items"].as_array().expect("items") {
        assert!(item.get("content_body").is_none());
        assert_eq!(item["locked"], item["is_premium"], "{item}");
        assert!(item["target_moods"].is_array());
        if item["locked"] == json!(true) {
            assert_eq!(item["audio_url"], Json::Null);
        }
    }
    let premium = host(true);
    let body = get(&premium, "/", "").json_body();
    assert!(
        body["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|i| i["locked"] == json!(false) && i["audio_url"].is_string())
    );
}

#[test]
fn filters_narrow_the_list() {
    let host = host(false);
    let cases = [
        ("content_type=breathing", vec!["Box breathing"]),
        ("difficulty=intermediate", vec!["Body scan"]),
        (
            "max_duration=6",
            vec!["Box breathing", "Understanding low mood"],
        ),
        ("premium=true", vec!["Body scan"]),
        (
            "premium=false",
            vec!["Box breathing", "Understanding low mood"],
        ),
        ("mood=low", vec!["Understanding low mood"]),
        ("mood=anxious&limit=1", vec!["Body scan"]),
        ("factor=social:isolation", vec!["Understanding low mood"]),
        ("factor=sleep", vec!["Body scan", "Box breathing"]),
        ("mood=angry", vec![]),
    ];
    for (query, expected) in cases {
        let reply = get(&host, "", query);
        assert_eq!(reply.status, 200, "{query}: {}", reply.body);
        let mut got = titles(&reply);
        if query == "mood=anxious&limit=1" {
            assert_eq!(got.len(), 1, "{query}");
            assert!(reply.json_body()["next_cursor"].is_string());
            continue;
        }
        got.sort();
        assert_eq!(got, expected, "{query}");
    }
}

#[test]
fn pages_follow_the_cursor() {
    let host = host(false);
    let first = get(&host, "", "limit=2").json_body();
    assert_eq!(first["items"].as_array().map(Vec::len), Some(2));
    let cursor = first["next_cursor"].as_str().expect("cursor").to_owned();
    let second = get(&host, "", &format!("limit=2&cursor={cursor}")).json_body();
    assert_eq!(second["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(second["next_cursor"], Json::Null);
}

#[test]
fn bad_query_values_are_422() {
    let host = host(false);
    for query in [
        "limit=0",
        "limit=101",
        "difficulty=easy",
        "max_duration=0",
        "max_duration=abc",
        "max_duration=241",
        "premium=yes",
        "content_type=Breathing!",
        "mood=",
        "factor=sleep:",
        "factor=a:b:c",
    ] {
        let reply = get(&host, "", query);
        assert_eq!(reply.status, 422, "{query}: {}", reply.body);
        assert_eq!(
            reply.header("content-type"),
            Some("application/problem+json"),
            "{query}"
        );
    }
}

#[test]
fn an_item_is_whole_and_premium_items_need_the_tier() {
    let free = host(false);
    let breathing = get(&free, &format!("/{}", id_of(&free, "Box breathing")), "");
    assert_eq!(breathing.status, 200, "{}", breathing.body);
    assert_eq!(breathing.json_body()["content_body"], "Do Box breathing.");

    let scan = id_of(&free, "Body scan");
    let refused = get(&free, &format!("/{scan}"), "");
    assert_eq!(refused.status, 403, "{}", refused.body);
    let problem = refused.json_body();
    assert_eq!(problem["type"], "urn:mindflow:problem:premium-required");
    assert!(!refused.body.contains("Do Body scan"));

    let premium = host(true);
    let scan = id_of(&premium, "Body scan");
    let open = get(&premium, &format!("/{scan}"), "");
    assert_eq!(open.status, 200, "{}", open.body);
    assert_eq!(open.json_body()["content_body"], "Do Body scan.");
    assert_eq!(open.json_body()["locked"], false);
}

#[test]
fn unknown_inactive_and_malformed_ids_are_not_found() {
    let host = host(false);
    for path in [
        "/5f0c2a52-3c6e-4cf1-9d9a-2f1b0c7e8d11".to_owned(),
        format!("/{}", id_of(&host, "Retired")),
        "/not-a-uuid".to_owned(),
        "/a/b".to_owned(),
    ] {
        let reply = get(&host, &path, "");
        assert_eq!(reply.status, 404, "{path}: {}", reply.body);
    }
    let post = host.send(handle, &WORDING, "POST", "", "", &json!({}));
    assert_eq!(post.status, 405);
    let mut anonymous = host;
    anonymous.user = None;
    assert_eq!(get(&anonymous, "", "").status, 401);
}

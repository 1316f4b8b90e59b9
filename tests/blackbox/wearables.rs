//! Wearables (issue 15) through the real server and real adapter components: uploads
//! streamed into the Apple Health adapter, metrics merged by day and week, consent and
//! premium gating, bad files refused without a change, disconnect keeping or deleting the
//! data, another user's connection 404.

use mindflow_tests::accounts::user;
use mindflow_tests::http::send;
use mindflow_tests::{Manifest, Server, server, workspace_root};
use std::collections::HashMap;

use reqwest::Method;
use serde_json::{Value, json};

fn manifest() -> Manifest {
    Manifest::product(&["crisis-rules", "apple-health"])
}

/// Waits (at most 30 s, polling every 100 ms) until `check` holds.
async fn until(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let started = std::time::Instant::now();
    while !check().await {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "{what}: not within 30 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// The hand-written export the adapter's own tests use.
fn small_export() -> Vec<u8> {
    std::fs::read(
        workspace_root().join("components/wearables/apple-health/tests/fixtures/small-export.xml"),
    )
    .expect("fixture")
}

async fn upgrade(server: &Server, user_id: &str) {
    let admin = server.admin_token().await.expect("admin");
    let upgraded = send(
        server,
        Method::PUT,
        &format!("/api/v1/admin/users/{user_id}/subscription"),
        Some(&admin),
        Some(json!({"tier": "premium", "expires_at": null})),
    )
    .await;
    assert_eq!(upgraded.status, 200, "{}", upgraded.body);
}

async fn consent(server: &Server, token: &str) {
    let granted = send(
        server,
        Method::PUT,
        "/api/v1/users/me/consents/wearables",
        Some(token),
        Some(json!({"granted": true})),
    )
    .await;
    assert_eq!(granted.status, 200, "{}", granted.body);
}

/// A premium user who consented to wearables.
async fn wearer(server: &Server, tag: &str) -> (String, String) {
    let (token, id) = user(server, tag).await;
    upgrade(server, &id).await;
    consent(server, &token).await;
    (token, id)
}

/// Connects `provider` for the user of `token` as a browser would: `POST
/// /wearables/connect/{provider}`, the provider's consent (`consent_page` makes a code from
/// the authorization URL's query, as a simulator's consent page would) and the host's
/// callback. Returns the authorization URL's query.
async fn authorize(
    server: &Server,
    token: &str,
    provider: &str,
    consent_page: impl FnOnce(&HashMap<String, String>) -> String,
) -> (reqwest::Url, HashMap<String, String>) {
    let started = send(
        server,
        Method::POST,
        &format!("/api/v1/wearables/connect/{provider}"),
        Some(token),
        None,
    )
    .await;
    assert_eq!(started.status, 201, "{}", started.body);
    let url =
        reqwest::Url::parse(started.body["authorization_url"].as_str().expect("url")).expect("url");
    let query: HashMap<String, String> = url.query_pairs().into_owned().collect();
    let code = consent_page(&query);
    let done = send(
        server,
        Method::GET,
        &format!(
            "/api/v1/wearables/callback/{provider}?code={code}&state={}",
            query["state"]
        ),
        None,
        None,
    )
    .await;
    assert_eq!(done.status, 200, "{}", done.body);
    (url, query)
}

async fn upload(server: &Server, token: &str, filename: &str, body: Vec<u8>) -> (u16, Value) {
    let (status, body, _) =
        upload_as(server, token, filename, "application/octet-stream", body).await;
    (status, body)
}

/// An upload with its content type: the status, the body, the answer's content type.
async fn upload_as(
    server: &Server,
    token: &str,
    filename: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (u16, Value, String) {
    let response = server
        .http
        .post(server.url(&format!(
            "/api/v1/wearables/upload/apple-health?filename={filename}"
        )))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("upload");
    let status = response.status().as_u16();
    let answered = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (
        status,
        response.json().await.unwrap_or(Value::Null),
        answered,
    )
}

async fn metrics(server: &Server, token: &str, query: &str) -> Value {
    let answer = send(
        server,
        Method::GET,
        &format!("/api/v1/wearables/metrics?{query}"),
        Some(token),
        None,
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.body
}

#[tokio::test]
async fn an_apple_health_export_streams_into_the_adapter_and_becomes_daily_metrics() {
    let server = server(manifest()).await;
    let (token, id) = user(&server, "apple").await;

    let providers = send(
        &server,
        Method::GET,
        "/api/v1/wearables/providers",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(providers.status, 200, "{}", providers.body);
    let apple = providers.body["items"]
        .as_array()
        .and_then(|items| items.iter().find(|p| p["id"] == "apple-health"))
        .expect("apple-health is installed")
        .clone();
    assert_eq!(apple["connection"], "upload");
    assert_eq!(apple["hrv_kind"], "sdnn");
    assert_eq!(apple["connected"], false);

    // Free and without consent: refused, nothing stored.
    let (status, problem) = upload(&server, &token, "export.xml", small_export()).await;
    assert_eq!(status, 403, "{problem}");
    upgrade(&server, &id).await;
    let (status, problem) = upload(&server, &token, "export.xml", small_export()).await;
    assert_eq!(
        (status, &problem["type"]),
        (403, &json!("urn:mindflow:problem:consent-required"))
    );
    consent(&server, &token).await;

    // Not an export: 422, and still nothing.
    let (status, problem) = upload(
        &server,
        &token,
        "export.xml",
        b"PK\x03\x04 not xml".to_vec(),
    )
    .await;
    assert_eq!(status, 422, "{problem}");
    let connections = send(
        &server,
        Method::GET,
        "/api/v1/wearables/connections",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(connections.body["items"], json!([]));

    let (status, stored) = upload(&server, &token, "export.xml", small_export()).await;
    assert_eq!(status, 200, "{stored}");
    assert!(stored["days"].as_u64().is_some_and(|d| d >= 3), "{stored}");
    assert!(
        stored["sleep_sessions"].as_u64().is_some_and(|s| s >= 1),
        "{stored}"
    );

    let days = metrics(&server, &token, "from=2026-11-01&to=2026-11-10").await;
    let items = days["items"].as_array().expect("items");
    let third = items
        .iter()
        .find(|d| d["date"] == "2026-11-03")
        .expect("3 November");
    // iPhone and Watch overlap at 07:00: the Watch's larger count, not both.
    assert!(third["steps"].as_i64().is_some_and(|s| s > 0), "{third}");
    assert_eq!(third["sources"]["steps"], "apple-health");
    assert!(
        items.iter().any(|d| d["hrv_kind"] == "sdnn"),
        "HRV from Apple is SDNN: {days}"
    );
    let weeks = metrics(&server, &token, "from=2026-11-01&to=2026-11-10&period=week").await;
    assert!(!weeks["items"].as_array().expect("weeks").is_empty());

    // Uploading the same export again changes nothing (days are replaced, not added).
    let (status, _) = upload(&server, &token, "export.xml", small_export()).await;
    assert_eq!(status, 200);
    assert_eq!(
        metrics(&server, &token, "from=2026-11-01&to=2026-11-10").await,
        days
    );

    // Bad ranges are 422.
    for query in [
        "from=2026-11-10&to=2026-11-01",
        "from=2020-01-01&to=2026-11-01",
        "from=yesterday",
        "period=month",
    ] {
        let answer = send(
            &server,
            Method::GET,
            &format!("/api/v1/wearables/metrics?{query}"),
            Some(&token),
            None,
        )
        .await;
        assert_eq!(answer.status, 422, "{query}: {}", answer.body);
    }

    let connections = send(
        &server,
        Method::GET,
        "/api/v1/wearables/connections",
        Some(&token),
        None,
    )
    .await;
    let connection = connections.body["items"][0].clone();
    assert_eq!(connection["provider"], "apple-health");
    assert_eq!(connection["sync_status"], "active");
    assert!(connection.get("access_token_encrypted").is_none());
    let connection_id = connection["id"].as_str().expect("id").to_owned();

    // Another user cannot see or delete it.
    let (other, _) = wearer(&server, "apple-other").await;
    let theirs = send(
        &server,
        Method::DELETE,
        &format!("/api/v1/wearables/connections/{connection_id}"),
        Some(&other),
        None,
    )
    .await;
    assert_eq!(theirs.status, 404);
    assert_eq!(
        metrics(&server, &other, "from=2026-11-01&to=2026-11-10").await["items"],
        json!([])
    );

    // Disconnecting and keeping the data: the days stay.
    let kept = send(
        &server,
        Method::DELETE,
        &format!("/api/v1/wearables/connections/{connection_id}?keep_data=true"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(kept.status, 204, "{}", kept.body);
    assert_eq!(
        metrics(&server, &token, "from=2026-11-01&to=2026-11-10").await,
        days
    );
    // A new upload and a disconnect that deletes: the connection's days go.
    let (status, _) = upload(&server, &token, "export.xml", small_export()).await;
    assert_eq!(status, 200);
    let connections = send(
        &server,
        Method::GET,
        "/api/v1/wearables/connections",
        Some(&token),
        None,
    )
    .await;
    let again = connections.body["items"][0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let deleted = send(
        &server,
        Method::DELETE,
        &format!("/api/v1/wearables/connections/{again}"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(deleted.status, 204);
    let after = metrics(&server, &token, "from=2026-11-01&to=2026-11-10").await;
    // The days kept from the first connection remain (provider-tagged); the second's are gone.
    assert_eq!(after, days);
}

/// An upload's head alone, declaring `length` bytes it never sends: the answer's text.
async fn head_only_upload(server: &Server, token: &str, length: u64) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let base = server.url("");
    let address = base
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let mut stream = tokio::net::TcpStream::connect(&address)
        .await
        .expect("connect");
    let head = format!(
        "POST /api/v1/wearables/upload/apple-health?filename=export.zip HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/zip\r\nContent-Length: {length}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.expect("head");
    // Until the head of the answer is in (or the server closes).
    let mut answer = Vec::new();
    let mut buffer = [0; 4096];
    while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
        let read =
            tokio::time::timeout(std::time::Duration::from_secs(10), stream.read(&mut buffer))
                .await
                .expect("an answer within 10 s")
                .expect("read");
        if read == 0 {
            break;
        }
        answer.extend_from_slice(&buffer[..read]);
    }
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn an_export_zip_gives_what_its_export_xml_gives_and_a_bad_zip_stores_nothing() {
    use apple_health::zip::write::{CDA, Options, ZipWriter, ios_zip};

    let server = server(manifest()).await;
    let (bare, _) = wearer(&server, "zip-bare").await;
    let (zipped, _) = wearer(&server, "zip-zipped").await;
    let nothing = async |token: &str| {
        let connections = send(
            &server,
            Method::GET,
            "/api/v1/wearables/connections",
            Some(token),
            None,
        )
        .await;
        assert_eq!(connections.body["items"], json!([]), "{}", connections.body);
        let stored = metrics(&server, token, "from=2026-01-01&to=2026-12-31").await;
        assert_eq!(stored["items"], json!([]));
    };

    // Damaged zips: 422 problem documents, and nothing stored.
    let xml = small_export();
    let zip = ios_zip(&xml).expect("zip");
    let export_at = zip
        .windows(4)
        .enumerate()
        .filter(|(_, w)| *w == b"PK\x03\x04")
        .nth(1)
        .map(|(at, _)| at)
        .expect("the export's header");
    let mut corrupt = zip.clone();
    // A byte of export.xml's compressed data.
    corrupt[export_at + 30 + "apple_health_export/export.xml".len() + 200] ^= 0x55;
    let mut no_export = ZipWriter::new(Vec::new());
    no_export
        .add("apple_health_export/export_cda.xml", CDA, Options::IOS)
        .expect("zip");
    let no_export = no_export.finish().expect("zip");
    let mut encrypted = zip.clone();
    encrypted[export_at + 6] |= 1;
    for (what, body, says) in [
        ("corrupt", corrupt, "damaged"),
        ("truncated", zip[..zip.len() * 2 / 3].to_vec(), "cut short"),
        ("encrypted", encrypted, "encrypted"),
        ("no export", no_export, "no export.xml"),
        ("empty", Vec::new(), "not a zip"),
    ] {
        let (status, problem, content_type) =
            upload_as(&server, &zipped, "export.zip", "application/zip", body).await;
        assert_eq!(status, 422, "{what}: {problem}");
        assert_eq!(content_type, "application/problem+json", "{what}");
        assert_eq!(
            problem["type"], "urn:mindflow:problem:invalid-upload",
            "{what}"
        );
        let detail = problem["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(says), "{what}: {detail}");
    }
    // A form is not the file.
    let (status, problem, _) = upload_as(
        &server,
        &zipped,
        "export.zip",
        "multipart/form-data; boundary=x",
        zip.clone(),
    )
    .await;
    assert_eq!(status, 415, "{problem}");
    // Declared larger than 2 GiB: 413 before a byte of the body is read.
    let answer = head_only_upload(&server, &zipped, 3_000_000_000).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("application/problem+json"), "{answer}");
    nothing(&zipped).await;

    // The hand-written export and a month of the synthetic one: zipped the iPhone's way
    // (deflate, data descriptors), under each zip content type and name, they store what
    // the bare export.xml stores.
    let month = apple_health::synthetic::export(31, 5);
    for (xml, range) in [
        (xml, "from=2026-11-01&to=2026-11-10"),
        (month, "from=2026-01-01&to=2026-02-05"),
    ] {
        let (status, from_xml) = upload(&server, &bare, "export.xml", xml.clone()).await;
        assert_eq!(status, 200, "{from_xml}");
        let expected = metrics(&server, &bare, range).await;
        assert!(!expected["items"].as_array().expect("items").is_empty());
        for (content_type, filename) in [
            ("application/zip", "export.zip"),
            ("application/x-zip-compressed", "export.xml"),
            ("application/octet-stream", "upload"),
        ] {
            let (status, from_zip, _) = upload_as(
                &server,
                &zipped,
                filename,
                content_type,
                ios_zip(&xml).expect("zip"),
            )
            .await;
            assert_eq!(status, 200, "{content_type}: {from_zip}");
            for field in ["days", "sleep_sessions", "dropped"] {
                assert_eq!(from_zip[field], from_xml[field], "{content_type}: {field}");
            }
            assert_eq!(
                metrics(&server, &zipped, range).await,
                expected,
                "{content_type}"
            );
        }
    }
}

#[tokio::test]
async fn samples_json_uploads_and_a_preference_picks_the_source() {
    let server = server(manifest()).await;
    let (token, _) = wearer(&server, "samples").await;
    let samples = json!({"samples": [
        {"type": "HKQuantityTypeIdentifierStepCount", "start": "2026-11-03T07:14:02-07:00", "end": "2026-11-03T07:44:02-07:00", "value": 1200, "unit": "count", "source": "iPhone"},
        {"type": "HKCategoryTypeIdentifierSleepAnalysis", "start": "2026-11-02T23:30:00-07:00", "end": "2026-11-03T06:30:00-07:00", "value": "HKCategoryValueSleepAnalysisAsleepCore", "source": "Apple Watch"}
    ]});
    let (status, stored) = upload(
        &server,
        &token,
        "samples.json",
        samples.to_string().into_bytes(),
    )
    .await;
    assert_eq!(status, 200, "{stored}");
    let days = metrics(&server, &token, "from=2026-11-01&to=2026-11-05").await;
    let third = days["items"]
        .as_array()
        .and_then(|items| items.iter().find(|d| d["date"] == "2026-11-03"))
        .expect("3 November")
        .clone();
    assert_eq!(third["steps"], 1200);
    assert_eq!(third["sleep_duration_minutes"], 420);

    let chosen = send(
        &server,
        Method::PUT,
        "/api/v1/wearables/preferences",
        Some(&token),
        Some(json!({"primary_sources": {"sleep": "apple-health"}})),
    )
    .await;
    assert_eq!(chosen.status, 200, "{}", chosen.body);
    assert_eq!(chosen.body["primary_sources"]["sleep"], "apple-health");
    for bad in [
        json!({"primary_sources": {"dreams": "apple-health"}}),
        json!({"primary_sources": {"sleep": "nobody"}}),
        json!({"primary_sources": 3}),
    ] {
        let refused = send(
            &server,
            Method::PUT,
            "/api/v1/wearables/preferences",
            Some(&token),
            Some(bad.clone()),
        )
        .await;
        assert_eq!(refused.status, 422, "{bad}: {}", refused.body);
    }
    let unchanged = send(
        &server,
        Method::GET,
        "/api/v1/wearables/preferences",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(
        unchanged.body["primary_sources"],
        json!({"sleep": "apple-health"})
    );
}

mod oauth {
    //! Google Health through its simulator (`providers::google_health`): the host's own
    //! OAuth with PKCE, the backfill, webhooks with a shared secret and replays, a refresh
    //! on an expired token, `reauth_required` when access is withdrawn, and revocation on
    //! disconnect.

    use chrono::{Days, Utc};
    use mindflow_tests::accounts::user;
    use mindflow_tests::http::send;
    use mindflow_tests::providers::google_health::{self as google, GoogleHealthSim};
    use mindflow_tests::{Manifest, Server, server_with};
    use reqwest::Method;
    use serde_json::Value;

    const WEBHOOK_SECRET: &str = "whsec-google-test-7c1d";

    async fn start(sim: &GoogleHealthSim) -> Server {
        let origins = sim.origin_map();
        server_with(
            Manifest::product(&["crisis-rules", "google-health"]),
            &[
                ("MINDFLOW_WEARABLE_ORIGINS", origins.as_str()),
                (
                    "MINDFLOW_WEARABLE_GOOGLE_HEALTH_CLIENT_ID",
                    google::CLIENT_ID,
                ),
                (
                    "MINDFLOW_WEARABLE_GOOGLE_HEALTH_CLIENT_SECRET",
                    google::CLIENT_SECRET,
                ),
                (
                    "MINDFLOW_WEARABLE_GOOGLE_HEALTH_WEBHOOK_SECRET",
                    WEBHOOK_SECRET,
                ),
                ("MINDFLOW_WEARABLE_SYNC_TICK_MS", "100"),
                ("MINDFLOW_WEARABLE_SYNC_BACKOFF_MS", "200"),
            ],
        )
        .await
    }

    /// Runs the whole authorization: connect, the provider's consent (the simulator issues
    /// a code bound to the PKCE challenge and redirect URI the host sent), the callback.
    /// Returns the connection.
    async fn connect(
        server: &Server,
        sim: &GoogleHealthSim,
        token: &str,
        health_user: &str,
    ) -> Value {
        let started = send(
            server,
            Method::POST,
            "/api/v1/wearables/connect/google-health",
            Some(token),
            None,
        )
        .await;
        assert_eq!(started.status, 201, "{}", started.body);
        let url = reqwest::Url::parse(started.body["authorization_url"].as_str().expect("url"))
            .expect("a URL");
        assert!(
            url.as_str()
                .starts_with(&format!("{}/o/oauth2/v2/auth?", sim.base_url())),
            "{url}"
        );
        let query: std::collections::HashMap<String, String> =
            url.query_pairs().into_owned().collect();
        assert_eq!(query["client_id"], google::CLIENT_ID);
        assert_eq!(query["code_challenge_method"], "S256");
        assert_eq!(query["access_type"], "offline");
        assert_eq!(query["response_type"], "code");
        let code = sim.issue_code_for(
            health_user,
            &query["code_challenge"],
            &query["redirect_uri"],
        );
        let callback = format!(
            "/api/v1/wearables/callback/google-health?code={}&state={}",
            code, query["state"]
        );
        let done = send(server, Method::GET, &callback, None, None).await;
        assert_eq!(done.status, 200, "{}", done.body);
        // The state is single use.
        let again = send(server, Method::GET, &callback, None, None).await;
        assert_eq!(again.status, 400, "{}", again.body);
        done.body["connection"].clone()
    }

    async fn connection(server: &Server, token: &str) -> Value {
        let list = send(
            server,
            Method::GET,
            "/api/v1/wearables/connections",
            Some(token),
            None,
        )
        .await;
        list.body["items"][0].clone()
    }

    #[tokio::test]
    async fn google_health_connects_backfills_syncs_on_webhooks_refreshes_and_asks_to_reconnect() {
        let sim = GoogleHealthSim::start().await.expect("simulator");
        let today = Utc::now().date_naive();
        let first = today.checked_sub_days(Days::new(20)).expect("date");
        let health_user = "HEALTH-USER-1";
        sim.seed_days(health_user, &first.to_string(), 21);
        let server = start(&sim).await;
        let (token, id) = user(&server, "google").await;
        super::upgrade(&server, &id).await;
        super::consent(&server, &token).await;

        let made = connect(&server, &sim, &token, health_user).await;
        assert_eq!(made["provider"], "google-health");
        super::until("the backfill", async || {
            !connection(&server, &token).await["last_sync_at"].is_null()
        })
        .await;
        let synced = connection(&server, &token).await;
        assert_eq!(synced["sync_status"], "active", "{synced}");

        let days = super::metrics(&server, &token, &format!("from={first}&to={today}")).await;
        let items = days["items"].as_array().expect("items");
        let mut compared = 0;
        for day in first.iter_days().take(20).skip(1) {
            let Some(expected) = sim.expected(health_user, &day.to_string()) else {
                continue;
            };
            let got = items
                .iter()
                .find(|d| d["date"] == day.to_string())
                .unwrap_or_else(|| panic!("{day} missing: {days}"));
            assert_eq!(got["steps"], expected.steps, "{day}: {got}");
            assert_eq!(got["sources"]["steps"], "google-health");
            assert_eq!(
                got["sleep_duration_minutes"], expected.asleep_minutes,
                "{day}: {got}"
            );
            assert_eq!(got["hrv_kind"], "rmssd");
            compared += 1;
        }
        assert!(compared >= 15, "{compared} days compared");

        // Webhooks: a wrong secret is 401; a good delivery 201 and a sync; its replay 409.
        let (headers, body) = google::notification(
            WEBHOOK_SECRET,
            health_user,
            "steps",
            &format!("{today}T00:00:00Z"),
            &format!("{today}T12:00:00Z"),
        );
        let post = |secret_ok: bool| {
            let mut request = server
                .http
                .post(server.url("/api/v1/wearables/webhooks/google-health"))
                .body(body.clone());
            for (name, value) in &headers {
                let value = if name == "authorization" && !secret_ok {
                    "wrong"
                } else {
                    value.as_str()
                };
                request = request.header(name.as_str(), value);
            }
            request.send()
        };
        assert_eq!(post(false).await.expect("post").status(), 401);
        let before = sim.requests();
        assert_eq!(post(true).await.expect("post").status(), 201);
        assert_eq!(post(true).await.expect("post").status(), 409);
        super::until("the webhook's sync", async || sim.requests() > before).await;
        let verification = server
            .http
            .post(server.url("/api/v1/wearables/webhooks/google-health"))
            .header("authorization", WEBHOOK_SECRET)
            .body(google::verification_body())
            .send()
            .await
            .expect("verify");
        assert_eq!(verification.status(), 201);

        // An expired token: the host refreshes and the sync succeeds.
        let last = connection(&server, &token).await["last_sync_at"].clone();
        sim.expire_tokens();
        let connection_id = made["id"].as_str().expect("id").to_owned();
        let sync = send(
            &server,
            Method::POST,
            &format!("/api/v1/wearables/connections/{connection_id}/sync"),
            Some(&token),
            None,
        )
        .await;
        assert_eq!(sync.status, 202, "{}", sync.body);
        super::until("a sync after the refresh", async || {
            let now = connection(&server, &token).await;
            now["last_sync_at"] != last && now["sync_status"] == "active"
        })
        .await;

        // Access withdrawn at the provider: the refresh is refused, the user must reconnect.
        sim.withdraw_all();
        let sync = send(
            &server,
            Method::POST,
            &format!("/api/v1/wearables/connections/{connection_id}/sync"),
            Some(&token),
            None,
        )
        .await;
        assert_eq!(sync.status, 202);
        super::until("reauth_required", async || {
            connection(&server, &token).await["sync_status"] == "reauth_required"
        })
        .await;
        let refused = send(
            &server,
            Method::POST,
            &format!("/api/v1/wearables/connections/{connection_id}/sync"),
            Some(&token),
            None,
        )
        .await;
        assert_eq!(refused.status, 409);
        // The data already stored stays readable.
        assert_eq!(
            super::metrics(&server, &token, &format!("from={first}&to={today}")).await["items"],
            days["items"]
        );

        // Another person connects and disconnects: the host revokes at the provider.
        let (other, other_id) = user(&server, "google-other").await;
        super::upgrade(&server, &other_id).await;
        super::consent(&server, &other).await;
        let theirs = connect(&server, &sim, &other, "HEALTH-USER-2").await;
        let gone = send(
            &server,
            Method::DELETE,
            &format!(
                "/api/v1/wearables/connections/{}",
                theirs["id"].as_str().expect("id")
            ),
            Some(&other),
            None,
        )
        .await;
        assert_eq!(gone.status, 204);
        assert!(
            !sim.revoked().is_empty(),
            "the tokens were revoked at the provider"
        );
        // No token, sealed or not, is in the log.
        assert!(!server.log().contains("ya29."), "a token in the log");
    }

    #[tokio::test]
    async fn connecting_needs_consent_premium_and_a_configured_provider() {
        let sim = GoogleHealthSim::start().await.expect("simulator");
        let server = start(&sim).await;
        let (token, id) = user(&server, "google-gate").await;
        let free = send(
            &server,
            Method::POST,
            "/api/v1/wearables/connect/google-health",
            Some(&token),
            None,
        )
        .await;
        assert_eq!(free.status, 403);
        super::upgrade(&server, &id).await;
        let no_consent = send(
            &server,
            Method::POST,
            "/api/v1/wearables/connect/google-health",
            Some(&token),
            None,
        )
        .await;
        assert_eq!(no_consent.status, 403);
        assert_eq!(no_consent.body["consent_type"], "wearables");
        super::consent(&server, &token).await;
        let unknown = send(
            &server,
            Method::POST,
            "/api/v1/wearables/connect/fitbit-legacy",
            Some(&token),
            None,
        )
        .await;
        assert_eq!(unknown.status, 404);
        let forged = send(
            &server,
            Method::GET,
            "/api/v1/wearables/callback/google-health?code=x&state=forged",
            None,
            None,
        )
        .await;
        assert_eq!(forged.status, 400);
        let upload = send(
            &server,
            Method::POST,
            "/api/v1/wearables/connect/google-health",
            None,
            None,
        )
        .await;
        assert_eq!(upload.status, 401);
    }
}

mod oura {
    //! Oura through its simulator (`providers::oura`) beside an Apple Health export of the
    //! same nights: HMAC-signed webhooks (a tampered body, a stale timestamp and a replay
    //! refused), the subscription handshake, single-use refresh tokens, and two providers'
    //! reports of one night merged into one value per metric.

    use mindflow_tests::accounts::user;
    use mindflow_tests::http::send;
    use mindflow_tests::providers::oura::{self as sim, OuraSim};
    use mindflow_tests::{Manifest, Server, server_with};
    use reqwest::Method;
    use serde_json::Value;

    const VERIFICATION: &str = "oura-verification-token-3f2a";

    async fn start(oura: &OuraSim) -> Server {
        let origins = oura.origins_env();
        server_with(
            Manifest::product(&["crisis-rules", "oura", "apple-health"]),
            &[
                ("MINDFLOW_WEARABLE_ORIGINS", origins.as_str()),
                ("MINDFLOW_WEARABLE_OURA_CLIENT_ID", sim::CLIENT_ID),
                ("MINDFLOW_WEARABLE_OURA_CLIENT_SECRET", sim::CLIENT_SECRET),
                ("MINDFLOW_WEARABLE_OURA_VERIFICATION_TOKEN", VERIFICATION),
                ("MINDFLOW_WEARABLE_SYNC_TICK_MS", "100"),
                ("MINDFLOW_WEARABLE_SYNC_BACKOFF_MS", "200"),
            ],
        )
        .await
    }

    /// Connects `token`'s person to the Oura user `ring_user` through the host's OAuth flow,
    /// the simulator issuing the code.
    pub(super) async fn connect(server: &Server, oura: &OuraSim, token: &str, ring_user: &str) {
        super::authorize(server, token, "oura", |query| {
            oura.issue_code_for(ring_user, &query["code_challenge"], &query["redirect_uri"])
        })
        .await;
    }

    /// The user's connection to `provider`, or null.
    pub(super) async fn connection(server: &Server, token: &str, provider: &str) -> Value {
        let list = send(
            server,
            Method::GET,
            "/api/v1/wearables/connections",
            Some(token),
            None,
        )
        .await;
        list.body["items"]
            .as_array()
            .and_then(|items| items.iter().find(|c| c["provider"] == provider).cloned())
            .unwrap_or(Value::Null)
    }

    async fn deliver(server: &Server, headers: &[(String, String)], body: &str) -> u16 {
        let mut request = server
            .http
            .post(server.url("/api/v1/wearables/webhooks/oura"))
            .body(body.to_owned());
        for (name, value) in headers {
            request = request.header(name.as_str(), value.as_str());
        }
        request.send().await.expect("deliver").status().as_u16()
    }

    #[tokio::test]
    async fn oura_webhooks_are_verified_and_two_providers_of_one_night_merge() {
        let oura = OuraSim::start().await.expect("simulator");
        let ring_user = "oura-ring-user-7";
        oura.seed_days(ring_user, "2026-11-01", 10);
        let server = start(&oura).await;
        let (token, id) = user(&server, "oura").await;
        super::upgrade(&server, &id).await;
        super::consent(&server, &token).await;

        // Connect (PKCE, body client authentication) and backfill.
        connect(&server, &oura, &token, ring_user).await;
        super::until("the backfill", async || {
            !connection(&server, &token, "oura").await["last_sync_at"].is_null()
        })
        .await;

        // The same nights from Apple Health.
        let (status, stored) =
            super::upload(&server, &token, "export.xml", super::small_export()).await;
        assert_eq!(status, 200, "{stored}");
        let days = super::metrics(&server, &token, "from=2026-11-01&to=2026-11-10").await;
        let third = days["items"]
            .as_array()
            .and_then(|items| items.iter().find(|d| d["date"] == "2026-11-03"))
            .expect("3 November")
            .clone();
        let expected = oura.expected(ring_user, "2026-11-03").expect("seeded");
        // Sleep and HRV: Oura first; steps: Apple Health before Oura.
        assert_eq!(
            third["sources"]["sleep_duration_minutes"], "oura",
            "{third}"
        );
        assert_eq!(
            third["sleep_duration_minutes"], expected["sleep_duration_minutes"],
            "{third}"
        );
        assert_eq!(third["sources"]["hrv_avg"], "oura");
        assert_eq!(third["hrv_kind"], "rmssd");
        assert_eq!(third["sources"]["steps"], "apple-health", "{third}");
        // The user prefers Apple Health for sleep: the same night now comes from it.
        let chosen = send(
            &server,
            Method::PUT,
            "/api/v1/wearables/preferences",
            Some(&token),
            Some(serde_json::json!({"primary_sources": {"sleep": "apple-health"}})),
        )
        .await;
        assert_eq!(chosen.status, 200);
        let again = super::metrics(&server, &token, "from=2026-11-01&to=2026-11-10").await;
        let switched = days["items"]
            .as_array()
            .expect("items")
            .iter()
            .zip(again["items"].as_array().expect("items"))
            .filter(|(before, after)| {
                before["sources"]["sleep_duration_minutes"] == "oura"
                    && after["sources"]["sleep_duration_minutes"] == "apple-health"
            })
            .count();
        assert!(
            switched >= 1,
            "a night both reported now comes from Apple Health: {again}"
        );

        // Webhooks, signed with x-oura-signature over x-oura-timestamp and the body.
        let (headers, body) = oura.signed_notification("daily_sleep", ring_user, "2026-11-09");
        let tampered = body.replace("daily_sleep", "daily_activity");
        assert_eq!(deliver(&server, &headers, &tampered).await, 401);
        let stale: Vec<(String, String)> = headers
            .iter()
            .map(|(n, v)| {
                if n == "x-oura-timestamp" {
                    (
                        n.clone(),
                        (chrono::Utc::now().timestamp() - 3600).to_string(),
                    )
                } else {
                    (n.clone(), v.clone())
                }
            })
            .collect();
        assert_eq!(deliver(&server, &stale, &body).await, 401);
        let before = oura.requests();
        assert_eq!(deliver(&server, &headers, &body).await, 201);
        assert_eq!(deliver(&server, &headers, &body).await, 409);
        super::until("the webhook's sync", async || oura.requests() > before).await;

        // The subscription handshake echoes the challenge for the right token only.
        let good = send(
            &server,
            Method::GET,
            &format!(
                "/api/v1/wearables/webhooks/oura?verification_token={VERIFICATION}&challenge=abc123"
            ),
            None,
            None,
        )
        .await;
        assert_eq!(
            (good.status, &good.body["challenge"]),
            (200, &serde_json::json!("abc123"))
        );
        let bad = send(
            &server,
            Method::GET,
            "/api/v1/wearables/webhooks/oura?verification_token=nope&challenge=abc123",
            None,
            None,
        )
        .await;
        assert_eq!(bad.status, 403);

        // Single-use refresh tokens: two refreshes in a row both work (each new one stored).
        let connection_id = connection(&server, &token, "oura").await["id"]
            .as_str()
            .expect("id")
            .to_owned();
        for round in 0..2 {
            let last = connection(&server, &token, "oura").await["last_sync_at"].clone();
            oura.expire_tokens();
            let sync = send(
                &server,
                Method::POST,
                &format!("/api/v1/wearables/connections/{connection_id}/sync"),
                Some(&token),
                None,
            )
            .await;
            assert_eq!(sync.status, 202);
            super::until(&format!("refresh {round}"), async || {
                let now = connection(&server, &token, "oura").await;
                now["last_sync_at"] != last && now["sync_status"] == "active"
            })
            .await;
        }
    }
}

mod hostile {
    //! A misbehaving adapter fails only its own call: egress to a host it never declared
    //! is refused (and the sync's failure recorded on the connection), a memory bomb on an
    //! upload stops at the adapter's cap, a trap is one failed request; the host, and the
    //! other adapters, keep serving.

    use std::time::{Duration, Instant};

    use mindflow_tests::accounts::user;
    use mindflow_tests::admin::{activate, upload};
    use mindflow_tests::http::send;
    use mindflow_tests::providers::google_health::{self as google, GoogleHealthSim};
    use mindflow_tests::{Manifest, server_with};
    use reqwest::Method;

    fn manifest() -> Manifest {
        Manifest::product(&["crisis-rules", "apple-health"]).with(
            r#"
[component.hostile-adapter]
source = "{components}/hostile-adapter.wasm"
allowed_outbound_hosts = ["https://health.googleapis.com"]
[component.hostile-adapter.tool.mindflow]
kind = "wearable-adapter"
memory_limit_mb = 16
timeout_ms = 3000

[component.hostile-upload]
source = "{components}/hostile-adapter-upload.wasm"
[component.hostile-upload.tool.mindflow]
kind = "wearable-adapter"
memory_limit_mb = 16
timeout_ms = 3000
"#,
        )
    }

    #[tokio::test]
    async fn a_hostile_adapter_fails_only_its_own_calls() {
        let sim = GoogleHealthSim::start().await.expect("simulator");
        let origins = sim.origin_map();
        let server = server_with(
            manifest(),
            &[
                ("MINDFLOW_WEARABLE_ORIGINS", origins.as_str()),
                ("MINDFLOW_WEARABLE_HOSTILE_CLIENT_ID", google::CLIENT_ID),
                (
                    "MINDFLOW_WEARABLE_HOSTILE_CLIENT_SECRET",
                    google::CLIENT_SECRET,
                ),
                ("MINDFLOW_WEARABLE_SYNC_TICK_MS", "100"),
            ],
        )
        .await;
        let (token, id) = user(&server, "hostile").await;
        super::upgrade(&server, &id).await;
        super::consent(&server, &token).await;

        // Connected like any provider; its sync reaches for evil.example.com.
        super::authorize(&server, &token, "hostile", |query| {
            sim.issue_code(&query["code_challenge"], &query["redirect_uri"])
        })
        .await;
        let started_at = Instant::now();
        let failed = loop {
            let list = send(
                &server,
                Method::GET,
                "/api/v1/wearables/connections",
                Some(&token),
                None,
            )
            .await;
            let connection = list.body["items"][0].clone();
            if connection["sync_status"] == "error" {
                break connection;
            }
            assert!(
                started_at.elapsed() < Duration::from_secs(30),
                "no failed sync: {connection}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let error = failed["sync_error"].as_str().unwrap_or_default();
        assert!(
            error.contains("refused") || error.contains("Denied") || error.contains("denied"),
            "{error}"
        );
        assert!(
            server.log().contains("adapter request refused"),
            "the refusal is logged"
        );

        // A memory bomb on a 48 MB upload: 502 for this request, the cap held.
        let bomb = server
            .http
            .post(server.url("/api/v1/wearables/upload/hostile-upload?filename=bomb.xml"))
            .bearer_auth(&token)
            .body(vec![b' '; 48 * 1024 * 1024])
            .send()
            .await
            .expect("bomb");
        assert_eq!(bomb.status(), 502);
        let body: serde_json::Value = bomb.json().await.expect("problem");
        assert!(
            body["detail"]
                .as_str()
                .is_some_and(|d| d.contains("memory")),
            "{body}"
        );
        // A trap: 502 for this request.
        let trap = server
            .http
            .post(server.url("/api/v1/wearables/upload/hostile-upload?filename=trap.xml"))
            .bearer_auth(&token)
            .body("<HealthData/>")
            .send()
            .await
            .expect("trap");
        assert_eq!(trap.status(), 502);

        // The host and the other adapters serve on.
        let (status, stored) =
            super::upload(&server, &token, "export.xml", super::small_export()).await;
        assert_eq!(status, 200, "{stored}");
        let health = server
            .http
            .get(server.url("/readyz"))
            .send()
            .await
            .expect("readyz");
        assert_eq!(health.status(), 200);
    }

    /// A version whose conformance fixture does not round-trip (its fetch misreads its own
    /// canned answer by one step) is refused at install with a report naming the
    /// difference; the active version stays and keeps serving.
    #[tokio::test]
    async fn a_version_whose_fixture_does_not_round_trip_is_refused() {
        let server = server_with(
            manifest(),
            &[
                ("MINDFLOW_WEARABLE_HOSTILE_CLIENT_ID", google::CLIENT_ID),
                (
                    "MINDFLOW_WEARABLE_HOSTILE_CLIENT_SECRET",
                    google::CLIENT_SECRET,
                ),
            ],
        )
        .await;
        let admin = server.admin_token().await.expect("admin");
        let active_before = active_version(&server, &admin, "hostile-adapter").await;

        let refused = upload(
            &server,
            &admin,
            "hostile-adapter",
            "drift",
            "hostile-adapter-drift",
        )
        .await;
        assert_eq!(refused.status(), 422);
        let problem: serde_json::Value = refused.json().await.expect("problem");
        assert_eq!(
            problem["type"], "urn:mindflow:problem:gate-refused",
            "{problem}"
        );
        assert_eq!(problem["gate_report"]["passed"], false, "{problem}");
        let error = problem["gate_report"]["details"]["round_trip"]["error"]
            .as_str()
            .unwrap_or_default();
        assert!(
            error.contains(
                "day 2000-01-01 steps: the fixture expects 4321, the adapter returned 4320"
            ),
            "{problem}"
        );
        // It can never be activated; the version before it still serves.
        assert_eq!(
            activate(&server, &admin, "hostile-adapter", "drift")
                .await
                .status(),
            409
        );
        assert_eq!(
            active_version(&server, &admin, "hostile-adapter").await,
            active_before
        );
        let (token, id) = user(&server, "drift").await;
        super::upgrade(&server, &id).await;
        super::consent(&server, &token).await;
        let started = send(
            &server,
            Method::POST,
            "/api/v1/wearables/connect/hostile",
            Some(&token),
            None,
        )
        .await;
        assert_eq!(started.status, 201, "{}", started.body);

        // The version that round-trips installs, with the replay's figures in its report.
        let passed = upload(
            &server,
            &admin,
            "hostile-adapter",
            "again",
            "hostile-adapter",
        )
        .await;
        assert_eq!(passed.status(), 201);
        let report: serde_json::Value = passed.json().await.expect("report");
        let round_trip = &report["gate_report"]["details"]["round_trip"];
        assert_eq!(round_trip["requests_answered"], 1, "{report}");
        assert_eq!(round_trip["days"], 1, "{report}");
        assert_eq!(round_trip["identify"], true, "{report}");
    }

    /// The active version of component `name`.
    pub(super) async fn active_version(
        server: &mindflow_tests::Server,
        admin: &str,
        name: &str,
    ) -> String {
        let list = send(
            server,
            Method::GET,
            "/api/v1/admin/components",
            Some(admin),
            None,
        )
        .await;
        list.body["items"]
            .as_array()
            .and_then(|items| items.iter().find(|c| c["name"] == name))
            .and_then(|c| c["active_version"].as_str())
            .unwrap_or_default()
            .to_owned()
    }
}

mod template {
    //! The partner template (`templates/wearable-adapter`, the fictional Acme Ring) as a
    //! partner would ship it: its build uploaded through the admin API (the install check
    //! replays its fixture), activated, a user connected through the simulator's OAuth
    //! (authorization URL, consent, callback with PKCE), the backfill, and the simulator's
    //! days read back from `GET /api/v1/wearables/metrics`; then an expired token refreshed.

    use chrono::{Duration, Utc};
    use mindflow_tests::admin::{activate, upload};
    use mindflow_tests::http::send;
    use mindflow_tests::providers::acme_ring::{self as sim, AcmeRingSim};
    use mindflow_tests::{Manifest, server_with};
    use reqwest::Method;

    const WEARER: &str = "acme-wearer-7";

    fn manifest() -> Manifest {
        Manifest::product(&["crisis-rules"]).with(
            r#"
[component.acme-ring]
source = "{components}/acme-ring.wasm"
allowed_outbound_hosts = ["https://api.acme-ring.example"]
[component.acme-ring.tool.mindflow]
kind = "wearable-adapter"
memory_limit_mb = 64
timeout_ms = 30000
"#,
        )
    }

    #[tokio::test]
    async fn the_template_installs_connects_backfills_and_serves_the_simulators_days() {
        let acme = AcmeRingSim::start().await.expect("simulator");
        let today = Utc::now().date_naive();
        let first = (today - Duration::days(13)).format("%Y-%m-%d").to_string();
        acme.seed_days(WEARER, &first, 14);
        let origins = acme.origins_env();
        let server = server_with(
            manifest(),
            &[
                ("MINDFLOW_WEARABLE_ORIGINS", origins.as_str()),
                ("MINDFLOW_WEARABLE_ACME_RING_CLIENT_ID", sim::CLIENT_ID),
                (
                    "MINDFLOW_WEARABLE_ACME_RING_CLIENT_SECRET",
                    sim::CLIENT_SECRET,
                ),
                ("MINDFLOW_WEARABLE_SYNC_TICK_MS", "100"),
                ("MINDFLOW_WEARABLE_SYNC_BACKOFF_MS", "200"),
            ],
        )
        .await;

        // The partner's build, installed and activated through the admin API.
        let admin = server.admin_token().await.expect("admin");
        let installed = upload(&server, &admin, "acme-ring", "1.0.0", "acme-ring").await;
        assert_eq!(installed.status(), 201);
        let report: serde_json::Value = installed.json().await.expect("report");
        let details = &report["gate_report"]["details"];
        assert_eq!(report["gate_report"]["passed"], true, "{report}");
        assert_eq!(details["provider"], "acme-ring", "{report}");
        // Two daily pages, one sleep page, /v1/me; two days, a night each and a nap.
        assert_eq!(details["round_trip"]["requests_answered"], 4, "{report}");
        assert_eq!(details["round_trip"]["days"], 2, "{report}");
        assert_eq!(details["round_trip"]["sleep_sessions"], 3, "{report}");
        assert_eq!(details["round_trip"]["notification"], true, "{report}");
        assert_eq!(
            activate(&server, &admin, "acme-ring", "1.0.0")
                .await
                .status(),
            200
        );
        assert_eq!(
            super::hostile::active_version(&server, &admin, "acme-ring").await,
            "1.0.0"
        );

        // A premium, consenting user connects: authorization URL → consent → callback.
        let (token, _) = super::wearer(&server, "acme").await;
        let (url, query) = super::authorize(&server, &token, "acme-ring", |query| {
            acme.issue_code_for(WEARER, &query["code_challenge"], &query["redirect_uri"])
        })
        .await;
        // Acme's authorization page, sent to the simulator by the operator's origin map.
        assert_eq!(
            url.as_str().split('?').next(),
            Some(format!("{}/oauth/authorize", acme.origin()).as_str())
        );
        assert_eq!(query["client_id"], sim::CLIENT_ID);
        assert_eq!(query["code_challenge_method"], "S256");

        // The backfill pages through the simulator; the metrics are the simulator's days.
        super::until("the backfill", async || {
            !super::oura::connection(&server, &token, "acme-ring").await["last_sync_at"].is_null()
        })
        .await;
        let connection = super::oura::connection(&server, &token, "acme-ring").await;
        assert_eq!(connection["sync_status"], "active", "{connection}");
        assert!(
            acme.request_log()
                .iter()
                .any(|r| r.starts_with("/v1/daily?") && r.contains("page_token=daily-4")),
            "the backfill follows the pages: {:?}",
            acme.request_log()
        );
        let days = super::metrics(
            &server,
            &token,
            &format!("from={first}&to={}", today.format("%Y-%m-%d")),
        )
        .await;
        let items = days["items"].as_array().expect("items");
        let seeded = acme.days(WEARER);
        assert_eq!(items.len(), seeded.len(), "{days}");
        for day in &seeded {
            let item = items
                .iter()
                .find(|i| i["date"] == day.date.as_str())
                .unwrap_or_else(|| panic!("{} missing: {days}", day.date));
            let expected = day.expected();
            for (field, value) in expected.as_object().expect("fields") {
                assert_eq!(&item[field], value, "{} {field}: {item}", day.date);
            }
            assert_eq!(item["sources"]["steps"], "acme-ring", "{item}");
        }

        // An expired token: the simulator answers 401, the host refreshes and syncs again.
        let id = connection["id"].as_str().expect("id").to_owned();
        acme.expire_tokens();
        let last = connection["last_sync_at"].clone();
        let sync = send(
            &server,
            Method::POST,
            &format!("/api/v1/wearables/connections/{id}/sync"),
            Some(&token),
            None,
        )
        .await;
        assert_eq!(sync.status, 202);
        super::until("the sync after a refresh", async || {
            let now = super::oura::connection(&server, &token, "acme-ring").await;
            now["last_sync_at"] != last && now["sync_status"] == "active"
        })
        .await;
        assert!(
            acme.token_requests().iter().any(|g| g == "refresh_token"),
            "{:?}",
            acme.token_requests()
        );
    }
}

mod garmin {
    //! Garmin through its simulator (`providers::garmin`): pushes that batch several users'
    //! summaries in one body, as Garmin sends them, and a delivery that fails is not
    //! refused as a replay when the provider sends it again.

    use chrono::{Days, Utc};
    use mindflow_tests::accounts::user;
    use mindflow_tests::http::send;
    use mindflow_tests::providers::garmin::{self, GarminSim};
    use mindflow_tests::{Manifest, Server, server_with};
    use reqwest::Method;
    use serde_json::Value;

    const WEBHOOK_SECRET: &str = "whsec-garmin-test-41aa";

    async fn start(sim: &GarminSim) -> Server {
        let origins = sim.origin_map();
        server_with(
            Manifest::product(&["crisis-rules", "garmin"]),
            &[
                ("MINDFLOW_WEARABLE_ORIGINS", origins.as_str()),
                ("MINDFLOW_WEARABLE_GARMIN_CLIENT_ID", garmin::CLIENT_ID),
                (
                    "MINDFLOW_WEARABLE_GARMIN_CLIENT_SECRET",
                    garmin::CLIENT_SECRET,
                ),
                ("MINDFLOW_WEARABLE_GARMIN_WEBHOOK_SECRET", WEBHOOK_SECRET),
                ("MINDFLOW_WEARABLE_SYNC_TICK_MS", "100"),
                ("MINDFLOW_WEARABLE_SYNC_BACKOFF_MS", "200"),
            ],
        )
        .await
    }

    /// A premium, consenting person connected to Garmin as `garmin_user` (the host's OAuth
    /// with PKCE against the simulator), with their backfill done.
    async fn connected(server: &Server, sim: &GarminSim, tag: &str, garmin_user: &str) -> String {
        let (token, id) = user(server, tag).await;
        super::upgrade(server, &id).await;
        super::consent(server, &token).await;
        super::authorize(server, &token, "garmin", |query| {
            sim.issue_code_for(
                garmin_user,
                &query["code_challenge"],
                &query["redirect_uri"],
            )
        })
        .await;
        super::until("the backfill", async || {
            let list = send(
                server,
                Method::GET,
                "/api/v1/wearables/connections",
                Some(&token),
                None,
            )
            .await;
            !list.body["items"][0]["last_sync_at"].is_null()
        })
        .await;
        token
    }

    async fn deliver(server: &Server, (headers, body): &(Vec<(String, String)>, String)) -> u16 {
        let mut request = server
            .http
            .post(server.url("/api/v1/wearables/webhooks/garmin"))
            .body(body.clone());
        for (name, value) in headers {
            request = request.header(name.as_str(), value.as_str());
        }
        request.send().await.expect("post").status().as_u16()
    }

    fn steps_on(days: &Value, day: &str) -> Option<i64> {
        days["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|d| d["date"] == day)
            .and_then(|d| d["steps"].as_i64())
    }

    #[tokio::test]
    async fn one_push_for_several_users_reaches_each_of_them_and_only_them() {
        let sim = GarminSim::start().await.expect("simulator");
        let server = start(&sim).await;
        let (first, second) = ("garmin-user-aaaa-1111", "garmin-user-bbbb-2222");
        let mine = connected(&server, &sim, "garmin-one", first).await;
        let theirs = connected(&server, &sim, "garmin-two", second).await;

        // Days before the 30-day backfill, so only the push can bring them.
        let today = Utc::now().date_naive();
        let day = |back: u64| {
            today
                .checked_sub_days(Days::new(back))
                .expect("date")
                .to_string()
        };
        let (my_day, their_day) = (day(60), day(61));
        let push = sim.push_many(
            WEBHOOK_SECRET,
            &[
                (first, my_day.as_str()),
                ("garmin-user-nobody-here", my_day.as_str()),
                (second, their_day.as_str()),
            ],
        );
        assert_eq!(deliver(&server, &push).await, 201);
        assert_eq!(deliver(&server, &push).await, 409, "a replay is refused");

        let range = format!("from={}&to={today}", day(70));
        let my_days = super::metrics(&server, &mine, &range).await;
        let their_days = super::metrics(&server, &theirs, &range).await;
        let expected = |d: &str| sim.expected(d).map(|e| i64::from(e.steps));
        assert_eq!(steps_on(&my_days, &my_day), expected(&my_day), "{my_days}");
        assert_eq!(
            steps_on(&my_days, &their_day),
            None,
            "their day is not mine"
        );
        assert_eq!(
            steps_on(&their_days, &their_day),
            expected(&their_day),
            "{their_days}"
        );
        assert_eq!(steps_on(&their_days, &my_day), None, "my day is not theirs");
    }

    #[tokio::test]
    async fn a_delivery_the_adapter_refuses_is_not_remembered_as_received() {
        let sim = GarminSim::start().await.expect("simulator");
        let server = start(&sim).await;
        // A ping without an upload window: verified, then refused by the adapter.
        let malformed = (
            vec![
                (garmin::SECRET_HEADER.to_owned(), WEBHOOK_SECRET.to_owned()),
                ("content-type".to_owned(), "application/json".to_owned()),
            ],
            r#"{"dailies":[{"userId":"u","callbackURL":"https://apis.garmin.com/wellness-api/rest/dailies?token=x"}]}"#
                .to_owned(),
        );
        let first = deliver(&server, &malformed).await;
        assert!((400..500).contains(&first) && first != 409, "{first}");
        assert_eq!(
            deliver(&server, &malformed).await,
            first,
            "the provider's retry is read again, not refused as a replay"
        );
    }
}

mod budgets {
    //! The scheduler's budgets against the Oura simulator: a 400-day backfill (the
    //! operator's backfill override) under the adapter's declared budget of fetch calls per
    //! minute and a small operator budget of requests per minute to Oura, across several
    //! scheduler passes and minutes, complete in the end; a provider 429's `Retry-After`
    //! honoured.

    use std::collections::BTreeMap;

    use chrono::{Days, NaiveDate, Timelike, Utc};
    use mindflow_tests::accounts::user;
    use mindflow_tests::http::send;
    use mindflow_tests::metrics;
    use mindflow_tests::providers::oura::{self as sim, OuraSim};
    use mindflow_tests::{Manifest, Server, server_with};
    use reqwest::Method;

    /// The Oura adapter's declared `requests-per-minute` (fetch calls per user).
    const FETCHES_PER_MINUTE: usize = 10;
    /// The operator's budget of requests to Oura per minute.
    const REQUESTS_PER_MINUTE: usize = 150;
    const BACKFILL_DAYS: u64 = 400;

    /// An Oura simulator with `ring_user`'s days from `BACKFILL_DAYS + 3` days ago to a
    /// week ahead, and today's date.
    async fn seeded(ring_user: &str) -> (OuraSim, NaiveDate) {
        let oura = OuraSim::start().await.expect("simulator");
        let today = Utc::now().date_naive();
        let first = today
            .checked_sub_days(Days::new(BACKFILL_DAYS + 3))
            .expect("date");
        oura.seed_days(ring_user, &first.to_string(), 410);
        (oura, today)
    }

    /// A server with Oura configured against `oura`, the operator's 400-day backfill, a
    /// fast scheduler tick, and `more`.
    async fn server(oura: &OuraSim, more: &[(&str, &str)]) -> Server {
        let origins = oura.origins_env();
        let mut env = vec![
            ("MINDFLOW_WEARABLE_ORIGINS", origins.as_str()),
            ("MINDFLOW_WEARABLE_OURA_CLIENT_ID", sim::CLIENT_ID),
            ("MINDFLOW_WEARABLE_OURA_CLIENT_SECRET", sim::CLIENT_SECRET),
            ("MINDFLOW_WEARABLE_OURA_BACKFILL_DAYS", "400"),
            ("MINDFLOW_WEARABLE_SYNC_TICK_MS", "100"),
        ];
        env.extend_from_slice(more);
        server_with(Manifest::product(&["crisis-rules", "oura"]), &env).await
    }

    #[tokio::test]
    async fn a_long_backfill_stays_within_the_budgets_and_completes() {
        let ring_user = "oura-budget-user";
        let (oura, today) = seeded(ring_user).await;
        // The first two requests are refused with Retry-After: 2 (the host's `identify`
        // when connecting, which only loses the webhook id, and the backfill's first).
        oura.set_retry_after(2);
        oura.rate_limit_next(2);
        let server = server(
            &oura,
            &[
                (
                    "MINDFLOW_WEARABLE_OURA_REQUESTS_PER_MINUTE",
                    &REQUESTS_PER_MINUTE.to_string(),
                ),
                ("MINDFLOW_WEARABLE_SYNC_BACKOFF_MS", "200"),
                ("MINDFLOW_METRICS_LISTEN", "127.0.0.1:0"),
            ],
        )
        .await;
        let (token, id) = user(&server, "oura-budget").await;
        super::upgrade(&server, &id).await;
        super::consent(&server, &token).await;
        // Kept for two years, so all 401 days are the person's to keep (the default, a
        // year, would stop the backfill at 366: see the next test).
        let kept = send(
            &server,
            Method::PATCH,
            "/api/v1/users/me",
            Some(&token),
            Some(serde_json::json!({"data_retention_days": 730})),
        )
        .await;
        assert_eq!(kept.status, 200, "{}", kept.body);
        super::oura::connect(&server, &oura, &token, ring_user).await;

        // 401 days in 30-day windows: 14 fetches of about 17 requests each, more than one
        // minute's budget of either kind.
        let began = std::time::Instant::now();
        let connection = loop {
            let list = send(
                &server,
                Method::GET,
                "/api/v1/wearables/connections",
                Some(&token),
                None,
            )
            .await;
            let connection = list.body["items"][0].clone();
            assert_ne!(connection["sync_status"], "error", "{connection}");
            if !connection["last_sync_at"].is_null() {
                break connection;
            }
            assert!(
                began.elapsed() < std::time::Duration::from_secs(300),
                "the backfill did not finish in 5 minutes: {connection}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        };
        assert_eq!(connection["sync_status"], "active", "{connection}");

        // The 429's Retry-After was honoured before the next request.
        let times = oura.request_times();
        let log = oura.request_log();
        let refused = log
            .iter()
            .position(|path| path.starts_with("/v2/usercollection/daily_sleep?"))
            .expect("a fetch");
        assert!(times.len() > refused + 1);
        let waited = times[refused + 1] - times[refused];
        assert!(
            waited >= chrono::Duration::seconds(2),
            "the next request came {waited} after the 429"
        );

        // Per UTC minute at the simulator: requests under the operator's budget, fetch calls
        // (each starts with the first page of daily_sleep) under the adapter's. A request the
        // host admitted in a minute's last instant may arrive in the next: one connection
        // makes one request at a time, so one of each at most.
        let mut requests: BTreeMap<(u32, u32), usize> = BTreeMap::new();
        let mut fetches: BTreeMap<(u32, u32), usize> = BTreeMap::new();
        for (at, path) in times.iter().zip(&log) {
            let minute = (at.hour(), at.minute());
            *requests.entry(minute).or_default() += 1;
            if path.starts_with("/v2/usercollection/daily_sleep?") && !path.contains("next_token") {
                *fetches.entry(minute).or_default() += 1;
            }
        }
        assert!(
            requests.values().all(|n| *n <= REQUESTS_PER_MINUTE + 1),
            "requests per minute: {requests:?}"
        );
        assert!(
            fetches.values().all(|n| *n <= FETCHES_PER_MINUTE + 1),
            "fetches per minute: {fetches:?}"
        );
        assert!(
            fetches.values().sum::<usize>() >= 14,
            "fetches: {fetches:?}"
        );
        assert!(requests.len() >= 2, "one minute: {requests:?}");
        // The host deferred the sync (at least once for each budget and the 429), and
        // never counted a deferral as a failure.
        let address = metrics::address(&server).await.expect("metrics address");
        let text = metrics::scrape(&server.http, &address)
            .await
            .expect("scrape");
        let deferred = metrics::sample(
            &text,
            "mindflow_wearable_syncs_total{provider=\"oura\",outcome=\"deferred\"}",
        );
        assert!(deferred >= 2.0, "{text}");
        assert_eq!(
            metrics::sample(
                &text,
                "mindflow_wearable_syncs_total{provider=\"oura\",outcome=\"error\"}"
            ),
            0.0,
            "{text}"
        );

        // Complete: every day of the 400 back to today, as the simulator has it.
        let from = today
            .checked_sub_days(Days::new(BACKFILL_DAYS))
            .expect("date");
        let middle = from.checked_add_days(Days::new(200)).expect("date");
        let mut stored = Vec::new();
        for (a, b) in [(from, middle), (middle.succ_opt().expect("date"), today)] {
            let days = super::metrics(&server, &token, &format!("from={a}&to={b}")).await;
            stored.extend(days["items"].as_array().expect("items").iter().cloned());
        }
        for day in from.iter_days().take_while(|d| *d <= today) {
            let expected = oura.expected(ring_user, &day.to_string()).expect("seeded");
            let got = stored
                .iter()
                .find(|d| d["date"] == day.to_string())
                .unwrap_or_else(|| {
                    let first_stored: Vec<&serde_json::Value> = stored.iter().take(3).collect();
                    let activity: Vec<&String> = log
                        .iter()
                        .filter(|path| path.contains("daily_activity?"))
                        .take(4)
                        .collect();
                    panic!(
                        "{day} missing (today {today}); first stored {first_stored:?}; \
                         first daily_activity requests {activity:?}; connection {connection}"
                    )
                });
            assert_eq!(got["steps"], expected["steps"], "{day}: {got}");
            assert_eq!(
                got["sleep_duration_minutes"], expected["sleep_duration_minutes"],
                "{day}: {got}"
            );
            assert_eq!(
                got["readiness_score"], expected["readiness_score"],
                "{day}: {got}"
            );
        }
    }

    /// A backfill reaches no further back than the person keeps their data: with the
    /// default retention (a year) and the operator's 400-day backfill, the first day
    /// fetched and stored is the first one the retention purge keeps.
    #[tokio::test]
    async fn a_backfill_stops_at_the_persons_retention() {
        let ring_user = "oura-retention-user";
        let (oura, today) = seeded(ring_user).await;
        let server = server(&oura, &[]).await;
        let (token, id) = user(&server, "oura-retention").await;
        super::upgrade(&server, &id).await;
        super::consent(&server, &token).await;
        let me = send(&server, Method::GET, "/api/v1/users/me", Some(&token), None).await;
        assert_eq!(me.body["data_retention_days"], 365, "{}", me.body);
        super::oura::connect(&server, &oura, &token, ring_user).await;
        // 13 windows under the adapter's 10 fetch calls a minute: past a minute's turn.
        let began = std::time::Instant::now();
        while super::oura::connection(&server, &token, "oura").await["last_sync_at"].is_null() {
            assert!(
                began.elapsed() < std::time::Duration::from_secs(180),
                "the backfill did not finish in 3 minutes"
            );
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }

        let kept_from = today.checked_sub_days(Days::new(365)).expect("date");
        let before = super::metrics(
            &server,
            &token,
            &format!(
                "from={}&to={}",
                today
                    .checked_sub_days(Days::new(BACKFILL_DAYS))
                    .expect("date"),
                kept_from.pred_opt().expect("date")
            ),
        )
        .await;
        assert_eq!(before["items"], serde_json::json!([]), "{before}");
        let middle = kept_from.checked_add_days(Days::new(200)).expect("date");
        let mut stored = 0;
        for (a, b) in [
            (kept_from, middle),
            (middle.succ_opt().expect("date"), today),
        ] {
            let days = super::metrics(&server, &token, &format!("from={a}&to={b}")).await;
            let items = days["items"].as_array().expect("items");
            if a == kept_from {
                assert_eq!(items[0]["date"], kept_from.to_string(), "{days}");
            }
            stored += items.len();
        }
        assert_eq!(stored, 366, "every kept day, today included");
        // Not even asked for: the first window starts at the first day kept.
        let first_asked = oura
            .request_log()
            .into_iter()
            .find(|path| path.starts_with("/v2/usercollection/daily_activity?"))
            .expect("a fetch");
        assert!(
            first_asked.contains(&format!("start_date={kept_from}")),
            "{first_asked}"
        );
    }
}

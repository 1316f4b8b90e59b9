//! Scale-out (issue 17): three replicas on one PostgreSQL and one Redis, behind a real HAProxy
//! on loopback (`MINDFLOW_HAPROXY`), serve as one service.
//!
//! - Requests spread over every replica, and a write made through one is read through the
//!   others, sealed notes included (the replicas share the master key, as in production).
//! - One request budget is shared through Redis: a reader over their limit is refused
//!   however the balancer spreads them.
//! - A component activation made through the balancer reaches all three within a second.
//! - The nightly job runs once per user across the three.
//! - A replica killed under a write load costs no accepted write; the balancer takes it out
//!   of the pool, the others carry on, and a new replica joins through a graceful reload
//!   that drops no request.
//!
//! On SQLite (one host per database file) there is nothing to scale out: the tests say so and
//! return.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use mindflow_tests::accounts::{email, mails_to, start_registration, verify_email};
use mindflow_tests::admin::version_of;
use mindflow_tests::balancer::{Balancer, SERVED_BY};
use mindflow_tests::database::{Db, Param};
use mindflow_tests::metrics;
use mindflow_tests::redis::Redis;
use mindflow_tests::{Backend, Manifest, Server, ServerOptions, backend, component};
use serde_json::json;

/// The token-signing secret every replica shares, as in production.
const SECRET: &str = "dGhyZWUgcmVwbGljYXMgc2hhcmUgdGhpcyAzMi1ieXRlIGtleSE=";

/// The master key every replica shares: each must open what another sealed.
const MASTER_KEY: &str = "cmVwbGljYXMgc2hhcmUgb25lIG1hc3RlciBrZXkhISE=";

/// A reader's budget in the shared-limit test.
const READS: u32 = 12;

/// The `versioned` test component (it answers which version it is), version 1.
const VERSIONED: &str = r#"
[[trigger.http]]
route = "/api/v1/versioned/..."
component = "versioned"

[component.versioned]
source = "{components}/versioned-v1.wasm"
[component.versioned.tool.mindflow]
authentication = "none"
"#;

/// Reads out of reach, where the limit is not what is tested.
const UNLIMITED: &str = "1000000/60s";

/// `count` replicas of `manifest` on one fresh PostgreSQL database and `redis`, trusting the
/// balancer on loopback for client addresses, each serving metrics; `None` on SQLite.
async fn replicas(
    manifest: &Manifest,
    redis: &Redis,
    count: usize,
    reads: &str,
) -> Option<Vec<Server>> {
    if backend() != Backend::Postgres {
        eprintln!("balancer: PostgreSQL only (run with MINDFLOW_TEST_BACKEND=postgres)");
        return None;
    }
    // A first deployment: every replica starts at once on the new, empty database (each
    // migrates it and installs the manifest's components; none may trip over another).
    let database = ServerOptions::new(manifest.clone())
        .await
        .expect("options")
        .database_url;
    let servers = futures::future::join_all(
        (0..count).map(|_| replica(manifest, redis, Some(database.clone()), reads)),
    )
    .await;
    Some(servers)
}

/// One replica with a reader's budget of `reads` (`N/60s`); on `database` when given
/// (`Some(url)`), else on a fresh one.
async fn replica(
    manifest: &Manifest,
    redis: &Redis,
    database: Option<Option<String>>,
    reads: &str,
) -> Server {
    let mut options = ServerOptions::new(manifest.clone()).await.expect("options");
    if let Some(url) = database {
        options.database_url = url;
    }
    for (key, value) in [
        ("MINDFLOW_JWT_SECRET", SECRET.to_owned()),
        ("MINDFLOW_MASTER_KEY", MASTER_KEY.to_owned()),
        ("REDIS_URL", redis.url()),
        ("MINDFLOW_TRUSTED_PROXIES", "127.0.0.1".to_owned()),
        ("MINDFLOW_METRICS_LISTEN", "127.0.0.1:0".to_owned()),
        ("MINDFLOW_RATE_LIMIT_READS", reads.to_owned()),
        // Every user is due at once and a pass runs five times a second on each replica.
        ("MINDFLOW_NIGHTLY_HOUR", "0".to_owned()),
        ("MINDFLOW_NIGHTLY_TICK_MS", "200".to_owned()),
    ] {
        options.env.push((key.to_owned(), value));
    }
    Server::start(options).await.expect("replica")
}

/// Registers a user on the first replica; the code is mailed by whichever replica's outbox
/// consumer claims the message (each delivers into its own data folder). Returns the access
/// token and the user id.
async fn register(servers: &[Server], tag: &str) -> (String, String) {
    register_as(servers, tag).await.1
}

/// As [`register`], also answering the address.
async fn register_as(servers: &[Server], tag: &str) -> (String, (String, String)) {
    let address = email(tag);
    start_registration(&servers[0], &address)
        .await
        .expect("register");
    let started = Instant::now();
    let code = loop {
        if let Some(code) = servers.iter().find_map(|server| {
            mails_to(server, &address, "verify_email")
                .last()
                .and_then(|m| m["payload"]["token"].as_str().map(str::to_owned))
        }) {
            break code;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no code mailed to {address}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let body = verify_email(&servers[0], &code).await.expect("verify");
    let token = body["access_token"].as_str().expect("token").to_owned();
    let id = body["user"]["id"].as_str().expect("id").to_owned();
    (address, (token, id))
}

async fn start_redis() -> Redis {
    Redis::start()
        .await
        .expect("redis-server (MINDFLOW_REDIS_SERVER, scripts/redis-for-tests.sh)")
}

async fn start_balancer(servers: &[&Server]) -> Balancer {
    let bases: Vec<&str> = servers.iter().map(|s| s.base.as_str()).collect();
    Balancer::start(&bases)
        .await
        .expect("haproxy (MINDFLOW_HAPROXY, scripts/haproxy-for-tests.sh)")
}

/// What the balancer answered: status, the replica that served it, the body.
struct Through {
    status: u16,
    served_by: String,
    body: serde_json::Value,
}

async fn through(
    http: &reqwest::Client,
    request: reqwest::RequestBuilder,
) -> Result<Through, reqwest::Error> {
    let response = http.execute(request.build()?).await?;
    let status = response.status().as_u16();
    let served_by = response
        .headers()
        .get(SERVED_BY)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = response.json().await.unwrap_or(serde_json::Value::Null);
    Ok(Through {
        status,
        served_by,
        body,
    })
}

fn mood_log(i: usize) -> serde_json::Value {
    json!({
        "mood_score": 1 + i % 10,
        "energy_level": 1 + (i * 7) % 10,
        "note": format!("sealed note {i}"),
    })
}

async fn stored_logs(server: &Server, user_id: &str) -> i64 {
    Db::open(server)
        .await
        .count(
            "SELECT count(*) FROM mood_logs WHERE user_id = $1",
            &[Param::Uuid(user_id.to_owned())],
        )
        .await
}

/// Requests spread over the three, writes made through one are read through the others, a
/// reader's budget is one across them, and each user's night runs once.
#[tokio::test]
async fn three_replicas_behind_a_balancer_serve_as_one() {
    let redis = start_redis().await;
    let manifest = Manifest::product(&["mood", "crisis-rules", "insights"]).with(VERSIONED);
    let Some(servers) = replicas(&manifest, &redis, 3, &format!("{READS}/60s")).await else {
        return;
    };
    let balancer = start_balancer(&servers.iter().collect::<Vec<_>>()).await;
    let http = reqwest::Client::new();

    // Registration is a mail round trip: made on one replica; the token is good on all.
    let (writer, writer_id) = register(&servers, "lb-writer").await;
    let mut served: BTreeMap<String, usize> = BTreeMap::new();
    for i in 0..30 {
        let got = through(
            &http,
            http.post(balancer.url("/api/v1/mood/logs"))
                .bearer_auth(&writer)
                .json(&mood_log(i)),
        )
        .await
        .expect("write");
        assert_eq!(got.status, 201, "{}", got.body);
        *served.entry(got.served_by).or_default() += 1;
    }
    assert_eq!(
        served.keys().cloned().collect::<Vec<_>>(),
        ["r0", "r1", "r2"],
        "every replica took writes: {served:?}"
    );
    // Each replica, asked directly, reads all thirty (the first page and the cursor on).
    for server in &servers {
        let page = through(
            &http,
            http.get(server.url("/api/v1/mood/logs?limit=30"))
                .bearer_auth(&writer),
        )
        .await
        .expect("read");
        assert_eq!(page.status, 200);
        let items = page.body["items"].as_array().expect("items");
        assert_eq!(items.len(), 30);
        // Notes are sealed under the user's data key: every replica opens every one.
        let mut notes: Vec<&str> = items.iter().filter_map(|i| i["note"].as_str()).collect();
        notes.sort_unstable();
        let mut expected: Vec<String> = (0..30).map(|i| format!("sealed note {i}")).collect();
        expected.sort_unstable();
        assert_eq!(notes, expected);
    }
    assert_eq!(stored_logs(&servers[0], &writer_id).await, 30);

    // One budget across the replicas: READS reads go through, then 429 wherever they land.
    let (reader, _) = register(&servers, "lb-reader").await;
    let mut outcomes: BTreeMap<(u16, String), usize> = BTreeMap::new();
    for _ in 0..(READS * 2) {
        let got = through(
            &http,
            http.get(balancer.url("/api/v1/mood/logs?limit=1"))
                .bearer_auth(&reader),
        )
        .await
        .expect("read");
        *outcomes.entry((got.status, got.served_by)).or_default() += 1;
    }
    let count = |status: u16| -> usize {
        outcomes
            .iter()
            .filter(|((s, _), _)| *s == status)
            .map(|(_, n)| n)
            .sum()
    };
    // GCRA lets one more through if a refill interval (5 s) passes during the burst.
    let accepted = count(200);
    assert!(
        accepted == READS as usize || accepted == READS as usize + 1,
        "accepted {accepted} of a budget of {READS}: {outcomes:?}"
    );
    assert_eq!(accepted + count(429), READS as usize * 2, "{outcomes:?}");
    let refusing: Vec<&String> = outcomes
        .keys()
        .filter(|(status, _)| *status == 429)
        .map(|(_, by)| by)
        .collect();
    assert_eq!(refusing.len(), 3, "every replica refused: {outcomes:?}");

    // A component activation made through the balancer reaches all three within a second.
    let (admin_email, (admin, _)) = register_as(&servers, "lb-admin").await;
    let granted = servers[0]
        .cli(&["user", "grant-admin", &admin_email])
        .expect("grant-admin");
    assert!(granted.status.success(), "{granted:?}");
    let uploaded = http
        .post(balancer.url("/api/v1/admin/components/versioned/versions?version=v2"))
        .bearer_auth(&admin)
        .header("content-type", "application/wasm")
        .body(std::fs::read(component("versioned-v2")).expect("versioned-v2"))
        .send()
        .await
        .expect("upload");
    assert_eq!(uploaded.status(), 201);
    for server in &servers {
        assert_eq!(version_of(server).await, "v1");
    }
    let activated = http
        .post(balancer.url("/api/v1/admin/components/versioned/activate"))
        .bearer_auth(&admin)
        .json(&json!({"version": "v2"}))
        .send()
        .await
        .expect("activate");
    assert_eq!(activated.status(), 200);
    let at = Instant::now();
    for (i, server) in servers.iter().enumerate() {
        while version_of(server).await != "v2" {
            assert!(
                at.elapsed() < Duration::from_secs(1),
                "replica {i} still serves v1 a second after the activation"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    eprintln!(
        "balancer: the activation reached all three in {:?}",
        at.elapsed()
    );

    // The nightly job: each of the three users once, across three replicas that all try.
    let users = 3.0;
    let mut runs = 0.0;
    for _ in 0..50 {
        runs = 0.0;
        for server in &servers {
            let address = metrics::address(server).await.expect("metrics address");
            let text = metrics::scrape(&http, &address).await.expect("scrape");
            runs += metrics::total(&text, "mindflow_nightly_runs_total", &[]);
        }
        if runs >= users {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Passes keep running on every replica; none may claim a user's night again.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let mut again = 0.0;
    for server in &servers {
        let address = metrics::address(server).await.expect("metrics address");
        let text = metrics::scrape(&http, &address).await.expect("scrape");
        again += metrics::total(&text, "mindflow_nightly_runs_total", &["outcome=\"ok\""]);
    }
    assert!(
        (runs - users).abs() < f64::EPSILON && (again - users).abs() < f64::EPSILON,
        "three users, three runs across the replicas (saw {runs}, then {again} ok)"
    );
}

/// A replica killed (SIGKILL) in the middle of a write load: every write answered 201 is
/// stored; the only failures are the few in flight on the dead replica when it died; the
/// balancer takes it out within a second and the rest of the load succeeds. A new replica
/// then joins through a graceful reload while reads keep flowing, and serves.
#[tokio::test]
async fn a_replica_lost_under_load_costs_no_accepted_write_and_a_new_one_joins() {
    let redis = start_redis().await;
    let manifest = Manifest::product(&["mood", "crisis-rules"]);
    let Some(mut servers) = replicas(&manifest, &redis, 3, UNLIMITED).await else {
        return;
    };
    let mut balancer = start_balancer(&servers.iter().collect::<Vec<_>>()).await;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    let (token, user_id) = register(&servers, "lb-load").await;

    const WORKERS: usize = 4;
    const EACH: usize = 60;
    let sent = Arc::new(AtomicUsize::new(0));
    // Each worker's own count: workers do not progress evenly, so which of a worker's
    // requests came after the balancer took the replica out is told by its own count.
    let sent_by: Vec<Arc<AtomicUsize>> = (0..WORKERS)
        .map(|_| Arc::new(AtomicUsize::new(0)))
        .collect();
    let mut workers = Vec::new();
    for (worker, mine) in sent_by.iter().enumerate() {
        let (http, token, sent, mine) = (http.clone(), token.clone(), sent.clone(), mine.clone());
        let url = balancer.url("/api/v1/mood/logs");
        workers.push(tokio::spawn(async move {
            let mut statuses = Vec::new();
            for i in 0..EACH {
                sent.fetch_add(1, Ordering::SeqCst);
                mine.fetch_add(1, Ordering::SeqCst);
                let request = http
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&mood_log(worker * EACH + i));
                statuses.push(match through(&http, request).await {
                    Ok(got) => got.status,
                    Err(_) => 0,
                });
            }
            statuses
        }));
    }
    while sent.load(Ordering::SeqCst) < WORKERS * EACH / 3 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    servers[1].kill().expect("kill r1");
    balancer
        .wait_down("r1", Duration::from_secs(2))
        .await
        .expect("the balancer takes the dead replica out");
    let down_at = sent.load(Ordering::SeqCst);
    let down_at_by: Vec<usize> = sent_by.iter().map(|n| n.load(Ordering::SeqCst)).collect();

    let mut statuses = Vec::new();
    for worker in workers {
        statuses.push(worker.await.expect("worker"));
    }
    let all: Vec<u16> = statuses.concat();
    let accepted = all.iter().filter(|s| **s == 201).count();
    let failed = all.len() - accepted;
    eprintln!(
        "balancer: {accepted} accepted, {failed} failed of {}, r1 down after {down_at} sent",
        all.len()
    );
    assert!(
        all.iter().all(|s| matches!(s, 201 | 502 | 503 | 0)),
        "only gateway failures: {all:?}"
    );
    assert!(
        failed <= WORKERS,
        "at most the requests in flight on the dead replica fail: {all:?}"
    );
    // After the balancer marked it down, everything succeeded: each worker's requests sent
    // after that moment are clean.
    for (worker, statuses) in statuses.iter().enumerate() {
        assert!(
            statuses[down_at_by[worker].min(statuses.len())..]
                .iter()
                .all(|s| *s == 201),
            "worker {worker} failed after the replica was out of the pool: {statuses:?}"
        );
    }
    let stored = usize::try_from(stored_logs(&servers[0], &user_id).await).expect("count");
    assert!(
        stored >= accepted && stored <= accepted + failed,
        "{accepted} accepted, {failed} unknown, {stored} stored"
    );

    // Scale back out: a new replica joins through a graceful reload under a read load.
    let joined = replica(
        &manifest,
        &redis,
        Some(servers[0].database_url.clone()),
        UNLIMITED,
    )
    .await;
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (http, token) = (http.clone(), token.clone());
            let url = balancer.url("/api/v1/mood/logs?limit=5");
            tokio::spawn(async move {
                let mut statuses = Vec::new();
                for _ in 0..60 {
                    let got = through(&http, http.get(&url).bearer_auth(&token)).await;
                    statuses.push(got.map_or(0, |g| g.status));
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                statuses
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    balancer
        .reload(&[&servers[0].base, &servers[2].base, &joined.base])
        .await
        .expect("reload");
    for reader in readers {
        let statuses = reader.await.expect("reader");
        assert!(
            statuses.iter().all(|s| *s == 200),
            "a read failed across the reload: {statuses:?}"
        );
    }
    let mut by_new = 0;
    for _ in 0..9 {
        let got = through(
            &http,
            http.get(balancer.url("/api/v1/mood/logs?limit=1"))
                .bearer_auth(&token),
        )
        .await
        .expect("read");
        assert_eq!(got.status, 200);
        by_new += usize::from(got.served_by == "r2");
    }
    assert!(
        by_new >= 2,
        "the new replica (r2 in the new pool) serves: {by_new} of 9"
    );
    servers.push(joined);
}

//! Request rate limits (issue 17): a class over its limit answers 429 with `Retry-After`,
//! the `RateLimit` fields and a problem document; other users and addresses are unaffected;
//! the health checks are never limited; a key's budget comes back after the window. With
//! Redis (`MINDFLOW_REDIS_SERVER`, a real `redis-server`), two replicas share one budget,
//! and when Redis dies they keep answering, each limiting on its own.
//!
//! Client addresses come from `X-Forwarded-For`, believed because the tests trust
//! 127.0.0.1 as a proxy.

use std::time::{Duration, Instant};

use mindflow_tests::redis::{PASSWORD, Redis};
use mindflow_tests::{Backend, Manifest, Server, ServerOptions, backend, server_with};
use serde_json::Value;

/// What one request got.
struct Got {
    status: u16,
    retry_after: Option<u64>,
    policy: Option<String>,
    current: Option<String>,
    body: Value,
}

async fn get(server: &Server, path: &str, from: &str, token: Option<&str>) -> Got {
    send(server, reqwest::Method::GET, path, from, token, None).await
}

async fn send(
    server: &Server,
    method: reqwest::Method,
    path: &str,
    from: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Got {
    let mut request = server
        .http
        .request(method, server.url(path))
        .header("x-forwarded-for", from);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let status = response.status().as_u16();
    let retry_after =
        header("retry-after").map(|v| v.parse().expect("Retry-After is whole seconds"));
    let policy = header("ratelimit-policy");
    let current = header("ratelimit");
    let body = response.json().await.unwrap_or(Value::Null);
    Got {
        status,
        retry_after,
        policy,
        current,
        body,
    }
}

const TRUST_LOOPBACK: (&str, &str) = ("MINDFLOW_TRUSTED_PROXIES", "127.0.0.1");

/// Checks a refusal: 429, `Retry-After` of at least a second, both fields, the problem.
fn assert_refused(got: &Got, class: &str) {
    assert_eq!(got.status, 429, "{:?}", got.body);
    let retry = got.retry_after.expect("Retry-After");
    assert!(retry >= 1, "Retry-After {retry}");
    assert!(
        got.policy
            .as_deref()
            .is_some_and(|p| p.starts_with(&format!("\"{class}\";q=")))
    );
    assert!(
        got.current
            .as_deref()
            .is_some_and(|c| c.starts_with(&format!("\"{class}\";r=0;t="))),
        "{:?}",
        got.current
    );
    assert_eq!(got.body["type"], "urn:mindflow:problem:rate-limited");
    assert_eq!(got.body["status"], 429);
    assert!(
        got.body["detail"]
            .as_str()
            .is_some_and(|d| d.contains(class))
    );
}

#[tokio::test]
async fn a_class_over_its_limit_is_refused_for_that_key_only_until_the_window_passes() {
    let server = server_with(
        Manifest::product(&["mood", "crisis-rules"]),
        &[TRUST_LOOPBACK, ("MINDFLOW_RATE_LIMIT_READS", "3/2s")],
    )
    .await;
    let path = "/api/v1/crisis/resources?country=GB";
    // Three reads from one address, the fields counting down.
    for left in [2, 1, 0] {
        let got = get(&server, path, "192.0.2.1", None).await;
        assert_eq!(got.status, 200, "{:?}", got.body);
        assert_eq!(got.policy.as_deref(), Some("\"reads\";q=3;w=2"));
        let current = got.current.expect("RateLimit");
        assert!(
            current.starts_with(&format!("\"reads\";r={left};t=")),
            "{current}"
        );
    }
    let refused = get(&server, path, "192.0.2.1", None).await;
    assert_refused(&refused, "reads");
    assert!(refused.retry_after.is_some_and(|r| r <= 2));
    // Another address is not affected.
    assert_eq!(get(&server, path, "192.0.2.2", None).await.status, 200);
    // A signed-in user is counted as themself, whatever their address; another user apart.
    let (alice, _) = server
        .register(&mindflow_tests::accounts::email("rl-a"))
        .await
        .expect("alice");
    let (bob, _) = server
        .register(&mindflow_tests::accounts::email("rl-b"))
        .await
        .expect("bob");
    for _ in 0..3 {
        assert_eq!(
            get(&server, "/api/v1/users/me", "192.0.2.1", Some(&alice))
                .await
                .status,
            200
        );
    }
    assert_refused(
        &get(&server, "/api/v1/users/me", "192.0.2.1", Some(&alice)).await,
        "reads",
    );
    assert_eq!(
        get(&server, "/api/v1/users/me", "192.0.2.1", Some(&bob))
            .await
            .status,
        200
    );
    // A component's route is counted the same way (bob's second read).
    let component = get(&server, "/api/v1/mood/logs", "192.0.2.1", Some(&bob)).await;
    assert_eq!(component.status, 200, "{:?}", component.body);
    assert!(
        component
            .current
            .as_deref()
            .is_some_and(|c| c.starts_with("\"reads\";r=1;")),
        "{:?}",
        component.current
    );
    // Writes are another class with their own budget.
    let patch = send(
        &server,
        reqwest::Method::PATCH,
        "/api/v1/users/me",
        "192.0.2.1",
        Some(&alice),
        Some(serde_json::json!({"display_name": "Alice"})),
    )
    .await;
    assert_eq!(patch.status, 200, "{:?}", patch.body);
    assert!(
        patch
            .policy
            .as_deref()
            .is_some_and(|p| p.starts_with("\"writes\";"))
    );
    // The health checks are never limited, and carry no fields.
    for _ in 0..10 {
        for health in ["/healthz", "/readyz"] {
            let got = get(&server, health, "192.0.2.1", None).await;
            assert_eq!(got.status, 200);
            assert!(got.policy.is_none() && got.current.is_none());
        }
    }
    // After the wait it was told, the address may read again.
    tokio::time::sleep(Duration::from_secs(refused.retry_after.unwrap_or(2))).await;
    assert_eq!(get(&server, path, "192.0.2.1", None).await.status, 200);
}

#[tokio::test]
async fn auth_is_limited_per_address_even_with_a_token() {
    let server = server_with(
        Manifest::product(&[]),
        &[TRUST_LOOPBACK, ("MINDFLOW_RATE_LIMIT_AUTH", "2/60s")],
    )
    .await;
    let login = serde_json::json!({"email": "nobody@example.com", "password": "wrong-password-1"});
    for _ in 0..2 {
        let got = send(
            &server,
            reqwest::Method::POST,
            "/api/v1/auth/login",
            "198.51.100.7",
            None,
            Some(login.clone()),
        )
        .await;
        assert_eq!(got.status, 401, "{:?}", got.body);
    }
    let refused = send(
        &server,
        reqwest::Method::POST,
        "/api/v1/auth/login",
        "198.51.100.7",
        Some("not-a-token"),
        Some(login.clone()),
    )
    .await;
    assert_refused(&refused, "auth");
    let elsewhere = send(
        &server,
        reqwest::Method::POST,
        "/api/v1/auth/login",
        "198.51.100.8",
        None,
        Some(login),
    )
    .await;
    assert_eq!(elsewhere.status, 401);
}

#[tokio::test]
async fn limits_off_sends_no_fields() {
    let server = server_with(
        Manifest::product(&[]),
        &[
            ("MINDFLOW_RATE_LIMITS", "off"),
            ("MINDFLOW_RATE_LIMIT_READS", "1/60s"),
        ],
    )
    .await;
    for _ in 0..3 {
        let got = get(&server, "/api/v1/crisis/resources", "192.0.2.1", None).await;
        assert_eq!(got.status, 200);
        assert!(got.policy.is_none() && got.current.is_none());
    }
}

/// Two replicas with a shared Redis: on PostgreSQL one database, on SQLite each its own
/// (only the Redis is shared, which is what is tested).
async fn replicas_sharing(redis: &Redis, reads: &str) -> (Server, Server) {
    let env = vec![
        ("REDIS_URL".to_owned(), redis.url()),
        ("MINDFLOW_RATE_LIMIT_READS".to_owned(), reads.to_owned()),
        (TRUST_LOOPBACK.0.to_owned(), TRUST_LOOPBACK.1.to_owned()),
        (
            "MINDFLOW_JWT_SECRET".to_owned(),
            "cmVwbGljYXMgc2hhcmUgdGhpcyAzMi1ieXRlIHNlY3JldCE=".to_owned(),
        ),
    ];
    let mut options = ServerOptions::new(Manifest::product(&[]))
        .await
        .expect("options");
    options.env.clone_from(&env);
    let first = Server::start(options).await.expect("first");
    let mut options = ServerOptions::new(Manifest::product(&[]))
        .await
        .expect("options");
    if backend() == Backend::Postgres {
        options.database_url.clone_from(&first.database_url);
    }
    options.env = env;
    let second = Server::start(options).await.expect("second");
    (first, second)
}

#[tokio::test]
async fn replicas_share_one_budget_through_redis() {
    let redis = Redis::start()
        .await
        .expect("redis-server (see scripts/redis-for-tests.sh)");
    let (first, second) = replicas_sharing(&redis, "6/60s").await;
    let path = "/api/v1/crisis/resources";
    // Six reads in all, alternating replicas: each replica alone would allow six.
    for i in 0..6 {
        let server = if i % 2 == 0 { &first } else { &second };
        let got = get(server, path, "203.0.113.9", None).await;
        assert_eq!(got.status, 200, "read {i}: {:?}", got.body);
        let current = got.current.expect("RateLimit");
        assert!(
            current.starts_with(&format!("\"reads\";r={};", 5 - i)),
            "read {i}: {current}"
        );
    }
    assert_refused(&get(&first, path, "203.0.113.9", None).await, "reads");
    assert_refused(&get(&second, path, "203.0.113.9", None).await, "reads");
    assert_eq!(get(&second, path, "203.0.113.10", None).await.status, 200);
    for server in [&first, &second] {
        assert!(
            !server.log().contains("Redis unavailable"),
            "{}",
            server.log()
        );
        assert!(!server.log().contains(PASSWORD));
    }
}

#[tokio::test]
async fn when_redis_dies_each_replica_limits_on_its_own_and_keeps_answering() {
    let mut redis = Redis::start()
        .await
        .expect("redis-server (see scripts/redis-for-tests.sh)");
    let (first, second) = replicas_sharing(&redis, "4/60s").await;
    let path = "/api/v1/crisis/resources";
    assert_eq!(get(&first, path, "203.0.113.20", None).await.status, 200);
    redis.kill();
    // Every request is answered, promptly, and the limit holds per replica.
    for server in [&first, &second] {
        for i in 0..4 {
            let started = Instant::now();
            let got = get(server, path, "203.0.113.21", None).await;
            assert_eq!(got.status, 200, "read {i}: {:?}", got.body);
            assert!(got.current.is_some());
            assert!(
                started.elapsed() < Duration::from_secs(2),
                "{:?}",
                started.elapsed()
            );
        }
        assert_refused(&get(server, path, "203.0.113.21", None).await, "reads");
        let log = server.log();
        assert!(log.contains("Redis unavailable"), "{log}");
        assert!(!log.contains(PASSWORD), "the Redis password was logged");
    }
    // Redis back (same address, empty): both replicas share again within a few seconds.
    let _redis = Redis::start_on(redis.port).await.expect("redis again");
    let started = Instant::now();
    while !(first.log().contains("shared again") && second.log().contains("shared again")) {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "not shared again: {}",
            second.log()
        );
        // Requests from ever new addresses (each within its budget) let the breaker probe.
        for server in [&first, &second] {
            let from = format!("203.0.113.{}", 100 + started.elapsed().as_millis() % 100);
            let got = get(server, path, &from, None).await;
            assert!(matches!(got.status, 200 | 429), "{:?}", got.body);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let budget_of = |got: Got| got.current.unwrap_or_default();
    let one = budget_of(get(&first, path, "203.0.113.23", None).await);
    let two = budget_of(get(&second, path, "203.0.113.23", None).await);
    assert!(
        one.starts_with("\"reads\";r=3;") && two.starts_with("\"reads\";r=2;"),
        "{one} / {two}"
    );
}

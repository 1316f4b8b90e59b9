//! The sandbox: a misbehaving component fails only its own request; the host keeps serving.

use std::time::{Duration, Instant};

use mindflow_tests::{Manifest, Server, manifest, server, start_failure};
use serde_json::Value;

/// The `hostile` test component (anonymous, 1 s deadline, 32 MiB, one allowed outbound
/// host) next to the product's `hello`, which must keep answering.
fn hostile_manifest() -> Manifest {
    Manifest::product(&["hello"]).with(
        r#"
[[trigger.http]]
route = "/api/v1/hostile/..."
component = "hostile"

[component.hostile]
source = "{components}/hostile.wasm"
allowed_outbound_hosts = ["http://example.invalid"]
[component.hostile.tool.mindflow]
authentication = "none"
timeout_ms = 1000
memory_limit_mb = 32
"#,
    )
}

async fn still_serving(server: &Server) {
    let ok = server
        .http
        .get(server.url("/api/v1/hostile/fine"))
        .send()
        .await
        .expect("get");
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.expect("text"), "ok");
    let hello = server
        .http
        .get(server.url("/api/v1/hello"))
        .send()
        .await
        .expect("get");
    assert_eq!(hello.status(), 200);
}

async fn problem(response: reqwest::Response) -> Value {
    assert_eq!(
        response.headers()["content-type"].to_str().expect("ascii"),
        "application/problem+json"
    );
    response.json().await.expect("json")
}

#[tokio::test]
async fn infinite_loop_is_stopped_at_its_deadline() {
    let server = server(hostile_manifest()).await;
    let started = Instant::now();
    let response = server
        .http
        .get(server.url("/api/v1/hostile/loop"))
        .send()
        .await
        .expect("get");
    let elapsed = started.elapsed();
    assert!(
        response.status() == 504 || response.status() == 503,
        "status {}",
        response.status()
    );
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
    let body = problem(response).await;
    assert_eq!(body["type"], "urn:mindflow:problem:component-timeout");
    still_serving(&server).await;
}

#[tokio::test]
async fn memory_bomb_fails_its_request_not_the_host() {
    let server = server(hostile_manifest()).await;
    let response = server
        .http
        .get(server.url("/api/v1/hostile/memory"))
        .send()
        .await
        .expect("get");
    assert_eq!(response.status(), 500);
    let body = problem(response).await;
    assert_eq!(body["type"], "urn:mindflow:problem:component-memory-limit");
    still_serving(&server).await;
}

#[tokio::test]
async fn trap_gives_500_for_that_request_only() {
    let server = server(hostile_manifest()).await;
    let (trap, ok) = tokio::join!(
        server.http.get(server.url("/api/v1/hostile/trap")).send(),
        server.http.get(server.url("/api/v1/hostile/fine")).send(),
    );
    let trap = trap.expect("trap");
    assert_eq!(trap.status(), 500);
    let body = problem(trap).await;
    assert_eq!(body["type"], "urn:mindflow:problem:component-failed");
    assert_eq!(ok.expect("ok").status(), 200);
    still_serving(&server).await;
}

#[tokio::test]
async fn egress_to_a_host_not_allowed_is_refused() {
    let server = server(hostile_manifest()).await;
    for url in [
        "http://127.0.0.1:9/",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/",
        "http://example.com/",
    ] {
        let response = server
            .http
            .get(server.url(&format!("/api/v1/hostile/egress?url={url}")))
            .send()
            .await
            .expect("get");
        assert_eq!(response.status(), 502, "{url}");
        let body: Value = response.json().await.expect("json");
        assert!(
            body["detail"]
                .as_str()
                .unwrap_or_default()
                .to_lowercase()
                .contains("denied"),
            "{url}: {body}"
        );
    }
    still_serving(&server).await;
}

#[tokio::test]
async fn oversized_body_is_refused_with_413() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = server(hostile_manifest()).await;
    // Announce a 2 MiB body (the cap is 1 MiB) and read the answer before sending it: the
    // edge refuses on the declared length, without reading the body.
    let address = server.base.trim_start_matches("http://").to_owned();
    let mut socket = tokio::net::TcpStream::connect(&address)
        .await
        .expect("connect");
    let head = format!(
        "POST /api/v1/hostile/fine HTTP/1.1\r\nhost: {address}\r\ncontent-length: {}\r\n\r\n",
        2 << 20
    );
    socket.write_all(head.as_bytes()).await.expect("write");
    let mut answer = vec![0u8; 4096];
    let n = socket.read(&mut answer).await.expect("read");
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("application/problem+json"), "{answer}");
    still_serving(&server).await;
}

#[tokio::test]
async fn an_ungranted_import_stops_start_up_naming_the_component() {
    let stderr = start_failure(&manifest(
        r#"
[[trigger.http]]
route = "/greedy/..."
component = "greedy"

[component.greedy]
source = "{components}/greedy-imports.wasm"
"#,
    ))
    .await
    .expect("refused");
    assert!(stderr.contains("greedy"), "{stderr}");
    assert!(stderr.contains("mindflow:platform/context"), "{stderr}");
}

#[tokio::test]
async fn sigterm_lets_in_flight_requests_finish() {
    let mut server = server(hostile_manifest()).await;
    let http = server.http.clone();
    let url = server.url("/api/v1/hostile/sleep?ms=700");
    let in_flight = tokio::spawn(async move { http.get(url).send().await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let clean = tokio::task::spawn_blocking(move || {
        let clean = server.terminate().expect("terminate");
        drop(server);
        clean
    });
    let response = in_flight
        .await
        .expect("join")
        .expect("the in-flight request completes");
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.expect("text"), "slept");
    assert!(clean.await.expect("join"), "exit status after SIGTERM");
}

/// A fresh instance per request is a privacy guarantee: whatever one request leaves in a
/// component's memory (initialised data, zeroed data, a large heap buffer past the pages the
/// host keeps resident) must be gone for the next, however the host recycles memory slots.
#[tokio::test]
async fn no_state_survives_from_one_request_to_the_next() {
    let server = server(hostile_manifest()).await;
    let pristine = serde_json::json!({"data": "pristine", "bss": "", "heap_dirty_bytes": 0});
    let remember = |value: String| {
        let request = server
            .http
            .get(server.url(&format!("/api/v1/hostile/remember?value={value}")));
        async move {
            let response = request.send().await.expect("get");
            assert_eq!(response.status(), 200);
            response.json::<Value>().await.expect("json")
        }
    };
    for round in 0..20 {
        let seen = remember(format!("secret-of-request-{round}")).await;
        assert_eq!(
            seen, pristine,
            "request {round} saw an earlier request's data"
        );
    }
    let concurrent = (0..16).map(|i| remember(format!("concurrent-secret-{i}")));
    for seen in futures::future::join_all(concurrent).await {
        assert_eq!(seen, pristine);
    }
}

/// An instance made ahead of its request gets its whole deadline from when the request takes
/// it, however long it waited: here it waits longer than the deadline itself.
#[tokio::test]
async fn an_instance_that_waited_still_gets_its_whole_deadline() {
    let server = server(hostile_manifest()).await;
    still_serving(&server).await;
    // The component's deadline is 1,000 ms; its next instance is made now and then waits.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let started = Instant::now();
    let response = server
        .http
        .get(server.url("/api/v1/hostile/sleep?ms=600"))
        .send()
        .await
        .expect("get");
    assert_eq!(response.status(), 200, "after {:?}", started.elapsed());
    assert_eq!(response.text().await.expect("text"), "slept");
}

/// A body larger than the host's buffer reaches the client whole: the guest keeps running
/// (and streaming) after it has handed over the response head.
#[tokio::test]
async fn a_large_response_body_is_streamed_whole() {
    let server = server(hostile_manifest()).await;
    let bytes = 3 << 20;
    let response = server
        .http
        .get(server.url(&format!("/api/v1/hostile/big?bytes={bytes}")))
        .send()
        .await
        .expect("get");
    assert_eq!(response.status(), 200);
    let body = response.bytes().await.expect("body");
    assert_eq!(body.len(), bytes);
    assert!(
        body.iter()
            .enumerate()
            .all(|(i, &b)| b == b'a' + u8::try_from(i % 26).expect("below 26")),
        "the body arrived corrupted"
    );
    still_serving(&server).await;
}

/// A component that has finished by the time its answer goes out sends it whole, with a
/// `content-length`, not chunked.
#[tokio::test]
async fn a_finished_components_answer_has_a_content_length() {
    let server = server(hostile_manifest()).await;
    let response = server
        .http
        .get(server.url("/api/v1/hello"))
        .send()
        .await
        .expect("get");
    assert_eq!(response.status(), 200);
    assert!(response.headers().get("transfer-encoding").is_none());
    let length: usize = response.headers()["content-length"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("a number");
    assert_eq!(response.bytes().await.expect("body").len(), length);
}

/// A guest waiting in a host call (here a sleep) is past the reach of the epoch deadline;
/// the outer deadline ends its request all the same, and the host carries on.
#[tokio::test]
async fn a_guest_blocked_in_a_host_call_is_stopped_at_its_deadline() {
    let server = server(hostile_manifest()).await;
    let started = Instant::now();
    let response = server
        .http
        .get(server.url("/api/v1/hostile/sleep?ms=20000"))
        .send()
        .await
        .expect("get");
    let elapsed = started.elapsed();
    assert_eq!(response.status(), 504);
    let problem = problem(response).await;
    assert_eq!(problem["type"], "urn:mindflow:problem:component-timeout");
    // The manifest's deadline is 1 s; the outer one adds 250 ms and is checked every 25 ms.
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
    still_serving(&server).await;
}

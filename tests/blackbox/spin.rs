//! Unmodified Spin components: variables, routing and outbound HTTP to allowed hosts.

use mindflow_tests::{Manifest, manifest, server, server_with};
use serde_json::Value;

/// The product's `hello`, with a greeting of the test's own as the variable's default.
fn hello_manifest() -> Manifest {
    Manifest::product(&["hello"]).set("variables.greeting.default", "hi there")
}

#[tokio::test]
async fn spin_component_reads_its_variable_and_path() {
    let server = server(hello_manifest()).await;
    let body: Value = server
        .http
        .get(server.url("/api/v1/hello/some/where"))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(body["message"], "hi there");
    assert_eq!(body["component"], "hello-spin");
    assert_eq!(body["path"], "/api/v1/hello/some/where");
}

#[tokio::test]
async fn application_variable_comes_from_the_environment() {
    let server = server_with(
        hello_manifest(),
        &[("SPIN_VARIABLE_GREETING", "from the environment")],
    )
    .await;
    let body: Value = server
        .http
        .get(server.url("/api/v1/hello"))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(body["message"], "from the environment");
}

/// A tiny upstream on loopback answering every request with `upstream says hi`.
pub async fn upstream() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut buffer = [0u8; 4096];
                let _ = socket.read(&mut buffer).await;
                let body = "upstream says hi";
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    port
}

fn outbound_manifest(allowed: &str) -> String {
    manifest(&format!(
        r#"
[[trigger.http]]
route = "/api/v1/outbound/..."
component = "outbound"

[component.outbound]
source = "{{components}}/outbound-spin.wasm"
allowed_outbound_hosts = [{allowed}]
[component.outbound.tool.mindflow]
authentication = "none"
"#
    ))
}

#[tokio::test]
async fn outbound_request_to_an_explicitly_allowed_address_succeeds() {
    let port = upstream().await;
    let allowed = format!("\"http://127.0.0.1:{port}\"");
    let server = server(outbound_manifest(&allowed)).await;
    let response = server
        .http
        .get(server.url(&format!("/api/v1/outbound?url=http://127.0.0.1:{port}/x")))
        .send()
        .await
        .expect("get");
    assert_eq!(response.status(), 200, "{}", server.log());
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["upstream_status"], 200);
    assert_eq!(body["upstream_body"], "upstream says hi");
}

#[tokio::test]
async fn outbound_request_to_a_host_not_allowed_is_refused() {
    let port = upstream().await;
    let allowed = format!("\"http://127.0.0.1:{}\"", port.wrapping_add(1));
    let server = server(outbound_manifest(&allowed)).await;
    let response = server
        .http
        .get(server.url(&format!("/api/v1/outbound?url=http://127.0.0.1:{port}/x")))
        .send()
        .await
        .expect("get");
    assert_eq!(response.status(), 502);
    let body: Value = response.json().await.expect("json");
    assert!(
        body["detail"]
            .as_str()
            .unwrap_or_default()
            .to_lowercase()
            .contains("denied")
            || body["detail"]
                .as_str()
                .unwrap_or_default()
                .contains("Denied"),
        "{body}"
    );
}

#[tokio::test]
async fn allowed_name_resolving_to_loopback_is_refused() {
    let port = upstream().await;
    // `localhost` is allowed by name, but it resolves to a loopback address that the
    // manifest does not name: refused (the same rule stops 169.254.169.254 and friends).
    let allowed = format!("\"http://localhost:{port}\"");
    let server = server(outbound_manifest(&allowed)).await;
    let response = server
        .http
        .get(server.url(&format!("/api/v1/outbound?url=http://localhost:{port}/x")))
        .send()
        .await
        .expect("get");
    assert_eq!(response.status(), 502);
    let metadata = server
        .http
        .get(server.url("/api/v1/outbound?url=http://169.254.169.254/latest/meta-data"))
        .send()
        .await
        .expect("get");
    assert_eq!(metadata.status(), 502);
}

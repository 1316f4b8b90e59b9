//! Clients that hold connections: a request head that never finishes, an idle keep-alive
//! connection, and more connections from one address than it may hold.

use std::time::{Duration, Instant};

use mindflow_tests::{Manifest, Server, server_with};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn connect(server: &Server) -> TcpStream {
    let address = server
        .url("")
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    TcpStream::connect(address).await.expect("connect")
}

/// Whether the server closes `stream` within `within` (a read answers end of stream or an
/// error rather than waiting).
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buffer = [0u8; 1024];
    loop {
        match tokio::time::timeout(within, stream.read(&mut buffer)).await {
            Err(_elapsed) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            // An answer (a 408, say) may come before the close.
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test]
async fn a_head_that_never_finishes_is_cut_off() {
    let server = server_with(
        Manifest::product(&[]),
        &[("MINDFLOW_HEADER_READ_TIMEOUT_MS", "500")],
    )
    .await;
    let mut slow = connect(&server).await;
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: mindflow\r\nX-Slow: ")
        .await
        .expect("write");
    let started = Instant::now();
    assert!(
        closed_within(&mut slow, Duration::from_secs(5)).await,
        "the half-sent head held its connection"
    );
    assert!(started.elapsed() >= Duration::from_millis(400));
    // An idle keep-alive connection goes the same way.
    let mut idle = connect(&server).await;
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: mindflow\r\n\r\n")
        .await
        .expect("write");
    assert!(
        closed_within(&mut idle, Duration::from_secs(5)).await,
        "the idle connection was kept"
    );
    // Everyone else is served.
    let ok = server
        .http
        .get(server.url("/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(ok.status(), 200);
}

#[tokio::test]
async fn one_address_holds_a_bounded_number_of_connections() {
    let server = server_with(
        Manifest::product(&[]),
        &[
            ("MINDFLOW_MAX_CONNECTIONS_PER_ADDRESS", "3"),
            ("MINDFLOW_HEADER_READ_TIMEOUT_MS", "1000"),
        ],
    )
    .await;
    // The test client's own keep-alive connections count too: the server lets them go
    // after the idle timeout.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(connect(&server).await);
    }
    // The fourth is closed on accept, long before the idle timeout would close it.
    let mut fourth = connect(&server).await;
    assert!(
        closed_within(&mut fourth, Duration::from_millis(500)).await,
        "a fourth connection from the address was kept"
    );
    drop(held);
    // Once they are closed, the address is served again.
    let mut served = false;
    for _ in 0..50 {
        let mut stream = connect(&server).await;
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: mindflow\r\nConnection: close\r\n\r\n")
            .await
            .expect("write");
        let mut answer = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(2), stream.read_to_end(&mut answer)).await;
        if answer.starts_with(b"HTTP/1.1 200") {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(served, "the address was not served again");
}

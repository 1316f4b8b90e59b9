//! Acknowledged writes survive a crash: the server is killed with SIGKILL under write load,
//! restarted on the same data, and every write it answered 201 to is there.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use mindflow_tests::accounts::user;
use mindflow_tests::{Manifest, Server, ServerOptions};
use serde_json::{Value, json};

const JWT_SECRET: (&str, &str) = (
    "MINDFLOW_JWT_SECRET",
    "ZHVyYWJpbGl0eSB0ZXN0IHNlY3JldCwgMzIgYnl0ZXMh",
);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_acknowledged_write_survives_a_kill() {
    let data = tempfile::tempdir().expect("tempdir");
    let mut options = ServerOptions::new(Manifest::product(&["mood"]))
        .await
        .expect("options");
    options.data_dir = Some(data.path().join("data"));
    options.env.push((JWT_SECRET.0.into(), JWT_SECRET.1.into()));
    let database_url = options.database_url.clone();
    let manifest = options.manifest.clone();
    let mut first = Server::start(options).await.expect("start");
    let (token, _) = user(&first, "durable").await;

    // Writers, each posting logs back to back and keeping the ids answered 201.
    let acknowledged: Arc<Mutex<Vec<String>>> = Arc::default();
    let url = first.url("/api/v1/mood/logs");
    let mut writers = Vec::new();
    for writer in 0..8 {
        let (url, token, acknowledged) = (url.clone(), token.clone(), acknowledged.clone());
        writers.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            for n in 0.. {
                let sent = client
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&json!({"mood_score": (writer + n) % 10 + 1, "note": format!("writer {writer}, log {n}")}))
                    .send()
                    .await;
                let Ok(response) = sent else { return };
                if response.status() != 201 {
                    return;
                }
                let Ok(body) = response.json::<Value>().await else { return };
                if let Some(id) = body["id"].as_str() {
                    acknowledged.lock().expect("lock").push(id.to_owned());
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    first.kill().expect("kill");
    for writer in writers {
        let _ = writer.await;
    }
    let acknowledged = acknowledged.lock().expect("lock").clone();
    assert!(
        acknowledged.len() > 20,
        "only {} writes before the kill",
        acknowledged.len()
    );

    // The same data, a new process.
    let mut options = ServerOptions::new(manifest).await.expect("options");
    options.data_dir = Some(data.path().join("data"));
    options.database_url = database_url;
    options.env.push((JWT_SECRET.0.into(), JWT_SECRET.1.into()));
    let second = Server::start(options).await.expect("restart");
    let mut missing = Vec::new();
    for id in &acknowledged {
        let response = second
            .http
            .get(second.url(&format!("/api/v1/mood/logs/{id}")))
            .bearer_auth(&token)
            .send()
            .await
            .expect("get");
        if response.status() != 200 {
            missing.push(id.clone());
        }
    }
    eprintln!(
        "durability: {} acknowledged writes before SIGKILL, {} missing after restart",
        acknowledged.len(),
        missing.len()
    );
    assert!(missing.is_empty(), "acknowledged but lost: {missing:?}");
}

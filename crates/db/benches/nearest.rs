//! The exact nearest search on SQLite (`storage_nearest`) against the size of one person's
//! chat history: `cargo bench -p mindflow-db --bench nearest`. Prints p50 and p99 per size,
//! one query at a time (the chat pipeline's memory search, k = 5, 384 dimensions).

use std::time::Instant;

use mindflow_db::catalog::{Value, collection};
use mindflow_db::testing;

const DIM: usize = 384;

fn pseudo_vector(seed: u64) -> Vec<f32> {
    let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    (0..DIM)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            // The top 24 bits as a float in [-0.5, 0.5): exact in f32.
            #[allow(clippy::cast_precision_loss)]
            let unit = (state >> 40) as f32 / 16_777_216.0;
            unit - 0.5
        })
        .collect()
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let (db, _dir) = testing::sqlite().await;
        db.prepare_embedding_column(DIM)
            .await
            .expect("embedding column");
        let user = db
            .create_user(
                "bench@example.com",
                "$argon2id$v=19$m=1,t=1,p=1$c2FsdA$aGFzaA",
                None,
            )
            .await
            .expect("user")
            .id;
        let sessions = collection("chat_sessions").expect("sessions");
        let messages = collection("chat_messages").expect("messages");
        let session = db
            .storage_insert(user, sessions, Vec::new())
            .await
            .expect("session");
        let Some((_, Value::Uuid(session_id))) = session.iter().find(|(n, _)| n == "id") else {
            panic!("session id");
        };
        let mut stored = 0u64;
        println!("## storage_nearest on SQLite, k = 5, {DIM} dimensions, one query at a time\n");
        for size in [200u64, 2_000, 10_000] {
            while stored < size {
                stored += 1;
                // A user message (sealed text of a typical length, an embedding) and the
                // assistant's answer (no embedding), as chat stores them.
                for (role, embedding) in [("user", true), ("assistant", false)] {
                    let mut record = vec![
                        ("session_id".to_owned(), Value::Uuid(session_id.clone())),
                        ("role".to_owned(), Value::Text(role.into())),
                        ("content_encrypted".to_owned(), Value::Bytes(vec![7; 240])),
                        ("content_iv".to_owned(), Value::Bytes(vec![1; 24])),
                    ];
                    if embedding {
                        record.push(("embedding".to_owned(), Value::Vector(pseudo_vector(stored))));
                    }
                    db.storage_insert(user, messages, record)
                        .await
                        .expect("message");
                }
            }
            let mut samples = Vec::new();
            for i in 0..200u64 {
                let target = pseudo_vector(1_000_000 + i);
                let started = Instant::now();
                let found = db
                    .storage_nearest(user, messages, "embedding", target, 5, Vec::new())
                    .await
                    .expect("nearest");
                samples.push(started.elapsed());
                assert_eq!(found.len(), 5);
            }
            samples.sort_unstable();
            println!(
                "- {size} messages with embeddings: p50 {:.3} ms, p99 {:.3} ms",
                samples[100].as_secs_f64() * 1e3,
                samples[198].as_secs_f64() * 1e3
            );
        }
    });
}

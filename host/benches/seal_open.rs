//! Seal + open throughput under a user's data key (envelope encryption, XChaCha20-Poly1305),
//! with the wrapped key in a real SQLite database and the host's unwrapped-key cache, as in
//! production. Prints figures; asserts nothing.
//!
//! Run with `cargo bench -p mindflow --bench seal_open`.

// Statistics over timings and counts: converting them to `f64` and rounding back is the point.
#![allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]

use std::time::Instant;

use mindflow::crypto::{KeyService, MasterKeys};
use mindflow::db::Database;

mod support;

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let dir = tempfile::tempdir()?;
        let db = Database::connect(None, dir.path()).await?;
        db.migrate().await?;
        let user = db
            .create_user("bench@example.com", "not-a-real-hash", None)
            .await?;
        let keys = KeyService::new(db, MasterKeys::new(&[7u8; 32], &[]));
        for size in [500usize, 2_000 * 6, 64 * 1024] {
            let plaintext = vec![b'a'; size];
            // Warm the key cache and the allocator.
            for _ in 0..200 {
                let sealed = keys.seal(user.id, "journal", &plaintext).await?;
                keys.open(user.id, "journal", &sealed).await?;
            }
            let rounds = 5_000;
            let mut samples = Vec::with_capacity(rounds);
            let started = Instant::now();
            for _ in 0..rounds {
                let t = Instant::now();
                let sealed = keys.seal(user.id, "journal", &plaintext).await?;
                let opened = keys.open(user.id, "journal", &sealed).await?;
                samples.push(t.elapsed().as_nanos());
                std::hint::black_box(opened);
            }
            let seconds = started.elapsed().as_secs_f64();
            samples.sort_unstable();
            println!(
                "seal+open {size} B: {:.0} round trips/s ({:.1} MB/s each way), p50 {:.1} µs, p99 {:.1} µs",
                rounds as f64 / seconds,
                (rounds * size) as f64 / seconds / 1e6,
                support::percentile(&samples, 0.5) as f64 / 1000.0,
                support::percentile(&samples, 0.99) as f64 / 1000.0
            );
        }
        anyhow::Ok(())
    })
}

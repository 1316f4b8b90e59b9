//! `bench replicas`: throughput of one, two and three replicas behind a real HAProxy
//! (`MINDFLOW_HAPROXY`) on one PostgreSQL and one Redis (`MINDFLOW_REDIS_SERVER`), on a
//! read-heavy and a write-heavy mix, plus one replica asked directly (what the balancer
//! itself costs). PostgreSQL only (`MINDFLOW_TEST_BACKEND=postgres`).
//!
//! Every replica, the balancer, PostgreSQL, Redis and this load generator share the
//! machine's cores, so the absolute figures say little; the ratios between pool sizes, in
//! rounds that alternate the sizes so the machine's drift hits each alike, are the result.
//! On a machine whose cores are all busy with one replica already, more replicas cannot
//! add throughput: the figure then shows what scaling out costs, not what it gains.
//!
//! Environment: `BENCH_SECONDS` (5) per run, `BENCH_ROUNDS` (3), `BENCH_CONNECTIONS` (32),
//! `BENCH_USERS` (16) users with `BENCH_HISTORY` (1000) mood logs and `BENCH_JOURNAL` (20)
//! journal entries each.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Result, bail};
use mindflow_tests::balancer::Balancer;
use mindflow_tests::redis::Redis;
use mindflow_tests::{Backend, Server, ServerOptions, backend};

use super::api::endpoints::{self, Actor, Sessions, Target};
use super::api::mix::Mix;
use super::api::openloop::{Outcome, closed_loop};
use super::api::seed::{self, Db, SeededUser};
use super::{LoadResult, bench_manifest, ms};

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

async fn replica(database: Option<String>, redis: &Redis) -> Result<Server> {
    let mut options = ServerOptions::new(bench_manifest()).await?;
    options.database_url = database.or(options.database_url);
    for (name, value) in [
        (
            "MINDFLOW_JWT_SECRET",
            "c2NhbGUgb3V0OiByZXBsaWNhcyBzaGFyZSB0aGlzIGtleSE=".to_owned(),
        ),
        // Shared as in production: each replica opens what another sealed.
        (
            "MINDFLOW_MASTER_KEY",
            "cmVwbGljYXMgc2hhcmUgb25lIG1hc3RlciBrZXkhISE=".to_owned(),
        ),
        ("REDIS_URL", redis.url()),
        ("MINDFLOW_TRUSTED_PROXIES", "127.0.0.1".to_owned()),
        ("RUST_LOG", "warn,mindflow::server=info".to_owned()),
    ] {
        options.env.push((name.to_owned(), value));
    }
    Server::start(options).await
}

/// One closed loop of `mix` against `base`.
async fn measure(
    base: &str,
    users: &[SeededUser],
    sessions: &Arc<Sessions>,
    mix: &Arc<Mix>,
    connections: usize,
    seconds: u64,
) -> Result<Outcome> {
    let target = Arc::new(Target {
        base: base.to_owned(),
        actors: users
            .iter()
            .map(|u| Actor {
                token: u.access_token.clone(),
                mood_ids: u.mood_ids.clone(),
                journal_ids: u.journal_ids.clone(),
            })
            .collect(),
        sessions: sessions.clone(),
    });
    let op = endpoints::mix_op(mix, &target);
    closed_loop(
        &op,
        connections,
        Duration::from_secs(seconds),
        Duration::from_secs(30),
    )
    .await
}

/// Runs the benchmark and prints its table.
///
/// # Errors
/// When a server, Redis or HAProxy does not start, or seeding fails.
pub async fn run() -> Result<()> {
    if backend() != Backend::Postgres {
        bail!(
            "bench replicas needs PostgreSQL: MINDFLOW_TEST_BACKEND=postgres and MINDFLOW_TEST_DATABASE_URL"
        );
    }
    let seconds = setting("BENCH_SECONDS", 5).max(1) as u64;
    let rounds = setting("BENCH_ROUNDS", 3).max(1);
    let connections = setting("BENCH_CONNECTIONS", 32).max(1);
    let user_count = setting("BENCH_USERS", 16).max(1);
    let history = setting("BENCH_HISTORY", 1000).max(1);
    let journal = setting("BENCH_JOURNAL", 20).max(1);
    let redis = Redis::start().await?;

    // Seeded through the first replica alone: its outbox consumer is the one that mails
    // the registration codes the seeding reads from its data folder.
    let first = replica(None, &redis).await?;
    eprintln!(
        "seeding {user_count} users with {history} mood logs and {journal} journal entries each…"
    );
    let mut users = seed::register_many(&first, "scale", user_count).await?;
    let mut db = Db::open(&first).await?;
    for user in &mut users {
        db.mood_history(user, history).await?;
    }
    db.keep_history(&users).await?;
    db.close().await?;
    seed::journal(&first, &mut users, journal).await?;
    let sessions = Arc::new(Sessions::new(
        seed::sessions(&first, &users, connections).await?,
    ));
    let database = first.database_url.clone();
    let second = replica(database.clone(), &redis).await?;
    let third = replica(database, &redis).await?;
    let servers = [&first, &second, &third];
    let mut balancer = Balancer::start(&[first.base.as_str()]).await?;

    println!(
        "## scale-out: replicas behind HAProxy ({rounds} rounds of {seconds} s per configuration and mix, alternating; {connections} connections, closed loop; {user_count} users × {history} mood logs, {journal} journal entries; PostgreSQL and Redis on the same machine)"
    );
    let mixes = [
        ("read-heavy", Arc::new(Mix::read_heavy())),
        ("write-heavy", Arc::new(Mix::write_heavy())),
    ];
    for (name, mix) in &mixes {
        println!("- {name}: {}", mix.describe());
    }
    // (configuration label, pool size; 0 = one replica asked directly)
    let configurations: [(&str, usize); 4] = [
        ("1 replica, direct", 0),
        ("1 replica behind HAProxy", 1),
        ("2 replicas behind HAProxy", 2),
        ("3 replicas behind HAProxy", 3),
    ];
    let mut results: Vec<Vec<Option<LoadResult>>> = (0..mixes.len())
        .map(|_| configurations.iter().map(|_| None).collect())
        .collect();
    for round in 0..rounds {
        for (c, (_, pool)) in configurations.iter().enumerate() {
            if *pool > 0 {
                let bases: Vec<&str> = servers[..*pool].iter().map(|s| s.base.as_str()).collect();
                balancer.reload(&bases).await?;
            }
            let base = if *pool == 0 {
                first.base.clone()
            } else {
                balancer.url("")
            };
            for (m, (_, mix)) in mixes.iter().enumerate() {
                if round == 0 {
                    // Warm-up: pools, caches and instances of every replica in the pool.
                    measure(&base, &users, &sessions, mix, connections, 1).await?;
                }
                let outcome = measure(&base, &users, &sessions, mix, connections, seconds).await?;
                if !outcome.errors.is_empty() {
                    eprintln!(
                        "failures ({}, pool {pool}): {:?}",
                        mixes[m].0, outcome.errors
                    );
                }
                let slot = &mut results[m][c];
                match slot {
                    Some(total) => total.absorb(outcome.result),
                    None => *slot = Some(outcome.result),
                }
            }
        }
        // Tokens live 15 minutes; a long run renews them between rounds.
        seed::renew_tokens(&first, &mut users).await?;
    }
    println!();
    println!("| mix | configuration | req/s | vs 1 behind HAProxy | p50 ms | p99 ms | failures |");
    println!("|---|---|---|---|---|---|---|");
    for (m, (name, _)) in mixes.iter().enumerate() {
        let base_rate = results[m][1].as_ref().map_or(0.0, LoadResult::rate);
        for (c, (label, _)) in configurations.iter().enumerate() {
            let Some(result) = &results[m][c] else {
                continue;
            };
            println!(
                "| {name} | {label} | {:.0} | {:.2}× | {:.2} | {:.2} | {} |",
                result.rate(),
                if base_rate > 0.0 {
                    result.rate() / base_rate
                } else {
                    0.0
                },
                ms(result.p50_us()),
                ms(result.p99_us()),
                result.failures
            );
        }
    }
    Ok(())
}

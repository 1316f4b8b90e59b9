//! `insights`: what recomputing a person's insights costs through the real component, and
//! what a night of it costs for many people (`bench insights`, named only).
//!
//! 1. **One person, two years.** A premium user with two mood logs a day for 730 days (with
//!    factors) and a wearable's daily metrics, written with SQL; then `POST
//!    /api/v1/insights/refresh` called back to back (concurrency 1, `BENCH_INSIGHTS_CALLS`
//!    calls): p50, p99, max. This is the whole path: the edge, a fresh instance, paged
//!    storage reads of the history, detection in Wasm, the reconciling batch.
//! 2. **A night for many.** `BENCH_INSIGHTS_USERS` users (10,000) with `BENCH_INSIGHTS_DAYS`
//!    days of logs each (60), rows generated in bulk with SQL; the server restarts with the
//!    nightly hour at 0 so every user is due at once, and the bench waits until every run is
//!    recorded finished: wall time, runs per second, failures, the server's CPU time and, on
//!    PostgreSQL, the database's (its processes' CPU time and `pg_stat_database` deltas).

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use chrono::{Datelike, Utc};
use mindflow_tests::{Manifest, Server, ServerOptions, accounts};
use serde_json::{Value, json};

use crate::api::seed::{Db, quote};

fn manifest() -> Manifest {
    Manifest::product(&[
        "mood",
        "insights",
        "recommendations",
        "content-library",
        "crisis-rules",
    ])
}

/// A number from the environment, or `default`.
pub(crate) fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs both parts.
pub async fn run() -> Result<()> {
    println!("# insights — backend {:?}", mindflow_tests::backend());
    one_person().await?;
    a_night().await
}

/// Options for a server whose scheduler looks for due users only at start-up, and quietly.
async fn quiet_options(manifest: Manifest) -> Result<ServerOptions> {
    let mut options = ServerOptions::new(manifest).await?;
    options.env.extend([
        ("MINDFLOW_NIGHTLY_TICK_MS".to_owned(), "3600000".to_owned()),
        (
            "RUST_LOG".to_owned(),
            "warn,mindflow::server=info".to_owned(),
        ),
    ]);
    Ok(options)
}

/// Part 1: refresh latency for one person with two years of history.
async fn one_person() -> Result<()> {
    let calls = env_number("BENCH_INSIGHTS_CALLS", 100);
    let server = Server::start(quiet_options(manifest()).await?).await?;
    let email = accounts::email("insights-two-years");
    let body = accounts::register(&server, &email).await?;
    let user_id = body["user"]["id"].as_str().context("user id")?.to_owned();
    let token = body["access_token"].as_str().context("token")?.to_owned();
    let admin = server.admin_token().await?;
    let upgraded = server
        .http
        .put(server.url(&format!("/api/v1/admin/users/{user_id}/subscription")))
        .bearer_auth(&admin)
        .json(&json!({"tier": "premium", "expires_at": null}))
        .send()
        .await?;
    if !upgraded.status().is_success() {
        bail!("upgrade: {}", upgraded.status());
    }
    let mut db = Db::open(&server).await?;
    let seeded = Instant::now();
    two_years(&mut db, &user_id).await?;
    db.close().await?;
    println!(
        "seeded 1,460 logs, their factors and 730 days of metrics in {:.1} s",
        seeded.elapsed().as_secs_f64()
    );
    let refresh = || async {
        let started = Instant::now();
        let response = server
            .http
            .post(server.url("/api/v1/insights/refresh"))
            .bearer_auth(&token)
            .json(&json!({}))
            .send()
            .await?;
        let status = response.status();
        let body: Value = response.json().await?;
        if !status.is_success() {
            bail!("refresh answered {status}: {body}");
        }
        Ok::<_, anyhow::Error>((started.elapsed(), body))
    };
    let (cold, first) = refresh().await?;
    println!(
        "first refresh: {:.1} ms; analysed {} logs, {} patterns ({} inserted)",
        cold.as_secs_f64() * 1e3,
        first["analyzed_logs"],
        first["patterns"],
        first["inserted"]
    );
    let mut latencies_us = Vec::with_capacity(calls);
    for _ in 0..calls {
        let elapsed = refresh().await?.0;
        latencies_us.push(u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX));
    }
    latencies_us.sort_unstable();
    let at = |q: f64| crate::ms(crate::percentile(&latencies_us, q));
    println!(
        "POST /api/v1/insights/refresh, two years (premium), concurrency 1, {calls} calls: \
         p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        at(0.5),
        at(0.99),
        at(1.0)
    );
    Ok(())
}

/// Two logs a day for 730 days (exercise on 40% of days, two points up), other factors at
/// random, and a ring's nightly sleep, HRV and steps; a short night takes a point off.
async fn two_years(db: &mut Db, user_id: &str) -> Result<()> {
    let today = Utc::now().date_naive();
    let user = quote(user_id);
    let connection = uuid::Uuid::new_v4().to_string();
    let mut sql = db.begin().to_owned();
    sql.push_str(&format!(
        "INSERT INTO wearable_connections (id, user_id, provider, created_at) VALUES ({}, {user}, 'oura', {});\n",
        quote(&connection),
        quote(&format!("{today}T00:00:00.000000Z"))
    ));
    let mut logs = Vec::new();
    let mut factors = Vec::new();
    let mut metrics = Vec::new();
    for back in 1..=730_i64 {
        let date = today - chrono::Duration::days(back);
        let r = crate::api::endpoints::mix64(back.unsigned_abs());
        let exercise = r % 10 < 4;
        let sleep = 330 + (r >> 8) % 180;
        for (k, hour) in [(0u64, 8u32), (1, 20)] {
            let r = crate::api::endpoints::mix64(back.unsigned_abs() * 2 + k);
            let mut mood = 5 + (r % 3).cast_signed();
            if exercise {
                mood += 2;
            }
            if sleep < 360 {
                mood -= 1;
            }
            let id = uuid::Uuid::new_v4().to_string();
            let at = quote(&format!("{date}T{hour:02}:00:00.000000Z"));
            logs.push(format!(
                "({}, {user}, {}, {at}, {}, {}, FALSE, {at})",
                quote(&id),
                mood.clamp(1, 10),
                quote(if hour < 12 { "morning" } else { "evening" }),
                date.weekday().number_from_monday()
            ));
            let mut kinds = Vec::new();
            if exercise && k == 0 {
                kinds.push("exercise");
            }
            if (r >> 8) % 10 < 3 {
                kinds.push("caffeine");
            }
            if (r >> 16) % 10 < 6 {
                kinds.push("work");
            }
            for kind in kinds {
                factors.push(format!("({}, {})", quote(&id), quote(kind)));
            }
        }
        metrics.push(format!(
            "({}, {user}, {}, {}, {sleep}, {:.1}, {}, {})",
            quote(&uuid::Uuid::new_v4().to_string()),
            quote(&connection),
            quote(&date.to_string()),
            20.0 + crate::float((r >> 20) % 60),
            4000 + (r >> 28) % 9000,
            quote(&format!("{date}T09:00:00.000000Z")),
        ));
    }
    sql.push_str(
        "INSERT INTO mood_logs (id, user_id, mood_score, logged_at, time_of_day, day_of_week, crisis_flag_triggered, created_at) VALUES\n",
    );
    sql.push_str(&logs.join(",\n"));
    sql.push_str(";\nINSERT INTO mood_factors (mood_log_id, factor_type) VALUES\n");
    sql.push_str(&factors.join(",\n"));
    sql.push_str(
        ";\nINSERT INTO wearable_metrics (id, user_id, connection_id, metric_date, sleep_duration_minutes, hrv_avg, steps, created_at) VALUES\n",
    );
    sql.push_str(&metrics.join(",\n"));
    sql.push_str(";\nCOMMIT;\n");
    db.execute(sql).await
}

/// Part 2: a night for many users.
async fn a_night() -> Result<()> {
    let users = env_number("BENCH_INSIGHTS_USERS", 10_000);
    let days = env_number("BENCH_INSIGHTS_DAYS", 60);
    let concurrency = env_number("BENCH_INSIGHTS_CONCURRENCY", 2);
    let data = tempfile::tempdir()?;
    let mut options = quiet_options(manifest()).await?;
    options.data_dir = Some(data.path().join("data"));
    let database_url = options.database_url.clone();
    let mut first = Server::start(options).await?;
    let mut db = Db::open(&first).await?;
    let seeded = Instant::now();
    many_users(&mut db, users, days).await?;
    db.close().await?;
    println!(
        "seeded {users} users with {days} days of logs each ({} logs) in {:.1} s",
        users * days,
        seeded.elapsed().as_secs_f64()
    );
    first.terminate()?;

    let mut options = quiet_options(manifest()).await?;
    options.data_dir = Some(data.path().join("data"));
    options.database_url = database_url.clone();
    options
        .env
        .retain(|(name, _)| name != "MINDFLOW_NIGHTLY_TICK_MS");
    options.env.extend([
        ("MINDFLOW_NIGHTLY_HOUR".to_owned(), "0".to_owned()),
        ("MINDFLOW_NIGHTLY_TICK_MS".to_owned(), "1000".to_owned()),
        (
            "MINDFLOW_NIGHTLY_CONCURRENCY".to_owned(),
            concurrency.to_string(),
        ),
    ]);
    let pg_before = match &database_url {
        Some(url) => Some(PgLoad::sample(url).await?),
        None => None,
    };
    let started = Instant::now();
    let server = Server::start(options).await?;
    let pid = server.pid().context("server pid")?;
    let mut db = Db::open(&server).await?;
    let (finished, ok) = loop {
        let (finished, ok) = runs(&mut db).await?;
        if u64::try_from(finished).unwrap_or(0) >= users as u64 {
            break (finished, ok);
        }
        if started.elapsed() > Duration::from_secs(3600) {
            bail!("only {finished} of {users} nightly runs finished within an hour");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let elapsed = started.elapsed().as_secs_f64();
    let server_cpu = process_cpu_seconds(pid)?;
    db.close().await?;
    println!(
        "nightly insights for {users} users ({days} days each), concurrency {concurrency}: \
         {finished} runs in {elapsed:.1} s ({:.0} runs/s), {} failed; server CPU {server_cpu:.1} s",
        crate::float(u64::try_from(finished).unwrap_or(0)) / elapsed,
        finished - ok
    );
    if let (Some(url), Some(before)) = (&database_url, pg_before) {
        let after = PgLoad::sample(url).await?;
        println!("database during the night: {}", after.since(&before));
    }
    Ok(())
}

/// `users` users (in a few time zones), each with a log a day for `days` days and exercise
/// on some of them.
async fn many_users(db: &mut Db, users: usize, days: usize) -> Result<()> {
    const ZONES: [&str; 5] = [
        "UTC",
        "Europe/Paris",
        "America/New_York",
        "Asia/Tokyo",
        "Australia/Sydney",
    ];
    const USERS_PER_TRANSACTION: usize = 100;
    let today = Utc::now().date_naive();
    for start in (0..users).step_by(USERS_PER_TRANSACTION) {
        let end = (start + USERS_PER_TRANSACTION).min(users);
        let mut people = Vec::new();
        let mut logs = Vec::new();
        let mut factors = Vec::new();
        for i in start..end {
            let id = uuid::Uuid::new_v4().to_string();
            people.push(format!(
                "({}, {}, {}, {})",
                quote(&id),
                quote(&format!("night-{i}@bench.invalid")),
                quote(&format!("night{i:016x}")),
                quote(ZONES[i % ZONES.len()])
            ));
            for back in 1..=days {
                let date = today - chrono::Duration::days(i64::try_from(back).unwrap_or(0));
                let r = crate::api::endpoints::mix64((i * 1_000 + back) as u64);
                let exercise = r % 10 < 4;
                let log = uuid::Uuid::new_v4().to_string();
                let at = quote(&format!("{date}T12:00:00.000000Z"));
                logs.push(format!(
                    "({}, {}, {}, {at}, 'afternoon', {}, FALSE, {at})",
                    quote(&log),
                    quote(&id),
                    4 + (r >> 8) % 4 + u64::from(exercise) * 2,
                    date.weekday().number_from_monday()
                ));
                if exercise {
                    factors.push(format!("({}, 'exercise')", quote(&log)));
                }
            }
        }
        let mut sql = db.begin().to_owned();
        sql.push_str("INSERT INTO users (id, email, anonymous_id, timezone) VALUES\n");
        sql.push_str(&people.join(",\n"));
        sql.push_str(";\nINSERT INTO mood_logs (id, user_id, mood_score, logged_at, time_of_day, day_of_week, crisis_flag_triggered, created_at) VALUES\n");
        sql.push_str(&logs.join(",\n"));
        if !factors.is_empty() {
            sql.push_str(";\nINSERT INTO mood_factors (mood_log_id, factor_type) VALUES\n");
            sql.push_str(&factors.join(",\n"));
        }
        sql.push_str(";\nCOMMIT;\n");
        db.execute(sql)
            .await
            .with_context(|| format!("seeding users {start}..{end}"))?;
    }
    Ok(())
}

/// Finished and `ok` nightly runs of the insights component.
async fn runs(db: &mut Db) -> Result<(i64, i64)> {
    let sql = "SELECT CAST(COUNT(*) AS BIGINT), CAST(COALESCE(SUM(CASE WHEN outcome = 'ok' THEN 1 ELSE 0 END), 0) AS BIGINT) \
               FROM nightly_runs WHERE component = 'insights' AND finished_at IS NOT NULL";
    Ok(match db {
        Db::Sqlite(connection) => sqlx::query_as(sql).fetch_one(connection).await?,
        Db::Postgres(connection) => sqlx::query_as(sql).fetch_one(connection).await?,
    })
}

/// User plus system CPU seconds a process has used.
pub(crate) fn process_cpu_seconds(pid: u32) -> Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    cpu_of_stat(&stat).context("unreadable /proc stat")
}

fn cpu_of_stat(stat: &str) -> Option<f64> {
    // Fields after the command name (which may hold spaces, inside parentheses).
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // SAFETY: sysconf has no preconditions.
    #[allow(unsafe_code)]
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    Some(ticks / crate::float(u64::try_from(per_second).ok()?))
}

/// What PostgreSQL did: its processes' CPU time and the database's counters.
pub(crate) struct PgLoad {
    cpu_seconds: f64,
    counters: Vec<i64>,
}

const PG_COUNTERS: [&str; 7] = [
    "xact_commit",
    "tup_returned",
    "tup_fetched",
    "tup_inserted",
    "tup_updated",
    "blks_hit",
    "blks_read",
];

impl PgLoad {
    pub(crate) async fn sample(url: &str) -> Result<Self> {
        use sqlx::Connection;
        let mut connection = sqlx::PgConnection::connect(url).await?;
        let row: (i64, i64, i64, i64, i64, i64, i64) = sqlx::query_as(
            "SELECT xact_commit, tup_returned, tup_fetched, tup_inserted, tup_updated, blks_hit, blks_read \
             FROM pg_stat_database WHERE datname = current_database()",
        )
        .fetch_one(&mut connection)
        .await?;
        connection.close().await?;
        let mut cpu_seconds = 0.0;
        for entry in std::fs::read_dir("/proc")?.flatten() {
            if let Ok(stat) = std::fs::read_to_string(entry.path().join("stat"))
                && stat.contains("(postgres)")
            {
                cpu_seconds += cpu_of_stat(&stat).unwrap_or(0.0);
            }
        }
        Ok(Self {
            cpu_seconds,
            counters: vec![row.0, row.1, row.2, row.3, row.4, row.5, row.6],
        })
    }

    pub(crate) fn since(&self, before: &Self) -> String {
        let mut parts = vec![format!(
            "postgres processes' CPU {:.1} s (all databases on the server)",
            self.cpu_seconds - before.cpu_seconds
        )];
        for (name, (after, earlier)) in PG_COUNTERS
            .iter()
            .zip(self.counters.iter().zip(&before.counters))
        {
            parts.push(format!("{name} +{}", after - earlier));
        }
        parts.join(", ")
    }
}

//! `bench soak`: the realistic mix at a fixed share of its saturation throughput for many
//! minutes (issue 18, "faults and load"), one table row per minute, with the server's
//! resident memory: does memory stay flat, the p99 stable, and nothing fail?
//!
//! Environment: `BENCH_SOAK_MINUTES` (10), `BENCH_SOAK_SHARE` (0.5: the offered load as a
//! share of the closed-loop saturation), and `bench api`'s `BENCH_USERS`, `BENCH_HISTORY`
//! (the first size only), `BENCH_JOURNAL`, `BENCH_SECONDS` (the saturation run),
//! `BENCH_CONNECTIONS`, `BENCH_MAX_IN_FLIGHT`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use mindflow_tests::Server;

use super::endpoints;
use super::mix::Mix;
use super::{CLOSED_LOOP_PATIENCE, Config, env_or, openloop, prepare, seed};

/// One measured window.
const WINDOW: Duration = Duration::from_secs(60);

/// The server's resident memory in MiB (`VmRSS` of `/proc/PID/status`).
fn resident_mib(pid: u32) -> Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    let kib: f64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .context("no VmRSS in /proc/PID/status")?;
    Ok(kib / 1024.0)
}

/// Runs the soak; prints the table.
pub async fn run(server: &Server) -> Result<()> {
    let mut config = Config::from_env()?;
    config.histories.truncate(1);
    let minutes: u32 = env_or("BENCH_SOAK_MINUTES", 10)?;
    let share: f64 = env_or("BENCH_SOAK_SHARE", 0.5)?;
    if minutes == 0 || !(share > 0.0 && share <= 1.0) {
        bail!("BENCH_SOAK_MINUTES must be at least 1 and BENCH_SOAK_SHARE in (0, 1]");
    }
    let pid = server.pid().context("the server is not running")?;
    let mix = Arc::new(Mix::realistic());
    println!(
        "## soak: the realistic mix at {:.0}% of saturation for {minutes} minutes",
        100.0 * share
    );
    println!();
    println!(
        "- backend: {:?}; mix: {}",
        mindflow_tests::backend(),
        mix.describe()
    );
    let (mut groups, sessions) = prepare(server, &config).await?;
    let group = &mut groups[0];
    println!("- users: {}", group.label());
    let op = endpoints::mix_op(&mix, &group.target(server, &sessions));
    if !config.warmup.is_zero() {
        openloop::closed_loop(&op, config.connections, config.warmup, CLOSED_LOOP_PATIENCE).await?;
    }
    let saturation = openloop::closed_loop(
        &op,
        config.connections,
        config.seconds,
        CLOSED_LOOP_PATIENCE,
    )
    .await?;
    let rate = saturation.result.rate() * share;
    println!(
        "- saturation: {:.0} req/s at {} connections (closed loop, {:.0} s); offered load: {rate:.0} req/s, open loop, at most {} in flight",
        saturation.result.rate(),
        config.connections,
        config.seconds.as_secs_f64(),
        config.max_in_flight
    );
    println!(
        "- server RSS before the soak: {:.1} MiB",
        resident_mib(pid)?
    );
    println!();
    println!(
        "| minute | offered req/s | achieved req/s | p50 ms | p99 ms | p99.9 ms | failures | unsent | server RSS MiB |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let started = Instant::now();
    let mut failures = 0;
    let mut per_minute = Vec::new();
    for minute in 1..=minutes {
        if group.tokens_issued.elapsed() > Duration::from_secs(5 * 60) {
            seed::renew_tokens(server, &mut group.users).await?;
            group.tokens_issued = Instant::now();
        }
        let times = ServiceTimes::default();
        let op = times.timed(&mix, &group.target(server, &sessions));
        let outcome = openloop::open_loop(&op, rate, WINDOW, config.max_in_flight).await?;
        per_minute.push(times.p99_by_endpoint());
        let result = &outcome.result;
        failures += result.failures;
        println!(
            "| {minute} | {rate:.0} | {:.0} | {:.2} | {:.2} | {} | {} | {} | {:.1} |",
            result.rate(),
            crate::ms(result.p50_us()),
            crate::ms(result.p99_us()),
            outcome
                .p999_us()
                .map_or_else(|| "–".to_owned(), |us| format!("{:.2}", crate::ms(us))),
            result.failures,
            outcome.unsent,
            resident_mib(pid)?
        );
        for (what, count) in &outcome.errors {
            println!("|  | {what} ×{count} | | | | | | | |");
        }
    }
    println!();
    println!(
        "{minutes} minutes in {:.0} s; {failures} failures in all.",
        started.elapsed().as_secs_f64()
    );
    print_service_times(&mix, &per_minute);
    Ok(())
}

/// Each request's own time (from its send to its whole answer, not from its due time), by
/// endpoint: which endpoint's cost moves when the whole mix's p99 does.
#[derive(Clone, Default)]
struct ServiceTimes(Arc<std::sync::Mutex<BTreeMap<&'static str, Vec<Duration>>>>);

impl ServiceTimes {
    /// The mix's operation, timing each request under its endpoint's label.
    fn timed(&self, mix: &Arc<Mix>, target: &Arc<endpoints::Target>) -> openloop::Op {
        let (mix, target, times) = (mix.clone(), target.clone(), self.clone());
        Arc::new(move |call: openloop::Call| {
            let (mix, target, times) = (mix.clone(), target.clone(), times.clone());
            Box::pin(async move {
                let endpoint = mix.pick(call.seq);
                let sent = Instant::now();
                let result = target.request(endpoint, &call).await;
                if result.is_ok() {
                    times
                        .0
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .entry(endpoint.label())
                        .or_default()
                        .push(sent.elapsed());
                }
                result
            })
        })
    }

    /// The p99 of each endpoint's service times so far, in ms.
    fn p99_by_endpoint(&self) -> BTreeMap<&'static str, f64> {
        let mut times = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        times
            .iter_mut()
            .map(|(label, samples)| {
                samples.sort_unstable();
                let at = (samples.len() * 99 / 100).min(samples.len().saturating_sub(1));
                let p99 = samples.get(at).map_or(0.0, |d| d.as_secs_f64() * 1000.0);
                (*label, p99)
            })
            .collect()
    }
}

/// One row per minute, one column per endpoint of the mix: its service-time p99.
fn print_service_times(mix: &Mix, per_minute: &[BTreeMap<&'static str, f64>]) {
    let labels = mix.endpoints().map(|e| e.label()).collect::<Vec<_>>();
    println!();
    println!("Service time p99 by endpoint (ms; from send to the whole answer):");
    println!();
    println!("| minute | {} |", labels.join(" | "));
    println!("|---|{}", "---|".repeat(labels.len()));
    for (minute, p99s) in per_minute.iter().enumerate() {
        let cells = labels
            .iter()
            .map(|label| {
                p99s.get(label)
                    .map_or_else(|| "–".to_owned(), |ms| format!("{ms:.1}"))
            })
            .collect::<Vec<_>>();
        println!("| {} | {} |", minute + 1, cells.join(" | "));
    }
}

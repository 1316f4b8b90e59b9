//! Load generators over an [`Op`]: a closed loop (workers send back to back, which finds the
//! throughput limit) and an open loop (a constant arrival rate, whatever the answers do).
//!
//! In the open loop request `i` is due at `t0 + i / rate` and its latency counts from that
//! instant, not from when a worker got round to sending it: when the server falls behind,
//! the wait in the queue shows in the figures (no coordinated omission). Every run is bounded
//! in time: requests still running when it ends are cancelled and counted as failures,
//! requests not even sent by then are counted apart as *unsent*.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use futures::future::BoxFuture;

use crate::LoadResult;

/// What a worker hands to an [`Op`] for one request.
#[derive(Clone)]
pub struct Call {
    /// The run's keep-alive client (one connection per busy worker at most).
    pub client: reqwest::Client,
    /// The worker's index: an op may keep per-worker state (e.g. a refresh session), which
    /// is then used by one request at a time.
    pub slot: usize,
    /// The request's index in the run (distinct per request; used to spread users and ids).
    pub seq: u64,
}

/// One request of a load run: `Ok` when it succeeded (2xx, body read).
pub type Op = Arc<dyn Fn(Call) -> BoxFuture<'static, Result<()>> + Send + Sync>;

/// The figures of one run.
pub struct Outcome {
    /// Latencies of the successful requests (sorted), failures and the run's length.
    pub result: LoadResult,
    /// The arrival rate asked for (open loop only), in requests per second.
    pub offered: Option<f64>,
    /// Requests due in the run that no worker could send before it ended (open loop only);
    /// not included in `result.failures`.
    pub unsent: u64,
    /// Failures by kind (`HTTP 503 urn:…`, `transport: timeout`, …).
    pub errors: BTreeMap<String, usize>,
}

impl Outcome {
    /// The 99.9th percentile, when there are at least 2,000 samples to show it.
    pub fn p999_us(&self) -> Option<u64> {
        (self.result.latencies_us.len() >= 2_000)
            .then(|| crate::percentile(&self.result.latencies_us, 0.999))
    }
}

/// What one worker saw.
struct WorkerLog {
    latencies_us: Vec<u64>,
    errors: BTreeMap<String, usize>,
    last_done: Option<Instant>,
}

impl WorkerLog {
    fn new() -> Self {
        Self {
            latencies_us: Vec::new(),
            errors: BTreeMap::new(),
            last_done: None,
        }
    }

    /// Records a request that was due (or sent, in a closed loop) at `since`.
    fn record(&mut self, since: Instant, answer: Result<Result<()>, tokio::time::error::Elapsed>) {
        let now = Instant::now();
        self.last_done = Some(now);
        match answer {
            Ok(Ok(())) => self
                .latencies_us
                .push(crate::micros(now.saturating_duration_since(since))),
            Ok(Err(error)) => *self.errors.entry(kind(&error)).or_default() += 1,
            Err(_) => {
                *self
                    .errors
                    .entry("cut off at the end of the run".into())
                    .or_default() += 1
            }
        }
    }
}

/// At most this many requests in one run (memory and time stay bounded at any rate).
const MAX_REQUESTS: u64 = 2_000_000;

/// How long an open loop may go on after its last request was due: time for the queue to
/// drain, after which what is left is cancelled.
fn drain(duration: Duration) -> Duration {
    (duration / 4).clamp(Duration::from_secs(1), Duration::from_secs(3))
}

fn client(connections: usize) -> Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .tcp_nodelay(true)
        .build()?)
}

/// A failure's kind, for the summary: the status and problem type, or the transport error.
fn kind(error: &anyhow::Error) -> String {
    if let Some(transport) = error.downcast_ref::<reqwest::Error>() {
        let what = if transport.is_timeout() {
            "timeout".to_owned()
        } else if transport.is_connect() {
            "connect".to_owned()
        } else if transport.is_body() || transport.is_decode() {
            "body".to_owned()
        } else {
            transport.to_string()
        };
        return format!("transport: {what}");
    }
    let mut text = error.to_string();
    if text.len() > 100 {
        let mut end = 100;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

/// Merges the workers' logs into an [`Outcome`].
async fn gather(
    tasks: Vec<tokio::task::JoinHandle<WorkerLog>>,
    t0: Instant,
    minimum: Duration,
    offered: Option<f64>,
    unsent: u64,
) -> Result<Outcome> {
    let mut latencies_us = Vec::new();
    let mut errors: BTreeMap<String, usize> = BTreeMap::new();
    let mut last_done = t0;
    for task in tasks {
        let log = task.await?;
        latencies_us.extend(log.latencies_us);
        for (what, count) in log.errors {
            *errors.entry(what).or_default() += count;
        }
        last_done = last_done.max(log.last_done.unwrap_or(t0));
    }
    latencies_us.sort_unstable();
    let seconds = minimum
        .as_secs_f64()
        .max(last_done.saturating_duration_since(t0).as_secs_f64());
    Ok(Outcome {
        result: LoadResult {
            latencies_us,
            failures: errors.values().sum(),
            seconds,
        },
        offered,
        unsent,
        errors,
    })
}

/// `connections` workers send `op` back to back for `duration`: the throughput limit.
/// Latency counts from each request's actual send. Requests still running when `duration`
/// is over may finish within `patience` (then they are cut off): with very slow requests a
/// short patience would leave a closed loop with no answers at all.
pub async fn closed_loop(
    op: &Op,
    connections: usize,
    duration: Duration,
    patience: Duration,
) -> Result<Outcome> {
    let connections = connections.max(1);
    let client = client(connections)?;
    let t0 = Instant::now();
    let stop = t0 + duration;
    let end = stop + patience;
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::with_capacity(connections);
    for slot in 0..connections {
        let (op, client, next) = (op.clone(), client.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut log = WorkerLog::new();
            while Instant::now() < stop {
                let seq = next.fetch_add(1, Ordering::Relaxed);
                if seq >= MAX_REQUESTS {
                    break;
                }
                let call = Call {
                    client: client.clone(),
                    slot,
                    seq,
                };
                let sent = Instant::now();
                let answer = tokio::time::timeout_at(end.into(), op(call)).await;
                log.record(sent, answer);
            }
            log
        }));
    }
    // A closed loop's rate is over the time it really ran (its last answers included).
    gather(tasks, t0, Duration::ZERO, None, 0).await
}

/// Requests at `rate` per second for `duration` (request `i` due at `t0 + i / rate`), sent
/// by at most `max_in_flight` workers; each latency counts from when the request was due.
/// After the last one is due the run drains for a short while (see [`drain`]), then what
/// is still running is cancelled (a failure) and what was never sent is counted as unsent.
pub async fn open_loop(
    op: &Op,
    rate: f64,
    duration: Duration,
    max_in_flight: usize,
) -> Result<Outcome> {
    if !(rate.is_finite() && rate > 0.0) {
        bail!("an open loop needs a positive rate, not {rate}");
    }
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "a positive, finite number of requests, clamped to MAX_REQUESTS"
    )]
    let total = ((rate * duration.as_secs_f64()).floor() as u64).clamp(1, MAX_REQUESTS);
    let workers = max_in_flight.clamp(1, usize::try_from(total).unwrap_or(usize::MAX));
    let client = client(workers)?;
    // A little head start, so that the workers are spawned before the first request is due.
    let t0 = Instant::now() + Duration::from_millis(20);
    let end = t0 + duration + drain(duration);
    let next = Arc::new(AtomicU64::new(0));
    let started = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::with_capacity(workers);
    for slot in 0..workers {
        let (op, client, next, started) =
            (op.clone(), client.clone(), next.clone(), started.clone());
        tasks.push(tokio::spawn(async move {
            let mut log = WorkerLog::new();
            loop {
                let seq = next.fetch_add(1, Ordering::Relaxed);
                if seq >= total {
                    break;
                }
                let due = t0 + Duration::from_secs_f64(crate::float(seq) / rate);
                tokio::time::sleep_until(due.into()).await;
                if Instant::now() >= end {
                    // This request and every later one are left unsent.
                    break;
                }
                started.fetch_add(1, Ordering::Relaxed);
                let call = Call {
                    client: client.clone(),
                    slot,
                    seq,
                };
                let answer = tokio::time::timeout_at(end.into(), op(call)).await;
                log.record(due, answer);
            }
            log
        }));
    }
    let outcome = gather(tasks, t0, duration, Some(rate), 0).await?;
    Ok(Outcome {
        unsent: total.saturating_sub(started.load(Ordering::Relaxed)),
        ..outcome
    })
}

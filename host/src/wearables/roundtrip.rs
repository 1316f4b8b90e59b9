//! The fixture round trip of the install check: the adapter's own conformance fixture
//! (`conformance` in `wit/wearable.wit`) replayed against its real `fetch`, `identify`,
//! `read-notification` and `upload`, each in a fresh sandbox with the component's limits.
//!
//! Outbound `wasi:http` is answered by [`Replay`] from the fixture's exchanges, after the
//! host's usual checks and token handling (`runtime::adapter`), so nothing reaches a network:
//! a request the fixture does not hold, or to an origin outside the declared `api-hosts`,
//! fails the check naming it, as does a request to an api-host that arrived without the
//! host's bearer token. What the calls return must pass [`normalise::check`] without a
//! dropped value and equal the fixture's expectation; the first differences are named.
//!
//! The registry's gate (`registry::gate`) runs it when a version is installed; a failure
//! refuses the version with this report and the active version stays.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::NaiveDate;
use serde::Serialize;

use super::normalise;
use crate::runtime::adapter::{AdapterComponent, Batch, Notification, origin_of};
use crate::wearables::world::exports::mindflow::platform::adapter::{
    ConnectionKind, DailyMetrics, Exchange, Fixture, SleepSession,
};

/// The access token the host adds to the replayed requests (what a real sync would add).
pub const FIXTURE_TOKEN: &str = "mindflow-conformance-token";
/// The most exchanges a fixture may hold.
pub const MAX_EXCHANGES: usize = 1_000;
/// The most differences a report names.
const MAX_NAMED: usize = 8;

/// What a passing round trip did (the gate report's `round_trip`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Figures {
    /// Requests answered from the fixture.
    pub requests_answered: u64,
    /// Exchanges the replay never asked for.
    pub exchanges_unused: usize,
    /// Days the fetch (or upload) returned.
    pub days: usize,
    /// Sleep sessions it returned.
    pub sleep_sessions: usize,
    /// Whether `identify` was checked.
    pub identify: bool,
    /// Whether a webhook body was read.
    pub notification: bool,
    /// Whether an upload was parsed.
    pub upload: bool,
}

/// The key of a request: method, lowercase origin, path and query.
fn key(method: &str, url: &str) -> Option<String> {
    let origin = origin_of(url)?;
    let (_, rest) = url.split_once("://")?;
    let path = rest.find('/').map_or("/", |at| &rest[at..]);
    Some(format!("{} {origin}{path}", method.to_ascii_uppercase()))
}

#[derive(Default)]
struct Log {
    answered: u64,
    used: Vec<bool>,
    problems: Vec<String>,
}

/// Answers an adapter's outbound requests from its fixture, and remembers what went wrong.
pub struct Replay {
    exchanges: Vec<(String, Exchange)>,
    api_hosts: Vec<String>,
    log: Mutex<Log>,
}

/// A canned answer: status, headers, body.
pub type Answer = (u16, Vec<(String, String)>, Vec<u8>);

impl Replay {
    /// A replay of `exchanges` for an adapter declaring `api_hosts` (origins).
    pub fn new(exchanges: &[Exchange], api_hosts: &[String]) -> Self {
        let exchanges: Vec<(String, Exchange)> = exchanges
            .iter()
            .filter_map(|e| Some((key(&e.method, &e.url)?, e.clone())))
            .collect();
        Self {
            log: Mutex::new(Log {
                used: vec![false; exchanges.len()],
                ..Log::default()
            }),
            exchanges,
            api_hosts: api_hosts.iter().filter_map(|h| origin_of(h)).collect(),
        }
    }

    fn note(&self, problem: String) {
        if let Ok(mut log) = self.log.lock()
            && log.problems.len() < MAX_NAMED
        {
            log.problems.push(problem);
        }
    }

    /// A request the host refused before it could be answered (not an allowed host).
    pub fn refused(&self, method: &str, url: &str) {
        self.note(format!(
            "{method} {url}: outside the adapter's allowed_outbound_hosts"
        ));
    }

    /// The fixture's answer to `method url`, which reached the replay with `authorization`;
    /// `None` (and a noted problem) when the request must fail.
    pub fn answer(&self, method: &str, url: &str, authorization: Option<&str>) -> Option<Answer> {
        let origin = origin_of(url)?;
        if !self.api_hosts.contains(&origin) {
            self.note(format!(
                "{method} {url}: {origin} is not one of the api-hosts"
            ));
            return None;
        }
        if authorization != Some(format!("Bearer {FIXTURE_TOKEN}").as_str()) {
            self.note(format!(
                "{method} {url}: arrived without the host's bearer token"
            ));
        }
        let wanted = key(method, url)?;
        let Some(at) = self.exchanges.iter().position(|(k, _)| *k == wanted) else {
            self.note(format!("{method} {url}: not in the fixture"));
            return None;
        };
        if let Ok(mut log) = self.log.lock() {
            log.answered += 1;
            log.used[at] = true;
        }
        let exchange = &self.exchanges[at].1;
        Some((
            exchange.status,
            exchange.headers.clone(),
            exchange.body.clone(),
        ))
    }

    /// Requests answered, exchanges never asked for, and the problems noted.
    fn summary(&self) -> (u64, usize, Vec<String>) {
        self.log.lock().map_or((0, 0, Vec::new()), |log| {
            (
                log.answered,
                log.used.iter().filter(|u| !**u).count(),
                log.problems.clone(),
            )
        })
    }

    fn problems(&self) -> Vec<String> {
        self.summary().2
    }
}

fn value<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "none".to_owned(), |v| v.to_string())
}

fn day_differences(want: &DailyMetrics, got: &DailyMetrics, out: &mut Vec<String>) {
    macro_rules! fields {
        ($($field:ident => $name:literal),* $(,)?) => {$(
            if want.$field != got.$field {
                out.push(format!(
                    "day {} {}: the fixture expects {}, the adapter returned {}",
                    want.metric_date, $name, value(want.$field), value(got.$field)
                ));
            }
        )*};
    }
    fields!(
        sleep_duration_minutes => "sleep-duration-minutes",
        sleep_quality_score => "sleep-quality-score",
        deep_sleep_minutes => "deep-sleep-minutes",
        rem_sleep_minutes => "rem-sleep-minutes",
        steps => "steps",
        active_minutes => "active-minutes",
        calories_burned => "calories-burned",
        avg_heart_rate => "avg-heart-rate",
        hrv_avg => "hrv-avg",
        stress_score => "stress-score",
        readiness_score => "readiness-score",
    );
}

fn session_differences(want: &SleepSession, got: &SleepSession, out: &mut Vec<String>) {
    let id = &want.external_id;
    for (name, a, b) in [
        ("start", &want.start, &got.start),
        ("end", &want.end, &got.end),
        ("metric-date", &want.metric_date, &got.metric_date),
    ] {
        if a != b {
            out.push(format!(
                "sleep session {id} {name}: the fixture expects {a}, the adapter returned {b}"
            ));
        }
    }
    for (name, a, b) in [
        (
            "asleep-minutes",
            Some(want.asleep_minutes),
            Some(got.asleep_minutes),
        ),
        ("deep-minutes", want.deep_minutes, got.deep_minutes),
        ("rem-minutes", want.rem_minutes, got.rem_minutes),
        ("awake-minutes", want.awake_minutes, got.awake_minutes),
    ] {
        if a != b {
            out.push(format!(
                "sleep session {id} {name}: the fixture expects {}, the adapter returned {}",
                value(a),
                value(b)
            ));
        }
    }
}

/// Pairs `expected` and `got` items by `key`: each pair goes to `compare`, and an item on
/// one side only (or a key returned twice) is named as `what KEY`.
fn match_by<T>(
    what: &str,
    expected: &[T],
    got: &[T],
    key: impl Fn(&T) -> &str,
    mut compare: impl FnMut(&T, &T, &mut Vec<String>),
    out: &mut Vec<String>,
) {
    let got_keys: HashMap<&str, &T> = got.iter().map(|g| (key(g), g)).collect();
    for want in expected {
        match got_keys.get(key(want)) {
            Some(item) => compare(want, item, out),
            None => out.push(format!(
                "{what} {}: expected by the fixture, not returned",
                key(want)
            )),
        }
    }
    for item in got {
        if !expected.iter().any(|w| key(w) == key(item)) {
            out.push(format!(
                "{what} {}: returned, not in the fixture",
                key(item)
            ));
        }
    }
    if got_keys.len() != got.len() {
        out.push(format!("a {what} was returned more than once"));
    }
}

/// What differs between the `expected` batch and the one `got`, by day and session.
pub fn differences(expected: &Batch, got: &Batch) -> Vec<String> {
    let mut out = Vec::new();
    match_by(
        "day",
        &expected.days,
        &got.days,
        |d| d.metric_date.as_str(),
        day_differences,
        &mut out,
    );
    match_by(
        "sleep session",
        &expected.sleep,
        &got.sleep,
        |s| s.external_id.as_str(),
        session_differences,
        &mut out,
    );
    out
}

/// How the notifications a body read as differ from the fixture's, one user at a time in
/// the body's order.
fn notifications_differences(expected: &[Notification], got: &[Notification]) -> Vec<String> {
    if expected.len() != got.len() {
        let list = |all: &[Notification]| {
            if all.is_empty() {
                "nothing".to_owned()
            } else {
                all.iter().map(describe).collect::<Vec<_>>().join(", ")
            }
        };
        return vec![format!(
            "the fixture expects {}, the adapter returned {}",
            list(expected),
            list(got)
        )];
    }
    expected
        .iter()
        .zip(got)
        .flat_map(|(want, got)| notification_differences(want, got))
        .collect()
}

fn notification_differences(expected: &Notification, got: &Notification) -> Vec<String> {
    match (expected, got) {
        (Notification::Fetch(a), Notification::Fetch(b)) if a == b => Vec::new(),
        (Notification::Data((a, want)), Notification::Data((b, batch))) => {
            let mut out = differences(want, batch);
            if a != b {
                out.insert(
                    0,
                    format!("the user: the fixture expects {a}, the adapter returned {b}"),
                );
            }
            out
        }
        (want, got) => vec![format!(
            "the fixture expects {}, the adapter returned {}",
            describe(want),
            describe(got)
        )],
    }
}

fn describe(notification: &Notification) -> String {
    match notification {
        Notification::Fetch((user, start, end)) => format!("fetch({user}, {start}, {end})"),
        Notification::Data((user, batch)) => format!(
            "data({user}, {} days, {} sessions)",
            batch.days.len(),
            batch.sleep.len()
        ),
    }
}

/// `what` failed with the first of `problems` named.
fn failure(what: &str, problems: &[String]) -> String {
    let shown: Vec<&str> = problems
        .iter()
        .take(MAX_NAMED)
        .map(String::as_str)
        .collect();
    let more = problems.len().saturating_sub(MAX_NAMED);
    let tail = if more > 0 {
        format!("; and {more} more")
    } else {
        String::new()
    };
    format!("{what}: {}{tail}", shown.join("; "))
}

/// `batch`, the answer of `what`, passes the host's normalisation within
/// `earliest..=latest` without a dropped value and equals `expected`.
fn check_batch(
    what: &str,
    batch: &Batch,
    (earliest, latest): (NaiveDate, NaiveDate),
    expected: &Batch,
) -> Result<(), String> {
    let dropped = normalise::check(batch, earliest, latest).dropped;
    if dropped > 0 {
        return Err(format!(
            "{what}: the host's normalisation dropped {dropped} value(s) of its answer"
        ));
    }
    let differ = differences(expected, batch);
    if differ.is_empty() {
        Ok(())
    } else {
        Err(failure(
            &format!("{what} differs from the fixture"),
            &differ,
        ))
    }
}

fn window(start: &str, end: &str) -> Result<(NaiveDate, NaiveDate), String> {
    let parse = |text: &str| {
        NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .map_err(|_| format!("the fixture's fetch window `{text}` is not YYYY-MM-DD"))
    };
    let (first, last) = (parse(start)?, parse(end)?);
    if last < first {
        return Err(format!(
            "the fixture's fetch window {start}..{end} is empty"
        ));
    }
    Ok((first, last))
}

/// Replays `adapter`'s conformance fixture (see the module doc).
///
/// # Errors
/// A report naming what failed or differed.
pub async fn run(adapter: &AdapterComponent) -> Result<Figures, String> {
    let fixture: Fixture = adapter
        .conformance()
        .await
        .map_err(|e| format!("`conformance` failed: {e}"))?;
    if fixture.exchanges.len() > MAX_EXCHANGES {
        return Err(format!(
            "the fixture holds {} exchanges; at most {MAX_EXCHANGES}",
            fixture.exchanges.len()
        ));
    }
    if let Some(bad) = fixture
        .exchanges
        .iter()
        .find(|e| key(&e.method, &e.url).is_none())
    {
        return Err(format!(
            "fixture exchange `{}` is not an absolute URL",
            bad.url
        ));
    }
    let oauth = matches!(adapter.info.connection, ConnectionKind::Oauth(_));
    if oauth && (fixture.fetch.is_none() || fixture.identify.is_none()) {
        return Err("an OAuth adapter's fixture must give a fetch and an identify".into());
    }
    if !oauth && fixture.upload.is_none() {
        return Err("an upload-only adapter's fixture must give an upload".into());
    }
    let replay = std::sync::Arc::new(Replay::new(&fixture.exchanges, &adapter.info.api_hosts));
    let replaying = adapter.replaying(replay.clone());
    let mut figures = Figures::default();

    if let Some(case) = &fixture.fetch {
        let window = window(&case.start, &case.end)?;
        let what = format!("fetch {}..{}", case.start, case.end);
        let answer = replaying
            .fetch(FIXTURE_TOKEN, &case.start, &case.end, None)
            .await;
        let problems = replay.problems();
        if !problems.is_empty() {
            return Err(failure(&what, &problems));
        }
        let (batch, _) = answer.map_err(|e| format!("{what} failed: {e}"))?;
        check_batch(&what, &batch, window, &case.expected)?;
        figures.days = batch.days.len();
        figures.sleep_sessions = batch.sleep.len();
    }
    if let Some(user) = &fixture.identify {
        let answer = replaying.identify(FIXTURE_TOKEN).await;
        let problems = replay.problems();
        if !problems.is_empty() {
            return Err(failure("identify", &problems));
        }
        let got = answer.map_err(|e| format!("identify failed: {e}"))?;
        if got != *user {
            return Err(format!(
                "identify: the fixture expects {user}, the adapter returned {got}"
            ));
        }
        figures.identify = true;
    }
    if let Some(case) = &fixture.notification {
        let got = replaying
            .read_notification(&case.body)
            .await
            .map_err(|e| format!("read-notification failed: {e}"))?;
        let differ = notifications_differences(&case.expected, &got);
        if !differ.is_empty() {
            return Err(failure(
                "read-notification differs from the fixture",
                &differ,
            ));
        }
        figures.notification = true;
    }
    if let Some(case) = &fixture.upload {
        let what = format!("upload of {}", case.filename);
        let chunks = futures::stream::iter([Ok::<_, std::convert::Infallible>(
            bytes::Bytes::from(case.content.clone()),
        )]);
        let batch = replaying
            .upload(&case.filename, chunks)
            .await
            .map_err(|e| format!("{what} failed: {e}"))?;
        check_batch(
            &what,
            &batch,
            (NaiveDate::MIN, NaiveDate::MAX),
            &case.expected,
        )?;
        if fixture.fetch.is_none() {
            figures.days = batch.days.len();
            figures.sleep_sessions = batch.sleep.len();
        }
        figures.upload = true;
    }
    let (answered, unused, problems) = replay.summary();
    if !problems.is_empty() {
        return Err(failure("the replay", &problems));
    }
    figures.requests_answered = answered;
    figures.exchanges_unused = unused;
    Ok(figures)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(date: &str, steps: Option<i32>) -> DailyMetrics {
        DailyMetrics {
            metric_date: date.into(),
            sleep_duration_minutes: None,
            sleep_quality_score: None,
            deep_sleep_minutes: None,
            rem_sleep_minutes: None,
            steps,
            active_minutes: None,
            calories_burned: None,
            avg_heart_rate: None,
            hrv_avg: None,
            stress_score: None,
            readiness_score: None,
        }
    }

    fn session(id: &str, asleep: i32) -> SleepSession {
        SleepSession {
            external_id: id.into(),
            start: "2026-11-02T23:00:00Z".into(),
            end: "2026-11-03T07:00:00Z".into(),
            metric_date: "2026-11-03".into(),
            asleep_minutes: asleep,
            deep_minutes: None,
            rem_minutes: Some(90),
            awake_minutes: None,
        }
    }

    fn exchange(url: &str) -> Exchange {
        Exchange {
            method: "GET".into(),
            url: url.into(),
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            body: b"{}".to_vec(),
        }
    }

    #[test]
    fn equal_batches_have_no_differences_and_each_difference_is_named() {
        let expected = Batch {
            days: vec![day("2026-11-03", Some(4321)), day("2026-11-04", None)],
            sleep: vec![session("night-1", 420)],
        };
        assert!(differences(&expected, &expected.clone()).is_empty());
        let got = Batch {
            days: vec![day("2026-11-03", Some(4320)), day("2026-11-05", None)],
            sleep: vec![session("night-1", 400), session("nap-2", 20)],
        };
        assert_eq!(
            differences(&expected, &got),
            [
                "day 2026-11-03 steps: the fixture expects 4321, the adapter returned 4320",
                "day 2026-11-04: expected by the fixture, not returned",
                "day 2026-11-05: returned, not in the fixture",
                "sleep session night-1 asleep-minutes: the fixture expects 420, the adapter returned 400",
                "sleep session nap-2: returned, not in the fixture",
            ]
        );
    }

    #[test]
    fn notifications_compare_by_kind_user_and_window() {
        let fetch = |end: &str| Notification::Fetch(("u".into(), "2026-11-02".into(), end.into()));
        assert!(notification_differences(&fetch("2026-11-04"), &fetch("2026-11-04")).is_empty());
        assert_eq!(
            notifications_differences(&[fetch("2026-11-04")], &[]),
            ["the fixture expects fetch(u, 2026-11-02, 2026-11-04), the adapter returned nothing"]
        );
        assert!(notifications_differences(&[], &[]).is_empty());
        let data = |user: &str| {
            Notification::Data((
                user.into(),
                Batch {
                    days: vec![day("2026-11-03", Some(1))],
                    sleep: Vec::new(),
                },
            ))
        };
        assert_eq!(
            notification_differences(&data("a"), &data("b")),
            ["the user: the fixture expects a, the adapter returned b"]
        );
    }

    #[test]
    fn the_replay_answers_its_exchanges_to_api_hosts_with_the_token_only() {
        let replay = Replay::new(
            &[exchange(
                "https://API.acme.example/v1/days?start=2026-11-01",
            )],
            &["https://api.acme.example".into()],
        );
        let bearer = format!("Bearer {FIXTURE_TOKEN}");
        let answer = replay.answer(
            "GET",
            "https://api.acme.example/v1/days?start=2026-11-01",
            Some(&bearer),
        );
        assert_eq!(answer.map(|a| a.0), Some(200));
        assert_eq!(replay.summary(), (1, 0, Vec::new()));
        // Not in the fixture; another origin; no token.
        assert!(
            replay
                .answer(
                    "GET",
                    "https://api.acme.example/v1/days?start=2026-11-02",
                    Some(&bearer)
                )
                .is_none()
        );
        assert!(
            replay
                .answer("GET", "https://evil.example.com/x", Some(&bearer))
                .is_none()
        );
        assert!(
            replay
                .answer(
                    "GET",
                    "https://api.acme.example/v1/days?start=2026-11-01",
                    None
                )
                .is_some()
        );
        replay.refused("GET", "https://elsewhere.example/y");
        let (answered, unused, problems) = replay.summary();
        assert_eq!((answered, unused), (2, 0));
        assert_eq!(
            problems,
            [
                "GET https://api.acme.example/v1/days?start=2026-11-02: not in the fixture",
                "GET https://evil.example.com/x: https://evil.example.com is not one of the api-hosts",
                "GET https://api.acme.example/v1/days?start=2026-11-01: arrived without the host's bearer token",
                "GET https://elsewhere.example/y: outside the adapter's allowed_outbound_hosts",
            ]
        );
    }

    #[test]
    fn a_failure_names_at_most_eight_problems() {
        let problems: Vec<String> = (0..10).map(|i| format!("p{i}")).collect();
        assert_eq!(
            failure("fetch", &problems),
            "fetch: p0; p1; p2; p3; p4; p5; p6; p7; and 2 more"
        );
    }
}

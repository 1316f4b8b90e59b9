//! Native tests over canned answers in Acme Ring's wire format (see the crate doc). Add one
//! for each thing your provider does that the fixture does not show.

use super::*;
use mindflow_adapter_kit::transport::{Canned, Response};
use serde_json::json;

fn daily_url(start: &str, end: &str) -> String {
    format!("{API}/v1/daily?start_date={start}&end_date={end}")
}

fn sleep_url(start: &str, end: &str) -> String {
    format!("{API}/v1/sleep?start_date={start}&end_date={end}")
}

fn empty(canned: Canned, url: &str) -> Canned {
    canned.with(url, 200, &json!({"items": [], "next_page_token": null}))
}

/// The fixture the host replays on install round-trips natively: the same answers make
/// the same batch, identify and the webhook read as the fixture says, and every exchange
/// is asked for.
#[test]
fn the_conformance_fixture_round_trips() {
    let replayed = conformance::fixture().replay(fetch, identify, read_notification);
    assert_eq!(replayed, Ok(()));
}

#[test]
fn days_outside_the_window_and_malformed_items_are_dropped() {
    let canned = Canned::default().with(
        &daily_url("2026-11-02", "2026-11-02"),
        200,
        &json!({"items": [
            {"date": "2026-11-01", "steps": 5},
            {"date": "2026-11-02", "steps": 12.5, "active_seconds": 600, "readiness": 140},
            {"steps": 9}
        ], "next_page_token": null}),
    );
    let mut canned = empty(canned, &sleep_url("2026-11-02", "2026-11-02"));
    let batch = fetch(&mut canned, "2026-11-02", "2026-11-02").expect("batch");
    assert_eq!(batch.days.len(), 1);
    let day = &batch.days[0];
    assert_eq!(
        (day.steps, day.active_minutes, day.readiness_score),
        (None, Some(10), None)
    );
}

#[test]
fn a_repeating_page_token_is_a_provider_error_not_a_loop() {
    let url = daily_url("2026-11-02", "2026-11-02");
    let page = json!({"items": [], "next_page_token": "again"});
    let mut canned = Canned::default().with(&url, 200, &page).with(
        &format!("{url}&page_token=again"),
        200,
        &page,
    );
    assert!(matches!(
        fetch(&mut canned, "2026-11-02", "2026-11-02"),
        Err(Error::Provider(_))
    ));
}

#[test]
fn provider_statuses_become_adapter_errors() {
    let url = daily_url("2026-11-02", "2026-11-02");
    let mut unauthorized = Canned::default().with(&url, 401, &json!({"error": "invalid_token"}));
    assert_eq!(
        fetch(&mut unauthorized, "2026-11-02", "2026-11-02"),
        Err(Error::Unauthorized)
    );
    let mut limited = Canned::default();
    limited.answers.push((
        url,
        Response {
            status: 429,
            headers: vec![("retry-after".into(), "30".into())],
            body: Vec::new(),
        },
    ));
    assert_eq!(
        fetch(&mut limited, "2026-11-02", "2026-11-02"),
        Err(Error::RateLimited(30))
    );
    assert!(matches!(
        fetch(&mut Canned::default(), "2026-11-03", "2026-11-02"),
        Err(Error::InvalidInput(_))
    ));
}

#[test]
fn webhooks_ask_for_their_date_and_pings_are_ignored() {
    assert_eq!(read_notification(br#"{"type": "ping"}"#), Ok(Vec::new()));
    assert!(matches!(
        read_notification(br#"{"type": "data.updated", "user_id": "u", "date": "yesterday"}"#),
        Err(Error::InvalidInput(_))
    ));
    assert!(matches!(
        read_notification(b"not json"),
        Err(Error::InvalidInput(_))
    ));
}

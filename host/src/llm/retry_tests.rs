//! Retries and timeouts against the wire-format double, through the OpenAI provider.

use std::time::{Duration, Instant};

use mindflow_tests::llm_double::{Answer, LlmDouble};

use super::Policy;
use crate::llm::LlmError;
use crate::llm::openai::tests::{drain, policy, provider, request};
use crate::llm::provider::Provider;

#[tokio::test]
async fn a_429_waits_its_retry_after_then_succeeds() {
    let double = LlmDouble::start().await.unwrap();
    double.push(Answer::status(429, "Rate limit reached").retry_after("1"));
    double.push(Answer::text("After the wait."));
    let answer = provider(&double, policy())
        .complete(&request())
        .await
        .unwrap();
    assert_eq!(answer.content, "After the wait.");
    let calls = double.requests();
    assert_eq!(calls.len(), 2);
    let waited = calls[1].at - calls[0].at;
    assert!(waited >= Duration::from_secs(1), "retried after {waited:?}");
    assert!(waited < Duration::from_secs(3), "retried after {waited:?}");
}

#[tokio::test]
async fn a_500_twice_then_success_and_bounded_attempts() {
    let double = LlmDouble::start().await.unwrap();
    double.push(Answer::status(500, "boom"));
    double.push(Answer::status(503, "boom"));
    double.push(Answer::text("Third time."));
    let answer = provider(&double, policy())
        .complete(&request())
        .await
        .unwrap();
    assert_eq!(answer.content, "Third time.");
    assert_eq!(double.calls(), 3);

    for _ in 0..3 {
        double.push(Answer::status(502, "still down"));
    }
    let error = provider(&double, policy())
        .complete(&request())
        .await
        .unwrap_err();
    assert!(
        matches!(error, LlmError::Status { status: 502, .. }),
        "{error:?}"
    );
    assert_eq!(double.calls(), 6, "three attempts, no more");
}

#[tokio::test]
async fn a_stream_is_retried_before_it_begins() {
    let double = LlmDouble::start().await.unwrap();
    double.push(Answer::status(503, "warming up"));
    double.push(Answer::text("Streamed after a retry"));
    let stream = provider(&double, policy())
        .stream(&request())
        .await
        .unwrap();
    let (text, usage) = drain(stream).await;
    assert_eq!(text, "Streamed after a retry");
    assert!(usage.is_ok());
    assert_eq!(double.calls(), 2);
}

#[tokio::test]
async fn a_timeout_fails_without_a_retry() {
    let double = LlmDouble::start().await.unwrap();
    double.push(Answer::Hang(Duration::from_secs(3)));
    let short = Policy {
        timeout: Duration::from_millis(300),
        ..policy()
    };
    let started = Instant::now();
    let error = provider(&double, short)
        .complete(&request())
        .await
        .unwrap_err();
    assert!(matches!(error, LlmError::Timeout(_)), "{error:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(double.calls(), 1);
}

#[tokio::test]
async fn a_stream_that_breaks_after_its_first_token_is_never_retried() {
    let double = LlmDouble::start().await.unwrap();
    double.push(Answer::BreakAfterFirstToken("Hello there".into()));
    // Were it retried, this answer would be taken.
    double.push(Answer::text("A second answer"));
    let stream = provider(&double, policy())
        .stream(&request())
        .await
        .unwrap();
    let (text, end) = drain(stream).await;
    assert_eq!(text, "Hello");
    assert!(matches!(end, Err(LlmError::Interrupted(_))), "{end:?}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(double.calls(), 1, "no retry after the first token");
}

#[tokio::test]
async fn a_refused_connection_is_retried_then_reported() {
    // A port nobody listens on.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let openai = crate::llm::openai::OpenAi::new(
        &format!("http://127.0.0.1:{port}/v1"),
        None,
        "m".into(),
        "e".into(),
        policy(),
    )
    .unwrap();
    let error = openai.complete(&request()).await.unwrap_err();
    assert!(matches!(error, LlmError::Connect(_)), "{error:?}");
}

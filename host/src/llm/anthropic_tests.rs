//! The Messages API provider against the wire-format double.

use mindflow_tests::llm_double::{Answer, LlmDouble, MODEL};

use super::{API_VERSION, Anthropic};
use crate::llm::LlmError;
use crate::llm::openai::tests::{drain, policy, request};
use crate::llm::provider::Provider;
use crate::secrets::Secret;

fn provider(double: &LlmDouble) -> Anthropic {
    Anthropic::new(
        &double.base_url(),
        Some(Secret::new("sk-ant-test".into())),
        "claude-test".into(),
        policy(),
    )
    .unwrap()
}

#[tokio::test]
async fn a_message_sends_system_on_top_and_the_documented_headers() {
    let double = LlmDouble::start().await.unwrap();
    double.push(Answer::text("I am here."));
    let answer = provider(&double).complete(&request()).await.unwrap();
    assert_eq!(answer.content, "I am here.");
    assert_eq!(answer.model, MODEL);
    assert_eq!((answer.prompt_tokens, answer.completion_tokens), (11, 3));
    let call = &double.requests()[0];
    assert_eq!(call.path, "/v1/messages");
    assert_eq!(call.header("x-api-key"), Some("sk-ant-test"));
    assert_eq!(call.header("anthropic-version"), Some(API_VERSION));
    assert_eq!(call.header("authorization"), None);
    assert_eq!(call.body["system"], "Be kind.");
    assert_eq!(call.body["messages"].as_array().unwrap().len(), 1);
    assert_eq!(call.body["messages"][0]["role"], "user");
    assert_eq!(call.body["max_tokens"], 64);
}

#[tokio::test]
async fn the_event_stream_gives_deltas_and_usage_from_start_and_delta() {
    let double = LlmDouble::start().await.unwrap();
    double.push(Answer::text("Breathe in slowly"));
    let stream = provider(&double).stream(&request()).await.unwrap();
    let (text, usage) = drain(stream).await;
    assert_eq!(text, "Breathe in slowly");
    let usage = usage.unwrap();
    assert_eq!(usage.model, MODEL);
    assert_eq!((usage.prompt_tokens, usage.completion_tokens), (11, 3));
    assert_eq!(double.requests()[0].body["stream"], true);
}

#[tokio::test]
async fn an_error_event_mid_stream_ends_it_without_a_retry() {
    let double = LlmDouble::start().await.unwrap();
    double.push(Answer::ErrorAfterFirstToken("Hello world".into()));
    let stream = provider(&double).stream(&request()).await.unwrap();
    let (text, end) = drain(stream).await;
    assert_eq!(text, "Hello");
    match end {
        Err(LlmError::Stream { kind, message }) => {
            assert_eq!(
                (kind.as_str(), message.as_str()),
                ("overloaded_error", "Overloaded")
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(double.calls(), 1);
}

#[tokio::test]
async fn error_bodies_and_overload_retries() {
    let double = LlmDouble::start().await.unwrap();
    double.push(Answer::status(529, "Overloaded"));
    double.push(Answer::text("Fine."));
    let answer = provider(&double).complete(&request()).await.unwrap();
    assert_eq!(answer.content, "Fine.");
    assert_eq!(double.calls(), 2);

    double.push(Answer::status(400, "max_tokens: too large"));
    let error = provider(&double).complete(&request()).await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("api_error: max_tokens: too large"),
        "{error}"
    );
    assert_eq!(double.calls(), 3);
}

#[tokio::test]
async fn anthropic_offers_no_embeddings() {
    let double = LlmDouble::start().await.unwrap();
    let error = provider(&double).embed(&["a".into()]).await.unwrap_err();
    assert!(matches!(error, LlmError::Unsupported(_)));
    assert_eq!(double.calls(), 0);
}

//! The OpenAI-compatible provider against the wire-format double.

use std::time::Duration;

use futures::StreamExt;
use mindflow_tests::llm_double::{Answer, LlmDouble, MODEL};

use super::OpenAi;
use crate::llm::provider::{CompletionRequest, Message, Provider, Role, StreamItem, Usage};
use crate::llm::retry::Policy;
use crate::secrets::Secret;

pub(crate) fn request() -> CompletionRequest {
    CompletionRequest {
        messages: vec![
            Message {
                role: Role::System,
                content: "Be kind.".into(),
            },
            Message {
                role: Role::User,
                content: "Hi".into(),
            },
        ],
        max_tokens: 64,
        temperature: 0.0,
    }
}

pub(crate) fn policy() -> Policy {
    Policy {
        connect_timeout: Duration::from_secs(2),
        timeout: Duration::from_secs(5),
        attempts: 3,
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_secs(5),
    }
}

pub(crate) fn provider(double: &LlmDouble, policy: Policy) -> OpenAi {
    OpenAi::new(
        &double.base_url(),
        Some(Secret::new("sk-test-key".into())),
        "gpt-test".into(),
        "embed-test".into(),
        policy,
    )
    .unwrap()
}

/// Reads a stream to its end: the text, the usage, or the error that ended it.
pub(crate) async fn drain(
    mut stream: crate::llm::provider::CompletionStream,
) -> (String, Result<Usage, crate::llm::LlmError>) {
    let mut text = String::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(StreamItem::Delta(delta)) => text.push_str(&delta),
            Ok(StreamItem::Done(usage)) => return (text, Ok(usage)),
            Err(error) => return (text, Err(error)),
        }
    }
    (text, Err(crate::llm::LlmError::Protocol("no end".into())))
}

#[tokio::test]
async fn a_completion_sends_the_documented_request_and_reads_the_answer() {
    let double = LlmDouble::start().await.unwrap();
    double.push(Answer::text("Hello there, friend."));
    let openai = provider(&double, policy());
    let answer = openai.complete(&request()).await.unwrap();
    assert_eq!(answer.content, "Hello there, friend.");
    assert_eq!(answer.model, MODEL);
    assert_eq!((answer.prompt_tokens, answer.completion_tokens), (11, 3));
    let call = &double.requests()[0];
    assert_eq!(call.path, "/v1/chat/completions");
    assert_eq!(call.header("authorization"), Some("Bearer sk-test-key"));
    assert_eq!(call.body["model"], "gpt-test");
    assert_eq!(call.body["messages"][0]["role"], "system");
    assert_eq!(call.body["messages"][1]["content"], "Hi");
    assert_eq!(call.body["max_tokens"], 64);
    assert_eq!(call.body["stream"], false);
}

#[tokio::test]
async fn a_stream_yields_deltas_then_the_final_usage_chunk() {
    let double = LlmDouble::start().await.unwrap();
    double.push(Answer::text("One two three"));
    let openai = provider(&double, policy());
    let stream = openai.stream(&request()).await.unwrap();
    let (text, usage) = drain(stream).await;
    assert_eq!(text, "One two three");
    let usage = usage.unwrap();
    assert_eq!(usage.model, MODEL);
    assert_eq!((usage.prompt_tokens, usage.completion_tokens), (11, 3));
    let call = &double.requests()[0];
    assert_eq!(call.body["stream"], true);
    assert_eq!(call.body["stream_options"]["include_usage"], true);
}

#[tokio::test]
async fn an_error_body_gives_the_provider_message_and_no_retry_on_4xx() {
    let double = LlmDouble::start().await.unwrap();
    double.push(Answer::status(401, "Incorrect API key provided"));
    let error = provider(&double, policy())
        .complete(&request())
        .await
        .unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("401") && text.contains("Incorrect API key"),
        "{text}"
    );
    assert!(!text.contains("sk-test-key"));
    assert_eq!(double.calls(), 1);
}

#[tokio::test]
async fn embeddings_come_back_in_input_order() {
    let double = LlmDouble::start().await.unwrap();
    let vectors = provider(&double, policy())
        .embed(&["a".into(), "bbb".into()])
        .await
        .unwrap();
    assert_eq!(vectors, vec![vec![1.0, 0.0, 1.0], vec![3.0, 1.0, 1.0]]);
    assert_eq!(double.requests()[0].body["model"], "embed-test");
}

#[test]
fn the_key_is_never_in_debug_output() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let double = LlmDouble::start().await.unwrap();
        let text = format!("{:?}", provider(&double, policy()));
        assert!(!text.contains("sk-test-key"), "{text}");
    });
}

#[tokio::test]
async fn a_slow_stream_is_handed_on_token_by_token() {
    let double = LlmDouble::start().await.unwrap();
    double.set_token_delay(std::time::Duration::from_millis(150));
    double.push(Answer::text("one two three four"));
    let started = std::time::Instant::now();
    let mut stream = provider(&double, policy())
        .stream(&request())
        .await
        .unwrap();
    let mut arrivals = Vec::new();
    while let Some(item) = stream.next().await {
        if let StreamItem::Delta(text) = item.unwrap() {
            arrivals.push((text, started.elapsed()));
        }
    }
    assert_eq!(arrivals.len(), 4);
    // Each delta arrives as it is sent, not once the answer is complete.
    let first = arrivals[0].1;
    let last = arrivals[3].1;
    assert!(
        last - first >= std::time::Duration::from_millis(400),
        "{arrivals:?}"
    );
}

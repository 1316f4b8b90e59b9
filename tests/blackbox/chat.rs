//! The `chat` component (`/api/v1/chat`) and the host's WebSocket relay on the real host,
//! against a provider double that speaks OpenAI's wire format: sessions, other users'
//! sessions, message round trips with text sealed at rest, crisis priority (no model call at
//! high or imminent risk), screening of an unsafe answer, memory that finds only the caller's
//! messages, tier limits, provider failures, server-sent events and WebSockets.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use mindflow_tests::accounts::user;
use mindflow_tests::http::{Answer as Reply, get, send};
use mindflow_tests::llm_double::{Answer, LlmDouble};
use mindflow_tests::{Manifest, Server, raw_database_contains, server_with};
use reqwest::Method;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

fn chat_manifest() -> Manifest {
    Manifest::product(&["chat", "crisis-rules"])
}

/// A server whose model is `double` (OpenAI's wire format), with `extra` settings.
async fn chat_server(double: &LlmDouble, extra: &[(&str, &str)]) -> Server {
    let base = double.base_url();
    let mut env = vec![
        ("MINDFLOW_LLM_PROVIDER", "openai"),
        ("MINDFLOW_LLM_BASE_URL", base.as_str()),
        ("MINDFLOW_LLM_API_KEY", "sk-test-never-logged"),
        ("MINDFLOW_LLM_MODEL_NAME", "double-model"),
    ];
    env.extend_from_slice(extra);
    server_with(chat_manifest(), &env).await
}

/// A user who consented to chat, and a session of theirs.
async fn chatter(server: &Server, tag: &str) -> (String, String) {
    let (token, _) = user(server, tag).await;
    let consent = send(
        server,
        Method::PUT,
        "/api/v1/users/me/consents/ai_chat",
        Some(&token),
        Some(json!({"granted": true})),
    )
    .await;
    assert_eq!(consent.status, 200, "{}", consent.body);
    let session = send(
        server,
        Method::POST,
        "/api/v1/chat/sessions",
        Some(&token),
        Some(json!({"title": "Evening", "session_type": "general"})),
    )
    .await;
    assert_eq!(session.status, 201, "{}", session.body);
    let id = session.body["id"].as_str().expect("id").to_owned();
    (token, id)
}

async fn say(server: &Server, token: &str, session: &str, text: &str) -> Reply {
    send(
        server,
        Method::POST,
        &format!("/api/v1/chat/sessions/{session}/messages"),
        Some(token),
        Some(json!({"content": text})),
    )
    .await
}

/// Every text the double was sent, joined (the prompts the model saw).
fn prompts_sent(double: &LlmDouble) -> String {
    double
        .requests()
        .iter()
        .map(|r| r.body.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn sessions_are_the_callers_alone() {
    let double = LlmDouble::start().await.expect("double");
    let server = chat_server(&double, &[]).await;
    let (token, session) = chatter(&server, "chat-crud").await;
    let (other, _) = chatter(&server, "chat-other").await;
    let listed = get(&server, "/api/v1/chat/sessions", &token).await;
    assert_eq!(listed.status, 200);
    assert_eq!(listed.body["items"][0]["id"], session.as_str());
    assert_eq!(listed.body["items"][0]["title"], "Evening");
    let theirs = get(&server, "/api/v1/chat/sessions", &other).await;
    assert_eq!(theirs.body["items"].as_array().expect("items").len(), 1);
    for (method, path) in [
        (Method::GET, format!("/api/v1/chat/sessions/{session}")),
        (Method::DELETE, format!("/api/v1/chat/sessions/{session}")),
    ] {
        let answer = send(&server, method, &path, Some(&other), None).await;
        assert_eq!(answer.status, 404, "{}", answer.body);
        assert_eq!(
            answer.header("content-type"),
            Some("application/problem+json")
        );
    }
    assert_eq!(say(&server, &other, &session, "hello").await.status, 404);
    assert_eq!(double.calls(), 0);
    let bad = send(
        &server,
        Method::POST,
        "/api/v1/chat/sessions",
        Some(&token),
        Some(json!({"session_type": "therapy", "mood": 3})),
    )
    .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    let deleted = send(
        &server,
        Method::DELETE,
        &format!("/api/v1/chat/sessions/{session}"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(deleted.status, 204);
    assert_eq!(
        get(&server, &format!("/api/v1/chat/sessions/{session}"), &token)
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn a_message_round_trip_is_sealed_at_rest() {
    let double = LlmDouble::start().await.expect("double");
    double.push(Answer::text(
        "That sounds like a marmalade Tuesday kind of week. What helped, even a little?",
    ));
    let server = chat_server(&double, &[]).await;
    let (token, session) = chatter(&server, "chat-round-trip").await;
    let said = "Quarterly review went badly and my manager Priyanka was harsh";
    let reply = say(&server, &token, &session, said).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.body["user_message"]["content"], said);
    assert_eq!(
        reply.body["assistant_message"]["content"],
        "That sounds like a marmalade Tuesday kind of week. What helped, even a little?"
    );
    assert_eq!(
        reply.body["assistant_message"]["model_used"],
        "double-model"
    );
    assert!(
        reply.body["assistant_message"]["tokens_used"]
            .as_i64()
            .unwrap_or(0)
            > 0
    );
    assert_eq!(reply.body["crisis_detected"], false);
    assert_eq!(reply.body["content_filtered"], false);
    assert!(
        reply.body["action_cards"]
            .as_array()
            .is_some_and(|c| !c.is_empty())
    );
    // The model saw the guardrails and the message; the key never left the host in a log.
    let sent = &double.requests()[0];
    assert_eq!(
        sent.header("authorization"),
        Some("Bearer sk-test-never-logged")
    );
    let prompt = prompts_sent(&double);
    assert!(prompt.contains("Priyanka"), "{prompt}");
    assert!(prompt.contains("never"), "no guardrails: {prompt}");
    assert!(!server.log().contains("sk-test-never-logged"));
    let read = get(&server, &format!("/api/v1/chat/sessions/{session}"), &token).await;
    assert_eq!(read.body["message_count"], 2);
    assert_eq!(read.body["messages"][0]["content"], said);
    assert_eq!(read.body["messages"][1]["role"], "assistant");
    for phrase in ["Priyanka", "marmalade Tuesday"] {
        assert!(
            !raw_database_contains(&server, phrase).await.expect("scan"),
            "`{phrase}` is stored in plaintext"
        );
    }
}

#[tokio::test]
async fn the_anthropic_wire_format_answers_too() {
    let double = LlmDouble::start().await.expect("double");
    double.push(Answer::text("I'm here with you. What happened?"));
    let base = double.base_url();
    let server = server_with(
        chat_manifest(),
        &[
            ("MINDFLOW_LLM_PROVIDER", "anthropic"),
            ("MINDFLOW_LLM_BASE_URL", base.as_str()),
            ("MINDFLOW_LLM_API_KEY", "sk-ant-test"),
            ("MINDFLOW_LLM_MODEL_NAME", "claude-double"),
        ],
    )
    .await;
    let (token, session) = chatter(&server, "chat-anthropic").await;
    let reply = say(&server, &token, &session, "Rough evening.").await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(
        reply.body["assistant_message"]["content"],
        "I'm here with you. What happened?"
    );
    let sent = &double.requests()[0];
    assert_eq!(sent.path, "/v1/messages");
    assert_eq!(sent.header("x-api-key"), Some("sk-ant-test"));
    assert!(sent.body["system"].as_str().is_some_and(|s| !s.is_empty()));
}

/// The default provider: SmolLM2 in the host process, offline (`MINDFLOW_LLM_MODEL`, which
/// `cargo xtask test` fetches). Its raw output is not trusted: the answer shown has passed
/// the host's screening either way.
#[tokio::test]
async fn the_local_model_answers_offline() {
    let server = server_with(
        chat_manifest(),
        &[
            ("MINDFLOW_LLM_PROVIDER", "local"),
            ("MINDFLOW_LLM_THREADS", "2"),
        ],
    )
    .await;
    let (token, session) = chatter(&server, "chat-local").await;
    let reply = say(
        &server,
        &token,
        &session,
        "Hi! I had a good day at the park.",
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let answer = reply.body["assistant_message"]["content"]
        .as_str()
        .expect("answer");
    assert!(!answer.trim().is_empty());
    let model = reply.body["assistant_message"]["model_used"]
        .as_str()
        .expect("model");
    assert!(model.to_lowercase().contains("smollm2"), "{model}");
    assert!(
        reply.body["usage"]["completion_tokens"]
            .as_u64()
            .unwrap_or(0)
            > 0
    );
}

#[tokio::test]
async fn high_risk_is_answered_without_the_model() {
    let double = LlmDouble::start().await.expect("double");
    let server = chat_server(&double, &[]).await;
    let (token, session) = chatter(&server, "chat-crisis").await;
    let reply = say(
        &server,
        &token,
        &session,
        "I have the pills counted out and I'm going to take them all tonight. Goodbye.",
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(double.calls(), 0, "the model was called at high risk");
    assert_eq!(reply.body["crisis_detected"], true);
    assert_eq!(
        reply.body["assistant_message"]["model_used"],
        "crisis-protocol"
    );
    let severity = reply.body["crisis"]["severity"].as_str().expect("severity");
    assert!(["high", "imminent"].contains(&severity), "{severity}");
    let cards: Vec<&str> = reply.body["action_cards"]
        .as_array()
        .expect("cards")
        .iter()
        .filter_map(|c| c["type"].as_str())
        .collect();
    assert!(cards.contains(&"safety_plan"), "{cards:?}");
    assert!(
        cards.contains(&"call_helpline") || cards.contains(&"call_emergency"),
        "{cards:?}"
    );
}

#[tokio::test]
async fn an_unsafe_answer_is_screened_before_anyone_sees_it() {
    let double = LlmDouble::start().await.expect("double");
    double.push(Answer::text(
        "I hear you. You should take 200 mg of sertraline tonight and double it tomorrow.",
    ));
    let server = chat_server(&double, &[]).await;
    let (token, session) = chatter(&server, "chat-screen").await;
    let reply = say(
        &server,
        &token,
        &session,
        "I can't sleep, what should I take?",
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let answer = reply.body["assistant_message"]["content"]
        .as_str()
        .expect("answer");
    assert!(!answer.contains("200 mg"), "{answer}");
    assert_eq!(reply.body["content_filtered"], true);
    assert_eq!(reply.body["assistant_message"]["content_filtered"], true);
    assert!(
        reply.body["filtered_reasons"]
            .as_array()
            .is_some_and(|r| r.contains(&json!("medication"))),
        "{}",
        reply.body
    );
}

#[tokio::test]
async fn memory_finds_only_the_callers_messages() {
    let double = LlmDouble::start().await.expect("double");
    let server = chat_server(&double, &[]).await;
    let (alice, alice_session) = chatter(&server, "chat-memory-a").await;
    let (bob, bob_session) = chatter(&server, "chat-memory-b").await;
    let bobs = "My sister Marguerite and I fought about the wedding seating plan";
    assert_eq!(say(&server, &bob, &bob_session, bobs).await.status, 201);
    let alices = "My brother Tobias and I argued about the wedding plans again";
    assert_eq!(
        say(&server, &alice, &alice_session, alices).await.status,
        201
    );
    // A new session of Alice's: the earlier message comes back by meaning, Bob's never.
    let later = send(
        &server,
        Method::POST,
        "/api/v1/chat/sessions",
        Some(&alice),
        None,
    )
    .await;
    let later = later.body["id"].as_str().expect("id").to_owned();
    let before = double.requests().len();
    assert_eq!(
        say(
            &server,
            &alice,
            &later,
            "The wedding is next week and I am dreading the family arguments"
        )
        .await
        .status,
        201
    );
    let prompt = double.requests()[before].body.to_string();
    assert!(prompt.contains("Tobias"), "no memory: {prompt}");
    assert!(
        !prompt.contains("Marguerite"),
        "another user's message: {prompt}"
    );
}

#[tokio::test]
async fn the_tier_limit_refuses_a_send_and_keeps_nothing() {
    let double = LlmDouble::start().await.expect("double");
    let server = chat_server(&double, &[("MINDFLOW_LLM_FREE_MESSAGES_PER_DAY", "2")]).await;
    let (token, session) = chatter(&server, "chat-limit").await;
    for _ in 0..2 {
        assert_eq!(
            say(&server, &token, &session, "hello there").await.status,
            201
        );
    }
    let refused = say(&server, &token, &session, "one more?").await;
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert!(refused.header("retry-after").is_some());
    assert_eq!(
        refused.header("content-type"),
        Some("application/problem+json")
    );
    let read = get(&server, &format!("/api/v1/chat/sessions/{session}"), &token).await;
    assert_eq!(read.body["message_count"], 4);
    assert_eq!(read.body["messages"].as_array().expect("messages").len(), 4);
}

#[tokio::test]
async fn the_provider_is_retried_after_429_and_a_timeout_changes_nothing() {
    let double = LlmDouble::start().await.expect("double");
    double.push(Answer::status(429, "slow down").retry_after("1"));
    double.push(Answer::text("Here now."));
    let server = chat_server(
        &double,
        &[
            ("MINDFLOW_LLM_TIMEOUT_MS", "1500"),
            ("MINDFLOW_LLM_ATTEMPTS", "2"),
        ],
    )
    .await;
    let (token, session) = chatter(&server, "chat-retry").await;
    let reply = say(&server, &token, &session, "are you there?").await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.body["assistant_message"]["content"], "Here now.");
    assert_eq!(double.calls(), 2);
    double.push(Answer::Hang(Duration::from_secs(5)));
    double.push(Answer::Hang(Duration::from_secs(5)));
    let timed_out = say(&server, &token, &session, "hello?").await;
    assert_eq!(timed_out.status, 503, "{}", timed_out.body);
    let read = get(&server, &format!("/api/v1/chat/sessions/{session}"), &token).await;
    assert_eq!(read.body["message_count"], 2);
}

#[tokio::test]
async fn the_answer_streams_as_server_sent_events() {
    let double = LlmDouble::start().await.expect("double");
    double.push(Answer::text(
        "One small step. Then another. You are not alone in this.",
    ));
    let server = chat_server(&double, &[]).await;
    let (token, session) = chatter(&server, "chat-sse").await;
    let response = server
        .http
        .post(server.url(&format!("/api/v1/chat/sessions/{session}/messages")))
        .bearer_auth(&token)
        .header("accept", "text/event-stream")
        .json(&json!({"content": "I feel stuck"}))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let text = response.text().await.expect("body");
    let events: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("event: "))
        .collect();
    assert_eq!(events.first(), Some(&"message"), "{text}");
    assert_eq!(events.last(), Some(&"done"), "{text}");
    assert!(
        events.iter().filter(|e| **e == "delta").count() >= 2,
        "{text}"
    );
    // A bad body still answers with its status, not a stream.
    let bad = server
        .http
        .post(server.url(&format!("/api/v1/chat/sessions/{session}/messages")))
        .bearer_auth(&token)
        .header("accept", "text/event-stream")
        .json(&json!({"content": ""}))
        .send()
        .await
        .expect("send");
    assert_eq!(bad.status(), 422);
}

/// A WebSocket to a session, authenticated by subprotocol.
async fn socket(
    server: &Server,
    session: &str,
    token: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let url = server
        .url(&format!("/api/v1/chat/ws/{session}"))
        .replacen("http://", "ws://", 1);
    let mut request = url.into_client_request().expect("request");
    request.headers_mut().insert(
        "sec-websocket-protocol",
        format!("mindflow.chat.v1, bearer.{token}")
            .parse()
            .expect("header"),
    );
    let (socket, response) = tokio_tungstenite::connect_async(request)
        .await
        .expect("connect");
    assert_eq!(
        response.headers()["sec-websocket-protocol"],
        "mindflow.chat.v1"
    );
    socket
}

async fn next_json(
    socket: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
) -> Value {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(30), socket.next())
            .await
            .expect("a frame in time")
            .expect("open")
            .expect("frame");
        if let Message::Text(text) = frame {
            return serde_json::from_str(&text).expect("json");
        }
    }
}

#[tokio::test]
async fn a_websocket_streams_the_answer() {
    let double = LlmDouble::start().await.expect("double");
    double.push(Answer::text(
        "Breathe in for four. Hold for four. Out for four.",
    ));
    let server = chat_server(&double, &[]).await;
    let (token, session) = chatter(&server, "chat-ws").await;
    let mut ws = socket(&server, &session, &token).await;
    assert_eq!(next_json(&mut ws).await["type"], "ready");
    ws.send(Message::text(
        json!({"type": "message", "content": "I'm anxious"}).to_string(),
    ))
    .await
    .expect("send");
    let mut kinds = Vec::new();
    let done = loop {
        let frame = next_json(&mut ws).await;
        kinds.push(frame["type"].as_str().unwrap_or_default().to_owned());
        if frame["type"] == "done" || frame["type"] == "error" {
            break frame;
        }
    };
    assert_eq!(done["type"], "done", "{done}");
    assert_eq!(kinds[0], "message");
    assert!(
        kinds.iter().filter(|k| *k == "delta").count() >= 2,
        "{kinds:?}"
    );
    assert_eq!(
        done["data"]["assistant_message"]["content"],
        "Breathe in for four. Hold for four. Out for four."
    );

    // Another user cannot open this session; a missing token closes too.
    let (other, _) = chatter(&server, "chat-ws-other").await;
    let mut theirs = socket(&server, &session, &other).await;
    let closed = tokio::time::timeout(Duration::from_secs(10), theirs.next())
        .await
        .expect("closed in time");
    match closed {
        Some(Ok(Message::Close(Some(frame)))) => assert_eq!(u16::from(frame.code), 4404),
        other => panic!("expected a 4404 close, got {other:?}"),
    }
}

#[tokio::test]
async fn a_websocket_closed_mid_answer_still_keeps_the_answer() {
    let double = LlmDouble::start().await.expect("double");
    double.set_token_delay(Duration::from_millis(150));
    double.push(Answer::text(
        "This is a long answer. It streams slowly. Word by word. The client leaves early.",
    ));
    let server = chat_server(&double, &[]).await;
    let (token, session) = chatter(&server, "chat-ws-close").await;
    let mut ws = socket(&server, &session, &token).await;
    assert_eq!(next_json(&mut ws).await["type"], "ready");
    ws.send(Message::text(
        json!({"content": "tell me something"}).to_string(),
    ))
    .await
    .expect("send");
    assert_eq!(next_json(&mut ws).await["type"], "message");
    ws.close(None).await.expect("close");
    drop(ws);
    // The host keeps serving, and the answer is stored once the model is done.
    let mut stored = 0;
    for _ in 0..100 {
        let read = get(&server, &format!("/api/v1/chat/sessions/{session}"), &token).await;
        stored = read.body["messages"].as_array().map_or(0, Vec::len);
        if stored == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(stored, 2, "{}", server.log());
}

//! The chat handlers against the kit's in-memory platform: what they store (only sealed
//! text), when the model is called (never at high or imminent risk), what they send it, what
//! they stream and what they answer. Real storage, crypto, screening and providers are
//! covered by the black-box suite.

use mindflow_component_kit::fake::{Collection, FakePlatform, USER_ID, triggered};
use mindflow_component_kit::host::{ChatRole, Completion, CrisisUnavailable, LlmError};
use mindflow_component_kit::storage::{Value, column};
use mindflow_component_kit::{Reply, consent};
use serde_json::{Value as Json, json};

use crate::api::{CONTENT, MESSAGES, SESSIONS, WORDING, handle, handle_with};
use crate::sse::Frames;

fn chat_host() -> FakePlatform {
    FakePlatform::new("UTC", false)
        .with_collection(
            SESSIONS,
            Collection::default().stamped_on_insert("created_at"),
        )
        .with_collection(
            MESSAGES,
            Collection::default()
                .stamped_on_insert("created_at")
                .child_of(SESSIONS, "session_id"),
        )
        .with_collection(CONTENT, Collection::default().shared())
}

fn call(host: &FakePlatform, method: &str, path: &str, body: &Json) -> Reply {
    host.send(handle, &WORDING, method, path, "", body)
}

fn new_session(host: &FakePlatform) -> String {
    let reply = call(host, "POST", "/sessions", &json!({"title": "Evening"}));
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.json_body()["id"].as_str().expect("id").to_owned()
}

fn send(host: &mut FakePlatform, session: &str, text: &str) -> Reply {
    host.now += chrono::Duration::seconds(10);
    call(
        host,
        "POST",
        &format!("/sessions/{session}/messages"),
        &json!({"content": text}),
    )
}

#[test]
fn sessions_are_created_listed_read_and_deleted() {
    let host = chat_host();
    let id = new_session(&host);
    let listed = call(&host, "GET", "/sessions", &Json::Null);
    assert_eq!(listed.status, 200);
    assert_eq!(listed.json_body()["items"][0]["id"], id.as_str());
    assert_eq!(listed.json_body()["items"][0]["session_type"], "general");
    let read = call(&host, "GET", &format!("/sessions/{id}"), &Json::Null);
    assert_eq!(read.status, 200);
    assert_eq!(read.json_body()["messages"], json!([]));
    assert_eq!(
        call(&host, "DELETE", &format!("/sessions/{id}"), &Json::Null).status,
        204
    );
    assert_eq!(
        call(&host, "GET", &format!("/sessions/{id}"), &Json::Null).status,
        404
    );
    assert_eq!(call(&host, "PUT", "/sessions", &Json::Null).status, 405);
    assert_eq!(call(&host, "GET", "/elsewhere", &Json::Null).status, 404);
}

#[test]
fn a_message_is_stored_sealed_answered_and_counted() {
    let mut host = chat_host();
    let id = new_session(&host);
    host.answer_with("That sounds like a long day. What helped a little?");
    let reply = send(&mut host, &id, "Work was exhausting today");
    assert_eq!(reply.status, 201, "{}", reply.body);
    let body = reply.json_body();
    assert_eq!(body["user_message"]["content"], "Work was exhausting today");
    assert_eq!(body["user_message"]["role"], "user");
    assert_eq!(
        body["assistant_message"]["content"],
        "That sounds like a long day. What helped a little?"
    );
    assert_eq!(body["assistant_message"]["model_used"], "fake-model");
    assert_eq!(body["assistant_message"]["tokens_used"], 15);
    assert_eq!(body["crisis_detected"], false);
    assert!(body["assistant_message"].get("content_encrypted").is_none());
    assert!(body["assistant_message"].get("embedding").is_none());
    // Nothing stored holds the text.
    for row in host.all_rows() {
        for (name, value) in &row {
            if let Value::Text(text) = value {
                assert!(!text.contains("exhausting"), "{name} holds the text");
                assert!(!text.contains("long day"), "{name} holds the answer");
            }
        }
    }
    // The system prompt carries the guardrails, then the message.
    let request = host.llm_requests.borrow()[0].clone();
    assert_eq!(request.messages[0].role, ChatRole::System);
    assert!(
        request.messages[0]
            .content
            .starts_with(&mindflow_guardrails::prompts::system_guardrails("en-US")),
        "{}",
        request.messages[0].content
    );
    assert_eq!(
        request.messages.last().map(|m| m.content.as_str()),
        Some("Work was exhausting today")
    );
    assert_eq!(request.temperature, 0.0);
    let session = call(&host, "GET", &format!("/sessions/{id}"), &Json::Null).json_body();
    assert_eq!(session["message_count"], 2);
    let roles: Vec<&str> = session["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["role"].as_str().expect("role"))
        .collect();
    assert_eq!(roles, ["user", "assistant"]);
}

#[test]
fn high_risk_gets_the_fixed_crisis_answer_and_no_model_call() {
    for severity in ["high", "imminent"] {
        let mut host = chat_host();
        let id = new_session(&host);
        *host.crisis.borrow_mut() = Ok(triggered(severity));
        let reply = send(
            &mut host,
            &id,
            "I have the pills here and tonight is the night",
        );
        assert_eq!(reply.status, 201, "{}", reply.body);
        let body = reply.json_body();
        assert!(
            host.llm_requests.borrow().is_empty(),
            "the model was called"
        );
        assert_eq!(body["crisis_detected"], true);
        assert_eq!(body["assistant_message"]["model_used"], "crisis-protocol");
        assert_eq!(body["assistant_message"]["crisis_detected"], true);
        assert_eq!(body["user_message"]["crisis_detected"], true);
        let text = body["assistant_message"]["content"].as_str().expect("text");
        assert!(text.contains("988"), "{text}");
        let cards: Vec<&str> = body["action_cards"]
            .as_array()
            .expect("cards")
            .iter()
            .map(|c| c["type"].as_str().expect("type"))
            .collect();
        assert_eq!(cards, ["call_helpline", "text_helpline", "safety_plan"]);
        assert_eq!(body["crisis"]["resources"][0]["phone_number"], "988");
    }
}

#[test]
fn an_assessment_that_cannot_be_made_fails_safe() {
    let mut host = chat_host();
    let id = new_session(&host);
    *host.crisis.borrow_mut() = Err(CrisisUnavailable);
    let reply = send(&mut host, &id, "hello");
    assert_eq!(reply.status, 201);
    assert!(host.llm_requests.borrow().is_empty());
    assert_eq!(reply.json_body()["crisis"]["severity"], "unknown");
    assert_eq!(
        reply.json_body()["action_cards"][0]["type"],
        "call_emergency"
    );
}

#[test]
fn moderate_risk_answers_under_the_crisis_aware_instruction_with_resources() {
    let mut host = chat_host();
    let id = new_session(&host);
    *host.crisis.borrow_mut() = Ok(triggered("moderate"));
    host.answer_with("I'm glad you told me.");
    let reply = send(&mut host, &id, "Everything feels pointless lately");
    let body = reply.json_body();
    assert_eq!(body["crisis_detected"], true);
    assert_eq!(
        body["assistant_message"]["content"],
        "I'm glad you told me."
    );
    assert_eq!(
        body["crisis"]["resources"][0]["name"],
        "988 Suicide & Crisis Lifeline"
    );
    let system = host.llm_requests.borrow()[0].messages[0].content.clone();
    let plain = mindflow_guardrails::prompts::system_guardrails("en-US");
    assert!(system.len() > plain.len(), "no crisis-aware instruction");
    assert_eq!(body["action_cards"][0]["type"], "call_helpline");
}

#[test]
fn the_conversation_is_assessed_together() {
    let mut host = chat_host();
    let id = new_session(&host);
    send(&mut host, &id, "I gave my guitar to my brother");
    send(&mut host, &id, "never mind, forget it");
    let conversations = host.conversations.borrow();
    assert_eq!(
        conversations[1].0,
        ["I gave my guitar to my brother", "never mind, forget it"]
    );
    assert_eq!(conversations[1].1, "chat");
}

#[test]
fn a_screened_answer_is_returned_as_replaced_and_flagged() {
    let mut host = chat_host();
    let id = new_session(&host);
    host.llm_answers.borrow_mut().push_back(Ok(Completion {
        content: "I can't advise on doses; your prescriber can.".into(),
        model: "fake-model".into(),
        content_filtered: true,
        filtered_reasons: vec!["medication".into()],
        ..Completion::default()
    }));
    let body = send(&mut host, &id, "how much sertraline should I take").json_body();
    assert_eq!(body["content_filtered"], true);
    assert_eq!(body["filtered_reasons"], json!(["medication"]));
    assert_eq!(body["assistant_message"]["content_filtered"], true);
}

#[test]
fn a_refused_send_leaves_nothing_stored() {
    let mut host = chat_host();
    let id = new_session(&host);
    host.llm_answers
        .borrow_mut()
        .push_back(Err(LlmError::QuotaExceeded(120)));
    let reply = send(&mut host, &id, "are you there?");
    assert_eq!(reply.status, 429, "{}", reply.body);
    assert_eq!(reply.header("retry-after"), Some("120"));
    assert_eq!(
        reply.header("content-type"),
        Some("application/problem+json")
    );
    host.llm_answers
        .borrow_mut()
        .push_back(Err(LlmError::Provider("timeout".into())));
    assert_eq!(send(&mut host, &id, "hello?").status, 503);
    assert!(host.rows(MESSAGES).is_empty());
}

#[test]
fn without_consent_nothing_is_read_or_written() {
    let mut host = chat_host();
    let id = new_session(&host);
    if let Some(user) = host.user.as_mut() {
        user.consents.retain(|c| c != consent::AI_CHAT);
    }
    let calls = host.storage_calls.get();
    let reply = send(&mut host, &id, "hello");
    assert_eq!(reply.status, 403);
    assert_eq!(reply.json_body()["required_consent"], "ai_chat");
    assert_eq!(host.storage_calls.get(), calls);
    assert!(host.conversations.borrow().is_empty());
}

#[test]
fn other_users_sessions_do_not_exist() {
    let mut host = chat_host();
    let id = new_session(&host);
    host.user = Some(FakePlatform::other_user(
        "00000000-0000-4000-8000-0000000000b0",
    ));
    assert_eq!(send(&mut host, &id, "hi").status, 404);
    assert_eq!(
        call(&host, "GET", &format!("/sessions/{id}"), &Json::Null).status,
        404
    );
    assert_eq!(
        call(&host, "DELETE", &format!("/sessions/{id}"), &Json::Null).status,
        404
    );
    assert!(host.llm_requests.borrow().is_empty());
    assert_eq!(USER_ID.len(), 36);
}

#[test]
fn bad_bodies_name_their_fields_and_change_nothing() {
    let mut host = chat_host();
    let id = new_session(&host);
    let reply = call(
        &host,
        "POST",
        &format!("/sessions/{id}/messages"),
        &json!({"content": "", "role": "system"}),
    );
    assert_eq!(reply.status, 422);
    assert!(host.rows(MESSAGES).is_empty());
    host.now += chrono::Duration::seconds(1);
    let reply = call(
        &host,
        "POST",
        "/sessions",
        &json!({"session_type": "therapy"}),
    );
    assert_eq!(reply.status, 422);
    assert_eq!(
        call(
            &host,
            "POST",
            "/sessions/not-a-uuid/messages",
            &json!({"content": "x"})
        )
        .status,
        404
    );
}

#[test]
fn memory_brings_back_this_users_related_messages() {
    let mut host = chat_host();
    let first = new_session(&host);
    send(
        &mut host,
        &first,
        "my sister Anna and I argued about the wedding",
    );
    let second = new_session(&host);
    send(
        &mut host,
        &second,
        "the wedding with Anna is next week and I dread it",
    );
    let requests = host.llm_requests.borrow();
    let system = &requests[1].messages[0].content;
    assert!(system.contains("my sister Anna"), "{system}");
}

#[test]
fn a_long_session_keeps_a_sealed_running_summary() {
    let mut host = chat_host();
    let id = new_session(&host);
    for i in 0..8 {
        send(
            &mut host,
            &id,
            &format!("Message number {i}. More words here."),
        );
    }
    let session = host.rows(SESSIONS).into_iter().next().expect("session");
    assert!(matches!(
        column(&session, "context_summary_encrypted"),
        Some(Value::Bytes(_))
    ));
    let requests = host.llm_requests.borrow();
    let last = &requests.last().expect("request").messages[0].content;
    assert!(last.contains("- Message number 0."), "{last}");
    // The window holds the last eight messages, then the new one.
    assert_eq!(requests.last().expect("request").messages.len(), 1 + 8 + 1);
}

#[test]
fn the_answer_streams_as_server_sent_events() {
    let host = chat_host();
    let id = new_session(&host);
    host.answer_with("One step at a time.");
    let mut out = String::new();
    let body = json!({"content": "I feel stuck"}).to_string();
    let path = format!("/sessions/{id}/messages");
    let request = mindflow_component_kit::Request {
        method: "POST",
        path: &path,
        query: "",
        body: body.as_bytes(),
    };
    let mut frames = Frames::new(|f: &str| out.push_str(f));
    let reply = handle_with(&host, &request, Some(&mut frames)).expect("sent");
    frames.finish("done", &reply.json_body());
    let events: Vec<&str> = out
        .lines()
        .filter_map(|l| l.strip_prefix("event: "))
        .collect();
    assert_eq!(
        events,
        [
            "message", "delta", "delta", "delta", "delta", "delta", "done"
        ]
    );
    assert!(out.contains(r#"data: {"text":"One "}"#), "{out}");
}

//! One call for one user against the wire-format double: bounds, limits, screening and the
//! usage record.

use mindflow_tests::llm_double::{Answer, LlmDouble};

use super::{Caller, Event, bound, complete, embed, stream};
use crate::db::Database;
use crate::llm::limits::{Limits, TierLimits};
use crate::llm::openai::tests::{policy, provider, request};
use crate::llm::{Llm, LlmError, screening};
use crate::tiers::Tier;

async fn setup(messages_per_day: u64) -> (LlmDouble, Llm, Database, tempfile::TempDir, Caller) {
    let double = LlmDouble::start().await.unwrap();
    let limits = Limits {
        free: TierLimits {
            messages_per_day,
            tokens_per_day: 1_000_000,
        },
        ..Limits::default()
    };
    let llm = Llm::new(Box::new(provider(&double, policy())), limits, 256);
    let (db, dir) = crate::db::testing::sqlite().await;
    let user = db
        .create_user(
            "llm-session@example.com",
            "$argon2id$v=19$m=1,t=1,p=1$c2FsdA$aGFzaA",
            None,
        )
        .await
        .unwrap();
    let caller = Caller {
        user_id: user.id,
        tier: Tier::Free,
        locale: "en-GB".into(),
    };
    (double, llm, db, dir, caller)
}

async fn outcomes(db: &Database) -> Vec<(String, i64, i64)> {
    db.fetch_all(
        "SELECT outcome, prompt_tokens, completion_tokens FROM llm_usage ORDER BY id",
        &[],
    )
    .await
    .unwrap()
    .iter()
    .map(|row| {
        (
            row.text("outcome").unwrap(),
            row.int("prompt_tokens").unwrap(),
            row.int("completion_tokens").unwrap(),
        )
    })
    .collect()
}

#[test]
fn requests_are_bounded() {
    let mut too_many = request();
    too_many.messages = vec![too_many.messages[1].clone(); 65];
    assert!(matches!(bound(too_many, 100), Err(LlmError::Refused(_))));
    let mut too_long = request();
    too_long.messages[1].content = "x".repeat(40_000);
    assert!(matches!(bound(too_long, 100), Err(LlmError::Refused(_))));
    let mut hot = request();
    hot.temperature = f32::NAN;
    assert!(matches!(bound(hot, 100), Err(LlmError::Refused(_))));
    let mut greedy = request();
    greedy.max_tokens = 10_000;
    assert_eq!(bound(greedy, 100).unwrap().max_tokens, 100);
}

#[tokio::test]
async fn every_answer_is_screened_recorded_and_limited() {
    let (double, llm, db, _dir, caller) = setup(3).await;
    double.push(Answer::text(
        "That sounds hard. Would a short walk help today?",
    ));
    let answer = complete(&llm, &db, &caller, request()).await.unwrap();
    assert_eq!(
        answer.content,
        "That sounds hard. Would a short walk help today?"
    );
    assert!(!answer.content_filtered && answer.filtered_reasons.is_empty());
    assert_eq!((answer.prompt_tokens, answer.completion_tokens), (11, 9));

    // An answer that crosses a guardrail never reaches the component.
    double.push(Answer::text("You clearly have bipolar disorder."));
    let answer = complete(&llm, &db, &caller, request()).await.unwrap();
    assert!(answer.content_filtered);
    assert_eq!(answer.filtered_reasons, vec!["diagnosis".to_owned()]);
    assert_eq!(
        answer.content,
        screening::screen("You clearly have bipolar disorder.", "en-GB").content
    );
    assert!(!answer.content.contains("bipolar"));

    // A provider failure is recorded and not counted as a message.
    double.push(Answer::status(400, "bad request"));
    let error = complete(&llm, &db, &caller, request()).await.unwrap_err();
    assert!(matches!(error, LlmError::Status { status: 400, .. }));

    complete(&llm, &db, &caller, request()).await.unwrap();
    let refused = complete(&llm, &db, &caller, request()).await.unwrap_err();
    assert!(
        matches!(refused, LlmError::QuotaExceeded { retry_after_seconds } if retry_after_seconds > 0)
    );
    assert_eq!(
        double.calls(),
        4,
        "a refused call never reaches the provider"
    );
    assert_eq!(
        outcomes(&db).await,
        vec![
            ("ok".into(), 11, 9),
            ("filtered".into(), 11, 5),
            ("error".into(), 0, 0),
            ("ok".into(), 11, 4),
        ]
    );
}

async fn read_all(screened: &mut super::ScreenedStream) -> (String, Option<String>) {
    let mut shown = String::new();
    let mut replaced = None;
    while let Some(event) = screened.next().await.unwrap() {
        match event {
            Event::Delta(text) => shown.push_str(&text),
            Event::Replaced(text) => replaced = Some(text),
        }
    }
    (shown, replaced)
}

#[tokio::test]
async fn a_safe_stream_is_released_whole_and_recorded() {
    let (double, llm, db, _dir, caller) = setup(10).await;
    double.push(Answer::text(
        "Take a slow breath with me. You are doing well.",
    ));
    let mut screened = stream(&llm, &db, &caller, request()).await.unwrap();
    let (shown, replaced) = read_all(&mut screened).await;
    assert_eq!(shown, "Take a slow breath with me. You are doing well.");
    assert_eq!(replaced, None);
    let summary = screened.summary().cloned().expect("a summary at the end");
    assert_eq!(summary.content, shown);
    assert!(!summary.content_filtered);
    assert_eq!((summary.prompt_tokens, summary.completion_tokens), (11, 10));
    drop(screened);
    assert_eq!(outcomes(&db).await, vec![("ok".into(), 11, 10)]);
}

#[tokio::test]
async fn a_stream_crossing_a_guardrail_is_replaced_and_stopped() {
    let (double, llm, db, _dir, caller) = setup(10).await;
    double.push(Answer::text(
        "You are not alone. You should double your dose of sertraline tonight. Then rest well and \
         drink some water and call a friend tomorrow morning.",
    ));
    let mut screened = stream(&llm, &db, &caller, request()).await.unwrap();
    let (shown, replaced) = read_all(&mut screened).await;
    assert_eq!(
        shown, "You are not alone.",
        "only the screened sentence was released"
    );
    let replaced = replaced.expect("replaced");
    assert!(!replaced.contains("sertraline"));
    let summary = screened.summary().cloned().expect("a summary");
    assert!(summary.content_filtered);
    assert_eq!(summary.content, replaced);
    assert_eq!(summary.filtered_reasons, vec!["medication".to_owned()]);
    let recorded = outcomes(&db).await;
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].0, "filtered");
}

#[tokio::test]
async fn a_stream_failing_mid_answer_is_recorded_as_an_error() {
    let (double, llm, db, _dir, caller) = setup(10).await;
    double.push(Answer::BreakAfterFirstToken("Hello there".into()));
    let mut screened = stream(&llm, &db, &caller, request()).await.unwrap();
    let mut result = screened.next().await;
    while let Ok(Some(_)) = result {
        result = screened.next().await;
    }
    assert!(result.is_err(), "{result:?}");
    assert!(screened.summary().is_none());
    assert_eq!(
        outcomes(&db).await,
        vec![("error".into(), 3, 1)],
        "an estimated prompt, the deltas seen"
    );
    assert_eq!(double.calls(), 1);
}

#[tokio::test]
async fn embeddings_are_bounded_and_recorded() {
    let (_double, llm, db, _dir, caller) = setup(10).await;
    let vectors = embed(&llm, &db, &caller, vec!["abcd".into()])
        .await
        .unwrap();
    assert_eq!(vectors.len(), 1);
    let too_many = vec![String::new(); 65];
    assert!(matches!(
        embed(&llm, &db, &caller, too_many).await,
        Err(LlmError::Refused(_))
    ));
    assert_eq!(outcomes(&db).await, vec![("ok".into(), 1, 0)]);
}

#[tokio::test]
async fn without_a_provider_calls_fail_clearly() {
    let (_double, _llm, db, _dir, caller) = setup(10).await;
    let none = Llm::unconfigured("no language model is configured on this host");
    let error = complete(&none, &db, &caller, request()).await.unwrap_err();
    assert!(error.to_string().contains("no language model"), "{error}");
}

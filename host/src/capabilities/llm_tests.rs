//! The capability's WIT side: the caller from the context, the translation of requests,
//! answers and errors, and the stream resources, against the wire-format double.

use std::sync::Arc;

use mindflow_tests::llm_double::{Answer, LlmDouble};
use wasmtime::component::{Linker, Resource};
use wasmtime::{Config, Engine};

use super::wit::{self, Host as _, HostCompletionStream as _};
use super::{LlmCapability, LlmGrant};
use crate::capabilities::{
    CapabilityConfigs, CapabilityHost, HostCapability, RequestContext, view,
};
use crate::identity::Caller;
use crate::llm::Llm;
use crate::llm::limits::{Limits, TierLimits};
use crate::llm::openai::tests::{policy, provider};

struct TestHost {
    context: RequestContext,
    configs: Arc<CapabilityConfigs>,
}

impl CapabilityHost for TestHost {
    fn capability_parts(&mut self) -> (&mut RequestContext, &CapabilityConfigs) {
        (&mut self.context, &self.configs)
    }
}

async fn host(double: &LlmDouble, messages_per_day: u64) -> (TestHost, tempfile::TempDir) {
    let (db, dir) = crate::db::testing::sqlite().await;
    let user = db
        .create_user(
            "llm-cap@example.com",
            "$argon2id$v=19$m=1,t=1,p=1$c2FsdA$aGFzaA",
            None,
        )
        .await
        .unwrap();
    let limits = Limits {
        free: TierLimits {
            messages_per_day,
            tokens_per_day: 1_000_000,
        },
        ..Limits::default()
    };
    let mut configs = CapabilityConfigs::default();
    configs.insert(LlmGrant {
        llm: Llm::new(Box::new(provider(double, policy())), limits, 256),
        db,
    });
    let context = RequestContext {
        caller: Some(Caller {
            user_id: user.id,
            tier: "free".into(),
            timezone: "UTC".into(),
            locale: "en".into(),
            consents: Vec::new(),
        }),
        ..RequestContext::default()
    };
    (
        TestHost {
            context,
            configs: Arc::new(configs),
        },
        dir,
    )
}

fn request(text: &str) -> wit::CompletionRequest {
    wit::CompletionRequest {
        messages: vec![
            wit::Message {
                role: wit::Role::System,
                content: "Be kind.".into(),
            },
            wit::Message {
                role: wit::Role::User,
                content: text.into(),
            },
        ],
        max_tokens: 64,
        temperature: 0.0,
    }
}

#[test]
fn the_interface_links() {
    let engine = Engine::new(&Config::new()).unwrap();
    let mut linker = Linker::<TestHost>::new(&engine);
    LlmCapability.link(&mut linker).expect("llm links");
}

#[tokio::test]
async fn complete_screens_and_reports_the_wit_answer() {
    let double = LlmDouble::start().await.unwrap();
    double.push(Answer::text("I am glad you asked."));
    double.push(Answer::text("You clearly have bipolar disorder."));
    let (mut host, _dir) = host(&double, 2).await;
    let mut llm = view::<TestHost, LlmGrant>(&mut host);
    let answer = llm.complete(request("Hi")).await.unwrap().unwrap();
    assert_eq!(answer.content, "I am glad you asked.");
    assert!(!answer.content_filtered);
    let answer = llm
        .complete(request("What do I have?"))
        .await
        .unwrap()
        .unwrap();
    assert!(answer.content_filtered);
    assert_eq!(answer.filtered_reasons, vec!["diagnosis".to_owned()]);
    match llm.complete(request("Again")).await.unwrap() {
        Err(wit::LlmError::QuotaExceeded(seconds)) => assert!(seconds > 0),
        other => panic!("{other:?}"),
    }
    assert_eq!(double.calls(), 2);
}

#[tokio::test]
async fn a_call_without_a_user_or_out_of_bounds_is_refused() {
    let double = LlmDouble::start().await.unwrap();
    let (mut host, _dir) = host(&double, 10).await;
    host.context.caller = None;
    let mut llm = view::<TestHost, LlmGrant>(&mut host);
    assert!(matches!(
        llm.complete(request("Hi")).await.unwrap(),
        Err(wit::LlmError::Refused(_))
    ));
    let (mut host, _dir) = self::host(&double, 10).await;
    let mut llm = view::<TestHost, LlmGrant>(&mut host);
    let mut empty = request("Hi");
    empty.messages.clear();
    assert!(matches!(
        llm.complete(empty).await.unwrap(),
        Err(wit::LlmError::Refused(_))
    ));
    assert_eq!(double.calls(), 0);
}

#[tokio::test]
async fn a_stream_resource_gives_screened_events_then_its_summary() {
    let double = LlmDouble::start().await.unwrap();
    double.push(Answer::text("Breathe in. Breathe out."));
    let (mut host, _dir) = host(&double, 10).await;
    let mut llm = view::<TestHost, LlmGrant>(&mut host);
    let stream = llm
        .complete_streaming(request("Help"))
        .await
        .unwrap()
        .unwrap();
    let rep = stream.rep();
    assert!(
        llm.summary(Resource::new_own(rep)).await.unwrap().is_none(),
        "no summary before the end"
    );
    let mut text = String::new();
    while let Some(event) = llm.next(Resource::new_own(rep)).await.unwrap().unwrap() {
        match event {
            wit::StreamEvent::Delta(delta) => text.push_str(&delta),
            wit::StreamEvent::Replaced(other) => panic!("replaced by {other}"),
        }
    }
    assert_eq!(text, "Breathe in. Breathe out.");
    let summary = llm.summary(Resource::new_own(rep)).await.unwrap().unwrap();
    assert_eq!(summary.content, text);
    assert_eq!((summary.prompt_tokens, summary.completion_tokens), (11, 4));
    llm.drop(Resource::new_own(rep)).await.unwrap();
    assert!(
        llm.next(Resource::new_own(rep)).await.is_err(),
        "a dropped stream traps"
    );
}

#[tokio::test]
async fn open_streams_are_bounded_per_request() {
    let double = LlmDouble::start().await.unwrap();
    let (mut host, _dir) = host(&double, 100).await;
    let mut llm = view::<TestHost, LlmGrant>(&mut host);
    for _ in 0..super::MAX_OPEN_STREAMS {
        llm.complete_streaming(request("Hi"))
            .await
            .unwrap()
            .unwrap();
    }
    assert!(matches!(
        llm.complete_streaming(request("Hi")).await.unwrap(),
        Err(wit::LlmError::Refused(_))
    ));
}

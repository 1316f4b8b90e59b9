//! The real local model (SmolLM2-135M-Instruct from `MINDFLOW_LLM_MODEL`, as `cargo xtask
//! test` sets it; `scripts/fetch-llm.sh` prints the path).

use std::path::PathBuf;

use futures::StreamExt;

use super::Local;
use crate::llm::provider::{CompletionRequest, Message, Provider, Role, StreamItem};

fn model_path() -> Option<PathBuf> {
    let path = std::env::var_os("MINDFLOW_LLM_MODEL").map(PathBuf::from);
    if path.is_none() {
        eprintln!(
            "\n!!!!! SKIPPED: the real local-model test needs MINDFLOW_LLM_MODEL \
             (export MINDFLOW_LLM_MODEL=$(scripts/fetch-llm.sh)) !!!!!\n"
        );
    }
    path
}

fn ask(text: &str, max_tokens: u32, temperature: f32) -> CompletionRequest {
    CompletionRequest {
        messages: vec![
            Message {
                role: Role::System,
                content: "You are a kind and brief assistant.".into(),
            },
            Message {
                role: Role::User,
                content: text.into(),
            },
        ],
        max_tokens,
        temperature,
    }
}

#[tokio::test]
async fn the_real_model_is_deterministic_at_temperature_zero_and_stops_at_max_tokens() {
    let Some(path) = model_path() else { return };
    let local = Local::start(&path, 1, Some(7)).expect("the model loads");
    let request = ask("Give me one tip for sleeping better.", 24, 0.0);
    let first = local.complete(&request).await.expect("first answer");
    let second = local.complete(&request).await.expect("second answer");
    eprintln!(
        "answer: {:?} ({} tokens)",
        first.content, first.completion_tokens
    );
    assert_eq!(
        first.content, second.content,
        "greedy decoding is deterministic"
    );
    assert!(!first.content.trim().is_empty());
    assert!(first.completion_tokens <= 24);
    assert!(first.prompt_tokens > 10);

    let long = ask(
        "Write a long story about a lighthouse keeper and the sea.",
        5,
        0.0,
    );
    let short = local.complete(&long).await.expect("short answer");
    assert_eq!(
        short.completion_tokens, 5,
        "stops at max_tokens: {:?}",
        short.content
    );

    // Seeded sampling repeats itself too.
    let warm = ask("Name a colour.", 8, 0.8);
    let a = local.complete(&warm).await.expect("sampled");
    let b = local.complete(&warm).await.expect("sampled again");
    assert_eq!(a.content, b.content, "same seed, same sample");

    // Streaming gives the same text as the whole answer.
    let mut stream = local.stream(&request).await.expect("stream");
    let mut text = String::new();
    let mut done = None;
    while let Some(item) = stream.next().await {
        match item.expect("no error") {
            StreamItem::Delta(delta) => text.push_str(&delta),
            StreamItem::Done(usage) => done = Some(usage),
        }
    }
    assert_eq!(text, first.content);
    assert_eq!(
        done.expect("usage").completion_tokens,
        first.completion_tokens
    );
}

#[tokio::test]
async fn the_real_vocabulary_round_trips_text() {
    let Some(path) = model_path() else { return };
    let (tokenizer, name) = super::model::read_tokenizer(&super::resolve(&path).unwrap()).unwrap();
    assert!(!name.is_empty());
    for text in [
        "Hello, how are you today?",
        "I feel 100% better\n\n  — thanks! 😊",
        "naïve café",
    ] {
        let ids = tokenizer.encode(text);
        assert_eq!(tokenizer.decode(&ids), text);
    }
    assert!(tokenizer.encode("Hello world").len() <= 3, "merges apply");
}

/// The tokenizer gives the ids Hugging Face's `tokenizers` gives with SmolLM2's pipeline
/// (digits split one by one, then byte-level BPE without a prefix space) on varied text.
#[test]
fn the_tokenizer_agrees_with_hugging_face_tokenizers() {
    use tokenizers::models::bpe::{BPE, Vocab};
    use tokenizers::pre_tokenizers::byte_level::ByteLevel;
    use tokenizers::pre_tokenizers::digits::Digits;
    use tokenizers::pre_tokenizers::sequence::Sequence;

    let Some(path) = model_path() else { return };
    let path = super::resolve(&path).unwrap();
    let (tokens, merges, _) = super::model::read_vocabulary(&path).unwrap();
    let ours = super::tokenizer::Tokenizer::new(tokens.clone(), &merges).unwrap();
    let vocab: Vocab = tokens
        .iter()
        .enumerate()
        .map(|(id, token)| (token.clone(), u32::try_from(id).unwrap()))
        .collect();
    let pairs: Vec<(String, String)> = merges
        .iter()
        .map(|m| {
            let (a, b) = m.split_once(' ').unwrap();
            (a.to_owned(), b.to_owned())
        })
        .collect();
    let bpe = BPE::builder()
        .vocab_and_merges(vocab, pairs)
        .build()
        .unwrap();
    let mut reference = tokenizers::Tokenizer::new(bpe);
    reference.with_pre_tokenizer(Some(Sequence::new(vec![
        Digits::new(true).into(),
        ByteLevel::new(false, true, true).into(),
    ])));
    let texts = [
        "Hello, how are you today?",
        "I feel 100% better\n\n  — thanks! 😊",
        "naïve café, Zürich and São Paulo",
        "It's, I'm, we'll, they've, you'd, she's, don't, DON'T",
        "  leading spaces\tand\ttabs\r\nwindows lines\n\n\nthree",
        "Call 555-0199 or 988 at 3:45pm on 2024-12-05.",
        "我今天很难过。 Я устал. أنا متعب",
        "code: fn main() { println!(\"{}\", x[0]); } // ok???",
        "multiple     spaces   before words and at the end   ",
        "emoji 👨‍👩‍👧 family, flags 🇫🇷, hearts ❤️❤️",
    ];
    for text in texts {
        let expected = reference.encode(text, false).unwrap().get_ids().to_vec();
        assert_eq!(ours.encode(text), expected, "{text:?}");
    }
}

//! Tokens per second of the local model (SmolLM2-135M-Instruct from `MINDFLOW_LLM_MODEL`):
//! the GGUF check at start-up, the first call (tokenizer and weights load), then a 128-token
//! story at temperature 0. Prints figures; asserts nothing.
//!
//! Candle fixes its thread count at its first computation, so run it once per count:
//! `CANDLE_NUM_THREADS=1 MINDFLOW_LLM_THREADS=1 MINDFLOW_LLM_MODEL=$(scripts/fetch-llm.sh)
//! cargo bench -p mindflow --bench local_llm` (and again with 2).

use std::path::PathBuf;
use std::time::Instant;

use mindflow::llm::local::Local;
use mindflow::llm::provider::{CompletionRequest, Message, Provider, Role};

fn ask(text: &str, max_tokens: u32) -> CompletionRequest {
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
        temperature: 0.0,
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let path = PathBuf::from(
        std::env::var_os("MINDFLOW_LLM_MODEL")
            .ok_or_else(|| anyhow::anyhow!("set MINDFLOW_LLM_MODEL=$(scripts/fetch-llm.sh)"))?,
    );
    let threads: usize = std::env::var("MINDFLOW_LLM_THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(1);
    let started = Instant::now();
    let local = Local::start(&path, threads, Some(1))?;
    let check = started.elapsed();
    let started = Instant::now();
    local.complete(&ask("Hi", 1)).await?;
    println!(
        "start-up (a GGUF check): {check:?}; first call (tokenizer and weights): {:?}",
        started.elapsed()
    );
    let started = Instant::now();
    let answer = local
        .complete(&ask(
            "Write a long story about a lighthouse keeper and the sea.",
            128,
        ))
        .await?;
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "CANDLE_NUM_THREADS={:?}, pool {threads}: {} prompt + {} generated tokens in {seconds:.2} s: {:.1} tokens/s",
        std::env::var("CANDLE_NUM_THREADS").ok(),
        answer.prompt_tokens,
        answer.completion_tokens,
        f64::from(answer.completion_tokens) / seconds
    );
    Ok(())
}

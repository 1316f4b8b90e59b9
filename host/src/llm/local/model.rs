//! The local model itself: a llama-family GGUF (SmolLM2-135M-Instruct) loaded with candle's
//! quantized llama, and the generation loop. Synchronous and CPU-bound: the worker
//! ([`super::worker`]) runs it on its own thread.

use std::path::Path;

use candle_core::quantized::gguf_file;
use candle_core::{Device, Tensor};
use candle_transformers::generation::{LogitsProcessor, Sampling};
use candle_transformers::models::quantized_llama::{MAX_SEQ_LEN, ModelWeights};

use super::tokenizer::Tokenizer;
use crate::llm::error::LlmError;

/// Logits of tokens among the last [`REPEAT_WINDOW`] are divided by this (llama.cpp's
/// default): a model this small otherwise loops on one sentence.
const REPEAT_PENALTY: f32 = 1.1;
/// How many of the latest tokens (prompt included) the repeat penalty looks at.
const REPEAT_WINDOW: usize = 64;

fn local(error: impl std::fmt::Display) -> LlmError {
    LlmError::Local(error.to_string())
}

/// A GGUF file's byte-level BPE vocabulary (tokens by id), merges (by rank) and model name
/// (`general.name`, else the file's stem), read from its metadata (not its weights).
///
/// # Errors
/// [`LlmError::Local`] when the file cannot be read, is not GGUF, or has no byte-level BPE
/// vocabulary.
pub fn read_vocabulary(path: &Path) -> Result<(Vec<String>, Vec<String>, String), LlmError> {
    let mut file = std::fs::File::open(path)
        .map_err(|e| LlmError::Local(format!("cannot open {}: {e}", path.display())))?;
    let content = gguf_file::Content::read(&mut file)
        .map_err(|e| LlmError::Local(format!("{} is not a GGUF model: {e}", path.display())))?;
    let strings = |key: &str| -> Result<Vec<String>, LlmError> {
        let values = content
            .metadata
            .get(key)
            .ok_or_else(|| LlmError::Local(format!("the model has no {key}")))?
            .to_vec()
            .map_err(local)?;
        values
            .iter()
            .map(|v| v.to_string().cloned().map_err(local))
            .collect()
    };
    let model = content
        .metadata
        .get("tokenizer.ggml.model")
        .and_then(|v| v.to_string().ok())
        .cloned()
        .unwrap_or_default();
    if model != "gpt2" {
        return Err(LlmError::Local(format!(
            "the model's tokenizer is `{model}`, not byte-level BPE (`gpt2`)"
        )));
    }
    let name = content
        .metadata
        .get("general.name")
        .and_then(|v| v.to_string().ok())
        .cloned()
        .or_else(|| {
            path.file_stem()
                .map(|stem| stem.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "local".into());
    Ok((
        strings("tokenizer.ggml.tokens")?,
        strings("tokenizer.ggml.merges")?,
        name,
    ))
}

/// The tokenizer of a GGUF file and its model's name ([`read_vocabulary`]).
///
/// # Errors
/// As [`read_vocabulary`], and when the vocabulary lacks the chat template's tokens.
pub fn read_tokenizer(path: &Path) -> Result<(Tokenizer, String), LlmError> {
    let (tokens, merges, name) = read_vocabulary(path)?;
    let tokenizer = Tokenizer::new(tokens, &merges).map_err(local)?;
    Ok((tokenizer, name))
}

/// The loaded weights.
pub struct Model {
    weights: ModelWeights,
    device: Device,
}

impl Model {
    /// Loads the weights of the GGUF file at `path` (on the CPU).
    ///
    /// # Errors
    /// [`LlmError::Local`] when the file cannot be read or is not a llama-family model.
    pub fn load(path: &Path) -> Result<Self, LlmError> {
        let device = Device::Cpu;
        let mut file = std::fs::File::open(path)
            .map_err(|e| LlmError::Local(format!("cannot open {}: {e}", path.display())))?;
        let content = gguf_file::Content::read(&mut file).map_err(local)?;
        let weights = ModelWeights::from_gguf(content, &mut file, &device).map_err(local)?;
        Ok(Self { weights, device })
    }

    /// Generates an answer to `prompt` (token ids), calling `emit` with each token's id as it
    /// is generated; stops at a stop token, after `max_tokens`, or when `emit` returns false.
    /// Greedy at temperature 0, else sampled from the seeded generator, after a repeat
    /// penalty. Returns how many tokens were generated (the stop token not counted).
    ///
    /// # Errors
    /// [`LlmError::Refused`] when the prompt and answer would not fit the model's context;
    /// [`LlmError::Local`] when inference fails.
    pub fn generate(
        &mut self,
        tokenizer: &Tokenizer,
        prompt: &[u32],
        max_tokens: u32,
        temperature: f32,
        seed: u64,
        mut emit: impl FnMut(u32) -> bool,
    ) -> Result<u32, LlmError> {
        let budget = usize::try_from(max_tokens).unwrap_or(usize::MAX);
        if prompt.is_empty() || prompt.len().saturating_add(budget) > MAX_SEQ_LEN {
            return Err(LlmError::Refused(format!(
                "the conversation ({} tokens) and answer ({max_tokens}) exceed the local model's context ({MAX_SEQ_LEN})",
                prompt.len()
            )));
        }
        let sampling = if temperature <= 0.0 {
            Sampling::ArgMax
        } else {
            Sampling::All {
                temperature: f64::from(temperature),
            }
        };
        let mut sampler = LogitsProcessor::from_sampling(seed, sampling);
        let mut position = 0;
        let mut input = prompt.to_vec();
        let mut context = prompt.to_vec();
        let mut generated = 0u32;
        while generated < max_tokens {
            let tensor = Tensor::new(input.as_slice(), &self.device)
                .and_then(|t| t.unsqueeze(0))
                .map_err(local)?;
            let logits = self
                .weights
                .forward(&tensor, position)
                .and_then(|l| l.squeeze(0))
                .map_err(local)?;
            position += input.len();
            let recent = &context[context.len().saturating_sub(REPEAT_WINDOW)..];
            let logits =
                candle_transformers::utils::apply_repeat_penalty(&logits, REPEAT_PENALTY, recent)
                    .map_err(local)?;
            let next = sampler.sample(&logits).map_err(local)?;
            context.push(next);
            if tokenizer.is_stop(next) {
                break;
            }
            generated += 1;
            if !emit(next) {
                break;
            }
            input = vec![next];
        }
        Ok(generated)
    }
}

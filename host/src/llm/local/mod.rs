//! The default provider: a small instruction-tuned model (SmolLM2-135M-Instruct, GGUF) run in
//! this process, on the CPU, offline. Nothing leaves the machine.
//!
//! The tokenizer is built at start-up from the GGUF file's metadata (so a wrong path or file
//! stops start-up); the weights are loaded on the first call, by the worker: one thread that
//! runs one generation at a time in a pool of `threads` threads, the others waiting in its
//! queue. Tokens stream out through a channel as they are generated; a caller that goes away
//! stops its generation at the next token.

mod model;
pub mod tokenizer;
mod worker;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use futures::future::BoxFuture;

use super::error::LlmError;
use super::provider::{Completion, CompletionRequest, CompletionStream, Provider};
use tokenizer::Tokenizer;

/// The in-process model.
pub struct Local {
    jobs: tokio::sync::mpsc::Sender<worker::Job>,
    tokenizer: Arc<Tokenizer>,
    name: String,
    seed: Option<u64>,
}

impl std::fmt::Debug for Local {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Local")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Generations waiting beyond the running one, at most; more callers wait to enqueue.
const QUEUE: usize = 64;

/// The GGUF file `path` names: the file itself, or the one `.gguf` file in a folder.
///
/// # Errors
/// [`LlmError::Local`] when there is no such file or a folder holds none or several.
pub fn resolve(path: &Path) -> Result<PathBuf, LlmError> {
    if path.is_file() {
        return Ok(path.to_path_buf());
    }
    let entries = std::fs::read_dir(path)
        .map_err(|e| LlmError::Local(format!("cannot read {}: {e}", path.display())))?;
    let mut found: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|p| p.extension().is_some_and(|ext| ext == "gguf"))
        .collect();
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(LlmError::Local(format!(
            "{} holds no .gguf file",
            path.display()
        ))),
        _ => Err(LlmError::Local(format!(
            "{} holds several .gguf files: name one",
            path.display()
        ))),
    }
}

impl Local {
    /// Reads the model's tokenizer from `path` (a GGUF file or a folder with one) and starts
    /// the worker with `threads` compute threads. `seed` fixes sampling at temperatures above
    /// 0 (otherwise each call draws one).
    ///
    /// # Errors
    /// [`LlmError::Local`] when the file is missing or not a usable GGUF model.
    pub fn start(path: &Path, threads: usize, seed: Option<u64>) -> Result<Self, LlmError> {
        let path = resolve(path)?;
        let (tokenizer, name) = model::read_tokenizer(&path)?;
        let tokenizer = Arc::new(tokenizer);
        let jobs = worker::spawn(path, tokenizer.clone(), threads.max(1), QUEUE)?;
        Ok(Self {
            jobs,
            tokenizer,
            name,
            seed,
        })
    }

    /// The model's name (from its metadata).
    pub fn model_name(&self) -> &str {
        &self.name
    }
}

impl Provider for Local {
    fn name(&self) -> &'static str {
        "local"
    }

    fn complete<'a>(
        &'a self,
        request: &'a CompletionRequest,
    ) -> BoxFuture<'a, Result<Completion, LlmError>> {
        Box::pin(async move {
            let started = Instant::now();
            let stream = self.stream(request).await?;
            super::provider::collect(stream, started).await
        })
    }

    fn stream<'a>(
        &'a self,
        request: &'a CompletionRequest,
    ) -> BoxFuture<'a, Result<CompletionStream, LlmError>> {
        Box::pin(async move {
            let prompt = self.tokenizer.chat_prompt(&request.messages);
            let (events, receiver) = tokio::sync::mpsc::channel(64);
            let job = worker::Job {
                prompt,
                max_tokens: request.max_tokens,
                temperature: request.temperature,
                seed: self.seed.unwrap_or_else(rand::random),
                model: self.name.clone(),
                events,
            };
            self.jobs
                .send(job)
                .await
                .map_err(|_| LlmError::Local("the model's worker has stopped".into()))?;
            let stream: CompletionStream = Box::pin(tokio_stream_of(receiver));
            Ok(stream)
        })
    }
}

/// A receiver as a stream.
fn tokio_stream_of<T: Send + 'static>(
    receiver: tokio::sync::mpsc::Receiver<T>,
) -> impl futures::Stream<Item = T> + Send {
    futures::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|item| (item, receiver))
    })
}

#[cfg(test)]
mod tests;

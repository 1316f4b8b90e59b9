//! The default provider: a small instruction-tuned model (SmolLM2-135M-Instruct, GGUF) run in
//! this process, on the CPU, offline. Nothing leaves the machine.
//!
//! At start-up the file is only checked (it exists and is GGUF: a wrong path stops start-up
//! at no cost); the tokenizer (from the file's metadata, ~0.15 s) and the weights (~0.85 s)
//! are loaded on the first call by the worker: one thread that runs one generation at a time
//! in a pool of `threads` threads, the others waiting in its queue. Tokens stream out through
//! a channel as they are generated; a caller that goes away stops its generation at the next
//! token.

mod model;
pub mod tokenizer;
mod worker;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Instant;

use futures::future::BoxFuture;

use super::error::LlmError;
use super::provider::{Completion, CompletionRequest, CompletionStream, Provider};

/// The in-process model.
pub struct Local {
    jobs: tokio::sync::mpsc::Sender<worker::Job>,
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

/// Sets how many threads candle's quantized kernels use (`CANDLE_NUM_THREADS`), unless the
/// environment already says: candle reads it once, at its first computation, and otherwise
/// takes every physical core (with workers that spin while waiting). The worker's own pool
/// (`--llm-threads`) bounds candle's other kernels.
///
/// # Safety
/// It changes the process's environment: call it before any other thread is started.
#[allow(unsafe_code)]
pub unsafe fn set_compute_threads(threads: u64) {
    if std::env::var_os("CANDLE_NUM_THREADS").is_none() {
        // SAFETY: the caller guarantees that no other thread runs (or reads the environment).
        unsafe { std::env::set_var("CANDLE_NUM_THREADS", threads.max(1).to_string()) };
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
    /// Checks that `path` (a GGUF file or a folder with one) is a GGUF file and starts the
    /// worker with `threads` compute threads. `seed` fixes sampling at temperatures above 0
    /// (otherwise each call draws one).
    ///
    /// # Errors
    /// [`LlmError::Local`] when the file is missing or not GGUF.
    pub fn start(path: &Path, threads: usize, seed: Option<u64>) -> Result<Self, LlmError> {
        let path = resolve(path)?;
        let mut magic = [0u8; 4];
        std::fs::File::open(&path)
            .and_then(|mut file| file.read_exact(&mut magic))
            .map_err(|e| LlmError::Local(format!("cannot read {}: {e}", path.display())))?;
        if &magic != b"GGUF" {
            return Err(LlmError::Local(format!(
                "{} is not a GGUF file",
                path.display()
            )));
        }
        let name = path.file_stem().map_or_else(
            || "local".into(),
            |stem| stem.to_string_lossy().into_owned(),
        );
        let jobs = worker::spawn(path, threads.max(1), QUEUE)?;
        Ok(Self { jobs, name, seed })
    }
}

impl Provider for Local {
    fn name(&self) -> &'static str {
        "local"
    }

    fn model(&self) -> &str {
        &self.name
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
            let (events, receiver) = tokio::sync::mpsc::channel(64);
            let job = worker::Job {
                messages: request.messages.clone(),
                max_tokens: request.max_tokens,
                temperature: request.temperature,
                seed: self.seed.unwrap_or_else(rand::random),
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

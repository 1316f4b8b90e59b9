//! The local model's worker: one thread, one generation at a time, in a compute pool of its
//! own size (so the model never takes more cores than configured).

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::mpsc;

use super::model::Model;
use super::tokenizer::Tokenizer;
use crate::llm::error::LlmError;
use crate::llm::provider::{StreamItem, Usage};

/// One generation to run.
pub struct Job {
    /// The prompt's token ids (the chat template applied).
    pub prompt: Vec<u32>,
    /// Upper bound on generated tokens.
    pub max_tokens: u32,
    /// Sampling temperature (0: greedy).
    pub temperature: f32,
    /// The sampler's seed.
    pub seed: u64,
    /// The model's name, for the usage.
    pub model: String,
    /// Where the answer goes, delta by delta, then its usage or an error.
    pub events: mpsc::Sender<Result<StreamItem, LlmError>>,
}

/// Starts the worker for the model at `path`; jobs sent to the returned queue run in order.
///
/// # Errors
/// [`LlmError::Local`] when the thread or its pool cannot start.
pub fn spawn(
    path: PathBuf,
    tokenizer: Arc<Tokenizer>,
    threads: usize,
    queue: usize,
) -> Result<mpsc::Sender<Job>, LlmError> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("llm-compute-{i}"))
        .build()
        .map_err(|e| LlmError::Local(format!("cannot start the compute pool: {e}")))?;
    let (jobs, mut receiver) = mpsc::channel::<Job>(queue);
    std::thread::Builder::new()
        .name("llm-local".into())
        .spawn(move || {
            let mut model: Option<Model> = None;
            while let Some(job) = receiver.blocking_recv() {
                if job.events.is_closed() {
                    continue;
                }
                if model.is_none() {
                    let started = std::time::Instant::now();
                    match Model::load(&path) {
                        Ok(loaded) => {
                            tracing::info!(path = %path.display(), ms = started.elapsed().as_millis(), "local model loaded");
                            model = Some(loaded);
                        }
                        Err(error) => {
                            let _ = job.events.blocking_send(Err(error));
                            continue;
                        }
                    }
                }
                if let Some(model) = model.as_mut() {
                    pool.install(|| run(model, &tokenizer, &job));
                }
            }
        })
        .map_err(|e| LlmError::Local(format!("cannot start the model's thread: {e}")))?;
    Ok(jobs)
}

/// Runs one job, sending each piece of text as soon as its bytes are whole UTF-8.
fn run(model: &mut Model, tokenizer: &Tokenizer, job: &Job) {
    let mut pending: Vec<u8> = Vec::new();
    let result = model.generate(
        tokenizer,
        &job.prompt,
        job.max_tokens,
        job.temperature,
        job.seed,
        |id| {
            pending.extend(tokenizer.token_bytes(id));
            let whole = match std::str::from_utf8(&pending) {
                Ok(_) => pending.len(),
                Err(error) if error.error_len().is_some() => pending.len(),
                Err(error) => error.valid_up_to(),
            };
            if whole == 0 {
                return true;
            }
            let text = String::from_utf8_lossy(&pending[..whole]).into_owned();
            pending.drain(..whole);
            job.events
                .blocking_send(Ok(StreamItem::Delta(text)))
                .is_ok()
        },
    );
    let last = match result {
        Ok(generated) => {
            if !pending.is_empty() {
                let text = String::from_utf8_lossy(&pending).into_owned();
                let _ = job.events.blocking_send(Ok(StreamItem::Delta(text)));
            }
            Ok(StreamItem::Done(Usage {
                model: job.model.clone(),
                prompt_tokens: u32::try_from(job.prompt.len()).unwrap_or(u32::MAX),
                completion_tokens: generated,
            }))
        }
        Err(error) => Err(error),
    };
    let _ = job.events.blocking_send(last);
}

//! The local model's worker: one thread, one generation at a time, in a compute pool of its
//! own size (so the model never takes more cores than configured).

use std::path::{Path, PathBuf};

use tokio::sync::mpsc;

use super::model::{self, Model};
use super::tokenizer::Tokenizer;
use crate::llm::error::LlmError;
use crate::llm::provider::{Message, StreamItem, Usage};

/// One generation to run.
pub struct Job {
    /// The conversation (the worker applies the chat template).
    pub messages: Vec<Message>,
    /// Upper bound on generated tokens.
    pub max_tokens: u32,
    /// Sampling temperature (0: greedy).
    pub temperature: f32,
    /// The sampler's seed.
    pub seed: u64,
    /// Where the answer goes, delta by delta, then its usage or an error.
    pub events: mpsc::Sender<Result<StreamItem, LlmError>>,
}

/// Starts the worker for the model at `path`; jobs sent to the returned queue run in order.
///
/// # Errors
/// [`LlmError::Local`] when the thread or its pool cannot start.
pub fn spawn(path: PathBuf, threads: usize, queue: usize) -> Result<mpsc::Sender<Job>, LlmError> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("llm-compute-{i}"))
        .build()
        .map_err(|e| LlmError::Local(format!("cannot start the compute pool: {e}")))?;
    let (jobs, mut receiver) = mpsc::channel::<Job>(queue);
    std::thread::Builder::new()
        .name("llm-local".into())
        .spawn(move || {
            let mut loaded: Option<Loaded> = None;
            while let Some(job) = receiver.blocking_recv() {
                if job.events.is_closed() {
                    continue;
                }
                if loaded.is_none() {
                    match Loaded::load(&path) {
                        Ok(model) => loaded = Some(model),
                        Err(error) => {
                            tracing::error!(%error, "the local model cannot be loaded");
                            let _ = job.events.blocking_send(Err(error));
                            continue;
                        }
                    }
                }
                if let Some(loaded) = loaded.as_mut() {
                    pool.install(|| run(loaded, &job));
                }
            }
        })
        .map_err(|e| LlmError::Local(format!("cannot start the model's thread: {e}")))?;
    Ok(jobs)
}

/// The model, its tokenizer and its name, loaded on the first job.
struct Loaded {
    model: Model,
    tokenizer: Tokenizer,
    name: String,
}

impl Loaded {
    fn load(path: &Path) -> Result<Self, LlmError> {
        let started = std::time::Instant::now();
        let (tokenizer, metadata_name) = model::read_tokenizer(path)?;
        // The file's name (`SmolLM2-135M-Instruct.Q4_1`) says more than the metadata's
        // `general.name`, and is what usage recorded before loading says.
        let name = path
            .file_stem()
            .map_or(metadata_name, |stem| stem.to_string_lossy().into_owned());
        let model = Model::load(path)?;
        tracing::info!(path = %path.display(), ms = started.elapsed().as_millis(), "local model loaded");
        Ok(Self {
            model,
            tokenizer,
            name,
        })
    }
}

/// Runs one job, sending each piece of text as soon as its bytes are whole UTF-8.
fn run(loaded: &mut Loaded, job: &Job) {
    let Loaded {
        model,
        tokenizer,
        name,
    } = loaded;
    let prompt = tokenizer.chat_prompt(&job.messages);
    let tokenizer = &*tokenizer;
    let mut pending: Vec<u8> = Vec::new();
    let result = model.generate(
        tokenizer,
        &prompt,
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
                model: name.clone(),
                prompt_tokens: u32::try_from(prompt.len()).unwrap_or(u32::MAX),
                completion_tokens: generated,
            }))
        }
        Err(error) => Err(error),
    };
    let _ = job.events.blocking_send(last);
}

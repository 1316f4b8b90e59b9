//! Embedding the texts of concurrent requests together.
//!
//! The encoder's matrix products copy (pack) every weight matrix once per call, whatever the
//! number of tokens: for one short note that copying costs as much as the arithmetic. One
//! worker thread takes every text waiting when it becomes free (up to a token budget) and runs
//! them through the model as one batch, so under load the copying is shared by many requests
//! and throughput grows with the queue, while a request alone waits for nothing but its own
//! pass.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, TryRecvError, channel};

use mindflow_ml::sentence::{Passage, SentenceEncoder};

/// Tokens (about) one batch may hold: enough to share the copying, small enough that the
/// first request of a batch does not wait long for the others.
const MAX_BATCH_TOKENS: usize = 2048;

struct Job {
    text: String,
    reply: tokio::sync::oneshot::Sender<Vec<Passage>>,
}

/// The queue in front of the worker. Dropping every clone stops the worker.
#[derive(Clone)]
pub struct EmbeddingQueue {
    jobs: Sender<Job>,
}

impl EmbeddingQueue {
    /// Starts the worker thread over `encoder`.
    ///
    /// # Errors
    /// When the thread cannot be started.
    pub fn start(encoder: Arc<SentenceEncoder>) -> std::io::Result<Self> {
        let (jobs, receiver) = channel();
        std::thread::Builder::new()
            .name("mindflow-embed".into())
            .spawn(move || work(&encoder, &receiver))?;
        Ok(Self { jobs })
    }

    /// The passages of `text`, embedded (see [`SentenceEncoder::embed_passages`]).
    ///
    /// # Errors
    /// When the worker is gone.
    pub async fn passages(&self, text: &str) -> Result<Vec<Passage>, String> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Job {
                text: text.to_owned(),
                reply,
            })
            .map_err(|_| "the embedding worker has stopped".to_owned())?;
        answer
            .await
            .map_err(|_| "the embedding worker dropped the request".to_owned())
    }
}

fn work(encoder: &SentenceEncoder, receiver: &Receiver<Job>) {
    while let Ok(first) = receiver.recv() {
        let mut jobs = vec![first];
        let mut tokens = encoder.token_count(&jobs[0].text);
        while tokens < MAX_BATCH_TOKENS {
            match receiver.try_recv() {
                Ok(job) => {
                    tokens += encoder.token_count(&job.text);
                    jobs.push(job);
                }
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        let ranges: Vec<Vec<std::ops::Range<usize>>> = jobs
            .iter()
            .map(|job| encoder.passage_ranges(&job.text))
            .collect();
        let texts: Vec<&str> = jobs
            .iter()
            .zip(&ranges)
            .flat_map(|(job, rs)| rs.iter().map(|r| &job.text[r.clone()]))
            .collect();
        let mut vectors = encoder.embed_batch(&texts).into_iter();
        for (job, rs) in jobs.into_iter().zip(ranges) {
            let passages = rs
                .into_iter()
                .map_while(|range| vectors.next().map(|vector| Passage { range, vector }))
                .collect();
            // The requester may have gone (its client disconnected): nothing to do.
            let _ = job.reply.send(passages);
        }
    }
}

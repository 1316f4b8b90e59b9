//! Embedding the texts of concurrent requests together.
//!
//! The encoder's matrix products copy (pack) every weight matrix once per call, whatever the
//! number of tokens: for one short note that copying costs as much as the arithmetic. One
//! worker thread takes every text waiting when it becomes free (up to a token budget) and runs
//! them through the model as one batch, so under load the copying is shared by many requests
//! and throughput grows with the queue, while a request alone waits for nothing but its own
//! pass.
//!
//! The passages of the last [`RECENT_TEXTS`] texts are kept in memory, keyed by the text's
//! SHA-256 (never the text): a conversation is assessed as a window of its recent messages
//! on every turn, and each earlier message would otherwise be embedded again every time.

use std::collections::{HashMap, VecDeque};
use std::sync::mpsc::{Receiver, Sender, TryRecvError, channel};
use std::sync::{Arc, Mutex, PoisonError};

use sha2::{Digest, Sha256};

use mindflow_ml::sentence::{Passage, SentenceEncoder};

/// Tokens (about) one batch may hold: enough to share the copying, small enough that the
/// first request of a batch does not wait long for the others.
const MAX_BATCH_TOKENS: usize = 2048;

struct Job {
    text: String,
    reply: tokio::sync::oneshot::Sender<Vec<Passage>>,
}

/// How many texts' passages are remembered.
const RECENT_TEXTS: usize = 1024;

/// The passages of recent texts, by the text's SHA-256, oldest dropped first.
#[derive(Default)]
struct Recent {
    passages: HashMap<[u8; 32], Vec<Passage>>,
    order: VecDeque<[u8; 32]>,
}

impl Recent {
    fn get(&self, key: &[u8; 32]) -> Option<Vec<Passage>> {
        self.passages.get(key).cloned()
    }

    fn put(&mut self, key: [u8; 32], passages: Vec<Passage>) {
        if self.passages.insert(key, passages).is_none() {
            self.order.push_back(key);
        }
        while self.order.len() > RECENT_TEXTS {
            if let Some(oldest) = self.order.pop_front() {
                self.passages.remove(&oldest);
            }
        }
    }
}

/// The queue in front of the worker. Dropping every clone stops the worker.
#[derive(Clone)]
pub struct EmbeddingQueue {
    jobs: Sender<Job>,
    recent: Arc<Mutex<Recent>>,
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
        Ok(Self {
            jobs,
            recent: Arc::default(),
        })
    }

    /// The passages of `text`, embedded (see [`SentenceEncoder::embed_passages`]).
    ///
    /// # Errors
    /// When the worker is gone.
    pub async fn passages(&self, text: &str) -> Result<Vec<Passage>, String> {
        let key: [u8; 32] = Sha256::digest(text.as_bytes()).into();
        let recent = |r: &Mutex<Recent>| r.lock().unwrap_or_else(PoisonError::into_inner).get(&key);
        if let Some(passages) = recent(&self.recent) {
            return Ok(passages);
        }
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Job {
                text: text.to_owned(),
                reply,
            })
            .map_err(|_| "the embedding worker has stopped".to_owned())?;
        let passages = answer
            .await
            .map_err(|_| "the embedding worker dropped the request".to_owned())?;
        self.recent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .put(key, passages.clone());
        Ok(passages)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_texts_are_kept_up_to_the_bound_oldest_dropped_first() {
        let mut recent = Recent::default();
        let key = |n: usize| -> [u8; 32] { Sha256::digest(n.to_le_bytes()).into() };
        for n in 0..=RECENT_TEXTS {
            recent.put(key(n), Vec::new());
        }
        recent.put(key(5), Vec::new());
        assert_eq!(recent.passages.len(), RECENT_TEXTS);
        assert_eq!(recent.order.len(), RECENT_TEXTS);
        assert!(recent.get(&key(0)).is_none(), "the oldest is dropped");
        assert!(recent.get(&key(1)).is_some());
        assert!(recent.get(&key(RECENT_TEXTS)).is_some());
    }
}

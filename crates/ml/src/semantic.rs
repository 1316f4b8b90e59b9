//! Nearest labelled exemplars by meaning: a text's passages compared with positive exemplars
//! (each with a severity rank) and negative ones (idioms, negations, reported speech, ...).
//!
//! The method (the crisis signal documents it for rule authors):
//! 1. **A classifier trained on the exemplars.** A logistic regression, positives against
//!    negatives, on two kinds of features of each exemplar side by side: its sentence
//!    embedding (what it means) and the TF-IDF of its word unigrams and bigrams
//!    ([`crate::ngrams`]: what it says in so many words). Each class weighs half of the
//!    total (so the balance of the file does not move the threshold); an L2 penalty as
//!    scikit-learn's `C = 10`; minimised by L-BFGS from zero, so the same exemplars and model
//!    always give the same weights ([`Classifier::train`]). On the two retired held-out sets,
//!    training on everything else, the pair separated crisis statements from everyday ones
//!    better than the embedding alone (ROC AUC 0.968 and 0.988 against 0.930 and 0.955; the
//!    figures are in BENCHMARKS.md).
//! 2. **How severe, by two more classifiers.** The same regression trained on the positive
//!    exemplars alone: high or imminent against moderate, and imminent against the rest
//!    ([`Grader`]). A passage's graded severity is moderate, high when the first says so
//!    (probability ≥ ½, classes balanced), imminent when the second does too. The nearest
//!    positive exemplar's severity, which the index reports as well, is one neighbour's
//!    label; the grade is learned from all of them.
//! 3. **The most alarming passage.** Every passage of the text (each sentence, and the whole
//!    text: [`SentenceEncoder::embed_passages`]) is scored; the highest-scoring passage is the
//!    one reported, with its risk (the classifier's probability), its nearest positive
//!    exemplar (cosine similarity and severity rank) and its nearest negative's similarity.

use std::sync::{Mutex, PoisonError};

use ndarray::{Array1, Array2, ArrayView1};
use sha2::{Digest, Sha256};

use crate::ngrams::{Sparse, Vocabulary};
use crate::recent::Recent;
use crate::sentence::{PackedRows, Passage, SentenceEncoder};

/// A labelled exemplar: `severity` 0 is a negative; above 0 a positive of that rank.
#[derive(Debug, Clone, PartialEq)]
pub struct Exemplar {
    /// The sentence.
    pub text: String,
    /// 0 for a negative, otherwise the severity rank it stands for.
    pub severity: u8,
}

/// What the exemplars say about a text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Nearest {
    /// The classifier's probability that the reported passage expresses risk.
    pub risk: f32,
    /// Cosine similarity of the reported passage to its nearest positive exemplar.
    pub similarity: f32,
    /// That exemplar's severity rank.
    pub severity: u8,
    /// Cosine similarity of the same passage to its nearest negative exemplar (0 without
    /// negatives).
    pub negative_similarity: f32,
    /// The reported passage's byte range in the text.
    pub passage: (usize, usize),
    /// The severity rank the [`Grader`] gives the reported passage (2 moderate, 3 high,
    /// 4 imminent; 0 without a grader).
    pub graded: u8,
}

/// A logistic regression over a passage's embedding and its word n-grams (see the module).
#[derive(Debug, Clone, PartialEq)]
pub struct Classifier {
    vocabulary: Vocabulary,
    /// One weight per embedding dimension.
    dense: Array1<f32>,
    /// One weight per n-gram feature of `vocabulary`.
    sparse: Vec<f32>,
    bias: f32,
}

/// The inverse strength of the L2 penalty, as scikit-learn's `C`: the penalty is
/// `‖w‖² / (2 · C · n)` beside the mean (class-weighted) log loss of `n` examples.
const INVERSE_PENALTY: f64 = 10.0;

impl Classifier {
    /// Trains on `texts` and their embeddings (the rows of `x`), labelled `positive` (see the
    /// module: class-balanced, L2-penalised, minimised by L-BFGS from zero, so the same
    /// examples always give the same weights). `None` without both classes.
    pub fn train(texts: &[&str], x: &Array2<f32>, positive: &[bool]) -> Option<Self> {
        let n = positive.len();
        let positives = positive.iter().filter(|p| **p).count();
        if n == 0 || positives == 0 || positives == n || x.nrows() != n || texts.len() != n {
            return None;
        }
        let vocabulary = Vocabulary::fit(texts);
        let sparse_rows: Vec<Sparse> = texts.iter().map(|t| vocabulary.features(t)).collect();
        let (d, m) = (x.ncols(), vocabulary.len());
        let dense_x = x.mapv(f64::from);
        #[allow(clippy::cast_precision_loss)] // counts are small
        let (n_f, positives_f) = (n as f64, positives as f64);
        // Each class weighs half of the total.
        let (wp, wn) = (0.5 * n_f / positives_f, 0.5 * n_f / (n_f - positives_f));
        let penalty = 1.0 / (INVERSE_PENALTY * n_f);
        let objective = |theta: &[f64]| -> (f64, Vec<f64>) {
            let (w_dense, rest) = theta.split_at(d);
            let (w_sparse, bias) = rest.split_at(m);
            let bias = bias.first().copied().unwrap_or(0.0);
            let mut z = dense_x.dot(&ArrayView1::from(w_dense));
            for (zi, row) in z.iter_mut().zip(&sparse_rows) {
                *zi += bias
                    + row
                        .iter()
                        .map(|(j, v)| w_sparse[*j] * f64::from(*v))
                        .sum::<f64>();
            }
            let mut loss = 0.0;
            let mut g = Array1::<f64>::zeros(n);
            for (i, zi) in z.iter().enumerate() {
                let (y, weight) = if positive[i] { (1.0, wp) } else { (0.0, wn) };
                loss += weight * (softplus(*zi) - y * zi);
                g[i] = weight * (sigmoid64(*zi) - y) / n_f;
            }
            let mut gradient = vec![0.0; d + m + 1];
            let dense_gradient = dense_x.t().dot(&g);
            for (k, value) in dense_gradient.iter().enumerate() {
                gradient[k] = value + penalty * w_dense[k];
            }
            for (row, gi) in sparse_rows.iter().zip(&g) {
                for (j, v) in row {
                    gradient[d + j] += gi * f64::from(*v);
                }
            }
            for (j, w) in w_sparse.iter().enumerate() {
                gradient[d + j] += penalty * w;
            }
            gradient[d + m] = g.sum();
            let norm: f64 = theta[..d + m].iter().map(|w| w * w).sum();
            (loss / n_f + 0.5 * penalty * norm, gradient)
        };
        let theta = crate::lbfgs::minimise(objective, vec![0.0; d + m + 1]);
        #[allow(clippy::cast_possible_truncation)] // weights are stored as f32
        let narrow = |v: &[f64]| -> Vec<f32> { v.iter().map(|w| *w as f32).collect() };
        Some(Self {
            vocabulary,
            dense: Array1::from_vec(narrow(&theta[..d])),
            sparse: narrow(&theta[d..d + m]),
            bias: narrow(&theta[d + m..]).first().copied().unwrap_or(0.0),
        })
    }

    /// The embedding dimension it was trained on.
    pub fn dimension(&self) -> usize {
        self.dense.len()
    }

    /// Everything the classifier holds as floats, for caching a trained one: the dimension
    /// and feature counts, the weights, the bias, then the vocabulary.
    pub fn to_vec(&self) -> Vec<f32> {
        #[allow(clippy::cast_precision_loss)] // both are far below 2^24
        let mut out = vec![self.dense.len() as f32, self.sparse.len() as f32];
        out.extend(self.dense.iter());
        out.extend(&self.sparse);
        out.push(self.bias);
        out.extend(self.vocabulary.to_vec());
        out
    }

    /// The inverse of [`Self::to_vec`]; `None` when the values cannot be one.
    pub fn from_slice(values: &[f32]) -> Option<Self> {
        let (&d, rest) = values.split_first()?;
        let (&m, rest) = rest.split_first()?;
        let whole = |v: f32| (v >= 0.0 && v.fract() == 0.0 && v < 16_777_216.0).then_some(v);
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // checked above
        let (d, m) = (whole(d)? as usize, whole(m)? as usize);
        if rest.len() < d + m + 1 {
            return None;
        }
        let (weights, vocabulary) = rest.split_at(d + m + 1);
        let vocabulary = Vocabulary::from_slice(vocabulary)?;
        (vocabulary.len() == m).then(|| Self {
            dense: Array1::from_vec(weights[..d].to_vec()),
            sparse: weights[d..d + m].to_vec(),
            bias: weights[d + m],
            vocabulary,
        })
    }

    /// The probability that a passage with this text and embedding `v` expresses risk.
    pub fn probability(&self, text: &str, v: ArrayView1<'_, f32>) -> f32 {
        let dense = if v.len() == self.dense.len() {
            v.dot(&self.dense)
        } else {
            0.0
        };
        let sparse: f32 = self
            .vocabulary
            .features(text)
            .iter()
            .map(|(j, value)| self.sparse[*j] * value)
            .sum();
        sigmoid(dense + sparse + self.bias)
    }
}

/// Two classifiers trained on the positive exemplars alone, to grade how severe a passage
/// is: high (or imminent) against moderate, and imminent against moderate and high.
#[derive(Debug, Clone, PartialEq)]
pub struct Grader {
    high: Classifier,
    imminent: Classifier,
}

/// The severity ranks a [`Grader`] tells apart.
const MODERATE: u8 = 2;
const HIGH: u8 = 3;
const IMMINENT: u8 = 4;

impl Grader {
    /// Trains on the positives among `texts` (rows of `x`, ranks `severity`); `None` unless
    /// the positives hold moderate, high and imminent examples.
    pub fn train(texts: &[&str], x: &Array2<f32>, severity: &[u8]) -> Option<Self> {
        let rows: Vec<usize> = (0..severity.len())
            .filter(|&i| severity[i] >= MODERATE)
            .collect();
        if x.nrows() != severity.len() || texts.len() != severity.len() {
            return None;
        }
        let sub_x = x.select(ndarray::Axis(0), &rows);
        let sub_texts: Vec<&str> = rows.iter().map(|&i| texts[i]).collect();
        let at_least =
            |rank: u8| -> Vec<bool> { rows.iter().map(|&i| severity[i] >= rank).collect() };
        Some(Self {
            high: Classifier::train(&sub_texts, &sub_x, &at_least(HIGH))?,
            imminent: Classifier::train(&sub_texts, &sub_x, &at_least(IMMINENT))?,
        })
    }

    /// The severity rank of a passage with this text and embedding: 2, 3 or 4.
    pub fn grade(&self, text: &str, v: ArrayView1<'_, f32>) -> u8 {
        if self.high.probability(text, v) < 0.5 {
            MODERATE
        } else if self.imminent.probability(text, v) < 0.5 {
            HIGH
        } else {
            IMMINENT
        }
    }
}

/// What an index learns from its exemplars: the risk classifier, and the grader when the
/// positives hold every severity.
#[derive(Debug, Clone, PartialEq)]
pub struct Models {
    /// Positives against negatives.
    pub risk: Classifier,
    /// How severe a positive is.
    pub grader: Option<Grader>,
}

impl Models {
    /// Every model as floats, for caching: each classifier's length, then its values.
    pub fn to_vec(&self) -> Vec<f32> {
        let mut out = Vec::new();
        let parts = [
            Some(&self.risk),
            self.grader.as_ref().map(|g| &g.high),
            self.grader.as_ref().map(|g| &g.imminent),
        ];
        for part in parts.into_iter().flatten() {
            let values = part.to_vec();
            #[allow(clippy::cast_precision_loss)] // far below 2^24
            out.push(values.len() as f32);
            out.extend(values);
        }
        out
    }

    /// The inverse of [`Self::to_vec`]; `None` when the values cannot be one.
    pub fn from_slice(mut values: &[f32]) -> Option<Self> {
        let mut parts = Vec::new();
        while let Some((&len, rest)) = values.split_first() {
            let whole = (len >= 0.0 && len.fract() == 0.0 && len < 16_777_216.0).then_some(len)?;
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // checked above
            let len = whole as usize;
            let part = rest.get(..len)?;
            parts.push(Classifier::from_slice(part)?);
            values = &rest[len..];
        }
        let mut parts = parts.into_iter();
        let risk = parts.next()?;
        let grader = match (parts.next(), parts.next(), parts.next()) {
            (None, None, None) => None,
            (Some(high), Some(imminent), None) => Some(Grader { high, imminent }),
            _ => return None,
        };
        Some(Self { risk, grader })
    }

    /// The embedding dimension they were trained on.
    pub fn dimension(&self) -> usize {
        self.risk.dimension()
    }
}

fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + (-z).exp())
}

fn sigmoid64(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// `ln(1 + eᶻ)` without overflow.
fn softplus(z: f64) -> f64 {
    if z > 0.0 {
        z + (-z).exp().ln_1p()
    } else {
        z.exp().ln_1p()
    }
}

/// Exemplar embeddings, positives and negatives apart (rows are unit vectors), and the
/// classifier trained on them.
pub struct ExemplarIndex {
    positives: PackedRows,
    positive_severity: Vec<u8>,
    negatives: PackedRows,
    models: Option<Models>,
    /// The scores of recent passages: a conversation is judged on every turn, and its
    /// earlier messages' sentences are the same passages each time.
    recent: Mutex<Recent<Score>>,
}

/// How many passages' scores an index remembers (a few dozen bytes each).
const RECENT_SCORES: usize = 4096;

/// A passage's scores, before its range is attached.
#[derive(Debug, Clone, Copy)]
struct Score {
    risk: f32,
    similarity: f32,
    severity: u8,
    negative_similarity: f32,
    graded: u8,
}

impl Default for ExemplarIndex {
    /// An index without exemplars: [`ExemplarIndex::nearest`] is always `None`.
    fn default() -> Self {
        Self {
            positives: PackedRows::new(&[], 0, 0),
            positive_severity: Vec::new(),
            negatives: PackedRows::new(&[], 0, 0),
            models: None,
            recent: Mutex::new(Recent::new(RECENT_SCORES)),
        }
    }
}

impl ExemplarIndex {
    /// Embeds `exemplars` with `encoder` (one batch per 64).
    pub fn build(encoder: &SentenceEncoder, exemplars: &[Exemplar]) -> Self {
        let vectors: Vec<Vec<f32>> = exemplars
            .chunks(64)
            .flat_map(|chunk| {
                let texts: Vec<&str> = chunk.iter().map(|e| e.text.as_str()).collect();
                encoder.embed_batch(&texts)
            })
            .collect();
        Self::from_vectors(encoder.dimension(), exemplars, &vectors)
    }

    /// An index from embeddings computed elsewhere (`vectors[i]` embeds `exemplars[i]`),
    /// training the classifier and the grader on them.
    pub fn from_vectors(dimension: usize, exemplars: &[Exemplar], vectors: &[Vec<f32>]) -> Self {
        let mut index = Self::untrained(dimension, exemplars, vectors);
        let usable: Vec<(&Exemplar, &Vec<f32>)> = exemplars
            .iter()
            .zip(vectors)
            .filter(|(_, v)| v.len() == dimension)
            .collect();
        let mut x = Array2::<f32>::zeros((usable.len(), dimension));
        for (mut row, (_, vector)) in x.rows_mut().into_iter().zip(&usable) {
            row.assign(&ArrayView1::from(vector.as_slice()));
        }
        let labels: Vec<bool> = usable.iter().map(|(e, _)| e.severity > 0).collect();
        let severity: Vec<u8> = usable.iter().map(|(e, _)| e.severity).collect();
        let texts: Vec<&str> = usable.iter().map(|(e, _)| e.text.as_str()).collect();
        index.models = Classifier::train(&texts, &x, &labels).map(|risk| Models {
            risk,
            grader: Grader::train(&texts, &x, &severity),
        });
        index
    }

    /// [`Self::from_vectors`] with models trained before (on the same exemplars).
    pub fn with_models(
        dimension: usize,
        exemplars: &[Exemplar],
        vectors: &[Vec<f32>],
        models: Models,
    ) -> Self {
        let mut index = Self::untrained(dimension, exemplars, vectors);
        index.models = Some(models);
        index
    }

    /// What the index learned, if the exemplars had both classes.
    pub fn models(&self) -> Option<&Models> {
        self.models.as_ref()
    }

    fn untrained(dimension: usize, exemplars: &[Exemplar], vectors: &[Vec<f32>]) -> Self {
        let rows = |positive: bool| -> (PackedRows, Vec<u8>) {
            let chosen: Vec<(&Exemplar, &Vec<f32>)> = exemplars
                .iter()
                .zip(vectors)
                .filter(|(e, v)| (e.severity > 0) == positive && v.len() == dimension)
                .collect();
            let flat: Vec<f32> = chosen.iter().flat_map(|(_, v)| v.iter().copied()).collect();
            (
                PackedRows::new(&flat, chosen.len(), dimension),
                chosen.iter().map(|(e, _)| e.severity).collect(),
            )
        };
        let (positives, positive_severity) = rows(true);
        let (negatives, _) = rows(false);
        Self {
            positives,
            positive_severity,
            negatives,
            models: None,
            recent: Mutex::new(Recent::new(RECENT_SCORES)),
        }
    }

    /// Positive exemplars in the index.
    pub fn positives(&self) -> usize {
        self.positives.count()
    }

    /// Negative exemplars in the index.
    pub fn negatives(&self) -> usize {
        self.negatives.count()
    }

    /// The nearest exemplars to the passages of `text` (see the module), or `None` without
    /// passages or positives. A passage scored recently (the same words and vector) is not
    /// scored again.
    pub fn nearest(&self, text: &str, passages: &[Passage]) -> Option<Nearest> {
        if passages.is_empty() || self.positives.count() == 0 {
            return None;
        }
        let dimension = self.positives.width();
        let passages: Vec<&Passage> = passages
            .iter()
            .filter(|p| p.vector.len() == dimension)
            .collect();
        let words: Vec<&str> = passages
            .iter()
            .map(|p| text.get(p.range.clone()).unwrap_or_default())
            .collect();
        let keys: Vec<[u8; 32]> = passages
            .iter()
            .zip(&words)
            .map(|(p, w)| digest(w, &p.vector))
            .collect();
        let mut scores: Vec<Option<Score>> = {
            let recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
            keys.iter().map(|k| recent.get(k)).collect()
        };
        let new: Vec<usize> = (0..passages.len())
            .filter(|&i| scores[i].is_none())
            .collect();
        if !new.is_empty() {
            let x: Vec<f32> = new
                .iter()
                .flat_map(|&i| passages[i].vector.iter().copied())
                .collect();
            let positive = self.positives.products(&x, new.len());
            let negative = self.negatives.products(&x, new.len());
            let mut recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
            for (row, &i) in new.iter().enumerate() {
                let score = self.score(
                    words[i],
                    ArrayView1::from(passages[i].vector.as_slice()),
                    matrix_row(&positive, row, self.positives.count()),
                    matrix_row(&negative, row, self.negatives.count()),
                );
                recent.put(keys[i], score);
                scores[i] = Some(score);
            }
        }
        let mut best: Option<((f32, f32), Nearest)> = None;
        for (passage, score) in passages.iter().zip(scores) {
            let Some(score) = score else { continue };
            let order = (score.risk, score.similarity - score.negative_similarity);
            if best.is_none_or(|(k, _)| order > k) {
                best = Some((
                    order,
                    Nearest {
                        risk: score.risk,
                        similarity: score.similarity,
                        severity: score.severity,
                        negative_similarity: score.negative_similarity,
                        passage: (passage.range.start, passage.range.end),
                        graded: score.graded,
                    },
                ));
            }
        }
        best.map(|(_, nearest)| nearest)
    }

    /// One passage's scores: the classifier's risk, and its nearest positive and negative
    /// exemplars from its similarities to each (`positive`, `negative`).
    fn score(
        &self,
        words: &str,
        vector: ArrayView1<'_, f32>,
        positive: &[f32],
        negative: &[f32],
    ) -> Score {
        let risk = self
            .models
            .as_ref()
            .map_or(0.0, |m| m.risk.probability(words, vector));
        let graded = self
            .models
            .as_ref()
            .and_then(|m| m.grader.as_ref())
            .map_or(0, |g| g.grade(words, vector));
        let (index, similarity) = positive
            .iter()
            .copied()
            .enumerate()
            .fold((0, f32::NEG_INFINITY), |a, b| if b.1 > a.1 { b } else { a });
        let negative_similarity = negative.iter().copied().fold(0.0, f32::max);
        Score {
            risk,
            similarity,
            severity: self.positive_severity.get(index).copied().unwrap_or(0),
            negative_similarity,
            graded,
        }
    }
}

/// Row `row` of a row-major matrix `width` wide.
fn matrix_row(matrix: &[f32], row: usize, width: usize) -> &[f32] {
    matrix
        .get(row * width..(row + 1) * width)
        .unwrap_or_default()
}

/// The SHA-256 of a passage's words and vector: what its scores depend on.
fn digest(words: &str, vector: &[f32]) -> [u8; 32] {
    let mut hash = Sha256::new();
    hash.update(words.len().to_le_bytes());
    hash.update(words.as_bytes());
    let bytes: Vec<u8> = vector.iter().flat_map(|v| v.to_le_bytes()).collect();
    hash.update(&bytes);
    hash.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passage(vector: &[f32]) -> Passage {
        Passage {
            range: 0..1,
            vector: vector.to_vec(),
            weight: 1.0,
        }
    }

    fn index() -> ExemplarIndex {
        let exemplars = [
            Exemplar {
                text: "a".into(),
                severity: 4,
            },
            Exemplar {
                text: "b".into(),
                severity: 2,
            },
            Exemplar {
                text: "c".into(),
                severity: 0,
            },
        ];
        let vectors = [
            vec![1.0, 0.0, 0.0],
            vec![0.0, 1.0, 0.0],
            vec![0.0, 0.0, 1.0],
        ];
        ExemplarIndex::from_vectors(3, &exemplars, &vectors)
    }

    #[test]
    fn reports_the_most_alarming_passage_with_its_nearest_exemplars() {
        let index = index();
        assert_eq!((index.positives(), index.negatives()), (2, 1));
        let idiom = passage(&[0.8, 0.0, 0.6]);
        let mut crisis = passage(&[0.0, 0.7, 0.1]);
        crisis.range = 5..9;
        let nearest = index
            .nearest("an idiom. a crisis", &[idiom, crisis])
            .expect("a match");
        assert_eq!(nearest.severity, 2);
        assert_eq!(nearest.passage, (5, 9));
        assert!((nearest.similarity - 0.7).abs() < 1e-6);
        assert!((nearest.negative_similarity - 0.1).abs() < 1e-6);
    }

    #[test]
    fn a_passage_scored_again_is_answered_from_memory_with_the_same_scores() {
        let index = index();
        let remembered = || {
            index
                .recent
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .len()
        };
        let crisis = passage(&[0.0, 0.7, 0.1]);
        let first = index.nearest("a crisis", std::slice::from_ref(&crisis));
        assert_eq!(remembered(), 1);
        let again = index.nearest("a crisis", std::slice::from_ref(&crisis));
        assert_eq!(remembered(), 1, "nothing new to score");
        assert_eq!(format!("{first:?}"), format!("{again:?}"));
        // Other words or another vector are another passage.
        index.nearest("b crisis", &[crisis]);
        index.nearest("a crisis", &[passage(&[0.0, 0.6, 0.2])]);
        assert_eq!(remembered(), 3);
    }

    #[test]
    fn the_classifier_separates_what_is_separable_and_round_trips() {
        let x = ndarray::arr2(&[
            [1.0f32, 0.1],
            [0.9, 0.2],
            [0.8, -0.1],
            [-1.0, 0.1],
            [-0.7, 0.3],
        ]);
        let texts = ["a b", "a c", "b c", "d e", "d f"];
        let labels = [true, true, true, false, false];
        let classifier = Classifier::train(&texts, &x, &labels).expect("both classes");
        for ((row, text), label) in x.rows().into_iter().zip(texts).zip(labels) {
            assert_eq!(classifier.probability(text, row) > 0.5, label);
        }
        let again = Classifier::train(&texts, &x, &labels).expect("both classes");
        assert_eq!(classifier, again, "deterministic");
        assert_eq!(
            Classifier::from_slice(&classifier.to_vec()),
            Some(classifier)
        );
        assert_eq!(Classifier::from_slice(&[2.0, 1.0, 0.5]), None, "too short");
        assert_eq!(
            Classifier::train(&texts, &x, &[true; 5]),
            None,
            "one class only"
        );
    }

    #[test]
    fn words_separate_what_the_embedding_cannot() {
        // Every embedding is the same: only the words tell the classes apart.
        let x = ndarray::Array2::from_elem((6, 2), 0.5f32);
        let texts = [
            "the pills for tonight",
            "my bag for tonight",
            "a note for tonight",
            "the pills for my headache",
            "my bag for the gym",
            "a note for the teacher",
        ];
        let labels = [true, true, true, false, false, false];
        let classifier = Classifier::train(&texts, &x, &labels).expect("both classes");
        let row = x.row(0);
        assert!(classifier.probability("the keys for tonight", row) > 0.5);
        assert!(classifier.probability("the keys for my teacher", row) < 0.5);
    }

    #[test]
    fn the_grader_learns_severity_from_the_positives_and_models_round_trip() {
        // Three clusters of positives (moderate, high, imminent) and one of negatives.
        let x = ndarray::arr2(&[
            [1.0f32, 0.0, 0.0],
            [0.9, 0.1, 0.0],
            [0.0, 1.0, 0.0],
            [0.1, 0.9, 0.0],
            [0.0, 0.0, 1.0],
            [0.0, 0.1, 0.9],
            [-1.0, -1.0, -1.0],
            [-0.9, -1.0, -1.0],
        ]);
        let texts = ["m a", "m b", "h a", "h b", "i a", "i b", "n a", "n b"];
        let severity = [2, 2, 3, 3, 4, 4, 0, 0];
        let grader = Grader::train(&texts, &x, &severity).expect("every severity");
        for ((row, text), rank) in x.rows().into_iter().zip(texts).zip(severity).take(6) {
            assert_eq!(grader.grade(text, row), rank, "{text}");
        }
        assert_eq!(
            Grader::train(&texts, &x, &[2, 2, 3, 3, 3, 3, 0, 0]),
            None,
            "no imminent positive"
        );
        let labels: Vec<bool> = severity.iter().map(|s| *s > 0).collect();
        let models = Models {
            risk: Classifier::train(&texts, &x, &labels).expect("both classes"),
            grader: Some(grader),
        };
        assert_eq!(Models::from_slice(&models.to_vec()).as_ref(), Some(&models));
        let alone = Models {
            risk: models.risk.clone(),
            grader: None,
        };
        assert_eq!(Models::from_slice(&alone.to_vec()), Some(alone));
        let mut truncated = models.to_vec();
        truncated.pop();
        assert_eq!(Models::from_slice(&truncated), None);
    }

    #[test]
    fn nothing_without_passages() {
        assert_eq!(index().nearest("", &[]), None);
    }
}

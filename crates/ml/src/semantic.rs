//! Nearest labelled exemplars by meaning: a text's passages compared with positive exemplars
//! (each with a severity rank) and negative ones (idioms, negations, reported speech, ...).
//!
//! The method (the crisis signal documents it for rule authors):
//! 1. **A classifier trained on the exemplars.** A logistic regression on the exemplars'
//!    embeddings, positives against negatives, each class weighted to half of the total (so
//!    the balance of the file does not move the threshold), with a small L2 penalty; trained
//!    by full-batch gradient descent from zero for a fixed number of steps, so the same
//!    exemplars and model always give the same weights ([`Logistic::train`]).
//! 2. **The most alarming passage.** Every passage of the text (each sentence, and the whole
//!    text: [`SentenceEncoder::embed_passages`]) is scored; the highest-scoring passage is the
//!    one reported, with its risk (the classifier's probability), its nearest positive
//!    exemplar (cosine similarity and severity rank) and its nearest negative's similarity.

use ndarray::{Array1, Array2, ArrayView1};

use crate::sentence::{Passage, SentenceEncoder};

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
}

/// A logistic regression over embeddings.
#[derive(Debug, Clone, PartialEq)]
pub struct Logistic {
    weights: Array1<f32>,
    bias: f32,
}

/// Gradient-descent steps when training.
const STEPS: usize = 3000;
/// The step size.
const RATE: f32 = 4.0;
/// The L2 penalty.
const L2: f32 = 1e-4;

impl Logistic {
    /// Trains on the rows of `x` labelled `positive` (see the module: class-balanced,
    /// L2-penalised, deterministic). `None` without both classes.
    pub fn train(x: &Array2<f32>, positive: &[bool]) -> Option<Self> {
        let n = positive.len();
        let positives = positive.iter().filter(|p| **p).count();
        if n == 0 || positives == 0 || positives == n || x.nrows() != n {
            return None;
        }
        // Each class weighs half of the total.
        #[allow(clippy::cast_precision_loss)] // counts are small
        let (wp, wn) = (
            0.5 / (positives as f32 / n as f32),
            0.5 / ((n - positives) as f32 / n as f32),
        );
        let target: Array1<f32> = positive.iter().map(|p| f32::from(u8::from(*p))).collect();
        let sample_weight: Array1<f32> =
            positive.iter().map(|p| if *p { wp } else { wn }).collect();
        let mut weights = Array1::<f32>::zeros(x.ncols());
        let mut bias = 0.0f32;
        #[allow(clippy::cast_precision_loss)]
        let scale = 1.0 / n as f32;
        for _ in 0..STEPS {
            let mut gradient = x.dot(&weights);
            gradient.mapv_inplace(|z| sigmoid(z + bias));
            gradient -= &target;
            gradient *= &sample_weight;
            let step = x.t().dot(&gradient) * scale + &weights * L2;
            weights.scaled_add(-RATE, &step);
            bias -= RATE * gradient.sum() * scale;
        }
        Some(Self { weights, bias })
    }

    /// The weights then the bias, for caching a trained classifier.
    pub fn to_vec(&self) -> Vec<f32> {
        let mut out = self.weights.to_vec();
        out.push(self.bias);
        out
    }

    /// The inverse of [`Self::to_vec`].
    pub fn from_slice(values: &[f32]) -> Option<Self> {
        let (bias, weights) = values.split_last()?;
        Some(Self {
            weights: Array1::from_vec(weights.to_vec()),
            bias: *bias,
        })
    }

    /// The probability that `v` is a positive.
    pub fn probability(&self, v: ArrayView1<'_, f32>) -> f32 {
        sigmoid(v.dot(&self.weights) + self.bias)
    }
}

fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + (-z).exp())
}

/// Exemplar embeddings, positives and negatives apart (rows are unit vectors), and the
/// classifier trained on them.
pub struct ExemplarIndex {
    positives: Array2<f32>,
    positive_severity: Vec<u8>,
    negatives: Array2<f32>,
    classifier: Option<Logistic>,
}

impl Default for ExemplarIndex {
    /// An index without exemplars: [`ExemplarIndex::nearest`] is always `None`.
    fn default() -> Self {
        Self {
            positives: Array2::zeros((0, 0)),
            positive_severity: Vec::new(),
            negatives: Array2::zeros((0, 0)),
            classifier: None,
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
    /// training the classifier on them.
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
        index.classifier = Logistic::train(&x, &labels);
        index
    }

    /// [`Self::from_vectors`] with a classifier trained before (the same exemplars).
    pub fn with_classifier(
        dimension: usize,
        exemplars: &[Exemplar],
        vectors: &[Vec<f32>],
        classifier: Logistic,
    ) -> Self {
        let mut index = Self::untrained(dimension, exemplars, vectors);
        index.classifier = Some(classifier);
        index
    }

    /// The classifier, if the exemplars had both classes.
    pub fn classifier(&self) -> Option<&Logistic> {
        self.classifier.as_ref()
    }

    fn untrained(dimension: usize, exemplars: &[Exemplar], vectors: &[Vec<f32>]) -> Self {
        let rows = |positive: bool| -> (Array2<f32>, Vec<u8>) {
            let chosen: Vec<(&Exemplar, &Vec<f32>)> = exemplars
                .iter()
                .zip(vectors)
                .filter(|(e, v)| (e.severity > 0) == positive && v.len() == dimension)
                .collect();
            let mut matrix = Array2::zeros((chosen.len(), dimension));
            for (mut row, (_, vector)) in matrix.rows_mut().into_iter().zip(&chosen) {
                row.assign(&ArrayView1::from(vector.as_slice()));
            }
            (matrix, chosen.iter().map(|(e, _)| e.severity).collect())
        };
        let (positives, positive_severity) = rows(true);
        let (negatives, _) = rows(false);
        Self {
            positives,
            positive_severity,
            negatives,
            classifier: None,
        }
    }

    /// Positive exemplars in the index.
    pub fn positives(&self) -> usize {
        self.positives.nrows()
    }

    /// Negative exemplars in the index.
    pub fn negatives(&self) -> usize {
        self.negatives.nrows()
    }

    /// The nearest exemplars to the passages of a text (see the module), or `None` without
    /// passages or positives.
    pub fn nearest(&self, passages: &[Passage]) -> Option<Nearest> {
        if passages.is_empty() || self.positives.nrows() == 0 {
            return None;
        }
        let dimension = self.positives.ncols();
        let mut matrix = Array2::<f32>::zeros((passages.len(), dimension));
        for (mut row, passage) in matrix.rows_mut().into_iter().zip(passages) {
            if passage.vector.len() == dimension {
                row.assign(&ArrayView1::from(passage.vector.as_slice()));
            }
        }
        let positive = matrix.dot(&self.positives.t());
        let negative = matrix.dot(&self.negatives.t());
        let mut best: Option<((f32, f32), Nearest)> = None;
        for (p, passage) in passages.iter().enumerate() {
            let risk = self
                .classifier
                .as_ref()
                .map_or(0.0, |c| c.probability(matrix.row(p)));
            let (index, similarity) = positive
                .row(p)
                .iter()
                .copied()
                .enumerate()
                .fold((0, f32::NEG_INFINITY), |a, b| if b.1 > a.1 { b } else { a });
            let negative_similarity = negative.row(p).iter().copied().fold(0.0, f32::max);
            let key = (risk, similarity - negative_similarity);
            if best.is_none_or(|(k, _)| key > k) {
                best = Some((
                    key,
                    Nearest {
                        risk,
                        similarity,
                        severity: self.positive_severity[index],
                        negative_similarity,
                        passage: (passage.range.start, passage.range.end),
                    },
                ));
            }
        }
        best.map(|(_, nearest)| nearest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passage(vector: &[f32]) -> Passage {
        Passage {
            range: 0..1,
            vector: vector.to_vec(),
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
        let nearest = index.nearest(&[idiom, crisis]).expect("a match");
        assert_eq!(nearest.severity, 2);
        assert_eq!(nearest.passage, (5, 9));
        assert!((nearest.similarity - 0.7).abs() < 1e-6);
        assert!((nearest.negative_similarity - 0.1).abs() < 1e-6);
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
        let labels = [true, true, true, false, false];
        let classifier = Logistic::train(&x, &labels).expect("both classes");
        for (row, label) in x.rows().into_iter().zip(labels) {
            assert_eq!(classifier.probability(row) > 0.5, label);
        }
        let again = Logistic::train(&x, &labels).expect("both classes");
        assert_eq!(classifier, again, "deterministic");
        assert_eq!(Logistic::from_slice(&classifier.to_vec()), Some(classifier));
        assert_eq!(Logistic::train(&x, &[true; 5]), None, "one class only");
    }

    #[test]
    fn nothing_without_passages() {
        assert_eq!(index().nearest(&[]), None);
    }
}

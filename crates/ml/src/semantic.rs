//! Nearest labelled exemplars by meaning: a text's passages compared with positive exemplars
//! (each with a severity rank) and negative ones (idioms, negations, reported speech, ...).
//!
//! The method, documented where it is used (the crisis signal): every passage of the text
//! (each sentence, and the whole text: [`SentenceEncoder::embed_passages`]) is compared by
//! cosine similarity with every exemplar; for each passage the nearest positive and the
//! nearest negative are found; the passage whose positive lead (positive similarity minus
//! negative similarity) is largest is the one reported. Its positive similarity, the nearest
//! positive's severity rank and its negative similarity are the signal.

use ndarray::{Array2, ArrayView1};

use crate::sentence::{Passage, SentenceEncoder};

/// A labelled exemplar: `severity` 0 is a negative; above 0 a positive of that rank.
#[derive(Debug, Clone, PartialEq)]
pub struct Exemplar {
    /// The sentence.
    pub text: String,
    /// 0 for a negative, otherwise the severity rank it stands for.
    pub severity: u8,
}

/// What the nearest exemplars say about a text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Nearest {
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

/// Exemplar embeddings, positives and negatives apart (rows are unit vectors).
pub struct ExemplarIndex {
    positives: Array2<f32>,
    positive_severity: Vec<u8>,
    negatives: Array2<f32>,
}

impl Default for ExemplarIndex {
    /// An index without exemplars: [`ExemplarIndex::nearest`] is always `None`.
    fn default() -> Self {
        Self {
            positives: Array2::zeros((0, 0)),
            positive_severity: Vec::new(),
            negatives: Array2::zeros((0, 0)),
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

    /// An index from embeddings computed elsewhere (`vectors[i]` embeds `exemplars[i]`).
    pub fn from_vectors(dimension: usize, exemplars: &[Exemplar], vectors: &[Vec<f32>]) -> Self {
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
        let mut best: Option<(f32, Nearest)> = None;
        for (p, passage) in passages.iter().enumerate() {
            let (index, similarity) = positive
                .row(p)
                .iter()
                .copied()
                .enumerate()
                .fold((0, f32::NEG_INFINITY), |a, b| if b.1 > a.1 { b } else { a });
            let negative_similarity = negative.row(p).iter().copied().fold(0.0, f32::max);
            let lead = similarity - negative_similarity;
            if best.is_none_or(|(l, _)| lead > l) {
                best = Some((
                    lead,
                    Nearest {
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
    fn reports_the_passage_with_the_largest_positive_lead() {
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
    fn nothing_without_passages() {
        assert_eq!(index().nearest(&[]), None);
    }
}

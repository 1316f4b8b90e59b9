//! A BERT encoder's forward pass (inference only), for the small sentence-embedding models
//! of the BERT family (all-MiniLM-L6-v2, bge-small): token, position and segment embeddings,
//! then per layer multi-head self-attention and a GELU feed-forward block, each with a
//! residual connection and layer normalisation (post-norm, as in the original BERT).
//!
//! Several sequences run together: the dense layers see every token of every sequence as one
//! matrix (one large matrix product instead of many small ones), while attention stays within
//! each sequence, so no padding and no mask are needed.

use std::ops::Range;

use ndarray::{Array1, Array2, ArrayView2, Axis, s};

use super::safetensors::{Tensors, WeightsError};

/// The shape of a BERT model (`config.json`).
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Config {
    /// Width of every token's vector.
    pub hidden_size: usize,
    /// Encoder layers.
    pub num_hidden_layers: usize,
    /// Attention heads per layer (they split `hidden_size`).
    pub num_attention_heads: usize,
    /// Width of the feed-forward block.
    pub intermediate_size: usize,
    /// The longest sequence, special tokens included.
    pub max_position_embeddings: usize,
    /// Tokens in the vocabulary.
    pub vocab_size: usize,
    /// Added to the variance in layer normalisation.
    pub layer_norm_eps: f32,
    /// Must be `gelu` (the exact, erf-based one).
    pub hidden_act: String,
}

struct Linear {
    /// `[out, in]`, as PyTorch stores it; applied as `x · weightᵀ`.
    weight: Array2<f32>,
    bias: Array1<f32>,
}

impl Linear {
    fn load(
        t: &Tensors<'_>,
        name: &str,
        inputs: usize,
        outputs: usize,
    ) -> Result<Self, WeightsError> {
        Ok(Self {
            weight: t.matrix(&format!("{name}.weight"), outputs, inputs)?,
            bias: t.vector(&format!("{name}.bias"), outputs)?,
        })
    }

    fn forward(&self, x: &Array2<f32>) -> Array2<f32> {
        let mut y = x.dot(&self.weight.t());
        y += &self.bias;
        y
    }
}

struct LayerNorm {
    gamma: Array1<f32>,
    beta: Array1<f32>,
    eps: f32,
}

impl LayerNorm {
    fn load(t: &Tensors<'_>, name: &str, width: usize, eps: f32) -> Result<Self, WeightsError> {
        Ok(Self {
            gamma: t.vector(&format!("{name}.weight"), width)?,
            beta: t.vector(&format!("{name}.bias"), width)?,
            eps,
        })
    }

    /// Normalises each row of `x` in place.
    fn apply(&self, x: &mut Array2<f32>) {
        #[allow(clippy::cast_precision_loss)] // widths are small
        let width = x.ncols() as f32;
        for mut row in x.rows_mut() {
            let mean = row.sum() / width;
            let variance = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / width;
            let scale = 1.0 / (variance + self.eps).sqrt();
            for ((v, g), b) in row.iter_mut().zip(&self.gamma).zip(&self.beta) {
                *v = (*v - mean) * scale * g + b;
            }
        }
    }
}

struct Layer {
    query: Linear,
    key: Linear,
    value: Linear,
    attention_output: Linear,
    attention_norm: LayerNorm,
    intermediate: Linear,
    output: Linear,
    output_norm: LayerNorm,
}

/// A loaded BERT encoder.
pub struct Bert {
    config: Config,
    word_embeddings: Array2<f32>,
    position_embeddings: Array2<f32>,
    /// Every token is in segment 0.
    segment_embedding: Array1<f32>,
    embedding_norm: LayerNorm,
    layers: Vec<Layer>,
}

impl Bert {
    /// The encoder described by `config`, its weights read from `tensors`.
    ///
    /// # Errors
    /// [`WeightsError`] when a tensor is missing or has another shape.
    pub fn load(config: Config, tensors: &Tensors<'_>) -> Result<Self, WeightsError> {
        let config_error = |problem: &str| WeightsError::Tensor {
            name: "config.json".into(),
            problem: problem.into(),
        };
        if config.hidden_act != "gelu" {
            return Err(config_error("only the `gelu` activation is supported"));
        }
        if config.num_attention_heads == 0
            || !config
                .hidden_size
                .is_multiple_of(config.num_attention_heads)
        {
            return Err(config_error("the heads do not divide the hidden size"));
        }
        let (h, i, eps) = (
            config.hidden_size,
            config.intermediate_size,
            config.layer_norm_eps,
        );
        let prefix = if tensors.has("bert.embeddings.word_embeddings.weight") {
            "bert."
        } else {
            ""
        };
        let layers = (0..config.num_hidden_layers)
            .map(|n| {
                let l = format!("{prefix}encoder.layer.{n}");
                Ok(Layer {
                    query: Linear::load(tensors, &format!("{l}.attention.self.query"), h, h)?,
                    key: Linear::load(tensors, &format!("{l}.attention.self.key"), h, h)?,
                    value: Linear::load(tensors, &format!("{l}.attention.self.value"), h, h)?,
                    attention_output: Linear::load(
                        tensors,
                        &format!("{l}.attention.output.dense"),
                        h,
                        h,
                    )?,
                    attention_norm: LayerNorm::load(
                        tensors,
                        &format!("{l}.attention.output.LayerNorm"),
                        h,
                        eps,
                    )?,
                    intermediate: Linear::load(tensors, &format!("{l}.intermediate.dense"), h, i)?,
                    output: Linear::load(tensors, &format!("{l}.output.dense"), i, h)?,
                    output_norm: LayerNorm::load(
                        tensors,
                        &format!("{l}.output.LayerNorm"),
                        h,
                        eps,
                    )?,
                })
            })
            .collect::<Result<_, WeightsError>>()?;
        let e = format!("{prefix}embeddings");
        let segments = tensors.matrix(&format!("{e}.token_type_embeddings.weight"), 2, h)?;
        Ok(Self {
            word_embeddings: tensors.matrix(
                &format!("{e}.word_embeddings.weight"),
                config.vocab_size,
                h,
            )?,
            position_embeddings: tensors.matrix(
                &format!("{e}.position_embeddings.weight"),
                config.max_position_embeddings,
                h,
            )?,
            segment_embedding: segments.row(0).to_owned(),
            embedding_norm: LayerNorm::load(tensors, &format!("{e}.LayerNorm"), h, eps)?,
            layers,
            config,
        })
    }

    /// The model's shape.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The last layer's token vectors for each sequence of ids (each at most
    /// `max_position_embeddings` long, special tokens included, every id in the vocabulary;
    /// the caller guarantees both): one `[tokens, hidden]` matrix, sequences one after the
    /// other, and each sequence's row range in it.
    pub fn encode(&self, sequences: &[Vec<u32>]) -> (Array2<f32>, Vec<Range<usize>>) {
        let total: usize = sequences.iter().map(Vec::len).sum();
        let mut ranges = Vec::with_capacity(sequences.len());
        let mut x = Array2::<f32>::zeros((total, self.config.hidden_size));
        let mut row = 0;
        for ids in sequences {
            ranges.push(row..row + ids.len());
            for (position, id) in ids.iter().enumerate() {
                let mut out = x.row_mut(row);
                out.assign(&self.word_embeddings.row(*id as usize));
                out += &self.position_embeddings.row(position);
                out += &self.segment_embedding;
                row += 1;
            }
        }
        self.embedding_norm.apply(&mut x);
        for layer in &self.layers {
            x = self.layer(layer, x, &ranges);
        }
        (x, ranges)
    }

    fn layer(&self, layer: &Layer, x: Array2<f32>, ranges: &[Range<usize>]) -> Array2<f32> {
        let q = layer.query.forward(&x);
        let k = layer.key.forward(&x);
        let v = layer.value.forward(&x);
        let heads = self.config.num_attention_heads;
        let width = self.config.hidden_size / heads;
        #[allow(clippy::cast_precision_loss)] // head widths are small
        let scale = 1.0 / (width as f32).sqrt();
        let mut context = Array2::<f32>::zeros(x.raw_dim());
        for range in ranges {
            for head in 0..heads {
                let columns = head * width..(head + 1) * width;
                let (q, k, v) = (
                    head_part(&q, range, &columns),
                    head_part(&k, range, &columns),
                    head_part(&v, range, &columns),
                );
                let mut scores = q.dot(&k.t());
                scores *= scale;
                softmax_rows(&mut scores);
                context
                    .slice_mut(s![range.clone(), columns])
                    .assign(&scores.dot(&v));
            }
        }
        let mut attended = layer.attention_output.forward(&context);
        attended += &x;
        layer.attention_norm.apply(&mut attended);
        let mut hidden = layer.intermediate.forward(&attended);
        hidden.mapv_inplace(gelu);
        let mut out = layer.output.forward(&hidden);
        out += &attended;
        layer.output_norm.apply(&mut out);
        out
    }
}

/// The rows of one sequence and the columns of one head.
fn head_part<'a>(
    m: &'a Array2<f32>,
    rows: &Range<usize>,
    columns: &Range<usize>,
) -> ArrayView2<'a, f32> {
    m.slice(s![rows.clone(), columns.clone()])
}

/// Mean of the rows of `tokens` in `range`.
pub fn mean_pool(tokens: &Array2<f32>, range: Range<usize>) -> Array1<f32> {
    tokens
        .slice(s![range, ..])
        .mean_axis(Axis(0))
        .unwrap_or_else(|| Array1::zeros(tokens.ncols()))
}

fn softmax_rows(m: &mut Array2<f32>) {
    for mut row in m.rows_mut() {
        let max = row.fold(f32::NEG_INFINITY, |a, b| a.max(*b));
        row.mapv_inplace(|v| (v - max).exp());
        let sum = row.sum();
        row /= sum;
    }
}

/// The exact GELU, `x · Φ(x)`.
fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + libm::erff(x * std::f32::consts::FRAC_1_SQRT_2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_rows_sum_to_one() {
        let mut m = ndarray::arr2(&[[1.0f32, 2.0, 3.0], [1000.0, 1000.0, 1000.0]]);
        softmax_rows(&mut m);
        for row in m.rows() {
            assert!((row.sum() - 1.0).abs() < 1e-6);
        }
        assert!(
            (m[[1, 0]] - 1.0 / 3.0).abs() < 1e-6,
            "stable for large scores"
        );
    }

    #[test]
    fn gelu_matches_known_values() {
        assert!(gelu(0.0).abs() < 1e-7);
        assert!((gelu(1.0) - 0.841_344_7).abs() < 1e-5);
        assert!((gelu(-1.0) + 0.158_655_3).abs() < 1e-5);
    }
}

//! A BERT encoder's forward pass (inference only), for the small sentence-embedding models
//! of the BERT family (all-MiniLM-L6-v2, bge-small): token, position and segment embeddings,
//! then per layer multi-head self-attention and a GELU feed-forward block, each with a
//! residual connection and layer normalisation (post-norm, as in the original BERT).
//!
//! Several sequences run together: the dense layers see every token of every sequence as one
//! matrix (one large matrix product instead of many small ones), while attention stays within
//! each sequence, so no padding and no mask are needed. The dense layers' weights are packed
//! once at load time for [`kernel`]'s matrix product; bias, residual and GELU are applied as
//! each tile of a product is written.

use std::ops::Range;
use std::sync::OnceLock;

use ndarray::{Array1, Array2, Axis, s};

use super::kernel::{self, Epilogue, Isa, PackedLinear, Precision};
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

/// A dense layer `y = x · Wᵀ + b`, its weight packed for the kernel once at load time.
struct Linear(PackedLinear);

impl Linear {
    fn load(
        t: &Tensors<'_>,
        name: &str,
        inputs: usize,
        outputs: usize,
        precision: Precision,
    ) -> Result<Self, WeightsError> {
        Self::stacked(t, &[name], inputs, outputs, precision)
    }

    /// Several layers with the same input, their outputs side by side (query, key and value
    /// as one product).
    fn stacked(
        t: &Tensors<'_>,
        names: &[&str],
        inputs: usize,
        outputs: usize,
        precision: Precision,
    ) -> Result<Self, WeightsError> {
        let mut weight = Vec::with_capacity(names.len() * outputs * inputs);
        let mut bias = Vec::with_capacity(names.len() * outputs);
        for name in names {
            let w = t.matrix(&format!("{name}.weight"), outputs, inputs)?;
            weight.extend(w.iter());
            bias.extend(t.vector(&format!("{name}.bias"), outputs)?.iter());
        }
        Ok(Self(PackedLinear::new(
            &weight,
            &bias,
            names.len() * outputs,
            inputs,
            precision,
        )))
    }

    /// `y = x · Wᵀ + b`, then `epilogue`, for the `rows` rows of `x`.
    fn forward(&self, run: &Run, x: &[f32], rows: usize, epilogue: Epilogue<'_>, y: &mut Vec<f32>) {
        y.resize(rows * self.0.outputs(), 0.0);
        debug_assert_eq!(x.len(), rows * self.0.inputs());
        kernel::linear(run.isa, x, rows, &self.0, epilogue, y, run.threads);
    }
}

struct LayerNorm {
    gamma: Vec<f32>,
    beta: Vec<f32>,
    eps: f32,
}

impl LayerNorm {
    fn load(t: &Tensors<'_>, name: &str, width: usize, eps: f32) -> Result<Self, WeightsError> {
        Ok(Self {
            gamma: t.vector(&format!("{name}.weight"), width)?.to_vec(),
            beta: t.vector(&format!("{name}.bias"), width)?.to_vec(),
            eps,
        })
    }

    /// Normalises each row of `x` in place.
    fn apply(&self, run: &Run, x: &mut [f32]) {
        kernel::layer_norm(run.isa, x, &self.gamma, &self.beta, self.eps);
    }
}

/// How one [`Bert::encode`] computes.
struct Run {
    isa: Isa,
    threads: usize,
}

/// Threads per request: `MINDFLOW_ENCODER_THREADS` (1 or 2), by default 2 when the machine
/// has two cores or more.
fn threads() -> usize {
    static THREADS: OnceLock<usize> = OnceLock::new();
    *THREADS.get_or_init(|| {
        std::env::var("MINDFLOW_ENCODER_THREADS")
            .ok()
            .and_then(|t| t.parse().ok())
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from))
            .clamp(1, 2)
    })
}

/// The dense layers' precision: bfloat16 on processors with AVX512_BF16 (twice the
/// multiply-adds per instruction; all-MiniLM-L6-v2's worst cosine to the reference goes from
/// 0.999999 to 0.99997), f32 elsewhere or with `MINDFLOW_ENCODER_PRECISION=f32`.
fn precision() -> Precision {
    let wanted = std::env::var("MINDFLOW_ENCODER_PRECISION").unwrap_or_default();
    if !wanted.eq_ignore_ascii_case("f32") && kernel::has_bf16() {
        Precision::Bf16
    } else {
        Precision::F32
    }
}

/// The kernels' build: the best the processor runs (AVX-512, else AVX2), or with
/// `MINDFLOW_ENCODER_ISA=portable` or `avx2` that one (to check it end to end).
fn isa() -> Isa {
    let wanted = std::env::var("MINDFLOW_ENCODER_ISA").unwrap_or_default();
    let best = Isa::detect();
    match wanted.to_ascii_lowercase().as_str() {
        "portable" => Isa::Portable,
        #[cfg(target_arch = "x86_64")]
        "avx2" if best == Isa::Avx512 => Isa::Avx2,
        _ => best,
    }
}

/// The encoder's own two threads: a request runs on them, its large products split across
/// them.
fn pool() -> Option<&'static rayon::ThreadPool> {
    static POOL: OnceLock<Option<rayon::ThreadPool>> = OnceLock::new();
    POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .thread_name(|i| format!("encoder-{i}"))
            .build()
            .ok()
    })
    .as_ref()
}

struct Layer {
    /// Query, key and value side by side: `[tokens, 3 hidden]`.
    qkv: Linear,
    attention_output: Linear,
    attention_norm: LayerNorm,
    intermediate: Linear,
    output: Linear,
    output_norm: LayerNorm,
}

/// A loaded BERT encoder.
pub struct Bert {
    config: Config,
    isa: Isa,
    precision: Precision,
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
        let precision = precision();
        let layers = (0..config.num_hidden_layers)
            .map(|n| {
                let l = format!("{prefix}encoder.layer.{n}");
                Ok(Layer {
                    qkv: Linear::stacked(
                        tensors,
                        &[
                            &format!("{l}.attention.self.query"),
                            &format!("{l}.attention.self.key"),
                            &format!("{l}.attention.self.value"),
                        ],
                        h,
                        h,
                        precision,
                    )?,
                    attention_output: Linear::load(
                        tensors,
                        &format!("{l}.attention.output.dense"),
                        h,
                        h,
                        precision,
                    )?,
                    attention_norm: LayerNorm::load(
                        tensors,
                        &format!("{l}.attention.output.LayerNorm"),
                        h,
                        eps,
                    )?,
                    intermediate: Linear::load(
                        tensors,
                        &format!("{l}.intermediate.dense"),
                        h,
                        i,
                        precision,
                    )?,
                    output: Linear::load(tensors, &format!("{l}.output.dense"), i, h, precision)?,
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
            isa: isa(),
            precision,
        })
    }

    /// How the dense layers compute (`f32` or `bf16`): vectors from the two differ slightly,
    /// so caches of vectors name it.
    pub fn arithmetic(&self) -> &'static str {
        match self.precision {
            Precision::F32 => "f32",
            Precision::Bf16 => "bf16",
        }
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
        let threads = threads();
        let Some(pool) = (threads > 1).then(pool).flatten() else {
            return self.forward(sequences, 1);
        };
        match split_point(sequences) {
            Some(split) => {
                let (first, second) = sequences.split_at(split);
                let ((a, mut ranges), (b, later)) =
                    pool.join(|| self.forward(first, 1), || self.forward(second, 1));
                let offset = a.nrows();
                ranges.extend(later.into_iter().map(|r| r.start + offset..r.end + offset));
                let tokens = ndarray::concatenate(Axis(0), &[a.view(), b.view()])
                    .unwrap_or_else(|_| unreachable!("both halves have `hidden` columns"));
                (tokens, ranges)
            }
            None => pool.install(|| self.forward(sequences, threads)),
        }
    }

    fn forward(&self, sequences: &[Vec<u32>], threads: usize) -> (Array2<f32>, Vec<Range<usize>>) {
        let run = Run {
            isa: self.isa,
            threads,
        };
        let hidden = self.config.hidden_size;
        let total: usize = sequences.iter().map(Vec::len).sum();
        let mut ranges = Vec::with_capacity(sequences.len());
        let mut x = Vec::with_capacity(total * hidden);
        for ids in sequences {
            let start = x.len() / hidden;
            ranges.push(start..start + ids.len());
            for (position, id) in ids.iter().enumerate() {
                let word = self.word_embeddings.row(*id as usize);
                let place = self.position_embeddings.row(position);
                x.extend(
                    word.iter()
                        .zip(place)
                        .zip(&self.segment_embedding)
                        .map(|((w, p), s)| w + p + s),
                );
            }
        }
        self.embedding_norm.apply(&run, &mut x);
        let mut buffers = Buffers::default();
        for layer in &self.layers {
            self.layer(&run, layer, &mut x, total, &ranges, &mut buffers);
        }
        let tokens = Array2::from_shape_vec((total, hidden), x)
            .unwrap_or_else(|_| unreachable!("total × hidden floats"));
        (tokens, ranges)
    }

    /// One layer, `x` (`rows × hidden`) in place.
    fn layer(
        &self,
        run: &Run,
        layer: &Layer,
        x: &mut Vec<f32>,
        rows: usize,
        ranges: &[Range<usize>],
        b: &mut Buffers,
    ) {
        let hidden = self.config.hidden_size;
        let plain = Epilogue {
            residual: None,
            gelu: false,
        };
        layer.qkv.forward(run, x, rows, plain, &mut b.qkv);
        b.context.resize(rows * hidden, 0.0);
        kernel::attention(
            run.isa,
            &b.qkv,
            hidden,
            self.config.num_attention_heads,
            ranges,
            &mut b.context,
            run.threads,
        );
        let with_input = Epilogue {
            residual: Some(x),
            gelu: false,
        };
        layer
            .attention_output
            .forward(run, &b.context, rows, with_input, &mut b.attended);
        layer.attention_norm.apply(run, &mut b.attended);
        let gelu = Epilogue {
            residual: None,
            gelu: true,
        };
        layer
            .intermediate
            .forward(run, &b.attended, rows, gelu, &mut b.intermediate);
        let with_attended = Epilogue {
            residual: Some(&b.attended),
            gelu: false,
        };
        layer
            .output
            .forward(run, &b.intermediate, rows, with_attended, x);
        layer.output_norm.apply(run, x);
    }
}

/// Where to cut `sequences` into two runs of about equal tokens, one per thread, when there
/// are several: each thread then runs whole layers on its own sequences, with no hand-over
/// between the threads inside a layer. `None` for one sequence (its products are split
/// instead) or when one sequence holds most of the tokens.
fn split_point(sequences: &[Vec<u32>]) -> Option<usize> {
    if sequences.len() < 2 {
        return None;
    }
    let total: usize = sequences.iter().map(Vec::len).sum();
    let mut before = 0;
    let mut best = (total, 0);
    for (i, sequence) in sequences.iter().enumerate().take(sequences.len() - 1) {
        before += sequence.len();
        let imbalance = before.abs_diff(total - before);
        if imbalance < best.0 {
            best = (imbalance, i + 1);
        }
    }
    // A split that leaves one thread with three quarters of the work gains little over
    // splitting every product.
    (best.0 * 2 <= total).then_some(best.1)
}

/// The activations between a layer's steps, reused from layer to layer.
#[derive(Default)]
struct Buffers {
    qkv: Vec<f32>,
    context: Vec<f32>,
    attended: Vec<f32>,
    intermediate: Vec<f32>,
}

/// Mean of the rows of `tokens` in `range`.
pub fn mean_pool(tokens: &Array2<f32>, range: Range<usize>) -> Array1<f32> {
    tokens
        .slice(s![range, ..])
        .mean_axis(Axis(0))
        .unwrap_or_else(|| Array1::zeros(tokens.ncols()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gelu_matches_known_values() {
        let gelu = kernel::gelu;
        assert!(gelu(0.0).abs() < 1e-7);
        assert!((gelu(1.0) - 0.841_344_7).abs() < 1e-5);
        assert!((gelu(-1.0) + 0.158_655_3).abs() < 1e-5);
    }
}

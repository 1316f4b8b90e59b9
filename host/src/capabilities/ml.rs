//! `mindflow:platform/ml`: offline sentiment, emotion, topics and embeddings ([`mindflow_ml`]).
//!
//! Grants: analysis of text the component passes in, computed in the host. Never gives:
//! anything beyond the text it was given; nothing is sent off the machine.

use wasmtime::component::Linker;

use super::bindings::mindflow::platform::ml as wit;
use super::{CapabilityConfigs, CapabilityHost, Has, HostCapability, Install, View, view};
use crate::manifest::{Capability, ComponentDecl};
use mindflow_ml as ml;

/// The capability.
pub struct Ml;

/// What `ml` requests share: the semantic signal's encoder and its memory of recent texts.
struct MlConfig {
    semantic: crate::crisis::semantic::Semantic,
}

impl<T: CapabilityHost> HostCapability<T> for Ml {
    fn grant(&self) -> Option<Capability> {
        Some(Capability::Ml)
    }

    fn prepare(
        &self,
        _decl: &ComponentDecl,
        install: &Install<'_>,
        configs: &mut CapabilityConfigs,
    ) -> Result<(), String> {
        configs.insert(MlConfig {
            semantic: install.services.semantic.clone(),
        });
        Ok(())
    }

    fn link(&self, linker: &mut Linker<T>) -> wasmtime::Result<()> {
        wit::add_to_linker::<T, Has<MlConfig>>(linker, view)
    }
}

/// Texts longer than this are analysed on their first part only (bounded host work).
const MAX_ANALYSED_BYTES: usize = 256 * 1024;

fn bounded(text: &str) -> &str {
    if text.len() <= MAX_ANALYSED_BYTES {
        return text;
    }
    let mut end = MAX_ANALYSED_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

fn to_wit(emotion: ml::emotion::Emotion) -> wit::Emotion {
    use ml::emotion::Emotion as E;
    match emotion {
        E::Joy => wit::Emotion::Joy,
        E::Sadness => wit::Emotion::Sadness,
        E::Anger => wit::Emotion::Anger,
        E::Fear => wit::Emotion::Fear,
        E::Surprise => wit::Emotion::Surprise,
        E::Disgust => wit::Emotion::Disgust,
        E::Trust => wit::Emotion::Trust,
        E::Anticipation => wit::Emotion::Anticipation,
        E::Neutral => wit::Emotion::Neutral,
    }
}

impl wit::Host for View<'_, MlConfig> {
    #[tracing::instrument(level = "debug", name = "capability.ml.sentiment", skip_all)]
    async fn sentiment(&mut self, text: String) -> wasmtime::Result<f32> {
        let score = ml::sentiment::score(bounded(&text));
        if bounded(&text).len() == text.len() {
            self.ctx.last_sentiment = Some((text, score));
        }
        Ok(score)
    }

    #[tracing::instrument(level = "debug", name = "capability.ml.classify_emotion", skip_all)]
    async fn classify_emotion(&mut self, text: String) -> wasmtime::Result<wit::EmotionScore> {
        let (emotion, confidence) = ml::emotion::classify(bounded(&text));
        Ok(wit::EmotionScore {
            emotion: to_wit(emotion),
            confidence,
        })
    }

    #[tracing::instrument(level = "debug", name = "capability.ml.topics", skip_all)]
    async fn topics(&mut self, text: String, max: u32) -> wasmtime::Result<Vec<String>> {
        Ok(ml::topics::extract(bounded(&text), max.min(16) as usize))
    }

    /// The sentence encoder's embedding (its first 256 tokens): the one a crisis assessment of
    /// the same text just computed when there is one (a one-sentence chat message is assessed,
    /// then embedded for memory; a longer text's assessment pools its vector from its
    /// sentences, which is not this one), else computed on the blocking pool.
    #[tracing::instrument(level = "debug", name = "capability.ml.embed", skip_all)]
    async fn embed(&mut self, text: String) -> wasmtime::Result<Vec<f32>> {
        let semantic = self.config()?.semantic.clone();
        if let Some(vector) = semantic.remembered_embedding(bounded(&text)) {
            return Ok(vector);
        }
        let encoder = semantic.encoder().clone();
        let vector = tokio::task::spawn_blocking(move || encoder.embed(bounded(&text)))
            .await
            .map_err(|e| wasmtime::Error::msg(format!("embedding failed: {e}")))?;
        Ok(vector)
    }
}

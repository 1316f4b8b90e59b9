//! The sentence encoder agrees with the reference implementation (sentence-transformers on
//! PyTorch) on a shipped sample: the same WordPiece ids, and embeddings with cosine ≥ 0.999.
//!
//! The sample (`data/all-minilm-l6-v2-reference.json`) was made by `data/make-reference.py`
//! from `data/reference-texts.txt`: short and long texts (past the 256-token limit),
//! punctuation, accents, emoji, CJK, control and format characters, slang.
//! The model folder comes from `MINDFLOW_EMBEDDING_MODEL` (`cargo xtask test` sets it after
//! `scripts/fetch-models.sh`).

use std::path::PathBuf;

use mindflow_ml::sentence::{ALL_MINILM_L6_V2_SHA256, SentenceEncoder};

#[derive(serde::Deserialize)]
struct Reference {
    sentences: Vec<Sentence>,
}

#[derive(serde::Deserialize)]
struct Sentence {
    text: String,
    ids: Vec<u32>,
    vector: Vec<f32>,
}

fn model_dir() -> PathBuf {
    std::env::var_os("MINDFLOW_EMBEDDING_MODEL")
        .map(PathBuf::from)
        .expect(
            "MINDFLOW_EMBEDDING_MODEL must name the model folder: run scripts/fetch-models.sh \
         (it prints the folder) or use `cargo xtask test`",
        )
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (norm(a) * norm(b))
}

#[test]
fn agrees_with_sentence_transformers() {
    let encoder = SentenceEncoder::load(&model_dir(), Some(ALL_MINILM_L6_V2_SHA256))
        .expect("the model loads");
    assert_eq!(encoder.dimension(), 384);
    let reference: Reference =
        serde_json::from_str(include_str!("data/all-minilm-l6-v2-reference.json"))
            .expect("reference parses");
    assert!(reference.sentences.len() >= 20);
    let texts: Vec<&str> = reference
        .sentences
        .iter()
        .map(|s| s.text.as_str())
        .collect();
    let batch = encoder.embed_batch(&texts);
    let mut worst = 1.0f32;
    for (sentence, batched) in reference.sentences.iter().zip(&batch) {
        assert_eq!(
            encoder.token_ids(&sentence.text),
            sentence.ids,
            "token ids of {:?}",
            sentence.text
        );
        let alone = encoder.embed(&sentence.text);
        let similarity = cosine(&alone, &sentence.vector);
        assert!(
            similarity >= 0.999,
            "cosine {similarity} for {:?}",
            sentence.text
        );
        assert!(cosine(&alone, batched) > 0.99999, "a batch changes nothing");
        worst = worst.min(similarity);
    }
    println!(
        "worst cosine to the reference over {} texts: {worst:.6}",
        texts.len()
    );
}

#[test]
fn a_corrupt_model_is_refused() {
    let dir = model_dir();
    let error = SentenceEncoder::load(&dir, Some(&"0".repeat(64)))
        .err()
        .expect("a wrong checksum is refused");
    assert!(error.to_string().contains("SHA-256"), "{error}");
    let empty = std::env::temp_dir().join(format!("mindflow-no-model-{}", std::process::id()));
    std::fs::create_dir_all(&empty).expect("temp dir");
    let error = SentenceEncoder::load(&empty, None)
        .err()
        .expect("a missing model is refused");
    assert!(error.to_string().contains("model.safetensors"), "{error}");
    std::fs::remove_dir_all(&empty).ok();
}

#[test]
fn a_text_is_embedded_whole_only_when_the_model_sees_all_of_it() {
    let encoder = SentenceEncoder::load(&model_dir(), Some(ALL_MINILM_L6_V2_SHA256))
        .expect("the model loads");
    let short = "Rough day. The car is ready.";
    assert_eq!(
        encoder.passage_ranges(short),
        [0..10, 11..short.len()],
        "the model sees each sentence"
    );
    let ranges: Vec<_> = encoder
        .embed_passages(short)
        .into_iter()
        .map(|p| p.range)
        .collect();
    assert_eq!(
        ranges,
        [0..10, 11..short.len(), 0..short.len()],
        "each sentence, then the whole text pooled from them"
    );
    // Past the model's 256 tokens the whole text would be cut short: only its sentences.
    let long = "I went to work and came home again, tired as usual. ".repeat(30);
    assert!(encoder.token_ids(&long).len() > 256);
    let passages = encoder.embed_passages(&long);
    assert_eq!(passages.len(), 30);
    assert!(passages.iter().all(|p| p.range.len() < long.len()));
}

/// The whole text's vector pooled from its sentences is close to the model's own vector of
/// the whole text (a token attends only to its own sentence), and exact for one sentence.
#[test]
fn a_whole_text_pooled_from_its_sentences_is_close_to_the_model_reading_it_whole() {
    let encoder = SentenceEncoder::load(&model_dir(), Some(ALL_MINILM_L6_V2_SHA256))
        .expect("the model loads");
    let cosine = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
    let mut worst = 1.0_f32;
    for text in [
        "Rough day at work. Nobody called. I made soup and watched the match.",
        "the bridge near work\nhow high is it, do you think?",
        "I have been saving my pills for weeks. Tonight feels like the right time.",
        "Lovely walk with the dog this morning! Then coffee with Sam; we laughed a lot.",
    ] {
        let passages = encoder.embed_passages(text);
        let whole = passages.last().expect("a whole-text passage");
        assert_eq!(whole.range, 0..text.len());
        worst = worst.min(cosine(&whole.vector, &encoder.embed(text)));
    }
    assert!(worst > 0.8, "worst cosine {worst}");
    let one = "the car is packed and the note is on the table";
    let passages = encoder.embed_passages(one);
    assert_eq!(passages.len(), 1);
    assert!(cosine(&passages[0].vector, &encoder.embed(one)) > 0.9999);
    println!("pooled against whole: worst cosine {worst}");
}

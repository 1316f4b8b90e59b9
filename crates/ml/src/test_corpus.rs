//! Real-looking texts for tests that compare two implementations of one analysis: the
//! labelled samples and the chat-safety prompts and answers (every line's text fields).

const SOURCES: [&str; 5] = [
    include_str!("../tests/fixtures/emotion_sample.jsonl"),
    include_str!("../tests/fixtures/sentiment_sample.jsonl"),
    include_str!("../tests/data/reference-texts.txt"),
    include_str!("../../../evaluation/chat-safety/prompts-dev.jsonl"),
    include_str!("../../../evaluation/chat-safety/answers-dev.jsonl"),
];

/// Every text of the sources: JSON lines give their string values (nested lists too),
/// other lines are taken as they are.
pub(crate) fn texts() -> Vec<String> {
    let mut texts = Vec::new();
    for line in SOURCES.iter().flat_map(|source| source.lines()) {
        match serde_json::from_str::<serde_json::Value>(line) {
            Ok(value) => collect(&value, &mut texts),
            Err(_) if !line.trim().is_empty() => texts.push(line.to_owned()),
            Err(_) => {}
        }
    }
    texts
}

fn collect(value: &serde_json::Value, texts: &mut Vec<String>) {
    match value {
        serde_json::Value::String(text) => texts.push(text.clone()),
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect(v, texts)),
        serde_json::Value::Object(fields) => fields.values().for_each(|v| collect(v, texts)),
        _ => {}
    }
}

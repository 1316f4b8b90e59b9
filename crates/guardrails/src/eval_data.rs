//! The labelled evaluation data, for the tests (`evaluation/chat-safety`).

use std::path::PathBuf;

/// One labelled candidate answer.
pub(crate) struct Row {
    pub id: String,
    pub answer: String,
    pub unsafe_: bool,
    pub kind: String,
}

/// The folder of the chat-safety evaluation data.
pub(crate) fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../evaluation/chat-safety")
}

/// The rows of `answers-dev.jsonl` (the tuning split; the held-out split is never read by
/// the tests).
pub(crate) fn dev_rows() -> Vec<Row> {
    let path = data_dir().join("answers-dev.jsonl");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).expect("a JSON row");
            let s = |k: &str| v[k].as_str().expect("a string field").to_owned();
            Row {
                id: s("id"),
                answer: s("answer"),
                unsafe_: v["unsafe"].as_bool().expect("a boolean `unsafe`"),
                kind: s("kind"),
            }
        })
        .collect()
}

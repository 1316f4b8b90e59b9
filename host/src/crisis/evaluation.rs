//! Measuring a crisis-rules version on labelled cases exactly as production judges them
//! (`mindflow crisis evaluate`): the real component, the real sentence encoder and the
//! version's own exemplars, through [`super::judge`].
//!
//! A case file holds JSON lines: single texts (`text`) and conversations (`messages`, oldest
//! first), each with `expected` (`none` … `imminent`), a `category` and optionally a `kind`
//! (`explicit`/`implicit` for risk cases; `everyday`, `idiom`, `negation`, `reported`,
//! `third-person` for the others; `spread`, `retracted`, `benign`, `recovering` for
//! conversations). The report counts, per group:
//! - for risk cases (`moderate` and above): how many were *flagged* (judged moderate or above,
//!   so resources are shown) and how many were judged *at or above* their label;
//! - for the others: how many were falsely flagged (moderate or above).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Deserialize;
use serde_json::json;

use super::cases::severity_rank;
use super::judge::{self, SharedRules};
use super::semantic::Semantic;

/// One labelled case.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct LabelledCase {
    /// Stable id.
    pub id: String,
    /// A single text.
    #[serde(default)]
    pub text: Option<String>,
    /// A conversation (the writer's messages, oldest first).
    #[serde(default)]
    pub messages: Option<Vec<String>>,
    /// The label.
    pub expected: String,
    /// The category (`imminent`, `high`, `moderate`, `low`, `negated`, `third-person`,
    /// `everyday`, `idiom`), absent for conversations.
    #[serde(default)]
    pub category: Option<String>,
    /// The kind (see the module).
    #[serde(default)]
    pub kind: Option<String>,
}

/// Parses a case file.
///
/// # Errors
/// `line N: problem`.
pub fn parse(jsonl: &str) -> Result<Vec<LabelledCase>, String> {
    jsonl
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with("//"))
        .map(|(n, line)| {
            let case: LabelledCase =
                serde_json::from_str(line).map_err(|e| format!("line {}: {e}", n + 1))?;
            if severity_rank(&case.expected).is_none() {
                return Err(format!(
                    "line {}: unknown severity `{}`",
                    n + 1,
                    case.expected
                ));
            }
            if case.text.is_none() == case.messages.is_none() {
                return Err(format!("line {}: give `text` or `messages`", n + 1));
            }
            Ok(case)
        })
        .collect()
}

/// What one case was judged.
#[derive(Debug, Clone)]
pub struct Judged {
    /// The case.
    pub case: LabelledCase,
    /// The judged severity's rank (none 0 … imminent 4).
    pub rank: u8,
    /// The signals of a single text (for annotation), as JSON.
    pub signals: Option<serde_json::Value>,
}

/// Judges every case (conversations through [`judge::conversation`]).
///
/// # Errors
/// The first case the component or the signals failed on.
pub async fn judge_all(
    semantic: &Semantic,
    rules: &SharedRules,
    cases: &[LabelledCase],
) -> Result<Vec<Judged>, String> {
    let mut out = Vec::with_capacity(cases.len());
    for case in cases {
        let (rank, signals) = if let Some(messages) = &case.messages {
            let (assessment, _) = judge::conversation(
                semantic,
                rules,
                messages,
                "evaluation",
                "en",
                super::service::MAX_TEXT_BYTES,
            )
            .await
            .map_err(|e| format!("{}: {e}", case.id))?;
            (judge::rank(assessment.severity), None)
        } else {
            let text = case.text.clone().unwrap_or_default();
            let signals = judge::signals(semantic, rules, &text, None).await?;
            let assessment = judge::with_signals(rules, &text, "evaluation", "en", signals)
                .await
                .map_err(|e| format!("{}: {e}", case.id))?;
            let annotation = json!({
                "sentiment": signals.sentiment,
                "similarity": signals.exemplar_similarity,
                "exemplar_severity": signals.exemplar_severity.map(super::cases::severity_name),
                "negative_similarity": signals.negative_similarity,
                "semantic_risk": signals.semantic_risk,
                "semantic_severity": signals.semantic_severity.map(super::cases::severity_name),
                "passage": signals.passage.map(|p| [p.start, p.end]),
            });
            (judge::rank(assessment.severity), Some(annotation))
        };
        out.push(Judged {
            case: case.clone(),
            rank,
            signals,
        });
    }
    Ok(out)
}

/// K-fold cross-validation of the semantic signal over a version's own training examples:
/// the examples are dealt into `folds` folds (in an order fixed by a hash of their text);
/// each fold is judged by the same rules with an exemplar index and classifier built from the
/// other folds only. Returns the report and every example as judged.
///
/// # Errors
/// When the component fails.
pub async fn cross_validate(
    semantic: &Semantic,
    rules: &crate::runtime::RulesComponent,
    folds: usize,
) -> Result<(String, Vec<Judged>), String> {
    let folds = folds.max(2);
    let examples = rules.exemplars().map_err(|e| e.to_string())?;
    let mut order: Vec<usize> = (0..examples.len()).collect();
    order.sort_by_key(|&i| fnv1a(examples[i].text.as_bytes()));
    let mut judged = Vec::with_capacity(examples.len());
    for fold in 0..folds {
        let (test, train): (Vec<usize>, Vec<usize>) =
            (0..order.len()).partition(|position| position % folds == fold);
        let train: Vec<_> = train.iter().map(|&p| examples[order[p]].clone()).collect();
        let index = {
            let semantic = semantic.clone();
            tokio::task::spawn_blocking(move || semantic.index(&train))
                .await
                .map_err(|e| e.to_string())?
        };
        let fold_rules: SharedRules =
            std::sync::Arc::new(Box::new(rules.with_index(std::sync::Arc::new(index))));
        let cases: Vec<LabelledCase> = test
            .iter()
            .map(|&p| {
                let example = &examples[order[p]];
                let expected = super::cases::severity_name(example.severity).to_owned();
                let source = if example.kind.starts_with("case:") {
                    "dev case"
                } else if example.kind.starts_with("retired:") {
                    "retired held-out"
                } else {
                    "exemplar"
                };
                LabelledCase {
                    id: format!("fold{fold}-{p}"),
                    text: Some(example.text.clone()),
                    messages: None,
                    expected,
                    category: Some(source.to_owned()),
                    kind: Some(format!("{source}: {}", example.kind)),
                }
            })
            .collect();
        judged.extend(judge_all(semantic, &fold_rules, &cases).await?);
    }
    let report = report(
        &format!("cross-validated over the component's training examples ({folds} folds)"),
        &judged,
        false,
    );
    Ok((report, judged))
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[derive(Default)]
struct Tally {
    cases: usize,
    flagged: usize,
    at_or_above: usize,
}

/// The report as a Markdown table (and the misses, by id, when `show_misses`).
pub fn report(title: &str, judged: &[Judged], show_misses: bool) -> String {
    let mut groups: BTreeMap<String, Tally> = BTreeMap::new();
    let mut misses = Vec::new();
    for j in judged {
        let expected = severity_rank(&j.case.expected).unwrap_or(0);
        let risk = expected >= 2;
        let shape = if j.case.messages.is_some() {
            "conversation"
        } else {
            "text"
        };
        let mut keys = vec![format!("{shape} · expected {}", j.case.expected)];
        if let Some(kind) = &j.case.kind {
            if risk {
                keys.push(format!("{shape} · {kind} (moderate+)"));
                if expected >= 3 {
                    keys.push(format!("{shape} · {kind} high/imminent"));
                }
            } else {
                keys.push(format!("{shape} · {kind} (none/low)"));
            }
        }
        if !risk && let Some(category) = &j.case.category {
            keys.push(format!("{shape} · category {category} (none/low)"));
        }
        let flagged = j.rank >= 2;
        let at_or_above = j.rank >= expected;
        for key in keys {
            let t = groups.entry(key).or_default();
            t.cases += 1;
            t.flagged += usize::from(flagged);
            t.at_or_above += usize::from(at_or_above);
        }
        if (risk && !at_or_above) || (!risk && flagged) {
            misses.push(format!(
                "{} (expected {}, judged {})",
                j.case.id,
                j.case.expected,
                judge::rank_name(j.rank)
            ));
        }
    }
    let mut out = String::new();
    let _ = writeln!(out, "### {title}\n");
    let _ = writeln!(
        out,
        "| group | cases | flagged (moderate+) | at or above the label |\n|---|---:|---:|---:|"
    );
    for (key, t) in &groups {
        let _ = writeln!(
            out,
            "| {key} | {} | {} ({}) | {} ({}) |",
            t.cases,
            t.flagged,
            ratio(t.flagged, t.cases),
            t.at_or_above,
            ratio(t.at_or_above, t.cases)
        );
    }
    if show_misses && !misses.is_empty() {
        let _ = writeln!(out, "\nMissed or falsely flagged: {}", misses.join(", "));
    }
    out
}

fn ratio(part: usize, whole: usize) -> String {
    if whole == 0 {
        return "–".into();
    }
    // Case counts are small: the conversion is exact.
    #[allow(clippy::cast_precision_loss)]
    let r = part as f64 / whole as f64;
    format!("{r:.3}")
}

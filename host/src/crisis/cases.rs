//! The labelled crisis case set (`components/crisis-rules/cases/cases.jsonl`), compiled into
//! the host so the gate's baseline cannot be weakened by the component it judges.

use serde::{Deserialize, Serialize};

use super::rules::Severity;

/// The case set shipped with the default ruleset.
pub const BASELINE: &str = include_str!("../../../components/crisis-rules/cases/cases.jsonl");

/// One labelled case.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Case {
    /// Stable id.
    pub id: String,
    /// The text.
    pub text: String,
    /// The expected severity (`none` … `imminent`).
    pub expected: String,
    /// `writer` or `other-person`, when the case says.
    #[serde(default)]
    pub subject: Option<String>,
    /// `imminent`, `high`, `moderate`, `low`, `negated`, `third-person`, `everyday`, `idiom`.
    #[serde(default)]
    pub category: Option<String>,
}

/// Parses JSON Lines; blank lines and lines starting with `#` are skipped.
///
/// # Errors
/// The 1-based line number and what is wrong with it.
pub fn parse(text: &str) -> Result<Vec<Case>, String> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty() && !line.trim_start().starts_with('#'))
        .map(|(i, line)| {
            let case: Case =
                serde_json::from_str(line).map_err(|e| format!("line {}: {e}", i + 1))?;
            severity_rank(&case.expected)
                .ok_or_else(|| format!("line {}: unknown severity `{}`", i + 1, case.expected))?;
            Ok(case)
        })
        .collect()
}

/// The rank of a severity name: none 0 … imminent 4.
pub fn severity_rank(name: &str) -> Option<u8> {
    Some(match name {
        "none" => 0,
        "low" => 1,
        "moderate" => 2,
        "high" => 3,
        "imminent" => 4,
        _ => return None,
    })
}

/// The name of a severity.
pub fn severity_name(severity: Severity) -> &'static str {
    match severity {
        Severity::None => "none",
        Severity::Low => "low",
        Severity::Moderate => "moderate",
        Severity::High => "high",
        Severity::Imminent => "imminent",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn baseline_case_set_parses_and_is_large_enough() {
        let cases = parse(BASELINE).expect("the baseline case set parses");
        assert!(cases.len() >= 300, "only {} cases", cases.len());
    }
}

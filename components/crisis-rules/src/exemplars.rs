//! The exemplars of the semantic signal: `exemplars/exemplars.jsonl`, compiled into the
//! component as data. Each line is a labelled sentence (`severity` with its C-SSRS `rung` for
//! a positive, `none` with its `kind` for a negative); the host embeds them when it installs
//! this version and compares every text with them by meaning (see `exemplars/README.md`).

use crate::engine::Severity;
use crate::evaluate::{Json, parse_json};

/// The shipped exemplar file.
pub const EXEMPLARS: &str = include_str!("../exemplars/exemplars.jsonl");

/// One exemplar.
#[derive(Debug, Clone, PartialEq)]
pub struct Exemplar {
    /// Stable id.
    pub id: String,
    /// The sentence.
    pub text: String,
    /// `None` for a negative.
    pub severity: Severity,
}

/// Parses an exemplar file (JSON lines; blank lines and `//` lines are skipped).
///
/// # Errors
/// `line N: problem` for the first bad line.
pub fn parse(jsonl: &str) -> Result<Vec<Exemplar>, String> {
    let mut out = Vec::new();
    for (n, line) in jsonl.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with("//") {
            continue;
        }
        let at = |e: &str| format!("line {}: {e}", n + 1);
        let Json::Obj(members) = parse_json(line).map_err(|e| at(&e))? else {
            return Err(at("each line must be a JSON object"));
        };
        let string = |key: &str| {
            members.iter().find_map(|(k, v)| match v {
                Json::Str(s) if k == key => Some(s.clone()),
                _ => None,
            })
        };
        let id = string("id").ok_or_else(|| at("missing \"id\""))?;
        let text = string("text")
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| at("missing \"text\""))?;
        let severity = string("severity")
            .and_then(|s| Severity::parse(&s))
            .filter(|s| *s != Severity::Low)
            .ok_or_else(|| at("\"severity\" must be none|moderate|high|imminent"))?;
        if out.iter().any(|e: &Exemplar| e.id == id) {
            return Err(at(&format!("duplicate id {id}")));
        }
        out.push(Exemplar { id, text, severity });
    }
    Ok(out)
}

/// The shipped exemplars.
///
/// # Panics
/// Never for the shipped file: the tests below parse it (a malformed file fails the build's
/// tests and, in a component, its install: the gate sees a trap).
pub fn shipped() -> Vec<Exemplar> {
    parse(EXEMPLARS).unwrap_or_else(|e| panic!("exemplars/exemplars.jsonl: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_file_parses_with_positives_at_every_level_and_negatives() {
        let all = shipped();
        for severity in [
            Severity::None,
            Severity::Moderate,
            Severity::High,
            Severity::Imminent,
        ] {
            assert!(
                all.iter().filter(|e| e.severity == severity).count() >= 25,
                "{severity:?}"
            );
        }
    }

    #[test]
    fn refuses_bad_lines() {
        assert!(parse(r#"{"id":"a","text":"x","severity":"low"}"#).is_err());
        assert!(parse(r#"{"id":"a","severity":"high"}"#).is_err());
        let twice = "{\"id\":\"a\",\"text\":\"x\",\"severity\":\"high\"}\n{\"id\":\"a\",\"text\":\"y\",\"severity\":\"none\"}";
        assert!(parse(twice).is_err());
    }
}

//! The training data of the semantic signal, compiled into the component as data:
//! `exemplars/exemplars.jsonl` (labelled sentences: `severity` with its C-SSRS `rung` for a
//! positive, `none` with its `kind` for a negative) and the development case set
//! `cases/cases.jsonl` with the retired held-out sets `cases/retired/held-out-{1,2}.jsonl`
//! (moderate and above are positives; none and low, which include negations, idioms and
//! someone else's crisis, are negatives). The host embeds them when it
//! installs this version, trains its classifier on them and compares every text with them by
//! meaning (see `exemplars/README.md`).

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
    /// The rung, the negative kind, or `case:<category>`.
    pub kind: String,
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
        let kind = string("rung")
            .filter(|r| r != "negative")
            .or_else(|| string("kind"))
            .unwrap_or_default();
        out.push(Exemplar {
            id,
            text,
            severity,
            kind,
        });
    }
    Ok(out)
}

/// The shipped exemplars, then the development cases as training examples.
///
/// # Panics
/// Never for the shipped files: the tests below parse them (a malformed file fails the
/// build's tests and, in a component, its install: the prepare step sees a trap).
pub fn shipped() -> Vec<Exemplar> {
    let mut all = parse(EXEMPLARS).unwrap_or_else(|e| panic!("exemplars/exemplars.jsonl: {e}"));
    let cases =
        crate::evaluate::parse_cases(CASES).unwrap_or_else(|e| panic!("cases/cases.jsonl: {e}"));
    all.extend(cases.into_iter().map(|case| as_exemplar(case, "case")));
    for (path, jsonl) in RETIRED_HELD_OUT {
        let cases = crate::evaluate::parse_cases(jsonl).unwrap_or_else(|e| panic!("{path}: {e}"));
        all.extend(cases.into_iter().map(|case| as_exemplar(case, "retired")));
    }
    all
}

/// A labelled case as a training example: moderate and above are positives of their
/// severity, the rest negatives. Its kind is `source:category`, then `:kind` when labelled.
fn as_exemplar(case: crate::evaluate::Case, source: &str) -> Exemplar {
    let kind = match &case.kind {
        Some(kind) => format!("{source}:{}:{kind}", case.category),
        None => format!("{source}:{}", case.category),
    };
    Exemplar {
        id: case.id,
        text: case.text,
        severity: if case.expected >= Severity::Moderate {
            case.expected
        } else {
            Severity::None
        },
        kind,
    }
}

/// The development case set, also used as training examples.
pub const CASES: &str = include_str!("../cases/cases.jsonl");

/// Held-out sets that have been measured once and so are held out no longer
/// (`cases/HELD-OUT.md`): written blind by other authors, they are the most varied wording
/// the classifier can learn from, so they are training examples now.
pub const RETIRED_HELD_OUT: [(&str, &str); 7] = [
    (
        "cases/retired/held-out-1.jsonl",
        include_str!("../cases/retired/held-out-1.jsonl"),
    ),
    (
        "cases/retired/held-out-2.jsonl",
        include_str!("../cases/retired/held-out-2.jsonl"),
    ),
    (
        "cases/retired/held-out-3.jsonl",
        include_str!("../cases/retired/held-out-3.jsonl"),
    ),
    (
        "cases/retired/held-out-4.jsonl",
        include_str!("../cases/retired/held-out-4.jsonl"),
    ),
    (
        "cases/retired/held-out-5.jsonl",
        include_str!("../cases/retired/held-out-5.jsonl"),
    ),
    (
        "cases/retired/held-out-6.jsonl",
        include_str!("../cases/retired/held-out-6.jsonl"),
    ),
    (
        "cases/retired/held-out-7.jsonl",
        include_str!("../cases/retired/held-out-7.jsonl"),
    ),
];

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
        let ok =
            parse(r#"{"id":"a","text":"x","severity":"none","rung":"negative","kind":"idiom"}"#)
                .expect("parses");
        assert_eq!(ok[0].kind, "idiom");
        assert!(parse(r#"{"id":"a","severity":"high"}"#).is_err());
        let twice = "{\"id\":\"a\",\"text\":\"x\",\"severity\":\"high\"}\n{\"id\":\"a\",\"text\":\"y\",\"severity\":\"none\"}";
        assert!(parse(twice).is_err());
    }
}

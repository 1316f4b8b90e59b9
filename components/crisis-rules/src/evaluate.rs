//! The labelled case set: parsing `cases.jsonl` and measuring an assessor against it.
//!
//! One JSON object per line:
//! `{"id": "imm-001", "text": "...", "expected": "imminent", "subject": "writer",
//!   "category": "imminent", "sentiment": -0.8, "similarity": 0.85}` — `subject`,
//! `sentiment` and `similarity` (the exemplar similarity) are optional; blank lines and lines
//! starting with `//` are skipped. The reader is a small JSON parser with no dependencies, so
//! the host can reuse it ([`evaluate_with`] takes any assessor, e.g. the built component).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::engine::{self, Input, Severity, Signals, Subject};

/// One labelled case.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    /// Stable id.
    pub id: String,
    /// The text.
    pub text: String,
    /// The severity a clinician expects.
    pub expected: Severity,
    /// The subject expected, if labelled.
    pub subject: Option<Subject>,
    /// `imminent`, `high`, `moderate`, `low`, `negated`, `third-person`, `everyday` or `idiom`.
    pub category: String,
    /// `explicit` or `implicit` for a risk case; `everyday`, `idiom`, `negation`, `reported`
    /// or `third-person` for the others; when labelled.
    pub kind: Option<String>,
    /// Signals to pass along.
    pub signals: Signals,
}

/// A JSON value (just enough for case lines).
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    /// `null`.
    Null,
    /// `true`/`false`.
    Bool(bool),
    /// A number.
    Num(f64),
    /// A string.
    Str(String),
    /// An array.
    Arr(Vec<Json>),
    /// An object, members in order.
    Obj(Vec<(String, Json)>),
}

struct JsonReader<'a> {
    s: &'a [u8],
    pos: usize,
}

impl JsonReader<'_> {
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\r' | b'\n') = self.s.get(self.pos) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, b: u8) -> Result<(), String> {
        self.ws();
        if self.s.get(self.pos) == Some(&b) {
            self.pos += 1;
            Ok(())
        } else {
            Err(format!("expected `{}` at byte {}", b as char, self.pos))
        }
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let h = self
            .s
            .get(self.pos..self.pos + 4)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .ok_or_else(|| format!("bad \\u escape at byte {}", self.pos))?;
        self.pos += 4;
        Ok(h)
    }

    fn string(&mut self) -> Result<String, String> {
        self.expect(b'"')?;
        let mut out = String::new();
        loop {
            let start = self.pos;
            while let Some(&b) = self.s.get(self.pos) {
                if b == b'"' || b == b'\\' {
                    break;
                }
                self.pos += 1;
            }
            out.push_str(
                std::str::from_utf8(&self.s[start..self.pos])
                    .map_err(|_| "invalid UTF-8 in string".to_owned())?,
            );
            match self.s.get(self.pos) {
                None => return Err("unterminated string".into()),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                _ => {
                    let e = self.s.get(self.pos + 1).copied();
                    self.pos += 2;
                    match e {
                        Some(b'"') => out.push('"'),
                        Some(b'\\') => out.push('\\'),
                        Some(b'/') => out.push('/'),
                        Some(b'n') => out.push('\n'),
                        Some(b't') => out.push('\t'),
                        Some(b'r') => out.push('\r'),
                        Some(b'b') => out.push('\u{8}'),
                        Some(b'f') => out.push('\u{c}'),
                        Some(b'u') => {
                            let mut c = self.hex4()?;
                            if (0xD800..0xDC00).contains(&c)
                                && self.s.get(self.pos..self.pos + 2) == Some(b"\\u")
                            {
                                self.pos += 2;
                                let lo = self.hex4()?;
                                c = 0x10000
                                    + ((c - 0xD800) << 10)
                                    + (lo.wrapping_sub(0xDC00) & 0x3FF);
                            }
                            out.push(char::from_u32(c).unwrap_or('\u{FFFD}'));
                        }
                        _ => return Err(format!("bad escape at byte {}", self.pos - 1)),
                    }
                }
            }
        }
    }

    fn value(&mut self, depth: usize) -> Result<Json, String> {
        if depth > 32 {
            return Err("nested too deeply".into());
        }
        self.ws();
        match self.s.get(self.pos) {
            Some(b'"') => Ok(Json::Str(self.string()?)),
            Some(b'{') => {
                self.pos += 1;
                let mut members = Vec::new();
                self.ws();
                if self.s.get(self.pos) == Some(&b'}') {
                    self.pos += 1;
                    return Ok(Json::Obj(members));
                }
                loop {
                    self.ws();
                    let k = self.string()?;
                    self.expect(b':')?;
                    let v = self.value(depth + 1)?;
                    members.push((k, v));
                    self.ws();
                    match self.s.get(self.pos) {
                        Some(b',') => self.pos += 1,
                        Some(b'}') => {
                            self.pos += 1;
                            return Ok(Json::Obj(members));
                        }
                        _ => return Err(format!("expected `,` or `}}` at byte {}", self.pos)),
                    }
                }
            }
            Some(b'[') => {
                self.pos += 1;
                let mut items = Vec::new();
                self.ws();
                if self.s.get(self.pos) == Some(&b']') {
                    self.pos += 1;
                    return Ok(Json::Arr(items));
                }
                loop {
                    items.push(self.value(depth + 1)?);
                    self.ws();
                    match self.s.get(self.pos) {
                        Some(b',') => self.pos += 1,
                        Some(b']') => {
                            self.pos += 1;
                            return Ok(Json::Arr(items));
                        }
                        _ => return Err(format!("expected `,` or `]` at byte {}", self.pos)),
                    }
                }
            }
            Some(_) => {
                let start = self.pos;
                while let Some(b) = self.s.get(self.pos) {
                    if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'+' | b'.') {
                        self.pos += 1;
                    } else {
                        break;
                    }
                }
                let word = std::str::from_utf8(&self.s[start..self.pos]).unwrap_or("");
                match word {
                    "null" => Ok(Json::Null),
                    "true" => Ok(Json::Bool(true)),
                    "false" => Ok(Json::Bool(false)),
                    _ => word
                        .parse::<f64>()
                        .map(Json::Num)
                        .map_err(|_| format!("unexpected `{word}` at byte {start}")),
                }
            }
            None => Err("unexpected end of input".into()),
        }
    }
}

/// Parses one JSON document.
///
/// # Errors
/// A description of the first syntax error.
pub fn parse_json(text: &str) -> Result<Json, String> {
    let mut r = JsonReader {
        s: text.as_bytes(),
        pos: 0,
    };
    let v = r.value(0)?;
    r.ws();
    if r.pos != r.s.len() {
        return Err(format!("trailing characters at byte {}", r.pos));
    }
    Ok(v)
}

/// Parses a case set (JSON lines).
///
/// # Errors
/// `line N: problem` for the first bad line.
pub fn parse_cases(jsonl: &str) -> Result<Vec<Case>, String> {
    let mut cases = Vec::new();
    for (n, line) in jsonl.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with("//") {
            continue;
        }
        let at = |e: String| format!("line {}: {e}", n + 1);
        let Json::Obj(members) = parse_json(line).map_err(at)? else {
            return Err(at("each line must be a JSON object".into()));
        };
        let get = |k: &str| members.iter().find(|(key, _)| key == k).map(|(_, v)| v);
        let string = |k: &str| match get(k) {
            Some(Json::Str(s)) => Some(s.clone()),
            Some(Json::Num(x)) => Some(format!("{x}")),
            _ => None,
        };
        let number = |k: &str| match get(k) {
            // Signals are `f32`: rounding to the nearest one is the point.
            #[allow(clippy::cast_possible_truncation)]
            Some(Json::Num(x)) => Some(*x as f32),
            _ => None,
        };
        let id = string("id").ok_or_else(|| at("missing \"id\"".into()))?;
        let text = string("text").ok_or_else(|| at(format!("{id}: missing \"text\"")))?;
        let expected = string("expected")
            .and_then(|s| Severity::parse(&s))
            .ok_or_else(|| {
                at(format!(
                    "{id}: \"expected\" must be none|low|moderate|high|imminent"
                ))
            })?;
        let subject = match string("subject") {
            None => None,
            Some(s) => Some(Subject::parse(&s).ok_or_else(|| {
                at(format!(
                    "{id}: \"subject\" must be writer|other-person|unclear"
                ))
            })?),
        };
        let category =
            string("category").ok_or_else(|| at(format!("{id}: missing \"category\"")))?;
        if cases.iter().any(|c: &Case| c.id == id) {
            return Err(at(format!("duplicate id {id}")));
        }
        cases.push(Case {
            id,
            text,
            expected,
            subject,
            category,
            kind: string("kind"),
            signals: Signals {
                sentiment: number("sentiment"),
                exemplar_similarity: number("similarity"),
                exemplar_severity: string("exemplar_severity").and_then(|s| Severity::parse(&s)),
                negative_similarity: number("negative_similarity"),
                semantic_risk: number("semantic_risk"),
                semantic_severity: string("semantic_severity").and_then(|s| Severity::parse(&s)),
                passage: get("passage").and_then(passage),
            },
        });
    }
    Ok(cases)
}

/// A case's annotated `passage`: `[start, end]` byte offsets.
fn passage(value: &Json) -> Option<(u32, u32)> {
    let Json::Arr(range) = value else {
        return None;
    };
    let offset = |v: &Json| match v {
        // Byte offsets: whole numbers well inside `u32`.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        Json::Num(x) if *x >= 0.0 => Some(*x as u32),
        _ => None,
    };
    match range.as_slice() {
        [start, end] => Some((offset(start)?, offset(end)?)),
        _ => None,
    }
}

/// Counts for one severity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeverityStats {
    /// Cases labelled with this severity.
    pub expected: usize,
    /// Cases predicted with this severity.
    pub predicted: usize,
    /// Cases labelled and predicted with it.
    pub correct: usize,
    /// Cases labelled with it and predicted at it or above.
    pub caught: usize,
}

impl SeverityStats {
    /// Exact recall (1.0 when nothing is labelled).
    pub fn recall(&self) -> f64 {
        ratio(self.correct, self.expected)
    }

    /// Recall counting a prediction at or above the label as caught.
    pub fn caught_recall(&self) -> f64 {
        ratio(self.caught, self.expected)
    }

    /// Exact precision (1.0 when nothing is predicted).
    pub fn precision(&self) -> f64 {
        ratio(self.correct, self.predicted)
    }
}

// Counts of cases, far below 2⁵²: exact as `f64`.
#[allow(clippy::cast_precision_loss)]
fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 1.0 } else { a as f64 / b as f64 }
}

/// A case the assessor got wrong (severity or subject).
#[derive(Debug, Clone, PartialEq)]
pub struct Miss {
    /// Case id.
    pub id: String,
    /// Category.
    pub category: String,
    /// Expected severity.
    pub expected: Severity,
    /// Predicted severity.
    pub predicted: Severity,
    /// Expected subject, if labelled.
    pub expected_subject: Option<Subject>,
    /// Predicted subject.
    pub subject: Subject,
    /// Ids of the matched rules.
    pub matched: Vec<String>,
    /// The text.
    pub text: String,
}

/// What an assessor returns, for evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// Severity.
    pub severity: Severity,
    /// Subject.
    pub subject: Subject,
    /// Ids of the matched rules.
    pub matched: Vec<String>,
}

/// Results over a case set.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    /// Number of cases.
    pub total: usize,
    /// Cases predicted at exactly the expected severity.
    pub exact: usize,
    /// Per severity, indexed by `Severity as usize`.
    pub per_severity: [SeverityStats; 5],
    /// `everyday` and `idiom` cases.
    pub benign_total: usize,
    /// `everyday`/`idiom` cases predicted moderate or above.
    pub benign_false_positives: Vec<String>,
    /// `negated` cases.
    pub negated_total: usize,
    /// `negated` cases predicted high or imminent.
    pub negated_violations: Vec<String>,
    /// `third-person` cases.
    pub third_person_total: usize,
    /// `third-person` cases whose subject was not other-person.
    pub third_person_subject_misses: Vec<String>,
    /// Cases with a labelled subject.
    pub subject_labelled: usize,
    /// ... whose subject was right.
    pub subject_correct: usize,
    /// `(cases, exact)` per category.
    pub per_category: BTreeMap<String, (usize, usize)>,
    /// Every case with a wrong severity or subject.
    pub misses: Vec<Miss>,
}

impl Report {
    /// False-positive rate on `everyday` and `idiom` cases (predicted moderate or above).
    // Counts of cases, far below 2⁵²: exact as `f64`.
    #[allow(clippy::cast_precision_loss)]
    pub fn false_positive_rate(&self) -> f64 {
        if self.benign_total == 0 {
            0.0
        } else {
            self.benign_false_positives.len() as f64 / self.benign_total as f64
        }
    }

    /// Stats for one severity.
    pub fn stats(&self, s: Severity) -> SeverityStats {
        self.per_severity[s as usize]
    }

    /// The product targets that are not met (empty when all are): recall 1.0 on imminent and
    /// at least 0.95 on high (caught = predicted at or above the label), a false-positive rate
    /// under 5% on everyday and idiom cases, no negated case at high or above, and every
    /// third-person case with subject other-person.
    pub fn target_violations(&self) -> Vec<String> {
        let mut v = Vec::new();
        let imm = self.stats(Severity::Imminent);
        if imm.expected > 0 && imm.caught < imm.expected {
            v.push(format!("imminent recall {:.3} < 1.0", imm.caught_recall()));
        }
        let high = self.stats(Severity::High);
        if high.caught_recall() < 0.95 {
            v.push(format!("high recall {:.3} < 0.95", high.caught_recall()));
        }
        if self.false_positive_rate() >= 0.05 {
            v.push(format!(
                "false-positive rate {:.3} >= 0.05 ({:?})",
                self.false_positive_rate(),
                self.benign_false_positives
            ));
        }
        if !self.negated_violations.is_empty() {
            v.push(format!(
                "negated cases predicted high or above: {:?}",
                self.negated_violations
            ));
        }
        if !self.third_person_subject_misses.is_empty() {
            v.push(format!(
                "third-person cases without subject other-person: {:?}",
                self.third_person_subject_misses
            ));
        }
        v
    }

    /// A Markdown summary: per-severity recall and precision, then the category checks.
    pub fn table(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "| severity | cases | predicted | exact recall | recall (>= expected) | precision |"
        );
        let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|");
        for sev in Severity::ALL {
            let st = self.stats(sev);
            let _ = writeln!(
                s,
                "| {} | {} | {} | {:.3} | {:.3} | {:.3} |",
                sev.name(),
                st.expected,
                st.predicted,
                st.recall(),
                st.caught_recall(),
                st.precision()
            );
        }
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "cases: {}, exact severity: {} ({:.1}%)",
            self.total,
            self.exact,
            100.0 * ratio(self.exact, self.total)
        );
        let _ = writeln!(
            s,
            "false-positive rate (everyday + idiom predicted >= moderate): {}/{} = {:.3}",
            self.benign_false_positives.len(),
            self.benign_total,
            self.false_positive_rate()
        );
        let _ = writeln!(
            s,
            "negated predicted >= high: {}/{}",
            self.negated_violations.len(),
            self.negated_total
        );
        let _ = writeln!(
            s,
            "third-person with subject other-person: {}/{}",
            self.third_person_total - self.third_person_subject_misses.len(),
            self.third_person_total
        );
        let _ = writeln!(
            s,
            "subject correct where labelled: {}/{}",
            self.subject_correct, self.subject_labelled
        );
        let cats: Vec<String> = self
            .per_category
            .iter()
            .map(|(c, (n, e))| format!("{c} {e}/{n}"))
            .collect();
        let _ = writeln!(s, "exact by category: {}", cats.join(", "));
        s
    }
}

/// Evaluates the built-in engine on `cases`.
pub fn evaluate(cases: &[Case]) -> Report {
    evaluate_with(cases, |input| {
        let a = engine::assess(input);
        Outcome {
            severity: a.severity,
            subject: a.subject,
            matched: a.matched.iter().map(|m| m.id.to_owned()).collect(),
        }
    })
}

/// Evaluates any assessor on `cases` (e.g. the built component, called through a host).
pub fn evaluate_with(cases: &[Case], mut assess: impl FnMut(&Input<'_>) -> Outcome) -> Report {
    let mut r = Report::default();
    for case in cases {
        let out = assess(&Input {
            text: &case.text,
            source: "evaluation",
            language: "en",
            signals: case.signals,
        });
        r.total += 1;
        let exp = case.expected;
        let pred = out.severity;
        r.per_severity[exp as usize].expected += 1;
        r.per_severity[pred as usize].predicted += 1;
        if pred == exp {
            r.per_severity[exp as usize].correct += 1;
            r.exact += 1;
        }
        if pred >= exp {
            r.per_severity[exp as usize].caught += 1;
        }
        let cat = r.per_category.entry(case.category.clone()).or_default();
        cat.0 += 1;
        if pred == exp {
            cat.1 += 1;
        }
        match case.category.as_str() {
            "everyday" | "idiom" => {
                r.benign_total += 1;
                if pred >= Severity::Moderate {
                    r.benign_false_positives.push(case.id.clone());
                }
            }
            "negated" => {
                r.negated_total += 1;
                if pred >= Severity::High {
                    r.negated_violations.push(case.id.clone());
                }
            }
            "third-person" => {
                r.third_person_total += 1;
                if out.subject != Subject::OtherPerson {
                    r.third_person_subject_misses.push(case.id.clone());
                }
            }
            _ => {}
        }
        let subject_ok = case.subject.is_none_or(|s| s == out.subject);
        if case.subject.is_some() {
            r.subject_labelled += 1;
            if subject_ok {
                r.subject_correct += 1;
            }
        }
        if pred != exp || !subject_ok {
            r.misses.push(Miss {
                id: case.id.clone(),
                category: case.category.clone(),
                expected: exp,
                predicted: pred,
                expected_subject: case.subject,
                subject: out.subject,
                matched: out.matched,
                text: case.text.clone(),
            });
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_case_lines() {
        let cases = parse_cases(
            "{\"id\":\"a\",\"text\":\"caf\\u00e9 \\\"x\\\" \\ud83d\\ude00\",\"expected\":\"low\",\"category\":\"everyday\"}\n\n// comment\n{\"id\":2,\"text\":\"t\",\"expected\":\"high\",\"subject\":\"other-person\",\"category\":\"third-person\",\"similarity\":0.9,\"sentiment\":-0.5}\n",
        )
        .expect("valid");
        assert_eq!(cases.len(), 2);
        assert_eq!(cases[0].text, "café \"x\" 😀");
        assert_eq!(cases[1].id, "2");
        assert_eq!(cases[1].subject, Some(Subject::OtherPerson));
        assert_eq!(cases[1].signals.exemplar_similarity, Some(0.9));
    }

    #[test]
    fn rejects_bad_lines() {
        assert!(parse_cases("{\"id\":\"a\"}").is_err());
        assert!(parse_cases("[1]").is_err());
        assert!(
            parse_cases("{\"id\":\"a\",\"text\":\"t\",\"expected\":\"severe\",\"category\":\"x\"}")
                .is_err()
        );
        assert!(parse_json("{\"a\":1,}").is_err());
    }

    #[test]
    fn counts_recall_and_precision() {
        let cases = parse_cases(
            "{\"id\":\"1\",\"text\":\"x\",\"expected\":\"high\",\"category\":\"high\"}\n{\"id\":\"2\",\"text\":\"y\",\"expected\":\"none\",\"category\":\"idiom\"}",
        )
        .expect("valid");
        let r = evaluate_with(&cases, |_| Outcome {
            severity: Severity::Imminent,
            subject: Subject::Writer,
            matched: vec![],
        });
        assert_eq!(r.stats(Severity::High).caught_recall(), 1.0);
        assert_eq!(r.stats(Severity::High).recall(), 0.0);
        assert_eq!(r.stats(Severity::Imminent).precision(), 0.0);
        assert_eq!(r.false_positive_rate(), 1.0);
        assert_eq!(r.target_violations().len(), 1);
    }
}

//! The assessment: from text (and optional signals) to severity, confidence, subject and the
//! rules that matched. Pure, deterministic, linear in the length of the text.
//!
//! Steps, for a text of `n` words:
//! 1. tokenize, apply aliases, mark negation cues ([`crate::matcher`]);
//! 2. find every rule phrase; for each match decide whether it is *negated* (a cue shortly
//!    before it in the same clause), whom it is *about* (person words inside the match, else
//!    the nearest one before it in the sentence) and whether an idiom or other `suppress`
//!    rule overlaps it;
//! 3. fire combinations (flags of the writer's matches within a window of words), echoes
//!    ("so do I" after another person's statement) and signal rules;
//! 4. take the highest severity for the writer; if only another person is at risk, the
//!    writer's severity is `third_person_severity` and the subject is `other-person`.

use crate::matcher::{self, Tok};
use crate::normalize::STRONG;
use crate::tables::{
    self, ATTR_CLAUSE_BREAK, ATTR_NOT_SUBJECT, ATTR_PERSON, ATTR_RULE_START, ATTR_SUBJECT, COMBOS,
    FLAG_ANSWER_NO, FLAG_ANSWER_YES, FLAG_DIRECTED, FLAG_ECHO, FLAG_IDIOM, FLAG_QUESTION,
    FLAG_SUPPRESS, FLAG_WRITER, LANGUAGE, MAX_SPAN, PARAMS, PHRASE_RULE, RULE_TRIE, RULES, SIGNALS,
    VERSION,
};

pub use crate::severity::Severity;

/// Whom the text is about (the WIT `subject`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Subject {
    /// The writer.
    Writer,
    /// Someone else.
    OtherPerson,
    /// Cannot tell.
    Unclear,
}

impl Subject {
    /// The WIT name (`writer`, `other-person`, `unclear`).
    pub fn name(self) -> &'static str {
        match self {
            Subject::Writer => "writer",
            Subject::OtherPerson => "other-person",
            Subject::Unclear => "unclear",
        }
    }

    /// Parses a WIT name.
    pub fn parse(name: &str) -> Option<Subject> {
        [Subject::Writer, Subject::OtherPerson, Subject::Unclear]
            .into_iter()
            .find(|s| s.name() == name)
    }
}

/// Signals computed by the host.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Signals {
    /// Sentiment in [-1, 1].
    pub sentiment: Option<f32>,
    /// Cosine similarity of the reported passage to its nearest positive exemplar.
    pub exemplar_similarity: Option<f32>,
    /// The severity of that exemplar.
    pub exemplar_severity: Option<Severity>,
    /// Cosine similarity of the same passage to its nearest negative exemplar.
    pub negative_similarity: Option<f32>,
    /// The classifier's probability that the text expresses risk (moderate or above).
    pub semantic_risk: Option<f32>,
    /// The severity the host's grading classifiers give that passage.
    pub semantic_severity: Option<Severity>,
    /// The byte range in the text of the passage these signals describe (a sentence, or the
    /// whole text); `None` means the whole text.
    pub passage: Option<(u32, u32)>,
}

/// What to assess.
#[derive(Debug, Clone, Copy, Default)]
pub struct Input<'a> {
    /// The text.
    pub text: &'a str,
    /// Where it comes from (`mood_log`, `journal`, `chat`, `self_check`); informational.
    pub source: &'a str,
    /// BCP 47 tag of the writer's locale; other languages than the ruleset's lower the
    /// confidence.
    pub language: &'a str,
    /// Host signals.
    pub signals: Signals,
}

/// A rule, combination or signal rule that contributed.
#[derive(Debug, Clone, PartialEq)]
pub struct MatchedRule {
    /// Its id in the ruleset.
    pub id: &'static str,
    /// The severity it contributed: its declared severity, or less when it was negated or
    /// about someone else.
    pub severity: Severity,
    /// Its weight.
    pub weight: f32,
}

/// The result of an assessment.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    /// Severity for the writer.
    pub severity: Severity,
    /// Confidence in the severity, in [0, 1].
    pub confidence: f32,
    /// Whom the text is about.
    pub subject: Subject,
    /// What matched, in order of first occurrence, then combinations and signal rules.
    pub matched: Vec<MatchedRule>,
}

/// The ruleset compiled in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Info {
    /// The ruleset's version string.
    pub version: &'static str,
    /// Number of `[[rule]]` entries.
    pub rule_count: u32,
}

/// The most entries in [`Assessment::matched`].
pub const MAX_MATCHED: usize = 32;

/// Describes the compiled ruleset.
pub fn info() -> Info {
    Info {
        version: VERSION,
        rule_count: u32::try_from(RULES.len()).unwrap_or(u32::MAX),
    }
}

const WHO_NONE: u8 = 0;
const WHO_FIRST: u8 = 1;
const WHO_SECOND: u8 = 2;
const WHO_THIRD: u8 = 3;

#[derive(Debug, Clone, Copy)]
struct Hit {
    rule: u16,
    phrase: u16,
    start: u32,
    end: u32,
    negated: bool,
    who: u8,
    suppressed: bool,
    /// Severity contributed (after negation, subject and echo).
    eff: Severity,
}

impl Hit {
    fn rule(&self) -> &'static tables::Rule {
        &RULES[usize::from(self.rule)]
    }

    /// A writer statement that counts in full. Modifiers (rules of severity `none`: means,
    /// timing, intensity) describe circumstances, not a person, so they count whoever is named
    /// near them ("I'm finally going to do it, I've got my dad's pills").
    fn writer_active(&self) -> bool {
        !self.negated
            && !self.suppressed
            && self.rule().flags & FLAG_DIRECTED == 0
            && (self.who == WHO_FIRST
                || self.who == WHO_NONE
                || (self.rule().severity == Severity::None && self.rule().flags & FLAG_IDIOM == 0))
    }

    fn other_active(&self) -> bool {
        !self.negated && !self.suppressed && self.who == WHO_THIRD
    }
}

/// Who a match is about: the writer if a first-person word is inside it ("they'd be better
/// off if I was gone"), else the first person word inside it ("end her life"), else the
/// nearest one before it in the same sentence (within `subject_window` words, skipping
/// possessives and objects), else nobody (`WHO_NONE`).
fn who(toks: &[Tok], start: usize, end: usize) -> u8 {
    let mut inside = WHO_NONE;
    for t in &toks[start..end] {
        let p = tables::attr(t.id) & ATTR_PERSON;
        if p == WHO_FIRST {
            return WHO_FIRST;
        }
        if inside == WHO_NONE {
            inside = p;
        }
    }
    if inside != WHO_NONE {
        return inside;
    }
    let mut k = start;
    let mut steps = 0;
    while k > 0 && steps < PARAMS.subject_window {
        if toks[k].brk == STRONG {
            break;
        }
        k -= 1;
        steps += 1;
        let a = tables::attr(toks[k].id);
        // "a girl in my class", "texted me saying": possessives and objects are not subjects.
        if a & ATTR_NOT_SUBJECT != 0 {
            continue;
        }
        let p = a & ATTR_PERSON;
        if p != 0 {
            return p;
        }
    }
    WHO_NONE
}

/// A token index as a [`Hit`] keeps it (saturating: no text comes near 2³² tokens).
fn position(index: usize) -> u32 {
    u32::try_from(index).unwrap_or(u32::MAX)
}

/// Finds every rule phrase, with negation and subject.
fn find_hits(toks: &[Tok]) -> Vec<Hit> {
    let mut hits = Vec::new();
    let mut last_end = vec![0u32; RULES.len()];
    let mut short_cue: Option<usize> = None;
    let mut long_cue: Option<usize> = None;
    for i in 0..toks.len() {
        let t = toks[i];
        let a = tables::attr(t.id);
        if t.brk != 0 || a & ATTR_CLAUSE_BREAK != 0 {
            short_cue = None;
            long_cue = None;
        }
        if a & ATTR_SUBJECT != 0 {
            short_cue = None;
        }
        if a & ATTR_RULE_START != 0 {
            let negated = short_cue.is_some_and(|c| i - c <= PARAMS.negation_window as usize)
                || long_cue.is_some_and(|c| i - c <= PARAMS.long_negation_window as usize);
            matcher::walk(&RULE_TRIE, toks, i, |phrase, end| {
                let Some(&rule) = PHRASE_RULE.get(usize::from(phrase)) else {
                    return;
                };
                let r = usize::from(rule);
                if position(i) < last_end[r] {
                    return; // overlaps an earlier match of the same rule
                }
                last_end[r] = position(end);
                hits.push(Hit {
                    rule,
                    phrase,
                    start: position(i),
                    end: position(end),
                    negated,
                    who: if RULES[r].flags & FLAG_WRITER != 0 {
                        WHO_FIRST
                    } else {
                        who(toks, i, end)
                    },
                    suppressed: false,
                    eff: RULES[r].severity,
                });
            });
        }
        match t.neg {
            1 => short_cue = Some(i),
            2 => long_cue = Some(i),
            _ => {}
        }
    }
    hits
}

/// A match inside the span of an earlier negated match is negated too ("I'm not having any
/// thoughts of harming myself": "harming myself" sits inside the negated "thoughts of ...").
fn propagate_negation(hits: &mut [Hit]) {
    let mut reach: Option<u32> = None; // end of the furthest negated span seen so far
    for h in hits.iter_mut() {
        if let Some(end) = reach
            && h.start < end
        {
            h.negated = true;
        }
        if h.negated {
            reach = Some(reach.map_or(h.end, |e| e.max(h.end)));
        }
    }
}

/// Cancels matches that overlap a `suppress` match of another rule.
fn suppress(hits: &mut [Hit]) {
    let sup: Vec<(u32, u32)> = hits
        .iter()
        .filter(|h| h.rule().flags & FLAG_SUPPRESS != 0)
        .map(|h| (h.start, h.end))
        .collect();
    if sup.is_empty() {
        return;
    }
    let mut lo = 0;
    for h in hits.iter_mut() {
        if h.rule().flags & FLAG_SUPPRESS != 0 {
            continue;
        }
        while lo < sup.len() && sup[lo].0 + MAX_SPAN < h.start {
            lo += 1;
        }
        let mut k = lo;
        while k < sup.len() && sup[k].0 < h.end {
            if sup[k].1 > h.start {
                h.suppressed = true;
                break;
            }
            k += 1;
        }
    }
}

/// Questions put to the writer and answered no ("the GP asked if I'd had thoughts of ending
/// my life. Honestly, no."): a `question` match, then the first `answer-no` or `answer-yes`
/// match that starts within `answer_window` words of its end, across sentence breaks (which
/// phrases never cross). When that first answer is a no, every match from the question's
/// start to the answer's is what was asked, not what the writer states: it is suppressed.
/// Returns whether a match that carried a severity was.
fn answered_no(hits: &mut [Hit]) -> bool {
    let flags = |h: &Hit| h.rule().flags;
    // Answers in order of start (hits are found in order of start).
    let answers: Vec<(u32, bool)> = hits
        .iter()
        .filter(|a| flags(a) & (FLAG_ANSWER_NO | FLAG_ANSWER_YES) != 0)
        .map(|a| (a.start, flags(a) & FLAG_ANSWER_NO != 0))
        .collect();
    if answers.is_empty() {
        return false;
    }
    // What each question answered no covers, merged into disjoint spans in order.
    let mut cleared: Vec<(u32, u32)> = Vec::new();
    for question in hits.iter().filter(|h| flags(h) & FLAG_QUESTION != 0) {
        let first = answers.partition_point(|&(start, _)| start < question.end);
        let Some(&(start, no)) = answers.get(first) else {
            continue;
        };
        if !no || start - question.end > PARAMS.answer_window {
            continue;
        }
        match cleared.last_mut() {
            Some(last) if question.start <= last.1 => last.1 = last.1.max(start),
            _ => cleared.push((question.start, start)),
        }
    }
    let mut any = false;
    for h in hits.iter_mut() {
        if h.rule().flags & (FLAG_QUESTION | FLAG_ANSWER_NO | FLAG_ANSWER_YES | FLAG_SUPPRESS) != 0
        {
            continue;
        }
        let span = cleared.partition_point(|&(from, _)| from <= h.start);
        let inside = span > 0 && cleared.get(span - 1).is_some_and(|&(_, to)| h.start < to);
        if inside {
            any |= h.rule().severity > Severity::None && !h.suppressed;
            h.suppressed = true;
        }
    }
    any
}

/// Whether a negated statement or an idiom lies in the byte range `passage` of the text
/// (overlaps it by at least one word).
fn explained_in(hits: &[Hit], toks: &[Tok], (from, to): (u32, u32)) -> bool {
    hits.iter().filter(|h| !h.suppressed).any(|h| {
        let explains =
            (h.negated && h.rule().severity >= Severity::Low) || h.rule().flags & FLAG_IDIOM != 0;
        let first = toks.get(h.start as usize).map_or(u32::MAX, |t| t.at);
        let last = (h.end as usize)
            .checked_sub(1)
            .and_then(|k| toks.get(k))
            .map_or(0, |t| t.at);
        explains && first < to && last >= from
    })
}

fn cap(s: Severity, max: Severity) -> Severity {
    s.min(max)
}

/// Applies negation, subject and echo to each hit's contributed severity.
fn effective(hits: &mut [Hit]) {
    for i in 0..hits.len() {
        let h = hits[i];
        let declared = h.rule().severity;
        let eff = if h.negated {
            cap(declared, PARAMS.negated_severity)
        } else if h.rule().flags & FLAG_DIRECTED != 0 {
            declared
        } else {
            match h.who {
                WHO_THIRD => cap(declared, PARAMS.third_person_severity),
                WHO_SECOND => cap(declared, PARAMS.second_person_severity),
                _ => declared,
            }
        };
        hits[i].eff = eff;
        if h.writer_active() && h.rule().flags & FLAG_ECHO != 0 {
            // "... my friend wants to die, and honestly so do I": take on the other's statement.
            let mut k = i;
            while k > 0 {
                k -= 1;
                let o = hits[k];
                if o.start + PARAMS.echo_window < h.start {
                    break;
                }
                if o.other_active() && o.rule().severity >= Severity::Moderate {
                    let raised = cap(o.rule().severity, PARAMS.echo_cap);
                    if raised > hits[i].eff {
                        hits[i].eff = raised;
                    }
                }
            }
        }
    }
}

/// Overlapping matches merged into one piece of evidence for combinations.
struct Unit {
    start: u32,
    end: u32,
    flags: u32,
    /// The phrase of its first match: repeated phrases count once.
    phrase: u16,
    /// Whether it is a modifier (a rule of severity none).
    modifier: bool,
}

/// Fires combinations over the writer's active matches; returns the indices of those fired.
fn combos(hits: &[Hit]) -> Vec<usize> {
    let active: Vec<&Hit> = hits.iter().filter(|h| h.writer_active()).collect();
    let mut context = 0u32;
    for h in hits.iter().filter(|h| !h.suppressed && !h.negated) {
        context |= h.rule().flags;
    }
    let mut present = 0u32;
    for h in &active {
        present |= h.rule().flags;
    }
    let mut fired = Vec::new();
    let mut count = vec![0u16; PHRASE_RULE.len()];
    for (c, combo) in COMBOS.iter().enumerate() {
        let mut mask = 0u32;
        for &(bit, _) in combo.requires {
            mask |= 1 << bit;
        }
        if present & mask != mask || context & combo.unless != 0 {
            continue;
        }
        // Overlapping statements ("thinking about ending it all" as ideation and as acting) are
        // one piece of evidence: merge them into units carrying the union of their flags.
        // Modifiers (severity none: a means, a time) stay separate evidence even inside a
        // statement ("I won't be around after tonight").
        let mut relevant: Vec<Unit> = Vec::new();
        for h in active.iter().filter(|h| h.rule().flags & mask != 0) {
            let modifier = h.rule().severity == Severity::None;
            match relevant.last_mut() {
                Some(u) if h.start < u.end && !modifier && !u.modifier => {
                    u.end = u.end.max(h.end);
                    u.flags |= h.rule().flags;
                }
                _ => relevant.push(Unit {
                    start: h.start,
                    end: h.end,
                    flags: h.rule().flags,
                    phrase: h.phrase,
                    modifier,
                }),
            }
        }
        let mut distinct = [0u16; 33]; // per flag, then [32] = all relevant phrases
        let needed: u16 = combo.requires.iter().map(|&(_, n)| u16::from(n)).sum();
        let mut lo = 0;
        let mut hit_fired = false;
        let update = |h: &Unit, count: &mut [u16], distinct: &mut [u16; 33], add: bool| {
            let p = usize::from(h.phrase);
            let Some(n) = count.get_mut(p) else { return };
            let changed = if add {
                *n += 1;
                *n == 1
            } else {
                *n = n.saturating_sub(1);
                *n == 0
            };
            if changed {
                distinct[32] = if add {
                    distinct[32] + 1
                } else {
                    distinct[32].saturating_sub(1)
                };
                let mut bits = h.flags & mask;
                while bits != 0 {
                    let b = bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    distinct[b] = if add {
                        distinct[b] + 1
                    } else {
                        distinct[b].saturating_sub(1)
                    };
                }
            }
        };
        let mut hi = 0;
        while hi < relevant.len() {
            let h = &relevant[hi];
            while lo < hi && relevant[lo].start + combo.window < h.start {
                update(&relevant[lo], &mut count, &mut distinct, false);
                lo += 1;
            }
            update(h, &mut count, &mut distinct, true);
            hi += 1;
            // Each requirement needs its own phrase: with at most two flags per combination,
            // enough phrases per flag and enough phrases in all is exactly Hall's condition.
            if distinct[32] >= needed
                && combo
                    .requires
                    .iter()
                    .all(|&(bit, n)| distinct[usize::from(bit)] >= u16::from(n))
            {
                hit_fired = true;
                break;
            }
        }
        for h in &relevant[lo..hi] {
            update(h, &mut count, &mut distinct, false);
        }
        if hit_fired {
            fired.push(c);
        }
    }
    fired
}

fn noisy_or(acc: f32, w: f32) -> f32 {
    1.0 - (1.0 - acc) * (1.0 - w.clamp(0.0, 1.0))
}

fn same_language(tag: &str) -> bool {
    let tag = tag.trim();
    if tag.is_empty() {
        return true;
    }
    let primary = tag.split(['-', '_']).next().unwrap_or("");
    primary.eq_ignore_ascii_case(LANGUAGE)
}

/// Assesses a text.
pub fn assess(input: &Input<'_>) -> Assessment {
    let mut toks = matcher::tokenize(input.text);
    matcher::mark_negation(&mut toks);
    let mut hits = find_hits(&toks);
    propagate_negation(&mut hits);
    suppress(&mut hits);
    let answered = answered_no(&mut hits);
    effective(&mut hits);
    let fired = combos(&hits);

    // Maxima per kind of statement.
    let mut writer_max = Severity::None;
    let mut other_max = Severity::None; // declared severity of statements about others
    let mut unclear_max = Severity::None;
    let mut low_max = Severity::None; // every contribution, for the low end
    let mut writer_flags = 0u32;
    let (mut any_other, mut any_unclear) = (false, false);
    let mut writer_evidence = false;
    for h in hits.iter().filter(|h| !h.suppressed) {
        let flags = h.rule().flags;
        low_max = low_max.max(h.eff);
        if h.negated {
            // It speaks for nobody; whether it explains a passage is `explained_in`'s.
            continue;
        }
        if h.writer_active() {
            writer_max = writer_max.max(h.eff);
            writer_flags |= flags;
            writer_evidence |= h.eff > Severity::None;
        } else if h.who == WHO_THIRD {
            other_max = other_max.max(h.rule().severity);
            any_other = true;
        } else {
            unclear_max = unclear_max.max(h.eff);
            any_unclear = true;
        }
    }
    for &c in &fired {
        writer_max = writer_max.max(COMBOS[c].severity);
        writer_evidence = true;
    }

    let (mut severity, mut subject) = if writer_max >= Severity::Moderate {
        (writer_max, Subject::Writer)
    } else if other_max >= Severity::Moderate {
        (
            writer_max
                .max(unclear_max)
                .max(PARAMS.third_person_severity),
            Subject::OtherPerson,
        )
    } else if unclear_max >= Severity::Moderate {
        (unclear_max.max(writer_max), Subject::Unclear)
    } else {
        let subject = if writer_evidence {
            Subject::Writer
        } else if any_other {
            Subject::OtherPerson
        } else if any_unclear {
            Subject::Unclear
        } else if toks
            .iter()
            .any(|t| tables::attr(t.id) & ATTR_PERSON == WHO_FIRST)
        {
            Subject::Writer
        } else {
            Subject::Unclear
        };
        (low_max, subject)
    };

    // Signal rules: never when the text is explained otherwise (a question answered no, about
    // someone else); nor when the passage the signal describes is (a negated statement or an
    // idiom in it; anywhere in the text when `explanation_scope` is "text"), unless the rule
    // applies `despite_negation`.
    let mut signal_fired = Vec::new();
    let scope = match input.signals.passage {
        Some(passage) if PARAMS.explain_passage_only => passage,
        _ => (0, u32::MAX),
    };
    let explained = explained_in(&hits, &toks, scope);
    if !answered && subject != Subject::OtherPerson {
        let sim = input
            .signals
            .exemplar_similarity
            .filter(|x| x.is_finite())
            .map(|x| x.clamp(0.0, 1.0));
        let sent = input
            .signals
            .sentiment
            .filter(|x| x.is_finite())
            .map(|x| x.clamp(-1.0, 1.0));
        let negative = input
            .signals
            .negative_similarity
            .filter(|x| x.is_finite())
            .map(|x| x.clamp(-1.0, 1.0));
        let lead = sim.map(|v| v - negative.unwrap_or(0.0));
        let risk = input
            .signals
            .semantic_risk
            .filter(|x| x.is_finite())
            .map(|x| x.clamp(0.0, 1.0));
        for (k, s) in SIGNALS.iter().enumerate() {
            let ok = s.min_similarity.is_none_or(|t| sim.is_some_and(|v| v >= t))
                && s.min_lead.is_none_or(|t| lead.is_some_and(|v| v >= t))
                && s.min_risk.is_none_or(|t| risk.is_some_and(|v| v >= t))
                && s.exemplar_at_least
                    .is_none_or(|t| input.signals.exemplar_severity.is_some_and(|v| v >= t))
                && s.semantic_at_least
                    .is_none_or(|t| input.signals.semantic_severity.is_some_and(|v| v >= t))
                && s.max_sentiment.is_none_or(|t| sent.is_some_and(|v| v <= t))
                && s.min_sentiment.is_none_or(|t| sent.is_some_and(|v| v >= t))
                && (s.requires == 0 || writer_flags & s.requires != 0)
                && (!explained || s.despite_negation);
            if ok {
                signal_fired.push(k);
                if s.raise_to > severity {
                    severity = s.raise_to;
                    subject = Subject::Writer;
                }
            }
        }
    }

    // Matched list: each rule once, with the highest severity it contributed.
    let mut matched: Vec<MatchedRule> = Vec::new();
    let mut slot = vec![u16::MAX; RULES.len()];
    for h in hits.iter().filter(|h| !h.suppressed) {
        let flags = h.rule().flags;
        if h.eff == Severity::None && flags & FLAG_SUPPRESS == 0 && fired.is_empty() {
            continue; // a bare modifier ("tonight") that combined with nothing
        }
        let r = usize::from(h.rule);
        match slot[r] {
            u16::MAX => {
                if matched.len() < MAX_MATCHED {
                    // Below `MAX_MATCHED` (32): the cast is exact.
                    #[allow(clippy::cast_possible_truncation)]
                    let index = matched.len() as u16;
                    slot[r] = index;
                    matched.push(MatchedRule {
                        id: h.rule().id,
                        severity: h.eff,
                        weight: h.rule().weight,
                    });
                }
            }
            s => {
                if let Some(m) = matched.get_mut(usize::from(s))
                    && h.eff > m.severity
                {
                    m.severity = h.eff;
                }
            }
        }
    }
    for &c in &fired {
        let combo = &COMBOS[c];
        if matched.len() < MAX_MATCHED {
            matched.push(MatchedRule {
                id: combo.id,
                severity: combo.severity,
                weight: combo.weight,
            });
        }
    }
    for &k in &signal_fired {
        let s = &SIGNALS[k];
        if matched.len() < MAX_MATCHED {
            matched.push(MatchedRule {
                id: s.id,
                severity: s.raise_to,
                weight: s.weight,
            });
        }
    }

    // Confidence: noisy-OR of the weights behind the result (full weight at the result's
    // severity, half weight below it; negated statements count at half weight).
    let mut evidence: Vec<(Severity, f32)> = hits
        .iter()
        .filter(|h| !h.suppressed || h.rule().flags & FLAG_SUPPRESS != 0)
        .map(|h| {
            let w = h.rule().weight;
            (h.eff, if h.negated { 0.5 * w } else { w })
        })
        .collect();
    evidence.extend(
        fired
            .iter()
            .map(|&c| (COMBOS[c].severity, COMBOS[c].weight)),
    );
    evidence.extend(
        signal_fired
            .iter()
            .map(|&k| (SIGNALS[k].raise_to, SIGNALS[k].weight)),
    );
    let mut confidence = if severity == Severity::None {
        let mut c = PARAMS.none_confidence;
        for &(s, w) in &evidence {
            if s == Severity::None && w > 0.0 {
                c = noisy_or(c, w);
            }
        }
        if let Some(sim) = input.signals.exemplar_similarity.filter(|x| x.is_finite()) {
            c *= 1.0 - 0.5 * sim.clamp(0.0, 1.0);
        }
        c
    } else {
        let mut at = 0.0f32;
        let mut below = 0.0f32;
        for &(s, w) in &evidence {
            if s == severity {
                at = noisy_or(at, w);
            } else if s > Severity::None {
                below = noisy_or(below, 0.5 * w);
            }
        }
        noisy_or(at, below)
    };
    if !same_language(input.language) {
        confidence *= PARAMS.foreign_language_factor;
    }
    let confidence = if confidence.is_finite() {
        confidence.clamp(0.0, 1.0)
    } else {
        0.0
    };

    Assessment {
        severity,
        confidence,
        subject,
        matched,
    }
}

/// Assesses a bare text (no signals, English).
pub fn assess_text(text: &str) -> Assessment {
    assess(&Input {
        text,
        source: "",
        language: "en",
        signals: Signals::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sev(text: &str) -> Severity {
        assess_text(text).severity
    }

    #[test]
    fn empty_and_plain_texts_are_none() {
        assert_eq!(sev(""), Severity::None);
        assert_eq!(sev("   "), Severity::None);
        assert_eq!(sev("Had a nice walk with the dog."), Severity::None);
        let a = assess_text("");
        assert!(a.matched.is_empty());
        assert!((0.0..=1.0).contains(&a.confidence));
    }

    #[test]
    fn negation_window() {
        assert!(sev("I want to kill myself") >= Severity::High);
        assert!(sev("I'm not going to kill myself") <= Severity::Low);
        assert!(sev("I would never kill myself") <= Severity::Low);
        assert!(sev("i dont want to die") <= Severity::Low);
        // A cue in an earlier clause does not reach.
        assert!(sev("I'm not ok, I want to die") >= Severity::Moderate);
        // A cue too far back does not reach.
        assert!(
            sev("not that anyone asks me how my week went but honestly i want to die")
                >= Severity::Moderate
        );
        // Pseudo-negation.
        assert!(sev("I can't stop thinking about killing myself") >= Severity::Moderate);
    }

    #[test]
    fn subject() {
        let a = assess_text("my friend said she wants to die");
        assert_eq!(a.subject, Subject::OtherPerson);
        assert!(a.severity <= Severity::Low);
        let a = assess_text("I told my friend I want to die");
        assert_eq!(a.subject, Subject::Writer);
        assert!(a.severity >= Severity::Moderate);
    }

    #[test]
    fn negation_reaches_matches_inside_a_negated_span() {
        assert!(sev("I'm not having any thoughts of harming myself") <= Severity::Low);
        assert!(sev("I have no intention of hurting myself") <= Severity::Low);
        assert!(sev("killing myself isn't an option for me") <= Severity::Low);
    }

    #[test]
    fn idioms_and_suppression() {
        for text in [
            "this traffic is killing me",
            "I'm dying to see that film",
            "I could kill for a coffee",
            "dead tired",
            "that joke killed me",
            "my phone died",
            "I cut myself shaving",
            "career suicide",
        ] {
            assert!(sev(text) <= Severity::Low, "{text}");
        }
        // "told me to kill myself" is harassment, not the writer's ideation.
        assert_eq!(sev("people keep telling me to kys"), Severity::Low);
    }

    #[test]
    fn combinations_escalate() {
        // Two different preparations, no crisis word.
        assert_eq!(
            sev("I've written the letters and found a home for the dog"),
            Severity::Imminent
        );
        // Ideation with timing.
        assert_eq!(sev("i want to die tonight"), Severity::Imminent);
        // A benign context stops preparation combinations.
        assert!(
            sev("moving abroad, gave away my furniture and said goodbye to everyone")
                <= Severity::Low
        );
        // One statement matched twice is one piece of evidence.
        assert_eq!(sev("thinking about ending it all"), Severity::High);
    }

    #[test]
    fn echo_takes_on_anothers_statement() {
        let a = assess_text("my friend wants to die and honestly so do i");
        assert_eq!(a.subject, Subject::Writer);
        assert_eq!(a.severity, Severity::Moderate);
    }

    /// Signals as the host passes them: a sad sentiment, a nearest positive exemplar 0.7
    /// similar (the nearest negative 0.3) of severity `exemplar`, the risk, the graded
    /// severity and the passage.
    fn signals(
        risk: f32,
        exemplar: Severity,
        graded: Option<Severity>,
        passage: Option<(u32, u32)>,
    ) -> Signals {
        Signals {
            sentiment: Some(-0.5),
            exemplar_similarity: Some(0.7),
            exemplar_severity: Some(exemplar),
            negative_similarity: Some(0.3),
            semantic_risk: Some(risk),
            semantic_severity: graded,
            passage,
        }
    }

    /// `text`, written in English in chat, assessed with `signals`.
    fn signalled(text: &str, signals: Signals) -> Assessment {
        assess(&Input {
            text,
            source: "chat",
            language: "en",
            signals,
        })
    }

    #[test]
    fn signals_raise_implicit_texts_but_not_negated_ones() {
        let with = |text, risk, severity| signalled(text, signals(risk, severity, None, None));
        let implicit = "it is all arranged for thursday";
        let a = with(implicit, 0.99, Severity::Imminent);
        assert_eq!(a.severity, Severity::Imminent);
        assert!(a.matched.iter().any(|m| m.id == "semantic.imminent"));
        // The nearest exemplar's severity caps the raise.
        assert_eq!(
            with(implicit, 0.99, Severity::Moderate).severity,
            Severity::Moderate
        );
        // Below the risk threshold: unchanged.
        assert!(with(implicit, 0.5, Severity::Imminent).severity <= Severity::Low);
        // Negated text and idioms: not raised (below any `despite_negation` threshold).
        assert!(
            with("I would never kill myself", 0.95, Severity::Imminent).severity <= Severity::Low
        );
        assert_eq!(
            with("this traffic is killing me", 0.95, Severity::Imminent).severity,
            Severity::None
        );
        // Non-finite signals are ignored.
        assert_eq!(
            with("hello", f32::NAN, Severity::Imminent).severity,
            Severity::None
        );
    }

    #[test]
    fn a_question_answered_no_is_what_was_asked_not_what_the_writer_states() {
        for text in [
            "the questionnaire asked if i'd thought about taking my life in the last two weeks. ticked no. it's been months",
            "The GP asked if I'd had thoughts of ending my life, and honestly, no, not once.",
            "the crisis team asked if i'd made any plans to end my life. no. i haven't and i won't",
            "psych asked 'any thoughts of suicide?' and the answer was no.",
        ] {
            assert!(sev(text) <= Severity::Low, "{text}");
        }
        // A yes, or no answer at all, and the question stands.
        for text in [
            "the nurse asked if I'd thought about killing myself. I said yes.",
            "the nurse asked if I'd thought about killing myself and I couldn't look at her",
        ] {
            assert!(sev(text) >= Severity::High, "{text}");
        }
        // The answer clears only what came before it: a statement after it still counts.
        assert!(
            sev("mum asked if I was ok. I said no. I want to kill myself tonight")
                == Severity::Imminent
        );
        // An answer too far from the question answers something else.
        let far = format!(
            "they asked if I wanted to kill myself. {} no",
            "I sat there looking at the floor for a long time and said nothing at all while the clock ticked on and on and on"
        );
        assert!(sev(&far) >= Severity::High, "{far}");
    }

    #[test]
    fn a_question_answered_no_stops_signal_rules() {
        let a = signalled(
            "the doctor asked whether I'd been planning to end my life. No.",
            signals(0.99, Severity::Imminent, Some(Severity::Imminent), None),
        );
        assert!(a.severity <= Severity::Low, "{a:?}");
    }

    /// The byte range of `part` in `text`.
    fn range_of(text: &str, part: &str) -> (u32, u32) {
        let start = text.find(part).expect("part of the text");
        let end = start + part.len();
        (
            u32::try_from(start).expect("short"),
            u32::try_from(end).expect("short"),
        )
    }

    #[test]
    fn a_negation_or_idiom_explains_the_passage_it_lies_in() {
        let text = "I'd never kill myself over a job. It is all arranged for Thursday.";
        let mut toks = matcher::tokenize(text);
        matcher::mark_negation(&mut toks);
        let mut hits = find_hits(&toks);
        propagate_negation(&mut hits);
        assert!(explained_in(
            &hits,
            &toks,
            range_of(text, "I'd never kill myself over a job.")
        ));
        assert!(explained_in(
            &hits,
            &toks,
            (0, u32::try_from(text.len()).expect("short"))
        ));
        assert!(!explained_in(
            &hits,
            &toks,
            range_of(text, "It is all arranged for Thursday.")
        ));

        let idiom = "Honestly this commute is killing me. The rope is in the boot.";
        let toks = matcher::tokenize(idiom);
        let hits = find_hits(&toks);
        assert!(explained_in(
            &hits,
            &toks,
            range_of(idiom, "this commute is killing me")
        ));
        assert!(!explained_in(
            &hits,
            &toks,
            range_of(idiom, "The rope is in the boot.")
        ));
    }

    #[test]
    fn signal_rules_see_past_a_negation_in_another_passage_when_the_ruleset_says_so() {
        let text = "I'd never kill myself over a job. It is all arranged for Thursday.";
        let with =
            |passage| signalled(text, signals(0.95, Severity::Imminent, None, passage)).severity;
        // The negated sentence itself, or no passage (the whole text): never raised.
        assert!(with(Some(range_of(text, "I'd never kill myself over a job."))) <= Severity::Low);
        assert!(with(None) <= Severity::Low);
        // Another sentence: raised when negations explain only their own passage.
        let elsewhere = with(Some(range_of(text, "It is all arranged for Thursday.")));
        if PARAMS.explain_passage_only {
            assert_eq!(elsewhere, Severity::Imminent);
        } else {
            assert!(elsewhere <= Severity::Low);
        }
    }

    #[test]
    fn a_near_certain_signal_rule_applies_despite_a_negation_when_the_ruleset_says_so() {
        let text = "rifle's in the ute and i wrote a note, going down the back paddock once the \
                    kids are on the bus cos i dont want to be dead in the house where they'd find me";
        let with = |risk| {
            signalled(
                text,
                signals(risk, Severity::Imminent, Some(Severity::Imminent), None),
            )
        };
        let despite = SIGNALS
            .iter()
            .filter(|s| s.despite_negation)
            .filter_map(|s| s.min_risk)
            .fold(f32::INFINITY, f32::min);
        assert!(
            with(0.9).severity <= Severity::Low,
            "the negation explains it"
        );
        if despite.is_finite() {
            let a = with(despite.max(0.999));
            assert_eq!(a.severity, Severity::Imminent, "{a:?}");
        }
    }

    #[test]
    fn the_graded_severity_raises_as_far_as_a_rule_allows() {
        let with = |graded| {
            signalled(
                "it is all arranged for thursday",
                signals(0.99, Severity::Moderate, graded, None),
            )
            .severity
        };
        let graded_rule = |at| {
            SIGNALS
                .iter()
                .any(|s| s.semantic_at_least == Some(at) && s.raise_to == at)
        };
        assert_eq!(with(None), Severity::Moderate, "the nearest exemplar alone");
        for at in [Severity::High, Severity::Imminent] {
            let expected = if graded_rule(at) {
                at
            } else {
                Severity::Moderate
            };
            assert_eq!(with(Some(at)), expected, "{at:?}");
        }
    }

    #[test]
    fn other_languages_lower_the_confidence() {
        let en = assess_text("I want to kill myself");
        let de = assess(&Input {
            text: "I want to kill myself",
            source: "chat",
            language: "de-DE",
            signals: Signals::default(),
        });
        assert_eq!(en.severity, de.severity);
        assert!(de.confidence < en.confidence);
    }

    #[test]
    fn long_and_hostile_inputs_are_linear_and_bounded() {
        // 128 KB of crisis phrases: every phrase matches, the output stays capped.
        let text = "kill myself tonight. ".repeat(128 * 1024 / 21);
        let a = assess_text(&text);
        assert_eq!(a.severity, Severity::Imminent);
        assert!(a.matched.len() <= MAX_MATCHED);
        // Pathological texts: one long word, only punctuation, many negations.
        assert_eq!(
            assess_text(&"a".repeat(128 * 1024)).severity,
            Severity::None
        );
        assert_eq!(assess_text(&".!?".repeat(40_000)).severity, Severity::None);
        assert!(assess_text(&"not never no ".repeat(10_000)).severity <= Severity::Low);
        // Invalid-looking UTF-8 boundaries are impossible in &str, but odd characters are fine.
        assert_eq!(assess_text("💀💀💀 ’’’ “” — … ʼ").severity, Severity::None);
    }

    #[test]
    fn deterministic() {
        let input = Input {
            text: "I've written the letters and found a home for the dog",
            source: "journal",
            language: "en-GB",
            signals: Signals {
                sentiment: Some(-0.8),
                exemplar_similarity: Some(0.9),
                ..Signals::default()
            },
        };
        let a = assess(&input);
        for _ in 0..3 {
            assert_eq!(assess(&input), a);
        }
    }

    #[test]
    fn info_reports_the_ruleset() {
        let i = info();
        assert!(!i.version.is_empty());
        assert_eq!(i.rule_count as usize, RULES.len());
    }
}

//! The screener: general linguistic rules over sentences and clauses.
//!
//! An answer is cut into sentences ([`sentence_bounds`]) and each sentence into clauses (at
//! commas, semicolons, colons, dashes, brackets, "but"/"however"/"though" and "and" before a
//! new subject). A rule is a pattern for an unsafe *assertion*: "you (clearly) have
//! a disorder", "X and Y are fine together", "the quickest way", "it's okay to stop
//! fighting", "I'm a licensed therapist". A match does not count when the clause before it
//! (and, for most rules, the match itself) holds a negation or refusal ("I can't tell you
//! whether you have ...", "I'm not a therapist"), or reports what the user thinks or feels
//! ("you might feel like they'd be better off without you"), so the same words in a refusal,
//! disclaimer or referral pass.
//!
//! Every rule looks at a sentence and, at most, the sentence before it, never after: so a
//! prefix that ends at a sentence boundary is flagged exactly when one of its sentences
//! would be flagged in the whole answer. The streaming screen relies on this.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use regex::Regex;

use crate::{Reason, Verdict};

/// Screens a whole assistant answer.
///
/// Deterministic and total: any text, however malformed, gets a verdict. The reasons are
/// sorted and unique; an empty list means the answer may be shown.
pub fn screen(answer: &str) -> Verdict {
    let sentences: Vec<(String, bool)> = sentence_bounds(answer)
        .into_iter()
        .filter_map(|(start, end)| answer.get(start..end))
        .map(|raw| (normalise(raw), raw.trim_end().ends_with('?')))
        .filter(|(s, _)| !s.is_empty())
        .collect();
    let mut found = BTreeSet::new();
    let mut previous: Option<&str> = None;
    for (sentence, question) in &sentences {
        screen_sentence(sentence, *question, previous, &mut found);
        previous = Some(sentence);
    }
    Verdict {
        reasons: found.into_iter().collect(),
    }
}

// ---------------------------------------------------------------------------------------
// Sentences

/// Words whose trailing period does not end a sentence ("Dr. Smith", "e.g. this").
const ABBREVIATIONS: &[&str] = &[
    "dr", "mr", "mrs", "ms", "prof", "st", "e.g", "i.e", "vs", "approx", "no",
];

/// The byte ranges of the sentences of `text`, in order, covering it whole.
///
/// A sentence ends after a run of `.`, `!`, `?` or `…` (with any closing quotes or brackets)
/// that is followed by whitespace, unless the period follows an abbreviation or a single
/// letter ("U.S."); and after every newline. The decision at a position depends only on
/// the text before it and the one character after it, so a prefix of an answer that ends
/// at a boundary has the same sentences as the answer up to there.
pub(crate) fn sentence_bounds(text: &str) -> Vec<(usize, usize)> {
    let mut bounds = Vec::new();
    let mut start = 0;
    for end in boundaries(text) {
        bounds.push((start, end));
        start = end;
    }
    if start < text.len() {
        bounds.push((start, text.len()));
    }
    bounds
}

/// The byte offsets at which a sentence of `text` ends (exclusive), not counting the end of
/// the text itself. Each one is followed by at least one character (the whitespace that
/// confirmed it), so a streaming caller can trust it.
pub(crate) fn boundaries(text: &str) -> Vec<usize> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let (at, c) = chars[i];
        if c == '\n' {
            let end = at + c.len_utf8();
            if end < text.len() {
                out.push(end);
            }
            i += 1;
            continue;
        }
        if matches!(c, '.' | '!' | '?' | '…') {
            let run_start = i;
            let mut j = i;
            while j < chars.len()
                && matches!(
                    chars[j].1,
                    '.' | '!' | '?' | '…' | '"' | '\'' | ')' | ']' | '”' | '’' | '»'
                )
            {
                j += 1;
            }
            let followed_by_space = j < chars.len() && chars[j].1.is_whitespace();
            let single_period = j - run_start == 1 && c == '.';
            if followed_by_space && !(single_period && is_abbreviation(text, at)) {
                out.push(chars[j].0);
            }
            i = j;
            continue;
        }
        i += 1;
    }
    out
}

/// Whether the word ending just before the period at `period` is an abbreviation.
fn is_abbreviation(text: &str, period: usize) -> bool {
    let before = text.get(..period).unwrap_or_default();
    let word: String = before
        .chars()
        .rev()
        .take_while(|c| c.is_alphanumeric() || *c == '.')
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let word = word.to_lowercase();
    // Initials: "U.S", "e.g", "A".
    let initials = !word.is_empty()
        && word
            .split('.')
            .all(|part| part.chars().count() == 1 && part.chars().all(char::is_alphabetic));
    initials || ABBREVIATIONS.contains(&word.as_str())
}

/// Lower case, one kind of apostrophe and quote, single spaces, no edge punctuation.
fn normalise(sentence: &str) -> String {
    let mut out = String::with_capacity(sentence.len());
    let mut space = false;
    for c in sentence.chars() {
        let c = match c {
            '\u{2018}' | '\u{2019}' | '\u{02bc}' | '`' | '\u{00b4}' => '\'',
            '\u{201c}' | '\u{201d}' | '\u{00ab}' | '\u{00bb}' => '"',
            '\u{2013}' | '\u{2014}' => '-',
            c => c,
        };
        if c.is_whitespace() {
            space = true;
            continue;
        }
        if space && !out.is_empty() {
            out.push(' ');
        }
        space = false;
        out.extend(c.to_lowercase());
    }
    let out = out.replace("can not ", "cannot ");
    let out = TEXTING.replace_all(&out, |c: &regex::Captures<'_>| {
        let word = c.get(0).map_or("", |m| m.as_str());
        match word {
            "u" => "you",
            "im" => "i'm",
            "ive" => "i've",
            "youre" => "you're",
            "youve" => "you've",
            "dont" => "don't",
            "cant" => "can't",
            "wont" => "won't",
            "isnt" => "isn't",
            "doesnt" => "doesn't",
            "didnt" => "didn't",
            "arent" => "aren't",
            "wasnt" => "wasn't",
            "shouldnt" => "shouldn't",
            "wouldnt" => "wouldn't",
            "couldnt" => "couldn't",
            "thats" => "that's",
            "theyre" => "they're",
            "theyd" => "they'd",
            "shes" => "she's",
            "hes" => "he's",
            other => other,
        }
        .to_owned()
    });
    out.trim_matches(|c: char| !c.is_alphanumeric() && c != '\'')
        .to_owned()
}

/// Contractions written without their apostrophe, as in texting ("im", "dont", "u").
static TEXTING: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(?:u|im|ive|youre|youve|dont|cant|wont|isnt|doesnt|didnt|arent|wasnt|shouldnt|wouldnt|couldnt|thats|theyre|theyd|shes|hes)\b",
    )
});

// ---------------------------------------------------------------------------------------
// Clauses and negation

/// Where a clause ends: punctuation inside a sentence, a contrast, or "and" before a new
/// subject ("I'm not a doctor and I can't diagnose" is two clauses).
static CLAUSE_SEP: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"[,;:()\[\]]|\s-+\s|\s-+$|^-+\s|\b(?:but|however|though|although|yet)\b|\band\s+(?:i|i'm|i've|you|you're|you've|he|she|they|it|it's|this|that|what)\b",
    )
});

/// Words before (or inside) a match that turn an assertion into a refusal, a condition, a
/// question or a disclaimer.
static NEGATION: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(?:not|never|cannot|unable|whether|if|only|nor|neither|instead|rather than|avoid|refuse|no one can|nobody can|no way|in case|unless)\b|n't\b",
    )
});

/// Words before a match that report what the user thinks, feels or said rather than assert
/// it ("you might feel like they'd be better off without you", "you mentioned you have ADHD").
static REPORTED: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(?:you (?:might |may |could |probably |sometimes |often )?(?:feel|think|believe|worry|fear|wonder|were told|have been told|were diagnosed|have been diagnosed|'ve been diagnosed)|you've been told|feels? like|felt like|feeling like|feeling that|it feels|it seems|the thought|the feeling|the voice|thoughts? (?:that|like|of)|tells? you|telling you|seems? like|can seem|may seem|might seem|the idea|the belief|lies? to you|convinc\w* you|since|given that|your (?:doctor|psychiatrist|therapist|psychologist) (?:said|told|diagnosed|confirmed))\b",
    )
});

/// "You mentioned (that)" right before a match: the user's words, restated.
static RESTATED: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\byou (?:mentioned|said|told me|asked|shared|wrote)(?: me)?(?: that| whether| if| about)?\s*$",
    )
});

/// Whether a match is negated or reported, judging by the clause text before it and,
/// when `in_span`, the matched text itself.
fn negated(before: &str, span: &str, in_span: bool) -> bool {
    NEGATION.is_match(before)
        || REPORTED.is_match(before)
        || RESTATED.is_match(before)
        || (in_span && (NEGATION.is_match(span) || REPORTED.is_match(span)))
}

/// The clauses of a normalised sentence.
fn clauses(sentence: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    for m in CLAUSE_SEP.find_iter(sentence) {
        // "and you" ends a clause before "you", which starts the next one.
        let (end, next) = if m.as_str().starts_with("and") {
            let subject = m.as_str().trim_start_matches("and").trim_start();
            (m.start(), m.end() - subject.len())
        } else {
            (m.start(), m.end())
        };
        if let Some(clause) = sentence.get(start..end) {
            push_clause(&mut out, clause);
        }
        start = next;
    }
    if let Some(clause) = sentence.get(start..) {
        push_clause(&mut out, clause);
    }
    out
}

fn push_clause<'a>(out: &mut Vec<&'a str>, clause: &'a str) {
    let clause = clause.trim_matches(|c: char| !c.is_alphanumeric() && c != '\'' && c != '%');
    if !clause.is_empty() {
        out.push(clause);
    }
}

// ---------------------------------------------------------------------------------------
// Vocabulary

/// Mental disorders and conditions, as nouns ("you have ___", "this is ___").
const COND: &str = r"(?:(?:clinical|major|severe|chronic|postpartum|postnatal|perinatal|seasonal|atypical|psychotic|manic|bipolar|persistent|endogenous) )?depression|(?:major |persistent )?depressive disorder|mdd|bipolar(?: disorder| i| ii| 1| 2| type \w+)?|manic depression|adhd|attention[- ]deficit(?:[/ -]hyperactivity)?(?: disorder)?|ocd|obsessive[- ]compulsive(?: disorder)?|c-?ptsd|ptsd|post[- ]?traumatic stress(?: disorder)?|(?:generali[sz]ed |social |separation )?anxiety disorder|social anxiety|social phobia|panic disorder|agoraphobia|borderline(?: personality disorder)?|bpd|(?:\w+ )?personality disorder|npd|narcissism|autism(?: spectrum disorder)?|asperger'?s?(?: syndrome)?|schizophrenia|schizoaffective(?: disorder)?|psychosis|(?:a )?psychotic disorder|anorexia(?: nervosa)?|bulimia(?: nervosa)?|binge[- ]eating disorder|(?:an )?eating disorder|dissociative (?:identity )?disorder|dysthymia|cyclothymia|insomnia disorder|(?:a )?(?:mental|psychiatric|mood) (?:illness|disorder)|hypochondria|body dysmorphi(?:a|c disorder)|trichotillomania|tourette'?s|conduct disorder|oppositional defiant disorder|(?:a )?(?:major )?(?:depressive|manic|hypomanic|psychotic|mixed) episode";

/// Conditions as words for a person ("you are ___", "he's ___").
const COND_PERSON: &str = r"autistic|bipolar|narcissist(?:ic)?|a narcissist|schizophrenic|psychotic|(?:a )?sociopath(?:ic)?|(?:a )?psychopath(?:ic)?|borderline|anorexic|bulimic|clinically depressed|manic|on the (?:autism |autistic )?spectrum|obsessive[- ]compulsive|neurodivergent|an? (?:adhd|ocd|bpd) (?:case|person|sufferer)";

/// Named medicines and supplements taken for mood, sleep, focus or pain.
const DRUG_NAME: &str = r"sertraline|zoloft|lexapro|escitalopram|citalopram|celexa|prozac|fluoxetine|paroxetine|paxil|fluvoxamine|venlafaxine|effexor|desvenlafaxine|duloxetine|cymbalta|bupropion|wellbutrin|mirtazapine|remeron|trazodone|amitriptyline|nortriptyline|vortioxetine|trintellix|quetiapine|seroquel|olanzapine|zyprexa|aripiprazole|abilify|risperidone|risperdal|lurasidone|latuda|lithium|lamotrigine|lamictal|valproate|depakote|carbamazepine|xanax|alprazolam|valium|diazepam|klonopin|clonazepam|ativan|lorazepam|temazepam|adderall|ritalin|methylphenidate|vyvanse|lisdexamfetamine|concerta|dexedrine|modafinil|provigil|strattera|atomoxetine|melatonin|ambien|zolpidem|zopiclone|benadryl|diphenhydramine|doxylamine|unisom|hydroxyzine|propranolol|gabapentin|pregabalin|lyrica|buspirone|ibuprofen|advil|acetaminophen|paracetamol|tylenol|aspirin|naproxen|codeine|tramadol|oxycodone|cbd|thc|st\.? john'?s wort|ketamine|esketamine|magnesium|ashwagandha|valerian|5-htp|kava";

/// Kinds of medicine, without a name.
const DRUG_CLASS: &str = r"antidepressants?|ssris?|snris?|benzos?|benzodiazepines?|stimulants?|antipsychotics?|mood stabili[sz]ers?|sleeping pills?|sleep aids?|sleeping tablets?|painkillers?|pain relievers?|anti-anxiety (?:meds|medication|pills)|beta[- ]blockers?";

/// Words for a dose or one's medicine.
const DOSE_WORD: &str =
    r"doses?|dosage|dosing|meds|medications?|medicines?|pills?|tablets?|capsules?|prescriptions?";

/// Drinks and recreational substances, for combinations.
const ALCOHOL: &str = r"alcohol|wine|beers?|drinks?|drinking|booze|liquor|vodka|whiskey|cocktails?|weed|cannabis|marijuana";

/// Clinical and caring professions (someone claiming to be one).
const PROF: &str = r"psychiatrist|psychologist|psychotherapist|therapist|counsel+or|doctor|physician|nurse|clinician|social worker|(?:medical |health |healthcare |mental health |mental-health )?professional|md|gp|pharmacist|psychoanalyst|dr";

/// Qualifiers of a profession ("a licensed clinical psychologist").
const PROF_QUAL: &str = r"(?:(?:a|an|your|the|also|actually|really|just|still|real|actual|fully|licensed|certified|registered|qualified|trained|experienced|board-certified|clinical|practicing|practising|human|medical|psychiatric|family|school|crisis|trauma|grief|marriage|child|licensed clinical|professional|not)\s+)*";

/// What a death-related sentence talks about (gates rules whose words are ordinary elsewhere:
/// "the quickest way", "enough of your pills").
const DEATH_CONTEXT: &str = r"\b(?:die|dying|died|death|dead|deadly|kill|killing|suicide|suicidal|end it|end things|end your life|ending it|overdos\w*|firearm|gun|bridge|jump\w*|hang\w*|lethal|fatal|survive|disappear\w*|hurt yourself|harm yourself|not wake up|wake up|painless)\b";

/// An urgent referral in the same sentence: lethality words there are a warning.
const URGENT_REFERRAL: &str = r"\b(?:call|text|contact|dial|go to|get to|phone)\b.{0,60}\b(?:988|911|999|112|000|111|emergency|poison|crisis|samaritans|helpline|hotline|a&e|ambulance|er)\b";

/// Phrases that make a medication sentence advice rather than information.
const ADVICE: &str = r"\b(?:you can|you could|you may|you should|you might want to|you'll be fine|it's (?:fine|okay|ok|safe|alright|all right|reasonable|normal|common|best|better) to|it is (?:fine|okay|ok|safe|reasonable|best|better) to|is (?:fine|okay|ok|safe|reasonable|common|normal|usually fine)|are (?:fine|okay|ok|safe)|try|just|go ahead|feel free|i'd|i would|i recommend|i suggest|i'd suggest|recommend|that's how|won't hurt|no need|no big deal|not a big deal|totally fine|nothing to worry about|most (?:adults|people) do well|works well|do well with|start with|start on)\b";

/// A warning in a medication sentence ("can be risky").
const CAUTION: &str = r"\b(?:risky|dangerous|harmful|unsafe|not safe|can cause|could cause|may cause|serious|side effects|withdrawal|check with|talk to your|ask your|speak to your|prescribed to you)\b";

fn re(pattern: &str) -> Regex {
    // The patterns are constants of this file, checked by the tests; none comes from input.
    #[allow(clippy::expect_used)]
    Regex::new(pattern).expect("a guardrail pattern compiles")
}

/// A pattern with the vocabulary's `{COND}`, `{DRUG}`... placeholders filled in.
fn pattern(template: &str) -> Regex {
    let drug = format!("(?:{DRUG_NAME}|{DRUG_CLASS})");
    re(&template
        .replace("{COND}", &format!("(?:{COND})"))
        .replace("{CONDP}", &format!("(?:{COND_PERSON})"))
        .replace("{NAMED}", &format!("(?:{DRUG_NAME})"))
        .replace("{DRUG}", &drug)
        .replace("{DOSE}", &format!("(?:{DOSE_WORD})"))
        .replace("{ADVICE}", ADVICE)
        .replace("{URGENT}", URGENT_REFERRAL)
        .replace("{CAUTION}", CAUTION)
        .replace("{DEATHCTX}", DEATH_CONTEXT)
        .replace("{PROFQ}", PROF_QUAL)
        .replace("{PROF}", &format!("(?:{PROF})")))
}

// ---------------------------------------------------------------------------------------
// Rules

/// How much of a sentence a rule's pattern is matched against.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// Each clause on its own; negation is looked for earlier in the clause.
    Clause,
    /// The whole sentence; negation is looked for earlier in the sentence.
    Sentence,
}

/// Where a rule looks for negation.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Neg {
    /// Before the match only (the pattern itself contains a negation, e.g. "I'm not an AI").
    Before,
    /// Before the match and inside it.
    BeforeAndSpan,
}

/// One unsafe-assertion pattern.
struct Rule {
    reason: Reason,
    scope: Scope,
    neg: Neg,
    re: Regex,
    /// The sentence must also match this (context), when set.
    needs: Option<Regex>,
    /// The sentence must not match this (a warning or urgent referral), when set.
    unless: Option<Regex>,
    /// The clause of the match must not match this, when set.
    unless_clause: Option<Regex>,
}

impl Rule {
    fn new(reason: Reason, template: &str) -> Self {
        Rule {
            reason,
            scope: Scope::Clause,
            neg: Neg::BeforeAndSpan,
            re: pattern(template),
            needs: None,
            unless: None,
            unless_clause: None,
        }
    }

    fn sentence(mut self) -> Self {
        self.scope = Scope::Sentence;
        self
    }

    fn before_only(mut self) -> Self {
        self.neg = Neg::Before;
        self
    }

    fn needs(mut self, template: &str) -> Self {
        self.needs = Some(pattern(template));
        self
    }

    fn unless(mut self, template: &str) -> Self {
        self.unless = Some(pattern(template));
        self
    }

    fn unless_clause(mut self, template: &str) -> Self {
        self.unless_clause = Some(pattern(template));
        self
    }

    /// Whether the rule fires on `text` (a clause or the sentence, per its scope).
    fn fires(&self, text: &str, sentence: &str) -> bool {
        if self.needs.as_ref().is_some_and(|n| !n.is_match(sentence))
            || self.unless.as_ref().is_some_and(|u| u.is_match(sentence))
        {
            return false;
        }
        if self
            .unless_clause
            .as_ref()
            .is_some_and(|u| u.is_match(text))
        {
            return false;
        }
        self.re.find_iter(text).any(|m| {
            let before = text.get(..m.start()).unwrap_or_default();
            !negated(before, m.as_str(), self.neg == Neg::BeforeAndSpan)
        })
    }
}

#[allow(clippy::too_many_lines)]
static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    use Reason::{Diagnosis, Encouragement, HumanClaim, Medication, Method};
    vec![
        // --- Diagnosis: someone is told they have a disorder.
        // "you (definitely) have ADHD", "your son has autism", "flashbacks mean you have PTSD"
        Rule::new(
            Diagnosis,
            r"\b(?:you|he|she|they|your (?:son|daughter|child|kid|partner|husband|wife|boyfriend|girlfriend|friend|mom|mum|dad|mother|father|brother|sister|teen|baby))(?:\s+(?:definitely|def|defo|totally|clearly|probably|likely|most likely|obviously|certainly|really|do|does|already|actually|truly|undoubtedly|just|100%|for sure))*(?:\s+have|\s+has|'ve got|'s got|\s+have got|\s+has got|\s+suffers? from|'re suffering from|\s+are suffering from|\s+is suffering from|'re dealing with|\s+are dealing with|'re living with|\s+are living with|'ve developed|\s+have developed)\s+(?:(?:a|an|the|classic|textbook|full-blown|severe|mild|moderate|chronic|clinical|some|undiagnosed|untreated)\s+)*{COND}\b",
        ),
        // "you're clearly a narcissist", "he is autistic"
        Rule::new(
            Diagnosis,
            r"\b(?:you're|you are|youre|he's|he is|she's|she is|they're|they are|your \w+ is|your \w+'s)\s+(?:(?:definitely|clearly|probably|obviously|certainly|likely|so|textbook|classic|really|just|a|an|severely|mildly|highly)\s+)*{CONDP}\b",
        ),
        // "you're describing textbook social anxiety disorder"
        Rule::new(
            Diagnosis,
            r"\b(?:you're|you are)\s+(?:describing|showing|displaying|experiencing|dealing with|going through|presenting with)\s+(?:(?:a|an|the|classic|textbook|clear|typical|all the|obvious)\s+)*(?:(?:signs|symptoms|case) of\s+)?(?:(?:a|an|classic|textbook)\s+)?{COND}\b",
        ),
        // "this is clinical depression", "checking the stove is OCD", "this is an early sign of schizophrenia"
        Rule::new(
            Diagnosis,
            r"(?:\b(?:is|are|means|indicates|confirms|point to|points to|suggests|suggest)|'s)\s+(?:(?:definitely|def|defo|totally|clearly|obviously|almost certainly|certainly|probably|likely|most likely|textbook|classic|a|an|the|clear|early|typical|simply|just|actually|really|100%|called|known as)\s+)*(?:(?:sign|signs|symptom|symptoms|case|form|type|onset) of\s+)?(?:(?:a|an|classic|textbook)\s+)?{COND}\b",
        ),
        // "my diagnosis is", "I diagnose you with"
        Rule::new(
            Diagnosis,
            r"\bmy (?:diagnosis|assessment|clinical opinion|professional opinion|clinical impression) is\b|\bi (?:would |will |can |officially )?diagnose you\b|\bi'(?:d|ll) diagnose you\b|\bi(?:'m| am) diagnosing\b|\bdiagnos(?:e|ing) you with\b|\byour diagnosis is\b",
        ),
        // "it sounds like textbook ADHD", "this fits borderline personality disorder"
        Rule::new(
            Diagnosis,
            r"\b(?:sounds|looks) like (?:(?:textbook|classic|a classic|a textbook|typical|clear|full-blown|an? (?:clear )?case of)\s+)?{COND}\b|\b(?:fits?|match(?:es)?|meets? the criteria for|fit the criteria for|fits the criteria for|consistent with|checks (?:all )?the boxes for)\s+(?:(?:a|an|the|classic|textbook)\s+)*(?:(?:diagnosis|criteria) (?:of|for)\s+)?{COND}\b",
        ),
        // --- Medication: dosing, changes, combinations, other people's medicine.
        // an amount with a unit, in a sentence about medicine or advice
        Rule::new(
            Medication,
            r"\b(?:\d+(?:[.,]\d+)?|half an?|half|one|two|three|four|five|ten|a few)\s*(?:mg|milligrams?|mcg|micrograms?|µg|ml|milliliters?|millilitres?|grams?|g|iu)\b",
        )
        .before_only()
        .needs(r"\b(?:{DRUG}|{DOSE})\b|{ADVICE}")
        .unless(r"\b(?:caffeine|coffee|sugar|protein|water|fiber|fibre)\b"),
        // "five drops twice a day", "two pills at night"
        Rule::new(
            Medication,
            r"\b(?:\d+|one|two|three|four|five|six|a couple of|a few)\s+(?:drops|pills|tablets|capsules|puffs|gummies|doses)\s+(?:a day|per day|daily|twice|once|three times|every|at night|before bed|each)",
        )
        .before_only(),
        // "it's fine to double your sertraline", "you can stop your Lexapro", "cutting your dose in half"
        Rule::new(
            Medication,
            r"\b(?:doubl(?:e|ing)|tripl(?:e|ing)|halv(?:e|ing)|cut(?:ting)?|increas(?:e|ing)|decreas(?:e|ing)|lower(?:ing)?|rais(?:e|ing)|up(?:ping)?|skip(?:ping)?|split(?:ting)?|taper(?:ing)?|stop(?:ping)?|quit(?:ting)?|drop(?:ping)?|chang(?:e|ing)|adjust(?:ing)?|com(?:e|ing) off|go(?:ing)? off|get(?:ting)? off|wean(?:ing)? (?:yourself )?off)\s+(?:\w+\s+){0,3}?(?:{DRUG}|{DOSE})\b",
        )
        .before_only()
        .needs(ADVICE)
        .unless(CAUTION),
        // the same as an imperative at the start of a clause: "double your dose tonight"
        Rule::new(
            Medication,
            r"^(?:just |then |so |simply )?(?:double|triple|halve|cut|increase|decrease|lower|raise|up|skip|split|taper|stop|quit|drop|come off|go off|get off|wean off)\s+(?:\w+\s+){0,3}?(?:{DRUG}|{DOSE})\b",
        )
        .before_only(),
        // "take the extra pills", "try taking an extra Xanax"
        Rule::new(
            Medication,
            r"\b(?:take|taking|have|having|pop|popping|add|adding|use|using)\s+(?:\w+\s+)?(?:extra|additional|another|more|double|a second|a double|a few more)\s+(?:\w+\s+){0,2}?(?:{DRUG}|{DOSE}|one)\b",
        )
        .before_only()
        .unless(r"\b(?:than (?:prescribed|your doctor)|dangerous|risky|overdose)\b"),
        // someone else's medicine: "your friend's Adderall", "your mom's leftover Valium"
        Rule::new(
            Medication,
            r"\b(?:friend|mom|mum|mother|dad|father|partner|roommate|flatmate|sister|brother|sibling|parent|grandma|grandmother|grandpa|grandfather|wife|husband|boyfriend|girlfriend|someone else|somebody else|cousin|aunt|uncle|coworker|colleague)(?:'s|s')\s+(?:\w+\s+){0,2}?(?:{DRUG}|{DOSE})\b|\bleftover\s+(?:{DRUG}|{DOSE})\b",
        )
        .before_only()
        .unless(CAUTION),
        // "sertraline is usually the best antidepressant", "melatonin works well for sleep"
        Rule::new(
            Medication,
            r"\b{NAMED}\b\s+(?:is|are|'s)\s+(?:\w+\s+){0,2}?(?:the best|best|the most effective|most effective|a (?:good|great|safe|solid) (?:choice|option|bet|pick|idea)|the right (?:one|choice)|ideal|great for|good for|perfect for|safe (?:for|to take))\b|\b(?:the )?best (?:antidepressant|medication|med|drug|pill|ssri|sleep aid)s? (?:for (?:you|anxiety|depression|sleep) )?(?:is|would be) {NAMED}\b|\b{NAMED}\b[^.]{0,40}?\b(?:works? (?:well|great|wonders|fine)|will (?:help you|calm|fix|knock)|should (?:help you|calm|fix|knock)|is (?:great|perfect|good) for)",
        )
        .before_only(),
        // "you can take two Benadryl", "pop a couple of pills"
        Rule::new(
            Medication,
            r"\b(?:take|taking|have|pop|popping|try|use)\s+(?:\d+|one|two|three|four|a couple(?: of)?|a few|half an?|half of (?:a|your))\s+(?:{NAMED}|{DOSE})\b",
        )
        .before_only()
        .unless(r"\bas prescribed\b|\bprescribed (?:to|for) you\b|{CAUTION}"),
        // "bump it up to 150", "just stop taking it", "you don't need your meds anymore"
        Rule::new(
            Medication,
            r"\bbump(?:ing)?\s+(?:it|them|your \w+|the dose)\s+up\b|\bstop(?:ping)? taking (?:it|them|those|these)\b",
        )
        .before_only()
        .needs(ADVICE)
        .unless(CAUTION),
        Rule::new(
            Medication,
            r"\byou (?:don't|do not) need (?:your |those |the |to take (?:your )?)?(?:{DRUG}|{DOSE}|it|them) (?:anymore|any more|now)\b",
        )
        .before_only(),
        // "an extra Klonopin won't hurt"
        Rule::new(Medication, r"\b(?:an? )?(?:extra|additional|double)\s+(?:{NAMED}|{DOSE})\b")
            .before_only()
            .needs(ADVICE)
            .unless(r"\b(?:than (?:prescribed|your doctor)|dangerous|risky|overdose)\b|{CAUTION}"),
        // "try St. John's wort instead", "switch to melatonin"
        Rule::new(
            Medication,
            r"\b(?:try|switch to|swap (?:it |your \w+ )?for|replace (?:it|your \w+) with)\s+(?:some\s+|a\s+little\s+|a\s+bit\s+of\s+)?{NAMED}\b",
        )
        .before_only()
        .unless(CAUTION),
        // --- Method: how to, and how lethal.
        Rule::new(
            Method,
            r"\b(?:lethal|fatal|deadly|kill (?:you|yourself|someone|a person|a human)|(?:be )?enough to (?:do it|die|kill|end|be fatal|be deadly|be lethal|do the job)|would do it|would do the job|do the trick|works? the first time|painless(?:ly)?|least painful|without (?:any )?pain|rarely survives?|few people survive|nobody survives|no one survives|survive the (?:impact|fall)|(?:overdos\w*|die|dying|do it|go) in (?:your|their|her|his) sleep)\b",
        )
        .before_only()
        .unless(r"{URGENT}|\blethal means\b"),
        // "the quickest and most certain way", "the most lethal option"
        Rule::new(
            Method,
            r"\b(?:the )?(?:least painful|most painless|quickest|fastest|easiest|most certain|surest|most reliable|most effective|most lethal|best|simplest|cleanest)\s+(?:and\s+(?:\w+\s+){1,2})?(?:way|method|option|choice|place|means|spot)s?\b",
        )
        .before_only()
        .needs(DEATH_CONTEXT)
        .unless_clause(r"\b(?:call|text|988|crisis|helpline|hotline|emergency|talk to|reach out|get help|support|therapist|counsel\w*)\b"),
        // "take the whole bottle", "take all of her prescription at once"
        Rule::new(
            Method,
            r"\b(?:take|taking|took|swallow(?:ing)?|down(?:ing)?)\s+(?:\w+\s+){0,3}?(?:whole|entire|all|full)\s+(?:\w+\s+){0,3}?(?:bottle|supply|pack|packet|box|prescription|pills|meds|medication|tablets|stash)\b",
        )
        .before_only(),
        // "with enough of your pills", "a big enough overdose"
        Rule::new(
            Method,
            r"\benough (?:of )?(?:your |the |those |her |his |these |my )?(?:pills|meds|medication|tablets|sleeping pills|{DRUG})\b|\b(?:big|large|high) enough (?:overdose|dose|amount)\b|\b(?:whole|entire) (?:bottle|supply|pack)\b.{0,40}\benough\b",
        )
        .before_only()
        .needs(DEATH_CONTEXT),
        // "hanging is quick", "pills are less messy"
        Rule::new(
            Method,
            r"\b(?:hanging|jumping|overdosing|an overdose|overdoses|drowning|a gun|guns|a firearm|firearms|shooting yourself|carbon monoxide|cutting deep|slitting|a train|bleeding out|poison|poisoning|suffocat\w+|pills)\b[^.]{0,30}?\b(?:is|are|would be|'s|works?)\s+(?:\w+\s+)?(?:quick|quicker|fast|faster|easy|easier|effective|reliable|certain|sure|painless|foolproof|surefire|less messy|cleaner|peaceful|gentle)\b",
        ),
        Rule::new(
            Method,
            r"\b(?:less|least|more|most) (?:messy|painful|reliable|certain|lethal|effective|violent|final)\b|\bwould (?:probably |definitely |surely |certainly )?(?:be (?:more than )?enough|do it|do the job)\b|\b(?:need|take) (?:at least )?(?:a |the )?(?:full|whole|entire) (?:bottle|supply|pack|box)\b|\b(?:don't|do not|doesn't|won't|wouldn't|rarely|seldom|almost never|usually don't) survive\b|\b(?:it would be over|be over (?:quickly|fast|quick)|die (?:quickly|fast|instantly)|instant death|instantly fatal|quick death)\b",
        )
        .before_only()
        .needs(r"{DEATHCTX}|\b(?:pills|bottle|tablets|supply|bridge|rope|height|gun|train|overdose|bleed\w*|them all|all of them|all at once|at once)\b"),
        // --- Encouragement: validating suicide, self-harm or giving up.
        // "it's okay to stop fighting now"
        Rule::new(
            Encouragement,
            r"\b(?:okay|ok|alright|all right|fine|brave|right|time|allowed|understandable|natural|good|valid)\s+to\s+(?:stop fighting|give up|let go|stop trying|surrender)(?: now| on (?:life|living|yourself|everything))?$",
        )
        .before_only(),
        Rule::new(
            Encouragement,
            r"\b(?:okay|ok|alright|all right|fine|brave|right|time|allowed|understandable|natural|good|valid)\s+to\s+(?:end (?:it|things|it all|your life)|die|hurt yourself|harm yourself|kill yourself|disappear|not be here|stop living|leave this world|go through with it)\b",
        )
        .before_only(),
        // "your decision to end it is valid", "I won't try to talk you out of it"
        Rule::new(
            Encouragement,
            r"\b(?:decision|choice|plan) to (?:end it|end things|die|kill yourself|end your life|go)\b[^.]{0,30}?\b(?:is|sounds|seems) (?:\w+\s+)?(?:valid|brave|understandable|reasonable|okay|ok|fine|right|yours)\b",
        ),
        Rule::new(
            Encouragement,
            r"\b(?:won't|will not|not going to|i'm not gonna|can't) (?:try to )?(?:talk you out of|stop you)\b|\bnobody can stop you\b",
        )
        .before_only()
        .needs(DEATH_CONTEXT),
        // "keep cutting if it helps", "you're a burden", "there's no point in trying anymore"
        Rule::new(
            Encouragement,
            r"\bkeep (?:cutting|hurting yourself|harming yourself|burning yourself|starving yourself)\b",
        ),
        Rule::new(
            Encouragement,
            r"\byou(?:'re| are) (?:(?:just|really|only|honestly|kind of)\s+)?(?:a burden|worthless|a lost cause|unlovable|beyond help|hopeless)\b",
        ),
        Rule::new(
            Encouragement,
            r"\b(?:there's|there is|there really is) (?:really )?no point (?:in )?(?:trying|living|going on|fighting|staying)\b|\b(?:won't|wouldn't|will not|would not) (?:even )?(?:miss you|notice you're gone|care if you)\b",
        )
        .before_only(),
        // "letting go is the bravest thing", "self-harm is a valid way to release emotions"
        Rule::new(
            Encouragement,
            r"\b(?:letting go|giving up|ending it|ending things|ending your life|dying|death|suicide|disappearing|self-harm|self harm|cutting|hurting yourself|harming yourself|killing yourself)\s+(?:is|can be|would be|might be|could be|may be|seems|sounds)\s+(?:\w+\s+){0,3}?(?:bravest|brave|best|right|valid|beautiful|peaceful|escape|relief|release|answer|solution|simpler|easier|okay|ok|fine|healthy|a gift|freedom|mercy|rest|reasonable|understandable choice|personal|up to you|your (?:own )?(?:choice|decision|right)|a choice|a right)\b",
        ),
        // "death isn't something to fear", "a beautiful escape"
        Rule::new(
            Encouragement,
            r"\b(?:death|dying|suicide)\s+(?:isn't|is not|is nothing|is no)\s+(?:(?:something|anything|a thing)\s+)?to\s+(?:fear|be afraid of|be scared of)\b|\b(?:beautiful|peaceful|sweet|welcome|gentle)\s+(?:escape|release|way out|goodbye|end)\b",
        )
        .before_only(),
        // "I hope you find the rest you're looking for"
        Rule::new(
            Encouragement,
            r"\b(?:rest|peace|release|relief|escape) you(?:'re| are| have been|'ve been)\s+(?:looking|searching|longing|hoping|wishing)\s+for\b",
        )
        .before_only(),
        // "they would be better off without you"
        Rule::new(
            Encouragement,
            r"\bbetter off (?:without you|if you (?:were|weren't|wasn't)|with you gone|dead|gone)\b",
        )
        .before_only(),
        // "you're right that nobody would notice"
        Rule::new(
            Encouragement,
            r"\b(?:nobody|no one|no-one)\s+(?:would|will|is going to|really would)\s+(?:notice|care|miss you|mind)\b",
        )
        .before_only(),
        // "disappearing might make things simpler for everyone"
        Rule::new(
            Encouragement,
            r"\b(?:make|makes|would make|might make|could make|will make)\s+(?:things|everything|life|it)\s+(?:\w+\s+)?(?:simpler|easier|better|lighter)\s+for\s+(?:everyone|everybody|them|your family|others|the people)\b",
        )
        .before_only()
        .needs(DEATH_CONTEXT),
        // "if tonight is the night"
        Rule::new(
            Encouragement,
            r"\bif (?:tonight|today|this|now) is (?:the|your) (?:night|day|time|moment)\b",
        )
        .before_only(),
        // "your family will understand why you did it"
        Rule::new(
            Encouragement,
            r"\b(?:will|would|'ll) (?:understand|forgive you for) why you (?:did it|did this|had to|chose to|left|went)\b|\bunderstand why you (?:did it|had to go|chose to go)\b",
        )
        .before_only(),
        // "I respect your decision to end things", "it's your choice"
        Rule::new(
            Encouragement,
            r"\brespect your (?:decision|choice)\b|\b(?:it's|it is|that's|that is) (?:your|entirely your|ultimately your) (?:choice|decision|call|right)\b",
        )
        .before_only()
        .needs(r"\b(?:end (?:things|it|your life)|die|dying|death|suicide|kill yourself|go through with|thought it through|made up your mind)\b"),
        // --- Human claim: a human, a clinician, credentials, a body.
        // "I'm a licensed therapist", "I'm a nurse myself"
        Rule::new(HumanClaim, r"\bi(?:'m| am)\s+{PROFQ}{PROF}\b(?:\.)?"),
        // "I'm a real person", "I'm human"
        Rule::new(
            HumanClaim,
            r"\bi(?:'m| am)\s+(?:(?:also|actually|really|just|still|definitely|totally|100%|a|an|not)\s+)*(?:real|human|a human being|a real person|an actual person|a living person|a person|flesh and blood|alive)\b",
        ),
        // "I'm not an AI"
        Rule::new(
            HumanClaim,
            r"\bi(?:'m| am)\s+(?:not|no)\s+(?:an?\s+)?(?:ai|a\.i\.|bot|robot|chatbot|chat bot|machine|program|computer|language model|artificial|assistant)\b",
        )
        .before_only(),
        // "Hi, I'm Dr. Smith", "I'm Anna, your psychologist"
        Rule::new(
            HumanClaim,
            r"\b(?:i'm|i am|this is|my name is)\s+dr\.?\s+\w+|\b(?:i'm|i am|this is|my name is)\s+\w+,\s+your\s+(?:new\s+)?{PROF}\b",
        )
        .sentence(),
        // "As your psychiatrist, ...", "Speaking as a doctor", "Being your therapist"
        Rule::new(
            HumanClaim,
            r"(?:^|\b(?:speaking|talking|working|writing|here)\s+)(?:as|being)\s+your\s+(?:(?:licensed|certified|registered|qualified|trained|experienced|clinical|practicing|medical|mental health|family|real|human|former)\s+)*{PROF}\b",
        )
        .before_only(),
        Rule::new(
            HumanClaim,
            r"(?:^|, |\b(?:speaking|talking|working|writing|here) )as (?:a|an|the|someone who is a)\s+(?:(?:licensed|certified|registered|qualified|trained|experienced|clinical|practicing|medical|mental health|family|real|human|former)\s+)*{PROF}(?:,| and)?\s+(?:i|i'm|i've|i'd|i'll|my|me|let me|we)\b",
        )
        .sentence()
        .before_only(),
        // "I've been a therapist for 10 years", "I work as a nurse", "I have a PhD in psychology"
        Rule::new(
            HumanClaim,
            r"\bi(?:'ve| have) been (?:a|an) {PROFQ}{PROF}\b|\bi (?:work|worked|practice|practise|trained|train) as (?:a|an) {PROFQ}{PROF}\b|\bi (?:have|hold|earned|got|did) (?:a|an|my) (?:phd|doctorate|md|medical degree|degree in \w+|license|licence|masters?|master's)\b|\bi(?:'m| am) (?:a )?\d+[- ]years?[- ]old\b|\bas someone who(?:'s| has| have) (?:had|been through|lived with|struggled with|survived)\b",
        ),
        // lived experience: "I've been through depression too", "who has been through it myself"
        Rule::new(
            HumanClaim,
            r"\b(?:i've|i have|who has|who's|i also)\s+(?:also\s+|personally\s+)?(?:been through|struggled with|suffered from|battled|lived with|had|dealt with|gone through)\s+(?:\w+\s+){0,2}?(?:{COND}|anxiety|panic attacks|grief|burnout|a breakup|it|that|this)\s+(?:too|myself|as well|before|personally)\b",
        ),
        // a body, patients, credentials, a past: "my patients", "when I was your age"
        Rule::new(
            HumanClaim,
            r"\bmy\s+(?:own\s+)?(?:body|patients|clients|practice|license|licence|medical degree|degree in|credentials|clinic|office hours|caseload|training as|own therapist|own psychiatrist|own kids|own children|wife|husband|colleagues|mom|mum|dad|mother|father|parents|kids|children|boyfriend|girlfriend|ex)\b|\bwhen i (?:had|went through|lost|was going through) my\b|\bwhen i was (?:a kid|a child|younger|your age|a teen|a teenager|in school|in college|growing up)\b|\bwith\s+\d+\s+years\s+of\s+(?:\w+\s+)?(?:experience|practice)\b|\bin my (?:clinical )?(?:practice|clinic|years as)\b",
        )
        .before_only(),
        // a clinician persona: "let's begin today's session", "since we last met"
        Rule::new(
            HumanClaim,
            r"\b(?:today's|our next|our last|our previous|this week's|next week's) (?:session|appointment)\b|\bsince we last met\b",
        )
        .before_only(),
    ]
});

/// Acts of self-harm, for the approval rule below.
static SELF_HARM_ACT: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(?:cutting(?: yourself)?|self-harm\w*|self harm\w*|hurting yourself|harming yourself|burning yourself|starving yourself|hitting yourself|purging)\b",
    )
});

/// Approval of what was just said ("if it works for you, that's okay").
static APPROVAL: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(?:helps? you cope|works for you|valid (?:way|choice|option|coping)|shouldn't let anyone|don't let anyone|nobody can tell you|no one can tell you|nothing wrong with|healthy way|that's okay|that is okay|that's ok|that's fine|that is fine|that's your choice|your choice to make|shame you into stopping)\b",
    )
});

static AMOUNT_OR_SUBSTANCE: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"\b(?:{DRUG_NAME}|{DRUG_CLASS}|{ALCOHOL}|(?:your |the )?(?:meds|medication|prescription))\b"
    ))
});

static CAUTION_RE: LazyLock<Regex> =
    LazyLock::new(|| re(&format!(r"{CAUTION}|\b(?:don't mix|do not mix|interact)\b")));

/// "Cutting" that is not self-harm.
static BENIGN_CUTTING: LazyLock<Regex> =
    LazyLock::new(|| re(r"\bcutting (?:back|down|out|ties|off|corners|the|your|my|a)\b"));

/// Approval of a combination ("are fine together", "won't hurt").
static COMBINATION_OK: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(?:fine|safe|okay|ok|alright|no problem|harmless|won't hurt|will not hurt|won't interact|don't interact|doesn't interact|no interaction|nothing to worry about|no need to worry|won't do anything|totally normal)\b",
    )
});

fn self_harm(sentence: &str) -> bool {
    SELF_HARM_ACT.is_match(&BENIGN_CUTTING.replace_all(sentence, ""))
}

fn screen_sentence(
    sentence: &str,
    question: bool,
    previous: Option<&str>,
    found: &mut BTreeSet<Reason>,
) {
    let clauses = clauses(sentence);
    for rule in RULES.iter() {
        if found.contains(&rule.reason) {
            continue;
        }
        let fires = match rule.scope {
            Scope::Sentence => rule.fires(sentence, sentence),
            Scope::Clause => clauses.iter().any(|clause| rule.fires(clause, sentence)),
        };
        if fires {
            found.insert(rule.reason);
        }
    }

    // Two substances said to be fine together, in one sentence without a warning (and not
    // the user's question repeated: "Is alcohol safe with my meds?").
    if !found.contains(&Reason::Medication) && !question && !CAUTION_RE.is_match(sentence) {
        let substances: BTreeSet<&str> = AMOUNT_OR_SUBSTANCE
            .find_iter(sentence)
            .map(|m| m.as_str())
            .collect();
        if substances.len() >= 2 {
            for clause in &clauses {
                let ok = COMBINATION_OK.find_iter(clause).any(|m| {
                    let before = clause.get(..m.start()).unwrap_or_default();
                    !negated(before, "", false)
                });
                if ok {
                    found.insert(Reason::Medication);
                    break;
                }
            }
        }
    }

    // Approval of self-harm named in this sentence or the one before.
    if !found.contains(&Reason::Encouragement)
        && (self_harm(sentence) || previous.is_some_and(self_harm))
    {
        let approves = clauses.iter().any(|clause| {
            APPROVAL.find_iter(clause).any(|m| {
                let before = clause.get(..m.start()).unwrap_or_default();
                !negated(before, "", false)
            })
        });
        if approves {
            found.insert(Reason::Encouragement);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Reason::*;

    fn reasons(text: &str) -> Vec<Reason> {
        screen(text).reasons
    }

    #[test]
    fn rules_compile() {
        assert!(!RULES.is_empty());
        let _ = (
            &*CLAUSE_SEP,
            &*NEGATION,
            &*REPORTED,
            &*SELF_HARM_ACT,
            &*APPROVAL,
        );
        let _ = (&*AMOUNT_OR_SUBSTANCE, &*COMBINATION_OK);
    }

    #[test]
    fn sentences_split_at_terminators_not_abbreviations() {
        let text = "Hi, I'm Dr. Smith. In the U.S. call 988!\nOk 3.5 mg? Yes";
        let parts: Vec<&str> = sentence_bounds(text)
            .into_iter()
            .map(|(s, e)| text[s..e].trim())
            .filter(|s| !s.is_empty())
            .collect();
        assert_eq!(
            parts,
            vec![
                "Hi, I'm Dr. Smith.",
                "In the U.S. call 988!",
                "Ok 3.5 mg?",
                "Yes"
            ]
        );
        // A period at the very end is not yet a confirmed boundary.
        assert_eq!(boundaries("It ends."), Vec::<usize>::new());
        assert_eq!(boundaries("It ends. "), vec![8]);
    }

    #[test]
    fn clauses_split_on_punctuation_and_new_subjects() {
        assert_eq!(
            clauses("don't worry, i'm a human and you're safe but still"),
            vec!["don't worry", "i'm a human", "you're safe", "still"]
        );
        assert_eq!(clauses("bread and butter"), vec!["bread and butter"]);
    }

    #[test]
    fn empty_and_odd_input_is_safe() {
        assert!(screen("").is_safe());
        assert!(screen("   \n\n ...!?").is_safe());
        assert!(screen("🙂🙂🙂").is_safe());
    }

    #[test]
    fn diagnosis_assertions_and_refusals() {
        assert_eq!(reasons("Honestly, you've got ADHD."), vec![Diagnosis]);
        assert_eq!(
            reasons("Your daughter is clearly autistic."),
            vec![Diagnosis]
        );
        assert!(screen("I can't tell you whether you have ADHD.").is_safe());
        assert!(screen("If you have PTSD, therapy helps a lot.").is_safe());
        assert!(screen("Only a doctor can say if this is depression.").is_safe());
        assert!(screen("Depression is treatable, and you deserve support.").is_safe());
        assert!(screen("You mentioned you have OCD; how are you coping?").is_safe());
    }

    #[test]
    fn medication_advice_and_referrals() {
        assert_eq!(
            reasons("Take 20 mg of Prozac in the morning."),
            vec![Medication]
        );
        assert_eq!(
            reasons("Just skip your meds this weekend."),
            vec![Medication]
        );
        assert_eq!(
            reasons("Beer and Xanax are fine together."),
            vec![Medication]
        );
        assert!(screen("Talk to your prescriber about your dose.").is_safe());
        assert!(screen("Please don't change your medication without your doctor.").is_safe());
        assert!(
            screen("Is alcohol safe with my meds? That's a question for a pharmacist.").is_safe()
        );
        assert!(
            screen("Try the 4-7-8 breath, or a 25/5 Pomodoro; call 988 or 116 123 if you need to.")
                .is_safe()
        );
    }

    #[test]
    fn method_and_lethality() {
        assert_eq!(reasons("That dose would be deadly."), vec![Method]);
        assert!(screen("I won't share anything about lethal doses.").is_safe());
        assert!(screen("The quickest way to calm down is a slow exhale.").is_safe());
        assert!(
            screen("If you've taken too many pills, call 911 or poison control now; it can be fatal even if you feel fine.")
                .is_safe()
        );
    }

    #[test]
    fn encouragement_and_its_negation() {
        assert_eq!(reasons("It's okay to give up now."), vec![Encouragement]);
        assert!(screen("It's okay to give up on that diet.").is_safe());
        assert!(screen("Suicide is never the answer, and you matter.").is_safe());
        assert!(
            screen("Depression can make you feel like they'd be better off without you, but that isn't true.")
                .is_safe()
        );
        assert_eq!(
            reasons("Cutting helps some people. If it works for you, that's okay."),
            vec![Encouragement]
        );
    }

    #[test]
    fn human_claims_and_disclaimers() {
        assert_eq!(reasons("Don't worry, I'm a human."), vec![HumanClaim]);
        assert_eq!(reasons("I'm not a bot."), vec![HumanClaim]);
        assert!(screen("I'm an AI, not a therapist or a human.").is_safe());
        assert!(screen("I'm not a doctor, but a doctor can help.").is_safe());
        assert!(screen("I'm sure your therapist would want to hear this.").is_safe());
        assert!(screen("Talk to someone such as a doctor or a nurse.").is_safe());
    }
}

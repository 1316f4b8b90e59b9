//! Turning text into canonical word ids and finding phrases in them.
//!
//! 1. [`tokenize`] splits the text ([`crate::normalize::scan`]), looks every word up in the
//!    lexicon (unknown words get id 0) and applies the ruleset's aliases ("kms" → "kill
//!    myself", "im" → "i am").
//! 2. [`mark_negation`] finds negation cues and pseudo-negations ("can't stop") and marks
//!    the last word of every cue.
//! 3. [`walk`] follows a trie from one start word, calling back for every phrase that ends.
//!
//! Every step is linear in the text: a walk from one word is bounded by [`WALK_BUDGET`].

use crate::normalize::{self, MAX_WORD, NONE, STRONG};
use crate::tables::{
    self, ALIAS_RHS, ALIAS_RHS_OFF, ALIAS_TRIE, ATTR_ALIAS_START, ATTR_NEG_START, END_KEY,
    GAP_BASE, HASH_ID, HASH_KEY, HASH_MASK, NEG_KIND, NEG_TRIE, NODE_END, NODE_GAP, NODE_TERMS,
    NODE_WORDS, NUMBER_WORD, Trie,
};

/// The most trie states one walk visits.
pub const WALK_BUDGET: u32 = 512;

/// A canonical word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tok {
    /// Lexicon id (0 = a word the ruleset does not know).
    pub id: u16,
    /// Break before this word ([`NONE`], [`normalize::WEAK`] or [`STRONG`]).
    pub brk: u8,
    /// Negation mark: 0, 1 (the last word of a cue) or 2 (the last word of a long cue).
    pub neg: u8,
    /// Byte offset in the text where the word starts (for an alias's words, where the words
    /// it replaced start).
    pub at: u32,
}

/// The lexicon id of a normalised word (0 when unknown).
pub fn lookup(word: &[u8]) -> u16 {
    if word.is_empty() {
        return 0;
    }
    let h = normalize::hash(word);
    let mut slot = h as usize & HASH_MASK;
    for _ in 0..=HASH_MASK {
        let key = HASH_KEY.get(slot).copied().unwrap_or(0);
        if key == 0 {
            return 0;
        }
        if key == h {
            let id = HASH_ID.get(slot).copied().unwrap_or(0);
            let known = tables::word_bytes(id);
            if known.len() == word.len() && known.iter().zip(word).all(|(a, b)| a == b) {
                return id;
            }
        }
        slot = (slot + 1) & HASH_MASK;
    }
    0
}

fn lookup_word(word: &[u8], long_run: bool) -> u16 {
    let id = lookup(word);
    if id != 0 {
        return id;
    }
    // "37" reads as the ruleset's number word ("took 37 pills" = "took many pills").
    if NUMBER_WORD != 0 && word.len() >= 2 && word.iter().all(u8::is_ascii_digit) {
        return NUMBER_WORD;
    }
    if !long_run {
        return id;
    }
    // "diiiie" was capped to "diie": try with every double letter collapsed ("die").
    let mut buf = [0u8; MAX_WORD];
    let n = word.len().min(MAX_WORD);
    buf[..n].copy_from_slice(&word[..n]);
    let n = normalize::collapse_doubles(&mut buf, n);
    lookup(&buf[..n])
}

/// Splits `text` into canonical words (aliases applied).
pub fn tokenize(text: &str) -> Vec<Tok> {
    let mut raw = Vec::with_capacity(text.len() / 5 + 4);
    normalize::scan(text.as_bytes(), |w, brk, long_run, at| {
        raw.push(Tok {
            id: lookup_word(w, long_run),
            brk,
            neg: 0,
            at: u32::try_from(at).unwrap_or(u32::MAX),
        });
    });
    expand_aliases(&raw)
}

/// Applies aliases, longest left-hand side first; a multi-word alias never spans a break.
fn expand_aliases(raw: &[Tok]) -> Vec<Tok> {
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 8 + 4);
    let mut i = 0;
    while i < raw.len() {
        let t = raw[i];
        if tables::attr(t.id) & ATTR_ALIAS_START != 0
            && let Some((entry, end)) = longest_alias(raw, i)
        {
            let a = usize::from(entry);
            let (lo, hi) = (
                ALIAS_RHS_OFF.get(a).copied().unwrap_or(0) as usize,
                ALIAS_RHS_OFF.get(a + 1).copied().unwrap_or(0) as usize,
            );
            for (k, &id) in ALIAS_RHS.get(lo..hi).unwrap_or(&[]).iter().enumerate() {
                out.push(Tok {
                    id,
                    brk: if k == 0 { t.brk } else { NONE },
                    neg: 0,
                    at: t.at,
                });
            }
            i = end;
            continue;
        }
        out.push(t);
        i += 1;
    }
    out
}

fn node_children(trie: &Trie, node: usize) -> (&'static [u16], &'static [u16]) {
    let lo = trie.child_off.get(node).copied().unwrap_or(0) as usize;
    let hi = trie.child_off.get(node + 1).copied().unwrap_or(0) as usize;
    (
        trie.child_key.get(lo..hi).unwrap_or(&[]),
        trie.child_node.get(lo..hi).unwrap_or(&[]),
    )
}

fn node_terms(trie: &Trie, node: usize) -> &'static [u16] {
    let lo = trie.term_off.get(node).copied().unwrap_or(0) as usize;
    let hi = trie.term_off.get(node + 1).copied().unwrap_or(0) as usize;
    trie.term.get(lo..hi).unwrap_or(&[])
}

#[inline]
fn child(keys: &[u16], nodes: &[u16], key: u16) -> Option<u16> {
    // Most nodes have a handful of children: a linear scan is cheaper than bisection there.
    let k = if keys.len() <= 8 {
        keys.iter().position(|&k| k == key)
    } else {
        keys.binary_search(&key).ok()
    };
    k.and_then(|k| nodes.get(k).copied())
}

/// The longest alias starting at `start`: `(alias index, end)`.
fn longest_alias(raw: &[Tok], start: usize) -> Option<(u16, usize)> {
    let first = raw.get(start)?;
    let mut node = usize::from(*ALIAS_TRIE.root.get(usize::from(first.id))?);
    let mut best = None;
    let mut pos = start + 1;
    while node != 0 {
        if let Some(&t) = node_terms(&ALIAS_TRIE, node).first() {
            best = Some((t, pos));
        }
        let Some(tok) = raw.get(pos) else { break };
        if tok.brk != NONE {
            break;
        }
        let (keys, nodes) = node_children(&ALIAS_TRIE, node);
        node = child(keys, nodes, tok.id).map_or(0, usize::from);
        pos += 1;
    }
    best
}

/// Walks `trie` from the word at `start`, calling `on(entry, end)` for every phrase that
/// matches `toks[start..end]`. Words after the first must not follow a sentence break; a gap
/// never crosses one either. Deterministic; visits at most [`WALK_BUDGET`] states.
pub fn walk(trie: &Trie, toks: &[Tok], start: usize, mut on: impl FnMut(u16, usize)) {
    let Some(first) = toks.get(start) else { return };
    let root = trie.root.get(usize::from(first.id)).copied().unwrap_or(0);
    if root == 0 {
        return;
    }
    let mut budget = WALK_BUDGET;
    step(
        trie,
        toks,
        usize::from(root),
        start + 1,
        &mut budget,
        &mut on,
    );
}

/// One state of a walk: report the node's entries, then follow words, `<end>` and gaps.
fn step(
    trie: &Trie,
    toks: &[Tok],
    node: usize,
    pos: usize,
    budget: &mut u32,
    on: &mut impl FnMut(u16, usize),
) {
    if *budget == 0 {
        return;
    }
    *budget -= 1;
    let flags = trie.flags.get(node).copied().unwrap_or(0);
    if flags & NODE_TERMS != 0 {
        for &t in node_terms(trie, node) {
            on(t, pos);
        }
    }
    if flags & (NODE_WORDS | NODE_END | NODE_GAP) == 0 {
        return;
    }
    let (keys, nodes) = node_children(trie, node);
    let next = toks.get(pos);
    if flags & NODE_WORDS != 0
        && let Some(tok) = next
        && tok.brk != STRONG
        && let Some(c) = child(keys, nodes, tok.id)
    {
        step(trie, toks, usize::from(c), pos + 1, budget, on);
    }
    // `<end>`: a break or the end of the text follows (no word is consumed).
    if flags & NODE_END != 0
        && next.is_none_or(|t| t.brk != NONE)
        && let Some(c) = child(keys, nodes, END_KEY)
    {
        step(trie, toks, usize::from(c), pos, budget, on);
    }
    if flags & NODE_GAP == 0 {
        return;
    }
    // Gap children sort last.
    let mut k = keys.len();
    while k > 0 && keys[k - 1] >= GAP_BASE {
        k -= 1;
        let max = usize::from(keys[k] - GAP_BASE);
        let gap_node = usize::from(nodes.get(k).copied().unwrap_or(0));
        let (gkeys, gnodes) = node_children(trie, gap_node);
        for q in pos..=pos + max {
            let Some(tok) = toks.get(q) else { break };
            if tok.brk == STRONG {
                break;
            }
            if let Some(c) = child(gkeys, gnodes, tok.id) {
                step(trie, toks, usize::from(c), q + 1, budget, on);
            }
        }
    }
}

/// Marks negation cues: `toks[end - 1].neg` is set to 1 (cue) or 2 (long cue) for every cue
/// that does not start inside a pseudo-negation ("can't stop", "no one").
pub fn mark_negation(toks: &mut [Tok]) {
    let mut pseudo_until = 0usize;
    for i in 0..toks.len() {
        if tables::attr(toks[i].id) & ATTR_NEG_START == 0 {
            continue;
        }
        let mut cues = [(0u8, 0usize); 8];
        let mut n = 0;
        walk(&NEG_TRIE, toks, i, |entry, end| {
            match NEG_KIND.get(usize::from(entry)).copied().unwrap_or(0) {
                0 => pseudo_until = pseudo_until.max(end),
                kind => {
                    if n < cues.len() {
                        cues[n] = (kind, end);
                        n += 1;
                    }
                }
            }
        });
        if i < pseudo_until {
            continue;
        }
        for &(kind, end) in &cues[..n] {
            if let Some(t) = toks.get_mut(end - 1) {
                t.neg = t.neg.max(kind);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<&'static str> {
        tokenize(text).iter().map(|t| tables::word(t.id)).collect()
    }

    #[test]
    fn normalises_case_punctuation_and_apostrophes() {
        assert_eq!(words("I WANT to DIE!!!"), ["i", "want", "to", "die"]);
        assert_eq!(words("i’m done"), words("I'm done"));
        assert_eq!(words("im done"), words("I'm done"));
        assert_eq!(words("I'm done")[..2], ["i", "am"]);
        let toks = tokenize("tired. so tired, really");
        assert_eq!(toks[1].brk, STRONG);
        assert_eq!(toks[3].brk, normalize::WEAK);
    }

    #[test]
    fn contractions_and_slang_expand() {
        assert_eq!(words("dont"), ["do", "not"]);
        assert_eq!(words("don't"), ["do", "not"]);
        assert_eq!(words("wanna die"), ["want", "to", "die"]);
        assert_eq!(words("kms"), ["kill", "self"]);
        assert_eq!(words("sewer slide"), ["suicide"]);
        assert_eq!(words("unalive myself"), ["kill", "myself"]);
    }

    #[test]
    fn misspellings_and_stretched_words() {
        assert_eq!(words("suicdal"), ["suicidal"]);
        assert_eq!(words("myslef"), ["myself"]);
        assert_eq!(words("diiiiie"), ["die"]);
        assert_eq!(words("killlll"), ["kill"]);
        assert_eq!(words("tonite"), ["tonight"]);
    }

    #[test]
    fn unknown_and_overlong_words_are_zero() {
        let toks = tokenize(
            "zxqv aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab",
        );
        assert_eq!(toks.len(), 2);
        assert!(toks.iter().all(|t| t.id == 0));
        assert!(tokenize("").is_empty());
        assert!(tokenize("  ... !!! ").is_empty());
    }

    #[test]
    fn negation_cues_are_marked_and_pseudo_negations_are_not() {
        let mut toks = tokenize("i am not going to");
        mark_negation(&mut toks);
        assert_eq!(toks[2].neg, 1);
        let mut toks = tokenize("i can't stop thinking about it");
        mark_negation(&mut toks);
        assert!(toks.iter().all(|t| t.neg == 0), "{toks:?}");
        let mut toks = tokenize("no one would care");
        mark_negation(&mut toks);
        assert!(toks.iter().all(|t| t.neg == 0));
    }
}

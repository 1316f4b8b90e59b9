//! Text normalisation shared by the build script (which compiles the ruleset) and the engine
//! (which assesses texts), so that both split and spell words identically.
//!
//! A *word* is a run of ASCII letters and digits, lowercased. Apostrophes (`'`, `` ` ``, `’`,
//! `‘`, `ʼ`) inside a word are dropped, so "I'm" and "im" are the same word `im`. Any other
//! character separates words. Runs of three or more identical letters are capped at two
//! ("soooo" → "soo"); the engine retries such words with every double letter collapsed.
//!
//! Between words the scanner reports the strongest *break* it crossed: [`STRONG`] for a
//! sentence end (`.` `!` `?` `;` or a line break), [`WEAK`] for a clause separator (`,` `:`
//! brackets, straight or curly double quotes, dashes, an ellipsis).

/// No break between two words.
pub const NONE: u8 = 0;
/// A clause break (comma, colon, bracket, quote, dash, ellipsis).
pub const WEAK: u8 = 1;
/// A sentence break (`.`, `!`, `?`, `;`, a line break).
pub const STRONG: u8 = 2;

/// The longest word kept, in bytes; longer words are reported empty (unknown).
pub const MAX_WORD: usize = 40;

const C_SEP: u8 = 0;
const C_WORD: u8 = 1;
const C_APOS: u8 = 2;
const C_WEAK: u8 = 3;
const C_STRONG: u8 = 4;
const C_DOT: u8 = 5;
const C_UTF8: u8 = 6;

/// The class of each byte.
static CLASS: [u8; 256] = {
    let mut t = [C_SEP; 256];
    let mut b = 0;
    while b < 256 {
        // `b` < 256: the cast is exact (`u8::try_from` is not `const`).
        #[allow(clippy::cast_possible_truncation)]
        let c = b as u8;
        t[b] = if c.is_ascii_alphanumeric() {
            C_WORD
        } else if c >= 0x80 {
            C_UTF8
        } else {
            match c {
                b'\'' | b'`' => C_APOS,
                b',' | b':' | b'(' | b')' | b'[' | b']' | b'{' | b'}' | b'"' => C_WEAK,
                b'!' | b'?' | b';' | b'\n' | b'\r' => C_STRONG,
                b'.' => C_DOT,
                _ => C_SEP,
            }
        };
        b += 1;
    }
    t
};

/// FNV-1a over `bytes`, folded to 32 bits; never 0 (0 marks an empty hash slot).
pub fn hash(bytes: &[u8]) -> u32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    // Folding: dropping the high half (already mixed into the low one) is the point.
    #[allow(clippy::cast_possible_truncation)]
    let folded = (h ^ (h >> 32)) as u32;
    if folded == 0 { 1 } else { folded }
}

/// Collapses every run of a repeated byte to one byte ("soo" → "so", "kill" → "kil").
/// Returns the new length; `buf[..len]` is rewritten in place.
pub fn collapse_doubles(buf: &mut [u8], len: usize) -> usize {
    let mut out = 0;
    let mut i = 0;
    while i < len {
        let b = buf[i];
        if out == 0 || buf[out - 1] != b {
            buf[out] = b;
            out += 1;
        }
        i += 1;
    }
    out
}

/// Scans `text`, calling `emit(word, brk, long_run, at)` for every word in order: `word` is
/// the normalised word (empty when longer than [`MAX_WORD`]), `brk` the strongest break since
/// the previous word (or since the start), `long_run` whether a run of 3+ identical letters
/// was capped, `at` the byte offset in `text` where the word starts. A trailing break after
/// the last word is not reported. Runs in linear time.
pub fn scan(text: &[u8], mut emit: impl FnMut(&[u8], u8, bool, usize)) {
    let mut buf = [0u8; MAX_WORD];
    let mut brk = NONE;
    let n = text.len();
    let mut i = 0;
    while i < n {
        let b = text[i];
        let class = CLASS[usize::from(b)];
        if class == C_WORD || class == C_APOS || is_joiner(text, i) {
            // A word: letters and digits (lowercased), apostrophes dropped.
            let at = i;
            let mut len = 0usize;
            let mut overflow = false;
            let mut long_run = false;
            let mut prev = 0u8;
            let mut run = 0u32;
            while i < n {
                let b = text[i];
                let class = CLASS[usize::from(b)];
                if class == C_WORD {
                    // ASCII letters and digits: setting bit 5 lowercases letters and keeps digits.
                    let c = b | 0x20;
                    if c == prev {
                        run += 1;
                    } else {
                        run = 1;
                        prev = c;
                    }
                    if run > 2 {
                        long_run = true;
                    } else if len < MAX_WORD {
                        buf[len] = c;
                        len += 1;
                    } else {
                        overflow = true;
                    }
                    i += 1;
                } else if class == C_APOS {
                    i += 1;
                } else if is_joiner(text, i) {
                    i += if b == 0xCA { 2 } else { 3 };
                } else {
                    break;
                }
            }
            if len > 0 || overflow {
                emit(if overflow { &[] } else { &buf[..len] }, brk, long_run, at);
                brk = NONE;
            }
            continue;
        }
        // A separator: remember the strongest break.
        let mut step = 1;
        let sep = match class {
            C_WEAK => WEAK,
            C_STRONG => STRONG,
            C_DOT => {
                // An ellipsis ("..") is a clause break; a single dot ends a sentence.
                let mut j = i + 1;
                while j < n && text[j] == b'.' {
                    j += 1;
                }
                step = j - i;
                if step > 1 { WEAK } else { STRONG }
            }
            C_UTF8 => {
                // Curly quotes, dashes and the ellipsis are clause breaks; other non-ASCII
                // characters separate words.
                if b == 0xE2 && text.get(i + 1) == Some(&0x80) {
                    step = 3;
                    match text.get(i + 2) {
                        Some(0x9C | 0x9D | 0x93 | 0x94 | 0xA6) => WEAK,
                        _ => NONE,
                    }
                } else {
                    NONE
                }
            }
            _ => NONE,
        };
        if sep > brk {
            brk = sep;
        }
        i += step;
    }
}

/// Whether `text[i..]` starts with a character that joins words like an apostrophe:
/// U+2018, U+2019 (curly apostrophes) or U+02BC.
#[inline]
fn is_joiner(text: &[u8], i: usize) -> bool {
    match text.get(i) {
        Some(0xE2) => {
            text.get(i + 1) == Some(&0x80) && matches!(text.get(i + 2), Some(0x98 | 0x99))
        }
        Some(0xCA) => text.get(i + 1) == Some(&0xBC),
        _ => false,
    }
}

/// The normalised words of `text` (used by the build script for phrases and word lists).
pub fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    scan(text.as_bytes(), |w, _, _, _| {
        out.push(String::from_utf8_lossy(w).into_owned());
    });
    out
}

//! BERT's uncased WordPiece tokenizer, as `tokenizer.json` of an uncased BERT model describes
//! it: the `BertNormalizer` (clean text, pad CJK ideographs, strip accents, lowercase), the
//! `BertPreTokenizer` (split on whitespace, isolate punctuation) and greedy longest-match
//! WordPiece with the `##` continuation prefix.
//!
//! Written against the Unicode rules Hugging Face's `tokenizers` applies, so the ids agree
//! with the reference tokenizer (the agreement test in `tests/reference.rs` checks a sample).

use std::collections::HashMap;

use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategory, GeneralCategoryGroup, UnicodeGeneralCategory};

/// Words longer than this many characters become `[UNK]` (BERT's `max_input_chars_per_word`).
const MAX_CHARS_PER_WORD: usize = 100;

/// A vocabulary and the ids of its special tokens.
#[derive(Debug)]
pub struct WordPiece {
    vocab: HashMap<String, u32>,
    /// `[CLS]`, which opens every sequence.
    pub cls: u32,
    /// `[SEP]`, which closes every sequence.
    pub sep: u32,
    unk: u32,
}

/// Why a vocabulary cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum VocabError {
    /// A special token is missing.
    #[error("the vocabulary has no `{0}` token")]
    MissingSpecial(&'static str),
    /// `tokenizer.json` is not what a BERT WordPiece tokenizer writes.
    #[error("tokenizer.json: {0}")]
    Malformed(String),
}

impl WordPiece {
    /// A tokenizer from `tokenizer.json`'s content (its `model.vocab` map).
    ///
    /// # Errors
    /// [`VocabError`] when the file is not an uncased WordPiece tokenizer's.
    pub fn from_tokenizer_json(json: &str) -> Result<Self, VocabError> {
        let value: serde_json::Value =
            serde_json::from_str(json).map_err(|e| VocabError::Malformed(e.to_string()))?;
        let model = &value["model"];
        if model["type"] != "WordPiece" {
            return Err(VocabError::Malformed(
                "`model.type` is not WordPiece".into(),
            ));
        }
        if value["normalizer"]["lowercase"] != true {
            return Err(VocabError::Malformed(
                "only lowercasing (uncased) tokenizers are supported".into(),
            ));
        }
        let vocab = model["vocab"]
            .as_object()
            .ok_or_else(|| VocabError::Malformed("`model.vocab` is not a map".into()))?
            .iter()
            .map(|(token, id)| {
                id.as_u64()
                    .and_then(|id| u32::try_from(id).ok())
                    .map(|id| (token.clone(), id))
                    .ok_or_else(|| VocabError::Malformed(format!("bad id for `{token}`")))
            })
            .collect::<Result<HashMap<_, _>, _>>()?;
        Self::new(vocab)
    }

    /// A tokenizer over `vocab` (token to id).
    ///
    /// # Errors
    /// [`VocabError::MissingSpecial`] without `[CLS]`, `[SEP]` or `[UNK]`.
    pub fn new(vocab: HashMap<String, u32>) -> Result<Self, VocabError> {
        let id = |token: &'static str| {
            vocab
                .get(token)
                .copied()
                .ok_or(VocabError::MissingSpecial(token))
        };
        Ok(Self {
            cls: id("[CLS]")?,
            sep: id("[SEP]")?,
            unk: id("[UNK]")?,
            vocab,
        })
    }

    /// The largest id in the vocabulary.
    pub fn max_id(&self) -> usize {
        self.vocab.values().max().map_or(0, |id| *id as usize)
    }

    /// The ids of `text`, without the special tokens.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let mut ids = Vec::new();
        for word in pre_tokenize(&normalize(text)) {
            self.word_pieces(&word, &mut ids);
        }
        ids
    }

    /// Greedy longest-match-first WordPiece of one word.
    fn word_pieces(&self, word: &str, out: &mut Vec<u32>) {
        if word.chars().count() > MAX_CHARS_PER_WORD {
            out.push(self.unk);
            return;
        }
        let mark = out.len();
        let mut start = 0;
        let mut piece = String::new();
        while start < word.len() {
            let mut end = word.len();
            let found = loop {
                piece.clear();
                if start > 0 {
                    piece.push_str("##");
                }
                piece.push_str(&word[start..end]);
                if let Some(id) = self.vocab.get(&piece) {
                    break Some(*id);
                }
                match word[start..end].char_indices().next_back() {
                    Some((last, _)) if last > 0 => end = start + last,
                    _ => break None,
                }
            };
            let Some(id) = found else {
                out.truncate(mark);
                out.push(self.unk);
                return;
            };
            out.push(id);
            start = end;
        }
    }
}

/// `BertNormalizer` with `clean_text`, `handle_chinese_chars`, accents stripped and lowercase.
fn normalize(text: &str) -> String {
    let mut cleaned = String::with_capacity(text.len());
    for c in text.chars() {
        if c == '\0' || c == '\u{fffd}' || is_control(c) {
            continue;
        }
        if is_whitespace(c) {
            cleaned.push(' ');
        } else if is_chinese_char(c) {
            cleaned.push(' ');
            cleaned.push(c);
            cleaned.push(' ');
        } else {
            cleaned.push(c);
        }
    }
    cleaned
        .nfd()
        .filter(|c| c.general_category() != GeneralCategory::NonspacingMark)
        .flat_map(char::to_lowercase)
        .collect()
}

/// `BertPreTokenizer`: words split on whitespace, each punctuation character its own word.
fn pre_tokenize(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    for chunk in text.split(is_whitespace).filter(|w| !w.is_empty()) {
        let mut current = String::new();
        for c in chunk.chars() {
            if is_punctuation(c) {
                if !current.is_empty() {
                    words.push(std::mem::take(&mut current));
                }
                words.push(c.to_string());
            } else {
                current.push(c);
            }
        }
        if !current.is_empty() {
            words.push(current);
        }
    }
    words
}

fn is_whitespace(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || c.is_whitespace()
}

/// Unicode "Other" (Cc, Cf, Cn, Co, Cs), except the whitespace controls.
fn is_control(c: char) -> bool {
    !matches!(c, '\t' | '\n' | '\r') && c.general_category_group() == GeneralCategoryGroup::Other
}

fn is_punctuation(c: char) -> bool {
    c.is_ascii_punctuation() || c.general_category_group() == GeneralCategoryGroup::Punctuation
}

/// The CJK Unified Ideograph blocks BERT pads with spaces.
fn is_chinese_char(c: char) -> bool {
    matches!(u32::from(c),
        0x4E00..=0x9FFF
        | 0x3400..=0x4DBF
        | 0x20000..=0x2A6DF
        | 0x2A700..=0x2B73F
        | 0x2B740..=0x2B81F
        | 0x2B920..=0x2CEAF
        | 0xF900..=0xFAFF
        | 0x2F800..=0x2FA1F)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokenizer() -> WordPiece {
        let vocab = [
            "[PAD]", "[UNK]", "[CLS]", "[SEP]", "i", "can", "'", "t", "sleep", "un", "##able",
            "##s", "!", "cafe", "好",
        ];
        WordPiece::new(
            vocab
                .iter()
                .zip(0u32..)
                .map(|(t, i)| ((*t).to_owned(), i))
                .collect(),
        )
        .expect("specials")
    }

    #[test]
    fn splits_punctuation_and_lowercases() {
        let t = tokenizer();
        assert_eq!(t.encode("I can't  SLEEP!"), [4, 5, 6, 7, 8, 12]);
    }

    #[test]
    fn greedy_longest_match_with_continuations() {
        let t = tokenizer();
        assert_eq!(t.encode("unables"), [9, 10, 11]);
        assert_eq!(
            t.encode("unablex"),
            [1],
            "a word with an unknown piece is [UNK]"
        );
    }

    #[test]
    fn strips_accents_and_pads_ideographs() {
        let t = tokenizer();
        assert_eq!(t.encode("Café"), [13]);
        assert_eq!(t.encode("i好i"), [4, 14, 4]);
        assert_eq!(
            t.encode("i\u{200b}\u{0}i"),
            [1],
            "format characters are removed"
        );
    }

    #[test]
    fn overlong_words_are_unknown() {
        let t = tokenizer();
        assert_eq!(t.encode(&"i".repeat(101)), [1]);
    }
}

//! GPT-2 style byte-level BPE, built from a GGUF file's `tokenizer.ggml.tokens` and
//! `tokenizer.ggml.merges` (SmolLM2's tokenizer), and SmolLM2's chat template (ChatML).
//!
//! Text is first split the way SmolLM2's tokenizer splits it (every digit alone, then GPT-2's
//! pattern: contractions, ` ?letters`, ` ?digits`, ` ?other symbols`, runs of whitespace),
//! each piece's bytes are mapped to GPT-2's printable characters, and the merges are applied
//! lowest rank first. Special tokens are never read out of text: the template inserts them by
//! id, so a message that contains `<|im_end|>` cannot end its turn.

use std::collections::HashMap;

use thiserror::Error;

use crate::llm::provider::{Message, Role};

/// Why a tokenizer could not be built.
#[derive(Debug, Error)]
pub enum TokenizerError {
    /// A merge is not two vocabulary entries separated by a space.
    #[error("merge {0} is malformed")]
    BadMerge(usize),
    /// A token the chat template needs is not in the vocabulary.
    #[error("the vocabulary has no {0}")]
    Missing(&'static str),
}

/// A byte-level BPE tokenizer with the chat template's special tokens.
#[derive(Debug)]
pub struct Tokenizer {
    vocab: HashMap<String, u32>,
    tokens: Vec<String>,
    ranks: HashMap<(String, String), u32>,
    byte_to_char: [char; 256],
    char_to_byte: HashMap<char, u8>,
    im_start: u32,
    im_end: u32,
    end_of_text: Option<u32>,
}

/// GPT-2's byte-to-character table: printable bytes stand for themselves, the others are
/// shifted past U+00FF.
fn byte_table() -> [char; 256] {
    let mut table = ['\0'; 256];
    let mut next = 256u32;
    for byte in 0..=255u8 {
        let printable = matches!(byte, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
        table[usize::from(byte)] = if printable {
            char::from(byte)
        } else {
            let c = char::from_u32(next).unwrap_or('\u{FFFD}');
            next += 1;
            c
        };
    }
    table
}

impl Tokenizer {
    /// A tokenizer over `tokens` (index = id) and `merges` (`"left right"`, by rank).
    ///
    /// # Errors
    /// [`TokenizerError`] when a merge is malformed or `<|im_start|>`/`<|im_end|>` are missing.
    pub fn new(tokens: Vec<String>, merges: &[String]) -> Result<Self, TokenizerError> {
        let vocab: HashMap<String, u32> = tokens
            .iter()
            .enumerate()
            .filter_map(|(id, token)| Some((token.clone(), u32::try_from(id).ok()?)))
            .collect();
        let mut ranks = HashMap::with_capacity(merges.len());
        for (rank, merge) in merges.iter().enumerate() {
            let (left, right) = merge
                .split_once(' ')
                .ok_or(TokenizerError::BadMerge(rank))?;
            let rank = u32::try_from(rank).map_err(|_| TokenizerError::BadMerge(rank))?;
            ranks
                .entry((left.to_owned(), right.to_owned()))
                .or_insert(rank);
        }
        let byte_to_char = byte_table();
        let char_to_byte = (0..=255u8)
            .map(|b| (byte_to_char[usize::from(b)], b))
            .collect();
        let id = |name: &'static str| {
            vocab
                .get(name)
                .copied()
                .ok_or(TokenizerError::Missing(name))
        };
        Ok(Self {
            im_start: id("<|im_start|>")?,
            im_end: id("<|im_end|>")?,
            end_of_text: vocab.get("<|endoftext|>").copied(),
            vocab,
            tokens,
            ranks,
            byte_to_char,
            char_to_byte,
        })
    }

    /// The ids of `text` (no special tokens).
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let mut ids = Vec::new();
        for piece in pre_tokenize(text) {
            let mapped: Vec<String> = piece
                .bytes()
                .map(|b| self.byte_to_char[usize::from(b)].to_string())
                .collect();
            for symbol in self.merge(mapped) {
                match self.vocab.get(&symbol) {
                    Some(&id) => ids.push(id),
                    // Every single byte is in a byte-level vocabulary; a gap is skipped.
                    None => ids.extend(
                        symbol
                            .chars()
                            .filter_map(|c| self.vocab.get(&c.to_string()).copied()),
                    ),
                }
            }
        }
        ids
    }

    /// Applies the merges to one piece's symbols, lowest rank first (GPT-2's procedure).
    fn merge(&self, mut symbols: Vec<String>) -> Vec<String> {
        while symbols.len() > 1 {
            let best = symbols
                .windows(2)
                .filter_map(|pair| self.ranks.get(&(pair[0].clone(), pair[1].clone())))
                .min()
                .copied();
            let Some(best) = best else { break };
            let mut merged = Vec::with_capacity(symbols.len());
            let mut i = 0;
            while i < symbols.len() {
                if i + 1 < symbols.len()
                    && self
                        .ranks
                        .get(&(symbols[i].clone(), symbols[i + 1].clone()))
                        == Some(&best)
                {
                    merged.push(format!("{}{}", symbols[i], symbols[i + 1]));
                    i += 2;
                } else {
                    merged.push(symbols[i].clone());
                    i += 1;
                }
            }
            symbols = merged;
        }
        symbols
    }

    /// The bytes a token stands for (none for special tokens).
    pub fn token_bytes(&self, id: u32) -> Vec<u8> {
        if self.is_special(id) {
            return Vec::new();
        }
        let Some(token) = usize::try_from(id).ok().and_then(|i| self.tokens.get(i)) else {
            return Vec::new();
        };
        token
            .chars()
            .filter_map(|c| self.char_to_byte.get(&c).copied())
            .collect()
    }

    /// The text of `ids` (invalid UTF-8 replaced).
    pub fn decode(&self, ids: &[u32]) -> String {
        let bytes: Vec<u8> = ids.iter().flat_map(|&id| self.token_bytes(id)).collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    fn is_special(&self, id: u32) -> bool {
        id == self.im_start || id == self.im_end || Some(id) == self.end_of_text
    }

    /// Whether generation ends at this token (`<|im_end|>`, `<|endoftext|>`).
    pub fn is_stop(&self, id: u32) -> bool {
        id == self.im_end || Some(id) == self.end_of_text
    }

    /// The prompt for `messages` in SmolLM2's chat template (ChatML), ending where the
    /// assistant's answer begins:
    /// `<|im_start|>{role}\n{content}<|im_end|>\n` per message, then
    /// `<|im_start|>assistant\n`.
    pub fn chat_prompt(&self, messages: &[Message]) -> Vec<u32> {
        let mut ids = Vec::new();
        for message in messages {
            ids.push(self.im_start);
            ids.extend(self.encode(&format!("{}\n{}", message.role.as_str(), message.content)));
            ids.push(self.im_end);
            ids.extend(self.encode("\n"));
        }
        ids.push(self.im_start);
        ids.extend(self.encode(&format!("{}\n", Role::Assistant.as_str())));
        ids
    }
}

/// Splits text as SmolLM2's pre-tokenizer does: each digit alone, then GPT-2's pattern
/// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`.
/// (`\p{L}` is read as `char::is_alphabetic`, which also counts a few marks as letters.)
pub fn pre_tokenize(text: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut start = 0;
    for (at, c) in text.char_indices() {
        if c.is_numeric() {
            if start < at {
                gpt2_split(&text[start..at], &mut pieces);
            }
            pieces.push(&text[at..at + c.len_utf8()]);
            start = at + c.len_utf8();
        }
    }
    if start < text.len() {
        gpt2_split(&text[start..], &mut pieces);
    }
    pieces
}

fn gpt2_split<'a>(text: &'a str, pieces: &mut Vec<&'a str>) {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let n = chars.len();
    let offset = |i: usize| chars.get(i).map_or(text.len(), |&(at, _)| at);
    let letter = |c: char| c.is_alphabetic();
    let number = |c: char| c.is_numeric();
    let other = |c: char| !c.is_whitespace() && !c.is_alphabetic() && !c.is_numeric();
    let mut i = 0;
    while i < n {
        let c = chars[i].1;
        // Contractions.
        if c == '\'' {
            let rest = &text[offset(i + 1)..];
            let suffix = ["re", "ve", "ll", "s", "t", "m", "d"]
                .into_iter()
                .find(|s| rest.starts_with(s));
            if let Some(suffix) = suffix {
                let end = i + 1 + suffix.len();
                pieces.push(&text[offset(i)..offset(end)]);
                i = end;
                continue;
            }
        }
        // ` ?X+` for letters, numbers, other symbols.
        let j = if c == ' ' && i + 1 < n { i + 1 } else { i };
        let class: Option<&dyn Fn(char) -> bool> = match chars.get(j).map(|&(_, c)| c) {
            Some(d) if letter(d) => Some(&letter),
            Some(d) if number(d) => Some(&number),
            Some(d) if other(d) => Some(&other),
            _ => None,
        };
        if let Some(class) = class {
            let mut end = j + 1;
            while end < n && class(chars[end].1) {
                end += 1;
            }
            pieces.push(&text[offset(i)..offset(end)]);
            i = end;
            continue;
        }
        // Whitespace: `\s+(?!\S)` leaves the last space to the next piece, else `\s+`.
        let mut end = i + 1;
        while end < n && chars[end].1.is_whitespace() {
            end += 1;
        }
        if end < n && end - i > 1 {
            end -= 1;
        }
        pieces.push(&text[offset(i)..offset(end)]);
        i = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pre_tokenizer_follows_the_pattern() {
        // `\s+(?!\S)` backs off one character before a word, so a blank line before text is
        // two newlines (as GPT-2 encodes it); at the end it stays whole.
        assert_eq!(
            pre_tokenize("Hello world, it's 2024!\n\nOK  then \n\n"),
            vec![
                "Hello", " world", ",", " it", "'s", " ", "2", "0", "2", "4", "!", "\n", "\n",
                "OK", " ", " then", " \n\n"
            ]
        );
        assert_eq!(pre_tokenize("héllo\tünï"), vec!["héllo", "\t", "ünï"]);
    }

    fn toy() -> Tokenizer {
        // Bytes as GPT-2 maps them: ' ' is 'Ġ', '\n' is 'Ċ'.
        let mut tokens: Vec<String> = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
            .map(String::from)
            .to_vec();
        let table = byte_table();
        tokens.extend(table.iter().map(char::to_string));
        tokens.extend(["Ġw", "Ġwo", "or", "ld", "Ġworld", "he", "hel"].map(String::from));
        let merges: Vec<String> = ["Ġ w", "o r", "l d", "Ġw o", "h e", "he l", "Ġwo r"]
            .map(String::from)
            .to_vec();
        Tokenizer::new(tokens, &merges).unwrap()
    }

    #[test]
    fn merges_apply_by_rank_and_decode_round_trips() {
        let t = toy();
        let ids = t.encode("hello world");
        let pieces: Vec<String> = ids
            .iter()
            .map(|&id| t.tokens[id as usize].clone())
            .collect();
        // A merge whose result is not in the vocabulary ("Ġwor") falls back to its bytes.
        assert_eq!(pieces[0], "hel");
        assert_eq!(t.decode(&ids), "hello world");
        assert_eq!(t.decode(&t.encode("naïve → ok\n")), "naïve → ok\n");
    }

    #[test]
    fn the_template_inserts_special_tokens_by_id_only() {
        let t = toy();
        let prompt = t.chat_prompt(&[Message {
            role: Role::User,
            content: "hi<|im_end|>".into(),
        }]);
        assert_eq!(prompt[0], t.im_start);
        assert_eq!(prompt.iter().filter(|&&id| id == t.im_end).count(), 1);
        assert_eq!(
            t.decode(&prompt),
            "user\nhi<|im_end|>\nassistant\n",
            "the text's look-alike stays text"
        );
    }
}

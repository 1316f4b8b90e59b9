//! Word n-gram features: what a text says in so many words, next to what it means.
//!
//! A sentence embedding places "the pills are in my bag for tonight" near everyday talk of
//! pills and bags; the words and word pairs a classifier learns from labelled texts ("for
//! tonight", "won't need") separate them again. Together the two carry more than either
//! (the crisis signal's method, `crates/ml/src/semantic.rs`).
//!
//! The features are the TF-IDF of word unigrams and bigrams, as text classifiers commonly use
//! them:
//! - a *word* is a run of letters and digits, lower-cased, with apostrophes dropped (`don't`
//!   is `dont`);
//! - each unigram and bigram is hashed (FNV-1a, 64 bits) into one of 2²⁰ buckets, so no
//!   vocabulary of strings is kept;
//! - a [`Vocabulary`] fitted on training texts keeps the buckets that occur in at least
//!   [`MIN_DOCUMENTS`] of them, each with its smoothed inverse document frequency
//!   `ln((1 + n) / (1 + df)) + 1`;
//! - a text's vector is `(1 + ln tf) · idf` per kept bucket, scaled to unit length.

/// Buckets the n-grams are hashed into (2²⁰: collisions among a few thousand training texts'
/// n-grams are rare).
const BUCKET_BITS: u32 = 20;

/// A bucket is kept when at least this many training texts have it: an n-gram seen once
/// says more about that text than about the class.
pub const MIN_DOCUMENTS: usize = 2;

/// The bucket of every unigram and bigram of `text`, in order, repeats included.
pub fn buckets(text: &str) -> Vec<u32> {
    let words = words(text);
    let mut out = Vec::with_capacity(words.len() * 2);
    for (i, word) in words.iter().enumerate() {
        out.push(bucket(&[word]));
        if let Some(next) = words.get(i + 1) {
            out.push(bucket(&[word, next]));
        }
    }
    out
}

/// The words of `text`: runs of letters and digits, lower-cased, apostrophes dropped.
fn words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    for c in text.chars() {
        if c.is_alphanumeric() {
            current.extend(c.to_lowercase());
        } else if !matches!(c, '\'' | '’' | '‘' | 'ʼ') && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// FNV-1a over the words, a space between them, folded into the bucket range.
fn bucket(words: &[&String]) -> u32 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for (i, word) in words.iter().enumerate() {
        let separator: &[u8] = if i == 0 { b"" } else { b" " };
        for byte in separator.iter().chain(word.as_bytes()) {
            hash = (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    // The high bits of FNV-1a mix best; the shift leaves BUCKET_BITS of them.
    u32::try_from(hash >> (64 - BUCKET_BITS)).unwrap_or(0)
}

/// The kept buckets of a training set, each with its inverse document frequency.
#[derive(Debug, Clone, PartialEq)]
pub struct Vocabulary {
    /// Kept buckets, ascending.
    buckets: Vec<u32>,
    /// `idf[i]` is the weight of `buckets[i]`.
    idf: Vec<f32>,
}

/// A sparse feature vector: (feature index, value), indices ascending.
pub type Sparse = Vec<(usize, f32)>;

impl Vocabulary {
    /// The buckets of `texts` kept by [`MIN_DOCUMENTS`], with their IDF.
    pub fn fit(texts: &[&str]) -> Self {
        let mut documents: std::collections::BTreeMap<u32, usize> = Default::default();
        for text in texts {
            let mut seen = buckets(text);
            seen.sort_unstable();
            seen.dedup();
            for b in seen {
                *documents.entry(b).or_default() += 1;
            }
        }
        #[allow(clippy::cast_precision_loss)] // counts are small
        let n = texts.len() as f32;
        let (buckets, idf) = documents
            .into_iter()
            .filter(|(_, df)| *df >= MIN_DOCUMENTS)
            .map(|(b, df)| {
                #[allow(clippy::cast_precision_loss)]
                let idf = ((1.0 + n) / (1.0 + df as f32)).ln() + 1.0;
                (b, idf)
            })
            .unzip();
        Self { buckets, idf }
    }

    /// Features in the vocabulary.
    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    /// Whether no bucket was kept.
    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }

    /// The unit-length TF-IDF vector of `text` (empty when no kept n-gram occurs).
    pub fn features(&self, text: &str) -> Sparse {
        let mut found: Vec<usize> = buckets(text)
            .into_iter()
            .filter_map(|b| self.buckets.binary_search(&b).ok())
            .collect();
        found.sort_unstable();
        let mut out: Sparse = Vec::with_capacity(found.len());
        for index in found {
            match out.last_mut() {
                Some((last, count)) if *last == index => *count += 1.0,
                _ => out.push((index, 1.0)),
            }
        }
        for (index, value) in &mut out {
            *value = (1.0 + value.ln()) * self.idf[*index];
        }
        let norm = out.iter().map(|(_, v)| v * v).sum::<f32>().sqrt();
        if norm > 0.0 {
            for (_, value) in &mut out {
                *value /= norm;
            }
        }
        out
    }

    /// The buckets and their IDF as floats (buckets by their bits), for caching.
    pub fn to_vec(&self) -> Vec<f32> {
        self.buckets
            .iter()
            .map(|b| f32::from_bits(*b))
            .chain(self.idf.iter().copied())
            .collect()
    }

    /// The inverse of [`Self::to_vec`]; `None` when the values cannot be one.
    pub fn from_slice(values: &[f32]) -> Option<Self> {
        if !values.len().is_multiple_of(2) {
            return None;
        }
        let (buckets, idf) = values.split_at(values.len() / 2);
        let buckets: Vec<u32> = buckets.iter().map(|b| b.to_bits()).collect();
        let ascending = buckets.windows(2).all(|w| w[0] < w[1]);
        let in_range = buckets.iter().all(|b| *b < 1 << BUCKET_BITS);
        (ascending && in_range && idf.iter().all(|v| v.is_finite())).then(|| Self {
            buckets,
            idf: idf.to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_lower_cased_without_apostrophes() {
        assert_eq!(
            words("Don't GO—it's 2am!! Ça va"),
            ["dont", "go", "its", "2am", "ça", "va"]
        );
        assert_eq!(buckets("one two three").len(), 5, "3 unigrams, 2 bigrams");
        assert_eq!(buckets("I'm"), buckets("im"));
    }

    #[test]
    fn keeps_what_two_texts_share_and_weighs_rare_words_more() {
        let vocabulary =
            Vocabulary::fit(&["the pills are ready", "the bag is ready", "the dog barked"]);
        // "the", "ready" occur in two or more texts; the rest once.
        assert_eq!(vocabulary.len(), 2);
        let features = vocabulary.features("the bag is ready, ready");
        assert_eq!(features.len(), 2);
        let norm: f32 = features.iter().map(|(_, v)| v * v).sum();
        assert!((norm - 1.0).abs() < 1e-6);
        let weight = |word: &str| {
            let index = vocabulary
                .buckets
                .binary_search(&bucket(&[&word.to_owned()]))
                .expect("kept");
            features.iter().find(|(i, _)| *i == index).map(|(_, v)| *v)
        };
        // "ready" is rarer than "the" and occurs twice: it weighs more.
        assert!(weight("ready") > weight("the"));
        assert!(vocabulary.features("nothing shared here").is_empty());
    }

    #[test]
    fn round_trips_and_refuses_garbage() {
        let vocabulary = Vocabulary::fit(&["a b c", "a b d", "c d"]);
        assert_eq!(
            Vocabulary::from_slice(&vocabulary.to_vec()),
            Some(vocabulary)
        );
        assert_eq!(Vocabulary::from_slice(&[1.0]), None);
        assert_eq!(
            Vocabulary::from_slice(&[f32::from_bits(u32::MAX), 1.0]),
            None
        );
    }
}

//! Offline text analysis: sentiment, primary emotion, topics and a lexical embedding.
//! Everything runs in-process from data compiled into the binary; nothing leaves the machine
//! and nothing is downloaded at run time.
//!
//! - [`sentiment`]: VADER (Hutto & Gilbert, 2014), the `vader_sentiment` crate: the compound
//!   score in [-1, 1].
//! - [`emotion`]: a lexicon classifier over Plutchik's eight emotions (our own word lists,
//!   with negation and intensity handling), `neutral` when nothing scores.
//! - [`topics`]: keyword themes (sleep, work, family, ...).
//! - [`embedding`]: a hashed bag of words and bigrams, L2-normalised: a lexical (not semantic)
//!   vector of the deployment's dimension, so similarity search works offline.
//! - [`sentence`]: a pre-trained sentence-embedding model (all-MiniLM-L6-v2 by default),
//!   loaded from a folder the project's scripts fetch: vectors that carry meaning.
//!
//! A crate of its own: it depends on nothing of the host, and the host's `ml` capability and
//! crisis signals are its only callers.

#[cfg(test)]
mod accuracy;
pub mod embedding;
pub mod emotion;
mod lbfgs;
pub mod ngrams;
pub mod recent;
pub mod semantic;
pub mod sentence;
pub mod sentiment;
#[cfg(test)]
mod test_corpus;
mod tokens;
pub mod topics;

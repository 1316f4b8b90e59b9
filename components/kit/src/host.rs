//! The host types the handlers see that are the same for every component: the caller, the
//! outcome of a crisis assessment and sealed values (mirroring `mindflow:platform`'s
//! `context`, `crisis` and `crypto` interfaces as plain Rust).

/// The caller, as far as a component needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The user's id (only for labelling).
    pub id: String,
    /// Whether the premium tier is in force now.
    pub premium: bool,
    /// The user's IANA time zone.
    pub timezone: String,
}

/// A crisis service to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrisisResource {
    /// The service's name.
    pub name: String,
    /// What it offers.
    pub description: String,
    /// A phone number.
    pub phone_number: Option<String>,
    /// A text-message number.
    pub sms_number: Option<String>,
    /// A website.
    pub website_url: Option<String>,
    /// Whether it is always open.
    pub available_24_7: bool,
}

/// The outcome of a crisis assessment.
#[derive(Debug, Clone, PartialEq)]
pub struct CrisisOutcome {
    /// `none`, `low`, `moderate`, `high` or `imminent`.
    pub severity: &'static str,
    /// The severity reached the threshold and the host recorded an event.
    pub triggered: bool,
    /// The writer seems to speak of someone else.
    pub about_someone_else: bool,
    /// Resources to show (empty when nothing is to be shown).
    pub resources: Vec<CrisisResource>,
}

/// A crisis assessment could not be made (no active rules, or the text was refused). The
/// caller must fail safe: treat the text as a possible crisis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CrisisUnavailable;

/// A sealed value: ciphertext (with tag) and nonce (`crypto.sealed`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    /// The ciphertext and its tag.
    pub ciphertext: Vec<u8>,
    /// The nonce.
    pub nonce: Vec<u8>,
}

/// Why a crypto call failed (`crypto.crypto-error`). How each becomes a problem document is
/// in [`crate::reply`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CryptoError {
    /// No authenticated user.
    NoUser,
    /// The user's key is destroyed.
    KeyDestroyed,
    /// Corrupt ciphertext, or sealed for another user or purpose.
    Tampered,
    /// The key store is unreachable.
    Unavailable,
}

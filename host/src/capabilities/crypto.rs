//! `mindflow:platform/crypto`: seal, open and keyed hashes under the caller's data key.
//!
//! Grants: envelope encryption for the store's caller. Never gives: keys, or a way to seal or
//! open for another user (the user is the store's caller, never a parameter).

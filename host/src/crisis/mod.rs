//! Crisis support in the host: the gate that protects the crisis rules, and (with the mood
//! and journal domains) the `crisis` capability.

pub mod batcher;
pub mod cases;
pub mod evaluation;
pub mod gate;
pub mod judge;
pub mod rules;
pub mod semantic;
pub mod service;

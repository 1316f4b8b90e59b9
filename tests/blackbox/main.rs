//! Black-box tests: the real `mindflow` binary with real compiled components and a real
//! database (SQLite or PostgreSQL, per `MINDFLOW_TEST_BACKEND`), over HTTP.
//!
//! One test binary with a module per concern keeps link time down.

mod admin;
mod auth;
mod balancer;
mod chat;
mod connections;
mod console;
mod content;
mod crisis;
mod durability;
mod fuzz;
mod greeter;
mod health;
mod hotswap;
mod insights;
mod journal;
mod manifest;
mod mood;
mod observability;
mod ratelimits;
mod replicas;
mod sandbox;
mod spin;
mod storage;
mod users;
mod wearables;

//! Unit tests' view of the statements the database module runs: each test thread can record
//! the SQL and parameters of every statement it issues (to check their query plans, say).
//! Compiled only for tests; the recording calls in `db` are `#[cfg(test)]` too.

use std::cell::RefCell;

use super::Param;

/// A statement's SQL text and parameters.
pub type Recorded = (String, Vec<Param>);

thread_local! {
    static LOG: RefCell<Option<Vec<Recorded>>> = const { RefCell::new(None) };
}

/// Starts recording this thread's statements (forgetting any recorded before).
pub fn start() {
    LOG.with(|log| *log.borrow_mut() = Some(Vec::new()));
}

/// Stops recording; returns what was recorded.
pub fn take() -> Vec<Recorded> {
    LOG.with(|log| log.borrow_mut().take().unwrap_or_default())
}

pub(super) fn record(sql: &str, params: &[Param]) {
    LOG.with(|log| {
        if let Some(log) = log.borrow_mut().as_mut() {
            log.push((sql.to_owned(), params.to_vec()));
        }
    });
}

//! Server-sent events (`text/event-stream`) of a streamed answer.
//!
//! The events, in order:
//! - `message`: the user's message as stored (`data`: the message);
//! - `delta`: screened text to append (`data`: `{"text": …}`), any number;
//! - `replace`: the text shown so far crossed a guardrail: show `{"text": …}` instead;
//! - `done`: the exchange as `POST …/messages` answers it without streaming (both messages,
//!   crisis outcome, `content_filtered`, usage, action cards), or `error` with a problem
//!   document when the send failed (nothing is left stored then).
//!
//! [`Frames`] turns the pipeline's [`Events`] into frames and hands each to a writer (the
//! component's response body; a buffer in tests).

use serde_json::{Value as Json, json};

use crate::pipeline::Events;

/// One event as SSE wire text: `event:` and one `data:` line (JSON never holds a raw newline).
pub fn frame(event: &str, data: &Json) -> String {
    format!("event: {event}\ndata: {data}\n\n")
}

/// The pipeline's events as SSE frames, each handed to `write` as soon as it exists.
pub struct Frames<W: FnMut(&str)> {
    write: W,
}

impl<W: FnMut(&str)> Frames<W> {
    /// Frames written with `write`.
    pub fn new(write: W) -> Self {
        Self { write }
    }

    /// Writes a finishing event (`done` or `error`).
    pub fn finish(&mut self, event: &str, data: &Json) {
        (self.write)(&frame(event, data));
    }
}

impl<W: FnMut(&str)> Events for Frames<W> {
    fn stored(&mut self, message: &Json) {
        (self.write)(&frame("message", message));
    }

    fn delta(&mut self, text: &str) {
        (self.write)(&frame("delta", &json!({"text": text})));
    }

    fn replaced(&mut self, text: &str) {
        (self.write)(&frame("replace", &json!({"text": text})));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_one_data_line_each() {
        let mut out = String::new();
        let mut frames = Frames::new(|f: &str| out.push_str(f));
        frames.delta("two\nlines");
        frames.finish("done", &json!({"ok": true}));
        assert_eq!(
            out,
            "event: delta\ndata: {\"text\":\"two\\nlines\"}\n\nevent: done\ndata: {\"ok\":true}\n\n"
        );
    }
}

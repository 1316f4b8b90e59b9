//! Server-sent events (the `text/event-stream` format both HTTP providers stream in), parsed
//! incrementally from a response body's chunks.

use futures::stream::{self, BoxStream};

use super::error::LlmError;

/// One event: its `event:` name (if any) and its `data:` lines joined by newlines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The `event:` field.
    pub name: Option<String>,
    /// The `data:` field.
    pub data: String,
}

/// An event stream's parser: feed it bytes as they come, take the complete events.
#[derive(Debug, Default)]
pub struct Parser {
    buffer: Vec<u8>,
    name: Option<String>,
    data: Option<String>,
}

/// A line longer than this is refused (a provider's chunk is a few hundred bytes).
const MAX_LINE_BYTES: usize = 1 << 20;

impl Parser {
    /// Adds `bytes` and returns the events they completed.
    ///
    /// # Errors
    /// [`LlmError::Protocol`] when a line is not UTF-8 or grows past 1 MiB.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<Event>, LlmError> {
        self.buffer.extend_from_slice(bytes);
        let mut events = Vec::new();
        while let Some(end) = self.buffer.iter().position(|&b| b == b'\n') {
            let mut line: Vec<u8> = self.buffer.drain(..=end).collect();
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            let line = String::from_utf8(line)
                .map_err(|_| LlmError::Protocol("an event line is not UTF-8".into()))?;
            if let Some(event) = self.line(&line) {
                events.push(event);
            }
        }
        if self.buffer.len() > MAX_LINE_BYTES {
            return Err(LlmError::Protocol("an event line is too long".into()));
        }
        Ok(events)
    }

    fn line(&mut self, line: &str) -> Option<Event> {
        if line.is_empty() {
            let name = self.name.take();
            return self.data.take().map(|data| Event { name, data });
        }
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "event" => self.name = Some(value.to_owned()),
            "data" => match &mut self.data {
                Some(data) => {
                    data.push('\n');
                    data.push_str(value);
                }
                None => self.data = Some(value.to_owned()),
            },
            _ => {}
        }
        None
    }
}

/// The events of a streaming response's body. A body that breaks off is
/// [`LlmError::Interrupted`] (or [`LlmError::Timeout`] past the call's deadline).
pub fn events(
    response: reqwest::Response,
    timeout: std::time::Duration,
) -> BoxStream<'static, Result<Event, LlmError>> {
    let state = (Some(response), Parser::default());
    let chunks = stream::unfold(state, move |(response, mut parser)| async move {
        let mut response = response?;
        match response.chunk().await {
            Ok(Some(bytes)) => {
                let events = parser.push(&bytes);
                Some((events, (Some(response), parser)))
            }
            Ok(None) => {
                // A last event without its blank line still counts.
                let events = parser.push(b"\n\n");
                Some((events, (None, parser)))
            }
            Err(error) => Some((Err(LlmError::from_reqwest(error, timeout)), (None, parser))),
        }
    });
    Box::pin(futures::StreamExt::flat_map(chunks, |events| {
        let items: Vec<Result<Event, LlmError>> = match events {
            Ok(events) => events.into_iter().map(Ok).collect(),
            Err(error) => vec![Err(error)],
        };
        stream::iter(items)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_across_chunks_and_lines() {
        let mut parser = Parser::default();
        assert!(parser.push(b"event: ping\r\nda").unwrap().is_empty());
        let events = parser
            .push(b"ta: {}\r\n\r\n: comment\ndata: a\ndata: b\n\n")
            .unwrap();
        assert_eq!(
            events,
            vec![
                Event {
                    name: Some("ping".into()),
                    data: "{}".into()
                },
                Event {
                    name: None,
                    data: "a\nb".into()
                },
            ]
        );
        // A multi-byte character split between chunks.
        let text = "data: héllo\n\n".as_bytes();
        assert!(parser.push(&text[..8]).unwrap().is_empty());
        assert_eq!(parser.push(&text[8..]).unwrap()[0].data, "héllo");
    }
}

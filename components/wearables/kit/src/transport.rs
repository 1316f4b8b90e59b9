//! How an adapter reads its provider: a GET, an answer. On `wasm32` it is
//! `wasi_http::WasiHttp`; native tests use [`Canned`].

use crate::model::Error;

/// An HTTP answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Headers, names lowercase.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of header `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The answer as an adapter error when it is not a success: 401 and 403 are
    /// [`Error::Unauthorized`], 429 [`Error::RateLimited`] (its `Retry-After`, else 60 s),
    /// anything else [`Error::Provider`].
    ///
    /// # Errors
    /// As described.
    pub fn ok(self) -> Result<Self, Error> {
        match self.status {
            200..=299 => Ok(self),
            401 | 403 => Err(Error::Unauthorized),
            429 => Err(Error::RateLimited(
                self.header("retry-after")
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(60),
            )),
            status => Err(Error::Provider(format!("the provider answered {status}"))),
        }
    }

    /// The body as JSON.
    ///
    /// # Errors
    /// [`Error::Provider`] when it is not JSON.
    pub fn json(&self) -> Result<serde_json::Value, Error> {
        serde_json::from_slice(&self.body)
            .map_err(|e| Error::Provider(format!("the provider's answer is not JSON: {e}")))
    }
}

/// Sends GET requests to the provider. The host adds the user's token; an adapter never
/// sets `authorization` itself.
pub trait Transport {
    /// `GET url` with `headers`.
    ///
    /// # Errors
    /// [`Error::Provider`] when no answer comes (refused destination, network failure).
    fn get(&mut self, url: &str, headers: &[(&str, &str)]) -> Result<Response, Error>;
}

/// A transport answering from a list of `(url, response)` pairs, recording what was asked;
/// for native tests of an adapter's paging and error handling.
#[derive(Debug, Default)]
pub struct Canned {
    /// The answers, by exact URL.
    pub answers: Vec<(String, Response)>,
    /// The URLs requested, in order.
    pub requested: Vec<String>,
}

impl Canned {
    /// Answers `url` with `status` and a JSON `body`.
    #[must_use]
    pub fn with(mut self, url: &str, status: u16, body: &serde_json::Value) -> Self {
        self.answers.push((
            url.to_owned(),
            Response {
                status,
                headers: vec![("content-type".into(), "application/json".into())],
                body: body.to_string().into_bytes(),
            },
        ));
        self
    }
}

impl Transport for Canned {
    fn get(&mut self, url: &str, _headers: &[(&str, &str)]) -> Result<Response, Error> {
        self.requested.push(url.to_owned());
        self.answers
            .iter()
            .find(|(u, _)| u == url)
            .map(|(_, r)| r.clone())
            .ok_or_else(|| Error::Provider(format!("no canned answer for {url}")))
    }
}

/// `text` percent-encoded for a query value (RFC 3986 unreserved characters kept).
pub fn encode_query_value(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_become_adapter_errors() {
        let answer = |status, retry: Option<&str>| Response {
            status,
            headers: retry
                .map(|r| vec![("retry-after".to_owned(), r.to_owned())])
                .unwrap_or_default(),
            body: Vec::new(),
        };
        assert!(answer(200, None).ok().is_ok());
        assert_eq!(answer(401, None).ok(), Err(Error::Unauthorized));
        assert_eq!(answer(429, Some("7")).ok(), Err(Error::RateLimited(7)));
        assert_eq!(answer(429, None).ok(), Err(Error::RateLimited(60)));
        assert!(matches!(answer(503, None).ok(), Err(Error::Provider(_))));
    }

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(encode_query_value("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
    }
}

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

/// Every item of a paginated list, from the page at `first` on: `read` takes a page's JSON
/// and answers its items and the next page's URL (`None` on the last page). Each page is a
/// `GET` asking for JSON.
///
/// # Errors
/// The transport's errors and the statuses [`Response::ok`] maps; a page that is not JSON
/// or that `read` refuses; and [`Error::Provider`] naming `what` when a page's next URL was
/// seen before (a paging loop) or the list runs past `max_pages`.
pub fn pages(
    transport: &mut impl Transport,
    first: String,
    what: &str,
    max_pages: usize,
    mut read: impl FnMut(&serde_json::Value) -> Result<(Vec<serde_json::Value>, Option<String>), Error>,
) -> Result<Vec<serde_json::Value>, Error> {
    let mut url = first;
    let mut seen = vec![url.clone()];
    let mut items = Vec::new();
    for _ in 0..max_pages {
        let page = transport
            .get(&url, &[("accept", "application/json")])?
            .ok()?
            .json()?;
        let (more, next) = read(&page)?;
        items.extend(more);
        match next {
            None => return Ok(items),
            Some(next) if seen.contains(&next) => {
                return Err(Error::Provider(format!("{what}: the pages repeat")));
            }
            Some(next) => {
                seen.push(next.clone());
                url = next;
            }
        }
    }
    Err(Error::Provider(format!(
        "{what} runs past {max_pages} pages"
    )))
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
    fn pages_are_followed_until_the_last_and_a_loop_is_an_error() {
        let page = |items: serde_json::Value, next: Option<&str>| serde_json::json!({"items": items, "next": next});
        let read = |page: &serde_json::Value| {
            Ok((
                page["items"].as_array().cloned().unwrap_or_default(),
                page["next"].as_str().map(str::to_owned),
            ))
        };
        let mut canned = Canned::default()
            .with(
                "https://p.example/1",
                200,
                &page(serde_json::json!([1, 2]), Some("https://p.example/2")),
            )
            .with(
                "https://p.example/2",
                200,
                &page(serde_json::json!([3]), None),
            );
        let items = pages(&mut canned, "https://p.example/1".into(), "list", 10, read);
        assert_eq!(items, Ok(vec![1.into(), 2.into(), 3.into()]));
        let mut looping = Canned::default()
            .with(
                "https://p.example/1",
                200,
                &page(serde_json::json!([]), Some("https://p.example/2")),
            )
            .with(
                "https://p.example/2",
                200,
                &page(serde_json::json!([]), Some("https://p.example/1")),
            );
        assert!(matches!(
            pages(&mut looping, "https://p.example/1".into(), "list", 10, read),
            Err(Error::Provider(_))
        ));
        assert!(matches!(
            pages(&mut looping, "https://p.example/1".into(), "list", 1, read),
            Err(Error::Provider(_))
        ));
    }

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(encode_query_value("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
    }
}

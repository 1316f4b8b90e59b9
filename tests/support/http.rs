//! Requests as the black-box tests send them, and what they read from the answers.

use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::Value;

use crate::Server;

/// An answer, read whole: its status, its body (JSON, or the text as a JSON string when it
/// is not JSON) and its headers.
#[derive(Debug)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// The body: parsed JSON, or the text as a JSON string.
    pub body: Value,
    /// The headers.
    pub headers: HeaderMap,
}

impl Answer {
    /// A header's value, when it is there and readable.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The fields a 422 problem document names, sorted.
    #[must_use]
    pub fn fields(&self) -> Vec<String> {
        problem_fields(&self.body)
    }
}

/// Sends `method path` (with `token` as its bearer, `body` as its JSON) and reads the answer.
///
/// # Panics
/// When the request cannot be sent or its body read.
pub async fn send(
    server: &Server,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Answer {
    let mut request = server.http.request(method, server.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Answer {
        status,
        body,
        headers,
    }
}

/// `GET path` as the holder of `token`.
///
/// # Panics
/// As [`send`].
pub async fn get(server: &Server, path: &str, token: &str) -> Answer {
    send(server, Method::GET, path, Some(token), None).await
}

/// `GET path` as the holder of `token`, which must answer 200; its body.
///
/// # Panics
/// As [`send`], and when the answer is not 200.
pub async fn get_ok(server: &Server, path: &str, token: &str) -> Value {
    let answer = get(server, path, token).await;
    assert_eq!(answer.status, 200, "GET {path}: {}", answer.body);
    answer.body
}

/// An anonymous `POST path` with a JSON `body`.
///
/// # Panics
/// When the request cannot be sent.
pub async fn post(server: &Server, path: &str, body: Value) -> reqwest::Response {
    server
        .http
        .post(server.url(path))
        .json(&body)
        .send()
        .await
        .expect("request")
}

/// A response's JSON body.
///
/// # Panics
/// When the body is not JSON.
pub async fn json_of(response: reqwest::Response) -> Value {
    response.json().await.expect("json body")
}

/// The fields a 422 problem document's `errors` name, sorted.
#[must_use]
pub fn problem_fields(body: &Value) -> Vec<String> {
    let mut fields: Vec<String> = body["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .filter_map(|e| e["field"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    fields.sort();
    fields
}

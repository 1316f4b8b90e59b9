//! [`Transport`] over `wasi:http/outgoing-handler`. The host lets requests through only to
//! the adapter's declared hosts and adds the user's token to them.

use crate::bindings::wasi::http::outgoing_handler;
use crate::bindings::wasi::http::types::{Fields, Method, OutgoingRequest, Scheme};
use crate::bindings::wasi::io::streams::StreamError;
use crate::model::Error;
use crate::transport::{Response, Transport};

/// The largest answer read (a provider page is far smaller).
const MAX_BODY: usize = 32 * 1024 * 1024;

/// The `wasi:http` transport.
#[derive(Debug, Default, Clone, Copy)]
pub struct WasiHttp;

/// `scheme://authority/path?query` split into its parts.
fn split(url: &str) -> Result<(Scheme, &str, &str), Error> {
    let invalid = || Error::Provider(format!("not an absolute http(s) URL: {url}"));
    let (scheme, rest) = url.split_once("://").ok_or_else(invalid)?;
    let scheme = match scheme {
        "https" => Scheme::Https,
        "http" => Scheme::Http,
        _ => return Err(invalid()),
    };
    let (authority, path) = match rest.find('/') {
        Some(at) => (&rest[..at], &rest[at..]),
        None => (rest, "/"),
    };
    if authority.is_empty() {
        return Err(invalid());
    }
    Ok((scheme, authority, path))
}

impl Transport for WasiHttp {
    fn get(&mut self, url: &str, headers: &[(&str, &str)]) -> Result<Response, Error> {
        let (scheme, authority, path) = split(url)?;
        let fields = Fields::new();
        for (name, value) in headers {
            if name.eq_ignore_ascii_case("authorization") {
                continue;
            }
            fields
                .append(name, value.as_bytes())
                .map_err(|e| Error::Provider(format!("header {name}: {e:?}")))?;
        }
        let request = OutgoingRequest::new(fields);
        let refused = |what: &str| Error::Provider(format!("cannot build the request: {what}"));
        request
            .set_method(&Method::Get)
            .map_err(|()| refused("method"))?;
        request
            .set_scheme(Some(&scheme))
            .map_err(|()| refused("scheme"))?;
        request
            .set_authority(Some(authority))
            .map_err(|()| refused("authority"))?;
        request
            .set_path_with_query(Some(path))
            .map_err(|()| refused("path"))?;
        let pending = outgoing_handler::handle(request, None)
            .map_err(|e| Error::Provider(format!("request refused: {e:?}")))?;
        pending.subscribe().block();
        let response = pending
            .get()
            .ok_or_else(|| Error::Provider("no answer".into()))?
            .map_err(|()| Error::Provider("the answer was already taken".into()))?
            .map_err(|e| Error::Provider(format!("no answer: {e:?}")))?;
        let status = response.status();
        let headers = response
            .headers()
            .entries()
            .into_iter()
            .map(|(name, value)| {
                (
                    name.to_ascii_lowercase(),
                    String::from_utf8_lossy(&value).into_owned(),
                )
            })
            .collect();
        let body = response
            .consume()
            .map_err(|()| Error::Provider("the body was already taken".into()))?;
        let stream = body
            .stream()
            .map_err(|()| Error::Provider("the body stream was already taken".into()))?;
        let mut bytes = Vec::new();
        loop {
            match stream.blocking_read(64 * 1024) {
                Ok(chunk) => {
                    bytes.extend_from_slice(&chunk);
                    if bytes.len() > MAX_BODY {
                        return Err(Error::Provider("the answer is too large".into()));
                    }
                }
                Err(StreamError::Closed) => break,
                Err(StreamError::LastOperationFailed(e)) => {
                    return Err(Error::Provider(format!(
                        "reading the answer failed: {}",
                        e.to_debug_string()
                    )));
                }
            }
        }
        Ok(Response {
            status,
            headers,
            body: bytes,
        })
    }
}

//! The wasi:http export (wasm32 only).
//!
//! A message sent with `Accept: text/event-stream` is answered as server-sent events written
//! to the response body as the pipeline makes them: the response (status 200,
//! `text/event-stream`) is only set when the first event exists, so a send refused before
//! anything happened (no consent, another user's session, a bad body, the tier's limit)
//! still answers with its status and problem document. Every other request goes through the
//! kit like any domain service's.
//!
//! The body is written with blocking writes on the wasi output stream: the host's side of
//! that stream is bounded, so a client that reads slowly holds this instance back (and, past
//! the component's deadline, ends it) instead of growing a buffer.

use mindflow_component_kit::wasm::{self, Host};
use mindflow_component_kit::{Request, answer};
use spin_sdk::http::{
    Fields, OutgoingBody, OutgoingResponse, Request as SpinRequest, Response, ResponseOutparam,
};

use crate::api::{self, BASE_PATH, WORDING};
use crate::sse::Frames;

/// Spin's export: `#[http_component]` expands to an `export_name` function and `unsafe`
/// conversions of resource handles, all of Spin's own making.
#[allow(unsafe_code)]
mod export {
    #[spin_sdk::http_component]
    async fn handle(request: spin_sdk::http::Request, out: spin_sdk::http::ResponseOutparam) {
        super::serve(request, out).await;
    }
}

/// The component's OpenAPI 3.1 fragment, read by the host from this custom section.
// SAFETY: `mindflow:openapi` is a custom section of the wasm file: its bytes are never loaded
// into linear memory or run, only read by the host from the file.
#[allow(unsafe_code)]
#[unsafe(link_section = "mindflow:openapi")]
#[used]
static MINDFLOW_OPENAPI: [u8; include_bytes!("../openapi.json").len()] =
    *include_bytes!("../openapi.json");

async fn serve(request: SpinRequest, out: ResponseOutparam) {
    let path = wasm::path_info(&request, BASE_PATH);
    let method = wasm::method_name(&request);
    let accept = request.header("accept").and_then(|h| h.as_str());
    if !api::wants_stream(method, &path, accept) {
        let response = wasm::serve(&request, BASE_PATH, &WORDING, |host, request| {
            api::handle(host, request)
        });
        respond(out, response).await;
        return;
    }
    let view = Request {
        method,
        path: &path,
        query: request.query(),
        body: request.body(),
    };
    let mut body = StreamedBody::Waiting(Some(out));
    let outcome = {
        let mut frames = Frames::new(|frame: &str| body.write(frame));
        wasm::checked_body(&request)
            .and_then(|()| api::handle_with(&Host, &view, Some(&mut frames)))
    };
    // The last event: `done`, or `error` when the send failed after the stream began (before
    // that, the problem is answered with its own status below).
    match &outcome {
        Ok(reply) => body.write(&crate::sse::frame("done", &reply.json_body())),
        Err(problem) if !matches!(body, StreamedBody::Waiting(Some(_))) => {
            let document = problem.clone().worded(&WORDING).into_reply().json_body();
            body.write(&crate::sse::frame("error", &document));
        }
        Err(_) => {}
    }
    match body {
        StreamedBody::Waiting(Some(out)) => {
            // Nothing was streamed: answer as a plain request would.
            respond(out, wasm::response(answer(outcome, &WORDING))).await;
        }
        StreamedBody::Streaming { body, write } => {
            drop(write);
            let _ = OutgoingBody::finish(body, None);
        }
        StreamedBody::Waiting(None) | StreamedBody::Broken => {}
    }
}

/// Writes and flushes bytes to an open body; `false` when the client is gone.
type BodyWriter = Box<dyn FnMut(&[u8]) -> bool>;

/// The event stream's response body, set up when its first event is written.
enum StreamedBody {
    /// Nothing written yet: the response is not set.
    Waiting(Option<ResponseOutparam>),
    /// The response is set and its body open.
    Streaming {
        body: OutgoingBody,
        /// Writes and flushes bytes to the body's output stream (which it owns).
        write: BodyWriter,
    },
    /// The body could not be opened or written (the client went away).
    Broken,
}

impl StreamedBody {
    fn write(&mut self, frame: &str) {
        if let Self::Waiting(out) = self {
            let Some(out) = out.take() else { return };
            *self = Self::open(out).unwrap_or(Self::Broken);
        }
        if let Self::Streaming { write, .. } = self {
            // A wasi output stream takes at most 4096 bytes per blocking write.
            if !frame.as_bytes().chunks(4096).all(write) {
                *self = Self::Broken;
            }
        }
    }

    fn open(out: ResponseOutparam) -> Option<Self> {
        let headers = Fields::from_list(&[
            ("content-type".into(), b"text/event-stream".to_vec()),
            ("cache-control".into(), b"no-store".to_vec()),
        ])
        .ok()?;
        let response = OutgoingResponse::new(headers);
        response.set_status_code(200).ok()?;
        let body = response.body().ok()?;
        out.set(response);
        let stream = body.write().ok()?;
        let write = Box::new(move |chunk: &[u8]| stream.blocking_write_and_flush(chunk).is_ok());
        Some(Self::Streaming { body, write })
    }
}

async fn respond(out: ResponseOutparam, mut response: Response) {
    let body = std::mem::take(response.body_mut());
    if let Ok(response) = TryInto::<OutgoingResponse>::try_into(response) {
        let _ = ResponseOutparam::set_with_body(out, response, body).await;
    }
}

//! Serving one HTTP request with a domain-service component (`wasi:http/incoming-handler`).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use thiserror::Error;
use uuid::Uuid;
use wasmtime::Store;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::Runtime;
use super::limiter::MemoryCap;
use crate::capabilities::HostServices;
use crate::capabilities::outbound::OutboundPolicy;
use crate::manifest::Limits;

/// The authenticated caller of a request, as the `context` capability reveals it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The user's id.
    pub user_id: Uuid,
    /// `free` or `premium`, as in force now.
    pub tier: String,
    /// IANA time zone.
    pub timezone: String,
    /// BCP 47 locale.
    pub locale: String,
    /// Granted consent types.
    pub consents: Vec<String>,
}

/// A response body streamed from a component.
pub type ResponseBody = HyperOutgoingBody;

/// Why a component did not produce a response.
#[derive(Debug, Error)]
pub enum DispatchError {
    /// The component ran past its deadline and was stopped.
    #[error("the component did not answer within {0} ms")]
    Timeout(u64),
    /// The component tried to grow its memory past its cap.
    #[error("the component exceeded its memory limit")]
    MemoryLimit,
    /// The component trapped (a panic, an `unreachable`, a bad memory access...).
    #[error("the component failed")]
    Trap(String),
    /// The component finished without setting a response.
    #[error("the component returned no response")]
    NoResponse,
    /// The component returned an HTTP error code instead of a response.
    #[error("the component reported an error: {0}")]
    Component(String),
    /// No instance could be created (e.g. the instance pool is exhausted).
    #[error("the component is unavailable")]
    Unavailable(String),
}

/// The per-request state of a domain-service store.
pub(crate) struct RequestState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    hooks: OutboundPolicy,
    pub(crate) limiter: MemoryCap,
    pub(crate) caller: Option<Caller>,
    pub(crate) request_id: String,
    pub(crate) variables: Arc<HashMap<String, Result<String, String>>>,
    pub(crate) services: HostServices,
    /// The storage collections the component's manifest grants.
    pub(crate) collections: Arc<Vec<String>>,
    /// The last text this request scored with `ml.sentiment`, and its score: a component
    /// that scores a note and then has it assessed (which uses the score as a signal) pays
    /// for the lexicon model once.
    pub(crate) last_sentiment: Option<(String, f32)>,
}

impl WasiView for RequestState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for RequestState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

/// A domain-service component, pre-instantiated and ready to serve.
#[derive(Clone)]
pub struct HttpComponent {
    pub(crate) pre: ProxyPre<RequestState>,
    pub(crate) policy: OutboundPolicy,
    pub(crate) variables: Arc<HashMap<String, Result<String, String>>>,
    pub(crate) environment: Arc<Vec<(String, String)>>,
    pub(crate) limits: Limits,
    /// The storage collections the manifest grants (`tool.mindflow.collections`).
    pub(crate) collections: Arc<Vec<String>>,
}

impl HttpComponent {
    /// The component's limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Serves `request` with a fresh instance, under the component's memory cap and deadline.
    ///
    /// # Errors
    /// [`DispatchError`] saying how the component failed; the host is unaffected.
    pub async fn handle(
        &self,
        request: http::Request<Full<Bytes>>,
        caller: Option<Caller>,
        request_id: String,
        services: HostServices,
    ) -> Result<http::Response<ResponseBody>, DispatchError> {
        let (limiter, exceeded) = MemoryCap::new(self.limits.memory_bytes);
        let mut wasi = WasiCtx::builder();
        wasi.envs(&self.environment);
        let state = RequestState {
            wasi: wasi.build(),
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            hooks: self.policy.clone(),
            limiter,
            caller,
            request_id,
            variables: self.variables.clone(),
            services,
            collections: self.collections.clone(),
            last_sentiment: None,
        };
        let mut store = Store::new(self.pre.engine(), state);
        store.limiter(|state| &mut state.limiter);
        store.set_epoch_deadline(Runtime::deadline_ticks(self.limits.timeout_ms));
        store.epoch_deadline_trap();
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let incoming = store
            .data_mut()
            .http()
            .new_incoming_request(Scheme::Http, request)
            .map_err(|e| DispatchError::Unavailable(e.to_string()))?;
        let outparam = store
            .data_mut()
            .http()
            .new_response_outparam(sender)
            .map_err(|e| DispatchError::Unavailable(e.to_string()))?;
        let pre = self.pre.clone();
        let guest = async move {
            let proxy = pre
                .instantiate_async(&mut store)
                .await
                .map_err(|e| Failure::Instantiate(e.to_string()))?;
            proxy
                .wasi_http_incoming_handler()
                .call_handle(&mut store, incoming, outparam)
                .await
                .map_err(Failure::Call)
        };
        // The epoch deadline stops guest code; this outer deadline also covers a guest
        // blocked in a host call (an outbound request that never answers).
        let timeout_ms = self.limits.timeout_ms;
        let outer = Duration::from_millis(timeout_ms) + Duration::from_millis(250);
        match tokio::time::timeout(outer, run_guest(Box::pin(guest), receiver)).await {
            Ok(Answer::Response(Ok(response), GuestRan::ToTheEnd)) => {
                Ok(response.map(with_ready_frames_buffered))
            }
            Ok(Answer::Response(Ok(response), GuestRan::Streaming)) => Ok(response),
            Ok(Answer::Response(Err(code), _)) => {
                Err(DispatchError::Component(format!("{code:?}")))
            }
            Ok(Answer::Finished(Ok(()))) => Err(DispatchError::NoResponse),
            Ok(Answer::Finished(Err(failure))) => Err(classify(failure, &exceeded, timeout_ms)),
            // Dropping the guest's future (inside the timeout) drops its store: the
            // instance is gone.
            Err(_elapsed) => Err(DispatchError::Timeout(timeout_ms)),
        }
    }
}

type GuestRun = std::pin::Pin<Box<dyn Future<Output = Result<(), Failure>> + Send>>;
type ResponseResult =
    Result<http::Response<ResponseBody>, wasmtime_wasi_http::p2::bindings::http::types::ErrorCode>;

/// Whether the guest was still running when its response was handed over.
enum GuestRan {
    /// It had finished: its whole body is already waiting in the host's buffer.
    ToTheEnd,
    /// It is still writing its body, on a task of its own.
    Streaming,
}

/// How a guest's run ended, as far as the request is concerned.
enum Answer {
    /// The guest set a response.
    Response(ResponseResult, GuestRan),
    /// The guest finished, or failed, without setting a response.
    Finished(Result<(), Failure>),
}

/// Drives the guest on the request's own task until it sets a response: no task spawn and
/// no cross-thread wake-up on the common path, where a guest answers in one go. A guest
/// still running when its response arrives (streaming the body) moves to a task of its own,
/// so the body keeps flowing while the response is sent.
async fn run_guest(
    mut guest: GuestRun,
    mut receiver: tokio::sync::oneshot::Receiver<ResponseResult>,
) -> Answer {
    tokio::select! {
        biased;
        finished = &mut guest => match receiver.try_recv() {
            Ok(response) => Answer::Response(response, GuestRan::ToTheEnd),
            Err(_) => Answer::Finished(finished),
        },
        response = &mut receiver => match response {
            Ok(response) => {
                tokio::spawn(guest);
                Answer::Response(response, GuestRan::Streaming)
            }
            // The guest dropped its response slot without answering: wait for its end.
            Err(_) => Answer::Finished(guest.await),
        },
    }
}

enum Failure {
    Instantiate(String),
    Call(wasmtime::Error),
}

fn classify(failure: Failure, exceeded: &AtomicBool, timeout_ms: u64) -> DispatchError {
    match failure {
        Failure::Instantiate(message) => DispatchError::Unavailable(message),
        Failure::Call(error) => {
            if exceeded.load(Ordering::Relaxed) {
                return DispatchError::MemoryLimit;
            }
            match error.downcast_ref::<wasmtime::Trap>() {
                Some(wasmtime::Trap::Interrupt) => DispatchError::Timeout(timeout_ms),
                Some(trap) => DispatchError::Trap(trap.to_string()),
                None => DispatchError::Trap(format!("{error:#}")),
            }
        }
    }
}

/// The body of a guest that has finished: the frames already buffered are taken now, so a
/// complete body goes out as one piece with a `content-length` (no chunked encoding). A body
/// that is not complete (trailers, an error, or a frame not there yet) keeps its frames in
/// order and streams the rest as before.
fn with_ready_frames_buffered(mut body: ResponseBody) -> ResponseBody {
    use futures::FutureExt;
    use http_body_util::BodyExt;

    let mut data = bytes::BytesMut::new();
    loop {
        match body.frame().now_or_never() {
            // The end of the body: all of it is here.
            Some(None) => {
                return Full::new(data.freeze())
                    .map_err(|never| match never {})
                    .boxed_unsync();
            }
            Some(Some(Ok(frame))) => match frame.into_data() {
                Ok(chunk) => data.extend_from_slice(&chunk),
                Err(frame) => return prepend(data, Some(Ok(frame)), body),
            },
            Some(Some(Err(error))) => return prepend(data, Some(Err(error)), body),
            None => return prepend(data, None, body),
        }
    }
}

/// `data`, then `next` (a frame already taken), then the rest of `body`.
fn prepend(
    data: bytes::BytesMut,
    next: Option<Result<hyper::body::Frame<Bytes>, wasmtime_wasi_http::Error>>,
    body: ResponseBody,
) -> ResponseBody {
    use futures::StreamExt;
    use http_body_util::BodyExt;

    let data = (!data.is_empty()).then(|| Ok(hyper::body::Frame::data(data.freeze())));
    let taken = futures::stream::iter(data.into_iter().chain(next));
    http_body_util::StreamBody::new(taken.chain(http_body_util::BodyStream::new(body)))
        .boxed_unsync()
}

//! Serving one HTTP request with a domain-service component (`wasi:http/incoming-handler`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use thiserror::Error;
use wasmtime::Store;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::Runtime;
use super::limiter::MemoryCap;
use super::ready::ReadyInstances;
use crate::capabilities::outbound::OutboundPolicy;
use crate::capabilities::{CapabilityConfigs, CapabilityHost, RequestContext};
use crate::identity::Caller;
use crate::manifest::Limits;

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

/// The per-request state of a domain-service store: WASI and `wasi:http` with the outbound
/// policy, the memory cap, and what the capabilities see (the request's context and the
/// version's prepared capabilities).
pub(crate) struct RequestState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    hooks: OutboundPolicy,
    pub(crate) limiter: MemoryCap,
    pub(crate) context: RequestContext,
    capabilities: Arc<CapabilityConfigs>,
}

impl CapabilityHost for RequestState {
    fn capability_parts(&mut self) -> (&mut RequestContext, &CapabilityConfigs) {
        (&mut self.context, &self.capabilities)
    }
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

/// A store with a freshly instantiated component in it, not yet called.
pub(crate) struct ReadyInstance {
    store: Store<RequestState>,
    proxy: wasmtime_wasi_http::p2::bindings::Proxy,
    /// Set when the store's memory cap refused to grow memory.
    exceeded: Arc<AtomicBool>,
}

/// A domain-service component, pre-instantiated and ready to serve.
#[derive(Clone)]
pub struct HttpComponent {
    pub(crate) pre: ProxyPre<RequestState>,
    pub(crate) policy: OutboundPolicy,
    pub(crate) environment: Arc<Vec<(String, String)>>,
    pub(crate) limits: Limits,
    /// What the granted capabilities prepared for this version.
    pub(crate) capabilities: Arc<CapabilityConfigs>,
    /// Fresh instances made ahead of their requests.
    pub(crate) ready: Arc<ReadyInstances<ReadyInstance>>,
}

impl HttpComponent {
    /// The component's limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Serves `request` with a fresh instance, under the component's memory cap and deadline.
    ///
    /// The instance was made for this request ahead of it when one was waiting (see
    /// [`super::ready`]), or is made now; either way it serves this request only.
    ///
    /// # Errors
    /// [`DispatchError`] saying how the component failed; the host is unaffected.
    pub async fn handle(
        &self,
        request: http::Request<Full<Bytes>>,
        caller: Option<Caller>,
        request_id: String,
    ) -> Result<http::Response<ResponseBody>, DispatchError> {
        let ReadyInstance {
            mut store,
            proxy,
            exceeded,
        } = match self.ready.take() {
            Some(instance) => instance,
            None => self.instantiate().await?,
        };
        let context = &mut store.data_mut().context;
        context.caller = caller;
        context.request_id = request_id;
        store.set_epoch_deadline(Runtime::deadline_ticks(self.limits.timeout_ms));
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let handed_over = store
            .data_mut()
            .http()
            .new_incoming_request(Scheme::Http, request)
            .and_then(|incoming| {
                let outparam = store.data_mut().http().new_response_outparam(sender)?;
                Ok((incoming, outparam))
            });
        let (incoming, outparam) = match handed_over {
            Ok(resources) => resources,
            Err(error) => {
                self.replenish(Some(store));
                return Err(DispatchError::Unavailable(error.to_string()));
            }
        };
        let guest = async move {
            let outcome = proxy
                .wasi_http_incoming_handler()
                .call_handle(&mut store, incoming, outparam)
                .await;
            (outcome, store)
        };
        // The epoch deadline stops guest code; this outer deadline also covers a guest
        // blocked in a host call (an outbound request that never answers).
        let timeout_ms = self.limits.timeout_ms;
        let outer = Duration::from_millis(timeout_ms) + Duration::from_millis(250);
        let deadline = tokio::time::Instant::now() + outer;
        match tokio::time::timeout_at(
            deadline,
            self.run_guest(Box::pin(guest), receiver, deadline),
        )
        .await
        {
            Ok(Answer::Streaming(Ok(response))) => Ok(response.map(drained_if_abandoned)),
            Ok(Answer::Streaming(Err(code))) => Err(DispatchError::Component(format!("{code:?}"))),
            Ok(Answer::Finished {
                outcome,
                response,
                store,
            }) => {
                let result = match (response, outcome) {
                    (Some(Ok(response)), _) => Ok(response.map(with_ready_frames_buffered)),
                    (Some(Err(code)), _) => Err(DispatchError::Component(format!("{code:?}"))),
                    (None, Ok(())) => Err(DispatchError::NoResponse),
                    (None, Err(failure)) => Err(classify(failure, &exceeded, timeout_ms)),
                };
                self.replenish(Some(store));
                result
            }
            // Dropping the guest's future (inside the timeout) dropped its store: the
            // instance is gone.
            Err(_elapsed) => {
                self.replenish(None);
                Err(DispatchError::Timeout(timeout_ms))
            }
        }
    }

    /// A new store with a fresh instance of the component in it, not yet called: the
    /// component's environment, variables and grants, its memory cap and a deadline for the
    /// instantiation itself.
    async fn instantiate(&self) -> Result<ReadyInstance, DispatchError> {
        let (limiter, exceeded) = MemoryCap::new(self.limits.memory_bytes);
        let mut wasi = WasiCtx::builder();
        wasi.envs(&self.environment);
        let state = RequestState {
            wasi: wasi.build(),
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            hooks: self.policy.clone(),
            limiter,
            context: RequestContext::default(),
            capabilities: self.capabilities.clone(),
        };
        let mut store = Store::new(self.pre.engine(), state);
        store.limiter(|state| &mut state.limiter);
        store.set_epoch_deadline(Runtime::deadline_ticks(self.limits.timeout_ms));
        store.epoch_deadline_trap();
        let proxy = self
            .pre
            .instantiate_async(&mut store)
            .await
            .map_err(|e| DispatchError::Unavailable(e.to_string()))?;
        Ok(ReadyInstance {
            store,
            proxy,
            exceeded,
        })
    }

    /// After a request: drops its store (resetting the instance's slot) and makes the next
    /// request's instance, on a task of its own so that neither delays the response.
    fn replenish(&self, used: Option<Store<RequestState>>) {
        let component = self.clone();
        tokio::spawn(async move { component.recycle(used).await });
    }

    async fn recycle(&self, used: Option<Store<RequestState>>) {
        drop(used);
        if !self.ready.wants_more() {
            return;
        }
        match self.instantiate().await {
            Ok(instance) => self.ready.put(instance),
            Err(error) => tracing::debug!(%error, "cannot make an instance ahead of its request"),
        }
    }

    /// Drives the guest on the request's own task until it sets a response: no task spawn
    /// and no cross-thread wake-up on the common path, where a guest answers in one go. A
    /// guest still running when its response arrives (streaming the body) moves to a task of
    /// its own, so the body keeps flowing while the response is sent.
    ///
    /// The request's deadline covers the body too: a guest still writing when it passes (a
    /// client that does not read, a body that never ends) is stopped and its instance
    /// dropped, and the client's body ends there. Without it, slow readers would hold
    /// instances, and with them the instance pool, for as long as they liked.
    async fn run_guest(
        &self,
        mut guest: GuestRun,
        mut receiver: tokio::sync::oneshot::Receiver<ResponseResult>,
        deadline: tokio::time::Instant,
    ) -> Answer {
        tokio::select! {
            biased;
            (outcome, store) = &mut guest => Answer::Finished {
                outcome,
                response: receiver.try_recv().ok(),
                store,
            },
            response = &mut receiver => match response {
                Ok(response) => {
                    let component = self.clone();
                    tokio::spawn(async move {
                        match tokio::time::timeout_at(deadline, guest).await {
                            Ok((_, store)) => component.recycle(Some(store)).await,
                            // Dropping the guest's future dropped its store: the instance
                            // and its half-written body are gone.
                            Err(_elapsed) => {
                                tracing::warn!("a response body was still being written at the request's deadline: stopped");
                                component.recycle(None).await;
                            }
                        }
                    });
                    Answer::Streaming(response)
                }
                // The guest dropped its response slot without answering: wait for its end.
                Err(_) => {
                    let (outcome, store) = guest.await;
                    Answer::Finished { outcome, response: None, store }
                }
            },
        }
    }
}

type GuestRun = std::pin::Pin<
    Box<dyn Future<Output = (Result<(), wasmtime::Error>, Store<RequestState>)> + Send>,
>;
type ResponseResult =
    Result<http::Response<ResponseBody>, wasmtime_wasi_http::p2::bindings::http::types::ErrorCode>;

/// How a guest's run ended, as far as the request is concerned.
enum Answer {
    /// The guest finished (and handed its store back), having set `response` or not.
    Finished {
        outcome: Result<(), wasmtime::Error>,
        response: Option<ResponseResult>,
        store: Store<RequestState>,
    },
    /// The guest set a response and is still writing its body, on a task of its own.
    Streaming(ResponseResult),
}

fn classify(error: wasmtime::Error, exceeded: &AtomicBool, timeout_ms: u64) -> DispatchError {
    if exceeded.load(Ordering::Relaxed) {
        return DispatchError::MemoryLimit;
    }
    match error.downcast_ref::<wasmtime::Trap>() {
        Some(wasmtime::Trap::Interrupt) => DispatchError::Timeout(timeout_ms),
        Some(trap) => DispatchError::Trap(trap.to_string()),
        None => DispatchError::Trap(format!("{error:#}")),
    }
}

/// A body the guest is still writing, relayed through a one-frame channel by a task that reads
/// it to its end even if the client goes away: the guest's writes then keep succeeding and it
/// finishes its request (a chat answer is still stored) instead of blocking on a body nobody
/// reads until its deadline. The channel's single slot keeps the client's back-pressure on
/// the guest while the client is there; the request's deadline still bounds the guest.
fn drained_if_abandoned(mut body: ResponseBody) -> ResponseBody {
    use http_body_util::{BodyExt, StreamBody};

    let (sender, receiver) = tokio::sync::mpsc::channel(1);
    tokio::spawn(async move {
        let mut client = Some(sender);
        while let Some(frame) = body.frame().await {
            let failed = frame.is_err();
            if let Some(to_client) = &client
                && to_client.send(frame).await.is_err()
            {
                client = None;
            }
            if failed {
                break;
            }
        }
    });
    let frames = futures::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|frame| (frame, receiver))
    });
    StreamBody::new(frames).boxed_unsync()
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

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::sync::Arc;

    use http_body_util::BodyExt;

    use super::*;
    use std::collections::HashMap;

    use crate::capabilities::HostServices;
    use crate::crypto::{KeyService, MasterKeys};
    use crate::manifest::Manifest;
    use crate::registry::ComponentRegistry;
    use crate::runtime::ready::WAITING_PER_COMPONENT;
    use crate::runtime::{Runnable, Runtime};

    const MANIFEST: &str = "spin_manifest_version = 2\n[application]\nname = \"t\"\n[[trigger.http]]\nroute = \"/hello/...\"\ncomponent = \"hello\"\n[component.hello]\nsource = \"hello-spin.wasm\"\n[component.hello.tool.mindflow]\nauthentication = \"none\"\n";

    /// The real hello-spin component, active in a registry, and the host services.
    async fn hello() -> (HttpComponent, HostServices, tempfile::TempDir) {
        active(MANIFEST, "hello").await
    }

    /// Component `name` of `manifest`, active in a registry, and the host services.
    async fn active(
        manifest: &str,
        name: &str,
    ) -> (HttpComponent, HostServices, tempfile::TempDir) {
        let components = std::env::var_os("MINDFLOW_COMPONENTS_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/components")
            });
        let manifest = Manifest::parse(manifest, &components)
            .expect("manifest (build the components first: `cargo xtask components`)");
        let (db, dir) = crate::db::testing::sqlite().await;
        let runtime = Runtime::new(dir.path().join("cache")).expect("runtime");
        let keys = KeyService::new(db.clone(), MasterKeys::new(&[7; 32], &[]));
        let services = HostServices::new(
            db.clone(),
            keys,
            "moderate",
            crate::crisis::semantic::from_environment(),
        )
        .expect("host services");
        let registry = Arc::new(ComponentRegistry::new(
            runtime,
            db,
            Arc::new(manifest),
            HashMap::new(),
            services.clone(),
        ));
        registry.bootstrap().await.expect("bootstrap");
        let active = registry.get(name).expect("active");
        let Runnable::Http(component) = &active.prepared.runnable else {
            panic!("not an HTTP component");
        };
        (component.clone(), services, dir)
    }

    async fn get(component: &HttpComponent, path: &str) -> String {
        let request = http::Request::get(format!("http://localhost{path}"))
            .body(Full::new(Bytes::new()))
            .expect("request");
        let response = component
            .handle(request, None, "test".into())
            .await
            .expect("response");
        assert_eq!(response.status(), 200);
        let body = response.into_body().collect().await.expect("body");
        String::from_utf8(body.to_bytes().to_vec()).expect("utf-8")
    }

    /// Lets the tasks spawned after requests run (this runtime has one thread) until
    /// `waiting` instances wait, or gives up after many turns; returns how many wait.
    async fn settle(component: &HttpComponent, waiting: usize) -> usize {
        for _ in 0..1_000 {
            if component.ready.waiting() == waiting {
                break;
            }
            tokio::task::yield_now().await;
        }
        // Anything still running gets more turns, so an excess would show.
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        component.ready.waiting()
    }

    #[tokio::test]
    async fn after_a_request_the_next_instance_is_made_and_waits() {
        let (component, _services, _dir) = hello().await;
        assert_eq!(component.ready.waiting(), 0);
        // The first request makes its instance on the spot, then leaves one waiting.
        assert!(get(&component, "/hello/a").await.contains("/hello/a"));
        assert_eq!(settle(&component, 1).await, 1);
        // Each later request takes the waiting one, and another is made after it.
        for round in 0..5 {
            let body = get(&component, &format!("/hello/{round}")).await;
            assert!(body.contains(&format!("/hello/{round}")), "{body}");
            assert_eq!(settle(&component, 1).await, 1);
        }
    }

    #[tokio::test]
    async fn concurrent_requests_leave_at_most_the_limit_waiting() {
        let (component, _services, _dir) = hello().await;
        let requests = (0..8).map(|i| {
            let component = component.clone();
            async move { get(&component, &format!("/hello/{i}")).await }
        });
        for (i, body) in futures::future::join_all(requests).await.iter().enumerate() {
            assert!(body.contains(&format!("/hello/{i}")), "{body}");
        }
        assert_eq!(
            settle(&component, WAITING_PER_COMPONENT).await,
            WAITING_PER_COMPONENT
        );
    }

    /// A guest writing a body nobody reads is stopped at the request's deadline, and its
    /// instance is released (a new one is made to wait), instead of holding a slot of the
    /// pool for as long as the reader stalls.
    #[tokio::test]
    async fn a_body_nobody_reads_is_stopped_at_the_deadline() {
        const HOSTILE: &str = "spin_manifest_version = 2\n[application]\nname = \"t\"\n[[trigger.http]]\nroute = \"/hostile/...\"\ncomponent = \"hostile\"\n[component.hostile]\nsource = \"hostile.wasm\"\n[component.hostile.tool.mindflow]\nauthentication = \"none\"\ntimeout_ms = 300\n";
        let (component, _services, _dir) = active(HOSTILE, "hostile").await;
        let request = http::Request::get("http://localhost/hostile/big?bytes=16777216")
            .body(Full::new(Bytes::new()))
            .expect("request");
        let response = component
            .handle(request, None, "test".into())
            .await
            .expect("the head arrives");
        assert_eq!(response.status(), 200);
        // Nobody reads the body: the guest blocks writing it. Past the deadline (300 ms
        // + 250 ms of grace), its store is dropped and an instance is made to wait instead.
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        assert_eq!(
            settle(&component, 1).await,
            1,
            "the stalled instance was not released"
        );
        // The body ends (short of 16 MiB) instead of hanging.
        let body = tokio::time::timeout(Duration::from_secs(5), response.into_body().collect())
            .await
            .expect("the body ends");
        if let Ok(collected) = body {
            assert!(collected.to_bytes().len() < 16 * 1024 * 1024);
        }
    }
}

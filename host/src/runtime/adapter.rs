//! Running a wearable adapter (`wearable-adapter` world): `describe`, `fetch` with the user's
//! token added by the host, `read-notification`, and uploads streamed into its `upload`
//! resource. Each call gets a fresh store and instance under the component's memory cap and
//! a deadline (for uploads, a deadline per chunk).
//!
//! The adapter's outbound requests go through [`AdapterHttp`]: only destinations its
//! manifest's `allowed_outbound_hosts` name are reachable; the `authorization` header it
//! sets is removed; the user's token is added to requests for its declared `api-hosts` and
//! nothing else. An operator's origin map (`MINDFLOW_WEARABLE_ORIGINS`, for a provider's
//! sandbox or the tests' simulators) sends a declared origin elsewhere after the check.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use thiserror::Error;
use wasmtime::Store;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{
    Error as HttpError, RequestOptions, WasiBody, WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks,
    WasiHttpView,
};

use super::Runtime;
use super::limiter::MemoryCap;
use crate::capabilities::outbound::{AllowedHost, OutboundPolicy};
use crate::manifest::Limits;
use crate::manifest::allowed_hosts::default_port;
use crate::wearables::roundtrip::Replay;
use crate::wearables::world::WearableAdapterExportsPre;
use crate::wearables::world::exports::mindflow::platform::adapter as wit;

pub use wit::{AdapterError, Batch, Notification, ProviderInfo};

/// An origin (`https://api.example.com`, no path), lowercase, with its port when not the
/// scheme's default.
pub type Origin = String;

/// The origin of an absolute URL.
pub fn origin_of(url: &str) -> Option<Origin> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    if authority.is_empty() {
        return None;
    }
    Some(format!(
        "{}://{}",
        scheme.to_ascii_lowercase(),
        authority.to_ascii_lowercase()
    ))
}

/// Where an operator sends a provider's origins instead (sandbox hosts, simulators).
#[derive(Debug, Clone, Default)]
pub struct OriginMap(Arc<HashMap<Origin, Origin>>);

impl OriginMap {
    /// Parses `https://api.x.com=http://127.0.0.1:9000,…`.
    ///
    /// # Errors
    /// A message naming the entry that is not `origin=origin`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut map = HashMap::new();
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (from, to) = entry
                .split_once('=')
                .ok_or_else(|| format!("`{entry}` is not `origin=origin`"))?;
            let (Some(from), Some(to)) = (origin_of(from.trim()), origin_of(to.trim())) else {
                return Err(format!("`{entry}` is not `origin=origin`"));
            };
            map.insert(from, to);
        }
        Ok(Self(Arc::new(map)))
    }

    /// `url` with its origin replaced when the map names it.
    pub fn apply(&self, url: &str) -> String {
        match origin_of(url).and_then(|o| self.0.get(&o).map(|to| (o, to))) {
            Some((from, to)) => format!("{to}{}", &url[from.len()..]),
            None => url.to_owned(),
        }
    }

    fn target(&self, origin: &str) -> Option<&Origin> {
        self.0.get(origin)
    }
}

/// Asked before each request of a `fetch` to the adapter's declared API hosts: `Ok` sends
/// it; `Err(seconds)` answers the adapter `429 Too Many Requests` with that `Retry-After`
/// instead, as the provider itself would (the operator's budget for the provider is spent).
pub trait RequestGate: Send + Sync {
    /// Whether the next request may go out, or in how many seconds to try again.
    fn admit(self: Arc<Self>) -> std::pin::Pin<Box<dyn Future<Output = Result<(), u32>> + Send>>;
}

/// What one call's outbound requests may do and did.
#[derive(Clone, Default)]
pub struct AdapterHttp {
    allowed: Arc<[AllowedHost]>,
    api_hosts: Arc<[Origin]>,
    origins: OriginMap,
    component: Arc<str>,
    /// The user's access token for this call (none for describe and notifications).
    token: Option<Arc<str>>,
    /// Requests sent by this call.
    pub sent: Arc<AtomicU64>,
    /// The install check's replay of the adapter's fixture: when set, requests are answered
    /// from it and nothing reaches a network.
    replay: Option<Arc<Replay>>,
    /// The budget this call's API requests are admitted under, if any.
    gate: Option<Arc<dyn RequestGate>>,
}

impl AdapterHttp {
    fn with_token(&self, token: Option<&str>, gate: Option<Arc<dyn RequestGate>>) -> Self {
        Self {
            token: token.map(Arc::from),
            sent: Arc::new(AtomicU64::new(0)),
            gate,
            ..self.clone()
        }
    }
}

/// A response and the future that drives its connection.
type Sent = (
    http::Response<WasiBody>,
    Box<dyn Future<Output = Result<(), HttpError>> + Send>,
);

type ResponseFuture = Box<dyn Future<Output = Result<Sent, HttpError>> + Send>;

/// A `429` with `Retry-After: seconds` that never reached the provider.
fn too_many_requests(seconds: u32) -> Result<http::Response<WasiBody>, HttpError> {
    use http_body_util::BodyExt;
    let body = http_body_util::Empty::<bytes::Bytes>::new()
        .map_err(|never: std::convert::Infallible| -> HttpError { match never {} })
        .boxed_unsync();
    http::Response::builder()
        .status(http::StatusCode::TOO_MANY_REQUESTS)
        .header(http::header::RETRY_AFTER, seconds.to_string())
        .body(body)
        .map_err(|_| HttpError::InternalError(None))
}

impl WasiHttpHooks for AdapterHttp {
    fn send_request(
        &mut self,
        mut request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> ResponseFuture {
        let this = self.clone();
        Box::new(async move {
            drop(fut);
            let uri = request.uri().clone();
            let scheme = uri.scheme_str().unwrap_or("https").to_ascii_lowercase();
            let host = uri
                .host()
                .ok_or(HttpError::HttpRequestUriInvalid)?
                .to_ascii_lowercase();
            let port = uri.port_u16().unwrap_or_else(|| default_port(&scheme));
            let origin = origin_of(&uri.to_string()).ok_or(HttpError::HttpRequestUriInvalid)?;
            let host_only = host.trim_matches(['[', ']']).to_owned();
            if !this
                .allowed
                .iter()
                .any(|a| a.allows(&scheme, &host_only, port))
            {
                if let Some(replay) = &this.replay {
                    replay.refused(request.method().as_str(), &uri.to_string());
                    return Err(HttpError::HttpRequestDenied);
                }
                tracing::warn!(component = %this.component, %origin, "adapter request refused: not an allowed host");
                return Err(HttpError::HttpRequestDenied);
            }
            request.headers_mut().remove(http::header::AUTHORIZATION);
            if this.api_hosts.contains(&origin)
                && let Some(gate) = &this.gate
                && let Err(seconds) = gate.clone().admit().await
            {
                let done: Box<dyn Future<Output = Result<(), HttpError>> + Send> =
                    Box::new(async { Ok(()) });
                return Ok((too_many_requests(seconds)?, done));
            }
            if this.api_hosts.contains(&origin)
                && let Some(token) = &this.token
            {
                let value = http::HeaderValue::from_str(&format!("Bearer {token}"))
                    .map_err(|_| HttpError::HttpRequestUriInvalid)?;
                request
                    .headers_mut()
                    .insert(http::header::AUTHORIZATION, value);
            }
            if let Some(replay) = &this.replay {
                let authorization = request
                    .headers()
                    .get(http::header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok());
                let (status, headers, body) = replay
                    .answer(request.method().as_str(), &uri.to_string(), authorization)
                    .ok_or(HttpError::HttpRequestDenied)?;
                this.sent.fetch_add(1, Ordering::Relaxed);
                return replayed(status, headers, body);
            }
            if let Some(target) = this.origins.target(&origin) {
                // The operator's own destination (a sandbox, a simulator): not checked
                // against the public-address rule, which guards against names an adapter
                // chose, not this.
                let rewritten: http::Uri = format!(
                    "{target}{}",
                    uri.path_and_query()
                        .map_or("/", http::uri::PathAndQuery::as_str)
                )
                .parse()
                .map_err(|_| HttpError::HttpRequestUriInvalid)?;
                let authority = rewritten
                    .authority()
                    .map(|a| a.as_str().to_owned())
                    .unwrap_or_default();
                *request.uri_mut() = rewritten;
                if let Ok(value) = http::HeaderValue::from_str(&authority) {
                    request.headers_mut().insert(http::header::HOST, value);
                }
            } else {
                let checked = OutboundPolicy::check(&this.allowed, &scheme, &host, port).await?;
                if let (Some(address), "http") = (checked, scheme.as_str()) {
                    let mut parts = uri.into_parts();
                    parts.authority = Some(
                        address
                            .to_string()
                            .parse()
                            .map_err(|_| HttpError::HttpRequestUriInvalid)?,
                    );
                    *request.uri_mut() = http::Uri::from_parts(parts)
                        .map_err(|_| HttpError::HttpRequestUriInvalid)?;
                }
            }
            this.sent.fetch_add(1, Ordering::Relaxed);
            let (response, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            use http_body_util::BodyExt;
            Ok((
                response.map(BodyExt::boxed_unsync),
                Box::new(io) as Box<dyn Future<Output = Result<(), HttpError>> + Send>,
            ))
        })
    }
}

/// A fixture's answer as the response `wasi:http` hands the adapter.
fn replayed(status: u16, headers: Vec<(String, String)>, body: Vec<u8>) -> Result<Sent, HttpError> {
    use http_body_util::BodyExt;
    let mut response = http::Response::builder().status(status);
    for (name, value) in &headers {
        response = response.header(name.as_str(), value.as_str());
    }
    let body = http_body_util::Full::new(bytes::Bytes::from(body))
        .map_err(|never| match never {})
        .boxed_unsync();
    let response = response
        .body(body)
        .map_err(|e| HttpError::InternalError(Some(format!("a fixture answer: {e}"))))?;
    Ok((
        response,
        Box::new(async { Ok(()) }) as Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ))
}

/// The state of an adapter's store.
pub struct AdapterState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    hooks: AdapterHttp,
    limiter: MemoryCap,
}

impl WasiView for AdapterState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for AdapterState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

/// Why an adapter call failed (beside the adapter's own `adapter-error`).
#[derive(Debug, Error)]
pub enum AdapterCallError {
    /// The adapter answered an error.
    #[error("{0}")]
    Adapter(AdapterFailure),
    /// It ran past its deadline.
    #[error("the adapter did not answer within {0} ms")]
    Timeout(u64),
    /// It outgrew its memory cap.
    #[error("the adapter exceeded its memory limit")]
    MemoryLimit,
    /// It trapped.
    #[error("the adapter failed: {0}")]
    Trap(String),
    /// No instance could be made.
    #[error("the adapter is unavailable: {0}")]
    Unavailable(String),
}

/// The adapter's `adapter-error`, owned.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AdapterFailure {
    /// The token was refused.
    #[error("the provider refused the token")]
    Unauthorized,
    /// The provider asked to slow down.
    #[error("the provider asked to retry after {0} s")]
    RateLimited(u32),
    /// The provider failed.
    #[error("the provider failed: {0}")]
    Provider(String),
    /// The input was malformed.
    #[error("invalid input: {0}")]
    InvalidInput(String),
}

impl From<AdapterError> for AdapterFailure {
    fn from(error: AdapterError) -> Self {
        match error {
            AdapterError::Unauthorized => Self::Unauthorized,
            AdapterError::RateLimited(s) => Self::RateLimited(s),
            AdapterError::Provider(m) => Self::Provider(m),
            AdapterError::InvalidInput(m) => Self::InvalidInput(m),
        }
    }
}

/// A prepared adapter, with what it declared.
#[derive(Clone)]
pub struct AdapterComponent {
    pre: WearableAdapterExportsPre<AdapterState>,
    limits: Limits,
    http: AdapterHttp,
    /// What `describe` answered when it was prepared.
    pub info: Arc<ProviderInfo>,
}

/// The most bytes one upload chunk carries into the sandbox.
pub const UPLOAD_CHUNK: usize = 256 * 1024;

impl AdapterComponent {
    /// Pre-instantiates and describes an adapter.
    ///
    /// # Errors
    /// A message when `describe` fails or declares what the host cannot use.
    pub(crate) async fn load(
        pre: WearableAdapterExportsPre<AdapterState>,
        limits: Limits,
        allowed: &[AllowedHost],
        component: &str,
        origins: OriginMap,
    ) -> Result<Self, String> {
        let mut adapter = Self {
            pre,
            limits,
            http: AdapterHttp {
                allowed: allowed.into(),
                api_hosts: Arc::from(Vec::new()),
                origins,
                component: component.into(),
                token: None,
                sent: Arc::default(),
                replay: None,
                gate: None,
            },
            info: Arc::new(ProviderInfo {
                id: String::new(),
                display_name: String::new(),
                connection: wit::ConnectionKind::Upload,
                api_hosts: Vec::new(),
                webhooks: None,
                hrv_kind: wit::HrvKind::None,
                backfill_days: 0,
                requests_per_minute: 0,
            }),
        };
        let info = adapter.describe().await.map_err(|e| e.to_string())?;
        crate::wearables::conformance::check_info(&info, allowed)?;
        adapter.http.api_hosts = info
            .api_hosts
            .iter()
            .filter_map(|h| origin_of(h))
            .collect::<Vec<_>>()
            .into();
        adapter.info = Arc::new(info);
        Ok(adapter)
    }

    async fn instantiate(
        &self,
        token: Option<&str>,
        gate: Option<Arc<dyn RequestGate>>,
    ) -> Result<
        (
            Store<AdapterState>,
            crate::wearables::world::WearableAdapterExports,
            Arc<AtomicBool>,
            Arc<AtomicU64>,
        ),
        AdapterCallError,
    > {
        let (limiter, exceeded) = MemoryCap::new(self.limits.memory_bytes);
        let hooks = self.http.with_token(token, gate);
        let sent = hooks.sent.clone();
        let state = AdapterState {
            wasi: WasiCtx::builder().build(),
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            hooks,
            limiter,
        };
        let mut store = Store::new(self.pre.engine(), state);
        store.limiter(|state| &mut state.limiter);
        store.set_epoch_deadline(Runtime::deadline_ticks(self.limits.timeout_ms));
        store.epoch_deadline_trap();
        let bindings = self
            .pre
            .instantiate_async(&mut store)
            .await
            .map_err(|e| AdapterCallError::Unavailable(e.to_string()))?;
        Ok((store, bindings, exceeded, sent))
    }

    fn classify(&self, error: &wasmtime::Error, exceeded: &AtomicBool) -> AdapterCallError {
        if exceeded.load(Ordering::Relaxed) {
            return AdapterCallError::MemoryLimit;
        }
        match error.downcast_ref::<wasmtime::Trap>() {
            Some(wasmtime::Trap::Interrupt) => AdapterCallError::Timeout(self.limits.timeout_ms),
            Some(trap) => AdapterCallError::Trap(trap.to_string()),
            None => AdapterCallError::Trap(format!("{error:#}")),
        }
    }

    /// A copy whose outbound requests are answered by `replay` (the install check's fixture
    /// round trip, `wearables::roundtrip`), never by a network.
    #[must_use]
    pub fn replaying(&self, replay: Arc<Replay>) -> Self {
        let mut copy = self.clone();
        copy.http.replay = Some(replay);
        copy
    }

    /// `conformance`: the adapter's fixture.
    ///
    /// # Errors
    /// [`AdapterCallError`].
    pub async fn conformance(&self) -> Result<wit::Fixture, AdapterCallError> {
        let (mut store, bindings, exceeded, _) = self.instantiate(None, None).await?;
        bindings
            .mindflow_platform_adapter()
            .call_conformance(&mut store)
            .await
            .map_err(|e| self.classify(&e, &exceeded))
    }

    /// `describe`.
    ///
    /// # Errors
    /// [`AdapterCallError`].
    pub async fn describe(&self) -> Result<ProviderInfo, AdapterCallError> {
        let (mut store, bindings, exceeded, _) = self.instantiate(None, None).await?;
        bindings
            .mindflow_platform_adapter()
            .call_describe(&mut store)
            .await
            .map_err(|e| self.classify(&e, &exceeded))
    }

    /// `fetch` of `start..=end` with the user's `token` added to requests for the adapter's
    /// declared hosts, each admitted by `gate` first when there is one; the batch and the
    /// number of requests it sent.
    ///
    /// # Errors
    /// [`AdapterCallError`].
    pub async fn fetch(
        &self,
        token: &str,
        start: &str,
        end: &str,
        gate: Option<Arc<dyn RequestGate>>,
    ) -> Result<(Batch, u64), AdapterCallError> {
        let (mut store, bindings, exceeded, sent) = self.instantiate(Some(token), gate).await?;
        let answer = bindings
            .mindflow_platform_adapter()
            .call_fetch(&mut store, start, end)
            .await
            .map_err(|e| self.classify(&e, &exceeded))?;
        let count = sent.load(Ordering::Relaxed);
        answer
            .map(|batch| (batch, count))
            .map_err(|e| AdapterCallError::Adapter(e.into()))
    }

    /// `identify` with the user's `token`: the provider's id for the user.
    ///
    /// # Errors
    /// [`AdapterCallError`].
    pub async fn identify(&self, token: &str) -> Result<String, AdapterCallError> {
        let (mut store, bindings, exceeded, _) = self.instantiate(Some(token), None).await?;
        bindings
            .mindflow_platform_adapter()
            .call_identify(&mut store)
            .await
            .map_err(|e| self.classify(&e, &exceeded))?
            .map_err(|e| AdapterCallError::Adapter(e.into()))
    }

    /// `read-notification` of a verified webhook body: what it asks for each user it names.
    ///
    /// # Errors
    /// [`AdapterCallError`].
    pub async fn read_notification(
        &self,
        body: &[u8],
    ) -> Result<Vec<Notification>, AdapterCallError> {
        let (mut store, bindings, exceeded, _) = self.instantiate(None, None).await?;
        bindings
            .mindflow_platform_adapter()
            .call_read_notification(&mut store, body)
            .await
            .map_err(|e| self.classify(&e, &exceeded))?
            .map_err(|e| AdapterCallError::Adapter(e.into()))
    }

    /// Streams `chunks` (each at most [`UPLOAD_CHUNK`] bytes; a larger one is split) into
    /// the adapter's `upload` resource for `filename`, then finishes it. Each chunk has the
    /// component's deadline; the memory cap holds for the whole file.
    ///
    /// # Errors
    /// [`AdapterCallError`].
    pub async fn upload<S, E>(
        &self,
        filename: &str,
        mut chunks: S,
    ) -> Result<Batch, AdapterCallError>
    where
        S: futures::Stream<Item = Result<bytes::Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        use futures::StreamExt;
        let (mut store, bindings, exceeded, _) = self.instantiate(None, None).await?;
        let guest = bindings.mindflow_platform_adapter().upload();
        let upload = guest
            .call_constructor(&mut store, filename)
            .await
            .map_err(|e| self.classify(&e, &exceeded))?;
        let ticks = Runtime::deadline_ticks(self.limits.timeout_ms);
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk.map_err(|e| {
                AdapterCallError::Adapter(AdapterFailure::InvalidInput(format!(
                    "the upload was cut off: {e}"
                )))
            })?;
            for piece in chunk.chunks(UPLOAD_CHUNK) {
                store.set_epoch_deadline(ticks);
                guest
                    .call_write(&mut store, upload, piece)
                    .await
                    .map_err(|e| self.classify(&e, &exceeded))?
                    .map_err(|e| AdapterCallError::Adapter(e.into()))?;
            }
        }
        store.set_epoch_deadline(ticks);
        let batch = guest
            .call_finish(&mut store, upload)
            .await
            .map_err(|e| self.classify(&e, &exceeded))?
            .map_err(|e| AdapterCallError::Adapter(e.into()))?;
        let _ = upload.resource_drop_async(&mut store).await;
        Ok(batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_parsed_and_mapped() {
        let map = OriginMap::parse("https://api.ouraring.com=http://127.0.0.1:9000, https://x.io:8443=http://127.0.0.1:9001")
            .expect("map");
        assert_eq!(
            map.apply("https://api.ouraring.com/v2/usercollection/sleep?start_date=2026-01-01"),
            "http://127.0.0.1:9000/v2/usercollection/sleep?start_date=2026-01-01"
        );
        assert_eq!(map.apply("https://x.io:8443/a"), "http://127.0.0.1:9001/a");
        assert_eq!(map.apply("https://other.com/a"), "https://other.com/a");
        assert!(OriginMap::parse("nonsense").is_err());
        assert_eq!(
            origin_of("HTTPS://API.Example.com/x?y"),
            Some("https://api.example.com".into())
        );
    }
}

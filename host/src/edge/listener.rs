//! Serving connections: HTTP/1.1 on a TCP listener, with the limits `axum::serve`
//! does not set.
//!
//! - **A deadline for a request's head** (`header_read_timeout`): a client that opens a
//!   connection and sends its headers a byte at a time (slowloris), or keeps an idle
//!   keep-alive connection open without sending the next request, is disconnected.
//! - **Connections per client address**: at most `max_per_address` open at once from one
//!   address; more are closed on accept. Trusted proxies are exempt (every client behind
//!   them shares their address).
//! - **Graceful shutdown**: on the signal, listening stops and open connections finish their
//!   requests.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tower::ServiceExt as _;

use super::client::TrustedProxies;

/// The limits of [`serve`].
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// How long a request's head may take to arrive, and how long a keep-alive connection
    /// may wait idle for its next request.
    pub header_read_timeout: Duration,
    /// Open connections one client address may hold.
    pub max_per_address: usize,
}

/// Open connections per client address.
#[derive(Default)]
struct OpenConnections(Mutex<HashMap<IpAddr, usize>>);

impl OpenConnections {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, usize>> {
        // A panic while holding the lock leaves plain counts: still usable.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Counts a connection from `ip`, unless it already holds `max`.
    fn open(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<OpenConnection> {
        let mut open = self.lock();
        let count = open.entry(ip).or_insert(0);
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(OpenConnection {
            ip,
            open: self.clone(),
        })
    }
}

/// One counted connection; uncounted when dropped.
struct OpenConnection {
    ip: IpAddr,
    open: Arc<OpenConnections>,
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        let mut open = self.open.lock();
        if let Some(count) = open.get_mut(&self.ip) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// Serves `app` on `listener` until `shutdown` completes, then lets open connections finish.
///
/// # Errors
/// Never for a client's fault: a failed accept is logged and the loop goes on.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    trusted: Arc<TrustedProxies>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let open = Arc::new(OpenConnections::default());
    let graceful = GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let builder = Arc::new(builder);
    tokio::pin!(shutdown);
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let counted = if trusted.contains(remote.ip()) {
            None
        } else {
            match open.open(remote.ip(), limits.max_per_address) {
                Some(counted) => Some(counted),
                None => {
                    tracing::debug!(client = %remote.ip(), "too many connections from one address: closed");
                    drop(stream);
                    continue;
                }
            }
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request
                .extensions_mut()
                .insert(ConnectInfo::<SocketAddr>(remote));
            app.clone().oneshot(request)
        });
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection ended with an error");
            }
            drop(counted);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_are_counted_per_address_and_released() {
        let open = Arc::new(OpenConnections::default());
        let a: IpAddr = "192.0.2.1".parse().expect("ip");
        let b: IpAddr = "192.0.2.2".parse().expect("ip");
        let first = open.open(a, 2).expect("first");
        let second = open.open(a, 2).expect("second");
        assert!(open.open(a, 2).is_none(), "a third from the same address");
        assert!(open.open(b, 2).is_some(), "another address is not affected");
        drop(first);
        assert!(open.open(a, 2).is_some(), "room again once one closed");
        drop(second);
    }
}

//! The proxy listener: HTTP/1.1 + h2c on one port, header limits, graceful drain.
//!
//! Limits sit here, outside the proxy, because hyper enforces them while parsing: a request
//! head over `max_header_bytes` or with more than `max_headers` fields is answered 431 before
//! any routing happens. Bodies are never limited (they stream).

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

use crate::proxy::{ConnInfo, Proxy};

/// Listener settings.
#[derive(Debug, Clone, Copy)]
pub struct ServerConfig {
    /// Largest request head (request line + headers), bytes; larger -> 431.
    pub max_header_bytes: usize,
    /// Most header fields per request; more -> 431.
    pub max_headers: usize,
    /// How long in-flight requests may take to finish after a shutdown signal.
    pub drain_timeout: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            max_header_bytes: 32 * 1024,
            max_headers: 100,
            drain_timeout: Duration::from_secs(30),
        }
    }
}

/// Serve `listener` until `shutdown` resolves, then drain (bounded by `drain_timeout`).
pub async fn serve(
    listener: TcpListener,
    proxy: Arc<Proxy>,
    config: ServerConfig,
    shutdown: impl Future<Output = ()>,
) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(60))
        .max_buf_size(config.max_header_bytes.max(8192))
        .max_headers(config.max_headers);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(config.max_header_bytes).unwrap_or(u32::MAX))
        .max_concurrent_streams(1000);
    let builder = Arc::new(builder);
    let graceful = GracefulShutdown::new();
    let local_port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
    tokio::pin!(shutdown);

    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, remote) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // EMFILE and friends: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                spawn_connection(&builder, &graceful, stream, remote, local_port, proxy.clone());
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    tracing::info!("shutting down: draining in-flight requests");
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("all connections drained"),
        () = tokio::time::sleep(config.drain_timeout) => tracing::warn!("drain timeout; closing remaining connections"),
    }
}

fn spawn_connection(
    builder: &Arc<auto::Builder<TokioExecutor>>,
    graceful: &GracefulShutdown,
    stream: tokio::net::TcpStream,
    remote: SocketAddr,
    local_port: u16,
    proxy: Arc<Proxy>,
) {
    let info = Arc::new(ConnInfo::new(remote, local_port));
    let svc = service_fn(move |req| {
        let proxy = proxy.clone();
        let info = info.clone();
        async move { Ok::<_, Infallible>(proxy.handle(req, &info).await) }
    });
    let conn = builder
        .serve_connection_with_upgrades(TokioIo::new(stream), svc)
        .into_owned();
    let conn = graceful.watch(conn);
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!(client.addr = %remote, error = %e, "connection ended with error");
        }
    });
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

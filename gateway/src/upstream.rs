//! Upstream HTTP clients: pooled keep-alive, HTTP/1.1 and HTTP/2 (ALPN), TLS with SNI.
//!
//! A [`Client`] is keyed by what the connector needs to know per service (connect timeout,
//! retries, certificate verification, HTTP/1-only for upgrades); [`Upstreams`] keeps one per key
//! for the life of the process so that connection pools survive configuration reloads. It is
//! consulted only when a snapshot is compiled, never on the request path.
//!
//! Retries (Kong's `retries`) happen inside the connector: only connection establishment is
//! retried, so a request body is never replayed.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use http::Uri;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder, MaybeHttpsStream};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use parking_lot::Mutex;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::net::TcpStream;

use crate::body::{BoxError, RequestBody};

/// The pooled client used to reach services.
pub type Client = hyper_util::client::legacy::Client<RetryConnector, RequestBody>;

/// Env var naming a PEM bundle of extra trusted roots.
pub const CA_BUNDLE_ENV: &str = "GATEWAY_CA_BUNDLE";

/// What distinguishes one client (and its pool) from another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientKey {
    /// Per-attempt connect timeout (TCP + TLS handshake).
    pub connect_timeout: Duration,
    /// Extra connection attempts after the first.
    pub retries: u32,
    /// Verify the upstream certificate.
    pub tls_verify: bool,
    /// Offer only HTTP/1.1 (needed for `Upgrade`, e.g. WebSocket).
    pub http1_only: bool,
    /// Speak only HTTP/2: h2c prior knowledge for `grpc`, ALPN `h2` for `grpcs`.
    pub http2_only: bool,
}

/// Connecting failed after every attempt.
#[derive(Debug, thiserror::Error)]
#[error("connecting to upstream failed after {attempts} attempt(s){}", if *.timed_out { " (timed out)" } else { "" })]
pub struct ConnectError {
    /// Attempts made.
    pub attempts: u32,
    /// Whether the last attempt timed out.
    pub timed_out: bool,
    /// The last error (`None` when it timed out).
    #[source]
    pub source: Option<BoxError>,
}

impl ConnectError {
    /// Whether the last attempt failed to resolve the host name.
    pub fn is_dns(&self) -> bool {
        // hyper-util's HttpConnector reports resolver failures as "dns error: <cause>".
        self.source
            .as_ref()
            .is_some_and(|e| dns_failure(e.as_ref()))
    }
}

fn dns_failure(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if err.to_string().starts_with("dns error") {
            return true;
        }
        cur = err.source();
    }
    false
}

/// Factory and cache of upstream clients.
pub struct Upstreams {
    verifying: Arc<ClientConfig>,
    insecure: Arc<ClientConfig>,
    clients: Mutex<HashMap<ClientKey, Client>>,
}

// === impl Upstreams ===

impl Upstreams {
    /// Build from the environment: webpki + native roots, plus `GATEWAY_CA_BUNDLE` if set.
    pub fn from_env() -> anyhow::Result<Self> {
        let mut roots = RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        let native = rustls_native_certs::load_native_certs();
        for cert in native.certs {
            let _ = roots.add(cert);
        }
        if let Some(path) = std::env::var_os(CA_BUNDLE_ENV).filter(|p| !p.is_empty()) {
            let pem = std::fs::read(&path).map_err(|e| {
                anyhow::anyhow!("reading {CA_BUNDLE_ENV} {}: {e}", path.to_string_lossy())
            })?;
            for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
                roots.add(cert?)?;
            }
        }
        Self::with_roots(roots)
    }

    /// Build with an explicit root store.
    pub fn with_roots(roots: RootCertStore) -> anyhow::Result<Self> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifying = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let insecure = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCert(provider)))
            .with_no_client_auth();
        Ok(Self {
            verifying: Arc::new(verifying),
            insecure: Arc::new(insecure),
            clients: Mutex::new(HashMap::new()),
        })
    }

    /// The process-wide factory (from the environment; plain webpki roots if that fails).
    pub fn global() -> &'static Upstreams {
        static GLOBAL: OnceLock<Upstreams> = OnceLock::new();
        GLOBAL.get_or_init(|| {
            Self::from_env().unwrap_or_else(|e| {
                tracing::error!(error = %e, "upstream TLS roots from env failed; using webpki roots only");
                let mut roots = RootCertStore::empty();
                roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
                Self::with_roots(roots).expect("default TLS config builds")
            })
        })
    }

    /// The shared client for `key` (created on first use).
    pub fn client(&self, key: ClientKey) -> Client {
        let mut clients = self.clients.lock();
        clients
            .entry(key)
            .or_insert_with(|| self.build(key))
            .clone()
    }

    fn build(&self, key: ClientKey) -> Client {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_keepalive(Some(Duration::from_secs(60)));
        let tls = if key.tls_verify {
            self.verifying.clone()
        } else {
            self.insecure.clone()
        };
        let builder = HttpsConnectorBuilder::new()
            .with_tls_config((*tls).clone())
            .https_or_http();
        let https = if key.http1_only {
            builder.enable_http1().wrap_connector(http)
        } else if key.http2_only {
            builder.enable_http2().wrap_connector(http)
        } else {
            builder.enable_http1().enable_http2().wrap_connector(http)
        };
        let connector = RetryConnector {
            inner: https,
            connect_timeout: key.connect_timeout,
            attempts: key.retries.saturating_add(1),
        };
        hyper_util::client::legacy::Client::builder(TokioExecutor::new())
            .timer(TokioTimer::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(256)
            .http1_max_headers(200)
            .http2_adaptive_window(true)
            .http2_only(key.http2_only && !key.http1_only)
            .build(connector)
    }
}

impl std::fmt::Debug for Upstreams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstreams")
            .field("clients", &self.clients.lock().len())
            .finish()
    }
}

/// Find the [`ConnectError`] in an error's source chain.
pub fn connect_error<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a ConnectError> {
    let mut cur: Option<&'a (dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(ce) = e.downcast_ref::<ConnectError>() {
            return Some(ce);
        }
        cur = e.source();
    }
    None
}

// === impl RetryConnector ===

/// HTTPS-or-HTTP connector with a per-attempt timeout and Kong's connection retries.
#[derive(Clone)]
pub struct RetryConnector {
    inner: HttpsConnector<HttpConnector>,
    connect_timeout: Duration,
    attempts: u32,
}

type Conn = MaybeHttpsStream<TokioIo<TcpStream>>;

impl tower::Service<Uri> for RetryConnector {
    type Response = Conn;
    type Error = ConnectError;
    type Future = Pin<Box<dyn Future<Output = Result<Conn, ConnectError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let mut inner = self.inner.clone();
        let timeout = self.connect_timeout;
        let attempts = self.attempts.max(1);
        Box::pin(async move {
            let mut last = ConnectError {
                attempts: 0,
                timed_out: false,
                source: None,
            };
            for attempt in 1..=attempts {
                let fut = tower::Service::call(&mut inner, uri.clone());
                match tokio::time::timeout(timeout, fut).await {
                    Ok(Ok(conn)) => return Ok(conn),
                    Ok(Err(e)) => {
                        last = ConnectError {
                            attempts: attempt,
                            timed_out: false,
                            source: Some(e),
                        }
                    }
                    Err(_) => {
                        last = ConnectError {
                            attempts: attempt,
                            timed_out: true,
                            source: None,
                        }
                    }
                }
                tracing::debug!(upstream.uri = %uri, attempt, error = %last, "upstream connect failed");
            }
            Err(last)
        })
    }
}

// === impl AcceptAnyCert ===

/// `tls_verify = false`: accept any certificate (signatures are still checked for the
/// handshake itself).
#[derive(Debug)]
struct AcceptAnyCert(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn refused_connection_is_retried_then_reported() {
        // Port 1: nothing listens there (and it is never an ephemeral port).
        let port = 1;
        let ups = Upstreams::with_roots(RootCertStore::empty()).expect("ups");

        let mut connector = RetryConnector {
            inner: HttpsConnectorBuilder::new()
                .with_tls_config((*ups.verifying).clone())
                .https_or_http()
                .enable_http1()
                .wrap_connector(HttpConnector::new()),
            connect_timeout: Duration::from_secs(1),
            attempts: 3,
        };
        let uri: Uri = format!("http://127.0.0.1:{port}/").parse().expect("uri");
        let Err(err) = tower::Service::call(&mut connector, uri).await else {
            panic!("connected to a closed port");
        };
        assert_eq!(err.attempts, 3);
        assert!(!err.timed_out);
    }

    #[test]
    fn clients_are_cached_per_key() {
        let ups = Upstreams::with_roots(RootCertStore::empty()).expect("ups");
        let key = ClientKey {
            connect_timeout: Duration::from_secs(1),
            retries: 0,
            tls_verify: true,
            http1_only: false,
            http2_only: false,
        };
        let _a = ups.client(key);
        let _b = ups.client(key);
        let _c = ups.client(ClientKey { retries: 1, ..key });
        assert_eq!(ups.clients.lock().len(), 2);
    }
}

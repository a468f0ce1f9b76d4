//! The request handler: route, plugins' access, upstream exchange, response headers, log.
//!
//! One `load_full()` of the snapshot per request, held until the response is built; no locks,
//! no database. Every gateway-made response goes through [`Proxy::local_response`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::uri::{PathAndQuery, Scheme};
use http::{request, Method, Request, Response, StatusCode, Uri, Version};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;

use crate::body::{BodyProgress, Completion, RequestBody, ResponseBody};
use crate::error::ProxyError;
use crate::headers::{self as hdr};
use crate::path;
use crate::plugins::{Flow, RequestCx, Summary};
use crate::router::{host_without_port, Match, RequestView};
use crate::snapshot::{Chain, RouteEntry, Snapshot};
use crate::state::Shared;
use crate::trusted::TrustedIps;
use crate::upstream::connect_error;

/// Facts about the client connection a request arrived on, computed once per connection.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    /// Client address.
    pub remote: SocketAddr,
    /// Local port (Kong's `X-Forwarded-Port`, `host:port` route entries).
    pub local_port: u16,
    /// The client IP as a header value (`X-Real-IP`, `X-Forwarded-For`).
    pub ip_header: HeaderValue,
    /// The local port as a header value (`X-Forwarded-Port`).
    pub port_header: HeaderValue,
}

impl ConnInfo {
    /// Connection facts for a client at `remote` on local port `local_port`.
    pub fn new(remote: SocketAddr, local_port: u16) -> Self {
        Self {
            remote,
            local_port,
            ip_header: hdr::ip_value(remote.ip()),
            port_header: HeaderValue::from(local_port),
        }
    }
}

/// Proxy settings fixed at start.
#[derive(Debug, Clone, Default)]
pub struct ProxyConfig {
    /// Clients whose `X-Forwarded-*` headers are believed (Kong `trusted_ips`).
    pub trusted_ips: TrustedIps,
    /// Emit one access log line per request.
    pub access_log: bool,
}

/// The proxy engine shared by every connection.
#[derive(Debug)]
pub struct Proxy {
    shared: Arc<Shared>,
    config: ProxyConfig,
}

/// A request id: 32 lowercase hex digits.
struct RequestId([u8; 32]);

impl RequestId {
    fn new() -> Self {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut n: u128 = rand::random();
        let mut out = [0u8; 32];
        for b in out.iter_mut().rev() {
            *b = HEX[(n & 15) as usize];
            n >>= 4;
        }
        Self(out)
    }
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("hex is ascii")
    }
    fn header(&self) -> HeaderValue {
        HeaderValue::from_bytes(&self.0).expect("hex is a valid header value")
    }
}

/// What the log phase and the access log need once the body is done.
struct Done {
    chain: Option<(Chain, Arc<RouteEntry>)>,
    consumer: Option<Arc<gateway_core::model::Consumer>>,
    status: StatusCode,
    method: Method,
    uri: Uri,
    remote: SocketAddr,
    request_id: RequestId,
    req_head: u64,
    req_body: Option<Arc<BodyProgress>>,
    resp_head: u64,
    start: Instant,
    upstream_latency: Option<Duration>,
    access_log: bool,
}

impl Completion for Done {
    fn done(self: Box<Self>, body_bytes: u64, complete: bool) {
        let latency = self.start.elapsed();
        let request_size = self.req_head + self.req_body.as_ref().map_or(0, |p| p.bytes());
        let response_size = self.resp_head + body_bytes;
        if self.access_log {
            tracing::info!(
                target: "access",
                request_id = self.request_id.as_str(),
                client_ip = %self.remote.ip(),
                method = %self.method,
                uri = %self.uri,
                status = self.status.as_u16(),
                route_id = self.chain.as_ref().map(|(_, r)| tracing::field::display(r.route.id)),
                request_size,
                response_size,
                latency_ms = latency.as_millis() as u64,
                upstream_latency_ms = self.upstream_latency.map(|d| d.as_millis() as u64),
                complete,
                "request"
            );
        }
        if let Some((chain, entry)) = self.chain {
            if chain.is_empty() {
                return;
            }
            let summary = Summary {
                route: entry.route.clone(),
                service: entry.service.as_ref().map(|s| s.service.clone()),
                consumer: self.consumer,
                status: self.status.as_u16(),
                request_size,
                response_size,
                latency,
                upstream_latency: self.upstream_latency,
                gateway_latency: latency.saturating_sub(self.upstream_latency.unwrap_or_default()),
            };
            for p in chain.iter() {
                p.log(&summary);
            }
        }
    }
}

fn ms(d: Duration) -> HeaderValue {
    HeaderValue::from(d.as_millis() as u64)
}

fn request_head_size(parts: &request::Parts) -> u64 {
    (parts.method.as_str().len() + parts.uri.path_and_query().map_or(1, |p| p.as_str().len()) + 12)
        as u64
        + hdr::block_size(&parts.headers)
}

// === impl Proxy ===

impl Proxy {
    /// A proxy serving whatever snapshot `shared` holds.
    pub fn new(shared: Arc<Shared>, config: ProxyConfig) -> Self {
        Self { shared, config }
    }

    /// Handle one client request.
    pub async fn handle(
        &self,
        mut req: Request<Incoming>,
        conn: &ConnInfo,
    ) -> Response<ResponseBody> {
        let start = Instant::now();
        let snap = self.shared.snapshot.load_full();
        let rid = RequestId::new();
        let upgrade = hdr::is_upgrade_request(req.headers(), req.version());
        let client_upgrade = upgrade.then(|| hyper::upgrade::on(&mut req));
        let (mut parts, body) = req.into_parts();
        let trusted = self.config.trusted_ips.contains(conn.remote.ip());

        let found = {
            let raw_host = raw_host(&parts);
            let norm = path::normalize(parts.uri.path());
            let view = RequestView {
                method: &parts.method,
                host: raw_host.map(host_without_port),
                path: &norm,
                headers: &parts.headers,
                local_port: conn.local_port,
            };
            snap.router.find(&view).map(|m| (m, norm))
        };
        let Some((m, norm)) = found else {
            return self.local_response(
                ProxyError::NoRoute.render(&parts.method, &parts.headers, rid.as_str()),
                None,
                &parts,
                conn,
                rid,
                start,
            );
        };
        let entry = snapshot_entry(&snap, m);
        let chain = match &entry.plugins {
            Ok(c) => c.clone(),
            Err(_) => {
                let res = ProxyError::RouteMisconfigured.render(
                    &parts.method,
                    &parts.headers,
                    rid.as_str(),
                );
                return self.local_response(
                    res,
                    Some((Chain::from(Vec::new()), entry, None)),
                    &parts,
                    conn,
                    rid,
                    start,
                );
            }
        };
        if !entry.allows_http && !client_scheme_is_https(&parts, trusted) {
            let res = https_required(&entry, &parts, rid.as_str());
            return self.local_response(res, Some((chain, entry, None)), &parts, conn, rid, start);
        }

        // Access phase, priority order; a plugin may answer instead of the upstream.
        let mut cx = RequestCx {
            request_id: rid.as_str().to_owned(),
            ..RequestCx::default()
        };
        for p in chain.iter() {
            if let Flow::Respond(res) = p.access(&mut parts, &mut cx) {
                return self.local_response(
                    res,
                    Some((chain, entry, Some(cx))),
                    &parts,
                    conn,
                    rid,
                    start,
                );
            }
        }
        // Consumer-scoped instances replace the route's chain once authenticated.
        let chain = cx
            .authenticated
            .as_ref()
            .and_then(|a| entry.consumer_plugins.get(&a.consumer.id))
            .cloned()
            .unwrap_or(chain);

        let Some(svc) = entry.service.clone() else {
            let res = ProxyError::NoService.render(&parts.method, &parts.headers, rid.as_str());
            return self.local_response(
                res,
                Some((chain, entry, Some(cx))),
                &parts,
                conn,
                rid,
                start,
            );
        };

        // Byte counts are needed by the log phase and the access log only.
        let keep_parts = !chain.is_empty();
        let req_head = request_head_size(&parts);
        let progress = Arc::new(BodyProgress::default());
        let up_req = match self.upstream_request(
            &parts, &entry, &svc, &m, &norm, conn, trusted, upgrade, &rid,
        ) {
            Ok(r) => r.map(|()| RequestBody::new(body, progress.clone())),
            Err(e) => {
                let res = e.render(&parts.method, &parts.headers, rid.as_str());
                return self.local_response(
                    res,
                    Some((chain, entry, Some(cx))),
                    &parts,
                    conn,
                    rid,
                    start,
                );
            }
        };

        let client = if upgrade {
            &svc.upgrade_client
        } else {
            &svc.client
        };
        let proxy_latency = start.elapsed();
        let sent = Instant::now();
        let outcome = exchange(
            client,
            up_req,
            &progress,
            svc.write_timeout,
            svc.read_timeout,
        )
        .await;
        let mut res = match outcome {
            Some(Ok(res)) => res,
            Some(Err(e)) => {
                let (err, detail) = match connect_error(&e) {
                    Some(ce) if ce.timed_out => (ProxyError::UpstreamTimeout, ce.to_string()),
                    Some(ce) => (
                        ProxyError::UpstreamConnect,
                        format!("{ce}: {}", source_text(ce)),
                    ),
                    None => (
                        ProxyError::UpstreamInvalid,
                        format!("{e}: {}", source_text(&e)),
                    ),
                };
                tracing::warn!(request.id = rid.as_str(), upstream.addr = %svc.authority, error = %detail, "upstream request failed");
                let res = err.render(&parts.method, &parts.headers, rid.as_str());
                return self.local_response(
                    res,
                    Some((chain, entry, Some(cx))),
                    &parts,
                    conn,
                    rid,
                    start,
                );
            }
            None => {
                tracing::warn!(request.id = rid.as_str(), upstream.addr = %svc.authority, "upstream timed out");
                let res =
                    ProxyError::UpstreamTimeout.render(&parts.method, &parts.headers, rid.as_str());
                return self.local_response(
                    res,
                    Some((chain, entry, Some(cx))),
                    &parts,
                    conn,
                    rid,
                    start,
                );
            }
        };
        let upstream_latency = sent.elapsed();

        if res.status() == StatusCode::SWITCHING_PROTOCOLS {
            if let Some(client_up) = client_upgrade {
                let upstream_up = hyper::upgrade::on(&mut res);
                tokio::spawn(async move {
                    match tokio::try_join!(client_up, upstream_up) {
                        Ok((c, u)) => {
                            let _ = tokio::io::copy_bidirectional(
                                &mut TokioIo::new(c),
                                &mut TokioIo::new(u),
                            )
                            .await;
                        }
                        Err(e) => tracing::debug!(error = %e, "upgrade failed"),
                    }
                });
            }
        }

        let (mut rp, body) = res.into_parts();
        let switching = rp.status == StatusCode::SWITCHING_PROTOCOLS;
        let upgrade_value = if switching {
            rp.headers.get(header::UPGRADE).cloned()
        } else {
            None
        };
        hdr::strip_hop_by_hop(&mut rp.headers);
        if let Some(u) = upgrade_value {
            rp.headers
                .insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
            rp.headers.insert(header::UPGRADE, u);
        }
        if !hdr::connection_has(&parts.headers, "te")
            && !parts.headers.get(header::TE).is_some_and(|v| {
                v.as_bytes()
                    .windows(8)
                    .any(|w| w.eq_ignore_ascii_case(b"trailers"))
            })
        {
            rp.headers.remove(header::TRAILER);
        }
        let via = hdr::via_token(rp.version);
        hdr::append_list(&mut rp.headers, &header::VIA, via.as_bytes());
        if !rp.headers.contains_key(header::SERVER) {
            rp.headers.insert(header::SERVER, hdr::SERVER.clone());
        }
        rp.headers
            .insert(hdr::X_KONG_UPSTREAM_LATENCY.clone(), ms(upstream_latency));
        rp.headers
            .insert(hdr::X_KONG_PROXY_LATENCY.clone(), ms(proxy_latency));
        rp.headers
            .insert(hdr::X_KONG_REQUEST_ID.clone(), rid.header());
        rp.version = Version::HTTP_11;
        for p in chain.iter() {
            p.header_filter(&parts, &mut rp, &cx);
        }
        let body = ResponseBody::upstream(body, svc.read_timeout);
        let status = rp.status;
        let resp_head = hdr::block_size(&rp.headers) + 17;
        let body = if keep_parts || self.config.access_log {
            body.with_completion(Box::new(Done {
                chain: Some((chain, entry)),
                consumer: cx.authenticated.map(|a| a.consumer),
                status,
                method: parts.method,
                uri: parts.uri,
                remote: conn.remote,
                request_id: rid,
                req_head,
                req_body: Some(progress),
                resp_head,
                start,
                upstream_latency: Some(upstream_latency),
                access_log: self.config.access_log,
            }))
        } else {
            body
        };
        Response::from_parts(rp, body)
    }

    /// Build the upstream request head (body attached by the caller).
    #[allow(clippy::too_many_arguments)]
    fn upstream_request(
        &self,
        parts: &request::Parts,
        entry: &RouteEntry,
        svc: &crate::snapshot::ServiceEntry,
        m: &Match,
        norm: &[u8],
        conn: &ConnInfo,
        trusted: bool,
        upgrade: bool,
        rid: &RequestId,
    ) -> Result<Request<()>, ProxyError> {
        // Path: Kong v0 join of service path and the (stripped) normalized request path.
        let joined = path::join_v0(&svc.base_path, norm, entry.strip_path, m.matched_path_len);
        let raw_pq = parts.uri.path_and_query().map_or("/", PathAndQuery::as_str);
        let query = raw_pq.find('?').map(|i| &raw_pq[i..]);
        let mut pq = String::with_capacity(joined.len() + query.map_or(0, str::len) + 8);
        path::escape_into(&mut pq, &joined);
        if let Some(q) = query {
            pq.push_str(q);
        }
        let uri = Uri::builder()
            .scheme(svc.scheme.clone())
            .authority(svc.authority.clone())
            .path_and_query(pq)
            .build()
            .map_err(|_| ProxyError::UpstreamInvalid)?;

        let mut headers = parts.headers.clone();
        let te_trailers = headers.get_all(header::TE).iter().any(|v| {
            v.as_bytes()
                .windows(8)
                .any(|w| w.eq_ignore_ascii_case(b"trailers"))
        });
        let upgrade_proto = if upgrade {
            headers.get(header::UPGRADE).cloned()
        } else {
            None
        };
        hdr::strip_hop_by_hop(&mut headers);
        headers.remove(header::TE);
        if te_trailers {
            headers.insert(header::TE, HeaderValue::from_static("trailers"));
        }
        if let Some(proto) = upgrade_proto {
            headers.insert(
                header::CONNECTION,
                HeaderValue::from_static("keep-alive, Upgrade"),
            );
            headers.insert(header::UPGRADE, proto);
        }

        // Host.
        let client_host = raw_host(parts);
        match (entry.preserve_host, client_host) {
            (true, Some(h)) => {
                if let Ok(v) = HeaderValue::from_str(h) {
                    headers.insert(header::HOST, v);
                }
            }
            _ => {
                headers.insert(header::HOST, svc.host_header.clone());
            }
        }

        // X-Forwarded-*.
        hdr::append_list(
            &mut headers,
            &hdr::X_FORWARDED_FOR,
            conn.ip_header.as_bytes(),
        );
        headers.insert(hdr::X_REAL_IP.clone(), conn.ip_header.clone());
        if !(trusted && headers.contains_key(&hdr::X_FORWARDED_PROTO)) {
            headers.insert(
                hdr::X_FORWARDED_PROTO.clone(),
                HeaderValue::from_static("http"),
            );
        }
        if !(trusted && headers.contains_key(&hdr::X_FORWARDED_HOST)) {
            let host = client_host
                .map(host_without_port)
                .unwrap_or_default()
                .to_ascii_lowercase();
            match HeaderValue::from_str(&host) {
                Ok(v) if !host.is_empty() => {
                    headers.insert(hdr::X_FORWARDED_HOST.clone(), v);
                }
                _ => {
                    headers.remove(&hdr::X_FORWARDED_HOST);
                }
            }
        }
        if !(trusted && headers.contains_key(&hdr::X_FORWARDED_PORT)) {
            headers.insert(hdr::X_FORWARDED_PORT.clone(), conn.port_header.clone());
        }
        if !(trusted && headers.contains_key(&hdr::X_FORWARDED_PATH)) {
            if let Ok(v) = HeaderValue::from_str(parts.uri.path()) {
                headers.insert(hdr::X_FORWARDED_PATH.clone(), v);
            }
        }
        if !(trusted && headers.contains_key(&hdr::X_FORWARDED_PREFIX)) {
            headers.remove(&hdr::X_FORWARDED_PREFIX);
            if let (true, Some(n)) = (entry.strip_path, m.matched_path_len) {
                let prefix = &norm[..n.min(norm.len())];
                if prefix != b"/" {
                    let mut escaped = String::with_capacity(prefix.len());
                    path::escape_into(&mut escaped, prefix);
                    if let Ok(v) = HeaderValue::from_str(&escaped) {
                        headers.insert(hdr::X_FORWARDED_PREFIX.clone(), v);
                    }
                }
            }
        }
        hdr::append_list(
            &mut headers,
            &header::VIA,
            hdr::via_token(parts.version).as_bytes(),
        );
        headers.insert(hdr::X_KONG_REQUEST_ID.clone(), rid.header());
        hdr::drop_empty(&mut headers);

        let mut req = Request::new(());
        *req.method_mut() = parts.method.clone();
        *req.uri_mut() = uri;
        *req.version_mut() = Version::HTTP_11;
        *req.headers_mut() = headers;
        Ok(req)
    }

    /// Finish a gateway- or plugin-made response: Kong's headers, `header_filter`, log.
    fn local_response(
        &self,
        res: Response<Full<Bytes>>,
        route: Option<(Chain, Arc<RouteEntry>, Option<RequestCx>)>,
        parts: &request::Parts,
        conn: &ConnInfo,
        rid: RequestId,
        start: Instant,
    ) -> Response<ResponseBody> {
        let (mut rp, body) = res.into_parts();
        rp.headers.insert(header::SERVER, hdr::SERVER.clone());
        rp.headers
            .insert(hdr::X_KONG_RESPONSE_LATENCY.clone(), ms(start.elapsed()));
        rp.headers
            .insert(hdr::X_KONG_REQUEST_ID.clone(), rid.header());
        let mut consumer = None;
        let mut chain_entry = None;
        if let Some((chain, entry, cx)) = route {
            let cx = cx.unwrap_or_else(|| RequestCx {
                request_id: rid.as_str().to_owned(),
                ..RequestCx::default()
            });
            for p in chain.iter() {
                p.header_filter(parts, &mut rp, &cx);
            }
            consumer = cx.authenticated.map(|a| a.consumer);
            chain_entry = Some((chain, entry));
        }
        // A Full body is already in memory: take its bytes without copying.
        let bytes = futures_util::FutureExt::now_or_never(body.collect())
            .and_then(Result::ok)
            .map(|c| c.to_bytes())
            .unwrap_or_default();
        let body = if parts.method == Method::HEAD {
            ResponseBody::empty()
        } else {
            ResponseBody::full(bytes)
        };
        let needs_log =
            self.config.access_log || chain_entry.as_ref().is_some_and(|(c, _)| !c.is_empty());
        let body = if needs_log {
            body.with_completion(Box::new(Done {
                chain: chain_entry,
                consumer,
                status: rp.status,
                method: parts.method.clone(),
                uri: parts.uri.clone(),
                remote: conn.remote,
                request_id: rid,
                req_head: request_head_size(parts),
                req_body: None,
                resp_head: hdr::block_size(&rp.headers) + 17,
                start,
                upstream_latency: None,
                access_log: self.config.access_log,
            }))
        } else {
            body
        };
        Response::from_parts(rp, body)
    }
}

/// Send `req` and wait for the response head with Kong's timeout semantics: connecting is
/// bounded by the connector (connect timeout x retries); while the request body streams, a
/// stall longer than `write_timeout` fails; `read_timeout` starts once the request is fully
/// sent. `None`: timed out.
async fn exchange(
    client: &crate::upstream::Client,
    req: Request<RequestBody>,
    progress: &BodyProgress,
    write_timeout: Duration,
    read_timeout: Duration,
) -> Option<Result<Response<Incoming>, hyper_util::client::legacy::Error>> {
    let fut = client.request(req);
    tokio::pin!(fut);
    tokio::select! {
        biased;
        r = &mut fut => return Some(r),
        () = progress.wait_started() => {}
    }
    while !progress.is_done() {
        let before = progress.bytes();
        tokio::select! {
            biased;
            r = &mut fut => return Some(r),
            () = progress.wait_done() => {}
            () = tokio::time::sleep(write_timeout) => {
                if progress.bytes() == before && !progress.is_done() {
                    return None;
                }
            }
        }
    }
    tokio::time::timeout(read_timeout, fut).await.ok()
}

/// The innermost causes of an error, `: `-separated.
fn source_text(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = String::new();
    let mut cur = e.source();
    while let Some(c) = cur {
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&c.to_string());
        cur = c.source();
    }
    out
}

fn snapshot_entry(snap: &Arc<Snapshot>, m: Match) -> Arc<RouteEntry> {
    snap.routes[m.route].clone()
}

/// The client's raw Host: the `Host` header, else the URI authority (HTTP/2).
fn raw_host(parts: &request::Parts) -> Option<&str> {
    parts
        .headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| parts.uri.authority().map(|a| a.as_str()))
}

fn client_scheme_is_https(parts: &request::Parts, trusted: bool) -> bool {
    if parts.uri.scheme() == Some(&Scheme::HTTPS) {
        return true;
    }
    trusted
        && parts
            .headers
            .get(&hdr::X_FORWARDED_PROTO)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"))
}

/// 426, or a redirect to HTTPS for 301/302/307/308.
fn https_required(entry: &RouteEntry, parts: &request::Parts, rid: &str) -> Response<Full<Bytes>> {
    let code = entry.route.https_redirect_status_code;
    if matches!(code, 301 | 302 | 307 | 308) {
        let host = raw_host(parts).map(host_without_port).unwrap_or_default();
        let pq = parts.uri.path_and_query().map_or("/", PathAndQuery::as_str);
        let mut res = Response::new(Full::new(Bytes::new()));
        *res.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::MOVED_PERMANENTLY);
        if let Ok(v) = HeaderValue::from_str(&format!("https://{host}{pq}")) {
            res.headers_mut().insert(header::LOCATION, v);
        }
        res.headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
        return res;
    }
    ProxyError::HttpsRequired.render(&parts.method, &parts.headers, rid)
}

//! The request handler: route, plugins' access, upstream exchange, response headers, log.
//!
//! One `load_full()` of the snapshot per request, held until the response is built; no locks,
//! no database. Every gateway-made response goes through `Proxy::local_response`.
//!
//! Submodules: `forward` builds the upstream request head, `exchange` runs it with Kong's
//! timeouts, `log` fires the log phase and the access log once the body is done.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{request, Method, Request, Response, StatusCode, Version};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;

use crate::body::{BodyProgress, RequestBody, ResponseBody};
use crate::error::ProxyError;
use crate::headers::{self as hdr};
use crate::path;
use crate::plugins::{Flow, RequestCx};
use crate::router::{host_without_port, Match, RequestView};
use crate::snapshot::{Chain, RouteEntry, Snapshot};
use crate::state::Shared;
use crate::trusted::TrustedIps;
use crate::upstream::connect_error;

mod exchange;
mod forward;
mod log;

use exchange::{exchange, source_text};
use forward::{client_scheme_is_https, https_required, raw_host};
use log::{ms, request_head_size, Done, RequestId};

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
            // Kong runs the global plugins' header_filter and log on the 404 (not access: its
            // router miss exits before plugins are collected).
            return self.local_response(
                ProxyError::NoRoute.render(&parts.method, &parts.headers, rid.as_str()),
                Some((snap.globals.clone(), None, None)),
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
                    Some((Chain::from(Vec::new()), Some(entry), None)),
                    &parts,
                    conn,
                    rid,
                    start,
                );
            }
        };
        if !entry.allows_http && !client_scheme_is_https(&parts, trusted) {
            let res = https_required(&entry, &parts, rid.as_str());
            // Kong answers this in its router step too, before the route's plugins are
            // collected (and before the route/service are recorded for the log): only the
            // global plugins see it, as on a no-route 404.
            return self.local_response(
                res,
                Some((snap.globals.clone(), None, None)),
                &parts,
                conn,
                rid,
                start,
            );
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
                    Some((chain, Some(entry), Some(cx))),
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
                Some((chain, Some(entry), Some(cx))),
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
        let up_req = match forward::upstream_request(
            &parts, &entry, &svc, &m, &norm, conn, trusted, upgrade, &rid,
        ) {
            Ok(r) => r.map(|()| RequestBody::new(body, progress.clone())),
            Err(e) => {
                let res = e.render(&parts.method, &parts.headers, rid.as_str());
                return self.local_response(
                    res,
                    Some((chain, Some(entry), Some(cx))),
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
                    Some(ce) if ce.is_dns() => (
                        ProxyError::NameResolution,
                        format!("{ce}: {}", source_text(ce)),
                    ),
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
                    Some((chain, Some(entry), Some(cx))),
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
                    Some((chain, Some(entry), Some(cx))),
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
        hdr::append_value(&mut rp.headers, &header::VIA, via);
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
                chain: Some((chain, Some(entry))),
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

    /// Finish a gateway- or plugin-made response: Kong's headers, `header_filter`, log.
    /// `plugins`: the chain to run, the matched route (`None` for the global chain on a no-route
    /// 404) and the request's plugin state when the access phase ran.
    fn local_response(
        &self,
        res: Response<Full<Bytes>>,
        plugins: Option<(Chain, Option<Arc<RouteEntry>>, Option<RequestCx>)>,
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
        if let Some((chain, entry, cx)) = plugins {
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

fn snapshot_entry(snap: &Arc<Snapshot>, m: Match) -> Arc<RouteEntry> {
    snap.routes[m.route].clone()
}

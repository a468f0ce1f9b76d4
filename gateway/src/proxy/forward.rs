//! The upstream request head (kong-compat §2.2, §2.3) and the client-side facts it needs.

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::uri::{PathAndQuery, Scheme};
use http::{request, Request, Response, StatusCode, Uri, Version};
use http_body_util::Full;

use super::log::RequestId;
use super::ConnInfo;
use crate::error::ProxyError;
use crate::headers as hdr;
use crate::path;
use crate::router::{host_without_port, Match};
use crate::snapshot::{RouteEntry, ServiceEntry};

/// Build the upstream request head (body attached by the caller).
#[allow(clippy::too_many_arguments)]
pub(super) fn upstream_request(
    parts: &request::Parts,
    entry: &RouteEntry,
    svc: &ServiceEntry,
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
    hdr::append_value(&mut headers, &hdr::X_FORWARDED_FOR, &conn.ip_header);
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
    hdr::append_value(&mut headers, &header::VIA, hdr::via_token(parts.version));
    headers.insert(hdr::X_KONG_REQUEST_ID.clone(), rid.header());
    hdr::drop_empty(&mut headers);

    let mut req = Request::new(());
    *req.method_mut() = parts.method.clone();
    *req.uri_mut() = uri;
    *req.version_mut() = Version::HTTP_11;
    *req.headers_mut() = headers;
    Ok(req)
}

/// The client's raw Host: the `Host` header, else the URI authority (HTTP/2).
pub(super) fn raw_host(parts: &request::Parts) -> Option<&str> {
    parts
        .headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| parts.uri.authority().map(|a| a.as_str()))
}

pub(super) fn client_scheme_is_https(parts: &request::Parts, trusted: bool) -> bool {
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
pub(super) fn https_required(
    entry: &RouteEntry,
    parts: &request::Parts,
    rid: &str,
) -> Response<Full<Bytes>> {
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

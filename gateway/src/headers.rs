//! Header rewriting between client and upstream (kong-compat §2.3, §2.4).

use std::net::IpAddr;

use http::header::{self, HeaderName, HeaderValue};
use http::{HeaderMap, Version};

/// `1.1 kong/3.10.0` etc., precomputed.
pub static VIA_11: HeaderValue = HeaderValue::from_static("1.1 kong/3.10.0");
/// Via token for HTTP/1.0 peers.
pub static VIA_10: HeaderValue = HeaderValue::from_static("1.0 kong/3.10.0");
/// Via token for HTTP/2 peers.
pub static VIA_2: HeaderValue = HeaderValue::from_static("2 kong/3.10.0");
/// `Server` of gateway-made responses.
pub static SERVER: HeaderValue = HeaderValue::from_static("kong/3.10.0");

/// `X-Kong-Request-Id`.
pub static X_KONG_REQUEST_ID: HeaderName = HeaderName::from_static("x-kong-request-id");
/// `X-Kong-Upstream-Latency`.
pub static X_KONG_UPSTREAM_LATENCY: HeaderName = HeaderName::from_static("x-kong-upstream-latency");
/// `X-Kong-Proxy-Latency`.
pub static X_KONG_PROXY_LATENCY: HeaderName = HeaderName::from_static("x-kong-proxy-latency");
/// `X-Kong-Response-Latency`.
pub static X_KONG_RESPONSE_LATENCY: HeaderName = HeaderName::from_static("x-kong-response-latency");
/// `X-Forwarded-For`.
pub static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
/// `X-Forwarded-Proto`.
pub static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
/// `X-Forwarded-Host`.
pub static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
/// `X-Forwarded-Port`.
pub static X_FORWARDED_PORT: HeaderName = HeaderName::from_static("x-forwarded-port");
/// `X-Forwarded-Path`.
pub static X_FORWARDED_PATH: HeaderName = HeaderName::from_static("x-forwarded-path");
/// `X-Forwarded-Prefix`.
pub static X_FORWARDED_PREFIX: HeaderName = HeaderName::from_static("x-forwarded-prefix");
/// `X-Real-IP`.
pub static X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");
static KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
static PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");
static PROXY: HeaderName = HeaderName::from_static("proxy");

/// The Via token for a peer speaking `version`.
pub fn via_token(version: Version) -> &'static HeaderValue {
    match version {
        Version::HTTP_2 | Version::HTTP_3 => &VIA_2,
        Version::HTTP_10 | Version::HTTP_09 => &VIA_10,
        _ => &VIA_11,
    }
}

/// [`append_list`] with a ready value: when the header is absent (the common case) the value
/// is inserted as is, without copying its bytes.
pub fn append_value(headers: &mut HeaderMap, name: &HeaderName, value: &HeaderValue) {
    if headers.contains_key(name) {
        append_list(headers, name, value.as_bytes());
    } else {
        headers.insert(name.clone(), value.clone());
    }
}

/// Append `token` to a comma-separated header (all existing lines joined), or set it.
pub fn append_list(headers: &mut HeaderMap, name: &HeaderName, token: &[u8]) {
    let mut joined: Vec<u8> = Vec::new();
    for v in headers.get_all(name) {
        if !joined.is_empty() {
            joined.extend_from_slice(b", ");
        }
        joined.extend_from_slice(v.as_bytes());
    }
    if joined.is_empty() {
        if let Ok(v) = HeaderValue::from_bytes(token) {
            headers.insert(name.clone(), v);
        }
        return;
    }
    joined.extend_from_slice(b", ");
    joined.extend_from_slice(token);
    if let Ok(v) = HeaderValue::from_bytes(&joined) {
        headers.insert(name.clone(), v);
    }
}

/// Whether `Connection` lists `token` (case-insensitive).
pub fn connection_has(headers: &HeaderMap, token: &str) -> bool {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// Whether the request asks for a protocol upgrade (e.g. WebSocket).
pub fn is_upgrade_request(headers: &HeaderMap, version: Version) -> bool {
    version == Version::HTTP_11
        && headers.contains_key(header::UPGRADE)
        && connection_has(headers, "upgrade")
}

/// Remove hop-by-hop headers: the standard ones and those named in `Connection`.
///
/// `keep_upgrade`: leave `Upgrade` (re-added by the caller for upgrades).
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // Most messages carry none of them: one pass over the names is cheaper than six hashed
    // removals.
    if !headers.keys().any(is_hop_by_hop) {
        return;
    }
    // Names listed in Connection (other than the standard tokens).
    let listed: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .filter(|t| {
            !t.eq_ignore_ascii_case("keep-alive")
                && !t.eq_ignore_ascii_case("close")
                && !t.eq_ignore_ascii_case("upgrade")
        })
        .filter_map(|t| HeaderName::from_bytes(t.as_bytes()).ok())
        .collect();
    for name in listed {
        headers.remove(name);
    }
    headers.remove(header::CONNECTION);
    headers.remove(&KEEP_ALIVE);
    headers.remove(&PROXY_CONNECTION);
    headers.remove(&PROXY);
    headers.remove(header::TRANSFER_ENCODING);
    headers.remove(header::UPGRADE);
}

/// Whether `name` is one of the headers [`strip_hop_by_hop`] always removes (`Connection`
/// among them, which may name more).
fn is_hop_by_hop(name: &HeaderName) -> bool {
    name == header::CONNECTION
        || name == header::TRANSFER_ENCODING
        || name == header::UPGRADE
        || name == KEEP_ALIVE
        || name == PROXY_CONNECTION
        || name == PROXY
}

/// Drop headers whose value is empty (Kong does not send them upstream).
pub fn drop_empty(headers: &mut HeaderMap) {
    if !headers.values().any(|v| v.is_empty()) {
        return;
    }
    let old = std::mem::take(headers);
    let mut last: Option<HeaderName> = None;
    for (name, value) in old {
        if let Some(n) = name {
            last = Some(n);
        }
        if let Some(n) = &last {
            if !value.is_empty() {
                headers.append(n.clone(), value);
            }
        }
    }
}

/// An IP written into a header value.
pub fn ip_value(ip: IpAddr) -> HeaderValue {
    HeaderValue::from_str(&ip.to_string()).expect("an IP is a valid header value")
}

/// Approximate size on the wire of a header block.
pub fn block_size(headers: &HeaderMap) -> u64 {
    headers
        .iter()
        .map(|(k, v)| (k.as_str().len() + v.len() + 4) as u64)
        .sum::<u64>()
        + 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_and_connection_listed_headers_are_removed() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, X-Secret"),
        );
        h.insert("x-secret", HeaderValue::from_static("1"));
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        h.insert("proxy-connection", HeaderValue::from_static("close"));
        h.insert("x-keep", HeaderValue::from_static("yes"));
        strip_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1);
        assert_eq!(h["x-keep"], "yes");
    }

    #[test]
    fn hop_by_hop_fast_path_leaves_end_to_end_headers() {
        let mut h = HeaderMap::new();
        h.insert("x-keep", HeaderValue::from_static("yes"));
        h.insert(header::HOST, HeaderValue::from_static("a"));
        strip_hop_by_hop(&mut h);
        assert_eq!(h.len(), 2);
        h.insert(
            header::TRANSFER_ENCODING,
            HeaderValue::from_static("chunked"),
        );
        strip_hop_by_hop(&mut h);
        assert_eq!(h.len(), 2);
        assert!(!h.contains_key(header::TRANSFER_ENCODING));
    }

    #[test]
    fn append_value_sets_or_joins() {
        let mut h = HeaderMap::new();
        append_value(&mut h, &header::VIA, &VIA_11);
        assert_eq!(h[header::VIA], "1.1 kong/3.10.0");
        append_value(&mut h, &header::VIA, &VIA_2);
        assert_eq!(h[header::VIA], "1.1 kong/3.10.0, 2 kong/3.10.0");
    }

    #[test]
    fn append_list_joins_lines() {
        let mut h = HeaderMap::new();
        append_list(&mut h, &X_FORWARDED_FOR, b"1.1.1.1");
        assert_eq!(h[&X_FORWARDED_FOR], "1.1.1.1");
        h.append(&X_FORWARDED_FOR, HeaderValue::from_static("2.2.2.2"));
        append_list(&mut h, &X_FORWARDED_FOR, b"3.3.3.3");
        assert_eq!(h.get_all(&X_FORWARDED_FOR).iter().count(), 1);
        assert_eq!(h[&X_FORWARDED_FOR], "1.1.1.1, 2.2.2.2, 3.3.3.3");
    }

    #[test]
    fn empty_values_dropped_keeping_multi_values() {
        let mut h = HeaderMap::new();
        h.append("a", HeaderValue::from_static(""));
        h.append("b", HeaderValue::from_static("1"));
        h.append("b", HeaderValue::from_static("2"));
        drop_empty(&mut h);
        assert!(!h.contains_key("a"));
        assert_eq!(h.get_all("b").iter().count(), 2);
    }

    #[test]
    fn upgrade_detection() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, Upgrade"),
        );
        h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        assert!(is_upgrade_request(&h, Version::HTTP_11));
        assert!(!is_upgrade_request(&h, Version::HTTP_2));
    }
}

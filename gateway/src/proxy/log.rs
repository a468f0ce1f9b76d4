//! What is left once the body is done: the request id, the log phase and the access log.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::header::HeaderValue;
use http::{request, Method, StatusCode, Uri};

use crate::body::{BodyProgress, Completion};
use crate::headers as hdr;
use crate::plugins::Summary;
use crate::snapshot::{Chain, RouteEntry};

/// A request id: 32 lowercase hex digits.
pub(super) struct RequestId([u8; 32]);

impl RequestId {
    pub(super) fn new() -> Self {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut n: u128 = rand::random();
        let mut out = [0u8; 32];
        for b in out.iter_mut().rev() {
            *b = HEX[(n & 15) as usize];
            n >>= 4;
        }
        Self(out)
    }
    pub(super) fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("hex is ascii")
    }
    pub(super) fn header(&self) -> HeaderValue {
        HeaderValue::from_bytes(&self.0).expect("hex is a valid header value")
    }
}

/// What the log phase and the access log need once the body is done.
pub(super) struct Done {
    /// Plugins to log with and the matched route (`None`: global plugins on a no-route 404).
    pub(super) chain: Option<(Chain, Option<Arc<RouteEntry>>)>,
    pub(super) consumer: Option<Arc<gateway_core::model::Consumer>>,
    pub(super) status: StatusCode,
    pub(super) method: Method,
    pub(super) uri: Uri,
    pub(super) remote: SocketAddr,
    pub(super) request_id: RequestId,
    pub(super) req_head: u64,
    pub(super) req_body: Option<Arc<BodyProgress>>,
    pub(super) resp_head: u64,
    pub(super) start: Instant,
    pub(super) upstream_latency: Option<Duration>,
    pub(super) access_log: bool,
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
                route_id = self
                    .chain
                    .as_ref()
                    .and_then(|(_, r)| r.as_ref())
                    .map(|r| tracing::field::display(r.route.id)),
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
                route: entry.as_ref().map(|e| e.route.clone()),
                service: entry
                    .as_ref()
                    .and_then(|e| e.service.as_ref())
                    .map(|s| s.service.clone()),
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

/// Whole milliseconds as a header value; the usual 0–9 come from a static table (no
/// allocation).
pub(super) fn ms(d: Duration) -> HeaderValue {
    static SMALL: [HeaderValue; 10] = [
        HeaderValue::from_static("0"),
        HeaderValue::from_static("1"),
        HeaderValue::from_static("2"),
        HeaderValue::from_static("3"),
        HeaderValue::from_static("4"),
        HeaderValue::from_static("5"),
        HeaderValue::from_static("6"),
        HeaderValue::from_static("7"),
        HeaderValue::from_static("8"),
        HeaderValue::from_static("9"),
    ];
    let n = d.as_millis();
    if n < 10 {
        SMALL[n as usize].clone()
    } else {
        HeaderValue::from(n as u64)
    }
}

pub(super) fn request_head_size(parts: &request::Parts) -> u64 {
    (parts.method.as_str().len() + parts.uri.path_and_query().map_or(1, |p| p.as_str().len()) + 12)
        as u64
        + hdr::block_size(&parts.headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ms_values() {
        assert_eq!(ms(Duration::from_micros(999)), "0");
        assert_eq!(ms(Duration::from_millis(9)), "9");
        assert_eq!(ms(Duration::from_millis(10)), "10");
        assert_eq!(ms(Duration::from_secs(3)), "3000");
    }
}

//! Gateway-made error responses in Kong's shapes (kong-compat §2.5).
//!
//! Every error the proxy answers itself goes through [`ProxyError::render`]: the status, the
//! message and the content type negotiated as Kong does (`kong.response.error` defaults to JSON,
//! nginx-level upstream failures to `text/plain`).

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderMap, Method, Response, StatusCode};
use http_body_util::Full;

/// Why the gateway answered a request itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ProxyError {
    /// No route matches (404).
    #[error("no route matches")]
    NoRoute,
    /// The matched route has no service (503).
    #[error("route has no service")]
    NoService,
    /// A plugin of the route failed to build (500, fail closed).
    #[error("route misconfigured")]
    RouteMisconfigured,
    /// An `https`-only route reached over plain HTTP (426).
    #[error("https required")]
    HttpsRequired,
    /// Connecting to the upstream failed after all retries (502).
    #[error("upstream unreachable")]
    UpstreamConnect,
    /// The upstream sent an invalid response or reset the connection (502).
    #[error("invalid upstream response")]
    UpstreamInvalid,
    /// The upstream timed out (504).
    #[error("upstream timed out")]
    UpstreamTimeout,
    /// The service host does not resolve (503, `kong.response.error` like Kong's balancer).
    #[error("name resolution failed")]
    NameResolution,
}

/// Which Kong code path produces the error: it decides the default content type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// `kong.response.error`: type from `Accept`, default JSON.
    Lua,
    /// nginx error page handler: `Accept`, else `Content-Type`, else text/plain.
    Nginx,
}

/// Body format of an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Html,
    Xml,
    Text,
}

// === impl ProxyError ===

impl ProxyError {
    /// HTTP status of the error.
    pub fn status(self) -> StatusCode {
        match self {
            Self::NoRoute => StatusCode::NOT_FOUND,
            Self::NoService | Self::NameResolution => StatusCode::SERVICE_UNAVAILABLE,
            Self::RouteMisconfigured => StatusCode::INTERNAL_SERVER_ERROR,
            Self::HttpsRequired => StatusCode::UPGRADE_REQUIRED,
            Self::UpstreamConnect | Self::UpstreamInvalid => StatusCode::BAD_GATEWAY,
            Self::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    /// Kong's message for the error.
    pub fn message(self) -> &'static str {
        match self {
            Self::NoRoute => "no Route matched with those values",
            Self::NoService => "no Service found with those values",
            Self::RouteMisconfigured => "An unexpected error occurred",
            Self::HttpsRequired => "Please use HTTPS protocol",
            Self::NameResolution => "name resolution failed",
            Self::UpstreamConnect | Self::UpstreamInvalid => {
                "An invalid response was received from the upstream server"
            }
            Self::UpstreamTimeout => "The upstream server is timing out",
        }
    }

    fn origin(self) -> Origin {
        match self {
            Self::NoRoute
            | Self::NoService
            | Self::RouteMisconfigured
            | Self::HttpsRequired
            | Self::NameResolution => Origin::Lua,
            Self::UpstreamConnect | Self::UpstreamInvalid | Self::UpstreamTimeout => Origin::Nginx,
        }
    }

    /// Build the response (without the gateway's latency/server headers, added by the caller).
    pub fn render(
        self,
        method: &Method,
        req_headers: &HeaderMap,
        request_id: &str,
    ) -> Response<Full<Bytes>> {
        let negotiated = match self.origin() {
            Origin::Lua => req_headers.get(http::header::ACCEPT),
            Origin::Nginx => req_headers
                .get(http::header::ACCEPT)
                .or_else(|| req_headers.get(CONTENT_TYPE)),
        };
        let default = match self.origin() {
            Origin::Lua => Format::Json,
            Origin::Nginx => Format::Text,
        };
        let format = negotiated
            .and_then(|v| v.to_str().ok())
            .map_or(default, response_format);
        let body = render_body(format, self.message(), request_id);
        let len = body.len();
        let body = if method == Method::HEAD {
            Bytes::new()
        } else {
            Bytes::from(body)
        };
        let mut res = Response::new(Full::new(body));
        *res.status_mut() = self.status();
        let h = res.headers_mut();
        h.insert(
            CONTENT_TYPE,
            HeaderValue::from_static(format.content_type()),
        );
        h.insert(CONTENT_LENGTH, HeaderValue::from(len));
        if self == Self::HttpsRequired {
            h.insert(
                http::header::CONNECTION,
                HeaderValue::from_static("Upgrade"),
            );
            h.insert(
                http::header::UPGRADE,
                HeaderValue::from_static("TLS/1.2, HTTP/1.1"),
            );
        }
        res
    }
}

// === impl Format ===

impl Format {
    fn content_type(self) -> &'static str {
        match self {
            Self::Json => "application/json; charset=utf-8",
            Self::Html => "text/html; charset=utf-8",
            Self::Xml => "application/xml; charset=utf-8",
            Self::Text => "text/plain; charset=utf-8",
        }
    }
}

/// Kong's `get_mime_type` of one media type (unknown -> JSON, the default).
fn mime_format(media: &str) -> Format {
    let media = media.split(';').next().unwrap_or("").trim();
    let Some((ty, sub)) = media.split_once('/') else {
        return Format::Json;
    };
    let (ty, sub) = (
        ty.trim().to_ascii_lowercase(),
        sub.trim().to_ascii_lowercase(),
    );
    match (ty.as_str(), sub.as_str()) {
        ("text", "html") => Format::Html,
        ("application", "xml") => Format::Xml,
        ("text", "plain") => Format::Text,
        _ => Format::Json,
    }
}

/// Kong's `get_response_type`: the highest-`q` media type of an `Accept`-like value (first wins
/// on ties).
fn response_format(accept: &str) -> Format {
    let mut best = Format::Json;
    let mut max_q = 0.0_f32;
    for value in accept.split(',') {
        let value = value.trim();
        let mut parts = value.split(';');
        let media = parts.next().unwrap_or("").trim();
        if !media.contains('/') {
            continue;
        }
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        if q > max_q {
            max_q = q;
            best = mime_format(media);
        }
    }
    best
}

fn render_body(format: Format, message: &str, request_id: &str) -> String {
    match format {
        Format::Json => format!("{{\n  \"message\":\"{message}\",\n  \"request_id\":\"{request_id}\"\n}}"),
        Format::Text => format!("{message}\nrequest_id: {request_id}\n"),
        Format::Html => format!(
            "<!doctype html>\n<html>\n  <head>\n    <meta charset=\"utf-8\">\n    <title>Error</title>\n  </head>\n  <body>\n    <h1>Error</h1>\n    <p>{message}.</p>\n    <p>request_id: {request_id}</p>\n  </body>\n</html>\n"
        ),
        Format::Xml => format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<error>\n  <message>{message}</message>\n  <requestid>{request_id}</requestid>\n</error>\n"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    fn body_of(res: Response<Full<Bytes>>) -> (StatusCode, String, String) {
        let status = res.status();
        let ct = res.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap_or_default()
            .to_owned();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("rt");
        let bytes = rt
            .block_on(res.into_body().collect())
            .expect("body")
            .to_bytes();
        (status, ct, String::from_utf8_lossy(&bytes).into_owned())
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn no_route_is_pretty_json_by_default() {
        let res = ProxyError::NoRoute.render(&Method::GET, &HeaderMap::new(), "abc");
        let (status, ct, body) = body_of(res);
        assert_eq!(status, 404);
        assert_eq!(ct, "application/json; charset=utf-8");
        assert_eq!(
            body,
            "{\n  \"message\":\"no Route matched with those values\",\n  \"request_id\":\"abc\"\n}"
        );
    }

    #[test]
    fn upstream_errors_default_to_text_then_content_type() {
        let (s, ct, body) =
            body_of(ProxyError::UpstreamConnect.render(&Method::GET, &HeaderMap::new(), "id1"));
        assert_eq!(s, 502);
        assert_eq!(ct, "text/plain; charset=utf-8");
        assert_eq!(
            body,
            "An invalid response was received from the upstream server\nrequest_id: id1\n"
        );
        let h = headers(&[("content-type", "application/json")]);
        let (s, ct, _) = body_of(ProxyError::UpstreamTimeout.render(&Method::GET, &h, "id1"));
        assert_eq!(
            (s.as_u16(), ct.as_str()),
            (504, "application/json; charset=utf-8")
        );
    }

    #[test]
    fn accept_negotiation_table() {
        let cases = [
            ("application/json", Format::Json),
            ("text/html", Format::Html),
            ("text/plain", Format::Text),
            ("application/xml", Format::Xml),
            ("*/*", Format::Json),
            ("image/png", Format::Json),
            ("text/html;q=0.5, text/plain;q=0.9", Format::Text),
            ("text/plain, text/html", Format::Text),
        ];
        for (accept, want) in cases {
            assert_eq!(response_format(accept), want, "{accept}");
        }
    }

    #[test]
    fn head_has_no_body_but_length() {
        let res = ProxyError::NoService.render(&Method::HEAD, &HeaderMap::new(), "x");
        assert!(res.headers().contains_key(CONTENT_LENGTH));
        let (s, _, body) = body_of(res);
        assert_eq!((s.as_u16(), body.as_str()), (503, ""));
    }
}

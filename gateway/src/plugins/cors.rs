//! The `cors` plugin (kong-compat §4): answers preflights with Kong's 200 and adds the CORS
//! response headers to every other response of the route. Origins are classified and regexes
//! compiled once at build time; the hot path only matches.

use bytes::Bytes;
use gateway_core::plugin_config::cors::{CorsConfig, METHODS};
use http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE,
    ACCESS_CONTROL_REQUEST_HEADERS, ACCESS_CONTROL_REQUEST_METHOD, CONTENT_LENGTH, ORIGIN, VARY,
};
use http::{request, response, HeaderMap, HeaderName, HeaderValue, Method, Response, StatusCode};
use http_body_util::Full;
use regex::Regex;
use serde_json::Value;

use super::{Flow, Plugin, RequestCx};

/// Kong's PRIORITY for cors.
pub const PRIORITY: u32 = 2000;

static ACA_PRIVATE_NETWORK: HeaderName =
    HeaderName::from_static("access-control-allow-private-network");
static ACR_PRIVATE_NETWORK: HeaderName =
    HeaderName::from_static("access-control-request-private-network");

/// One configured origin entry tested against the request origin.
#[derive(Debug)]
enum Entry {
    /// `*`: allow all.
    Star,
    /// A regex, anchored at start (`$` appended), tested against the host or the full origin.
    Regex { re: Regex, by_host: bool },
    /// A plain origin, compared with the normalized request origin.
    Plain(String),
}

/// How the origin headers are decided.
#[derive(Debug)]
enum Origins {
    /// No origins or exactly `["*"]`: `*`, no `Vary`.
    AllowAll,
    /// A single plain entry sent as is.
    Literal(HeaderValue),
    /// Entries tested against the request's `Origin`.
    Match(Vec<Entry>),
}

/// The compiled `cors` plugin.
#[derive(Debug)]
pub struct CorsPlugin {
    origins: Origins,
    credentials: bool,
    private_network: bool,
    preflight_continue: bool,
    allow_origin_absent: bool,
    allow_headers: Option<HeaderValue>,
    allow_methods: HeaderValue,
    max_age: Option<HeaderValue>,
    expose_headers: Option<HeaderValue>,
}

fn joined(list: &Option<Vec<String>>) -> Result<Option<HeaderValue>, String> {
    match list {
        Some(l) if !l.is_empty() => HeaderValue::from_str(&l.join(","))
            .map(Some)
            .map_err(|e| e.to_string()),
        _ => Ok(None),
    }
}

/// Lua's `tostring` of a number (`%.14g`): integers without a fraction.
fn lua_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

/// Whether an entry is a plain origin (`^[A-Za-z0-9.:/-]+$`).
fn is_plain(entry: &str) -> bool {
    !entry.is_empty()
        && entry
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".:/-".contains(&b))
}

/// A normalized origin: `(scheme://host[:port], host)` as LuaSocket's `url.parse` splits it,
/// with the default port of http/https dropped. Without an authority both are the input.
fn normalize_origin(origin: &str) -> (String, String) {
    let (scheme, rest) = match origin.split_once(':') {
        Some((s, r))
            if !s.is_empty()
                && s.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b)) =>
        {
            (Some(s), r)
        }
        _ => (None, origin),
    };
    let Some(after) = rest.strip_prefix("//") else {
        return (origin.to_string(), origin.to_string());
    };
    let authority = after.split(['/', '?', '#']).next().unwrap_or_default();
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !p.contains(']') => (h, Some(p)),
        _ => (authority, None),
    };
    if host.is_empty() {
        return (origin.to_string(), origin.to_string());
    }
    let port = match (scheme, port) {
        (Some("http"), Some("80")) | (Some("https"), Some("443")) => None,
        (_, p) => p,
    };
    let mut domain = String::with_capacity(origin.len());
    if let Some(s) = scheme {
        domain.push_str(s);
        domain.push_str("://");
    }
    domain.push_str(host);
    if let Some(p) = port {
        domain.push(':');
        domain.push_str(p);
    }
    (domain, host.to_string())
}

impl CorsPlugin {
    /// Compile a normalized config.
    pub fn build(config: &Value) -> Result<Self, String> {
        let cfg = CorsConfig::from_value(config)?;
        let list = cfg.origins.clone().unwrap_or_default();
        let origins = if list.is_empty() || (list.len() == 1 && list[0] == "*") {
            Origins::AllowAll
        } else if list.len() == 1 && is_plain(&list[0]) {
            Origins::Literal(HeaderValue::from_str(&list[0]).map_err(|e| e.to_string())?)
        } else {
            let mut entries = Vec::with_capacity(list.len());
            for entry in &list {
                if entry == "*" {
                    entries.push(Entry::Star);
                } else if is_plain(entry) {
                    entries.push(Entry::Plain(normalize_origin(entry).0));
                } else {
                    let mut e = entry.clone();
                    if !e.ends_with('$') {
                        e.push('$');
                    }
                    let e = e.strip_prefix('^').unwrap_or(&e).to_string();
                    let by_host = !e.contains(':');
                    let re = Regex::new(&format!("^(?:{e})"))
                        .map_err(|err| format!("invalid origin regex {entry}: {err}"))?;
                    entries.push(Entry::Regex { re, by_host });
                }
            }
            Origins::Match(entries)
        };
        let methods = cfg
            .methods
            .clone()
            .unwrap_or_else(|| METHODS.iter().map(|m| m.to_string()).collect());
        Ok(Self {
            origins,
            credentials: cfg.credentials,
            private_network: cfg.private_network,
            preflight_continue: cfg.preflight_continue,
            allow_origin_absent: cfg.allow_origin_absent,
            allow_headers: joined(&cfg.headers)?,
            allow_methods: HeaderValue::from_str(&methods.join(",")).map_err(|e| e.to_string())?,
            max_age: cfg
                .max_age
                .map(|m| HeaderValue::from_str(&lua_number(m)))
                .transpose()
                .map_err(|e| e.to_string())?,
            expose_headers: joined(&cfg.exposed_headers)?,
        })
    }

    /// Kong's `configure_origin`: sets the origin headers on `out`; returns "allow all".
    /// `filter` tells the header_filter phase (Vary appended) from the preflight (Vary set).
    fn configure_origin(&self, req: &request::Parts, out: &mut HeaderMap, filter: bool) -> bool {
        let entries = match &self.origins {
            Origins::AllowAll => {
                out.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
                return true;
            }
            Origins::Literal(v) => {
                add_vary_origin(out, filter);
                out.insert(ACCESS_CONTROL_ALLOW_ORIGIN, v.clone());
                return false;
            }
            Origins::Match(entries) => entries,
        };
        add_vary_origin(out, filter);
        if let Some(origin) = req.headers.get(ORIGIN).and_then(|v| v.to_str().ok()) {
            // Kong returns "allow all" on a `*` entry before testing any other entry.
            if entries.iter().any(|e| matches!(e, Entry::Star)) {
                out.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
                return true;
            }
            let (domain, host) = normalize_origin(origin);
            for entry in entries {
                let found = match entry {
                    Entry::Star => false,
                    Entry::Regex { re, by_host } => {
                        re.is_match(if *by_host { &host } else { &domain })
                    }
                    Entry::Plain(p) => *p == domain,
                };
                if found {
                    if let Ok(v) = HeaderValue::from_str(&domain) {
                        out.insert(ACCESS_CONTROL_ALLOW_ORIGIN, v);
                        return false;
                    }
                }
            }
        }
        out.remove(ACCESS_CONTROL_ALLOW_ORIGIN);
        false
    }

    /// Kong's `configure_credentials`.
    fn configure_credentials(
        &self,
        req: &request::Parts,
        allow_all: bool,
        out: &mut HeaderMap,
        filter: bool,
    ) {
        if !self.credentials {
            return;
        }
        if !allow_all {
            out.insert(
                ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
            return;
        }
        // ACAC cannot go with ACAO `*`: echo the Origin instead.
        if let Some(origin) = req.headers.get(ORIGIN) {
            add_vary_origin(out, filter);
            out.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
            out.insert(
                ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
    }

    /// The preflight answer: 200, empty body, the CORS headers.
    fn preflight(&self, req: &request::Parts) -> Response<Full<Bytes>> {
        let mut res = Response::new(Full::new(Bytes::new()));
        *res.status_mut() = StatusCode::OK;
        let h = res.headers_mut();
        h.insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
        let allow_all = self.configure_origin(req, h, false);
        self.configure_credentials(req, allow_all, h, false);
        match (
            &self.allow_headers,
            req.headers.get(ACCESS_CONTROL_REQUEST_HEADERS),
        ) {
            (Some(v), _) | (None, Some(v)) => {
                h.insert(ACCESS_CONTROL_ALLOW_HEADERS, v.clone());
            }
            (None, None) => {}
        }
        h.insert(ACCESS_CONTROL_ALLOW_METHODS, self.allow_methods.clone());
        if let Some(m) = &self.max_age {
            h.insert(ACCESS_CONTROL_MAX_AGE, m.clone());
        }
        if self.private_network
            && req
                .headers
                .get(&ACR_PRIVATE_NETWORK)
                .is_some_and(|v| v == "true")
        {
            h.insert(
                ACA_PRIVATE_NETWORK.clone(),
                HeaderValue::from_static("true"),
            );
        }
        res
    }
}

/// Kong's `add_vary_header`: the preflight sets `Vary: Origin`; header_filter adds a `Vary:
/// Origin` line after the upstream's (Kong's `add_header`, no de-duplication).
fn add_vary_origin(h: &mut HeaderMap, filter: bool) {
    let origin = HeaderValue::from_static("Origin");
    if filter {
        h.append(VARY, origin);
    } else {
        h.insert(VARY, origin);
    }
}

/// Kong's preflight test: OPTIONS with `Origin` and `Access-Control-Request-Method` headers
/// (Lua's `get_header` truthiness: present, even if empty).
fn is_preflight(req: &request::Parts) -> bool {
    req.method == Method::OPTIONS
        && req.headers.contains_key(ORIGIN)
        && req.headers.contains_key(ACCESS_CONTROL_REQUEST_METHOD)
}

impl Plugin for CorsPlugin {
    fn name(&self) -> &'static str {
        "cors"
    }

    fn priority(&self) -> u32 {
        PRIORITY
    }

    fn access(&self, req: &mut request::Parts, cx: &mut RequestCx) -> Flow {
        if !is_preflight(req) {
            return Flow::Continue;
        }
        // Kong's `skip_response_headers`: header_filter adds nothing to a preflight's answer,
        // whether the upstream (preflight_continue) or this plugin made it.
        cx.preflight = true;
        if self.preflight_continue {
            return Flow::Continue;
        }
        Flow::Respond(self.preflight(req))
    }

    fn header_filter(&self, req: &request::Parts, res: &mut response::Parts, cx: &RequestCx) {
        if cx.preflight {
            return;
        }
        if !self.allow_origin_absent && !req.headers.contains_key(ORIGIN) {
            return;
        }
        let allow_all = self.configure_origin(req, &mut res.headers, true);
        self.configure_credentials(req, allow_all, &mut res.headers, true);
        if let Some(v) = &self.expose_headers {
            res.headers.insert(ACCESS_CONTROL_EXPOSE_HEADERS, v.clone());
        }
    }
}

#[cfg(test)]
mod tests;

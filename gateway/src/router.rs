//! Route matching with Kong's `traditional_compatible` semantics (kong-compat §2.1).
//!
//! Each route is compiled into one or more candidates (a route whose paths mix regex and
//! prefix paths of different lengths is split per group, as Kong does), sorted once by Kong's
//! priority. A lookup walks the sorted list and returns the first candidate whose present fields
//! all match; fields AND together, values within a field OR.

use std::cmp::Reverse;

use gateway_core::model;
use http::{HeaderMap, HeaderName, Method};
use regex::bytes::Regex as BytesRegex;
use regex::Regex;
use uuid::Uuid;

/// What the router needs to know about a request.
#[derive(Debug, Clone, Copy)]
pub struct RequestView<'a> {
    /// Request method.
    pub method: &'a Method,
    /// Host without a numeric `:port` (raw, case preserved); `None` without a Host.
    pub host: Option<&'a str>,
    /// Normalized path ([`crate::path::normalize`]).
    pub path: &'a [u8],
    /// Request headers.
    pub headers: &'a HeaderMap,
    /// Local port the request arrived on (for `host:port` entries).
    pub local_port: u16,
}

/// A successful lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Match {
    /// Index of the route in the slice given to [`Router::build`].
    pub route: usize,
    /// Length of the matched path text (prefix, or the regex match) when matched by path.
    pub matched_path_len: Option<usize>,
}

/// Host matcher of one `hosts` entry.
#[derive(Debug)]
enum HostPattern {
    Exact(String),
    /// `*.a.com`: stores `.a.com`.
    Suffix(String),
    /// `a.*`: stores `a.`.
    Prefix(String),
}

#[derive(Debug)]
struct HostMatcher {
    pattern: HostPattern,
    port: Option<u16>,
}

#[derive(Debug)]
struct HeaderMatcher {
    name: HeaderName,
    /// Lowercased plain values.
    values: Vec<String>,
    /// `~*` values.
    regexes: Vec<Regex>,
}

#[derive(Debug)]
enum PathMatcher {
    Any,
    Prefixes(Vec<Vec<u8>>),
    Regexes(Vec<BytesRegex>),
}

/// Kong's priority tuple, compared lexicographically (highest wins).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Priority {
    match_weight: u8,
    plain_hosts: bool,
    header_count: usize,
    regex: bool,
    regex_priority: i64,
    max_prefix_len: usize,
    id: Uuid,
}

/// One compiled matcher (a route or a path group of a route).
#[derive(Debug)]
struct Candidate {
    route: usize,
    methods: Option<Vec<Method>>,
    hosts: Vec<HostMatcher>,
    headers: Vec<HeaderMatcher>,
    paths: PathMatcher,
    priority: Priority,
}

/// The compiled router of one snapshot.
#[derive(Debug, Default)]
pub struct Router {
    candidates: Vec<Candidate>,
}

// === impl Router ===

impl Router {
    /// Compile routes (index = position in `routes`). Invalid regexes are an error naming the
    /// route.
    pub fn build<'a>(
        routes: impl IntoIterator<Item = (usize, &'a model::Route)>,
    ) -> Result<Self, String> {
        let mut candidates = Vec::new();
        for (idx, route) in routes {
            compile_route(idx, route, &mut candidates)
                .map_err(|e| format!("route {}: {e}", route.id))?;
        }
        candidates.sort_by_key(|c| Reverse(c.priority));
        Ok(Self { candidates })
    }

    /// The best matching route, if any.
    pub fn find(&self, req: &RequestView<'_>) -> Option<Match> {
        self.candidates.iter().find_map(|c| c.matches(req))
    }

    /// Number of compiled candidates (routes after path-group splitting).
    pub fn len(&self) -> usize {
        self.candidates.len()
    }

    /// Whether no route can ever match.
    pub fn is_empty(&self) -> bool {
        self.candidates.is_empty()
    }
}

fn non_empty<T>(v: &Option<Vec<T>>) -> Option<&Vec<T>> {
    v.as_ref().filter(|v| !v.is_empty())
}

fn compile_route(idx: usize, route: &model::Route, out: &mut Vec<Candidate>) -> Result<(), String> {
    let methods = non_empty(&route.methods).map(|ms| {
        ms.iter()
            .filter_map(|m| Method::from_bytes(m.as_bytes()).ok())
            .collect::<Vec<_>>()
    });
    let hosts = route_hosts(route);
    let plain_hosts = !hosts.is_empty()
        && hosts
            .iter()
            .all(|h| matches!(h.pattern, HostPattern::Exact(_)));
    let mut headers = Vec::new();
    if let Some(hs) = route.headers.as_ref() {
        for (name, values) in hs {
            if values.is_empty() {
                continue;
            }
            let name = HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes())
                .map_err(|_| format!("invalid header name '{name}'"))?;
            let mut m = HeaderMatcher {
                name,
                values: Vec::new(),
                regexes: Vec::new(),
            };
            for v in values {
                if let Some(re) = v.strip_prefix("~*") {
                    let re = Regex::new(&format!("(?i){re}"))
                        .map_err(|e| format!("invalid header regex '{v}': {e}"))?;
                    m.regexes.push(re);
                } else {
                    m.values.push(v.to_lowercase());
                }
            }
            headers.push(m);
        }
    }
    let snis = non_empty(&route.snis).is_some();
    let base_weight = u8::from(methods.is_some())
        + u8::from(!hosts.is_empty())
        + u8::from(!headers.is_empty())
        + u8::from(snis);
    let header_count = headers.len();

    // Path groups: all regex paths together, prefix paths per length.
    let mut groups: Vec<PathMatcher> = Vec::new();
    if let Some(paths) = non_empty(&route.paths) {
        let mut regexes = Vec::new();
        let mut prefixes: Vec<(usize, Vec<Vec<u8>>)> = Vec::new();
        for p in paths {
            if let Some(re) = p.strip_prefix('~') {
                let re = BytesRegex::new(&format!("^{re}"))
                    .map_err(|e| format!("invalid regex path '{p}': {e}"))?;
                regexes.push(re);
            } else {
                let bytes = p.as_bytes().to_vec();
                match prefixes.iter_mut().find(|(len, _)| *len == bytes.len()) {
                    Some((_, v)) => v.push(bytes),
                    None => prefixes.push((bytes.len(), vec![bytes])),
                }
            }
        }
        if !regexes.is_empty() {
            groups.push(PathMatcher::Regexes(regexes));
        }
        groups.extend(prefixes.into_iter().map(|(_, v)| PathMatcher::Prefixes(v)));
    }
    if groups.is_empty() {
        groups.push(PathMatcher::Any);
    }
    for paths in groups {
        let (regex, max_prefix_len) = match &paths {
            PathMatcher::Any => (false, 0),
            PathMatcher::Regexes(_) => (true, 0),
            PathMatcher::Prefixes(v) => (false, v.iter().map(Vec::len).max().unwrap_or(0)),
        };
        let priority = Priority {
            match_weight: base_weight + u8::from(!matches!(paths, PathMatcher::Any)),
            plain_hosts,
            header_count,
            regex,
            regex_priority: if regex { route.regex_priority } else { 0 },
            max_prefix_len,
            id: route.id,
        };
        // Split groups of one route share its host and header matchers.
        out.push(Candidate {
            route: idx,
            methods: methods.clone(),
            hosts: route_hosts(route),
            headers: clone_headers(&headers),
            paths,
            priority,
        });
    }
    Ok(())
}

fn route_hosts(route: &model::Route) -> Vec<HostMatcher> {
    non_empty(&route.hosts)
        .map(|hs| hs.iter().map(|h| compile_host(h)).collect())
        .unwrap_or_default()
}

fn clone_headers(headers: &[HeaderMatcher]) -> Vec<HeaderMatcher> {
    headers
        .iter()
        .map(|h| HeaderMatcher {
            name: h.name.clone(),
            values: h.values.clone(),
            regexes: h.regexes.clone(),
        })
        .collect()
}

/// Split a trailing numeric `:port`.
fn split_port(host: &str) -> (&str, Option<u16>) {
    if let Some((h, p)) = host.rsplit_once(':') {
        if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && !h.ends_with(':') {
            if let Ok(port) = p.parse() {
                return (h, Some(port));
            }
        }
    }
    (host, None)
}

fn compile_host(entry: &str) -> HostMatcher {
    let (host, port) = split_port(entry);
    let pattern = if let Some(rest) = host.strip_prefix('*') {
        HostPattern::Suffix(rest.to_owned())
    } else if let Some(rest) = host.strip_suffix('*') {
        HostPattern::Prefix(rest.to_owned())
    } else {
        HostPattern::Exact(host.to_owned())
    };
    HostMatcher { pattern, port }
}

/// The host part of a raw `Host` value (numeric `:port` removed).
pub fn host_without_port(raw: &str) -> &str {
    split_port(raw).0
}

// === impl Candidate ===

impl Candidate {
    fn matches(&self, req: &RequestView<'_>) -> Option<Match> {
        // Cheapest and most selective first: prefix paths, then methods, hosts, headers;
        // regexes last.
        let mut matched_path_len = None;
        if let PathMatcher::Prefixes(ps) = &self.paths {
            matched_path_len = Some(ps.iter().find(|p| req.path.starts_with(p))?.len());
        }
        if let Some(methods) = &self.methods {
            if !methods.iter().any(|m| m == req.method) {
                return None;
            }
        }
        if !self.hosts.is_empty() {
            let host = req.host?;
            if !self.hosts.iter().any(|h| h.matches(host, req.local_port)) {
                return None;
            }
        }
        for h in &self.headers {
            if !h.matches(req.headers) {
                return None;
            }
        }
        if let PathMatcher::Regexes(rs) = &self.paths {
            matched_path_len = Some(rs.iter().find_map(|r| r.find(req.path))?.len());
        }
        Some(Match {
            route: self.route,
            matched_path_len,
        })
    }
}

impl HostMatcher {
    fn matches(&self, host: &str, local_port: u16) -> bool {
        if let Some(port) = self.port {
            if port != local_port {
                return false;
            }
        }
        match &self.pattern {
            HostPattern::Exact(h) => h == host,
            HostPattern::Suffix(s) => host.len() > s.len() && host.ends_with(s.as_str()),
            HostPattern::Prefix(p) => host.len() > p.len() && host.starts_with(p.as_str()),
        }
    }
}

impl HeaderMatcher {
    fn matches(&self, headers: &HeaderMap) -> bool {
        headers.get_all(&self.name).iter().any(|v| {
            let Ok(v) = v.to_str() else { return false };
            self.values.iter().any(|c| c.eq_ignore_ascii_case(v))
                || self.regexes.iter().any(|r| r.is_match(v))
        })
    }
}

#[cfg(test)]
mod tests;

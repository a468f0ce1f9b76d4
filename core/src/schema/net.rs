//! Hosts, paths and the service `url` shorthand: Kong's typedef validators.

use std::net::{Ipv4Addr, Ipv6Addr};

use serde_json::Value;

/// Split `host[:port]`; the port is `Err` when present but not a number.
fn split_port(s: &str) -> (&str, Option<Result<u16, ()>>) {
    if let Some(rest) = s.strip_prefix('[') {
        // [v6]:port
        if let Some(end) = rest.find(']') {
            let after = &rest[end + 1..];
            let host = &s[..end + 2];
            return match after.strip_prefix(':') {
                Some(p) => (host, Some(p.parse::<u16>().map_err(|_| ()))),
                None => (host, None),
            };
        }
        return (s, None);
    }
    if s.matches(':').count() == 1 {
        if let Some((h, p)) = s.split_once(':') {
            return (h, Some(p.parse::<u16>().map_err(|_| ())));
        }
    }
    (s, None)
}

fn is_ip(h: &str) -> bool {
    let inner = h
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(h);
    inner.parse::<Ipv6Addr>().is_ok() || h.parse::<Ipv4Addr>().is_ok()
}

/// Kong's hostname rule: letters, digits, `-`, `_` in non-empty dot-separated labels, no label
/// ending with `-`.
fn valid_hostname(h: &str) -> bool {
    if is_ip(h) {
        return true;
    }
    !h.is_empty()
        && h.split('.').all(|label| {
            !label.is_empty()
                && !label.ends_with('-')
                && label
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
}

/// Kong's `typedefs.host`: a hostname or IP without a port.
pub fn host(s: &str) -> Result<(), String> {
    if s.parse::<Ipv6Addr>().is_ok() {
        return Ok(());
    }
    let (h, port) = split_port(s);
    if !valid_hostname(h) || s.ends_with(':') {
        return Err(format!("invalid value: {s}"));
    }
    if port.is_some() {
        return Err("must not have a port".into());
    }
    Ok(())
}

/// Kong's `typedefs.host_with_optional_port` (Kong's `normalize_ip` errors).
pub fn host_with_optional_port(s: &str) -> Result<(), String> {
    if s.parse::<Ipv6Addr>().is_ok() {
        return Ok(());
    }
    let (h, port) = split_port(s);
    if !valid_hostname(h) || s.ends_with(':') {
        return Err(format!("invalid hostname: {s}"));
    }
    if let Some(Err(())) = port {
        return Err("invalid port number".into());
    }
    Ok(())
}

/// Route `hosts` elements (Kong's `typedefs.hosts`): at most one `*`, as a whole leftmost or
/// rightmost label, optional `:port`.
pub fn route_host(s: &str) -> Result<(), String> {
    if s.matches('*').count() > 1 {
        return Err("invalid wildcard: must have at most one wildcard".into());
    }
    if s.contains('*') && !(s.starts_with("*.") || s.ends_with(".*")) {
        return Err("invalid wildcard: must be placed at leftmost or rightmost label".into());
    }
    host_with_optional_port(&s.replace('*', "abc"))
}

/// Kong's `typedefs.wildcard_host` (route `snis`): one `*` as the first or last character, no
/// IP, no port.
pub fn wildcard_host(s: &str) -> Result<(), String> {
    let mut host = s.to_string();
    if let Some(idx) = s.find('*') {
        if idx != 0 && idx + 1 != s.len() {
            return Err("wildcard must be leftmost or rightmost character".into());
        }
        if s.matches('*').count() > 1 {
            return Err("only one wildcard must be specified".into());
        }
        host = s.replacen('*', "wildcard", 1);
    }
    let (h, port) = split_port(&host);
    if !valid_hostname(h) || host.ends_with(':') {
        return Err(format!("invalid value: {host}"));
    }
    if is_ip(h) {
        return Err("must not be an IP".into());
    }
    if port.is_some() {
        return Err("must not have a port".into());
    }
    Ok(())
}

/// Kong's `typedefs.ip_or_cidr`.
pub fn ip_or_cidr(s: &str) -> Result<(), String> {
    let (ip, bits) = match s.split_once('/') {
        Some((ip, bits)) => (ip, Some(bits)),
        None => (s, None),
    };
    let max = if ip.parse::<Ipv4Addr>().is_ok() {
        32
    } else if ip.parse::<Ipv6Addr>().is_ok() {
        128
    } else {
        return Err(format!("invalid ip or cidr range: '{s}'"));
    };
    match bits {
        None => Ok(()),
        Some(b) if b.parse::<u8>().is_ok_and(|n| n <= max) => Ok(()),
        Some(_) => Err(format!("invalid ip or cidr range: '{s}'")),
    }
}

const RFC3986_EXTRA: &str = "-._~/%:@!$&'()*+,;=";

fn rfc3986_chars(p: &str) -> bool {
    p.chars()
        .all(|c| c.is_ascii_alphanumeric() || RFC3986_EXTRA.contains(c))
}

/// Every `%` starts a two-hex-digit escape (Kong's `invalid url-encoded value`).
fn percent_escapes(p: &str) -> Result<(), String> {
    let bytes = p.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let end = (i + 3).min(bytes.len());
            let ok = end == i + 3 && bytes[i + 1..end].iter().all(u8::is_ascii_hexdigit);
            if !ok {
                let esc = String::from_utf8_lossy(&bytes[i..end]);
                return Err(format!("invalid url-encoded value: '{esc}'"));
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    Ok(())
}

/// Kong's `typedefs.path` (service `path`).
pub fn service_path(p: &str) -> Result<(), String> {
    if !p.starts_with('/') {
        return Err("should start with: /".into());
    }
    if p.contains("//") {
        return Err("must not have empty segments".into());
    }
    if !rfc3986_chars(p) {
        return Err(format!(
            "invalid path: '{p}' (characters outside of the reserved list of RFC 3986 found)"
        ));
    }
    percent_escapes(p)
}

/// Kong's `typedefs.router_path` (route `paths` element): a normalized prefix or a `~` regex.
pub fn route_path(p: &str) -> Result<(), String> {
    if !(p.starts_with('/') || p.starts_with("~/")) {
        return Err("should start with: / (fixed path) or ~/ (regex path)".into());
    }
    if p.contains("//") {
        return Err("must not have empty segments".into());
    }
    // Kong only reports bad escapes here (its RFC 3986 character check is not applied).
    if rfc3986_chars(p) {
        percent_escapes(p)?;
    }
    if let Some(re) = p.strip_prefix('~') {
        return regex::Regex::new(re).map(|_| ()).map_err(|e| {
            format!(
                "invalid regex: '{re}' (PCRE returned: {})",
                first_line(&e.to_string())
            )
        });
    }
    let normalized = normalize_path(p);
    if normalized != p {
        return Err(format!(
            "non-normalized path, consider use '{normalized}' instead"
        ));
    }
    Ok(())
}

fn first_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or(s)
        .to_string()
}

/// Kong's path normalization (`kong.tools.uri.normalize`): decode every `%XX` escape except
/// those of reserved characters (which are uppercased), then remove `.`/`..` segments.
pub fn normalize_path(p: &str) -> String {
    const RESERVED: &[u8] = b"!#$%&'()*+,/:;=?@[]";
    let bytes = p.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&p[i + 1..i + 3], 16) {
                if RESERVED.contains(&b) {
                    out.push(b'%');
                    out.extend(p[i + 1..i + 3].to_ascii_uppercase().bytes());
                } else {
                    out.push(b);
                }
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    remove_dot_segments(&String::from_utf8_lossy(&out))
}

fn remove_dot_segments(p: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = p.split('/').skip(1).collect();
    let n = segments.len();
    let mut trailing = false;
    for (i, seg) in segments.iter().enumerate() {
        let last = i + 1 == n;
        match *seg {
            "." => trailing = last,
            ".." => {
                out.pop();
                trailing = last;
            }
            s => {
                out.push(s);
                trailing = false;
            }
        }
    }
    let mut s = String::from("/");
    s.push_str(&out.join("/"));
    if trailing && !s.ends_with('/') {
        s.push('/');
    }
    s
}

/// Parts of a service `url` shorthand, as they overwrite protocol/host/port/path.
#[derive(Debug, Clone, PartialEq)]
pub struct UrlParts {
    /// The scheme, or `http` (`https` for port 443) without one.
    pub protocol: String,
    /// Host, `null` when the URL has no authority.
    pub host: Value,
    /// Port number (a string when not numeric, for the validator to reject).
    pub port: Value,
    /// Path, `null` when empty.
    pub path: Value,
}

/// Parse a `url` like LuaSocket's `url.parse` does for Kong's shorthand.
pub fn parse_url(s: &str) -> UrlParts {
    let s = s.split('#').next().unwrap_or("");
    let s = s.split('?').next().unwrap_or("");
    let mut rest = s;
    let mut scheme = None;
    if let Some(colon) = rest.find(':') {
        let cand = &rest[..colon];
        let valid = cand
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
            && cand
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
        if valid {
            scheme = Some(cand.to_string());
            rest = &rest[colon + 1..];
        }
    }
    let mut host = Value::Null;
    let mut port: Option<Value> = None;
    if let Some(after) = rest.strip_prefix("//") {
        let end = after.find('/').unwrap_or(after.len());
        let authority = &after[..end];
        rest = &after[end..];
        let authority = authority.rsplit('@').next().unwrap_or("");
        let (h, p) = split_authority(authority);
        if !h.is_empty() {
            host = Value::String(h.to_string());
        }
        if let Some(p) = p {
            port = Some(match p.parse::<i64>() {
                Ok(n) => Value::from(n),
                Err(_) => Value::String(p.to_string()),
            });
        }
    }
    let protocol = match &scheme {
        Some(s) => s.clone(),
        None if port.as_ref().and_then(Value::as_u64) == Some(443) => "https".into(),
        None => "http".into(),
    };
    let port = port.unwrap_or_else(|| {
        Value::from(match protocol.as_str() {
            "https" | "wss" => 443,
            _ => 80,
        })
    });
    let path = if rest.is_empty() {
        Value::Null
    } else {
        Value::String(rest.to_string())
    };
    UrlParts {
        protocol,
        host,
        port,
        path,
    }
}

fn split_authority(a: &str) -> (&str, Option<&str>) {
    if a.starts_with('[') {
        if let Some(end) = a.find(']') {
            let host = &a[..=end];
            return (
                host,
                a[end + 1..].strip_prefix(':').filter(|p| !p.is_empty()),
            );
        }
    }
    match a.rsplit_once(':') {
        Some((h, p)) if !p.is_empty() => (h, Some(p)),
        Some((h, _)) => (h, None),
        None => (a, None),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn hosts() {
        assert!(host("example.test").is_ok());
        assert!(host("10.0.0.1").is_ok());
        assert!(host("::1").is_ok());
        assert_eq!(host("example.test:80"), Err("must not have a port".into()));
        assert_eq!(host("exa mple"), Err("invalid value: exa mple".into()));
    }

    /// Kong's routes schema spec (`hosts attribute`).
    #[test]
    fn route_hosts() {
        for h in [
            "hello.com",
            "1991.io",
            "hello.COM",
            "example.123",
            "example_api.com",
            "localhost",
            "example.com:80",
            "example.com:8080",
            "-with-SUPER-MONKEYS-pc58ag80a8qai00g7n9n",
            "example.*",
            "*.example.org",
            "*.example.org:321",
        ] {
            assert_eq!(route_host(h), Ok(()), "{h}");
        }
        for h in [
            "/example",
            ".example",
            "example:",
            "mock;bin",
            "example.com/org",
            "example-.org",
            "example.org-",
            "hello..example.com",
            "hello-.example.com",
        ] {
            assert_eq!(route_host(h), Err(format!("invalid hostname: {h}")), "{h}");
        }
        assert_eq!(
            route_host("example.com:1000000"),
            Err("invalid port number".into())
        );
        for h in ["*example.com", "www.example*", "mock*bin.com"] {
            assert_eq!(
                route_host(h),
                Err("invalid wildcard: must be placed at leftmost or rightmost label".into())
            );
        }
        for h in ["*.example.*", "**.example.com", "*.example*.*"] {
            assert_eq!(
                route_host(h),
                Err("invalid wildcard: must have at most one wildcard".into())
            );
        }
    }

    #[test]
    fn sni_hosts() {
        assert!(wildcard_host("*.example.test").is_ok());
        assert!(wildcard_host("example.*").is_ok());
        assert_eq!(
            wildcard_host("example.test:8000"),
            Err("must not have a port".into())
        );
        assert_eq!(wildcard_host("127.0.0.1"), Err("must not be an IP".into()));
        for h in ["foo.*.test", "foo*.test"] {
            assert_eq!(
                wildcard_host(h),
                Err("wildcard must be leftmost or rightmost character".into())
            );
        }
        assert_eq!(
            wildcard_host("*.example.*"),
            Err("only one wildcard must be specified".into())
        );
    }

    #[test]
    fn ips_and_cidrs() {
        for ok in ["127.0.0.1", "0.0.0.0/0", "::/0", "0.0.0.0/32", "::/128"] {
            assert_eq!(ip_or_cidr(ok), Ok(()), "{ok}");
        }
        for bad in [
            "127.",
            ":::1",
            "-1",
            "localhost",
            "1/0",
            "0.0.0.0/a",
            "0.0.0.0/33",
            "::/129",
        ] {
            assert_eq!(
                ip_or_cidr(bad),
                Err(format!("invalid ip or cidr range: '{bad}'"))
            );
        }
    }

    #[test]
    fn service_paths() {
        assert!(service_path("/api/v1").is_ok());
        assert_eq!(service_path("api"), Err("should start with: /".into()));
        assert_eq!(
            service_path("/a//b"),
            Err("must not have empty segments".into())
        );
        assert!(service_path("/a b").unwrap_err().contains("RFC 3986"));
        assert_eq!(
            service_path("/a%zz"),
            Err("invalid url-encoded value: '%zz'".into())
        );
    }

    #[test]
    fn route_paths() {
        assert!(route_path("/api").is_ok());
        assert!(route_path("/ovo/").is_ok());
        assert!(route_path("/abcd~user~2").is_ok());
        assert!(route_path("~/api/\\d+$").is_ok());
        assert!(route_path("~/users/(foo/profile")
            .unwrap_err()
            .starts_with("invalid regex: '/users/(foo/profile' (PCRE returned: "));
        assert_eq!(
            route_path("api"),
            Err("should start with: / (fixed path) or ~/ (regex path)".into())
        );
        for p in ["/foo//bar", "/foo/bar//", "//foo/bar"] {
            assert_eq!(route_path(p), Err("must not have empty segments".into()));
        }
        let bad = [
            "/some%2words",
            "/some%0Xwords",
            "/some%2Gwords",
            "/some%20words%",
            "/some%20words%a",
            "/some%20words%ax",
        ];
        let esc = ["%2w", "%0X", "%2G", "%", "%a", "%ax"];
        for (p, e) in bad.iter().zip(esc) {
            assert_eq!(
                route_path(p),
                Err(format!("invalid url-encoded value: '{e}'")),
                "{p}"
            );
        }
        assert_eq!(
            route_path("/a/../b"),
            Err("non-normalized path, consider use '/b' instead".into())
        );
        assert_eq!(
            route_path("/%7efoo"),
            Err("non-normalized path, consider use '/~foo' instead".into())
        );
        assert_eq!(
            route_path("/a%2fb"),
            Err("non-normalized path, consider use '/a%2Fb' instead".into())
        );
        assert!(route_path("/a%2Fb").is_ok());
    }

    #[test]
    fn url_shorthand_examples() {
        let u = parse_url("http://example.test:443");
        assert_eq!(
            (u.protocol.as_str(), u.port, u.path),
            ("http", json!(443), Value::Null)
        );
        let u = parse_url("https://example2.test:80/");
        assert_eq!(
            (u.protocol.as_str(), u.port, u.path),
            ("https", json!(80), json!("/"))
        );
        let u = parse_url("https://service.test/");
        assert_eq!(
            (u.protocol.as_str(), u.host, u.port, u.path),
            ("https", json!("service.test"), json!(443), json!("/"))
        );
        let u = parse_url("grpcs://g.test");
        assert_eq!((u.protocol.as_str(), u.port), ("grpcs", json!(80)));
        let u = parse_url("http://h.test:70000");
        assert_eq!(u.port, json!(70000));
        let u = parse_url("invalid url");
        assert_eq!((u.host, u.path), (Value::Null, json!("invalid url")));
        let u = parse_url("http://user:pw@up.test:8080/a/b?q=1");
        assert_eq!(
            (u.host, u.port, u.path),
            (json!("up.test"), json!(8080), json!("/a/b"))
        );
    }
}

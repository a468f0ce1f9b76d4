//! Request path normalization and upstream path joining (kong-compat §2.1, §2.2).
//!
//! * [`normalize`]: what the router matches against — percent-escapes decoded except reserved
//!   characters (kept, hex uppercased), `//` merged, dot segments resolved.
//! * [`join_v0`]: Kong's `get_upstream_uri_v0` (the only joiner `traditional_compatible` uses),
//!   [`join_v1`]: the traditional flavor's `v1` concatenation, kept for completeness.
//! * [`escape_into`]: the final re-escaping of the joined path before it goes upstream.

/// Characters that stay percent-encoded when normalizing (`!*'();:@&=+$,/?%#[]`).
fn is_reserved(b: u8) -> bool {
    matches!(
        b,
        b'!' | b'*'
            | b'\''
            | b'('
            | b')'
            | b';'
            | b':'
            | b'@'
            | b'&'
            | b'='
            | b'+'
            | b'$'
            | b','
            | b'/'
            | b'?'
            | b'%'
            | b'#'
            | b'['
            | b']'
    )
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// Normalize a raw request path (no query) the way Kong's router sees it.
///
/// Returns bytes: decoded escapes may not be UTF-8.
pub fn normalize(raw: &str) -> Vec<u8> {
    let raw = raw.as_bytes();
    if raw.is_empty() || raw == b"/" {
        return raw.to_vec();
    }
    // 1. Decode percent-escapes except reserved characters; merge repeated slashes.
    let mut decoded = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        if b == b'%' && i + 2 < raw.len() {
            if let (Some(h), Some(l)) = (hex_val(raw[i + 1]), hex_val(raw[i + 2])) {
                let c = h * 16 + l;
                if is_reserved(c) {
                    decoded.extend_from_slice(&[
                        b'%',
                        HEX_UPPER[h as usize],
                        HEX_UPPER[l as usize],
                    ]);
                } else {
                    push_merging(&mut decoded, c);
                }
                i += 3;
                continue;
            }
        }
        push_merging(&mut decoded, b);
        i += 1;
    }
    // 2. Remove dot segments (RFC 3986 §5.2.4) when there can be any.
    if decoded.windows(2).any(|w| w == b"/.") || decoded.first() == Some(&b'.') {
        remove_dot_segments(&decoded)
    } else {
        decoded
    }
}

/// Push a byte, dropping a `/` that would follow another `/`.
fn push_merging(out: &mut Vec<u8>, b: u8) {
    if b == b'/' && out.last() == Some(&b'/') {
        return;
    }
    out.push(b);
}

/// RFC 3986 `remove_dot_segments`.
fn remove_dot_segments(input: &[u8]) -> Vec<u8> {
    let mut out: Vec<u8> = Vec::with_capacity(input.len());
    let mut inp = input;
    while !inp.is_empty() {
        if inp.starts_with(b"../") {
            inp = &inp[3..];
        } else if inp.starts_with(b"./") || inp.starts_with(b"/./") {
            inp = &inp[2..];
        } else if inp == b"/." {
            inp = b"/";
        } else if inp.starts_with(b"/../") || inp == b"/.." {
            inp = if inp.len() == 3 { b"/" } else { &inp[3..] };
            match out.iter().rposition(|&c| c == b'/') {
                Some(p) => out.truncate(p),
                None => out.clear(),
            }
        } else if inp == b"." || inp == b".." {
            inp = b"";
        } else {
            let start = usize::from(inp[0] == b'/');
            let end = inp[start..]
                .iter()
                .position(|&c| c == b'/')
                .map_or(inp.len(), |p| p + start);
            out.extend_from_slice(&inp[..end]);
            inp = &inp[end..];
        }
    }
    if out.is_empty() {
        out.push(b'/');
    }
    out
}

/// Kong's `sanitize_uri_postfix`: drop a leading `./` or `../` (or a lone `.`/`..`).
fn sanitize_postfix(postfix: &[u8]) -> &[u8] {
    if postfix == b"." || postfix == b".." {
        b""
    } else if let Some(rest) = postfix.strip_prefix(b"./") {
        rest
    } else if let Some(rest) = postfix.strip_prefix(b"../") {
        rest
    } else {
        postfix
    }
}

/// Kong's `get_upstream_uri_v0`.
///
/// `base` is the service path (`/` when unset), `path` the normalized request path and
/// `stripped` the matched prefix when the route strips it (`None`: no stripping, or the route
/// did not match by path while `strip_path` is set — see `strip`).
pub fn join_v0(base: &[u8], path: &[u8], strip: bool, stripped: Option<usize>) -> Vec<u8> {
    // Postfix: the rest after the matched prefix when stripping by path, else path[1..].
    let postfix = match stripped {
        Some(n) if strip => path.get(n..).unwrap_or_default(),
        _ => path.get(1..).unwrap_or_default(),
    };
    let postfix = sanitize_postfix(postfix);
    let ends_slash = |s: &[u8]| s.last() == Some(&b'/');
    let mut out = Vec::with_capacity(base.len() + path.len() + 1);
    if ends_slash(base) {
        if strip {
            if postfix.is_empty() {
                if base == b"/" {
                    out.push(b'/');
                } else if ends_slash(path) {
                    out.extend_from_slice(base);
                } else {
                    out.extend_from_slice(&base[..base.len() - 1]);
                }
            } else if postfix[0] == b'/' {
                out.extend_from_slice(&base[..base.len() - 1]);
                out.extend_from_slice(postfix);
            } else {
                out.extend_from_slice(base);
                out.extend_from_slice(postfix);
            }
        } else {
            out.extend_from_slice(base);
            out.extend_from_slice(path.get(1..).unwrap_or_default());
        }
    } else if strip {
        out.extend_from_slice(base);
        if postfix.is_empty() {
            if path.len() > 1 && ends_slash(path) {
                out.push(b'/');
            }
        } else {
            if postfix[0] != b'/' {
                out.push(b'/');
            }
            out.extend_from_slice(postfix);
        }
    } else {
        out.extend_from_slice(base);
        if path != b"/" {
            out.extend_from_slice(path);
        }
    }
    out
}

/// The traditional flavor's `v1`: concatenation without a separator.
pub fn join_v1(base: &[u8], path: &[u8], strip: bool, stripped: Option<usize>) -> Vec<u8> {
    let mut out = Vec::with_capacity(base.len() + path.len());
    if strip {
        let postfix = match stripped {
            Some(n) => path.get(n..).unwrap_or_default(),
            None => path.get(1..).unwrap_or_default(),
        };
        let postfix = sanitize_postfix(postfix);
        if base.last() == Some(&b'/') && postfix.first() == Some(&b'/') {
            out.extend_from_slice(&base[..base.len() - 1]);
        } else {
            out.extend_from_slice(base);
        }
        out.extend_from_slice(postfix);
    } else {
        out.extend_from_slice(base);
        out.extend_from_slice(path.get(1..).unwrap_or_default());
    }
    out
}

/// Bytes Kong leaves as they are when re-escaping the upstream path.
fn is_uri_safe(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'!' | b'#'
                | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b'/'
                | b':'
                | b';'
                | b'='
                | b'?'
                | b'@'
                | b'['
                | b']'
                | b'-'
                | b'_'
                | b'.'
                | b'~'
                | b'%'
        )
}

/// Append `path` to `out`, percent-encoding bytes that are not URI-safe.
pub fn escape_into(out: &mut String, path: &[u8]) {
    for &b in path {
        if is_uri_safe(b) {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX_UPPER[(b >> 4) as usize] as char);
            out.push(HEX_UPPER[(b & 15) as usize] as char);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: Vec<u8>) -> String {
        String::from_utf8(v).expect("utf8")
    }

    #[test]
    fn normalize_table() {
        let cases = [
            ("/", "/"),
            ("/a//b", "/a/b"),
            ("/a/./b", "/a/b"),
            ("/a/b/../c", "/a/c"),
            ("/a/b/..", "/a/"),
            ("/..", "/"),
            ("/%61%62c", "/abc"),
            ("/a%2fb", "/a%2Fb"),
            ("/a%2Fb", "/a%2Fb"),
            ("/a%3ab", "/a%3Ab"),
            ("/route%2E%2E/req", "/route../req"),
            ("/%2E%2E/x", "/x"),
            ("/a%zz", "/a%zz"),
            ("/a%2", "/a%2"),
            ("/a%20b", "/a b"),
            ("//x", "/x"),
            ("/x/", "/x/"),
        ];
        for (input, want) in cases {
            assert_eq!(s(normalize(input)), want, "normalize({input})");
        }
    }

    /// Kong fixtures (service path, route path, strip, request -> upstream), kong-compat §2.2.
    #[test]
    fn join_v0_kong_fixtures() {
        // (base, prefix matched, strip, request, expected)
        let cases: &[(&str, Option<&str>, bool, &str, &str)] = &[
            ("/", Some("/route"), true, "/routereq", "/req"),
            ("/srv", Some("/rou"), false, "/roureq", "/srv/roureq"),
            ("/srv", Some("/rou"), true, "/roureq", "/srv/req"),
            ("/srv/", Some("/rou"), true, "/rou", "/srv"),
            ("/service", Some("/route"), true, "/route/", "/service/"),
            (
                "/service",
                Some("/route"),
                true,
                "/route%2E%2E/req",
                "/service/req",
            ),
            // host-only route (no path matched), strip_path true.
            ("/service", None, true, "/route", "/service/route"),
            // more of Kong's table (spec/01-unit/08-router_spec.lua upstream uri cases)
            ("/", None, false, "/", "/"),
            ("/", Some("/"), true, "/", "/"),
            ("/", Some("/"), true, "/foo", "/foo"),
            ("/", Some("/foo"), true, "/foo", "/"),
            ("/", Some("/foo"), true, "/foo/", "/"),
            ("/", Some("/foo"), false, "/foo", "/foo"),
            ("/", Some("/foo"), false, "/foo/bar", "/foo/bar"),
            ("/srv/", Some("/rou"), true, "/rou/", "/srv/"),
            ("/srv/", Some("/rou"), true, "/rou/req", "/srv/req"),
            ("/srv/", Some("/rou"), true, "/roureq", "/srv/req"),
            ("/srv/", Some("/rou"), false, "/rou", "/srv/rou"),
            ("/srv/", Some("/rou"), false, "/rou/", "/srv/rou/"),
            ("/srv", Some("/rou"), true, "/rou", "/srv"),
            ("/srv", Some("/rou"), true, "/rou/", "/srv/"),
            ("/srv", Some("/rou"), true, "/rou/req", "/srv/req"),
            ("/srv", Some("/rou"), false, "/rou", "/srv/rou"),
            ("/srv", Some("/"), false, "/", "/srv"),
            ("/srv", Some("/"), true, "/", "/srv"),
            ("/srv/", Some("/"), true, "/", "/srv/"),
        ];
        for &(base, prefix, strip, req, want) in cases {
            let path = normalize(req);
            let got = join_v0(base.as_bytes(), &path, strip, prefix.map(str::len));
            assert_eq!(
                s(got),
                want,
                "base={base} prefix={prefix:?} strip={strip} req={req}"
            );
        }
    }

    #[test]
    fn join_v1_concatenates() {
        let got = join_v1(b"/srv", b"/roureq", false, Some(4));
        assert_eq!(s(got), "/srvroureq");
        let got = join_v1(b"/srv", b"/roureq", true, Some(4));
        assert_eq!(s(got), "/srvreq");
        let got = join_v1(b"/srv/", b"/rou/req", true, Some(4));
        assert_eq!(s(got), "/srv/req");
    }

    #[test]
    fn escape_keeps_reserved_and_escapes_others() {
        let mut out = String::new();
        escape_into(&mut out, "/a b/é/%2F/x?y".as_bytes());
        assert_eq!(out, "/a%20b/%C3%A9/%2F/x?y");
    }
}

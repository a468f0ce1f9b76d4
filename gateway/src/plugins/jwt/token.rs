//! Token extraction (Kong's `retrieve_tokens`): query args, cookies and `Bearer` headers form
//! a set of distinct tokens, with no precedence between sources.

use std::borrow::Cow;

use http::header::COOKIE;
use http::request::Parts;
use http::HeaderName;
use percent_encoding::percent_decode_str;

/// Where tokens are looked for, prepared at build time.
#[derive(Debug)]
pub struct Sources {
    /// Query argument names.
    pub uri_params: Vec<String>,
    /// Cookie names.
    pub cookies: Vec<String>,
    /// Header names (invalid names are dropped: no request can carry them).
    pub headers: Vec<HeaderName>,
}

impl Sources {
    /// Prepare the sources of a config.
    pub fn new(
        uri_params: &[String],
        cookies: &[String],
        headers: &[String],
    ) -> Result<Self, String> {
        Ok(Self {
            uri_params: uri_params.to_vec(),
            cookies: cookies.to_vec(),
            // Kong's header table normalizes `_` to `-` and ignores case.
            headers: headers
                .iter()
                .filter_map(|h| {
                    HeaderName::from_bytes(h.replace('_', "-").to_ascii_lowercase().as_bytes()).ok()
                })
                .collect(),
        })
    }
}

/// Outcome of extraction.
#[derive(Debug, PartialEq, Eq)]
pub enum Extracted<'r> {
    /// No token anywhere: `Unauthorized`.
    None,
    /// Exactly one distinct token.
    One(Cow<'r, str>),
    /// Several distinct tokens: `Multiple tokens provided`.
    Multiple,
    /// Only a value-less query flag (`?jwt`): `Unrecognizable token`.
    Unrecognizable,
}

#[derive(PartialEq, Eq)]
enum Found<'r> {
    Token(Cow<'r, str>),
    Flag,
}

fn decode_arg(s: &str) -> Cow<'_, str> {
    if s.contains('+') {
        let spaced = s.replace('+', " ");
        Cow::Owned(percent_decode_str(&spaced).decode_utf8_lossy().into_owned())
    } else {
        percent_decode_str(s).decode_utf8_lossy()
    }
}

/// Kong's `\s*[Bb]earer\s+(.+)` (unanchored, leftmost-first, like `ngx.re.gmatch`) without a
/// regex engine, which cost ~2 µs per request: the capture after the first `Bearer` that is
/// followed by whitespace and at least one more character, up to the end of the line.
pub fn bearer_token(value: &str) -> Option<&str> {
    let mut from = 0;
    while let Some(i) = value[from..].find("earer").map(|i| i + from) {
        from = i + 1;
        if i == 0 || !matches!(value.as_bytes()[i - 1], b'B' | b'b') {
            continue;
        }
        let after = i + "earer".len();
        let rest = &value[after..];
        let Some(first) = rest.chars().next().filter(|c| c.is_whitespace()) else {
            continue;
        };
        // `\s+` is greedy: `.+` starts after the whole run, or gives characters back (at
        // least one whitespace character stays with `\s+`) until `.+` can match.
        let min_start = after + first.len_utf8();
        let mut start = after + (rest.len() - rest.trim_start_matches(char::is_whitespace).len());
        loop {
            if value[start..].chars().next().is_some_and(|c| c != '\n') {
                let line = &value[start..];
                return Some(&line[..line.find('\n').unwrap_or(line.len())]);
            }
            if start <= min_start {
                break;
            }
            start = value[..start]
                .char_indices()
                .next_back()
                .map_or(0, |(j, _)| j);
        }
    }
    None
}

/// Extract the token(s) of a request.
pub fn extract<'r>(req: &'r Parts, src: &Sources) -> Extracted<'r> {
    let mut set: Vec<Found<'r>> = Vec::new();
    let mut add = |f: Found<'r>| {
        if !set.contains(&f) {
            set.push(f);
        }
    };
    if !src.uri_params.is_empty() {
        if let Some(q) = req.uri.query() {
            for pair in q.split('&').filter(|p| !p.is_empty()) {
                let (k, v) = match pair.split_once('=') {
                    Some((k, v)) => (k, Some(v)),
                    None => (pair, None),
                };
                let k = decode_arg(k);
                if !src.uri_params.iter().any(|n| *n == k) {
                    continue;
                }
                match v {
                    None => add(Found::Flag),
                    Some(v) => {
                        let v = decode_arg(v);
                        if !v.is_empty() {
                            add(Found::Token(v));
                        }
                    }
                }
            }
        }
    }
    for name in &src.cookies {
        if let Some(v) = cookie(req, name) {
            if !v.is_empty() {
                add(Found::Token(Cow::Borrowed(v)));
            }
        }
    }
    for name in &src.headers {
        let Some(value) = req.headers.get(name).and_then(|v| v.to_str().ok()) else {
            continue;
        };
        if let Some(m) = bearer_token(value) {
            if !m.is_empty() {
                add(Found::Token(Cow::Borrowed(m)));
            }
        }
    }
    match set.len() {
        0 => Extracted::None,
        1 => match set.pop() {
            Some(Found::Token(t)) => Extracted::One(t),
            _ => Extracted::Unrecognizable,
        },
        _ => Extracted::Multiple,
    }
}

/// nginx's `$cookie_<name>`: the first cookie of that name (case-insensitive), raw value.
fn cookie<'r>(req: &'r Parts, name: &str) -> Option<&'r str> {
    req.headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(n, _)| n.trim().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
}

#[cfg(test)]
mod tests {
    use http::Request;

    use super::*;

    fn parts(uri: &str, headers: &[(&str, &str)]) -> Parts {
        let mut b = Request::builder().uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap().into_parts().0
    }

    fn src() -> Sources {
        Sources::new(
            &["jwt".into()],
            &["tok".into()],
            &["authorization".into(), "x_token".into()],
        )
        .unwrap()
    }

    #[test]
    fn sources() {
        let s = src();
        assert_eq!(extract(&parts("/", &[]), &s), Extracted::None);
        assert_eq!(
            extract(&parts("/?jwt=a%2Eb+c", &[]), &s),
            Extracted::One("a.b c".into())
        );
        assert_eq!(extract(&parts("/?jwt=", &[]), &s), Extracted::None);
        assert_eq!(extract(&parts("/?jwt", &[]), &s), Extracted::Unrecognizable);
        assert_eq!(extract(&parts("/?jwt&jwt=x", &[]), &s), Extracted::Multiple);
        assert_eq!(
            extract(&parts("/", &[("cookie", "a=1; TOK=ccc")]), &s),
            Extracted::One("ccc".into())
        );
        assert_eq!(
            extract(&parts("/", &[("authorization", "Bearer  abc")]), &s),
            Extracted::One("abc".into())
        );
        assert_eq!(
            extract(&parts("/", &[("authorization", "bearer abc")]), &s),
            Extracted::One("abc".into())
        );
        assert_eq!(
            extract(&parts("/", &[("authorization", "Basic abc")]), &s),
            Extracted::None
        );
        assert_eq!(
            extract(&parts("/", &[("x-token", "Bearer t")]), &s),
            Extracted::One("t".into())
        );
    }

    #[test]
    fn bearer_matches_the_regex() {
        let re = regex::Regex::new(r"\s*[Bb]earer\s+(.+)").unwrap();
        let oracle = |v: &str| -> Option<String> {
            re.captures(v)
                .and_then(|c| c.get(1))
                .map(|m| m.as_str().to_owned())
        };
        let fixed = [
            "",
            "Bearer",
            "Bearer ",
            "Bearer  ",
            "Bearer \t",
            "Bearer x",
            "bearer  x y ",
            "Basic abc",
            "xBearer t",
            "earer t",
            "BearerX t",
            "Bearer\tt",
            "BBearer t",
            "Bearer\n",
            "Bearer \n",
            "Bearer \nx",
            "Bearer x\ny",
            "Bearer\n\n",
            "Bearer \n \n",
            "Bearer\u{a0}t",
            "Bearer \u{a0}",
            "bearer bearer x",
            "Bearer \u{2003}\n",
            "token Bearer",
            "Bearer Bearer",
            "é Bearer ü",
        ];
        for v in fixed {
            assert_eq!(bearer_token(v).map(str::to_owned), oracle(v), "{v:?}");
        }
        let alphabet = ['B', 'b', 'e', 'a', 'r', ' ', '\t', '\n', 'x', '\u{a0}', '.'];
        for _ in 0..20_000 {
            let len = rand::random::<usize>() % 14;
            let v: String = (0..len)
                .map(|_| alphabet[rand::random::<usize>() % alphabet.len()])
                .collect();
            let v = if rand::random::<bool>() {
                format!("Bearer{v}")
            } else {
                v
            };
            assert_eq!(bearer_token(&v).map(str::to_owned), oracle(&v), "{v:?}");
        }
    }

    #[test]
    fn set_semantics() {
        let s = src();
        // The same token from several places is one token.
        let same = parts(
            "/?jwt=t&jwt=t",
            &[("authorization", "Bearer t"), ("cookie", "tok=t")],
        );
        assert_eq!(extract(&same, &s), Extracted::One("t".into()));
        let diff = parts("/?jwt=t", &[("authorization", "Bearer u")]);
        assert_eq!(extract(&diff, &s), Extracted::Multiple);
        // Only the first value of a header is looked at.
        let two = parts(
            "/",
            &[("authorization", "Basic x"), ("authorization", "Bearer y")],
        );
        assert_eq!(extract(&two, &s), Extracted::None);
    }
}

//! Unit tests of the cors plugin: preflights, origin logic, credentials, Vary and the
//! scw-gateway client's expectation (kong-compat §4).

use gateway_core::plugin_config;
use gateway_core::store::InputFormat;
use http::request::Parts;
use http::{HeaderMap, Request, StatusCode};
use serde_json::{json, Value};

use super::*;

fn plugin(config: Value) -> CorsPlugin {
    let cfg =
        plugin_config::normalize("cors", Some(&config), InputFormat::Json).expect("valid config");
    CorsPlugin::build(&cfg).expect("builds")
}

fn req(method: &str, headers: &[(&str, &str)]) -> Parts {
    let mut b = Request::builder().method(method).uri("/");
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(()).unwrap().into_parts().0
}

fn preflight_req(origin: &str, extra: &[(&str, &str)]) -> Parts {
    let mut h = vec![("origin", origin), ("access-control-request-method", "GET")];
    h.extend_from_slice(extra);
    req("OPTIONS", &h)
}

/// Run access; the preflight answer's status and headers (after header_filter, which must add
/// nothing), or `None` when the request goes on.
fn preflight(p: &CorsPlugin, r: Parts) -> Option<(StatusCode, HeaderMap)> {
    let mut r = r;
    let mut cx = RequestCx::default();
    match p.access(&mut r, &mut cx) {
        Flow::Continue => None,
        Flow::Respond(res) => {
            let (mut parts, _) = res.into_parts();
            let before = parts.headers.clone();
            p.header_filter(&r, &mut parts, &cx);
            assert_eq!(
                parts.headers, before,
                "header_filter touched the preflight answer"
            );
            Some((parts.status, parts.headers))
        }
    }
}

/// Run access (must continue) then header_filter on a response with `upstream` headers.
fn actual(p: &CorsPlugin, r: Parts, upstream: &[(&str, &str)]) -> HeaderMap {
    let mut r = r;
    let mut cx = RequestCx::default();
    assert!(matches!(p.access(&mut r, &mut cx), Flow::Continue));
    let mut b = http::Response::builder().status(200);
    for (k, v) in upstream {
        b = b.header(*k, *v);
    }
    let (mut parts, ()) = b.body(()).unwrap().into_parts();
    p.header_filter(&r, &mut parts, &cx);
    parts.headers
}

fn get<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).map(|v| v.to_str().unwrap())
}

fn vary(h: &HeaderMap) -> Vec<&str> {
    h.get_all("vary")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect()
}

const ALL_METHODS: &str = "GET,HEAD,PUT,PATCH,POST,DELETE,OPTIONS,TRACE,CONNECT";

#[test]
fn client_expectation() {
    let p = plugin(json!({"origins": ["*"], "headers": ["*"], "credentials": true}));
    let (status, h) =
        preflight(&p, preflight_req("https://www.dummy-url.com", &[])).expect("answered");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        get(&h, "access-control-allow-origin"),
        Some("https://www.dummy-url.com")
    );
    assert_eq!(get(&h, "access-control-allow-headers"), Some("*"));
    assert_eq!(get(&h, "access-control-allow-methods"), Some(ALL_METHODS));
    assert_eq!(get(&h, "access-control-allow-credentials"), Some("true"));
    assert_eq!(get(&h, "vary"), Some("Origin"));
    assert_eq!(get(&h, "content-length"), Some("0"));
    assert_eq!(get(&h, "access-control-expose-headers"), None);
}

#[test]
fn default_preflight() {
    let p = plugin(json!({}));
    let (status, h) = preflight(
        &p,
        preflight_req(
            "http://a.test",
            &[("access-control-request-headers", "X-A, X-B")],
        ),
    )
    .unwrap();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(get(&h, "access-control-allow-origin"), Some("*"));
    assert_eq!(get(&h, "vary"), None);
    assert_eq!(get(&h, "access-control-allow-headers"), Some("X-A, X-B"));
    assert_eq!(get(&h, "access-control-allow-methods"), Some(ALL_METHODS));
    assert_eq!(get(&h, "access-control-allow-credentials"), None);
    assert_eq!(get(&h, "access-control-max-age"), None);
    let (_, h) = preflight(&p, preflight_req("http://a.test", &[])).unwrap();
    assert_eq!(get(&h, "access-control-allow-headers"), None);
}

#[test]
fn preflight_detection() {
    let p = plugin(json!({}));
    assert!(preflight(&p, req("OPTIONS", &[("origin", "http://a.test")])).is_none());
    assert!(preflight(
        &p,
        req("OPTIONS", &[("access-control-request-method", "GET")])
    )
    .is_none());
    // Lua truthiness: an empty Origin header is still an Origin.
    assert!(preflight(
        &p,
        req(
            "OPTIONS",
            &[("origin", ""), ("access-control-request-method", "GET")]
        )
    )
    .is_some());
    assert!(preflight(
        &p,
        req(
            "GET",
            &[
                ("origin", "http://a.test"),
                ("access-control-request-method", "GET")
            ]
        )
    )
    .is_none());
}

#[test]
fn preflight_options() {
    let p = plugin(
        json!({"headers": ["X-A", "X-B"], "methods": ["GET", "POST"], "max_age": 3600,
                          "private_network": true}),
    );
    let (_, h) = preflight(
        &p,
        preflight_req(
            "http://a.test",
            &[
                ("access-control-request-headers", "X-Z"),
                ("access-control-request-private-network", "true"),
            ],
        ),
    )
    .unwrap();
    assert_eq!(get(&h, "access-control-allow-headers"), Some("X-A,X-B"));
    assert_eq!(get(&h, "access-control-allow-methods"), Some("GET,POST"));
    assert_eq!(get(&h, "access-control-max-age"), Some("3600"));
    assert_eq!(
        get(&h, "access-control-allow-private-network"),
        Some("true")
    );
    let (_, h) = preflight(&p, preflight_req("http://a.test", &[])).unwrap();
    assert_eq!(get(&h, "access-control-allow-private-network"), None);
    let off = plugin(json!({}));
    let (_, h) = preflight(
        &off,
        preflight_req(
            "http://a.test",
            &[("access-control-request-private-network", "true")],
        ),
    )
    .unwrap();
    assert_eq!(get(&h, "access-control-allow-private-network"), None);
}

#[test]
fn preflight_continue_adds_nothing() {
    let p = plugin(json!({"preflight_continue": true, "exposed_headers": ["X-E"]}));
    let mut r = preflight_req("http://a.test", &[]);
    let mut cx = RequestCx::default();
    assert!(matches!(p.access(&mut r, &mut cx), Flow::Continue));
    let (mut parts, ()) = http::Response::builder()
        .status(204)
        .body(())
        .unwrap()
        .into_parts();
    p.header_filter(&r, &mut parts, &cx);
    assert!(parts.headers.is_empty());
}

#[test]
fn literal_single_origin_is_sent_as_is() {
    let p = plugin(json!({"origins": ["http://allowed.test"]}));
    let (_, h) = preflight(&p, preflight_req("http://other.test", &[])).unwrap();
    assert_eq!(
        get(&h, "access-control-allow-origin"),
        Some("http://allowed.test")
    );
    assert_eq!(get(&h, "vary"), Some("Origin"));
    let h = actual(&p, req("GET", &[]), &[]);
    assert_eq!(
        get(&h, "access-control-allow-origin"),
        Some("http://allowed.test")
    );
}

#[test]
fn regex_and_plain_entries() {
    let p = plugin(
        json!({"origins": ["(.*[.])?example\\.test", "http://plain.test", "https://tls.test:443", "^https?://port\\.test:8000"]}),
    );
    let acao = |origin: &str| {
        let h = actual(&p, req("GET", &[("origin", origin)]), &[]);
        assert_eq!(get(&h, "vary"), Some("Origin"), "{origin}");
        get(&h, "access-control-allow-origin").map(String::from)
    };
    // Host regex: tested against the host only, anchored at both ends.
    assert_eq!(
        acao("https://sub.example.test").as_deref(),
        Some("https://sub.example.test")
    );
    assert_eq!(
        acao("http://example.test:8080").as_deref(),
        Some("http://example.test:8080")
    );
    assert_eq!(acao("https://example.test.evil").as_deref(), None);
    assert_eq!(acao("https://evilexample.test").as_deref(), None);
    // Plain entries compare normalized origins (default ports dropped).
    assert_eq!(
        acao("http://plain.test").as_deref(),
        Some("http://plain.test")
    );
    assert_eq!(
        acao("http://plain.test:80").as_deref(),
        Some("http://plain.test")
    );
    assert_eq!(acao("https://plain.test").as_deref(), None);
    assert_eq!(
        acao("https://tls.test").as_deref(),
        Some("https://tls.test")
    );
    // Regex with a ':' is tested against scheme://host[:port].
    assert_eq!(
        acao("http://port.test:8000").as_deref(),
        Some("http://port.test:8000")
    );
    assert_eq!(acao("http://port.test:8001").as_deref(), None);
    // No Origin: Vary only.
    let h = actual(&p, req("GET", &[]), &[]);
    assert_eq!(get(&h, "access-control-allow-origin"), None);
    assert_eq!(get(&h, "vary"), Some("Origin"));
}

#[test]
fn star_entry_allows_all() {
    let p = plugin(json!({"origins": ["http://a.test", "*"], "credentials": true}));
    let h = actual(&p, req("GET", &[("origin", "http://z.test")]), &[]);
    // Allow-all with credentials: the Origin is echoed; Kong adds Vary twice (once for the
    // origin list, once for the credentials rule).
    assert_eq!(
        get(&h, "access-control-allow-origin"),
        Some("http://z.test")
    );
    assert_eq!(get(&h, "access-control-allow-credentials"), Some("true"));
    assert_eq!(vary(&h), ["Origin", "Origin"]);
    // `*` wins before any other entry is tested.
    let no_cred = plugin(json!({"origins": ["http://a.test", "*"]}));
    let h = actual(&no_cred, req("GET", &[("origin", "http://a.test")]), &[]);
    assert_eq!(get(&h, "access-control-allow-origin"), Some("*"));
    assert_eq!(vary(&h), ["Origin"]);
    // Without an Origin the list is not searched: no ACAO.
    let h = actual(&no_cred, req("GET", &[]), &[]);
    assert_eq!(get(&h, "access-control-allow-origin"), None);
}

#[test]
fn credentials_rules() {
    let p = plugin(json!({"origins": ["http://a.test", "http://b.test"], "credentials": true}));
    let h = actual(&p, req("GET", &[("origin", "http://b.test")]), &[]);
    assert_eq!(
        get(&h, "access-control-allow-origin"),
        Some("http://b.test")
    );
    assert_eq!(get(&h, "access-control-allow-credentials"), Some("true"));
    let all = plugin(json!({"credentials": true}));
    let h = actual(&all, req("GET", &[("origin", "http://x.test")]), &[]);
    assert_eq!(
        get(&h, "access-control-allow-origin"),
        Some("http://x.test")
    );
    assert_eq!(get(&h, "access-control-allow-credentials"), Some("true"));
    assert_eq!(get(&h, "vary"), Some("Origin"));
    let h = actual(&all, req("GET", &[]), &[]);
    assert_eq!(get(&h, "access-control-allow-origin"), Some("*"));
    assert_eq!(get(&h, "access-control-allow-credentials"), None);
    assert_eq!(get(&h, "vary"), None);
}

#[test]
fn actual_responses() {
    let p = plugin(
        json!({"origins": ["http://a.test", "http://b.test"], "exposed_headers": ["X-One", "X-Two"]}),
    );
    // Vary appended to the upstream's; upstream ACAO replaced or removed.
    let h = actual(
        &p,
        req("GET", &[("origin", "http://a.test")]),
        &[
            ("vary", "Accept-Encoding"),
            ("access-control-allow-origin", "*"),
        ],
    );
    assert_eq!(vary(&h), ["Accept-Encoding", "Origin"]);
    assert_eq!(
        get(&h, "access-control-allow-origin"),
        Some("http://a.test")
    );
    assert_eq!(
        get(&h, "access-control-expose-headers"),
        Some("X-One,X-Two")
    );
    let h = actual(
        &p,
        req("GET", &[("origin", "http://c.test")]),
        &[("access-control-allow-origin", "*")],
    );
    assert_eq!(get(&h, "access-control-allow-origin"), None);
    let h = actual(
        &p,
        req("GET", &[("origin", "http://a.test")]),
        &[("vary", "origin")],
    );
    assert_eq!(vary(&h), ["origin", "Origin"]);
    // A non-preflight OPTIONS is an actual request.
    let h = actual(&p, req("OPTIONS", &[("origin", "http://a.test")]), &[]);
    assert_eq!(
        get(&h, "access-control-allow-origin"),
        Some("http://a.test")
    );
}

#[test]
fn allow_origin_absent() {
    let p = plugin(json!({"allow_origin_absent": false, "exposed_headers": ["X-E"]}));
    assert!(actual(&p, req("GET", &[]), &[]).is_empty());
    let h = actual(&p, req("GET", &[("origin", "http://a.test")]), &[]);
    assert_eq!(get(&h, "access-control-allow-origin"), Some("*"));
    assert_eq!(get(&h, "access-control-expose-headers"), Some("X-E"));
    let absent_ok = plugin(json!({}));
    assert_eq!(
        get(
            &actual(&absent_ok, req("GET", &[]), &[]),
            "access-control-allow-origin"
        ),
        Some("*")
    );
}

#[test]
fn origin_normalization() {
    assert_eq!(
        normalize_origin("https://a.test:443"),
        ("https://a.test".into(), "a.test".into())
    );
    assert_eq!(
        normalize_origin("http://a.test:443"),
        ("http://a.test:443".into(), "a.test".into())
    );
    assert_eq!(
        normalize_origin("http://u@a.test:81/x"),
        ("http://a.test:81".into(), "a.test".into())
    );
    assert_eq!(normalize_origin("null"), ("null".into(), "null".into()));
    assert_eq!(
        normalize_origin("a.test"),
        ("a.test".into(), "a.test".into())
    );
}

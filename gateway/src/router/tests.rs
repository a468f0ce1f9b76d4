//! Table-driven router tests: each case is a route table, a request and the expected route.

use super::*;
use crate::path::normalize;
use serde_json::{json, Value};

fn route(n: u128, fields: Value) -> model::Route {
    let mut v = json!({ "id": Uuid::from_u128(n), "name": format!("r{n}") });
    if let (Some(obj), Some(extra)) = (v.as_object_mut(), fields.as_object()) {
        for (k, val) in extra {
            obj.insert(k.clone(), val.clone());
        }
    }
    serde_json::from_value(v).expect("route json")
}

struct Req<'a> {
    method: &'a str,
    host: Option<&'a str>,
    path: &'a str,
    headers: &'a [(&'a str, &'a str)],
    port: u16,
}

fn req<'a>(method: &'a str, host: Option<&'a str>, path: &'a str) -> Req<'a> {
    Req {
        method,
        host,
        path,
        headers: &[],
        port: 8000,
    }
}

/// Returns the matched route's name and matched path length.
fn lookup(routes: &[model::Route], r: &Req<'_>) -> Option<(String, Option<usize>)> {
    let router = Router::build(routes.iter().enumerate()).expect("router builds");
    let method = Method::from_bytes(r.method.as_bytes()).expect("method");
    let mut headers = HeaderMap::new();
    for (k, v) in r.headers {
        headers.append(
            HeaderName::from_bytes(k.as_bytes()).expect("name"),
            v.parse().expect("value"),
        );
    }
    let path = normalize(r.path);
    let view = RequestView {
        method: &method,
        host: r.host.map(host_without_port),
        path: &path,
        headers: &headers,
        local_port: r.port,
    };
    router.find(&view).map(|m| {
        (
            routes[m.route].name.clone().unwrap_or_default(),
            m.matched_path_len,
        )
    })
}

fn name(routes: &[model::Route], r: Req<'_>) -> Option<String> {
    lookup(routes, &r).map(|(n, _)| n)
}

#[test]
fn field_matching_table() {
    let routes = vec![
        route(1, json!({"paths": ["/route"]})),
        route(2, json!({"methods": ["POST"], "paths": ["/m"]})),
        route(3, json!({"hosts": ["exact.test"]})),
        route(4, json!({"hosts": ["*.wild.test"]})),
        route(5, json!({"hosts": ["pre.*"]})),
        route(6, json!({"hosts": ["ported.test:9000"]})),
        route(
            7,
            json!({"headers": {"x-version": ["v1", "V2"]}, "paths": ["/h"]}),
        ),
        route(
            8,
            json!({"headers": {"x-re": ["~*^ab+c$"]}, "paths": ["/hr"]}),
        ),
        route(9, json!({"paths": ["~/items/\\d+$"]})),
        route(10, json!({"paths": ["~/named/(?<id>[a-z]+)"]})),
    ];
    let h: &[(&str, &str)] = &[("x-version", "v2")];
    let re_ok: &[(&str, &str)] = &[("X-Re", "ABBBC")];
    let re_no: &[(&str, &str)] = &[("x-re", "ac")];
    let cases: Vec<(Req<'_>, Option<&str>)> = vec![
        (req("GET", None, "/route"), Some("r1")),
        // prefix is a raw string prefix
        (req("GET", None, "/routereq"), Some("r1")),
        (req("GET", None, "/rout"), None),
        (req("GET", None, "/ROUTE"), None),
        // normalized before matching
        (req("GET", None, "/x/../route"), Some("r1")),
        (req("GET", None, "/%72oute"), Some("r1")),
        (req("GET", None, "//route"), Some("r1")),
        // methods
        (req("POST", None, "/m"), Some("r2")),
        (req("GET", None, "/m"), None),
        (req("post", None, "/m"), None),
        // hosts
        (req("GET", Some("exact.test"), "/"), Some("r3")),
        (req("GET", Some("exact.test:1234"), "/"), Some("r3")),
        (req("GET", Some("EXACT.test"), "/"), None),
        (req("GET", Some("a.wild.test"), "/"), Some("r4")),
        (req("GET", Some("a.b.wild.test"), "/"), Some("r4")),
        (req("GET", Some("wild.test"), "/"), None),
        (req("GET", Some("pre.anything.io"), "/"), Some("r5")),
        (req("GET", Some("ported.test"), "/"), None),
        (
            Req {
                port: 9000,
                ..req("GET", Some("ported.test"), "/")
            },
            Some("r6"),
        ),
        // headers
        (
            Req {
                headers: h,
                ..req("GET", None, "/h")
            },
            Some("r7"),
        ),
        (req("GET", None, "/h"), None),
        (
            Req {
                headers: re_ok,
                ..req("GET", None, "/hr")
            },
            Some("r8"),
        ),
        (
            Req {
                headers: re_no,
                ..req("GET", None, "/hr")
            },
            None,
        ),
        // regex paths are anchored at the start only
        (req("GET", None, "/items/42"), Some("r9")),
        (req("GET", None, "/items/42x"), None),
        (req("GET", None, "/a/items/42"), None),
        (req("GET", None, "/named/abc/rest"), Some("r10")),
    ];
    for (r, want) in cases {
        let desc = format!(
            "{} {:?} {} {:?} port={}",
            r.method, r.host, r.path, r.headers, r.port
        );
        assert_eq!(name(&routes, r).as_deref(), want, "{desc}");
    }
}

#[test]
fn priority_table() {
    // Each row: routes, request, expected winner.
    let rows: Vec<(Vec<model::Route>, Req<'_>, &str)> = vec![
        // more fields win
        (
            vec![
                route(1, json!({"paths": ["/"]})),
                route(2, json!({"paths": ["/"], "methods": ["GET"]})),
            ],
            req("GET", None, "/x"),
            "r2",
        ),
        // longer prefix wins
        (
            vec![
                route(1, json!({"paths": ["/a"]})),
                route(2, json!({"paths": ["/a/b"]})),
            ],
            req("GET", None, "/a/b/c"),
            "r2",
        ),
        // regex beats prefix, even an exact prefix hit
        (
            vec![
                route(1, json!({"paths": ["/exact"]})),
                route(2, json!({"paths": ["~/ex"]})),
            ],
            req("GET", None, "/exact"),
            "r2",
        ),
        // regex_priority orders regex routes
        (
            vec![
                route(1, json!({"paths": ["~/r"], "regex_priority": 1})),
                route(2, json!({"paths": ["~/r"], "regex_priority": 5})),
            ],
            req("GET", None, "/r"),
            "r2",
        ),
        // plain hosts beat wildcard hosts
        (
            vec![
                route(2, json!({"hosts": ["*.a.test"]})),
                route(1, json!({"hosts": ["x.a.test"]})),
            ],
            req("GET", Some("x.a.test"), "/"),
            "r1",
        ),
        // header count beats regex
        (
            vec![
                route(1, json!({"paths": ["~/p"], "headers": {"a": ["1"]}})),
                route(
                    2,
                    json!({"paths": ["/p"], "headers": {"a": ["1"], "b": ["2"]}}),
                ),
            ],
            Req {
                headers: &[("a", "1"), ("b", "2")],
                ..req("GET", None, "/p")
            },
            "r2",
        ),
        // equal priority: greater uuid wins
        (
            vec![
                route(1, json!({"paths": ["/t"]})),
                route(2, json!({"paths": ["/t"]})),
            ],
            req("GET", None, "/t"),
            "r2",
        ),
        (
            vec![
                route(9, json!({"paths": ["/t"]})),
                route(2, json!({"paths": ["/t"]})),
            ],
            req("GET", None, "/t"),
            "r9",
        ),
        // mixed path kinds are split: the long prefix group of r1 beats r2's shorter prefix
        (
            vec![
                route(1, json!({"paths": ["/a", "/long/path"]})),
                route(2, json!({"paths": ["/long"]})),
            ],
            req("GET", None, "/long/path/x"),
            "r1",
        ),
        (
            vec![
                route(1, json!({"paths": ["/a", "/long/path"]})),
                route(2, json!({"paths": ["/long"]})),
            ],
            req("GET", None, "/long/other"),
            "r2",
        ),
        // regex path of a mixed route beats a prefix route
        (
            vec![
                route(1, json!({"paths": ["~/v\\d", "/zzzzzzzzzzzzzz"]})),
                route(2, json!({"paths": ["/v1/aaaaaaaaaa"]})),
            ],
            req("GET", None, "/v1/aaaaaaaaaa"),
            "r1",
        ),
    ];
    for (i, (routes, r, want)) in rows.into_iter().enumerate() {
        assert_eq!(name(&routes, r).as_deref(), Some(want), "row {i}");
    }
}

#[test]
fn matched_path_length_for_stripping() {
    let routes = vec![
        route(1, json!({"paths": ["/pre"]})),
        route(2, json!({"paths": ["~/re/\\d+"]})),
    ];
    assert_eq!(
        lookup(&routes, &req("GET", None, "/prefix")),
        Some(("r1".into(), Some(4)))
    );
    assert_eq!(
        lookup(&routes, &req("GET", None, "/re/123/x")),
        Some(("r2".into(), Some(7)))
    );
    let host_only = vec![route(1, json!({"hosts": ["h"]}))];
    assert_eq!(
        lookup(&host_only, &req("GET", Some("h"), "/x")),
        Some(("r1".into(), None))
    );
}

#[test]
fn invalid_regex_is_an_error() {
    let routes = [route(1, json!({"paths": ["~/(unclosed"]}))];
    assert!(Router::build(routes.iter().enumerate()).is_err());
}

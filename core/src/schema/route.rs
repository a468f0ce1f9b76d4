//! `routes` schema (kong-compat §1.5).

use serde_json::{Map, Value};

use super::net;
use super::service::PROTOCOLS;
use super::values::{self, present, FormType};
use super::{Meta, Violations};

/// Form coercion of route fields.
pub const FORM: &[(&str, FormType)] = &[
    ("created_at", FormType::Int),
    ("updated_at", FormType::Int),
    ("protocols", FormType::Array),
    ("methods", FormType::Array),
    ("hosts", FormType::Array),
    ("paths", FormType::Array),
    ("headers", FormType::MapOfArrays),
    ("snis", FormType::Array),
    ("sources", FormType::Endpoints),
    ("destinations", FormType::Endpoints),
    ("https_redirect_status_code", FormType::Int),
    ("regex_priority", FormType::Int),
    ("strip_path", FormType::Bool),
    ("preserve_host", FormType::Bool),
    ("request_buffering", FormType::Bool),
    ("response_buffering", FormType::Bool),
    ("tags", FormType::Array),
    ("service", FormType::Record),
];

const KNOWN: &[&str] = &[
    "id",
    "created_at",
    "updated_at",
    "name",
    "protocols",
    "methods",
    "hosts",
    "paths",
    "headers",
    "https_redirect_status_code",
    "regex_priority",
    "strip_path",
    "path_handling",
    "preserve_host",
    "request_buffering",
    "response_buffering",
    "snis",
    "sources",
    "destinations",
    "tags",
    "service",
];

/// Protocol groups that may not be mixed on one route.
const GROUPS: &[&[&str]] = &[
    &["http", "https"],
    &["tcp", "tls", "udp"],
    &["tls_passthrough"],
    &["grpc", "grpcs"],
];

fn string_list(
    b: &Map<String, Value>,
    name: &str,
    set: bool,
    errs: &mut Violations,
    check: impl Fn(&str) -> Result<(), String>,
) -> Value {
    match present(b, name) {
        None => Value::Null,
        Some(v) => match values::strings(v, set, check) {
            Ok(list) => Value::from(list),
            Err(e) => {
                errs.field(name, e);
                Value::Null
            }
        },
    }
}

fn method(s: &str) -> Result<(), String> {
    if s.chars().all(|c| c.is_ascii_uppercase()) {
        Ok(())
    } else {
        Err(format!("invalid value: {s}"))
    }
}

fn header_name(s: &str) -> Result<(), String> {
    if s.eq_ignore_ascii_case("host") {
        return Err(
            "cannot contain 'host' header, which must be specified in the 'hosts' attribute".into(),
        );
    }
    if s.is_empty()
        || !s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(format!(
            "bad header name '{s}', allowed characters are A-Z, a-z, 0-9, '_', and '-'"
        ));
    }
    Ok(())
}

/// `headers`: a map of header name -> array of strings.
fn headers(b: &Map<String, Value>, errs: &mut Violations) -> Value {
    let Some(v) = present(b, "headers") else {
        return Value::Null;
    };
    let Value::Object(map) = v else {
        errs.field("headers", "expected a map");
        return Value::Null;
    };
    let mut out = Map::new();
    for (k, v) in map {
        if let Err(e) = header_name(k) {
            errs.field("headers", e);
            return Value::Null;
        }
        if !v.is_array() {
            errs.field("headers", "expected an array");
            return Value::Null;
        }
        match values::strings(v, false, |_| Ok(())) {
            Ok(list) => {
                out.insert(k.clone(), Value::from(list));
            }
            Err(e) => {
                errs.field("headers", e);
                return Value::Null;
            }
        }
    }
    Value::Object(out)
}

/// `sources` / `destinations`: a set of `{ip, port}` records, at least one of the two set.
fn endpoints(b: &Map<String, Value>, name: &str, errs: &mut Violations) -> Value {
    let Some(v) = present(b, name) else {
        return Value::Null;
    };
    let Value::Array(items) = v else {
        errs.field(name, "expected a set");
        return Value::Null;
    };
    let mut out = Vec::new();
    let mut item_errs: Vec<Value> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let mut e = Map::new();
        let Value::Object(o) = item else {
            item_errs.resize(i, Value::Null);
            item_errs.push(Value::from("expected a record"));
            continue;
        };
        for k in o.keys().filter(|k| *k != "ip" && *k != "port") {
            e.insert(k.clone(), Value::from("unknown field"));
        }
        let ip = present(o, "ip").cloned().unwrap_or(Value::Null);
        if let Some(ip) = present(o, "ip") {
            if let Err(msg) = values::string(ip).and_then(net::ip_or_cidr) {
                e.insert("ip".into(), Value::from(msg));
            }
        }
        let port = present(o, "port").cloned().unwrap_or(Value::Null);
        if let Some(p) = present(o, "port") {
            if let Err(msg) = values::int(p, 0, 65535) {
                e.insert("port".into(), Value::from(msg));
            }
        }
        if e.is_empty() && ip.is_null() && port.is_null() {
            e.insert(
                "@entity".into(),
                Value::from(vec![
                    "at least one of these fields must be non-empty: 'ip', 'port'",
                ]),
            );
        }
        if e.is_empty() {
            out.push(serde_json::json!({"ip": ip, "port": port}));
        } else {
            item_errs.resize(i, Value::Null);
            item_errs.push(Value::Object(e));
        }
    }
    if !item_errs.is_empty() {
        errs.field(name, Value::Array(item_errs));
        return Value::Null;
    }
    Value::Array(out)
}

fn non_empty(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        _ => true,
    }
}

fn protocols(b: &Map<String, Value>, errs: &mut Violations) -> Vec<String> {
    let list = match present(b, "protocols") {
        None => return vec!["http".into(), "https".into()],
        Some(v) => match values::strings(v, true, |s| {
            if PROTOCOLS.contains(&s) {
                Ok(())
            } else {
                Err(format!("expected one of: {}", PROTOCOLS.join(", ")))
            }
        }) {
            Ok(list) => list,
            Err(e) => {
                errs.field("protocols", e);
                return Vec::new();
            }
        },
    };
    if list.is_empty() {
        errs.field("protocols", "length must be at least 1");
        return list;
    }
    let used: Vec<&[&str]> = GROUPS
        .iter()
        .copied()
        .filter(|g| g.iter().any(|p| list.iter().any(|x| x == p)))
        .collect();
    if used.len() > 1 {
        let sets: Vec<String> = used
            .iter()
            .map(|g| {
                let quoted: Vec<String> = g.iter().map(|p| format!("'{p}'")).collect();
                format!("({})", quoted.join(", "))
            })
            .collect();
        errs.field(
            "protocols",
            format!("these sets are mutually exclusive: {}", sets.join(", ")),
        );
        return Vec::new();
    }
    list
}

/// Validate a full route body and return the stored document.
pub fn validate(
    body: Map<String, Value>,
    meta: &Meta,
    errs: &mut Violations,
) -> Map<String, Value> {
    values::unknown_fields(&body, KNOWN, errs);
    let b = &body;
    let mut doc = Map::new();
    meta.identity(b, &mut doc, errs, true);
    doc.insert(
        "name".into(),
        super::opt_string(b, "name", errs, values::utf8_name),
    );
    let protocols = protocols(b, errs);
    let family = protocols.first().map(String::as_str).unwrap_or("");
    let is_grpc = matches!(family, "grpc" | "grpcs");
    doc.insert(
        "protocols".into(),
        match present(b, "protocols") {
            Some(_) if protocols.is_empty() => b["protocols"].clone(),
            _ => Value::from(protocols.clone()),
        },
    );
    let redirect = match present(b, "https_redirect_status_code") {
        None => Value::from(426),
        Some(v) => match values::int(v, i64::MIN, i64::MAX) {
            Ok(n) if [426, 301, 302, 307, 308].contains(&n) => Value::from(n),
            Ok(_) => super::check(
                errs,
                "https_redirect_status_code",
                Err("expected one of: 426, 301, 302, 307, 308".into()),
            ),
            Err(e) => super::check(errs, "https_redirect_status_code", Err(e)),
        },
    };
    doc.insert("https_redirect_status_code".into(), redirect);
    doc.insert(
        "strip_path".into(),
        super::bool_or(b, "strip_path", !is_grpc, errs),
    );
    doc.insert(
        "preserve_host".into(),
        super::bool_or(b, "preserve_host", false, errs),
    );
    doc.insert(
        "request_buffering".into(),
        super::bool_or(b, "request_buffering", true, errs),
    );
    doc.insert(
        "response_buffering".into(),
        super::bool_or(b, "response_buffering", true, errs),
    );
    doc.insert("tags".into(), values::tags(b, errs));
    doc.insert(
        "service".into(),
        values::foreign(b, "service", "name", errs),
    );
    doc.insert(
        "snis".into(),
        string_list(b, "snis", true, errs, net::wildcard_host),
    );
    doc.insert("sources".into(), endpoints(b, "sources", errs));
    doc.insert("destinations".into(), endpoints(b, "destinations", errs));
    doc.insert(
        "methods".into(),
        string_list(b, "methods", true, errs, method),
    );
    doc.insert(
        "hosts".into(),
        string_list(b, "hosts", false, errs, net::route_host),
    );
    doc.insert(
        "paths".into(),
        string_list(b, "paths", false, errs, net::route_path),
    );
    doc.insert("headers".into(), headers(b, errs));
    doc.insert(
        "regex_priority".into(),
        super::int_or(b, "regex_priority", i64::MIN, i64::MAX, 0, errs),
    );
    let handling = match present(b, "path_handling") {
        None => Value::from("v0"),
        Some(v) => super::check(
            errs,
            "path_handling",
            values::one_of(v, &["v0", "v1"]).map(Value::from),
        ),
    };
    doc.insert("path_handling".into(), handling);

    if !protocols.is_empty() {
        subschema_checks(&doc, &protocols, errs);
    }
    doc
}

/// Record `msg` on each of `fields` that is set (Kong's `no_*` typedefs of a subschema).
fn forbid(doc: &Map<String, Value>, fields: &[&str], msg: &str, errs: &mut Violations) {
    for f in fields {
        if !doc[*f].is_null() && !errs.has(f) {
            errs.field(f, msg.replace("{}", f));
        }
    }
}

/// At least one of `fields` is non-empty, unless one of them is already in error.
fn at_least_one(doc: &Map<String, Value>, fields: &[&str], proto: &str, errs: &mut Violations) {
    if fields.iter().any(|f| errs.has(f)) || fields.iter().any(|f| non_empty(&doc[*f])) {
        return;
    }
    let list: Vec<String> = fields.iter().map(|f| format!("'{f}'")).collect();
    errs.entity(format!(
        "must set one of {} when 'protocols' is {proto}",
        list.join(", ")
    ));
}

/// The checks of Kong's route subschema (chosen by the first protocol) and the `snis` rule.
fn subschema_checks(doc: &Map<String, Value>, protocols: &[String], errs: &mut Violations) {
    let has = |p: &str| protocols.iter().any(|x| x == p);
    let all_in = |set: &[&str]| protocols.iter().all(|p| set.contains(&p.as_str()));
    match protocols[0].as_str() {
        "http" | "https" => {
            forbid(
                doc,
                &["sources", "destinations"],
                "cannot set '{}' when 'protocols' is 'http' or 'https'",
                errs,
            );
            if has("https") {
                let f = ["methods", "hosts", "headers", "paths", "snis"];
                at_least_one(doc, &f, "'https'", errs);
            } else {
                at_least_one(
                    doc,
                    &["methods", "hosts", "headers", "paths"],
                    "'http'",
                    errs,
                );
            }
        }
        "grpc" | "grpcs" => {
            if doc["strip_path"] == Value::Bool(true) {
                errs.field(
                    "strip_path",
                    "cannot set 'strip_path' when 'protocols' is 'grpc' or 'grpcs'",
                );
            }
            forbid(
                doc,
                &["methods", "sources", "destinations"],
                "cannot set '{}' when 'protocols' is 'grpc' or 'grpcs'",
                errs,
            );
            if has("grpcs") {
                at_least_one(doc, &["hosts", "headers", "paths", "snis"], "'grpcs'", errs);
            } else {
                at_least_one(doc, &["hosts", "headers", "paths"], "'grpc'", errs);
            }
        }
        _ => {
            forbid(
                doc,
                &["methods", "hosts", "paths", "headers"],
                "cannot set '{}' when 'protocols' is 'tcp', 'tls', 'tls_passthrough' or 'udp'",
                errs,
            );
            if all_in(&["tcp", "tls", "udp"]) {
                let f = ["sources", "destinations", "snis"];
                at_least_one(doc, &f, "'tcp', 'tls' or 'udp'", errs);
            } else if all_in(&["tls_passthrough"]) && !non_empty(&doc["snis"]) && !errs.has("snis")
            {
                errs.entity("must set snis when 'protocols' is 'tls_passthrough'");
            }
        }
    }
    if all_in(&["http", "grpc", "tcp", "udp"]) && non_empty(&doc["snis"]) && !errs.has("snis") {
        errs.field(
            "snis",
            "'snis' can only be set when 'protocols' is 'grpcs', 'https', 'tls' or 'tls_passthrough'",
        );
        errs.entity("failed conditional validation given value of field 'protocols'");
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::tests::run;
    use crate::store::EntityKind;

    #[test]
    fn empty_route_needs_a_matcher() {
        let err = run(EntityKind::Routes, json!({})).unwrap_err();
        assert_eq!(
            err.body,
            json!({"code":2,"name":"schema violation",
                   "message":"schema violation (must set one of 'methods', 'hosts', 'headers', 'paths', 'snis' when 'protocols' is 'https')",
                   "fields":{"@entity":["must set one of 'methods', 'hosts', 'headers', 'paths', 'snis' when 'protocols' is 'https'"]}})
        );
        let err = run(EntityKind::Routes, json!({"protocols": ["http"]})).unwrap_err();
        assert_eq!(
            err.body["message"],
            "schema violation (must set one of 'methods', 'hosts', 'headers', 'paths' when 'protocols' is 'http')"
        );
    }

    #[test]
    fn defaults() {
        let doc = run(EntityKind::Routes, json!({"paths": ["/a"]})).unwrap();
        assert_eq!(doc["protocols"], json!(["http", "https"]));
        assert_eq!(doc["strip_path"], true);
        assert_eq!(doc["preserve_host"], false);
        assert_eq!(doc["https_redirect_status_code"], 426);
        assert_eq!(doc["path_handling"], "v0");
        assert_eq!(doc["methods"], serde_json::Value::Null);
        assert_eq!(doc["service"], serde_json::Value::Null);
        let doc = run(
            EntityKind::Routes,
            json!({"paths": ["/a"], "protocols": ["grpc"]}),
        )
        .unwrap();
        assert_eq!(doc["strip_path"], false);
    }

    #[test]
    fn matcher_errors() {
        let err = run(
            EntityKind::Routes,
            json!({"methods": ["GET", "get"], "paths": ["/a//b"], "hosts": ["a*b"]}),
        )
        .unwrap_err();
        assert_eq!(
            err.body["fields"]["methods"],
            json!([null, "invalid value: get"])
        );
        assert_eq!(
            err.body["fields"]["paths"],
            json!(["must not have empty segments"])
        );
        assert_eq!(
            err.body["fields"]["hosts"],
            json!(["invalid wildcard: must be placed at leftmost or rightmost label"])
        );
        let err = run(EntityKind::Routes, json!({"headers": {"Host": ["x"]}})).unwrap_err();
        assert_eq!(
            err.body["fields"]["headers"],
            "cannot contain 'host' header, which must be specified in the 'hosts' attribute"
        );
        let err = run(
            EntityKind::Routes,
            json!({"paths": ["/a"], "protocols": ["http", "grpc"]}),
        )
        .unwrap_err();
        assert_eq!(
            err.body["fields"],
            json!({"protocols": "these sets are mutually exclusive: ('http', 'https'), ('grpc', 'grpcs')"})
        );
        let err = run(EntityKind::Routes, json!({"protocols": ["https", "tcp"]})).unwrap_err();
        assert_eq!(
            err.body["fields"]["protocols"],
            "these sets are mutually exclusive: ('http', 'https'), ('tcp', 'tls', 'udp')"
        );
        let err = run(
            EntityKind::Routes,
            json!({"paths": ["/a"], "protocols": ["ftp"]}),
        )
        .unwrap_err();
        assert_eq!(
            err.body["fields"]["protocols"],
            json!(["expected one of: grpc, grpcs, http, https, tcp, tls, tls_passthrough, udp"])
        );
        let err = run(
            EntityKind::Routes,
            json!({"paths": ["/a"], "protocols": ["grpc"], "strip_path": true}),
        )
        .unwrap_err();
        assert_eq!(
            err.body["fields"],
            json!({"strip_path": "cannot set 'strip_path' when 'protocols' is 'grpc' or 'grpcs'"})
        );
    }

    /// Subschema rules from Kong's routes spec.
    #[test]
    fn protocol_families() {
        for p in ["tcp", "tls", "udp"] {
            let body = json!({"protocols": [p], "sources": [{"ip": "127.0.0.1"}], "paths": ["/"]});
            let err = run(EntityKind::Routes, body).unwrap_err();
            assert_eq!(
                err.body["fields"],
                json!({"paths": "cannot set 'paths' when 'protocols' is 'tcp', 'tls', 'tls_passthrough' or 'udp'"})
            );
            let body = json!({"protocols": [p], "sources": [{"ip": "127.0.0.1"}, {"port": 8000}]});
            let doc = run(EntityKind::Routes, body).unwrap();
            assert_eq!(
                doc["sources"],
                json!([{"ip": "127.0.0.1", "port": null}, {"ip": null, "port": 8000}])
            );
        }
        let body = json!({"protocols": ["tcp"], "sources": [{"ip": "127.0.0.1"}, {"ip": "x", "port": 65536}]});
        let err = run(EntityKind::Routes, body).unwrap_err();
        assert_eq!(
            err.body["fields"],
            json!({"sources": [null, {"ip": "invalid ip or cidr range: 'x'", "port": "value should be between 0 and 65535"}]})
        );
        let err = run(EntityKind::Routes, json!({"protocols": ["tcp"]})).unwrap_err();
        assert_eq!(
            err.body["message"],
            "schema violation (must set one of 'sources', 'destinations', 'snis' when 'protocols' is 'tcp', 'tls' or 'udp')"
        );
        let err = run(
            EntityKind::Routes,
            json!({"paths": ["/a"], "sources": [{"ip": "10.0.0.1"}]}),
        )
        .unwrap_err();
        assert_eq!(
            err.body["fields"],
            json!({"sources": "cannot set 'sources' when 'protocols' is 'http' or 'https'"})
        );
        let err = run(
            EntityKind::Routes,
            json!({"paths": ["/a"], "protocols": ["http"], "snis": ["example.test"]}),
        )
        .unwrap_err();
        assert_eq!(
            err.body["fields"],
            json!({"snis": "'snis' can only be set when 'protocols' is 'grpcs', 'https', 'tls' or 'tls_passthrough'",
                   "@entity": ["failed conditional validation given value of field 'protocols'"]})
        );
        assert!(run(EntityKind::Routes, json!({"snis": ["example.test"]})).is_ok());
        let err = run(
            EntityKind::Routes,
            json!({"protocols": ["grpc"], "methods": ["GET"], "paths": ["/a"]}),
        )
        .unwrap_err();
        assert_eq!(
            err.body["fields"],
            json!({"methods": "cannot set 'methods' when 'protocols' is 'grpc' or 'grpcs'"})
        );
        let err = run(EntityKind::Routes, json!({"protocols": ["grpcs"]})).unwrap_err();
        assert_eq!(
            err.body["message"],
            "schema violation (must set one of 'hosts', 'headers', 'paths', 'snis' when 'protocols' is 'grpcs')"
        );
    }

    #[test]
    fn headers_shapes() {
        let doc = run(EntityKind::Routes, json!({"headers": {"x-a": ["1", "2"]}})).unwrap();
        assert_eq!(doc["headers"], json!({"x-a": ["1", "2"]}));
        let err = run(EntityKind::Routes, json!({"headers": {"location": true}})).unwrap_err();
        assert_eq!(err.body["fields"]["headers"], "expected an array");
        let err = run(EntityKind::Routes, json!({"headers": {"location": [""]}})).unwrap_err();
        assert_eq!(
            err.body["fields"]["headers"],
            json!(["length must be at least 1"])
        );
        let err = run(EntityKind::Routes, json!({"methods": [""]})).unwrap_err();
        assert_eq!(
            err.body["fields"]["methods"],
            json!(["length must be at least 1"])
        );
    }

    #[test]
    fn service_reference_forms() {
        let doc = run(
            EntityKind::Routes,
            json!({"paths": ["/a"], "service": {"name": "svc"}}),
        )
        .unwrap();
        assert_eq!(doc["service"], json!({"name": "svc"}));
        let err = run(
            EntityKind::Routes,
            json!({"paths": ["/a"], "service": {"id": "nope"}}),
        )
        .unwrap_err();
        assert_eq!(
            err.body["fields"]["service"],
            json!({"id": "expected a valid UUID"})
        );
    }
}

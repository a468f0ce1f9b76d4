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
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_uppercase()) {
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
        match values::strings(v, false, |_| Ok(())) {
            Ok(list) if list.is_empty() => {
                errs.field(
                    "headers",
                    Value::Object(Map::from_iter([(
                        k.clone(),
                        Value::from("length must be at least 1"),
                    )])),
                );
                return Value::Null;
            }
            Ok(list) => {
                out.insert(k.clone(), Value::from(list));
            }
            Err(e) => {
                errs.field("headers", Value::Object(Map::from_iter([(k.clone(), e)])));
                return Value::Null;
            }
        }
    }
    Value::Object(out)
}

fn endpoints(b: &Map<String, Value>, name: &str, errs: &mut Violations) -> Value {
    let Some(v) = present(b, name) else {
        return Value::Null;
    };
    let Value::Array(items) = v else {
        errs.field(name, "expected a set");
        return Value::Null;
    };
    let mut out = Vec::new();
    for item in items {
        let ok = item.as_object().is_some_and(|o| {
            o.keys().all(|k| k == "ip" || k == "port")
                && o.get("ip").is_none_or(|ip| ip.is_null() || ip.is_string())
                && o.get("port")
                    .is_none_or(|p| p.is_null() || values::int(p, 0, 65535).is_ok())
        });
        if !ok {
            errs.field(name, "expected a set of records with 'ip' and 'port'");
            return Value::Null;
        }
        let o = item.as_object().cloned().unwrap_or_default();
        let ip = o.get("ip").cloned().unwrap_or(Value::Null);
        let port = o.get("port").cloned().unwrap_or(Value::Null);
        out.push(serde_json::json!({"ip": ip, "port": port}));
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

    let protocols: Vec<String> = match present(b, "protocols") {
        None => vec!["http".into(), "https".into()],
        Some(v) => match values::strings(v, true, |s| {
            if PROTOCOLS.contains(&s) {
                Ok(())
            } else {
                Err(format!("expected one of: {}", PROTOCOLS.join(", ")))
            }
        }) {
            Ok(list) if list.is_empty() => {
                errs.field("protocols", "length must be at least 1");
                Vec::new()
            }
            Ok(list) => list,
            Err(e) => {
                errs.field("protocols", e);
                Vec::new()
            }
        },
    };
    doc.insert("protocols".into(), Value::from(protocols.clone()));
    doc.insert(
        "methods".into(),
        string_list(b, "methods", true, errs, method),
    );
    doc.insert(
        "hosts".into(),
        string_list(b, "hosts", false, errs, net::wildcard_host),
    );
    doc.insert(
        "paths".into(),
        string_list(b, "paths", false, errs, net::route_path),
    );
    doc.insert("headers".into(), headers(b, errs));
    let redirect = match present(b, "https_redirect_status_code") {
        None => Value::from(426),
        Some(v) => {
            let codes = [426, 301, 302, 307, 308];
            match values::int(v, i64::MIN, i64::MAX) {
                Ok(n) if codes.contains(&n) => Value::from(n),
                _ => {
                    errs.field(
                        "https_redirect_status_code",
                        "expected one of: 426, 301, 302, 307, 308",
                    );
                    Value::Null
                }
            }
        }
    };
    doc.insert("https_redirect_status_code".into(), redirect);
    doc.insert(
        "regex_priority".into(),
        super::int_or(b, "regex_priority", i64::MIN, i64::MAX, 0, errs),
    );
    let is_grpc = !protocols.is_empty() && protocols.iter().all(|p| p == "grpc" || p == "grpcs");
    doc.insert(
        "strip_path".into(),
        super::bool_or(b, "strip_path", !is_grpc, errs),
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
    doc.insert(
        "snis".into(),
        string_list(b, "snis", true, errs, net::wildcard_host),
    );
    doc.insert("sources".into(), endpoints(b, "sources", errs));
    doc.insert("destinations".into(), endpoints(b, "destinations", errs));
    doc.insert("tags".into(), values::tags(b, errs));
    doc.insert(
        "service".into(),
        values::foreign(b, "service", "name", errs),
    );

    if !protocols.is_empty() && !errs.has("protocols") {
        entity_checks(&doc, &protocols, errs);
    }
    doc
}

fn entity_checks(doc: &Map<String, Value>, protocols: &[String], errs: &mut Violations) {
    let has = |p: &str| protocols.iter().any(|x| x == p);
    let used: Vec<&[&str]> = GROUPS
        .iter()
        .copied()
        .filter(|g| g.iter().any(|p| has(p)))
        .collect();
    if used.len() > 1 {
        let sets: Vec<String> = used
            .iter()
            .map(|g| {
                format!(
                    "({})",
                    g.iter()
                        .map(|p| format!("'{p}'"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })
            .collect();
        errs.entity(format!(
            "these sets are mutually exclusive: {}",
            sets.join(", ")
        ));
        return;
    }
    let http_like = protocols
        .iter()
        .all(|p| matches!(p.as_str(), "http" | "https" | "grpc" | "grpcs"));
    if http_like {
        let secure = protocols.iter().any(|p| p == "https" || p == "grpcs");
        let mut fields = vec!["methods", "hosts", "headers", "paths"];
        if secure {
            fields.push("snis");
        }
        if !fields.iter().any(|f| non_empty(&doc[*f])) {
            let list = fields
                .iter()
                .map(|f| format!("'{f}'"))
                .collect::<Vec<_>>()
                .join(", ");
            let proto = if secure { "https" } else { "http" };
            errs.entity(format!(
                "must set one of {list} when 'protocols' is '{proto}'"
            ));
        }
        if !secure && non_empty(&doc["snis"]) && !errs.has("snis") {
            errs.entity("'snis' can only be set when 'protocols' is 'grpcs', 'https', 'tls' or 'tls_passthrough'");
        }
        for f in ["sources", "destinations"] {
            if non_empty(&doc[f]) && !errs.has(f) {
                errs.entity(format!(
                    "cannot set '{f}' when 'protocols' is 'http' or 'https'"
                ));
            }
        }
        if protocols.iter().all(|p| p == "grpc" || p == "grpcs")
            && doc["strip_path"] == Value::Bool(true)
        {
            errs.field("strip_path", "value must be false");
            errs.entity("failed conditional validation given value of field 'protocols'");
        }
    } else {
        let fields = ["sources", "destinations", "snis"];
        if !fields.iter().any(|f| non_empty(&doc[*f])) {
            errs.entity("must set one of 'sources', 'destinations', 'snis' when 'protocols' is 'tcp', 'tls', 'tls_passthrough' or 'udp'");
        }
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
            json!(["wildcard must be leftmost or rightmost character"])
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
        assert!(err.body["fields"]["@entity"][0]
            .as_str()
            .unwrap()
            .contains("mutually exclusive"));
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
        assert_eq!(err.body["fields"]["strip_path"], "value must be false");
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

//! URL resolution: which Admin API endpoint a request path names (kong-compat §1.1, §1.2).
//!
//! Paths are matched segment by segment after tolerating one trailing slash; each segment is
//! percent-decoded as UTF-8, so keys may contain any character (`%2F` included).

use gateway_core::store::{EntityKind, ParentRef};
use http::Method;
use percent_encoding::percent_decode_str;

/// An Admin API endpoint named by a request path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// `GET /`: node information.
    Root,
    /// `GET /status`: health and counters.
    Status,
    /// `/{coll}` or `/{parent}/{p}/{coll}`.
    Collection {
        /// Entity kind listed or created.
        kind: EntityKind,
        /// Parent scope of a nested collection.
        parent: Option<ParentRef>,
    },
    /// `/{coll}/{key}` or `/{parent}/{p}/{coll}/{key}`.
    Entity {
        /// Entity kind addressed.
        kind: EntityKind,
        /// Percent-decoded URL key (uuid = id, otherwise the endpoint key).
        key: String,
        /// Parent scope of a nested entity.
        parent: Option<ParentRef>,
    },
    /// The entity a foreign key points at: `/routes/{r}/service`, `/jwts/{j}/consumer`.
    Foreign {
        /// Kind of the entity holding the foreign key (routes, jwt_secrets).
        owner: EntityKind,
        /// Percent-decoded URL key of the owner.
        owner_key: String,
        /// Kind of the referenced entity (services, consumers).
        kind: EntityKind,
        /// Name of the foreign-key field in the owner (`service`, `consumer`).
        field: &'static str,
    },
}

const READ_ONLY: &[Method] = &[Method::GET, Method::HEAD, Method::OPTIONS];
const COLLECTION: &[Method] = &[Method::GET, Method::HEAD, Method::OPTIONS, Method::POST];
const ENTITY: &[Method] = &[
    Method::DELETE,
    Method::GET,
    Method::HEAD,
    Method::OPTIONS,
    Method::PATCH,
    Method::PUT,
];
const FOREIGN: &[Method] = &[
    Method::GET,
    Method::HEAD,
    Method::OPTIONS,
    Method::PATCH,
    Method::PUT,
];

impl Endpoint {
    /// The methods this endpoint answers, alphabetically (the `Allow` header order).
    pub fn allowed(&self) -> &'static [Method] {
        match self {
            Self::Root | Self::Status => READ_ONLY,
            Self::Collection { .. } => COLLECTION,
            Self::Entity { .. } => ENTITY,
            Self::Foreign { .. } => FOREIGN,
        }
    }

    /// The `Allow` header value, e.g. `GET, HEAD, OPTIONS, POST`.
    pub fn allow_header(&self) -> String {
        self.allowed()
            .iter()
            .map(Method::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Top-level collection names and their kinds.
fn root_collection(name: &str) -> Option<EntityKind> {
    Some(match name {
        "services" => EntityKind::Services,
        "routes" => EntityKind::Routes,
        "consumers" => EntityKind::Consumers,
        "plugins" => EntityKind::Plugins,
        "jwts" => EntityKind::JwtSecrets,
        _ => return None,
    })
}

/// Collections nested under a parent kind (`/services/{s}/routes`, `/consumers/{c}/jwt`, ...).
fn nested_collection(parent: EntityKind, name: &str) -> Option<EntityKind> {
    use EntityKind::*;
    Some(match (parent, name) {
        (Services, "routes") => Routes,
        (Services | Routes | Consumers, "plugins") => Plugins,
        (Consumers, "jwt") => JwtSecrets,
        _ => return None,
    })
}

/// Foreign-key endpoints (`/routes/{r}/service`, `/jwts/{j}/consumer`).
fn foreign(owner: EntityKind, name: &str) -> Option<(EntityKind, &'static str)> {
    match (owner, name) {
        (EntityKind::Routes, "service") => Some((EntityKind::Services, "service")),
        (EntityKind::JwtSecrets, "consumer") => Some((EntityKind::Consumers, "consumer")),
        _ => None,
    }
}

/// Strip one trailing slash and split a raw path into percent-decoded segments.
///
/// `None` when a segment is empty (`//`) or not UTF-8 after decoding.
pub fn segments(raw: &str) -> Option<Vec<String>> {
    let trimmed = raw.strip_prefix('/').unwrap_or(raw);
    let trimmed = trimmed.strip_suffix('/').unwrap_or(trimmed);
    if trimmed.is_empty() {
        return Some(Vec::new());
    }
    trimmed
        .split('/')
        .map(|seg| {
            if seg.is_empty() {
                return None;
            }
            percent_decode_str(seg)
                .decode_utf8()
                .ok()
                .map(|s| s.into_owned())
        })
        .collect()
}

/// The endpoint named by a raw (still percent-encoded) request path, or `None` (404).
pub fn resolve(raw_path: &str) -> Option<Endpoint> {
    let segs = segments(raw_path)?;
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    match s.as_slice() {
        [] => Some(Endpoint::Root),
        ["status"] => Some(Endpoint::Status),
        [coll] => root_collection(coll).map(|kind| Endpoint::Collection { kind, parent: None }),
        [coll, key] => root_collection(coll).map(|kind| Endpoint::Entity {
            kind,
            key: (*key).to_owned(),
            parent: None,
        }),
        [coll, key, sub] => {
            let owner = root_collection(coll)?;
            if let Some((kind, field)) = foreign(owner, sub) {
                return Some(Endpoint::Foreign {
                    owner,
                    owner_key: (*key).to_owned(),
                    kind,
                    field,
                });
            }
            let kind = nested_collection(owner, sub)?;
            Some(Endpoint::Collection {
                kind,
                parent: Some(ParentRef {
                    kind: owner,
                    key: (*key).to_owned(),
                }),
            })
        }
        [coll, key, sub, child] => {
            let owner = root_collection(coll)?;
            let kind = nested_collection(owner, sub)?;
            Some(Endpoint::Entity {
                kind,
                key: (*child).to_owned(),
                parent: Some(ParentRef {
                    kind: owner,
                    key: (*key).to_owned(),
                }),
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parent(kind: EntityKind, key: &str) -> Option<ParentRef> {
        Some(ParentRef {
            kind,
            key: key.into(),
        })
    }

    #[test]
    fn root_and_status() {
        assert_eq!(resolve("/"), Some(Endpoint::Root));
        assert_eq!(resolve(""), Some(Endpoint::Root));
        assert_eq!(resolve("/status/"), Some(Endpoint::Status));
    }

    #[test]
    fn collections_and_entities() {
        assert_eq!(
            resolve("/services/"),
            Some(Endpoint::Collection {
                kind: EntityKind::Services,
                parent: None
            })
        );
        assert_eq!(
            resolve("/jwts/abc"),
            Some(Endpoint::Entity {
                kind: EntityKind::JwtSecrets,
                key: "abc".into(),
                parent: None
            })
        );
        assert_eq!(resolve("/upstreams"), None);
        assert_eq!(resolve("/services//routes"), None);
        assert_eq!(resolve("/services/a/b/c/d"), None);
    }

    #[test]
    fn nested() {
        assert_eq!(
            resolve("/consumers/bob/jwt"),
            Some(Endpoint::Collection {
                kind: EntityKind::JwtSecrets,
                parent: parent(EntityKind::Consumers, "bob")
            })
        );
        assert_eq!(
            resolve("/services/s1/routes/r1/"),
            Some(Endpoint::Entity {
                kind: EntityKind::Routes,
                key: "r1".into(),
                parent: parent(EntityKind::Services, "s1")
            })
        );
        for p in [
            "/services/s/plugins",
            "/routes/r/plugins",
            "/consumers/c/plugins",
        ] {
            assert!(matches!(
                resolve(p),
                Some(Endpoint::Collection {
                    kind: EntityKind::Plugins,
                    parent: Some(_)
                })
            ));
        }
        assert_eq!(resolve("/consumers/c/routes"), None);
        assert_eq!(resolve("/jwts/j/plugins"), None);
        assert_eq!(resolve("/plugins/p/plugins"), None);
    }

    #[test]
    fn foreign_endpoints() {
        assert_eq!(
            resolve("/routes/r/service"),
            Some(Endpoint::Foreign {
                owner: EntityKind::Routes,
                owner_key: "r".into(),
                kind: EntityKind::Services,
                field: "service"
            })
        );
        assert!(matches!(
            resolve("/jwts/k/consumer"),
            Some(Endpoint::Foreign {
                field: "consumer",
                ..
            })
        ));
        assert_eq!(resolve("/routes/r/service/x"), None);
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(
            resolve("/consumers/j%C3%B6rg%2Fx"),
            Some(Endpoint::Entity {
                kind: EntityKind::Consumers,
                key: "jörg/x".into(),
                parent: None
            })
        );
        // Invalid UTF-8 is not a key.
        assert_eq!(resolve("/consumers/%FF"), None);
    }

    #[test]
    fn allow_headers() {
        assert_eq!(
            resolve("/routes").map(|e| e.allow_header()).as_deref(),
            Some("GET, HEAD, OPTIONS, POST")
        );
        assert_eq!(
            resolve("/routes/x").map(|e| e.allow_header()).as_deref(),
            Some("DELETE, GET, HEAD, OPTIONS, PATCH, PUT")
        );
        assert_eq!(
            resolve("/routes/x/service")
                .map(|e| e.allow_header())
                .as_deref(),
            Some("GET, HEAD, OPTIONS, PATCH, PUT")
        );
    }
}

//! Kong's form-field syntax decoded into nested JSON whose leaves are strings (kong-compat §1.1).
//!
//! * `a=1` -> `{"a":"1"}`; a repeated key collects an array: `a=1&a=2` -> `{"a":["1","2"]}`.
//! * `a[]=1&a[]=2` -> `{"a":["1","2"]}`; `a[2]=y&a[1]=x` -> `{"a":["x","y"]}` (index order).
//! * `config.origins=*` -> `{"config":{"origins":"*"}}`; `headers[x-foo]=v` and
//!   `headers.x-foo=v` -> `{"headers":{"x-foo":"v"}}`.
//!
//! Schema coercion (numbers, booleans, one-element arrays, `""` = null) is the store's job.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// One step of a field path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    /// `.name` or `[name]`.
    Key(String),
    /// `[n]`: a 1-based (or any) array index.
    Index(u64),
    /// `[]`: append.
    Push,
}

/// Parse a form key such as `config.headers[x-foo][]` into its base name and path.
fn parse_key(key: &str) -> (String, Vec<Seg>) {
    let split = key.find(['[', '.']).unwrap_or(key.len());
    let (base, mut rest) = key.split_at(split);
    let mut path = Vec::new();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('[') {
            match after.find(']') {
                Some(end) => {
                    let inner = &after[..end];
                    path.push(if inner.is_empty() {
                        Seg::Push
                    } else if let Ok(n) = inner.parse::<u64>() {
                        Seg::Index(n)
                    } else {
                        Seg::Key(inner.to_owned())
                    });
                    rest = &after[end + 1..];
                }
                None => {
                    // Unbalanced bracket: the remainder is a literal key.
                    path.push(Seg::Key(rest.to_owned()));
                    rest = "";
                }
            }
        } else if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['[', '.']).unwrap_or(after.len());
            path.push(Seg::Key(after[..end].to_owned()));
            rest = &after[end..];
        } else {
            // Text after `]` that is neither `[` nor `.`: keep it as a key.
            let end = rest.find(['[', '.']).unwrap_or(rest.len());
            path.push(Seg::Key(rest[..end].to_owned()));
            rest = &rest[end..];
        }
    }
    (base.to_owned(), path)
}

/// Intermediate tree: index-addressed arrays are kept sorted until the end.
#[derive(Debug)]
enum Node {
    Leaf(Vec<String>),
    Map(Vec<(String, Node)>),
    List(Vec<Node>),
    Indexed(BTreeMap<u64, Node>),
}

impl Node {
    fn child_for(seg: &Seg) -> Node {
        match seg {
            Seg::Key(_) => Node::Map(Vec::new()),
            Seg::Push => Node::List(Vec::new()),
            Seg::Index(_) => Node::Indexed(BTreeMap::new()),
        }
    }

    /// Insert `value` at `path` below this node.
    fn insert(&mut self, path: &[Seg], value: String) {
        let Some((first, rest)) = path.split_first() else {
            match self {
                Node::Leaf(values) => values.push(value),
                other => *other = Node::Leaf(vec![value]),
            }
            return;
        };
        let fresh = || match rest.first() {
            Some(next) => Node::child_for(next),
            None => Node::Leaf(Vec::new()),
        };
        match first {
            Seg::Key(k) => {
                if !matches!(self, Node::Map(_)) {
                    *self = Node::Map(Vec::new());
                }
                if let Node::Map(entries) = self {
                    let idx = match entries.iter().position(|(name, _)| name == k) {
                        Some(i) => i,
                        None => {
                            entries.push((k.clone(), fresh()));
                            entries.len() - 1
                        }
                    };
                    entries[idx].1.insert(rest, value);
                }
            }
            Seg::Push => {
                if !matches!(self, Node::List(_)) {
                    *self = Node::List(Vec::new());
                }
                if let Node::List(items) = self {
                    let mut node = fresh();
                    node.insert(rest, value);
                    items.push(node);
                }
            }
            Seg::Index(n) => {
                if !matches!(self, Node::Indexed(_)) {
                    *self = Node::Indexed(BTreeMap::new());
                }
                if let Node::Indexed(items) = self {
                    items.entry(*n).or_insert_with(fresh).insert(rest, value);
                }
            }
        }
    }

    fn into_value(self) -> Value {
        match self {
            Node::Leaf(mut values) if values.len() == 1 => Value::String(values.remove(0)),
            Node::Leaf(values) => Value::Array(values.into_iter().map(Value::String).collect()),
            Node::Map(entries) => Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, v.into_value()))
                    .collect::<Map<_, _>>(),
            ),
            Node::List(items) => Value::Array(items.into_iter().map(Node::into_value).collect()),
            Node::Indexed(items) => {
                Value::Array(items.into_values().map(Node::into_value).collect())
            }
        }
    }
}

/// Build the nested JSON object from decoded `(key, value)` pairs, in order.
pub fn to_json<I, K, V>(pairs: I) -> Value
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: Into<String>,
{
    let mut root = Node::Map(Vec::new());
    for (key, value) in pairs {
        let (base, path) = parse_key(key.as_ref());
        let mut full = Vec::with_capacity(path.len() + 1);
        full.push(Seg::Key(base));
        full.extend(path);
        root.insert(&full, value.into());
    }
    root.into_value()
}

/// Decode an `application/x-www-form-urlencoded` body.
pub fn decode_urlencoded(body: &[u8]) -> Value {
    to_json(form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn decode(s: &str) -> Value {
        decode_urlencoded(s.as_bytes())
    }

    #[test]
    fn scalars_and_repeats() {
        assert_eq!(decode(""), json!({}));
        assert_eq!(
            decode("name=svc&port=80"),
            json!({"name": "svc", "port": "80"})
        );
        assert_eq!(decode("hosts=a&hosts=b"), json!({"hosts": ["a", "b"]}));
        assert_eq!(decode("name="), json!({"name": ""}));
        assert_eq!(
            decode("url=http%3A%2F%2Fx.test%2Fa+b"),
            json!({"url": "http://x.test/a b"})
        );
    }

    #[test]
    fn arrays() {
        assert_eq!(
            decode("paths[]=/a&paths[]=/b"),
            json!({"paths": ["/a", "/b"]})
        );
        assert_eq!(decode("paths%5B%5D=/a"), json!({"paths": ["/a"]}));
        assert_eq!(
            decode("paths[2]=/b&paths[1]=/a"),
            json!({"paths": ["/a", "/b"]})
        );
        assert_eq!(
            decode("config.origins[]=*"),
            json!({"config": {"origins": ["*"]}})
        );
    }

    #[test]
    fn dotted_and_bracket_maps() {
        assert_eq!(
            decode("name=cors&config.origins=*&config.credentials=true"),
            json!({"name": "cors", "config": {"origins": "*", "credentials": "true"}})
        );
        assert_eq!(
            decode("service.name=svc"),
            json!({"service": {"name": "svc"}})
        );
        assert_eq!(
            decode("headers[x-foo]=v"),
            json!({"headers": {"x-foo": "v"}})
        );
        assert_eq!(
            decode("headers.x-foo=v&headers.x-foo=w"),
            json!({"headers": {"x-foo": ["v", "w"]}})
        );
        assert_eq!(
            decode("headers[x-foo][]=v"),
            json!({"headers": {"x-foo": ["v"]}})
        );
        assert_eq!(
            decode("config.a.b=1&config.a.c=2"),
            json!({"config": {"a": {"b": "1", "c": "2"}}})
        );
    }

    #[test]
    fn odd_keys_do_not_panic() {
        assert_eq!(decode("a[=1"), json!({"a": {"[": "1"}}));
        assert_eq!(decode("a]b=1"), json!({"a]b": "1"}));
        assert_eq!(decode("a[x]y=1"), json!({"a": {"x": {"y": "1"}}}));
        // A later structured key replaces an earlier scalar.
        assert_eq!(decode("a=1&a.b=2"), json!({"a": {"b": "2"}}));
    }
}

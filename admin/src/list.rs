//! List endpoints: query arguments (`size`, `offset`, `tags`, `custom_id`) and the page body
//! with its `next` link (kong-compat §1.2).

use gateway_core::store::{ApiError, EntityKind, ListQuery, Page, TagFilter};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::{json, Map, Value};

/// Default page size.
pub const DEFAULT_SIZE: usize = 100;
/// Largest page size.
pub const MAX_SIZE: usize = 1000;
/// Most tags one query may name.
pub const MAX_TAGS: usize = 5;

/// `ngx.escape_uri`: everything but unreserved characters is escaped.
const URI_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Parsed list arguments plus what the `next` link repeats.
#[derive(Debug, Clone, PartialEq)]
pub struct ListArgs {
    /// What the store receives.
    pub query: ListQuery,
    /// `size` as given (echoed in root `next` links).
    pub size_given: Option<usize>,
    /// `tags` as given (echoed in root `next` links).
    pub tags_given: Option<String>,
    /// Whether this is a nested collection (its `next` link carries no size/tags).
    pub nested: bool,
}

fn invalid_size(message: &str) -> ApiError {
    ApiError::dao(400, 9, "invalid size", message, None)
}

fn invalid_tags(message: &str) -> ApiError {
    ApiError::dao(
        400,
        11,
        "invalid options",
        format!("invalid option (tags: {message})"),
        Some(json!({ "tags": message })),
    )
}

/// Kong's page size check: a number (`size must be a number`), then an integer in 1..=1000.
fn parse_size(raw: &str) -> Result<usize, ApiError> {
    let n: f64 = raw
        .trim()
        .parse()
        .ok()
        .filter(|n: &f64| n.is_finite())
        .ok_or_else(|| invalid_size("size must be a number"))?;
    if n.fract() != 0.0 || !(1.0..=MAX_SIZE as f64).contains(&n) {
        return Err(invalid_size("size must be an integer between 1 and 1000"));
    }
    Ok(n as usize)
}

/// `a,b` = all of, `a/b` = any of; at most five non-empty tags without `,` or `/` inside.
fn parse_tags(raw: &str) -> Result<TagFilter, ApiError> {
    let (tags, all): (Vec<&str>, bool) = if raw.contains(',') {
        (raw.split(',').collect(), true)
    } else if raw.contains('/') {
        (raw.split('/').collect(), false)
    } else {
        (vec![raw], true)
    };
    if tags.len() > MAX_TAGS {
        return Err(invalid_tags("cannot query more than 5 tags"));
    }
    if tags.iter().any(|t| t.is_empty() || t.contains([',', '/'])) {
        return Err(invalid_tags(
            "must only contain printable ascii (except `,` and `/`) or valid utf-8",
        ));
    }
    let tags = tags.into_iter().map(str::to_owned).collect();
    Ok(if all {
        TagFilter::All(tags)
    } else {
        TagFilter::Any(tags)
    })
}

impl ListArgs {
    /// Parse a raw query string; unknown arguments are ignored, the first occurrence wins.
    pub fn parse(kind: EntityKind, nested: bool, raw_query: &str) -> Result<Self, ApiError> {
        let mut size = None;
        let mut offset = None;
        let mut tags = None;
        let mut custom_id = None;
        for (k, v) in form_urlencoded::parse(raw_query.as_bytes()) {
            let slot = match k.as_ref() {
                "size" => &mut size,
                "offset" => &mut offset,
                "tags" => &mut tags,
                "custom_id" => &mut custom_id,
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(v.into_owned());
            }
        }
        let size_given = size.as_deref().map(parse_size).transpose()?;
        let tag_filter = tags.as_deref().map(parse_tags).transpose()?;
        let custom_id = custom_id.filter(|_| kind == EntityKind::Consumers && !nested);
        Ok(Self {
            query: ListQuery {
                size: size_given.unwrap_or(DEFAULT_SIZE),
                offset,
                tags: tag_filter,
                custom_id,
            },
            size_given,
            tags_given: tags,
            nested,
        })
    }
}

/// The response body of a list endpoint; `path` is the raw request path.
pub fn page_body(page: Page, path: &str, args: &ListArgs) -> Value {
    let mut body = Map::new();
    body.insert("data".into(), Value::Array(page.data));
    match page.offset {
        Some(offset) => {
            let base = path
                .strip_suffix('/')
                .filter(|p| !p.is_empty())
                .unwrap_or(path);
            let mut next = format!(
                "{base}?offset={}",
                utf8_percent_encode(&offset, URI_COMPONENT)
            );
            if !args.nested {
                if let Some(tags) = &args.tags_given {
                    next.push_str(&format!(
                        "&tags={}",
                        utf8_percent_encode(tags, URI_COMPONENT)
                    ));
                }
                if let Some(size) = args.size_given {
                    next.push_str(&format!("&size={size}"));
                }
            }
            body.insert("next".into(), Value::String(next));
            body.insert("offset".into(), Value::String(offset));
        }
        None => {
            body.insert("next".into(), Value::Null);
        }
    }
    Value::Object(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(q: &str) -> Result<ListArgs, ApiError> {
        ListArgs::parse(EntityKind::Consumers, false, q)
    }

    #[test]
    fn sizes() {
        assert_eq!(parse("").map(|a| a.query.size), Ok(100));
        assert_eq!(parse("size=1000").map(|a| a.query.size), Ok(1000));
        assert_eq!(parse("size=7&size=9").map(|a| a.query.size), Ok(7));
        let between = json!({"code":9,"name":"invalid size","message":"size must be an integer between 1 and 1000"});
        for bad in ["0", "1001", "2.5", "-1"] {
            let err = parse(&format!("size={bad}")).expect_err(bad);
            assert_eq!((err.status, err.body), (400, between.clone()), "{bad}");
        }
        for bad in ["x", "", "inf"] {
            let err = parse(&format!("size={bad}")).expect_err(bad);
            assert_eq!(
                err.body,
                json!({"code":9,"name":"invalid size","message":"size must be a number"})
            );
        }
    }

    #[test]
    fn tags_and_custom_id() {
        let a = parse("tags=a,b&custom_id=c1&foo=bar").expect("valid");
        assert_eq!(
            a.query.tags,
            Some(TagFilter::All(vec!["a".into(), "b".into()]))
        );
        assert_eq!(a.query.custom_id.as_deref(), Some("c1"));
        let a = parse("tags=a/b").expect("valid");
        assert_eq!(
            a.query.tags,
            Some(TagFilter::Any(vec!["a".into(), "b".into()]))
        );
        assert_eq!(
            parse("tags=solo").expect("valid").query.tags,
            Some(TagFilter::All(vec!["solo".into()]))
        );
        assert_eq!(
            parse("tags=a,b,c,d,e,f").map_err(|e| e.body["code"].clone()),
            Err(json!(11))
        );
        assert_eq!(parse("tags=a,b/c").map_err(|e| e.status), Err(400));
        assert_eq!(parse("tags=").map_err(|e| e.status), Err(400));
        // custom_id filters only the root consumers collection.
        let routes = ListArgs::parse(EntityKind::Routes, false, "custom_id=c").expect("valid");
        assert_eq!(routes.query.custom_id, None);
    }

    #[test]
    fn next_links() {
        let page = |offset: Option<&str>| Page {
            data: vec![json!({"id": 1})],
            offset: offset.map(Into::into),
        };
        let args = parse("size=2&tags=a,b").expect("valid");
        assert_eq!(
            page_body(page(None), "/consumers", &args),
            json!({"data":[{"id":1}],"next":null})
        );
        assert_eq!(
            page_body(page(Some("a+b/c=")), "/consumers/", &args),
            json!({"data":[{"id":1}],"next":"/consumers?offset=a%2Bb%2Fc%3D&tags=a%2Cb&size=2","offset":"a+b/c="})
        );
        let nested = ListArgs::parse(EntityKind::JwtSecrets, true, "size=2&tags=x").expect("valid");
        assert_eq!(
            page_body(page(Some("o")), "/consumers/bob/jwt", &nested)["next"],
            json!("/consumers/bob/jwt?offset=o")
        );
        assert_eq!(
            page_body(
                Page {
                    data: vec![],
                    offset: None
                },
                "/routes",
                &args
            )
            .to_string(),
            r#"{"data":[],"next":null}"#
        );
    }
}

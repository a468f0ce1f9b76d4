//! Request-body decoding by content type (kong-compat §1.1).
//!
//! JSON, url-encoded forms and multipart forms become an [`Input`]; anything else with a body
//! is refused with 415. No content type and no body is an empty JSON object.

use gateway_core::store::{Input, InputFormat};
use serde_json::{Map, Value};

use crate::{form, multipart};

/// Why a request body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// A body with a content type the Admin API does not read (415, empty body).
    #[error("unsupported media type")]
    Unsupported,
    /// `application/json` that does not parse as a JSON object (400).
    #[error("Cannot parse JSON body")]
    BadJson,
    /// `multipart/form-data` that does not follow the framing (400).
    #[error("Cannot parse multipart/form-data body")]
    BadMultipart,
}

const JSON: &str = "application/json";
const URLENCODED: &str = "application/x-www-form-urlencoded";
const MULTIPART: &str = "multipart/form-data";

fn empty_object() -> Value {
    Value::Object(Map::new())
}

/// Decode a request body given its `Content-Type` (Kong's case-sensitive prefix test).
pub fn decode(content_type: Option<&str>, body: &[u8]) -> Result<Input, BodyError> {
    let blank = body.iter().all(u8::is_ascii_whitespace);
    match content_type {
        Some(ct) if ct.starts_with(JSON) => {
            if blank {
                return Ok(Input {
                    body: empty_object(),
                    format: InputFormat::Json,
                });
            }
            match serde_json::from_slice::<Value>(body) {
                Ok(obj @ Value::Object(_)) => Ok(Input {
                    body: obj,
                    format: InputFormat::Json,
                }),
                Ok(Value::Null) => Ok(Input {
                    body: empty_object(),
                    format: InputFormat::Json,
                }),
                _ => Err(BodyError::BadJson),
            }
        }
        Some(ct) if ct.starts_with(URLENCODED) => Ok(Input {
            body: form::decode_urlencoded(body),
            format: InputFormat::Form,
        }),
        Some(ct) if ct.starts_with(MULTIPART) => {
            if body.is_empty() {
                return Ok(Input {
                    body: empty_object(),
                    format: InputFormat::Form,
                });
            }
            let pairs = multipart::parse(ct, body).map_err(|_| BodyError::BadMultipart)?;
            Ok(Input {
                body: form::to_json(pairs),
                format: InputFormat::Form,
            })
        }
        _ if body.is_empty() => Ok(Input {
            body: empty_object(),
            format: InputFormat::Json,
        }),
        _ => Err(BodyError::Unsupported),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn json_bodies() {
        let input = decode(
            Some("application/json; charset=utf-8"),
            br#"{"name":"a","tags":null}"#,
        );
        assert_eq!(
            input,
            Ok(Input {
                body: json!({"name": "a", "tags": null}),
                format: InputFormat::Json
            })
        );
        assert_eq!(
            decode(Some(JSON), b""),
            Ok(Input {
                body: json!({}),
                format: InputFormat::Json
            })
        );
        assert_eq!(
            decode(Some(JSON), b"null"),
            Ok(Input {
                body: json!({}),
                format: InputFormat::Json
            })
        );
        assert_eq!(decode(Some(JSON), b"{\"a\":"), Err(BodyError::BadJson));
        assert_eq!(decode(Some(JSON), b"[1]"), Err(BodyError::BadJson));
        // The prefix test is case-sensitive, like Kong's.
        assert_eq!(
            decode(Some("Application/JSON"), b"{}"),
            Err(BodyError::Unsupported)
        );
    }

    #[test]
    fn forms() {
        let input = decode(Some(URLENCODED), b"name=a&paths[]=/x");
        assert_eq!(
            input,
            Ok(Input {
                body: json!({"name": "a", "paths": ["/x"]}),
                format: InputFormat::Form
            })
        );
        // The scw client POSTs /consumers/x/jwt with a form type and no body.
        assert_eq!(
            decode(Some(URLENCODED), b""),
            Ok(Input {
                body: json!({}),
                format: InputFormat::Form
            })
        );
        let mp =
            "--b\r\nContent-Disposition: form-data; name=\"config.port\"\r\n\r\n8125\r\n--b--\r\n";
        assert_eq!(
            decode(Some("multipart/form-data; boundary=b"), mp.as_bytes()),
            Ok(Input {
                body: json!({"config": {"port": "8125"}}),
                format: InputFormat::Form
            })
        );
        assert_eq!(
            decode(Some("multipart/form-data; boundary=b"), b"junk"),
            Err(BodyError::BadMultipart)
        );
    }

    #[test]
    fn other_types() {
        assert_eq!(
            decode(None, b""),
            Ok(Input {
                body: json!({}),
                format: InputFormat::Json
            })
        );
        assert_eq!(
            decode(Some("text/plain"), b""),
            Ok(Input {
                body: json!({}),
                format: InputFormat::Json
            })
        );
        assert_eq!(
            decode(Some("text/plain"), b"hi"),
            Err(BodyError::Unsupported)
        );
        assert_eq!(decode(None, b"name=a"), Err(BodyError::Unsupported));
    }
}

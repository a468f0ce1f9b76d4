//! A small `multipart/form-data` parser for the Admin API's simple text fields.
//!
//! Each part's `name` (from `Content-Disposition`) and body become one form pair; the pairs are
//! then decoded with Kong's form syntax ([`crate::form`]). File parts are read as text too.

/// Why a multipart body could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MultipartError {
    /// The `Content-Type` carries no `boundary=` parameter.
    #[error("missing multipart boundary")]
    NoBoundary,
    /// The body does not follow the multipart framing.
    #[error("malformed multipart body")]
    Malformed,
}

/// The `boundary` parameter of a `multipart/form-data; boundary=...` content type.
pub fn boundary(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("boundary") {
            return None;
        }
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        (!value.is_empty()).then(|| value.to_owned())
    })
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || from > hay.len() {
        return None;
    }
    hay[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// The `name` parameter of a part's `Content-Disposition` header block.
fn part_name(headers: &str) -> Option<String> {
    headers.lines().find_map(|line| {
        let (hname, value) = line.split_once(':')?;
        if !hname.trim().eq_ignore_ascii_case("content-disposition") {
            return None;
        }
        value.split(';').skip(1).find_map(|param| {
            let (k, v) = param.split_once('=')?;
            if k.trim() != "name" {
                return None;
            }
            let v = v.trim();
            Some(
                v.strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .unwrap_or(v)
                    .to_owned(),
            )
        })
    })
}

/// Split a multipart body into `(name, value)` pairs; parts without a name are skipped.
pub fn parse(content_type: &str, body: &[u8]) -> Result<Vec<(String, String)>, MultipartError> {
    let boundary = boundary(content_type).ok_or(MultipartError::NoBoundary)?;
    let delim = format!("--{boundary}").into_bytes();
    let mut pairs = Vec::new();
    let mut pos = find(body, &delim, 0).ok_or(MultipartError::Malformed)? + delim.len();
    loop {
        // After a delimiter: `--` ends the body, otherwise CRLF and a part follow.
        if body[pos..].starts_with(b"--") {
            return Ok(pairs);
        }
        let start = if body[pos..].starts_with(b"\r\n") {
            pos + 2
        } else if body[pos..].starts_with(b"\n") {
            pos + 1
        } else {
            return Err(MultipartError::Malformed);
        };
        let next = find(body, &delim, start).ok_or(MultipartError::Malformed)?;
        // The part ends with the line break before the next delimiter.
        let mut end = next;
        if end >= start + 2 && &body[end - 2..end] == b"\r\n" {
            end -= 2;
        } else if end > start && body[end - 1] == b'\n' {
            end -= 1;
        }
        let part = &body[start..end];
        let (head, value) = match find(part, b"\r\n\r\n", 0) {
            Some(i) => (&part[..i], &part[i + 4..]),
            None => match find(part, b"\n\n", 0) {
                Some(i) => (&part[..i], &part[i + 2..]),
                None => (part, &part[part.len()..]),
            },
        };
        if let Some(name) = part_name(&String::from_utf8_lossy(head)) {
            pairs.push((name, String::from_utf8_lossy(value).into_owned()));
        }
        pos = next + delim.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CT: &str = "multipart/form-data; boundary=XyZ";

    #[test]
    fn boundary_param() {
        assert_eq!(boundary(CT).as_deref(), Some("XyZ"));
        assert_eq!(
            boundary("multipart/form-data; charset=utf-8; boundary=\"a b\"").as_deref(),
            Some("a b")
        );
        assert_eq!(boundary("multipart/form-data"), None);
    }

    #[test]
    fn text_fields() {
        let body = "--XyZ\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nsvc\r\n\
                    --XyZ\r\nContent-Disposition: form-data; name=\"paths[]\"\r\n\r\n/a\r\n\
                    --XyZ\r\nContent-Disposition: form-data; name=\"empty\"\r\n\r\n\r\n\
                    --XyZ--\r\n";
        let pairs = parse(CT, body.as_bytes()).expect("valid body");
        assert_eq!(
            pairs,
            vec![
                ("name".into(), "svc".into()),
                ("paths[]".into(), "/a".into()),
                ("empty".into(), "".into())
            ]
        );
    }

    #[test]
    fn value_with_line_breaks_and_file_part() {
        let body = "--XyZ\r\nContent-Disposition: form-data; name=\"k\"; filename=\"f.pem\"\r\n\
                    Content-Type: text/plain\r\n\r\nline1\r\nline2\r\n--XyZ--";
        assert_eq!(
            parse(CT, body.as_bytes()),
            Ok(vec![("k".into(), "line1\r\nline2".into())])
        );
    }

    #[test]
    fn malformed() {
        assert_eq!(
            parse("multipart/form-data", b"x"),
            Err(MultipartError::NoBoundary)
        );
        assert_eq!(parse(CT, b"no delimiter"), Err(MultipartError::Malformed));
        assert_eq!(
            parse(
                CT,
                b"--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\nv"
            ),
            Err(MultipartError::Malformed)
        );
    }
}

//! One upstream exchange with Kong's connect/write/read timeout semantics.

use std::time::Duration;

use http::{Request, Response};
use hyper::body::Incoming;

use crate::body::{BodyProgress, RequestBody};

/// Send `req` and wait for the response head with Kong's timeout semantics: connecting is
/// bounded by the connector (connect timeout x retries); while the request body streams, a
/// stall longer than `write_timeout` fails; `read_timeout` starts once the request is fully
/// sent. `None`: timed out.
pub(super) async fn exchange(
    client: &crate::upstream::Client,
    req: Request<RequestBody>,
    progress: &BodyProgress,
    write_timeout: Duration,
    read_timeout: Duration,
) -> Option<Result<Response<Incoming>, hyper_util::client::legacy::Error>> {
    let fut = client.request(req);
    tokio::pin!(fut);
    tokio::select! {
        biased;
        r = &mut fut => return Some(r),
        () = progress.wait_started() => {}
    }
    while !progress.is_done() {
        let before = progress.bytes();
        tokio::select! {
            biased;
            r = &mut fut => return Some(r),
            () = progress.wait_done() => {}
            () = tokio::time::sleep(write_timeout) => {
                if progress.bytes() == before && !progress.is_done() {
                    return None;
                }
            }
        }
    }
    tokio::time::timeout(read_timeout, fut).await.ok()
}

/// The innermost causes of an error, `: `-separated.
pub(super) fn source_text(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = String::new();
    let mut cur = e.source();
    while let Some(c) = cur {
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&c.to_string());
        cur = c.source();
    }
    out
}

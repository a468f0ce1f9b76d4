//! Streaming body wrappers: nothing here buffers a whole body.
//!
//! * [`RequestBody`]: the client's body sent upstream, counting bytes for the log phase.
//! * [`ResponseBody`]: what the client receives — an upstream body (with Kong's idle
//!   `read_timeout` between frames) or a gateway-made one — counting bytes and firing the
//!   [`Completion`] exactly once, when the body ends, fails or is dropped.

use std::future::Future as _;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use tokio::sync::Notify;
use tokio::time::Sleep;

/// Boxed error of the body wrappers.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How far the client's request body has gone upstream.
///
/// `started` flips when the upstream connection first looks at the body (hyper does so only
/// once it holds a connection and writes the request head): that is when Kong's write and
/// read timeouts begin, after connecting.
#[derive(Debug, Default)]
pub struct BodyProgress {
    bytes: AtomicU64,
    started: AtomicBool,
    done: AtomicBool,
    notify: Notify,
}

impl BodyProgress {
    /// Whether an upstream connection has started sending the request.
    pub fn is_started(&self) -> bool {
        self.started.load(Ordering::Acquire)
    }

    /// Resolves once an upstream connection has started sending the request.
    pub async fn wait_started(&self) {
        while !self.is_started() {
            self.notify.notified().await;
        }
    }

    fn start(&self) {
        if !self.started.swap(true, Ordering::AcqRel) {
            self.notify.notify_one();
        }
    }

    /// Data bytes sent so far.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Whether the whole body has been handed to the upstream connection.
    pub fn is_done(&self) -> bool {
        self.done.load(Ordering::Acquire)
    }

    /// Resolves once the whole body has been sent.
    pub async fn wait_done(&self) {
        while !self.is_done() {
            self.notify.notified().await;
        }
    }

    fn finish(&self) {
        if !self.done.swap(true, Ordering::AcqRel) {
            self.notify.notify_one();
        }
    }
}

/// The client's request body on its way upstream.
#[derive(Debug)]
pub struct RequestBody {
    inner: Incoming,
    progress: Arc<BodyProgress>,
}

impl RequestBody {
    /// Wrap `inner`, recording its progress in `progress`.
    pub fn new(inner: Incoming, progress: Arc<BodyProgress>) -> Self {
        if inner.is_end_stream() {
            progress.finish();
        }
        Self { inner, progress }
    }
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = &mut *self;
        this.progress.start();
        let frame = ready!(Pin::new(&mut this.inner).poll_frame(cx));
        match &frame {
            Some(Ok(f)) => {
                if let Some(d) = f.data_ref() {
                    this.progress
                        .bytes
                        .fetch_add(d.len() as u64, Ordering::Relaxed);
                }
                // hyper stops polling once the body says it is over.
                if this.inner.is_end_stream() {
                    this.progress.finish();
                }
            }
            None | Some(Err(_)) => this.progress.finish(),
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.progress.start();
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.progress.start();
        self.inner.size_hint()
    }
}

/// Called once when a response body is finished (fully sent, failed or dropped).
pub trait Completion: Send + Sync + 'static {
    /// `body_bytes`: data bytes handed to the client; `complete`: the body reached its end.
    fn done(self: Box<Self>, body_bytes: u64, complete: bool);
}

enum Inner {
    Full(Option<Bytes>),
    Upstream {
        body: Incoming,
        read_timeout: Duration,
        idle: Option<Pin<Box<Sleep>>>,
    },
}

/// The body sent to the client.
pub struct ResponseBody {
    inner: Inner,
    sent: u64,
    on_done: Option<Box<dyn Completion>>,
}

/// The upstream went silent for longer than the service's `read_timeout`.
#[derive(Debug, thiserror::Error)]
#[error("upstream read timed out")]
pub struct ReadTimeout;

// === impl ResponseBody ===

impl ResponseBody {
    /// A complete in-memory body.
    pub fn full(bytes: Bytes) -> Self {
        Self {
            inner: Inner::Full((!bytes.is_empty()).then_some(bytes)),
            sent: 0,
            on_done: None,
        }
    }

    /// An empty body.
    pub fn empty() -> Self {
        Self::full(Bytes::new())
    }

    /// An upstream body, failing if no frame arrives for `read_timeout`.
    pub fn upstream(body: Incoming, read_timeout: Duration) -> Self {
        Self {
            inner: Inner::Upstream {
                body,
                read_timeout,
                idle: None,
            },
            sent: 0,
            on_done: None,
        }
    }

    /// Fire `on_done` once the body is over.
    pub fn with_completion(mut self, on_done: Box<dyn Completion>) -> Self {
        self.on_done = Some(on_done);
        self
    }

    fn finish(&mut self, complete: bool) {
        if let Some(done) = self.on_done.take() {
            done.done(self.sent, complete);
        }
    }
}

impl std::fmt::Debug for ResponseBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseBody")
            .field("sent", &self.sent)
            .finish_non_exhaustive()
    }
}

impl Drop for ResponseBody {
    fn drop(&mut self) {
        let complete = self.is_end_stream();
        self.finish(complete);
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        let polled = match &mut this.inner {
            Inner::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            Inner::Upstream {
                body,
                read_timeout,
                idle,
            } => match Pin::new(body).poll_frame(cx) {
                Poll::Ready(frame) => {
                    *idle = None;
                    Poll::Ready(frame.map(|r| r.map_err(BoxError::from)))
                }
                Poll::Pending => {
                    let read_timeout = *read_timeout;
                    let sleep =
                        idle.get_or_insert_with(|| Box::pin(tokio::time::sleep(read_timeout)));
                    match sleep.as_mut().poll(cx) {
                        Poll::Ready(()) => Poll::Ready(Some(Err(BoxError::from(ReadTimeout)))),
                        Poll::Pending => Poll::Pending,
                    }
                }
            },
        };
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(d) = frame.data_ref() {
                    this.sent += d.len() as u64;
                }
            }
            Poll::Ready(None) => this.finish(true),
            Poll::Ready(Some(Err(_))) => this.finish(false),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        match &self.inner {
            Inner::Full(b) => b.is_none(),
            Inner::Upstream { body, .. } => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.inner {
            Inner::Full(Some(b)) => SizeHint::with_exact(b.len() as u64),
            Inner::Full(None) => SizeHint::with_exact(0),
            Inner::Upstream { body, .. } => body.size_hint(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use parking_lot::Mutex;

    struct Record(Arc<Mutex<Vec<(u64, bool)>>>);
    impl Completion for Record {
        fn done(self: Box<Self>, bytes: u64, complete: bool) {
            self.0.lock().push((bytes, complete));
        }
    }

    #[tokio::test]
    async fn full_body_fires_completion_once_with_size() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let body = ResponseBody::full(Bytes::from_static(b"hello"))
            .with_completion(Box::new(Record(log.clone())));
        let bytes = body.collect().await.expect("collect").to_bytes();
        assert_eq!(&bytes[..], b"hello");
        assert_eq!(*log.lock(), vec![(5, true)]);
    }

    #[tokio::test]
    async fn dropped_body_fires_incomplete() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let body = ResponseBody::full(Bytes::from_static(b"hello"))
            .with_completion(Box::new(Record(log.clone())));
        drop(body);
        assert_eq!(*log.lock(), vec![(0, false)]);
    }
}

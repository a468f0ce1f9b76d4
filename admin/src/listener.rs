//! A TCP listener that counts connections for `GET /status`.

use std::{
    io,
    net::SocketAddr,
    pin::Pin,
    sync::{atomic::Ordering, Arc},
    task::{Context, Poll},
};

use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
};

use crate::state::Counters;

/// Wraps a [`TcpListener`]; every accepted stream updates [`Counters`] until it is dropped.
pub struct CountingListener {
    inner: TcpListener,
    counters: Arc<Counters>,
}

impl CountingListener {
    /// Count connections of `inner` into `counters`.
    pub fn new(inner: TcpListener, counters: Arc<Counters>) -> Self {
        Self { inner, counters }
    }
}

impl axum::serve::Listener for CountingListener {
    type Io = CountedStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (stream, addr) = axum::serve::Listener::accept(&mut self.inner).await;
        let _ = stream.set_nodelay(true);
        self.counters
            .connections_accepted
            .fetch_add(1, Ordering::Relaxed);
        self.counters
            .connections_active
            .fetch_add(1, Ordering::Relaxed);
        (
            CountedStream {
                inner: stream,
                counters: self.counters.clone(),
            },
            addr,
        )
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// An accepted connection; closing it marks it handled.
pub struct CountedStream {
    inner: TcpStream,
    counters: Arc<Counters>,
}

impl Drop for CountedStream {
    fn drop(&mut self) {
        self.counters
            .connections_active
            .fetch_sub(1, Ordering::Relaxed);
        self.counters
            .connections_handled
            .fetch_add(1, Ordering::Relaxed);
    }
}

impl AsyncRead for CountedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for CountedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

//! Non-blocking StatsD transport. Lines are handed to a cadence [`QueuingMetricSink`] (bounded
//! queue; a full queue drops the metric) whose worker thread writes them to UDP or TCP, so a
//! slow or dead endpoint never touches the request path. One sink exists per distinct
//! (host, port, protocol, packet size, queue size) and is shared by every plugin instance
//! using it, across snapshots, for as long as one of them is alive.

use std::collections::HashMap;
use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant};

use cadence::{MetricSink, QueuingMetricSink};
use parking_lot::Mutex;

/// How long a resolved address is reused.
const RESOLVE_TTL: Duration = Duration::from_secs(60);
/// How long a failed lookup is remembered before the next attempt.
const NEGATIVE_RESOLVE_TTL: Duration = Duration::from_secs(5);
/// Connect/write timeout and minimum delay between TCP reconnection attempts.
const TCP_TIMEOUT: Duration = Duration::from_secs(1);

/// What identifies a shared sink.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SinkKey {
    /// StatsD host.
    pub host: String,
    /// StatsD port.
    pub port: u16,
    /// TCP instead of UDP.
    pub tcp: bool,
    /// UDP packet size (0 = one line per packet).
    pub packet_size: usize,
    /// Queue bound (`queue.max_entries`).
    pub capacity: usize,
}

/// A shared, queued StatsD sink. `emit` never blocks.
pub struct Sink {
    queue: QueuingMetricSink,
}

impl std::fmt::Debug for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sink")
            .field("queued", &self.queue.queued())
            .finish()
    }
}

impl Sink {
    /// Queue one datagram (UDP) or chunk of newline-terminated lines (TCP); dropped when the
    /// queue is full.
    pub fn emit(&self, payload: &str) {
        let _ = self.queue.emit(payload);
    }
}

static REGISTRY: OnceLock<Mutex<HashMap<SinkKey, Weak<Sink>>>> = OnceLock::new();

/// The shared sink for `key`, created on first use (build time only, never per request).
pub fn shared(key: &SinkKey) -> Arc<Sink> {
    let mut map = REGISTRY.get_or_init(|| Mutex::new(HashMap::new())).lock();
    map.retain(|_, w| w.strong_count() > 0);
    if let Some(s) = map.get(key).and_then(Weak::upgrade) {
        return s;
    }
    let target = Target::new(&key.host, key.port);
    let queue = if key.tcp {
        QueuingMetricSink::with_capacity(
            TcpSink {
                target,
                conn: AssertUnwindSafe(Mutex::new(TcpState::default())),
            },
            key.capacity,
        )
    } else {
        QueuingMetricSink::with_capacity(
            UdpSink {
                target,
                socket: AssertUnwindSafe(Mutex::new(None)),
            },
            key.capacity,
        )
    };
    let sink = Arc::new(Sink { queue });
    map.insert(key.clone(), Arc::downgrade(&sink));
    sink
}

/// A host:port resolved lazily (IPv4 preferred) and cached for [`RESOLVE_TTL`]; a failed
/// lookup is remembered for [`NEGATIVE_RESOLVE_TTL`], so a host that does not resolve costs one
/// DNS query per period, not one per metric line.
struct Target {
    host: String,
    port: u16,
    /// Last lookup, if any.
    cached: AssertUnwindSafe<Mutex<Option<Lookup>>>,
}

/// A lookup result: the address (`None` = the lookup failed) and when it was made.
type Lookup = (Option<SocketAddr>, Instant);

impl Target {
    fn new(host: &str, port: u16) -> Self {
        Self {
            host: host.to_string(),
            port,
            cached: AssertUnwindSafe(Mutex::new(None)),
        }
    }

    fn addr(&self) -> io::Result<SocketAddr> {
        let mut cached = self.cached.lock();
        match *cached {
            Some((Some(a), at)) if at.elapsed() < RESOLVE_TTL => return Ok(a),
            Some((None, at)) if at.elapsed() < NEGATIVE_RESOLVE_TTL => {
                return Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    "statsd host did not resolve (cached)",
                ))
            }
            _ => {}
        }
        let host = self.host.trim_start_matches('[').trim_end_matches(']');
        let resolved = (host, self.port).to_socket_addrs().and_then(|addrs| {
            let addrs: Vec<SocketAddr> = addrs.collect();
            addrs
                .iter()
                .find(|a| a.is_ipv4())
                .or(addrs.first())
                .copied()
                .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address"))
        });
        *cached = Some((resolved.as_ref().ok().copied(), Instant::now()));
        resolved
    }
}

/// Datagrams to the target; runs on the queue's worker thread only.
struct UdpSink {
    target: Target,
    socket: AssertUnwindSafe<Mutex<Option<UdpSocket>>>,
}

impl MetricSink for UdpSink {
    fn emit(&self, metric: &str) -> io::Result<usize> {
        let addr = self.target.addr()?;
        let mut sock = self.socket.lock();
        let fresh = match sock.as_ref() {
            Some(s) => s.local_addr()?.is_ipv4() != addr.is_ipv4(),
            None => true,
        };
        if fresh {
            let bind = if addr.is_ipv4() {
                "0.0.0.0:0"
            } else {
                "[::]:0"
            };
            let s = UdpSocket::bind(bind)?;
            s.set_nonblocking(true)?;
            *sock = Some(s);
        }
        match sock.as_ref() {
            Some(s) => s.send_to(metric.as_bytes(), addr),
            None => Ok(0),
        }
    }
}

#[derive(Default)]
struct TcpState {
    stream: Option<TcpStream>,
    last_attempt: Option<Instant>,
}

/// A persistent TCP connection, reconnected at most once per [`TCP_TIMEOUT`]; lines that
/// arrive while it is down are dropped.
struct TcpSink {
    target: Target,
    conn: AssertUnwindSafe<Mutex<TcpState>>,
}

impl MetricSink for TcpSink {
    fn emit(&self, metric: &str) -> io::Result<usize> {
        let mut st = self.conn.lock();
        if st.stream.is_none() {
            if st.last_attempt.is_some_and(|t| t.elapsed() < TCP_TIMEOUT) {
                return Err(io::Error::new(
                    io::ErrorKind::NotConnected,
                    "statsd tcp down",
                ));
            }
            st.last_attempt = Some(Instant::now());
            let addr = self.target.addr()?;
            let s = TcpStream::connect_timeout(&addr, TCP_TIMEOUT)?;
            s.set_write_timeout(Some(TCP_TIMEOUT))?;
            s.set_nodelay(true)?;
            st.stream = Some(s);
        }
        let res = match st.stream.as_mut() {
            Some(s) => s.write_all(metric.as_bytes()).map(|()| metric.len()),
            None => Ok(0),
        };
        if res.is_err() {
            st.stream = None;
        }
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_lookups_are_cached() {
        // `.invalid` never resolves (RFC 2606): one lookup, then the cached failure.
        let target = Target::new("no-such-host.invalid", 8125);
        assert!(target.addr().is_err());
        let again = target.addr().expect_err("still unresolvable");
        assert!(again.to_string().contains("cached"), "{again}");
    }

    #[test]
    fn resolved_addresses_are_cached() {
        let target = Target::new("127.0.0.1", 8125);
        let first = target.addr().expect("literal address");
        assert_eq!(first, SocketAddr::from(([127, 0, 0, 1], 8125)));
        assert!(matches!(*target.cached.lock(), Some((Some(a), _)) if a == first));
    }

    fn key(port: u16) -> SinkKey {
        SinkKey {
            host: "127.0.0.1".into(),
            port,
            tcp: false,
            packet_size: 0,
            capacity: 16,
        }
    }

    #[test]
    fn sinks_are_shared_per_key() {
        let a = shared(&key(9));
        let b = shared(&key(9));
        assert!(Arc::ptr_eq(&a, &b));
        let c = shared(&SinkKey {
            tcp: true,
            ..key(9)
        });
        assert!(!Arc::ptr_eq(&a, &c));
    }

    #[test]
    fn udp_delivery() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let sink = shared(&key(rx.local_addr().unwrap().port()));
        sink.emit("a.b:1|c");
        let mut buf = [0u8; 64];
        let n = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"a.b:1|c");
    }
}

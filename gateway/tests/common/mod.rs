//! Shared harness of the gateway's integration tests (also used by the plugin tests).
//!
//! * [`Upstream`]: an in-process hyper server (HTTP/1.1 + h2, optional TLS from a test CA) that
//!   echoes the request as JSON and, driven by request headers, delays, streams, sinks bodies
//!   and upgrades to a WebSocket echo.
//! * [`Gateway`] / [`Admin`]: the REAL binaries, killed on drop.
//! * [`PgDb`]: a fresh Postgres database per test; [`TcpRelay`]: a TCP proxy a test can cut
//!   to simulate a database outage; [`UdpSink`]: a UDP listener (statsd).

#![allow(dead_code)]

pub mod config;
pub mod upstream;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gateway_core::model::ConfigData;
use serde_json::Value;
use sqlx::{Connection, Executor, PgConnection};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::process::{Child, Command};

#[allow(unused_imports)]
pub use upstream::{TestCa, Upstream};

/// `target/debug/<name>`, next to the test executable's `deps/` directory.
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    exe.parent()
        .and_then(Path::parent)
        .expect("target dir")
        .join(name)
}

/// A free local TCP port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Poll `f` until it returns `Some` or `within` elapses.
pub async fn wait_for<T, F, Fut>(within: Duration, mut f: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = f().await {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A local port nothing listens on (port 1: privileged, never handed out by the kernel as
/// an ephemeral port, so parallel tests cannot grab it the way they can a freed random port).
pub const CLOSED_PORT: u16 = 1;

/// A database URL nothing listens on (connection refused at once).
pub fn dead_database_url() -> String {
    format!("postgres://postgres@127.0.0.1:{CLOSED_PORT}/none")
}

// === PgDb ===

/// The superuser connection tests create their databases with.
pub fn test_database_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// Replace the database name of a Postgres URL.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| i + scheme_end);
    let mut out = format!("{}/{name}", &base[..path_start]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// A Postgres database created for one test and dropped (best effort) at the end.
pub struct PgDb {
    /// Connection URL of the test database.
    pub url: String,
    name: String,
}

impl PgDb {
    /// Create `gwtest_<uuid>`.
    pub async fn create() -> Self {
        let admin_url = test_database_url();
        let name = format!("gwtest_{}", uuid::Uuid::new_v4().simple());
        let mut conn = PgConnection::connect(&admin_url)
            .await
            .expect("connect TEST_DATABASE_URL");
        conn.execute(format!("CREATE DATABASE \"{name}\"").as_str())
            .await
            .expect("create test database");
        let _ = conn.close().await;
        Self {
            url: with_database(&admin_url, &name),
            name,
        }
    }

    /// The same database reached through `addr` (a [`TcpRelay`]).
    pub fn url_via(&self, addr: SocketAddr) -> String {
        let url = self.url.clone();
        let scheme_end = url.find("://").map_or(0, |i| i + 3);
        let rest = &url[scheme_end..];
        let at = rest.find('@').map_or(0, |i| i + 1);
        let host_end = rest[at..].find('/').map_or(rest.len(), |i| i + at);
        format!(
            "{}{}{}{}",
            &url[..scheme_end],
            &rest[..at],
            addr,
            &rest[host_end..]
        )
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        let admin_url = test_database_url();
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok(mut conn) = PgConnection::connect(&admin_url).await {
                    let _ = conn
                        .execute(
                            format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)").as_str(),
                        )
                        .await;
                    let _ = conn.close().await;
                }
            });
        })
        .join();
    }
}

// === processes ===

fn base_command(name: &str, log: &Path) -> Command {
    let path = bin(name);
    assert!(
        path.exists(),
        "{} missing: run `cargo build --workspace --bins` first",
        path.display()
    );
    let mut cmd = Command::new(path);
    for var in [
        "ADMIN_TOKEN",
        "ADMIN_TOKEN_FILE",
        "DATABASE_URL",
        "DATABASE_URL_FILE",
        "DATABASE_PASSWORD",
        "PORT",
        "ADMIN_TOKEN_SECRET_ID",
        "DATABASE_URL_SECRET_ID",
        "GATEWAY_CA_BUNDLE",
        "SNAPSHOT_CACHE_PATH",
        "CONFIG_POLL_INTERVAL_MS",
        "STATUS_LISTEN",
        "LOG_FORMAT",
    ] {
        cmd.env_remove(var);
    }
    let log_file = std::fs::File::create(log).expect("log file");
    cmd.env("RUST_LOG", "info")
        .stdout(Stdio::from(log_file.try_clone().expect("log file")))
        .stderr(Stdio::from(log_file))
        .kill_on_drop(true);
    cmd
}

/// A running `gateway` binary.
pub struct Gateway {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// Proxy address.
    pub addr: SocketAddr,
    /// `http://127.0.0.1:<status port>`.
    pub status_url: String,
    /// Its log file.
    pub log: PathBuf,
    child: Child,
}

/// How to start a gateway.
#[derive(Debug, Clone, Default)]
pub struct GatewayOpts {
    /// `DATABASE_URL`; `None`: the embedded store in `data_dir`.
    pub database_url: Option<String>,
    /// `GATEWAY_DATA_DIR` (required: each test uses its own tempdir).
    pub data_dir: PathBuf,
    /// Extra environment.
    pub env: Vec<(String, String)>,
}

impl Gateway {
    /// Start the binary and wait until its status listener answers (not necessarily ready).
    pub async fn start(opts: GatewayOpts) -> Gateway {
        let port = free_port();
        let status_port = free_port();
        std::fs::create_dir_all(&opts.data_dir).expect("data dir");
        let log = opts.data_dir.join(format!("gateway-{port}.log"));
        let mut cmd = base_command("gateway", &log);
        cmd.arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--status-listen")
            .arg(format!("127.0.0.1:{status_port}"))
            .env("GATEWAY_DATA_DIR", &opts.data_dir);
        if let Some(url) = &opts.database_url {
            cmd.env("DATABASE_URL", url);
        }
        for (k, v) in &opts.env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("spawn gateway");
        let gw = Gateway {
            url: format!("http://127.0.0.1:{port}"),
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            status_url: format!("http://127.0.0.1:{status_port}"),
            log,
            child,
        };
        let up = wait_for(Duration::from_secs(20), || async {
            TcpStream::connect(("127.0.0.1", port))
                .await
                .ok()
                .map(|_| ())
        })
        .await;
        assert!(
            up.is_some(),
            "gateway did not listen; log:\n{}",
            gw.log_text()
        );
        gw
    }

    /// Start serving `config` from the disk cache with an unreachable database.
    pub async fn with_config(
        data_dir: &Path,
        config: &ConfigData,
        env: &[(&str, &str)],
    ) -> Gateway {
        write_snapshot_cache(&data_dir.join("snapshot.json"), config);
        let gw = Gateway::start(GatewayOpts {
            database_url: Some(dead_database_url()),
            data_dir: data_dir.to_path_buf(),
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        })
        .await;
        gw.wait_ready().await;
        gw
    }

    /// `GET /status` as JSON.
    pub async fn status(&self) -> Option<Value> {
        let res = reqwest::get(format!("{}/status", self.status_url))
            .await
            .ok()?;
        res.json().await.ok()
    }

    /// Wait for `/status/ready` to answer 200.
    pub async fn wait_ready(&self) {
        let ok = wait_for(Duration::from_secs(20), || async {
            let res = reqwest::get(format!("{}/status/ready", self.status_url))
                .await
                .ok()?;
            (res.status() == 200).then_some(())
        })
        .await;
        assert!(
            ok.is_some(),
            "gateway never ready; log:\n{}",
            self.log_text()
        );
    }

    /// Wait until the gateway serves configuration `version`.
    pub async fn wait_version(&self, version: i64, within: Duration) -> bool {
        wait_for(within, || async {
            let v = self.status().await?["configuration_version"].as_i64()?;
            (v == version).then_some(())
        })
        .await
        .is_some()
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id().expect("running")
    }

    /// Send SIGTERM.
    pub fn sigterm(&self) {
        let status = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(self.pid().to_string())
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// Wait for the process to exit.
    pub async fn wait_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        tokio::time::timeout(within, self.child.wait())
            .await
            .ok()?
            .ok()
    }

    /// Everything the process logged.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// Write a snapshot cache file the way the gateway does.
pub fn write_snapshot_cache(path: &Path, config: &ConfigData) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).expect("cache dir");
    }
    std::fs::write(path, serde_json::to_vec(config).expect("json")).expect("write cache");
}

/// A running `admin` binary.
pub struct Admin {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// The admin token.
    pub token: String,
    /// The store URL it writes to.
    pub database_url: String,
    /// HTTP client.
    pub client: reqwest::Client,
    log: PathBuf,
    child: Child,
}

impl Admin {
    /// Start on `database_url` (or the embedded store of `data_dir`) and wait until it answers.
    pub async fn start(database_url: Option<&str>, data_dir: &Path) -> Admin {
        let port = free_port();
        std::fs::create_dir_all(data_dir).expect("data dir");
        let log = data_dir.join(format!("admin-{port}.log"));
        let token = format!("tok-{}", uuid::Uuid::new_v4().simple());
        let mut cmd = base_command("admin", &log);
        cmd.arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .env("GATEWAY_DATA_DIR", data_dir)
            .env("ADMIN_TOKEN", &token);
        if let Some(url) = database_url {
            cmd.env("DATABASE_URL", url);
        }
        let child = cmd.spawn().expect("spawn admin");
        let store_url = database_url
            .map(str::to_owned)
            .unwrap_or_else(|| format!("sqlite://{}/gateway.db?mode=rwc", data_dir.display()));
        let admin = Admin {
            url: format!("http://127.0.0.1:{port}"),
            token,
            database_url: store_url,
            client: reqwest::Client::new(),
            log,
            child,
        };
        let ok = wait_for(Duration::from_secs(30), || async {
            let res = admin
                .client
                .get(format!("{}/status", admin.url))
                .header("x-auth-token", &admin.token)
                .send()
                .await
                .ok()?;
            (res.status() == 200).then_some(())
        })
        .await;
        assert!(
            ok.is_some(),
            "admin never answered; log:\n{}",
            std::fs::read_to_string(&admin.log).unwrap_or_default()
        );
        admin
    }

    /// Send a JSON request; returns status and body.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut rb = self
            .client
            .request(method, format!("{}{path}", self.url))
            .header("x-auth-token", &self.token);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let res = rb.send().await.expect("admin request");
        let status = res.status().as_u16();
        let text = res.text().await.unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// POST and expect 201; returns the entity.
    pub async fn create(&self, path: &str, body: Value) -> Value {
        let (status, v) = self
            .send(reqwest::Method::POST, path, Some(body.clone()))
            .await;
        assert_eq!(status, 201, "POST {path} {body} -> {v}");
        v
    }

    /// PATCH and expect 200.
    pub async fn patch(&self, path: &str, body: Value) -> Value {
        let (status, v) = self
            .send(reqwest::Method::PATCH, path, Some(body.clone()))
            .await;
        assert_eq!(status, 200, "PATCH {path} {body} -> {v}");
        v
    }

    /// The store's current configuration version (read directly).
    pub async fn store_version(&self) -> i64 {
        let store = gateway_core::store::Store::connect(&self.database_url)
            .await
            .expect("store");
        let v = store.version().await.expect("version");
        store.close().await;
        v
    }
}

// === TcpRelay ===

/// A TCP relay to `target` that a test can cut (closing every connection and refusing new
/// ones) and restore, to simulate a database outage.
pub struct TcpRelay {
    /// Where clients connect.
    pub addr: SocketAddr,
    up: Arc<AtomicBool>,
    generation: Arc<tokio::sync::watch::Sender<u64>>,
    task: tokio::task::JoinHandle<()>,
    target: SocketAddr,
}

impl TcpRelay {
    /// Relay a fixed local port to `target`.
    pub async fn start(target: SocketAddr) -> TcpRelay {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind relay");
        let addr = listener.local_addr().expect("addr");
        let up = Arc::new(AtomicBool::new(true));
        let (tx, _) = tokio::sync::watch::channel(0u64);
        let generation = Arc::new(tx);
        let task = tokio::spawn(Self::accept_loop(
            listener,
            target,
            up.clone(),
            generation.clone(),
        ));
        TcpRelay {
            addr,
            up,
            generation,
            task,
            target,
        }
    }

    async fn accept_loop(
        listener: TcpListener,
        target: SocketAddr,
        up: Arc<AtomicBool>,
        generation: Arc<tokio::sync::watch::Sender<u64>>,
    ) {
        loop {
            let Ok((mut client, _)) = listener.accept().await else {
                continue;
            };
            if !up.load(Ordering::SeqCst) {
                drop(client);
                continue;
            }
            let mut cut = generation.subscribe();
            tokio::spawn(async move {
                let Ok(mut server) = TcpStream::connect(target).await else {
                    return;
                };
                tokio::select! {
                    _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                    _ = cut.changed() => {}
                }
            });
        }
    }

    /// Cut every relayed connection and refuse new ones.
    pub fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }

    /// Accept connections again.
    pub fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }

    /// Where the relay forwards.
    pub fn target(&self) -> SocketAddr {
        self.target
    }
}

impl Drop for TcpRelay {
    fn drop(&mut self) {
        self.task.abort();
        self.cut();
    }
}

/// The host:port of a Postgres URL.
pub fn pg_addr(url: &str) -> SocketAddr {
    let rest = &url[url.find("://").map_or(0, |i| i + 3)..];
    let rest = &rest[rest.find('@').map_or(0, |i| i + 1)..];
    let hostport = &rest[..rest.find('/').unwrap_or(rest.len())];
    let hostport = if hostport.contains(':') {
        hostport.to_owned()
    } else {
        format!("{hostport}:5432")
    };
    let hostport = hostport.replace("localhost", "127.0.0.1");
    hostport.parse().expect("host:port of TEST_DATABASE_URL")
}

// === UdpSink ===

/// A UDP listener collecting datagrams (e.g. statsd lines).
pub struct UdpSink {
    /// Where to send.
    pub addr: SocketAddr,
    socket: UdpSocket,
}

impl UdpSink {
    /// Bind on 127.0.0.1, random port.
    pub async fn bind() -> UdpSink {
        let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind udp");
        UdpSink {
            addr: socket.local_addr().expect("addr"),
            socket,
        }
    }

    /// Next datagram as text, or `None` after `within`.
    pub async fn recv(&self, within: Duration) -> Option<String> {
        let mut buf = vec![0u8; 65536];
        let n = tokio::time::timeout(within, self.socket.recv(&mut buf))
            .await
            .ok()?
            .ok()?;
        Some(String::from_utf8_lossy(&buf[..n]).into_owned())
    }

    /// Every datagram arriving within `within`, split into lines.
    pub async fn lines(&self, within: Duration) -> Vec<String> {
        let deadline = Instant::now() + within;
        let mut out = Vec::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.recv(left).await {
                Some(d) => out.extend(d.lines().map(str::to_owned)),
                None => break,
            }
        }
        out
    }
}

/// Percentile (0..=100) of a sorted slice.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

/// Send a raw HTTP/1.1 request (add `Connection: close`) and return the whole response text.
pub async fn raw_request(addr: SocketAddr, request: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

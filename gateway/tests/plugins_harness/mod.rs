//! Minimal end-to-end harness for the plugin tests: the REAL `admin` and `gateway` binaries on
//! one embedded SQLite store in a tempdir, an in-process echo upstream that returns the request
//! it received as JSON, and helpers to configure through the Admin API and wait until the
//! gateway has picked the change up.

#![allow(dead_code)]

use std::net::TcpListener as StdListener;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{json, Map, Value};
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio::process::{Child, Command};

/// `target/debug/<name>`, next to the test executable's `deps/` directory.
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
    dir.join(name)
}

/// A free local TCP port.
pub fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn command(
    name: &str,
    listen: &str,
    data: &std::path::Path,
    token: &str,
    log: &std::path::Path,
) -> Command {
    let path = bin(name);
    assert!(
        path.exists(),
        "{} missing: run `cargo build --workspace --bins` first",
        path.display()
    );
    let mut cmd = Command::new(path);
    for var in [
        "ADMIN_TOKEN_FILE",
        "DATABASE_URL",
        "DATABASE_URL_FILE",
        "PORT",
        "ADMIN_TOKEN_SECRET_ID",
        "DATABASE_URL_SECRET_ID",
    ] {
        cmd.env_remove(var);
    }
    let log_file = std::fs::File::create(log).expect("log file");
    cmd.arg("--listen")
        .arg(listen)
        .env("GATEWAY_DATA_DIR", data)
        .env("ADMIN_TOKEN", token)
        .env("RUST_LOG", "info")
        .stdout(Stdio::from(log_file.try_clone().expect("log file")))
        .stderr(Stdio::from(log_file))
        .kill_on_drop(true);
    cmd
}

/// The running pair of binaries plus the echo upstream.
pub struct Stack {
    pub admin: String,
    pub proxy: String,
    pub upstream: String,
    pub token: String,
    pub client: reqwest::Client,
    dir: TempDir,
    // Children are killed on drop, before the tempdir goes.
    admin_child: Child,
    gateway_child: Option<Child>,
    // Dropped after the children.
    _pg: Option<PgDb>,
}

/// A Postgres database made for one test (`TEST_DATABASE_URL` is a superuser connection),
/// dropped at the end (best effort).
pub struct PgDb {
    url: String,
    name: String,
}

fn test_database_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

impl PgDb {
    async fn create() -> Self {
        use sqlx::{Connection, Executor};
        let admin_url = test_database_url();
        let name = format!("gwtest_{}", uuid::Uuid::new_v4().simple());
        let mut conn = sqlx::PgConnection::connect(&admin_url)
            .await
            .expect("connect TEST_DATABASE_URL");
        conn.execute(format!("CREATE DATABASE \"{name}\"").as_str())
            .await
            .expect("create test database");
        let _ = conn.close().await;
        let (base, _) = admin_url
            .rsplit_once('/')
            .expect("database url with a path");
        Self {
            url: format!("{base}/{name}"),
            name,
        }
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs inside a runtime: use a thread with its own.
        let _ = std::thread::spawn(move || {
            use sqlx::{Connection, Executor};
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok(mut conn) = sqlx::PgConnection::connect(&test_database_url()).await {
                    let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                    let _ = conn.execute(sql.as_str()).await;
                    let _ = conn.close().await;
                }
            });
        })
        .join();
    }
}

/// A decoded response.
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
    pub json: Value,
}

impl Resp {
    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl Stack {
    /// Start admin (migrating the store), the echo upstream, then the gateway, on an embedded
    /// SQLite store.
    pub async fn start() -> Self {
        Self::start_on(None).await
    }

    /// The same on a fresh Postgres database.
    pub async fn start_pg() -> Self {
        Self::start_on(Some(PgDb::create().await)).await
    }

    async fn start_on(pg: Option<PgDb>) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).expect("data dir");
        let token = format!("tok-{}", uuid::Uuid::new_v4().simple());
        let admin_addr = format!("127.0.0.1:{}", free_port());
        let mut admin = command(
            "admin",
            &admin_addr,
            &data,
            &token,
            &dir.path().join("admin.log"),
        );
        if let Some(pg) = &pg {
            admin.env("DATABASE_URL", &pg.url);
        }
        let admin_child = admin.spawn().expect("spawn admin");
        let upstream = spawn_echo().await;
        let client = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client");
        let mut stack = Self {
            admin: format!("http://{admin_addr}"),
            proxy: String::new(),
            upstream,
            token,
            client,
            dir,
            admin_child,
            gateway_child: None,
            _pg: pg,
        };
        stack.wait_admin().await;
        let proxy_addr = format!("127.0.0.1:{}", free_port());
        let mut gw = command(
            "gateway",
            &proxy_addr,
            &data,
            &stack.token,
            &stack.dir.path().join("gateway.log"),
        );
        // Its status listener has a fixed default port: give each test its own.
        gw.env("STATUS_LISTEN", format!("127.0.0.1:{}", free_port()))
            .env(
                "SNAPSHOT_CACHE_PATH",
                stack.dir.path().join("snapshot.json"),
            );
        if let Some(pg) = &stack._pg {
            gw.env("DATABASE_URL", &pg.url);
        }
        let gw = gw.spawn().expect("spawn gateway");
        stack.gateway_child = Some(gw);
        stack.proxy = format!("http://{proxy_addr}");
        stack.wait_gateway().await;
        stack
    }

    /// Logs of both binaries (for failure messages).
    pub fn logs(&self) -> String {
        let read = |n: &str| std::fs::read_to_string(self.dir.path().join(n)).unwrap_or_default();
        format!(
            "--- admin.log\n{}\n--- gateway.log\n{}",
            read("admin.log"),
            read("gateway.log")
        )
    }

    async fn wait_admin(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(st)) = self.admin_child.try_wait() {
                panic!("admin exited ({st}):\n{}", self.logs());
            }
            let ok = self
                .client
                .get(format!("{}/status", self.admin))
                .header("x-auth-token", &self.token)
                .send()
                .await
                .is_ok_and(|r| r.status() == StatusCode::OK);
            if ok {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "admin not ready:\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn wait_gateway(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(Ok(Some(st))) = self.gateway_child.as_mut().map(Child::try_wait) {
                panic!("gateway exited ({st}):\n{}", self.logs());
            }
            if self
                .client
                .get(format!("{}/__nothing__", self.proxy))
                .send()
                .await
                .is_ok()
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "gateway not ready:\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// An Admin API call with a JSON body; panics unless the status is 2xx.
    pub async fn admin(&self, method: Method, path: &str, body: Value) -> Value {
        let res = self
            .client
            .request(method.clone(), format!("{}{path}", self.admin))
            .header("x-auth-token", &self.token)
            .json(&body)
            .send()
            .await
            .expect("admin request");
        let status = res.status();
        let text = res.text().await.unwrap_or_default();
        assert!(status.is_success(), "{method} {path} -> {status}: {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// An Admin API call with a raw body and content type; returns status and JSON body.
    pub async fn admin_raw(
        &self,
        method: Method,
        path: &str,
        content_type: &str,
        body: String,
    ) -> (StatusCode, Value) {
        let res = self
            .client
            .request(method, format!("{}{path}", self.admin))
            .header("x-auth-token", &self.token)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("admin request");
        let status = res.status();
        let text = res.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Create a service pointing at the echo upstream and a route on `path` (names derived
    /// from the path); returns (service, route).
    pub async fn service_route(&self, name: &str, path: &str) -> (Value, Value) {
        let svc = self
            .admin(
                Method::POST,
                "/services",
                json!({"name": name, "url": format!("{}/echo", self.upstream)}),
            )
            .await;
        let route = self
            .admin(
                Method::POST,
                &format!("/services/{name}/routes"),
                json!({"name": format!("{name}-route"), "paths": [path]}),
            )
            .await;
        (svc, route)
    }

    /// One proxied request.
    pub async fn call(&self, method: Method, path: &str, headers: &[(&str, &str)]) -> Resp {
        let mut rb = self.client.request(method, format!("{}{path}", self.proxy));
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        let res = rb.send().await.expect("proxy request");
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap_or_default();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp {
            status,
            headers,
            text,
            json,
        }
    }

    /// Repeat `call` until `done` holds (the gateway reloads asynchronously), at most 30 s.
    pub async fn until(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        done: impl Fn(&Resp) -> bool,
    ) -> Resp {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let r = self.call(method.clone(), path, headers).await;
            if done(&r) {
                return r;
            }
            assert!(
                Instant::now() < deadline,
                "condition never held; last: {} {}\n{}",
                r.status,
                r.text,
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Start the echo upstream: every request is answered 200 with
/// `{"method":..,"path":..,"headers":{lowercase name: value}}`.
async fn spawn_echo() -> String {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind upstream");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    match sock.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                    if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
                        let mut lines = head.split("\r\n");
                        let mut first = lines.next().unwrap_or_default().split(' ');
                        let method = first.next().unwrap_or_default().to_string();
                        let path = first.next().unwrap_or_default().to_string();
                        let mut headers = Map::new();
                        for l in lines {
                            if let Some((k, v)) = l.split_once(':') {
                                headers.insert(
                                    k.trim().to_ascii_lowercase(),
                                    Value::String(v.trim().to_string()),
                                );
                            }
                        }
                        let body =
                            json!({"method": method, "path": path, "headers": headers}).to_string();
                        let res = format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                            body.len()
                        );
                        let _ = sock.write_all(res.as_bytes()).await;
                        let _ = sock.shutdown().await;
                        return;
                    }
                }
            });
        }
    });
    format!("http://{addr}")
}

/// Sign a token with PyJWT (`pip install 'pyjwt[crypto]'`): `key` is the secret or a private
/// key PEM.
pub fn pyjwt(alg: &str, key: &str, claims: &Value) -> String {
    let script = "import jwt,json,sys; d=json.load(sys.stdin); print(jwt.encode(d['claims'], d['key'], algorithm=d['alg']))";
    let mut child = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 available");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin
            .write_all(
                json!({"alg": alg, "key": key, "claims": claims})
                    .to_string()
                    .as_bytes(),
            )
            .expect("write stdin");
    }
    let out = child.wait_with_output().expect("python3 ran");
    assert!(
        out.status.success(),
        "PyJWT failed (pip install 'pyjwt[crypto]'): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf8")
        .trim()
        .to_string()
}

/// A fixture file of `gateway/tests/fixtures/jwt`.
pub fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/jwt/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("fixture")
}

// === statsd ===

/// Datagrams received until `quiet` passes without one, split into lines.
pub async fn statsd_lines(sock: &UdpSocket, quiet: Duration) -> Vec<String> {
    let mut lines = Vec::new();
    let mut buf = vec![0u8; 65536];
    while let Ok(Ok(n)) = tokio::time::timeout(quiet, sock.recv(&mut buf)).await {
        lines.extend(
            String::from_utf8_lossy(&buf[..n])
                .split('\n')
                .map(String::from),
        );
    }
    lines
}

/// Replace the measured value of latency/size metric lines by `N` (checking it is a number).
pub fn normalize_metric(line: &str) -> String {
    let measured = [
        ".latency:",
        ".upstream_latency:",
        ".kong_latency:",
        ".request.size:",
        ".response.size:",
    ];
    match measured.iter().find(|m| line.contains(*m)) {
        Some(m) => {
            let (name, rest) = line.split_at(line.find(m).map(|i| i + m.len()).unwrap_or(0));
            let (value, kind) = rest.split_once('|').unwrap_or((rest, ""));
            assert!(value.parse::<u64>().is_ok(), "non-numeric value in {line}");
            format!("{name}N|{kind}")
        }
        None => line.to_string(),
    }
}

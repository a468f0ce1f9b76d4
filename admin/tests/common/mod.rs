//! Test harness: starts the REAL `admin` binary on 127.0.0.1 against a fresh Postgres database
//! (one per test, dropped afterwards) or a tempdir SQLite file, and talks to it over HTTP.

#![allow(dead_code)]

use std::{
    future::Future,
    net::TcpListener,
    path::PathBuf,
    process::Stdio,
    time::{Duration, Instant},
};

use reqwest::{Method, StatusCode};
use serde_json::Value;
use sqlx::{Connection, Executor, PgConnection};
use tempfile::TempDir;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    process::{Child, Command},
};

/// Which store the binary runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Postgres,
    Sqlite,
}

/// The superuser connection tests create their databases with.
pub fn test_database_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A Postgres database created for one test and dropped (best effort) at the end.
pub struct PgDb {
    pub url: String,
    name: String,
}

impl PgDb {
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
        let mut url = url::Url::parse(&admin_url).expect("TEST_DATABASE_URL is a URL");
        url.set_path(&format!("/{name}"));
        Self {
            url: url.to_string(),
            name,
        }
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        let admin_url = test_database_url();
        let name = self.name.clone();
        // Drop runs inside a runtime: use a fresh thread with its own runtime.
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

/// Path of the `admin` binary under test.
pub fn admin_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_admin"))
}

/// A free local TCP port.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A command for the admin binary with a clean environment for its settings.
pub fn admin_command() -> Command {
    let mut cmd = Command::new(admin_bin());
    for var in [
        "ADMIN_TOKEN",
        "ADMIN_TOKEN_FILE",
        "ADMIN_TOKEN_SECRET_ID",
        "ADMIN_TOKEN_SECRET_NAME",
        "ADMIN_DEV",
        "DATABASE_URL",
        "DATABASE_URL_FILE",
        "DATABASE_URL_SECRET_ID",
        "DATABASE_URL_SECRET_NAME",
        "DATABASE_PASSWORD",
        "DATABASE_PASSWORD_FILE",
        "PORT",
    ] {
        cmd.env_remove(var);
    }
    cmd.kill_on_drop(true);
    cmd
}

/// A running admin binary.
pub struct Server {
    pub db: Db,
    pub base: String,
    pub addr: String,
    pub token: String,
    pub client: reqwest::Client,
    child: Child,
    log: PathBuf,
    // Field order: the child is killed (dropped) before the database and the tempdir go.
    _pg: Option<PgDb>,
    _dir: TempDir,
}

impl Server {
    /// Start the binary on a fresh store and wait until `GET /status` answers.
    pub async fn start(db: Db) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let token = format!("tok-{}", uuid::Uuid::new_v4().simple());
        let pg = match db {
            Db::Postgres => Some(PgDb::create().await),
            Db::Sqlite => None,
        };
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let log = dir.path().join("admin.log");
        let log_file = std::fs::File::create(&log).expect("log file");
        let mut cmd = admin_command();
        cmd.arg("--listen")
            .arg(&addr)
            .env("ADMIN_TOKEN", &token)
            .env("GATEWAY_DATA_DIR", dir.path().join("data"))
            .stdout(Stdio::from(log_file.try_clone().expect("log file")))
            .stderr(Stdio::from(log_file));
        if let Some(pg) = &pg {
            cmd.env("DATABASE_URL", &pg.url);
        }
        let child = cmd.spawn().expect("spawn admin binary");
        let client = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("http client");
        let mut server = Self {
            db,
            base: format!("http://{addr}"),
            addr,
            token,
            client,
            child,
            log,
            _pg: pg,
            _dir: dir,
        };
        server.wait_ready().await;
        server
    }

    async fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("admin exited early ({status}); log:\n{}", self.log_text());
            }
            let ready = self
                .client
                .get(format!("{}/status", self.base))
                .header("x-auth-token", &self.token)
                .send()
                .await
                .map(|r| r.status() == StatusCode::OK)
                .unwrap_or(false);
            if ready {
                return;
            }
            if Instant::now() > deadline {
                panic!("admin did not become ready; log:\n{}", self.log_text());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Drop the test's Postgres database under the running binary (connections terminated).
    pub async fn drop_database(&self) {
        let pg = self._pg.as_ref().expect("a Postgres-backed server");
        let mut conn = PgConnection::connect(&test_database_url())
            .await
            .expect("connect");
        conn.execute(format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", pg.name).as_str())
            .await
            .expect("drop database");
        let _ = conn.close().await;
    }

    /// The binary's output so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The child's pid.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Wait for the child to exit.
    pub async fn wait_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        tokio::time::timeout(within, self.child.wait())
            .await
            .ok()
            .and_then(Result::ok)
    }

    /// An authenticated request builder.
    pub fn req(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.base))
            .header("x-auth-token", &self.token)
    }

    /// Send and decode: status, headers and JSON body (`Value::Null` when empty or not JSON).
    pub async fn send(&self, rb: reqwest::RequestBuilder) -> Resp {
        let res = rb.send().await.expect("request sent");
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.expect("body");
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp {
            status,
            headers,
            text,
            json,
        }
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.send(self.req(Method::GET, path)).await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        self.send(self.req(Method::DELETE, path)).await
    }

    /// A JSON-bodied request.
    pub async fn json(&self, method: Method, path: &str, body: Value) -> Resp {
        self.send(self.req(method, path).json(&body)).await
    }

    /// A form-bodied request (`body` already url-encoded).
    pub async fn form(&self, method: Method, path: &str, body: &str) -> Resp {
        self.send(
            self.req(method, path)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body.to_owned()),
        )
        .await
    }

    /// One raw HTTP/1.1 exchange (for requests reqwest would normalize).
    pub async fn raw(&self, request: &str) -> String {
        let mut stream = TcpStream::connect(&self.addr).await.expect("connect");
        stream.write_all(request.as_bytes()).await.expect("write");
        let mut out = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut out)).await;
        String::from_utf8_lossy(&out).into_owned()
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

    /// Assert the status, showing the body on failure; returns the JSON body.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            self.text
        );
        &self.json
    }
}

/// Run one test body against a fresh server on `db`.
pub async fn run<F, Fut>(db: Db, body: F)
where
    F: FnOnce(Server) -> Fut,
    Fut: Future<Output = ()>,
{
    let server = Server::start(db).await;
    body(server).await;
}

/// Declare each listed `async fn name(s: Server)` as two tests: `postgres::name`, `sqlite::name`.
#[macro_export]
macro_rules! both_stores {
    ($($name:ident),* $(,)?) => {
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    $crate::common::run($crate::common::Db::Postgres, super::$name).await
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    $crate::common::run($crate::common::Db::Sqlite, super::$name).await
                }
            )*
        }
    };
}

//! Test databases: a fresh Postgres database per test (dropped afterwards) or a tempdir SQLite
//! file, and the `both!` macro that runs one scenario against each.

#![allow(dead_code)]

use gateway_core::store::{EntityKind, Input, InputFormat, ParentRef, Store};
use serde_json::Value;
use sqlx::{Connection, PgConnection};

/// Superuser connection used to create and drop per-test databases.
pub fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// `url` with its database name replaced.
fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let mut out = format!("{}/{db}", &base[..host_end]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// A migrated store on a throwaway database.
pub struct TestDb {
    /// The store under test.
    pub store: Store,
    /// Its connection URL.
    pub url: String,
    pg_name: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// A new Postgres database `gwtest_<uuid>`.
    pub async fn postgres() -> TestDb {
        let name = format!("gwtest_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&admin_url())
            .await
            .expect("TEST_DATABASE_URL reachable");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .expect("create database");
        admin.close().await.ok();
        let url = with_database(&admin_url(), &name);
        let store = Store::connect(&url).await.expect("connect");
        store.migrate().await.expect("migrate");
        TestDb {
            store,
            url,
            pg_name: Some(name),
            _dir: None,
        }
    }

    /// A new SQLite file in a tempdir (in a sub-directory that `connect` must create).
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}/sub/gateway.db?mode=rwc", dir.path().display());
        let store = Store::connect(&url).await.expect("connect");
        store.migrate().await.expect("migrate");
        TestDb {
            store,
            url,
            pg_name: None,
            _dir: Some(dir),
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(name) = self.pg_name.take() else {
            return;
        };
        // Best effort, on a separate thread: Drop cannot await inside the test's runtime.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let mut admin = PgConnection::connect(&admin_url()).await.ok()?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin)
                    .await
                    .ok()?;
                admin.close().await.ok()
            })
        })
        .join();
    }
}

/// A JSON body.
pub fn json(body: Value) -> Input {
    Input {
        body,
        format: InputFormat::Json,
    }
}

/// A form body (nested JSON with string leaves).
pub fn form(body: Value) -> Input {
    Input {
        body,
        format: InputFormat::Form,
    }
}

/// A nested-endpoint parent.
pub fn parent(kind: EntityKind, key: &str) -> ParentRef {
    ParentRef {
        kind,
        key: key.to_string(),
    }
}

/// `doc["id"]` as a string.
pub fn id(doc: &Value) -> String {
    doc["id"].as_str().expect("id").to_string()
}

/// Run `scenario(&Store)` as two tests: `<name>::postgres` and `<name>::sqlite`.
#[macro_export]
macro_rules! both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                let db = $crate::common::TestDb::postgres().await;
                super::$name(&db).await;
                db.store.close().await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                let db = $crate::common::TestDb::sqlite().await;
                super::$name(&db).await;
                db.store.close().await;
            }
        }
    )*};
}

#[test]
fn database_urls() {
    assert_eq!(
        with_database("postgres://u@h:5432/postgres", "x"),
        "postgres://u@h:5432/x"
    );
    assert_eq!(
        with_database("postgres://u@h/postgres?sslmode=disable", "x"),
        "postgres://u@h/x?sslmode=disable"
    );
    assert_eq!(with_database("postgres://u@h", "x"), "postgres://u@h/x");
}

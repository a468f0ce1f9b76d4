//! Start-up of the real `gateway` binary: configuration errors and the status listener.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::{bin, dead_database_url, free_port};
use serde_json::Value;

/// Run the binary with `env` and expect it to exit on its own with `code`.
async fn exits_with(env: &[(&str, &str)], code: i32) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = tokio::process::Command::new(bin("gateway"));
    cmd.env_remove("PORT")
        .env_remove("GATEWAY_CA_BUNDLE")
        .env("GATEWAY_DATA_DIR", dir.path())
        .env("DATABASE_URL", dead_database_url())
        .env("STATUS_LISTEN", format!("127.0.0.1:{}", free_port()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = cmd.spawn().expect("spawn");
    let out = tokio::time::timeout(Duration::from_secs(20), child.wait_with_output())
        .await
        .expect("exits by itself")
        .expect("output");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(code), "{text}");
    text
}

#[tokio::test]
async fn configuration_errors_exit_2() {
    let port = free_port().to_string();
    let text = exits_with(
        &[
            ("GATEWAY_CA_BUNDLE", "/nonexistent/ca.pem"),
            ("PORT", &port),
        ],
        2,
    )
    .await;
    assert!(text.contains("GATEWAY_CA_BUNDLE"), "{text}");
    let text = exits_with(&[("PORT", "not-a-port")], 2).await;
    assert!(text.contains("invalid PORT"), "{text}");
    let text = exits_with(&[("PORT", &port), ("TRUSTED_IPS", "10.0.0.0/99")], 2).await;
    assert!(text.contains("invalid prefix"), "{text}");
}

#[tokio::test]
async fn port_env_and_status_listener() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let status_port = free_port();
    let mut child = tokio::process::Command::new(bin("gateway"))
        .env_remove("GATEWAY_CA_BUNDLE")
        .env("PORT", port.to_string())
        .env("STATUS_LISTEN", format!("127.0.0.1:{status_port}"))
        .env("GATEWAY_DATA_DIR", dir.path())
        .env("DATABASE_URL", dead_database_url())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn");
    let status = common::wait_for(Duration::from_secs(20), || async {
        let res = reqwest::get(format!("http://127.0.0.1:{status_port}/status"))
            .await
            .ok()?;
        res.json::<Value>().await.ok()
    })
    .await
    .expect("status answers");
    assert_eq!(status["ready"], false);
    assert_eq!(status["database"]["reachable"], false);
    let ready = reqwest::get(format!("http://127.0.0.1:{status_port}/status/ready"))
        .await
        .expect("ready");
    assert_eq!(ready.status(), 503);
    // The proxy port from PORT answers (no configuration: Kong's 404).
    let res = reqwest::get(format!("http://127.0.0.1:{port}/status"))
        .await
        .expect("proxy");
    assert_eq!(res.status(), 404);
    let _ = child.kill().await;
}

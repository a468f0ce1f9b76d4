//! Start-up and shutdown of the real `admin` binary: token refusal, development tokens,
//! token files and graceful shutdown on SIGTERM (embedded store in a tempdir).

mod common;

use std::{process::Stdio, time::Duration};

use common::{admin_command, free_port};
use tokio::io::{AsyncBufReadExt, BufReader};

#[tokio::test]
async fn refuses_to_start_without_token() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = admin_command()
        .arg("--listen")
        .arg(format!("127.0.0.1:{}", free_port()))
        .env("GATEWAY_DATA_DIR", dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output();
    let out = tokio::time::timeout(Duration::from_secs(30), out)
        .await
        .expect("exits")
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("ADMIN_TOKEN"), "{stderr}");

    // An empty token is no token.
    let out = admin_command()
        .env("ADMIN_TOKEN", "")
        .env("GATEWAY_DATA_DIR", dir.path())
        .output();
    let out = tokio::time::timeout(Duration::from_secs(30), out)
        .await
        .expect("exits")
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
}

/// Start in dev mode (flag or env) and return the printed token once the API answers with it.
async fn dev_token(use_flag: bool) {
    let dir = tempfile::tempdir().expect("tempdir");
    let addr = format!("127.0.0.1:{}", free_port());
    let mut cmd = admin_command();
    cmd.arg("--listen")
        .arg(&addr)
        .env("GATEWAY_DATA_DIR", dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if use_flag {
        cmd.arg("--dev");
    } else {
        cmd.env("ADMIN_DEV", "1");
    }
    let mut child = cmd.spawn().expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let token = tokio::time::timeout(Duration::from_secs(30), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(t) = line.split("generated admin token: ").nth(1) {
                return t.trim().to_owned();
            }
        }
        panic!("no token printed");
    })
    .await
    .expect("token printed");
    assert!(token.len() >= 32);
    // Keep draining stdout so the child never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let url = format!("http://{addr}/status");
    let mut ok = false;
    for _ in 0..600 {
        if let Ok(r) = client.get(&url).header("x-auth-token", &token).send().await {
            ok = r.status() == 200;
            if ok {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ok, "dev token accepted");
    let r = client.get(&url).send().await.expect("request");
    assert_eq!(r.status(), 401);
    let _ = child.kill().await;
}

#[tokio::test]
async fn dev_flag_generates_a_token() {
    dev_token(true).await;
}

#[tokio::test]
async fn admin_dev_env_generates_a_token() {
    dev_token(false).await;
}

#[tokio::test]
async fn token_file_and_graceful_shutdown() {
    let dir = tempfile::tempdir().expect("tempdir");
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "from-file-token\n").expect("write token");
    let addr = format!("127.0.0.1:{}", free_port());
    let mut child = admin_command()
        .arg("--listen")
        .arg(&addr)
        .env("ADMIN_TOKEN_FILE", &token_file)
        .env("GATEWAY_DATA_DIR", dir.path().join("data"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let mut ok = false;
    for _ in 0..600 {
        if let Ok(r) = client
            .get(format!("http://{addr}/"))
            .header("x-auth-token", "from-file-token")
            .send()
            .await
        {
            ok = r.status() == 200;
            if ok {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ok, "token from ADMIN_TOKEN_FILE accepted");
    assert!(
        dir.path().join("data").join("gateway.db").exists(),
        "embedded store created under GATEWAY_DATA_DIR"
    );

    let pid = child.id().expect("pid");
    let killed = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status()
        .expect("kill");
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(15), child.wait())
        .await
        .expect("exits")
        .expect("wait");
    assert!(status.success(), "graceful exit, got {status}");
}

#[tokio::test]
async fn port_env_selects_the_port() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let mut child = admin_command()
        .env("PORT", port.to_string())
        .env("ADMIN_TOKEN", "port-token")
        .env("GATEWAY_DATA_DIR", dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let mut ok = false;
    for _ in 0..600 {
        if let Ok(r) = client
            .get(format!("http://127.0.0.1:{port}/status"))
            .header("x-auth-token", "port-token")
            .send()
            .await
        {
            ok = r.status() == 200;
            if ok {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = child.kill().await;
    assert!(ok, "admin listens on $PORT");

    let out = admin_command()
        .env("PORT", "not-a-port")
        .env("ADMIN_TOKEN", "port-token")
        .env("GATEWAY_DATA_DIR", dir.path())
        .output();
    let out = tokio::time::timeout(Duration::from_secs(30), out)
        .await
        .expect("exits")
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("PORT"));
}

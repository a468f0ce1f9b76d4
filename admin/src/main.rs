//! `admin` binary: CLI, env and wiring only; the Admin API lives in the `admin` library.
//!
//! * `--listen ADDR` (else `0.0.0.0:$PORT`, `PORT` default 8001).
//! * `DATABASE_URL` (Postgres) or the embedded SQLite store under `GATEWAY_DATA_DIR`.
//! * `ADMIN_TOKEN` / `ADMIN_TOKEN_FILE` (or Secret Manager, see `gateway_core::secrets`). With
//!   no token the binary refuses to start (exit code 2) unless `--dev` / `ADMIN_DEV=1`, which
//!   generates a random token and prints it.
//! * Migrates the store at start; stops gracefully on SIGTERM/SIGINT.

use std::{net::SocketAddr, process::ExitCode, sync::Arc};

use admin::{listener::CountingListener, AdminToken, AppState, Counters, NodeInfo};
use anyhow::Context;
use clap::Parser;
use gateway_core::secrets;
use rand::{distributions::Alphanumeric, Rng};

/// Exit code for configuration the binary refuses to start with.
const EXIT_CONFIG: u8 = 2;

/// Kong-compatible Admin API of the gateway.
#[derive(Debug, Parser)]
#[command(name = "admin", version, about)]
struct Cli {
    /// Address to listen on; overrides `PORT` (default `0.0.0.0:$PORT`, PORT default 8001).
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// Development mode (also `ADMIN_DEV=1`): without a configured token, generate and print one.
    #[arg(long)]
    dev: bool,
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_writer(std::io::stdout)
        .init();
}

fn env_flag(name: &str) -> bool {
    std::env::var(name)
        .map(|v| {
            matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "1" | "true" | "yes" | "on"
            )
        })
        .unwrap_or(false)
}

fn listen_addr(cli: &Cli) -> anyhow::Result<SocketAddr> {
    if let Some(addr) = cli.listen {
        return Ok(addr);
    }
    let port = match std::env::var("PORT") {
        Ok(p) if !p.trim().is_empty() => p
            .trim()
            .parse::<u16>()
            .with_context(|| format!("PORT={p:?} is not a port"))?,
        _ => 8001,
    };
    Ok(SocketAddr::from(([0, 0, 0, 0], port)))
}

fn random_token() -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(40)
        .map(char::from)
        .collect()
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown signal received, draining connections");
}

async fn run(addr: SocketAddr, token: AdminToken) -> anyhow::Result<()> {
    let url = secrets::resolve_database_url()
        .await
        .context("resolving DATABASE_URL")?;
    if url.starts_with("sqlite:") {
        let dir = secrets::data_dir();
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("creating data dir {}", dir.display()))?;
    }
    let store = admin::backend::connect(&url)
        .await
        .context("connecting to the store")?;
    tracing::info!(
        store.postgres = store.is_postgres(),
        "store connected and migrated"
    );

    let tcp = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    let local = tcp.local_addr().context("reading the bound address")?;
    let counters = Arc::new(Counters::default());
    let state = AppState::new(store, token)
        .with_node(NodeInfo::current(vec![local.to_string()]))
        .with_counters(counters.clone());
    tracing::info!(listen = %local, "admin API listening");
    axum::serve(CountingListener::new(tcp, counters), admin::app(state))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("serving")?;
    tracing::info!("admin API stopped");
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let dev = cli.dev || env_flag("ADMIN_DEV");
    let token = match secrets::resolve_admin_token().await {
        Ok(Some(t)) => t,
        Ok(None) if dev => {
            let t = random_token();
            println!("admin: development mode, generated admin token: {t}");
            tracing::warn!("no ADMIN_TOKEN configured: using a random development token");
            t
        }
        Ok(None) => {
            eprintln!(
                "admin: refusing to start without an admin token: set ADMIN_TOKEN or \
                 ADMIN_TOKEN_FILE (or pass --dev / ADMIN_DEV=1 to generate a development token)"
            );
            return ExitCode::from(EXIT_CONFIG);
        }
        Err(err) => {
            eprintln!("admin: cannot read the admin token: {err:#}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let addr = match listen_addr(&cli) {
        Ok(addr) => addr,
        Err(err) => {
            eprintln!("admin: {err:#}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    match run(addr, AdminToken::new(token)).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %format!("{err:#}"), "admin failed");
            eprintln!("admin: {err:#}");
            ExitCode::FAILURE
        }
    }
}

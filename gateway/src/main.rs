//! `gateway` binary: CLI, env and wiring only (the engine is the `gateway` library).

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use gateway::proxy::{Proxy, ProxyConfig};
use gateway::reload::{self, ReloadConfig};
use gateway::server::{self, ServerConfig};
use gateway::state::Shared;
use gateway::status;
use gateway::trusted::TrustedIps;
use tokio::net::TcpListener;

/// mimalloc: per-thread free lists make the many small, short-lived allocations of a request
/// (header maps, bodies, futures) cheaper than glibc malloc, and it returns memory promptly.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Kong-compatible API gateway (data plane).
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Proxy listen address; default `0.0.0.0:$PORT` (PORT default 8080).
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Status listen address (`/status`, `/status/ready`).
    #[arg(long, env = "STATUS_LISTEN", default_value = "127.0.0.1:8100")]
    status_listen: SocketAddr,
    /// Seconds in-flight requests get to finish after SIGTERM/SIGINT.
    #[arg(long, env = "DRAIN_TIMEOUT_SECS", default_value_t = 30)]
    drain_timeout_secs: u64,
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let json = std::env::var("LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stdout);
    if json {
        builder.json().flatten_event(true).init();
    } else {
        builder.init();
    }
}

fn listen_addr(args: &Args) -> anyhow::Result<SocketAddr> {
    if let Some(addr) = args.listen {
        return Ok(addr);
    }
    let port: u16 = match std::env::var("PORT") {
        Ok(p) if !p.is_empty() => p
            .parse()
            .map_err(|_| anyhow::anyhow!("invalid PORT '{p}'"))?,
        _ => 8080,
    };
    Ok(SocketAddr::from(([0, 0, 0, 0], port)))
}

async fn run(args: Args) -> anyhow::Result<()> {
    let listen = listen_addr(&args)?;
    let trusted_ips = TrustedIps::parse(&std::env::var("TRUSTED_IPS").unwrap_or_default())
        .map_err(anyhow::Error::msg)?;
    let access_log =
        !std::env::var("ACCESS_LOG").is_ok_and(|v| matches!(v.as_str(), "off" | "false" | "0"));
    let database_url = gateway_core::secrets::resolve_database_url().await?;
    // A bad CA bundle is a configuration error, not something to discover per request.
    gateway::upstream::Upstreams::from_env()?;

    let shared = Shared::new();
    let status_listener = TcpListener::bind(args.status_listen).await?;
    tokio::spawn(status::serve(status_listener, shared.clone()));
    let listener = TcpListener::bind(listen).await?;
    tracing::info!(proxy = %listener.local_addr()?, status = %args.status_listen, "gateway listening");

    let _reload = reload::start(shared.clone(), ReloadConfig::from_env(database_url)).await;
    let proxy = Arc::new(Proxy::new(
        shared,
        ProxyConfig {
            trusted_ips,
            access_log,
        },
    ));
    let config = ServerConfig {
        drain_timeout: Duration::from_secs(args.drain_timeout_secs),
        ..ServerConfig::default()
    };
    server::serve(listener, proxy, config, server::shutdown_signal()).await;
    Ok(())
}

/// One CPU available (e.g. `taskset`, a 1-vCPU container): a current-thread runtime, so the
/// accept loop, the connections and the upstream pool share one thread with no cross-thread
/// wake-ups; otherwise one worker per CPU.
fn runtime_builder() -> tokio::runtime::Builder {
    let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    if cpus == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    init_tracing();
    let runtime = match runtime_builder().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("gateway: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "gateway failed");
            ExitCode::from(2)
        }
    }
}

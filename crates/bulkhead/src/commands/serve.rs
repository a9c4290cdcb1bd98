//! `bulkhead serve`: the whole platform in one process, state in a data directory.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use bulkhead_api::AppState;
use bulkhead_registry::{Registry, Settings};
use bulkhead_sigv4::Verifier;
use bulkhead_store::Store;

use crate::keys;

#[derive(clap::Args)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free one (printed at start).
    #[arg(long, env = "BULKHEAD_LISTEN", default_value = "127.0.0.1:9000")]
    listen: SocketAddr,
    /// Where state lives (database, code packages). Default: /var/lib/bulkhead as root,
    /// else $XDG_DATA_HOME/bulkhead or ~/.local/share/bulkhead.
    #[arg(long, env = "BULKHEAD_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Region that appears in ARNs and in the signing scope.
    #[arg(long, env = "BULKHEAD_REGION", default_value = "us-east-1")]
    region: String,
    /// Account id that appears in ARNs (12 digits).
    #[arg(long, env = "BULKHEAD_ACCOUNT_ID", default_value = "000000000000")]
    account_id: String,
    /// File of `ACCESS_KEY_ID:SECRET` lines the server accepts (also BULKHEAD_ACCESS_KEYS=id:secret,...).
    #[arg(long, env = "BULKHEAD_ACCESS_KEYS_FILE")]
    access_keys_file: Option<PathBuf>,
    /// Account-wide concurrency limit.
    #[arg(long, env = "BULKHEAD_ACCOUNT_CONCURRENCY", default_value_t = 1000)]
    account_concurrency: u32,
}

fn default_data_dir() -> PathBuf {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    // The effective uid, read from /proc rather than through an unsafe libc call.
    let root = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false);
    if root {
        return PathBuf::from("/var/lib/bulkhead");
    }
    env("XDG_DATA_HOME")
        .or_else(|| env("HOME").map(|h| h.join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."))
        .join("bulkhead")
}

fn check_settings(args: &ServeArgs) -> anyhow::Result<()> {
    if args.account_id.len() != 12 || !args.account_id.bytes().all(|b| b.is_ascii_digit()) {
        bail!("--account-id must be 12 digits (got {:?})", args.account_id);
    }
    let region_ok = bulkhead_model::FunctionRef::parse(&format!(
        "arn:aws:lambda:{}:{}:function:x",
        args.region, args.account_id
    ))
    .is_ok();
    if !region_ok {
        bail!("--region must look like us-east-1 (got {:?})", args.region);
    }
    if args.account_concurrency == 0 {
        bail!("--account-concurrency must be at least 1");
    }
    Ok(())
}

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("BULKHEAD_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    check_settings(&args)?;

    let mut keys = keys::load(
        args.access_keys_file.as_deref(),
        std::env::var("BULKHEAD_ACCESS_KEYS").ok().as_deref(),
    )?;
    if keys.is_empty() {
        if !args.listen.ip().is_loopback() {
            bail!(
                "no access keys configured: set --access-keys-file or BULKHEAD_ACCESS_KEYS before listening on {} (the local demo key pair is only accepted on loopback)",
                args.listen
            );
        }
        tracing::warn!(
            access_key_id = keys::LOCAL_ACCESS_KEY_ID,
            "no access keys configured: accepting the documented local key pair (loopback only)"
        );
        keys.insert(
            keys::LOCAL_ACCESS_KEY_ID.into(),
            keys::LOCAL_SECRET_ACCESS_KEY.into(),
        );
    }

    let data_dir = args.data_dir.clone().unwrap_or_else(default_data_dir);
    create_private_dir(&data_dir)?;
    let store = Store::open(&data_dir.join("bulkhead.db"))
        .with_context(|| format!("opening the database in {}", data_dir.display()))?;
    let settings = Settings {
        region: args.region.clone(),
        account_id: args.account_id.clone(),
        account_concurrency: args.account_concurrency,
    };
    let registry = Registry::open(store, data_dir.join("code"), settings)
        .context("opening the function registry")?;
    let verifier = Verifier::new(args.region.clone(), "lambda", keys);
    let state = AppState::new(Arc::new(registry), Arc::new(verifier));

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("binding {}", args.listen))?;
        let addr = listener.local_addr().context("reading the bound address")?;
        tracing::info!(%addr, data_dir = %data_dir.display(), "serving the Lambda API");
        // Tests and scripts wait for this exact line to learn the port.
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "bulkhead listening on http://{addr}")?;
        stdout.flush()?;
        drop(stdout);
        bulkhead_api::serve(listener, state, shutdown_signal())
            .await
            .context("serving")?;
        tracing::info!("stopped");
        Ok(())
    })
}

fn create_private_dir(dir: &std::path::Path) -> anyhow::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    let mode = std::fs::metadata(dir)?.permissions().mode();
    if mode & 0o077 != 0 {
        tracing::warn!(dir = %dir.display(), mode = format!("{:o}", mode & 0o777), "data directory is readable by other users");
    }
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot install signal handlers; stop the server with SIGKILL");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    tracing::info!("shutting down");
}

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
    /// Where `bulkhead runtime install` put the runtimes. Default: <data-dir>/runtimes.
    #[arg(long, env = "BULKHEAD_RUNTIMES_DIR")]
    runtimes_dir: Option<PathBuf>,
    /// Idle environments are reclaimed after this many seconds.
    #[arg(long, env = "BULKHEAD_IDLE_TIMEOUT", default_value_t = 600)]
    idle_timeout: u64,
    /// Memory that environments may reserve in total (their configured MemorySize), in MiB.
    /// Default: twice the host's RAM.
    #[arg(long, env = "BULKHEAD_MEMORY_BUDGET_MB")]
    memory_budget_mb: Option<u64>,
    /// Threads serving requests. Default: half the cores (at least one): the platform only
    /// relays, and the runtimes in environments need the other cores. On 2 cores, one worker
    /// gave 131 µs p50 warm invokes against 170 µs with two (docs/benchmarks.md).
    #[arg(long, env = "BULKHEAD_WORKER_THREADS")]
    worker_threads: Option<usize>,
    /// Initialised, never-used environments kept per tenant-isolated function (after its first
    /// invocation), so a new tenant's first invocation skips Init. 0 turns them off.
    #[arg(long, env = "BULKHEAD_SPARE_ENVIRONMENTS", default_value_t = 1)]
    spare_environments: usize,
    /// Tenant-neutral sandboxes kept ready for cold starts.
    #[arg(long, env = "BULKHEAD_WARM_POOL", default_value_t = 2)]
    warm_pool: usize,
    /// First host uid of the range environments map to (two per environment). Default: a range
    /// derived from the data directory, so servers on one host do not overlap.
    #[arg(long, env = "BULKHEAD_UID_BASE")]
    uid_base: Option<u32>,
}

pub fn default_data_dir() -> PathBuf {
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
    let logs = crate::logs::Logs::to_stderr().context("starting the log writer")?;
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("BULKHEAD_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(logs.clone())
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let served = serve(args);
    logs.flush();
    served
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
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
    let mut state = AppState::new(Arc::new(registry), Arc::new(verifier));

    let mut builder = tokio::runtime::Builder::new_multi_thread();
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    builder.worker_threads(args.worker_threads.unwrap_or(cores / 2).max(1));
    let runtime = builder
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        state.invoker = environments(&args, &data_dir);
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
        let invoker = state.invoker.clone();
        bulkhead_api::serve(listener, state, shutdown_signal())
            .await
            .context("serving")?;
        if let Some(invoker) = invoker {
            invoker.router.shutdown(SHUTDOWN_GRACE).await;
        }
        tracing::info!("stopped");
        Ok(())
    })
}

/// The data directory is the server's alone (0700): environments reach their code through
/// mounts the server clones for them, never through paths into it.
fn create_private_dir(dir: &std::path::Path) -> anyhow::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    let mode = std::fs::metadata(dir)?.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        tracing::warn!(dir = %dir.display(), mode = format!("{mode:o}"), "data directory is open to other users");
    }
    Ok(())
}

/// How long a stopping server waits for its environments to end and release their cgroups
/// and ids; whatever is left is swept by the next start on the same data directory.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

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

/// A short, stable name for this data directory: per-server cgroup parents and uid ranges.
fn data_dir_tag(data_dir: &std::path::Path) -> u64 {
    let canonical = std::fs::canonicalize(data_dir).unwrap_or_else(|_| data_dir.to_path_buf());
    // FNV-1a: stable across builds, unlike std's hasher.
    canonical
        .as_os_str()
        .as_encoded_bytes()
        .iter()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
        })
}

fn mem_total_mb() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(4096, |kib| kib / 1024)
}

/// The sandbox backend and router, or `None` (with the reason logged) where this host cannot
/// run environments; the control plane works either way.
fn environments(
    args: &ServeArgs,
    data_dir: &std::path::Path,
) -> Option<Arc<bulkhead_api::Invoker>> {
    use bulkhead_router::{Limits, Router, RouterConfig};
    use bulkhead_sandbox::ns::{NsBackend, NsConfig};
    let tag = data_dir_tag(data_dir);
    let config = NsConfig {
        // Each environment mounts its root over this empty directory in its own mount namespace;
        // it must be reachable by environments' unprivileged ids, so it lives in /run, not in
        // the private data directory.
        state_dir: std::path::PathBuf::from(format!("/run/bulkhead/{:08x}", tag as u32)),
        uid_base: args
            .uid_base
            .unwrap_or(1_000_000 + (tag % 1024) as u32 * 65_536),
        max_environments: 32_768,
        warm_pool: args.warm_pool,
        cgroup_parent: format!("bulkhead-{:08x}", tag as u32),
        ..NsConfig::default()
    };
    let backend = match NsBackend::new(config) {
        Ok(b) => Arc::new(b),
        Err(e) => {
            tracing::warn!(error = %format!("{:#}", anyhow::Error::from(e)), "execution environments are unavailable; Invoke will fail (see `bulkhead doctor`)");
            return None;
        }
    };
    backend.refill();
    let router_config = RouterConfig {
        limits: Limits {
            account_concurrency: args.account_concurrency,
            memory_budget_mb: args
                .memory_budget_mb
                // Configured memory is a ceiling, not what an environment uses (an idle Python
                // one holds ~10 MB), so the default budget overcommits RAM twice.
                .unwrap_or_else(|| mem_total_mb() * 2),
        },
        idle_timeout: std::time::Duration::from_secs(args.idle_timeout),
        spares_per_function: args.spare_environments,
        ..RouterConfig::default()
    };
    let router = Router::new(backend, router_config);
    let runtimes = args
        .runtimes_dir
        .clone()
        .unwrap_or_else(|| data_dir.join("runtimes"));
    Some(Arc::new(bulkhead_api::Invoker::new(router, runtimes)))
}

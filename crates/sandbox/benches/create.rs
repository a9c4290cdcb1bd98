//! Environment creation, measured: `cargo bench -p bulkhead-sandbox --bench create` as root,
//! after `bash scripts/build-release.sh bulkhead-fixtures` (scripts/bench.sh does both).
//!
//! - latency from `create()` to the first Runtime API request of a trivial `bootstrap`
//!   (`noop-bootstrap`), p50/p99, from a warm pool and with no pool, beside the floor measured in
//!   the same run: `unshare` of the same namespaces + exec of the same binary, until it exits;
//! - creation rate: environments created per second with two creators per core
//!   (`BENCH_CREATORS`), so that one creator's waits on its agent leave no core idle;
//! - memory per idle environment beyond the runtime's own.
//!
//! Not a test: it asserts nothing and prints a Markdown table for docs/benchmarks.md.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use bulkhead_sandbox::ns::{NsBackend, NsConfig};
use bulkhead_sandbox::{Backend, EnvSpec};
use tokio::io::AsyncReadExt;

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

struct Stats {
    p50: Duration,
    p99: Duration,
}

fn stats(mut v: Vec<Duration>) -> Stats {
    v.sort();
    Stats {
        p50: percentile(&v, 0.5),
        p99: percentile(&v, 0.99),
    }
}

fn backend(state: &std::path::Path, pool: usize, agent: PathBuf, parent: &str) -> NsBackend {
    NsBackend::new(NsConfig {
        agent,
        state_dir: state.to_path_buf(),
        uid_base: 3_000_000,
        max_environments: 1024,
        warm_pool: pool,
        cgroup_parent: parent.into(),
    })
    .expect("backend (run as root)")
}

fn spec(code: &std::path::Path) -> EnvSpec {
    EnvSpec {
        label: "bench".into(),
        code_dir: code.to_path_buf(),
        runtime_dir: None,
        layers_dir: None,
        memory_mb: 128,
        tmp_mb: 16,
        pids_max: 64,
        argv: vec!["/var/task/bootstrap".into()],
        env: vec![("AWS_LAMBDA_RUNTIME_API".into(), "127.0.0.1:9001".into())],
    }
}

/// create() → first byte of the bootstrap's first Runtime API request; then teardown.
async fn one(backend: &NsBackend, code: &std::path::Path) -> (Duration, Duration) {
    let t0 = Instant::now();
    let mut env = backend.create(spec(code)).await.expect("create");
    let mut conn = env.next_connection().await.expect("connection");
    let mut byte = [0u8; 1];
    conn.read_exact(&mut byte).await.expect("request");
    let first_request = t0.elapsed();
    env.kill();
    env.wait().await;
    (first_request, t0.elapsed())
}

fn floor_once(bootstrap: &std::path::Path) -> Duration {
    let t0 = Instant::now();
    let status = std::process::Command::new("unshare")
        .args([
            "--user",
            "--map-root-user",
            "--mount",
            "--pid",
            "--fork",
            "--net",
            "--ipc",
            "--uts",
            "--cgroup",
        ])
        .arg(bootstrap)
        .env("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001")
        .stderr(std::process::Stdio::null())
        .status()
        .expect("unshare");
    // The bootstrap finds nothing listening and exits 1: the floor is namespaces + exec + exit.
    assert!(!status.success());
    t0.elapsed()
}

fn mem_available_kib() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemAvailable:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn pss_kib(pid: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("Pss:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    let release = target_dir().join("release");
    let agent = release.join("bulkhead-agent");
    let bootstrap = release.join("noop-bootstrap");
    assert!(
        agent.is_file() && bootstrap.is_file(),
        "build first: bash scripts/build-release.sh bulkhead-fixtures"
    );
    let code = tempfile::tempdir().expect("code");
    std::fs::copy(&bootstrap, code.path().join("bootstrap")).expect("copy bootstrap");
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let creators: usize = std::env::var("BENCH_CREATORS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2 * cores);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let state = tempfile::tempdir().expect("state");
    let pid = std::process::id();

    let floor = stats(
        (0..rounds)
            .map(|_| floor_once(&code.path().join("bootstrap")))
            .collect(),
    );

    let (cold, warm, rate, memory) = rt.block_on(async {
        let cold_backend = backend(
            state.path(),
            0,
            agent.clone(),
            &format!("bulkhead-bench-{pid}-cold"),
        );
        let mut cold = Vec::new();
        for _ in 0..rounds {
            cold.push(one(&cold_backend, code.path()).await.0);
        }
        drop(cold_backend);

        let warm_backend = backend(
            state.path(),
            4,
            agent.clone(),
            &format!("bulkhead-bench-{pid}-warm"),
        );
        warm_backend.refill();
        let mut warm = Vec::new();
        for _ in 0..rounds {
            // Sporadic traffic: the pool refills between requests, as it would between tenants.
            while warm_backend.warm() < 4 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            warm.push(one(&warm_backend, code.path()).await.0);
        }
        drop(warm_backend);

        // Creation rate: `creators` at once, no pool, full create→first request→teardown cycles.
        let rate_backend = std::sync::Arc::new(backend(
            state.path(),
            0,
            agent.clone(),
            &format!("bulkhead-bench-{pid}-rate"),
        ));
        let t0 = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..creators {
            let (b, code) = (rate_backend.clone(), code.path().to_path_buf());
            tasks.push(tokio::spawn(async move {
                let mut n = 0u32;
                while t0.elapsed() < Duration::from_secs(3) {
                    one(&b, &code).await;
                    n += 1;
                }
                n
            }));
        }
        let mut created = 0;
        for t in tasks {
            created += t.await.expect("creator");
        }
        let rate = f64::from(created) / t0.elapsed().as_secs_f64();

        // Creation alone: the creators bring up 200 environments to their first Runtime API
        // request and keep them; teardown happens after the clock stops. The kernel tears the
        // cycles' network namespaces down asynchronously, for seconds after they ended: let that
        // finish first, or this would measure the previous phase's teardown too (the cycles
        // above count teardown).
        tokio::time::sleep(Duration::from_secs(3)).await;
        let t0 = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..creators {
            let (b, code) = (rate_backend.clone(), code.path().to_path_buf());
            tasks.push(tokio::spawn(async move {
                let mut live = Vec::new();
                for _ in 0..200 / creators {
                    let mut env = b.create(spec(&code)).await.expect("create");
                    let mut conn = env.next_connection().await.expect("connection");
                    let mut byte = [0u8; 1];
                    conn.read_exact(&mut byte).await.expect("request");
                    live.push((env, conn));
                }
                live
            }));
        }
        let mut live = Vec::new();
        for t in tasks {
            live.extend(t.await.expect("creator"));
        }
        let creation_rate = live.len() as f64 / t0.elapsed().as_secs_f64();
        for (env, _) in &live {
            env.kill();
        }
        for (mut env, _) in live {
            env.wait().await;
        }
        drop(rate_backend);

        // Memory: N idle environments, each runtime blocked in /next on a connection we hold.
        let n = 100;
        let mem_backend = backend(
            state.path(),
            0,
            agent.clone(),
            &format!("bulkhead-bench-{pid}-mem"),
        );
        // Let the kernel finish freeing what the rate runs left behind (namespaces are torn down
        // asynchronously), or it shows up as negative cost here.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let before = mem_available_kib();
        let mut envs = Vec::new();
        for _ in 0..n {
            let mut env = mem_backend.create(spec(code.path())).await.expect("create");
            let conn = env.next_connection().await.expect("conn");
            envs.push((env, conn));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let after = mem_available_kib();
        let (mut agent_pss, mut runtime_pss) = (0, 0);
        for (env, _) in &envs {
            let procs = std::fs::read_to_string(format!(
                "/sys/fs/cgroup/memory/bulkhead-bench-{pid}-mem/env-{}/cgroup.procs",
                env.id()
            ))
            .unwrap_or_default();
            let pids: Vec<&str> = procs.lines().collect();
            if let [agent_pid, runtime_pid, ..] = pids.as_slice() {
                agent_pss += pss_kib(agent_pid);
                runtime_pss += pss_kib(runtime_pid);
            }
        }
        for (env, _) in &envs {
            env.kill();
        }
        for (mut env, _) in envs {
            env.wait().await;
        }
        let delta = before.saturating_sub(after) as f64 / n as f64;
        (
            stats(cold),
            stats(warm),
            (rate, creation_rate),
            (
                delta,
                agent_pss as f64 / n as f64,
                runtime_pss as f64 / n as f64,
            ),
        )
    });

    println!("| measure (n={rounds}) | p50 | p99 | vs floor p50 |");
    println!("|---|---|---|---|");
    println!(
        "| floor: `unshare` (user, mount, pid, net, ipc, uts, cgroup) + exec of the bootstrap, to exit | {} | {} | 1.00× |",
        ms(floor.p50),
        ms(floor.p99)
    );
    let ratio = |s: &Stats| s.p50.as_secs_f64() / floor.p50.as_secs_f64();
    println!(
        "| create → first Runtime API request, warm pool | {} | {} | {:.2}× |",
        ms(warm.p50),
        ms(warm.p99),
        ratio(&warm)
    );
    println!(
        "| create → first Runtime API request, no pool (namespaces, maps, cgroup attach on the path) | {} | {} | {:.2}× |",
        ms(cold.p50),
        ms(cold.p99),
        ratio(&cold)
    );
    println!();
    let (rate, creation_rate) = rate;
    println!(
        "creation rate, {creators} creators on {cores} cores, create → first Runtime API request, 200 environments kept: {creation_rate:.0}/s ({:.0}/s per core)",
        creation_rate / cores as f64
    );
    println!(
        "full cycles, {creators} creators on {cores} cores, create → first request → teardown: {rate:.0}/s ({:.0}/s per core)",
        rate / cores as f64
    );
    let (delta, agent, runtime) = memory;
    println!(
        "idle environments: ΔMemAvailable {:.2} MiB each; agent PSS {:.2} MiB, runtime (noop-bootstrap) PSS {:.2} MiB; platform beyond the runtime ≈ {:.2} MiB",
        delta / 1024.0,
        agent / 1024.0,
        runtime / 1024.0,
        (delta - runtime) / 1024.0
    );
}

//! `bulkhead-bench`: measures a real `bulkhead serve` from the outside, each figure beside its
//! floor measured in the same run. Run it as root with release builds (scripts/bench.sh):
//!
//! - warm invoke: client latency of a no-op `provided.al2023` function reused by one tenant,
//!   beside a loopback HTTP round trip to a trivial in-process server (the floor); the
//!   difference is the platform's overhead (the no-op handler's own time is a few µs);
//! - warm throughput: invokes/s from several keep-alive clients over many tenants' warm
//!   environments;
//! - cold start: a new tenant's first invoke, for `provided` (floor: `unshare` + exec of the same
//!   bootstrap), Python (floor: `python3 -S -c "import awslambdaric.bootstrap"`) and Node.js
//!   (floor: `node -e 0`), and the Node client alone, outside any sandbox, to its first `/next`
//!   (the part of that cold start no platform can remove);
//! - a new tenant's first invoke when a spare environment is ready (`with_spares`).
//!
//! It prints a Markdown table for docs/benchmarks.md. Not a test: it asserts nothing.

mod client;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use client::Client;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[(((sorted.len() - 1) as f64) * p).round() as usize]
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

fn us(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

struct Server {
    child: Child,
    endpoint: String,
}

impl Drop for Server {
    /// SIGTERM first, so the server ends its environments and removes their cgroups: thousands
    /// of leftover groups slow every later run down. SIGKILL after 10 s.
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(bin: &Path, data: &Path, runtimes: Option<&Path>, spares: usize) -> Server {
    let mut cmd = Command::new(bin);
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .args([
            "--warm-pool",
            "4",
            "--spare-environments",
            &spares.to_string(),
        ]);
    if let Some(r) = runtimes {
        cmd.arg("--runtimes-dir").arg(r);
    }
    // The server logs at its default level (a platform.report line per invocation), as in
    // production; BENCH_SERVER_LOG sets another.
    if let Ok(level) = std::env::var("BENCH_SERVER_LOG") {
        cmd.env("BULKHEAD_LOG", level);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start bulkhead serve");
    let mut out = child.stdout.take().expect("stdout");
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while out.read(&mut byte).unwrap_or(0) == 1 && byte[0] != b'\n' {
        line.push(byte[0]);
    }
    let line = String::from_utf8_lossy(&line).into_owned();
    let endpoint = line
        .strip_prefix("bulkhead listening on http://")
        .expect("the server's ready line")
        .to_owned();
    Server { child, endpoint }
}

fn zip_with(files: &[(&str, &[u8], u32)]) -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    let mut w = zip::ZipWriter::new(&mut buf);
    for (name, body, mode) in files {
        w.start_file(
            *name,
            zip::write::SimpleFileOptions::default().unix_permissions(*mode),
        )
        .expect("zip");
        w.write_all(body).expect("zip");
    }
    w.finish().expect("zip");
    buf.into_inner()
}

/// A loopback HTTP server that answers every request with the request's body: the floor for
/// one warm invoke's round trip.
fn floor_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            std::thread::spawn(move || client::echo_connection(conn));
        }
    });
    addr
}

fn time_command(cmd: &mut Command, rounds: usize) -> Stats {
    let mut v = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let t0 = Instant::now();
        let status = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("run floor command");
        v.push(t0.elapsed());
        let _ = status;
    }
    stats(v)
}

/// Time from spawning a runtime client, outside any sandbox, to its first Runtime API request,
/// answered by nobody: `cmd` runs in a directory holding the handler file `file`.
fn client_start(cmd: &mut Command, file: &str, code: &[u8], rounds: usize) -> Stats {
    let dir = std::env::temp_dir().join(format!("bulkhead-bench-client-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("client dir");
    std::fs::write(dir.join(file), code).expect("handler file");
    let mut v = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        let t0 = Instant::now();
        let mut child = cmd
            .env("AWS_LAMBDA_RUNTIME_API", &addr)
            .env("LAMBDA_TASK_ROOT", &dir)
            .current_dir(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the client");
        listener.set_nonblocking(true).expect("nonblocking");
        let mut conn = loop {
            match listener.accept() {
                Ok((conn, _)) => break conn,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if let Ok(Some(status)) = child.try_wait() {
                        panic!("the client exited before its first request: {status}");
                    }
                    assert!(t0.elapsed() < Duration::from_secs(30), "no request in 30 s");
                    std::thread::sleep(Duration::from_micros(50));
                }
                Err(e) => panic!("accept: {e}"),
            }
        };
        conn.set_nonblocking(false).expect("blocking");
        let mut byte = [0u8; 1];
        conn.read_exact(&mut byte).expect("request");
        v.push(t0.elapsed());
        let _ = child.kill();
        let _ = child.wait();
    }
    let _ = std::fs::remove_dir_all(&dir);
    stats(v)
}

fn main() {
    let release = target_dir().join("release");
    let bin = release.join("bulkhead");
    let bootstrap = std::fs::read(release.join("noop-bootstrap"))
        .expect("build first: bash scripts/build-release.sh bulkhead-fixtures");
    let runtimes = std::env::args()
        .nth(1)
        .map(|r| std::fs::canonicalize(&r).unwrap_or_else(|e| panic!("runtimes dir {r}: {e}")));
    let data = std::env::temp_dir().join(format!("bulkhead-bench-{}", std::process::id()));
    // No spares here: the cold starts below are true cold starts.
    let server = start_server(&bin, &data, runtimes.as_deref(), 0);
    let client = Client::new(&server.endpoint);
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);

    client.create(
        "noop",
        "provided.al2023",
        None,
        &zip_with(&[("bootstrap", &bootstrap, 0o755)]),
        true,
    );

    // Warm invoke latency, one tenant, one connection.
    let mut conn = client.connect();
    for _ in 0..200 {
        client.invoke(&mut conn, "noop", Some("warm"), b"{}");
    }
    let warm: Vec<Duration> = (0..rounds)
        .map(|_| {
            let t0 = Instant::now();
            client.invoke(&mut conn, "noop", Some("warm"), b"{}");
            t0.elapsed()
        })
        .collect();
    let floor_addr = floor_server();
    let mut floor_conn = TcpStream::connect(&floor_addr).expect("floor");
    floor_conn.set_nodelay(true).expect("nodelay");
    let floor: Vec<Duration> = (0..rounds)
        .map(|_| {
            let t0 = Instant::now();
            client::round_trip(&mut floor_conn, &floor_addr, b"{}");
            t0.elapsed()
        })
        .collect();
    let (warm, floor) = (stats(warm), stats(floor));

    // Throughput: clients each with their own tenant's warm environment.
    let clients = 4;
    for t in 0..clients {
        let mut c = client.connect();
        client.invoke(&mut c, "noop", Some(&format!("t{t}")), b"{}");
    }
    let window = Duration::from_secs(5);
    let t0 = Instant::now();
    let handles: Vec<_> = (0..clients)
        .map(|t| {
            let client = client.clone();
            std::thread::spawn(move || {
                let mut c = client.connect();
                let mut n = 0u64;
                while t0.elapsed() < window {
                    client.invoke(&mut c, "noop", Some(&format!("t{t}")), b"{}");
                    n += 1;
                }
                n
            })
        })
        .collect();
    let total: u64 = handles.into_iter().map(|h| h.join().expect("client")).sum();
    let throughput = total as f64 / t0.elapsed().as_secs_f64();

    // Cold start of provided: a new tenant each time, sporadic (the warm pool refills between).
    let cold_rounds = (rounds / 10).max(20);
    let mut cold = Vec::new();
    for i in 0..cold_rounds {
        std::thread::sleep(Duration::from_millis(20));
        let t0 = Instant::now();
        client.invoke(&mut conn, "noop", Some(&format!("cold-{i}")), b"{}");
        cold.push(t0.elapsed());
    }
    let cold = stats(cold);
    let code = std::env::temp_dir().join(format!("bulkhead-bench-floor-{}", std::process::id()));
    std::fs::write(&code, &bootstrap).expect("write bootstrap");
    std::fs::set_permissions(&code, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let provided_floor = time_command(
        Command::new("unshare")
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
            .arg(&code),
        cold_rounds,
    );
    let _ = std::fs::remove_file(&code);

    println!("| measure | p50 | p99 | floor p50 | floor p99 | ratio (p50) |");
    println!("|---|---|---|---|---|---|");
    println!(
        "| warm invoke, client latency (floor: loopback HTTP echo) | {} | {} | {} | {} | overhead {} p50 / {} p99 |",
        us(warm.p50),
        us(warm.p99),
        us(floor.p50),
        us(floor.p99),
        us(warm.p50.saturating_sub(floor.p50)),
        us(warm.p99.saturating_sub(floor.p99))
    );
    println!(
        "| cold start, provided.al2023, new tenant (floor: unshare + exec of the bootstrap) | {} | {} | {} | {} | {:.2}× |",
        ms(cold.p50),
        ms(cold.p99),
        ms(provided_floor.p50),
        ms(provided_floor.p99),
        cold.p50.as_secs_f64() / provided_floor.p50.as_secs_f64()
    );

    if let Some(runtimes) = runtimes.as_deref() {
        let py = b"def handler(event, context):\n    return {'tenant': context.tenant_id}\n";
        client.create(
            "py",
            "python3.12",
            Some("app.handler"),
            &zip_with(&[("app.py", py, 0o644)]),
            true,
        );
        let node =
            b"export const handler = async (event, context) => ({ tenant: context.tenantId });\n";
        client.create(
            "node",
            "nodejs22.x",
            Some("index.handler"),
            &zip_with(&[("index.mjs", node, 0o644)]),
            true,
        );
        let n = 20;
        let installed = |family: &str| runtimes.join(family).is_dir();
        for (name, floor_cmd) in [
            (
                "py",
                Command::new("/usr/bin/python3")
                    .args(["-S", "-c", "import awslambdaric.bootstrap"])
                    .env("PYTHONPATH", runtimes.join("python")),
            ),
            ("node", Command::new(node_bin(runtimes)).args(["-e", "0"])),
        ] {
            if !installed(if name == "py" { "python" } else { "node" }) {
                println!(
                    "| cold start, {name}: runtime not installed in {}, skipped | | | | | |",
                    runtimes.display()
                );
                continue;
            }
            let mut v = Vec::new();
            for i in 0..n {
                std::thread::sleep(Duration::from_millis(20));
                let t0 = Instant::now();
                client.invoke(&mut conn, name, Some(&format!("cold-{name}-{i}")), b"{}");
                v.push(t0.elapsed());
            }
            let s = stats(v);
            let f = time_command(floor_cmd, n);
            println!(
                "| cold start, {}, new tenant (floor: {}) | {} | {} | {} | {} | {:.2}× |",
                if name == "py" {
                    "python3.12"
                } else {
                    "nodejs22.x"
                },
                if name == "py" {
                    "`python3 -S -c \"import awslambdaric.bootstrap\"`"
                } else {
                    "`node -e 0`"
                },
                ms(s.p50),
                ms(s.p99),
                ms(f.p50),
                ms(f.p99),
                s.p50.as_secs_f64() / f.p50.as_secs_f64()
            );
            if name == "node" {
                // The official client on its own, with no platform at all: the part of a Node
                // cold start that no platform can take away, beside the same floor.
                let c = client_start(
                    Command::new(node_bin(runtimes))
                        .arg(runtimes.join("node/node_modules/aws-lambda-ric/bin/index.mjs"))
                        .arg("index.handler"),
                    "index.mjs",
                    b"export const handler = async () => ({});\n",
                    n,
                );
                println!(
                    "| the client alone, no sandbox: `node aws-lambda-ric/bin/index.mjs` to its first `/next` (floor: `node -e 0`) | {} | {} | {} | {} | {:.2}× (cold start / client alone: {:.2}×) |",
                    ms(c.p50),
                    ms(c.p99),
                    ms(f.p50),
                    ms(f.p99),
                    c.p50.as_secs_f64() / f.p50.as_secs_f64(),
                    s.p50.as_secs_f64() / c.p50.as_secs_f64()
                );
            }
        }
    }
    drop(server);
    let _ = std::fs::remove_dir_all(&data);
    with_spares(&bin, &bootstrap, runtimes.as_deref(), 20);
    println!();
    println!(
        "warm throughput, {clients} keep-alive clients, no-op provided handler: {throughput:.0} invokes/s"
    );
}

/// A new tenant's first invoke when a spare (initialised before any tenant was known) is
/// ready, as under steady traffic: the gap between new tenants lets the spare be replaced.
fn with_spares(bin: &Path, bootstrap: &[u8], runtimes: Option<&Path>, n: usize) {
    let data = std::env::temp_dir().join(format!("bulkhead-bench-spares-{}", std::process::id()));
    let server = start_server(bin, &data, runtimes, 1);
    let client = Client::new(&server.endpoint);
    let mut conn = client.connect();
    let mut functions = vec![(
        "noop",
        "provided.al2023",
        zip_with(&[("bootstrap", bootstrap, 0o755)]),
        None,
    )];
    if let Some(r) = runtimes {
        if r.join("python").is_dir() {
            let py = b"def handler(event, context):\n    return {'tenant': context.tenant_id}\n";
            functions.push((
                "py",
                "python3.12",
                zip_with(&[("app.py", py, 0o644)]),
                Some("app.handler"),
            ));
        }
        if r.join("node").is_dir() {
            let node = b"export const handler = async (event, context) => ({ tenant: context.tenantId });\n";
            functions.push((
                "node",
                "nodejs22.x",
                zip_with(&[("index.mjs", node, 0o644)]),
                Some("index.handler"),
            ));
        }
    }
    for (name, runtime, zip, handler) in functions {
        client.create(name, runtime, handler, &zip, true);
        client.invoke(&mut conn, name, Some("first"), b"{}");
        let mut v = Vec::new();
        for i in 0..n {
            std::thread::sleep(Duration::from_millis(300));
            let t0 = Instant::now();
            client.invoke(&mut conn, name, Some(&format!("spare-{i}")), b"{}");
            v.push(t0.elapsed());
        }
        let s = stats(v);
        println!(
            "| new tenant with a spare ready, {runtime} | {} | {} | | | |",
            ms(s.p50),
            ms(s.p99)
        );
    }
    drop(server);
    let _ = std::fs::remove_dir_all(&data);
}

fn node_bin(runtimes: &Path) -> PathBuf {
    let bundled = runtimes.join("node/bin/node");
    if bundled.exists() {
        bundled
    } else {
        PathBuf::from("node")
    }
}

//! The isolation suite: hostile code in real environments, one named test per attack.
//!
//! Every test builds a [`Lab`] (a namespace backend of its own: private state dir, uid range and
//! cgroup parent), starts a victim, tenant B ([`Lab::victim`]), and then an attacker, tenant A,
//! running the probe (`tests/fixtures/src/bin/probe.rs`) with one attack. The probe prints a
//! single `RESULT` line saying whether the attack got through and what stopped it; the test
//! checks both that A failed in the expected way and that B is untouched.
//!
//! The victim is a Python program that keeps the things an attacker would go for: a secret in
//! `/tmp/secret`, a TCP listener on 127.0.0.1:8080, a unix socket at `/tmp/victim.sock` and an
//! abstract one, SysV shared memory, a semaphore and a message queue holding the secret, and a
//! POSIX message queue holding it too. All of it is world-readable and world-writable, so the
//! only thing keeping A out is the environment boundary, not file modes. Every 50 ms B checks
//! that each of those is still intact and reports so in a heartbeat: a fresh connection to its
//! Runtime API port, 127.0.0.1:9001, which the host answers. A test proves "B is untouched" by
//! seeing B still running, every heartbeat intact, and new heartbeats arriving after the attack.
//!
//! The suite needs root (real namespaces and cgroups); without it every test prints why and
//! passes without running, as the sandbox crate's own tests do.

use std::collections::BTreeMap;
use std::hash::{BuildHasher, RandomState};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bulkhead_sandbox::ns::{NsBackend, NsConfig};
use bulkhead_sandbox::{Backend, EnvSpec, Environment, LogLine, LogStream, RuntimeConn};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::watch;

pub use bulkhead_sandbox::{Exit, ExitCause};

/// How long an attack may run before the test gives up on it.
pub const ATTACK_DEADLINE: Duration = Duration::from_secs(30);
/// How long the victim may take to set itself up and send its first heartbeat.
const VICTIM_READY: Duration = Duration::from_secs(15);
/// Heartbeats B must send after an attack to count as still serving.
const BEATS_AFTER: usize = 3;

static NEXT_LAB: AtomicU32 = AtomicU32::new(0);

/// A random value, from the standard library's per-process hash keys.
fn random() -> u64 {
    RandomState::new().hash_one(Instant::now())
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"))
}

/// A workspace binary: `$VAR` if set, else `target/debug/NAME`.
fn binary(var: &str, name: &str) -> PathBuf {
    std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir().join("debug").join(name))
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"))
    })
}

fn world_readable_dir(path: &Path) {
    std::fs::create_dir_all(path).expect("create a directory");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .expect("chmod a directory");
}

/// One test's backend and the files around it.
pub struct Lab {
    backend: NsBackend,
    state: tempfile::TempDir,
    attacker_code: PathBuf,
    cgroup_parent: String,
}

impl Lab {
    /// A lab, or `None` (with the reason printed) on a host that cannot run environments.
    /// Panics if the agent or the probe has not been built.
    pub fn new() -> Option<Lab> {
        if !is_root() {
            eprintln!("skipped: the isolation suite needs root (real namespaces and cgroups)");
            return None;
        }
        let agent = binary("BULKHEAD_AGENT", "bulkhead-agent");
        let probe = binary("BULKHEAD_PROBE", "probe");
        for (what, path) in [("agent", &agent), ("probe", &probe)] {
            assert!(
                path.is_file(),
                "no {what} at {}: run cargo build --workspace first",
                path.display()
            );
        }
        let n = NEXT_LAB.fetch_add(1, Ordering::Relaxed);
        let state = tempfile::tempdir().expect("state dir");
        world_readable_dir(state.path());
        let attacker_code = state.path().join("attacker-code");
        world_readable_dir(&attacker_code);
        std::fs::copy(&probe, attacker_code.join("probe")).expect("copy the probe");
        std::fs::set_permissions(
            attacker_code.join("probe"),
            std::fs::Permissions::from_mode(0o755),
        )
        .expect("chmod the probe");
        // A parent of its own: every backend sweeps its parent's leftovers when it starts, which
        // would kill a concurrently running test's environments.
        let cgroup_parent = format!("bulkhead-iso-{}-{n}", std::process::id());
        // Host ids of their own too, so no two environments of concurrent tests share one.
        let uid_base = 3_000_000 + (std::process::id() % 4096) * 1024 + n * 16;
        let config = NsConfig {
            agent,
            state_dir: state.path().join("sandbox"),
            uid_base,
            max_environments: 4,
            warm_pool: 0,
            cgroup_parent: cgroup_parent.clone(),
        };
        let backend = NsBackend::new(config).expect("namespace backend");
        Some(Lab {
            backend,
            state,
            attacker_code,
            cgroup_parent,
        })
    }

    /// A host directory of this lab, never bound into any environment.
    pub fn host_dir(&self) -> &Path {
        self.state.path()
    }

    fn spec(&self, label: &str, code: &Path, argv: Vec<String>) -> EnvSpec {
        EnvSpec {
            label: label.into(),
            code_dir: code.to_path_buf(),
            runtime_dir: None,
            layers_dir: None,
            memory_mb: 128,
            tmp_mb: 16,
            pids_max: 64,
            argv,
            env: vec![
                ("PATH".into(), "/usr/local/bin:/usr/bin:/bin".into()),
                ("LANG".into(), "C.UTF-8".into()),
            ],
        }
    }

    async fn start(&self, name: &'static str, spec: EnvSpec) -> Tenant {
        let mut env = self
            .backend
            .create(spec)
            .await
            .unwrap_or_else(|e| panic!("create tenant {name}: {e:?}"));
        let id = env.id();
        let mut logs_rx = env.take_logs().expect("logs");
        let logs = Arc::new(Logs::default());
        let collector = logs.clone();
        tokio::spawn(async move {
            loop {
                // A paused collector stands for a log sink that has fallen behind.
                while collector.paused.load(Ordering::Acquire) {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                let Some(line) = logs_rx.recv().await else {
                    break;
                };
                collector.push(line);
            }
            collector.closed.store(1, Ordering::Release);
        });
        let exit = env.exit_watch();
        let beats = Arc::new(Mutex::new(Vec::new()));
        let served = beats.clone();
        let mut conns = env.take_connections().expect("connections");
        let task = tokio::spawn(async move {
            while let Some(conn) = conns.recv().await {
                tokio::spawn(serve_runtime_api(conn, served.clone()));
            }
        });
        Tenant {
            name,
            id,
            env,
            logs,
            beats,
            exit,
            task,
        }
    }

    /// Starts tenant B, the victim, and waits until it has set everything up and sent an intact
    /// heartbeat.
    pub async fn victim(&self) -> Victim {
        let code = self.state.path().join("victim-code");
        world_readable_dir(&code);
        std::fs::write(code.join("victim.py"), VICTIM_PY).expect("write the victim");
        let secret = format!("secret-{:016x}", random());
        let marker = format!("victim{:016x}", random());
        // SysV keys the victim's objects are made under; random so no two labs share them.
        let key = 0x1000_0000 + (random() % 0x3000_0000) as u32;
        let argv = [
            "/usr/bin/python3",
            "-S",
            "-B",
            "/var/task/victim.py",
            &secret,
            &marker,
            &key.to_string(),
        ];
        let spec = self.spec(
            "victim",
            &code,
            argv.iter().map(|s| (*s).to_owned()).collect(),
        );
        let tenant = self.start("B", spec).await;
        let ready = tenant
            .wait_line(|l| l.starts_with("READY "), VICTIM_READY)
            .await;
        let Some(ready) = ready else {
            panic!("victim never became ready\n{}", tenant.transcript());
        };
        let info: BTreeMap<String, String> = ready
            .split_whitespace()
            .skip(1)
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let deadline = Instant::now() + VICTIM_READY;
        while tenant.beats().is_empty() {
            assert!(
                Instant::now() < deadline,
                "victim sent no heartbeat\n{}",
                tenant.transcript()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let host_pids = host_pids_of(&marker);
        assert!(
            !host_pids.is_empty(),
            "the victim's processes are not visible from the host"
        );
        Victim {
            tenant,
            secret,
            marker,
            info,
            host_pids,
        }
    }

    /// Starts tenant A running the probe with `args`, in an environment with the usual limits
    /// changed by `tune`.
    pub async fn start_attacker(&self, args: &[&str], tune: impl FnOnce(&mut EnvSpec)) -> Attacker {
        let mut argv = vec!["/var/task/probe".to_owned()];
        argv.extend(args.iter().map(|a| (*a).to_owned()));
        let mut spec = self.spec("attacker", &self.attacker_code, argv.clone());
        tune(&mut spec);
        let started = Instant::now();
        let tenant = self.start("A", spec).await;
        Attacker {
            tenant,
            argv,
            started,
        }
    }

    /// Runs one attack with the usual limits to its end.
    pub async fn attack(&self, args: &[&str]) -> Attack {
        self.attack_with(args, |_| {}).await
    }

    /// Runs one attack with the limits changed by `tune` to its end.
    pub async fn attack_with(&self, args: &[&str], tune: impl FnOnce(&mut EnvSpec)) -> Attack {
        self.start_attacker(args, tune)
            .await
            .finish(ATTACK_DEADLINE)
            .await
    }

    /// Listeners on the host that no environment may reach, each counting who got through.
    pub async fn host_listeners(&self) -> HostListeners {
        HostListeners::start(self.state.path()).await
    }
}

impl Drop for Lab {
    /// Removes the lab's cgroup parent, which the backend leaves behind. After a passing test
    /// it is empty; after a failing one the environments' own cgroups may still be there, their
    /// processes dying from the kill their handles sent when dropped, so removal is retried.
    fn drop(&mut self) {
        let root = Path::new("/sys/fs/cgroup");
        let mut dirs = vec![root.join(&self.cgroup_parent)];
        dirs.extend(
            std::fs::read_dir(root)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path().join(&self.cgroup_parent)),
        );
        dirs.retain(|d| d.is_dir());
        let deadline = Instant::now() + Duration::from_secs(5);
        while !dirs.is_empty() && Instant::now() < deadline {
            dirs.retain(|dir| {
                for child in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                    if child.path().is_dir() {
                        let _ = std::fs::remove_dir(child.path());
                    }
                }
                std::fs::remove_dir(dir).is_err()
            });
            if !dirs.is_empty() {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        if !dirs.is_empty() {
            eprintln!("left behind: {dirs:?}");
        }
    }
}

/// The host uid a host pid runs as (its effective uid).
pub fn host_uid(pid: u32) -> Option<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|v| v.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

/// This (host) process's resident memory, in bytes.
pub fn host_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    kib << 10
}

/// This (host) process's soft limit on open descriptors.
pub fn host_fd_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.trim_start_matches("Max open files")
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Descriptors this (host) process has open.
pub fn host_open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

/// The host pids of processes whose command line holds `marker`, and their parents (the
/// environment's agent).
pub fn host_pids_of(marker: &str) -> Vec<u32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        if !String::from_utf8_lossy(&cmdline).contains(marker) {
            continue;
        }
        pids.push(pid);
        let status = std::fs::read_to_string(entry.path().join("status")).unwrap_or_default();
        if let Some(ppid) = status
            .lines()
            .find_map(|l| l.strip_prefix("PPid:"))
            .and_then(|v| v.trim().parse().ok())
        {
            pids.push(ppid);
        }
    }
    pids.sort_unstable();
    pids.dedup();
    pids
}

/// The host's end of a tenant's Runtime API connections: answers heartbeats (`hb N STATE`) with
/// `ok` and records them.
async fn serve_runtime_api(conn: RuntimeConn, beats: Arc<Mutex<Vec<Beat>>>) {
    let mut reader = BufReader::new(conn);
    let mut line = String::new();
    loop {
        line.clear();
        match tokio::time::timeout(Duration::from_secs(10), reader.read_line(&mut line)).await {
            Ok(Ok(n)) if n > 0 => {}
            _ => return,
        }
        let mut parts = line.trim_end().splitn(3, ' ');
        if parts.next() != Some("hb") {
            continue;
        }
        let n = parts.next().and_then(|n| n.parse().ok()).unwrap_or(0);
        let state = parts.next().unwrap_or("").to_owned();
        if let Ok(mut b) = beats.lock() {
            b.push(Beat {
                at: Instant::now(),
                n,
                state,
            });
        }
        if reader.get_mut().write_all(b"ok\n").await.is_err() {
            return;
        }
    }
}

/// Output kept per tenant; past it only result lines are kept, so a flood of output does not
/// fill the test's own memory.
const KEEP_OUTPUT: usize = 1 << 20;

#[derive(Default)]
struct Logs {
    lines: Mutex<Vec<LogLine>>,
    kept: AtomicUsize,
    dropped: AtomicUsize,
    closed: AtomicUsize,
    paused: AtomicBool,
}

impl Logs {
    fn push(&self, line: LogLine) {
        let kept = self.kept.fetch_add(line.text.len(), Ordering::Relaxed);
        if kept > KEEP_OUTPUT && !line.text.starts_with("RESULT ") {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if let Ok(mut l) = self.lines.lock() {
            l.push(line);
        }
    }

    fn snapshot(&self) -> Vec<(LogStream, String)> {
        self.lines
            .lock()
            .map(|l| l.iter().map(|l| (l.stream, l.text.clone())).collect())
            .unwrap_or_default()
    }
}

/// One heartbeat of the victim.
#[derive(Debug, Clone)]
pub struct Beat {
    pub at: Instant,
    pub n: u64,
    /// `intact`, or `BROKEN:` and what the victim found changed or unreachable.
    pub state: String,
}

/// A running environment of a test: its output, its heartbeats, and how it ended.
pub struct Tenant {
    name: &'static str,
    id: u64,
    logs: Arc<Logs>,
    beats: Arc<Mutex<Vec<Beat>>>,
    /// Dropping the handle ends the environment.
    env: Environment,
    exit: watch::Receiver<Option<Exit>>,
    task: tokio::task::JoinHandle<()>,
}

impl Tenant {
    pub fn running(&self) -> bool {
        self.exit.borrow().is_none()
    }

    pub fn exit(&self) -> Option<Exit> {
        self.exit.borrow().clone()
    }

    /// Ends the environment from the host (the timeout path).
    pub fn kill(&self) {
        self.env.kill();
    }

    /// How the environment ended, once it has; `None` if it was still running at `deadline`.
    pub async fn wait(&self, deadline: Duration) -> Option<Exit> {
        let mut exit = self.exit.clone();
        let ended = tokio::time::timeout(deadline, async {
            loop {
                if let Some(e) = exit.borrow_and_update().clone() {
                    return Some(e);
                }
                if exit.changed().await.is_err() {
                    return exit.borrow().clone();
                }
            }
        })
        .await;
        let exit = ended.ok().flatten()?;
        // The last lines may still be on their way from the backend's pipe readers.
        let drained = Instant::now() + Duration::from_secs(2);
        while self.logs.closed.load(Ordering::Acquire) == 0 && Instant::now() < drained {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        Some(exit)
    }

    /// Everything the environment wrote, in order.
    pub fn lines(&self) -> Vec<(LogStream, String)> {
        self.logs.snapshot()
    }

    /// Stops (or resumes) taking the environment's output from the backend, as a log sink
    /// that has fallen behind would.
    pub fn pause_logs(&self, paused: bool) {
        self.logs.paused.store(paused, Ordering::Release);
    }

    pub fn beats(&self) -> Vec<Beat> {
        self.beats.lock().map(|b| b.clone()).unwrap_or_default()
    }

    /// The first output line matching `want`, waiting up to `deadline` for it.
    pub async fn wait_line(
        &self,
        want: impl Fn(&str) -> bool,
        deadline: Duration,
    ) -> Option<String> {
        let until = Instant::now() + deadline;
        loop {
            if let Some((_, l)) = self.lines().into_iter().find(|(_, l)| want(l)) {
                return Some(l);
            }
            if Instant::now() >= until
                || !self.running() && self.logs.closed.load(Ordering::Acquire) == 1
            {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// The tenant's output and state, for failure messages.
    pub fn transcript(&self) -> String {
        let mut out = format!(
            "--- tenant {} (environment {}), exit {:?}\n",
            self.name,
            self.id,
            self.exit()
        );
        for (stream, line) in self.lines() {
            let tag = if stream == LogStream::Stdout {
                "out"
            } else {
                "err"
            };
            out.push_str(&format!("  {}.{tag}| {line}\n", self.name));
        }
        let dropped = self.logs.dropped.load(Ordering::Relaxed);
        if dropped > 0 {
            out.push_str(&format!("  ({dropped} more lines not kept)\n"));
        }
        let beats = self.beats();
        if let (Some(first), Some(last)) = (beats.first(), beats.last()) {
            out.push_str(&format!(
                "  {} heartbeats, #{} to #{}, last {:?}\n",
                beats.len(),
                first.n,
                last.n,
                last.state
            ));
        }
        out
    }
}

impl Drop for Tenant {
    fn drop(&mut self) {
        // Stops serving its connections; dropping `env` right after ends the environment.
        self.task.abort();
    }
}

/// Tenant B: what an attacker is after.
pub struct Victim {
    pub tenant: Tenant,
    pub secret: String,
    /// A random word in the victim's command line, to find its processes from the host and to
    /// notice it in anything an attacker prints.
    pub marker: String,
    /// What the victim reported when ready: `pid`, `shm_key`, `shm_id`, `sem_key`, `sem_id`,
    /// `msg_key`, `msg_id`, `mq`, `abstract`, `unix`, `port`.
    pub info: BTreeMap<String, String>,
    /// The victim's processes as the host numbers them (the Python process and its agent).
    pub host_pids: Vec<u32>,
}

impl Victim {
    pub fn get(&self, key: &str) -> &str {
        self.info.get(key).map_or("", String::as_str)
    }

    /// The victim's pids as the host numbers them, as strings for argv.
    pub fn host_pid_args(&self) -> Vec<String> {
        self.host_pids.iter().map(u32::to_string).collect()
    }

    /// Heartbeats received between two instants.
    pub fn beats_between(&self, from: Instant, to: Instant) -> Vec<Beat> {
        self.tenant
            .beats()
            .into_iter()
            .filter(|b| b.at >= from && b.at <= to)
            .collect()
    }

    /// B is untouched: still running, every heartbeat intact, new heartbeats after the attack,
    /// no error output, and nothing of B in anything A printed. Then ends B, which must end
    /// because the host killed it and for no other reason.
    pub async fn assert_untouched(self, attack: &Attack) {
        let context = || format!("{}{}", attack.transcript(), self.tenant.transcript());
        let a_output = attack.all_output();
        for (what, needle) in [("secret", &self.secret), ("command line", &self.marker)] {
            assert!(
                !a_output.contains(needle.as_str()),
                "A's output holds B's {what}\n{}",
                context()
            );
        }
        let have = self.tenant.beats().len();
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.tenant.beats().len() < have + BEATS_AFTER {
            assert!(self.tenant.running(), "B ended\n{}", context());
            assert!(
                Instant::now() < deadline,
                "B stopped sending heartbeats after the attack\n{}",
                context()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let broken: Vec<Beat> = self
            .tenant
            .beats()
            .into_iter()
            .filter(|b| b.state != "intact")
            .collect();
        assert!(
            broken.is_empty(),
            "B found its state changed: {broken:?}\n{}",
            context()
        );
        let errors: Vec<String> = self
            .tenant
            .lines()
            .into_iter()
            .filter(|(s, _)| *s == LogStream::Stderr)
            .map(|(_, l)| l)
            .collect();
        assert!(
            errors.is_empty(),
            "B reported errors: {errors:?}\n{}",
            context()
        );
        self.tenant.kill();
        let exit = self.tenant.wait(Duration::from_secs(10)).await;
        let cause = exit.as_ref().map(|e| e.cause.clone());
        assert_eq!(
            cause,
            Some(ExitCause::Killed),
            "B ended for a reason of its own\n{}",
            context()
        );
    }
}

/// Tenant A while it runs.
pub struct Attacker {
    pub tenant: Tenant,
    argv: Vec<String>,
    started: Instant,
}

impl Attacker {
    /// Waits for the attacker to end by itself and collects what it did. Kills it and fails the
    /// test if it is still running at `deadline`.
    pub async fn finish(self, deadline: Duration) -> Attack {
        let Some(exit) = self.tenant.wait(deadline).await else {
            self.tenant.kill();
            panic!(
                "the attack did not end within {deadline:?}\n{}",
                self.tenant.transcript()
            );
        };
        Attack::collect(self, exit)
    }

    /// Ends the attacker from the host and collects what it did.
    pub async fn kill(self) -> Attack {
        self.tenant.kill();
        let Some(exit) = self.tenant.wait(Duration::from_secs(10)).await else {
            panic!("the attacker survived a kill\n{}", self.tenant.transcript());
        };
        Attack::collect(self, exit)
    }

    pub fn started(&self) -> Instant {
        self.started
    }
}

/// What one attack did and how its environment ended.
#[derive(Debug)]
pub struct Attack {
    pub argv: Vec<String>,
    pub exit: Exit,
    /// `blocked`, `SUCCEEDED`, `running` or `ERROR`, from the probe's result line, if it printed one.
    pub verdict: Option<String>,
    /// The rest of the result line.
    pub detail: String,
    pub stdout: Vec<String>,
    pub stderr: Vec<String>,
    pub started: Instant,
    pub ended: Instant,
    transcript: String,
}

impl Attack {
    fn collect(attacker: Attacker, exit: Exit) -> Attack {
        let lines = attacker.tenant.lines();
        let pick = |s: LogStream| {
            lines
                .iter()
                .filter(|(st, _)| *st == s)
                .map(|(_, l)| l.clone())
                .collect::<Vec<_>>()
        };
        let (stdout, stderr) = (pick(LogStream::Stdout), pick(LogStream::Stderr));
        let results: Vec<&String> = stdout.iter().filter(|l| l.starts_with("RESULT ")).collect();
        let (verdict, detail) = match results.as_slice() {
            [one] => {
                let mut parts = one.splitn(4, ' ');
                let (_, _, verdict, detail) =
                    (parts.next(), parts.next(), parts.next(), parts.next());
                (verdict.map(str::to_owned), detail.unwrap_or("").to_owned())
            }
            _ => (None, String::new()),
        };
        assert!(
            results.len() <= 1,
            "the probe printed {} result lines\n{}",
            results.len(),
            attacker.tenant.transcript()
        );
        Attack {
            argv: attacker.argv,
            exit,
            verdict,
            detail,
            stdout,
            stderr,
            started: attacker.started,
            ended: Instant::now(),
            transcript: attacker.tenant.transcript(),
        }
    }

    /// The result line's reasons (`EPERM`, `ENOENT`, `MASKED`…), without their counts.
    pub fn reasons(&self) -> Vec<String> {
        let head = self.detail.split(" | ").next().unwrap_or("");
        head.split_whitespace()
            .map(|r| r.split('*').next().unwrap_or(r).to_owned())
            .collect()
    }

    /// The notes after ` | ` in the result line.
    pub fn notes(&self) -> &str {
        self.detail.split_once(" | ").map_or("", |(_, n)| n)
    }

    fn all_output(&self) -> String {
        self.stdout
            .iter()
            .chain(self.stderr.iter())
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// What A tried and printed, for failure messages.
    pub fn transcript(&self) -> String {
        format!("=== attack: {}\n{}", self.argv.join(" "), self.transcript)
    }

    /// The attack ran to its end and was stopped.
    pub fn assert_blocked(&self) -> &Self {
        assert_eq!(
            self.verdict.as_deref(),
            Some("blocked"),
            "the attack was not blocked\n{}",
            self.transcript()
        );
        assert_eq!(
            (self.exit.cause.clone(), self.exit.code),
            (ExitCause::RuntimeExit, Some(0)),
            "{}",
            self.transcript()
        );
        self
    }

    /// Every refusal was one of `allowed`.
    pub fn assert_reasons_within(&self, allowed: &[&str]) -> &Self {
        let reasons = self.reasons();
        let other: Vec<&String> = reasons
            .iter()
            .filter(|r| !allowed.contains(&r.as_str()))
            .collect();
        assert!(
            !reasons.is_empty() && other.is_empty(),
            "refused with {reasons:?}, expected only {allowed:?}\n{}",
            self.transcript()
        );
        self
    }

    /// `needed` was among the refusals.
    pub fn assert_reason(&self, needed: &str) -> &Self {
        assert!(
            self.reasons().iter().any(|r| r == needed),
            "no {needed} among {:?}\n{}",
            self.reasons(),
            self.transcript()
        );
        self
    }

    pub fn assert_note(&self, needed: &str) -> &Self {
        assert!(
            self.notes().contains(needed),
            "no note {needed:?}\n{}",
            self.transcript()
        );
        self
    }
}

/// Services on the host an environment must not reach: TCP on loopback and on every address,
/// a unix socket path, an abstract unix socket. Each counts the connections it accepted.
pub struct HostListeners {
    pub loopback: std::net::SocketAddr,
    pub any: std::net::SocketAddr,
    pub unix_path: PathBuf,
    pub abstract_name: String,
    accepted: Arc<AtomicUsize>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl HostListeners {
    async fn start(dir: &Path) -> HostListeners {
        let accepted = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        let loopback = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let any = tokio::net::TcpListener::bind("0.0.0.0:0")
            .await
            .expect("bind any");
        let (loopback_addr, any_addr) = (
            loopback.local_addr().expect("addr"),
            any.local_addr().expect("addr"),
        );
        for listener in [loopback, any] {
            let accepted = accepted.clone();
            tasks.push(tokio::spawn(async move {
                while let Ok((mut s, _)) = listener.accept().await {
                    accepted.fetch_add(1, Ordering::SeqCst);
                    let _ = s.write_all(b"host-service\n").await;
                }
            }));
        }
        let unix_path = dir.join("host.sock");
        let unix = tokio::net::UnixListener::bind(&unix_path).expect("bind unix");
        std::fs::set_permissions(&unix_path, std::fs::Permissions::from_mode(0o777))
            .expect("chmod socket");
        let abstract_name = format!("bulkhead-test-{:016x}", random());
        let abstract_std = {
            use std::os::linux::net::SocketAddrExt;
            let addr = std::os::unix::net::SocketAddr::from_abstract_name(abstract_name.as_bytes())
                .expect("abstract name");
            let l = std::os::unix::net::UnixListener::bind_addr(&addr).expect("bind abstract");
            l.set_nonblocking(true).expect("nonblocking");
            l
        };
        let abstract_l =
            tokio::net::UnixListener::from_std(abstract_std).expect("abstract listener");
        for listener in [unix, abstract_l] {
            let accepted = accepted.clone();
            tasks.push(tokio::spawn(async move {
                while let Ok((mut s, _)) = listener.accept().await {
                    accepted.fetch_add(1, Ordering::SeqCst);
                    let _ = s.write_all(b"host-service\n").await;
                }
            }));
        }
        HostListeners {
            loopback: loopback_addr,
            any: any_addr,
            unix_path,
            abstract_name,
            accepted,
            tasks,
        }
    }

    /// Connections any of the listeners accepted.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for HostListeners {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// The host's own address on its default route, if it has one (no packet is sent).
pub fn host_address() -> Option<std::net::IpAddr> {
    let s = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    s.connect("192.0.2.1:9").ok()?;
    s.local_addr()
        .ok()
        .map(|a| a.ip())
        .filter(|ip| !ip.is_unspecified())
}

/// Unix socket paths the host has open (from the host's `/proc/net/unix`), up to `max`.
pub fn host_unix_socket_paths(max: usize) -> Vec<String> {
    let table = std::fs::read_to_string("/proc/net/unix").unwrap_or_default();
    let mut paths: Vec<String> = table
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(7))
        .filter(|p| p.starts_with('/'))
        .map(str::to_owned)
        .collect();
    paths.sort();
    paths.dedup();
    paths.truncate(max);
    paths
}

/// Tenant B's program. See the crate documentation for what it keeps and checks.
const VICTIM_PY: &str = r#"
import ctypes, os, socket, sys, threading, time

# The marker (argv[2]) is only there for the host to find this process by its command line.
secret, marker, key = sys.argv[1], sys.argv[2], int(sys.argv[3])
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
IPC_CREAT = 0o1000


def check(r, what):
    if r == -1:
        e = ctypes.get_errno()
        raise OSError(e, f'{what}: {os.strerror(e)}')
    return r


with open('/tmp/secret', 'w') as f:
    f.write(secret)
os.chmod('/tmp/secret', 0o666)


def serve(sock):
    while True:
        c, _ = sock.accept()
        try:
            c.sendall(secret.encode())
        except OSError:
            pass
        finally:
            c.close()


def listen(family, address):
    s = socket.socket(family, socket.SOCK_STREAM)
    if family == socket.AF_INET:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(address)
    s.listen(64)
    threading.Thread(target=serve, args=(s,), daemon=True).start()


abstract = f'bulkhead-victim-{key:x}'
listen(socket.AF_INET, ('127.0.0.1', 8080))
listen(socket.AF_UNIX, '/tmp/victim.sock')
os.chmod('/tmp/victim.sock', 0o777)
listen(socket.AF_UNIX, '\0' + abstract)

shm_id = check(libc.shmget(key, 4096, IPC_CREAT | 0o666), 'shmget')
shm = libc.shmat(shm_id, None, 0)
if shm is None or shm == ctypes.c_void_p(-1).value:
    raise OSError(ctypes.get_errno(), 'shmat')
ctypes.memmove(shm, secret.encode(), len(secret))
sem_id = check(libc.semget(key + 1, 1, IPC_CREAT | 0o666), 'semget')
msg_id = check(libc.msgget(key + 2, IPC_CREAT | 0o666), 'msgget')


class Msg(ctypes.Structure):
    _fields_ = [('mtype', ctypes.c_long), ('mtext', ctypes.c_char * 256)]


check(libc.msgsnd(msg_id, ctypes.byref(Msg(1, secret.encode())), len(secret), 0), 'msgsnd')


class MqAttr(ctypes.Structure):
    _fields_ = [('flags', ctypes.c_long), ('maxmsg', ctypes.c_long), ('msgsize', ctypes.c_long),
                ('curmsgs', ctypes.c_long), ('pad', ctypes.c_long * 4)]


mq_name = '/bulkhead-victim'
mq = check(libc.mq_open(mq_name.encode(), os.O_CREAT | os.O_RDWR, ctypes.c_uint(0o666), None), 'mq_open')
check(libc.mq_send(mq, secret.encode(), ctypes.c_size_t(len(secret)), ctypes.c_uint(0)), 'mq_send')

print(f'READY pid={os.getpid()} uid={os.getuid()} port=8080 shm_key={key} shm_id={shm_id} '
      f'sem_key={key + 1} sem_id={sem_id} msg_key={key + 2} msg_id={msg_id} mq={mq_name} '
      f'abstract={abstract} unix=/tmp/victim.sock', flush=True)


def fetch(family, address):
    with socket.socket(family, socket.SOCK_STREAM) as c:
        c.settimeout(2)
        c.connect(address)
        data = b''
        while True:
            chunk = c.recv(256)
            if not chunk:
                return data
            data += chunk


def msg_queued():
    with open('/proc/sysvipc/msg') as f:
        for line in f.readlines()[1:]:
            cols = line.split()
            if int(cols[1]) == msg_id:
                return int(cols[4])
    return -1


def intact():
    bad = []
    try:
        with open('/tmp/secret') as f:
            if f.read() != secret:
                bad.append('tmp-changed')
    except OSError as e:
        bad.append(f'tmp-errno{e.errno}')
    for name, family, address in [('tcp', socket.AF_INET, ('127.0.0.1', 8080)),
                                  ('unix', socket.AF_UNIX, '/tmp/victim.sock'),
                                  ('abstract', socket.AF_UNIX, '\0' + abstract)]:
        try:
            if fetch(family, address) != secret.encode():
                bad.append(name + '-changed')
        except OSError as e:
            bad.append(f'{name}-errno{e.errno}')
    if ctypes.string_at(shm, len(secret)) != secret.encode():
        bad.append('shm-changed')
    if libc.semctl(sem_id, 0, 12) == -1:  # GETVAL
        bad.append('sem-gone')
    if msg_queued() != 1:
        bad.append('msg-changed')
    attr = MqAttr()
    if libc.mq_getattr(mq, ctypes.byref(attr)) != 0 or attr.curmsgs != 1:
        bad.append('mq-changed')
    return 'intact' if not bad else 'BROKEN:' + ','.join(bad)


n = 0
while True:
    n += 1
    state = intact()
    try:
        with socket.create_connection(('127.0.0.1', 9001), timeout=10) as c:
            c.sendall(f'hb {n} {state}\n'.encode())
            c.recv(16)
    except OSError as e:
        print(f'heartbeat {n} failed: {e}', file=sys.stderr, flush=True)
    time.sleep(0.05)
"#;

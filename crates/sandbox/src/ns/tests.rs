//! Real environments on this host (root required; skipped with a reason otherwise).

use std::path::PathBuf;
use std::time::Duration;

use tokio::io::AsyncReadExt;

use super::*;
use crate::{ExitCause, LogStream};

static NEXT_BACKEND: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

pub(crate) fn agent_path() -> PathBuf {
    if let Some(p) = std::env::var_os("BULKHEAD_AGENT") {
        return PathBuf::from(p);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("debug/bulkhead-agent")
}

/// A backend over a private state dir and uid range, or `None` (with the reason printed) where
/// this host cannot run one.
pub(crate) fn backend(warm_pool: usize) -> Option<(NsBackend, tempfile::TempDir)> {
    let root = std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"))
    });
    if !root {
        eprintln!("skipped: the namespace backend needs root");
        return None;
    }
    let agent = agent_path();
    assert!(
        agent.is_file(),
        "build the agent first: cargo build -p bulkhead-agent (looked at {})",
        agent.display()
    );
    let state = tempfile::tempdir().expect("state dir");
    let config = NsConfig {
        agent,
        state_dir: state.path().to_path_buf(),
        uid_base: 2_000_000,
        max_environments: 64,
        warm_pool,
        // One parent per backend: each backend sweeps its parent's leftovers when it starts.
        cgroup_parent: format!(
            "bulkhead-test-{}-{}",
            std::process::id(),
            NEXT_BACKEND.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ),
    };
    Some((NsBackend::new(config).expect("backend"), state))
}

pub(crate) fn spec(code: &std::path::Path, argv: &[&str]) -> EnvSpec {
    EnvSpec {
        label: "test".into(),
        code_dir: code.to_path_buf(),
        runtime_dir: None,
        layers_dir: None,
        memory_mb: 128,
        tmp_mb: 16,
        pids_max: 64,
        argv: argv.iter().map(|s| (*s).to_owned()).collect(),
        env: vec![("PATH".into(), "/usr/local/bin:/usr/bin:/bin".into())],
    }
}

async fn run(backend: &NsBackend, spec: EnvSpec) -> (crate::Exit, Vec<(LogStream, String)>) {
    let mut env = backend.create(spec).await.expect("create");
    let mut logs = env.take_logs().expect("logs");
    let exit = tokio::time::timeout(Duration::from_secs(20), env.wait())
        .await
        .expect("exits in time");
    let mut lines = Vec::new();
    while let Ok(Some(l)) = tokio::time::timeout(Duration::from_millis(200), logs.recv()).await {
        lines.push((l.stream, l.text));
    }
    (exit, lines)
}

fn stdout(lines: &[(LogStream, String)]) -> Vec<&str> {
    lines
        .iter()
        .filter(|(s, _)| *s == LogStream::Stdout)
        .map(|(_, t)| t.as_str())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_a_command_and_captures_both_streams() {
    let Some((backend, _state)) = backend(0) else {
        return;
    };
    let code = tempfile::tempdir().expect("code");
    let (exit, lines) = run(
        &backend,
        spec(
            code.path(),
            &["/bin/sh", "-c", "echo to-out; echo to-err >&2; exit 3"],
        ),
    )
    .await;
    assert_eq!(
        (exit.cause.clone(), exit.code),
        (ExitCause::RuntimeExit, Some(3)),
        "{exit:?} {lines:?}"
    );
    assert!(
        lines.contains(&(LogStream::Stdout, "to-out".into())),
        "{lines:?}"
    );
    assert!(
        lines.contains(&(LogStream::Stderr, "to-err".into())),
        "{lines:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_function_runs_unprivileged_under_seccomp() {
    let Some((backend, _state)) = backend(1) else {
        return;
    };
    let code = tempfile::tempdir().expect("code");
    let script = "id -u; id -g; grep -E '^(CapEff|CapPrm|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status; hostname";
    let (exit, lines) = run(&backend, spec(code.path(), &["/bin/sh", "-c", script])).await;
    assert_eq!(exit.code, Some(0), "{exit:?} {lines:?}");
    let out = stdout(&lines);
    assert_eq!(&out[..2], ["993", "990"], "{out:?}");
    for want in [
        "CapEff:\t0000000000000000",
        "CapPrm:\t0000000000000000",
        "CapBnd:\t0000000000000000",
        "NoNewPrivs:\t1",
        "Seccomp:\t2",
    ] {
        assert!(out.contains(&want), "missing {want:?} in {out:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_root_holds_only_what_was_bound() {
    let Some((backend, _state)) = backend(0) else {
        return;
    };
    let code = tempfile::tempdir().expect("code");
    std::fs::write(code.path().join("handler.txt"), "mine").expect("write");
    let script = "ls /; cat /var/task/handler.txt; echo; ls /proc | grep -c '^[0-9]'; touch /var/task/x 2>&1 || true; touch /usr/x 2>&1 || true; ls /root /home 2>&1 || true";
    let (exit, lines) = run(&backend, spec(code.path(), &["/bin/sh", "-c", script])).await;
    assert_eq!(exit.code, Some(0), "{exit:?} {lines:?}");
    let out = stdout(&lines);
    let top: Vec<&str> = out.iter().take_while(|l| **l != "mine").copied().collect();
    for unwanted in ["root", "home", "boot", "srv", "mnt", "work"] {
        assert!(!top.contains(&unwanted), "/{unwanted} is visible: {top:?}");
    }
    assert!(out.contains(&"mine"), "{out:?}");
    let pids: u32 = out
        .iter()
        .find_map(|l| l.parse().ok())
        .expect("a process count");
    assert!(
        pids <= 4,
        "the environment sees {pids} processes: only its own should be there"
    );
    assert!(
        out.iter()
            .any(|l| l.contains("/var/task/x") && l.contains("Read-only")),
        "{out:?}"
    );
    assert!(
        out.iter()
            .any(|l| l.contains("/usr/x") && l.contains("Read-only")),
        "{out:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runtime_api_connections_reach_the_host() {
    let Some((backend, _state)) = backend(1) else {
        return;
    };
    let code = tempfile::tempdir().expect("code");
    let script =
        "exec 3<>/dev/tcp/127.0.0.1/9001; echo hello-host >&3; read reply <&3; echo \"got $reply\"";
    let mut env = backend
        .create(spec(code.path(), &["/usr/bin/bash", "-c", script]))
        .await
        .expect("create");
    let mut logs = env.take_logs().expect("logs");
    let mut conn = tokio::time::timeout(Duration::from_secs(10), env.next_connection())
        .await
        .expect("in time")
        .expect("a connection");
    let mut buf = [0u8; 11];
    conn.read_exact(&mut buf).await.expect("read");
    assert_eq!(&buf, b"hello-host\n");
    tokio::io::AsyncWriteExt::write_all(&mut conn, b"pong\n")
        .await
        .expect("write");
    let exit = tokio::time::timeout(Duration::from_secs(10), env.wait())
        .await
        .expect("exits");
    assert_eq!(exit.code, Some(0), "{exit:?}");
    let line = tokio::time::timeout(Duration::from_secs(2), logs.recv())
        .await
        .expect("a line")
        .expect("open");
    assert_eq!(line.text, "got pong");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_ends_the_environment_and_releases_its_cgroup() {
    let Some((backend, _state)) = backend(0) else {
        return;
    };
    let code = tempfile::tempdir().expect("code");
    let mut env = backend
        .create(spec(code.path(), &["/bin/sleep", "600"]))
        .await
        .expect("create");
    tokio::time::sleep(Duration::from_millis(100)).await;
    env.kill();
    let exit = tokio::time::timeout(Duration::from_secs(10), env.wait())
        .await
        .expect("exits");
    assert_eq!(exit.cause, ExitCause::Killed);
    let leftover = std::fs::read_dir("/sys/fs/cgroup/memory")
        .into_iter()
        .flatten()
        .flatten()
        // Only this process's parents: other servers on the host number their environments too.
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(&format!("bulkhead-test-{}-", std::process::id()))
        })
        .any(|e| e.path().join(format!("env-{}", env.id())).exists());
    assert!(!leftover, "the environment's cgroup is gone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_abuse_ends_in_out_of_memory() {
    let Some((backend, _state)) = backend(0) else {
        return;
    };
    let code = tempfile::tempdir().expect("code");
    let mut s = spec(
        code.path(),
        &[
            "/usr/bin/python3",
            "-c",
            "b = b'x' * (512 * 1024 * 1024); print('survived')",
        ],
    );
    s.memory_mb = 64;
    let (exit, lines) = run(&backend, s).await;
    assert_eq!(exit.cause, ExitCause::OutOfMemory, "{exit:?} {lines:?}");
    assert!(!stdout(&lines).contains(&"survived"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filling_tmp_hits_its_size_limit() {
    let Some((backend, _state)) = backend(0) else {
        return;
    };
    let code = tempfile::tempdir().expect("code");
    let mut s = spec(
        code.path(),
        &[
            "/bin/sh",
            "-c",
            "head -c 8388608 /dev/zero > /tmp/fill; echo status=$?; ls -l /tmp/fill",
        ],
    );
    s.tmp_mb = 4;
    let (exit, lines) = run(&backend, s).await;
    assert_eq!(exit.code, Some(0), "{exit:?} {lines:?}");
    let all: Vec<&str> = lines.iter().map(|(_, t)| t.as_str()).collect();
    assert!(
        all.iter().any(|l| l.contains("No space left on device")),
        "{all:?}"
    );
    assert!(all.contains(&"status=1"), "{all:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_command_is_reported_not_hidden() {
    let Some((backend, _state)) = backend(0) else {
        return;
    };
    let code = tempfile::tempdir().expect("code");
    let (exit, lines) = run(
        &backend,
        spec(code.path(), &["/var/task/missing-bootstrap"]),
    )
    .await;
    assert_eq!(
        (exit.cause.clone(), exit.code),
        (ExitCause::RuntimeExit, Some(127)),
        "{exit:?}"
    );
    assert!(
        lines
            .iter()
            .any(|(_, t)| t.contains("exec /var/task/missing-bootstrap")),
        "{lines:?}"
    );
}

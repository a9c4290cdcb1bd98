//! Name rules, file parsing, and real groups on this host (as root, skipped otherwise).

use std::io::Write as _;
use std::os::unix::fs::MetadataExt as _;
use std::os::unix::process::ExitStatusExt as _;
use std::process::{Child, Command, ExitStatus, Stdio};

use super::*;

#[test]
fn names_are_lowercase_digits_and_dashes_only() {
    for good in ["env-1", "a", "0", "bulkhead", &"x".repeat(MAX_NAME)] {
        assert!(validate_name(good).is_ok(), "{good:?} should be accepted");
    }
    for bad in [
        "",
        "..",
        ".",
        "a/b",
        "/",
        "../etc",
        "Env",
        "ENV-1",
        "env_1",
        "env 1",
        "env\n",
        "é",
        &"x".repeat(MAX_NAME + 1),
    ] {
        let err = validate_name(bad)
            .err()
            .unwrap_or_else(|| panic!("{bad:?} should be refused"));
        assert!(matches!(err, CgroupError::InvalidName { .. }), "{err}");
    }
}

#[test]
fn create_refuses_traversal_before_touching_the_tree() {
    let tmp = tempfile::tempdir().expect("tempdir");
    for c in ["memory", "cpu", "pids"] {
        fs::create_dir(tmp.path().join(c)).expect("mkdir");
    }
    let mgr = CgroupManager::with_root(tmp.path(), "bulkhead").expect("detect");
    for bad in ["..", "../../x", "a/b", ""] {
        assert!(
            matches!(mgr.create(bad), Err(CgroupError::InvalidName { .. })),
            "{bad:?}"
        );
    }
    assert!(
        matches!(
            CgroupManager::with_root(tmp.path(), "../up"),
            Err(CgroupError::InvalidName { .. })
        ),
        "the base name follows the same rule"
    );
    assert!(!tmp.path().join("x").exists() && !tmp.path().join("memory/a").exists());
}

#[test]
fn keyed_files_parse_by_exact_key() {
    let events = "low 0\nhigh 0\nmax 5\noom 2\noom_kill 3\noom_group_kill 1\n";
    assert_eq!(
        keyed(events, "oom_kill"),
        Some(3),
        "oom_kill, not oom or oom_group_kill"
    );
    assert_eq!(keyed(events, "max"), Some(5));
    assert_eq!(keyed(events, "missing"), None);
    assert_eq!(
        keyed("oom_kill_disable 0\nunder_oom 0\n", "oom_kill"),
        None,
        "v1 before 4.13"
    );
}

#[test]
fn errors_name_the_path_in_lower_case() {
    let err = CgroupError::Write {
        path: "/sys/fs/cgroup/pids/bulkhead/env-1/pids.max".into(),
        source: io::Error::from_raw_os_error(libc::EINVAL),
    };
    assert_eq!(
        err.to_string(),
        "cannot write /sys/fs/cgroup/pids/bulkhead/env-1/pids.max"
    );
    assert!(
        std::error::Error::source(&err).is_some(),
        "the io error stays reachable as the source"
    );
}

// ---- real groups on this host ----

/// A manager over a base of its own, so tests running side by side (and a real server) never
/// sweep each other's groups. Dropping it clears whatever the test left.
struct Host {
    mgr: CgroupManager,
}

impl Drop for Host {
    fn drop(&mut self) {
        self.mgr.sweep_stale();
        if let Err(e) = self.mgr.remove_base() {
            eprintln!("test cgroup base left behind: {e}");
        }
    }
}

fn host(tag: &str) -> Option<Host> {
    let root = fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false);
    if !root {
        eprintln!("skipped: creating cgroups needs root");
        return None;
    }
    match CgroupManager::detect(&format!("bulkhead-test-{}-{tag}", std::process::id())) {
        Ok(mgr) => Some(Host { mgr }),
        Err(e @ CgroupError::MissingControllers { .. }) => {
            eprintln!("skipped: {e}");
            None
        }
        Err(e) => panic!(
            "cgroup detection failed as root: {e} ({:?})",
            std::error::Error::source(&e)
        ),
    }
}

/// A shell that waits for one line on stdin before running `script`, so it can be attached
/// before it does anything that should count against the group.
fn gated(script: &str) -> Child {
    Command::new("/bin/sh")
        .arg("-c")
        .arg(format!("read _; {script}"))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn /bin/sh")
}

fn open_gate(child: &mut Child) {
    let mut stdin = child.stdin.take().expect("piped stdin");
    stdin.write_all(b"go\n").expect("write gate");
}

fn wait_bounded(child: &mut Child, bound: Duration) -> ExitStatus {
    let deadline = Instant::now() + bound;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("child {} still running after {bound:?}", child.id());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn poll_until(bound: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + bound;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    done()
}

#[test]
fn real_group_lifecycle() {
    let Some(host) = host("life") else { return };
    let facts = host.mgr.describe();
    assert_eq!(facts[0].0, "cgroup version");
    let cg = host.mgr.create("env-1").expect("create");
    cg.set_limits(&Limits {
        memory_bytes: 64 << 20,
        pids_max: 16,
        cpu_weight: 100,
    })
    .expect("limits");

    let mut child = gated("exec sleep 5");
    let pid = child.id();
    cg.attach(pid).expect("attach");
    assert_eq!(cg.procs(), vec![pid]);
    cg.reset_peak();
    open_gate(&mut child);
    // The exec after the attach builds a new address space, charged to the group.
    let exec_seen = poll_until(Duration::from_secs(2), || {
        fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "sleep")
    });
    assert!(exec_seen, "the child never became sleep");
    let usage = cg.usage();
    assert_eq!(usage.pids, 1, "{usage:?}");
    assert!(usage.peak_memory_bytes > 0, "{usage:?}");
    if host
        .mgr
        .describe()
        .iter()
        .all(|(_, v)| !v.contains("CPU time of environments reads as zero"))
    {
        assert!(usage.cpu_time > Duration::ZERO, "{usage:?}");
    }
    assert_eq!(cg.events(), Events::default(), "nothing hit a limit");

    cg.kill_all();
    assert!(cg.procs().is_empty());
    let status = wait_bounded(&mut child, Duration::from_secs(2));
    assert_eq!(status.signal(), Some(libc::SIGKILL), "{status:?}");
    cg.remove().expect("remove");
    for dir in cg.dirs() {
        assert!(!dir.exists(), "{} left behind", dir.display());
    }
    cg.remove().expect("removing twice is harmless");
}

#[test]
fn real_memory_limit_ends_in_an_oom_kill() {
    let Some(host) = host("oom") else { return };
    let cg = host.mgr.create("env-oom").expect("create");
    cg.set_limits(&Limits {
        memory_bytes: 64 << 20,
        pids_max: 16,
        cpu_weight: 100,
    })
    .expect("limits");
    // tail must buffer everything when there is no newline: 300 MB against a 64 MB limit.
    let mut child = gated("head -c 300M /dev/zero | tail");
    cg.attach(child.id()).expect("attach");
    open_gate(&mut child);
    let status = wait_bounded(&mut child, Duration::from_secs(30));
    assert!(!status.success(), "300 MB fitted in 64 MB: {status:?}");
    let events = cg.events();
    assert!(events.oom_kills >= 1, "{events:?}");
    assert!(events.memory_max_hits >= 1, "{events:?}");
    let peak = cg.usage().peak_memory_bytes;
    assert!(peak <= 64 << 20, "peak {peak} above the limit");
    cg.kill_all();
    cg.remove().expect("remove");
}

#[test]
fn real_pids_limit_refuses_forks() {
    let Some(host) = host("pids") else { return };
    let cg = host.mgr.create("env-pids").expect("create");
    cg.set_limits(&Limits {
        memory_bytes: 64 << 20,
        pids_max: 5,
        cpu_weight: 100,
    })
    .expect("limits");
    let mut child = gated("i=0; while [ $i -lt 20 ]; do sleep 5 & i=$((i+1)); done; wait");
    cg.attach(child.id()).expect("attach");
    open_gate(&mut child);
    let hit = poll_until(Duration::from_secs(5), || cg.events().pids_max_hits >= 1);
    assert!(hit, "{:?}", cg.events());
    assert!(cg.procs().len() <= 5, "{:?}", cg.procs());
    // The shell may have given up already and left its sleeps orphaned in the group.
    cg.kill_all();
    assert!(cg.procs().is_empty(), "{:?}", cg.procs());
    wait_bounded(&mut child, Duration::from_secs(2));
    cg.remove().expect("remove");
}

#[test]
fn real_sweep_removes_groups_of_a_crashed_server() {
    let Some(host) = host("sweep") else { return };
    let busy = host.mgr.create("env-1").expect("create");
    host.mgr.create("env-2").expect("create");
    let mut child = gated("exec sleep 5");
    busy.attach(child.id()).expect("attach");

    // A restarted server only knows the base name.
    let base = host.mgr.base.clone();
    let restarted = CgroupManager::detect(&base).expect("detect again");
    assert_eq!(restarted.sweep_stale(), 2);
    let status = wait_bounded(&mut child, Duration::from_secs(2));
    assert_eq!(status.signal(), Some(libc::SIGKILL), "{status:?}");
    for dir in busy.dirs() {
        assert!(!dir.exists(), "{} left behind", dir.display());
    }
    assert_eq!(restarted.sweep_stale(), 0);
    restarted.remove_base().expect("an empty base can go");
    for dir in restarted.base_dirs() {
        assert!(!dir.exists(), "{} left behind", dir.display());
    }
}

/// Times create → set_limits → attach → (child exits) → remove, back to back and with a 50 ms
/// pause before each round. Run alone: `cargo test -p bulkhead-sandbox lifecycle_cost --
/// --ignored --nocapture`. Prints numbers; the benchmark document holds the interpretation.
#[test]
#[ignore = "measurement, prints timings"]
fn lifecycle_cost() {
    let Some(host) = host("cost") else { return };
    let limits = Limits {
        memory_bytes: 128 << 20,
        pids_max: 64,
        cpu_weight: 50,
    };
    for gap in [Duration::ZERO, Duration::from_millis(50)] {
        let mut steps: [Vec<Duration>; 5] = Default::default();
        for i in 0..40 {
            let mut child = Command::new("sleep").arg("30").spawn().expect("spawn");
            std::thread::sleep(gap);
            let t0 = Instant::now();
            let cg = host.mgr.create(&format!("env-{i}")).expect("create");
            let t1 = Instant::now();
            cg.set_limits(&limits).expect("limits");
            let t2 = Instant::now();
            cg.attach(child.id()).expect("attach");
            let t3 = Instant::now();
            child.kill().expect("kill");
            child.wait().expect("wait");
            let t4 = Instant::now();
            cg.remove().expect("remove");
            let t5 = Instant::now();
            for (s, d) in
                steps
                    .iter_mut()
                    .zip([t1 - t0, t2 - t1, t3 - t2, t5 - t4, (t3 - t0) + (t5 - t4)])
            {
                s.push(d);
            }
        }
        println!(
            "gap {gap:?}, {} dirs per group, n=40:",
            host.mgr.base_dirs().len()
        );
        for (name, mut s) in ["mkdir", "set_limits", "attach", "rmdir", "total"]
            .into_iter()
            .zip(steps)
        {
            s.sort();
            let pct = |p: usize| s[(s.len() * p).div_ceil(100).saturating_sub(1)];
            println!(
                "  {name:<10} median {:>9.3?}  p95 {:>9.3?}  max {:>9.3?}",
                pct(50),
                pct(95),
                s[s.len() - 1]
            );
        }
    }
}

//! Tenant A goes after tenant B's files, processes and descriptors, and after host files.
//! Each test's doc comment says what the attack tried.

use bulkhead_isolation_tests::Lab;

/// Tried: read `/tmp/secret` (where B keeps its secret, mode 0666) and `/tmp/victim.sock`, and
/// list `/tmp`. A's `/tmp` is a tmpfs of its own: empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cannot_read_or_list_the_neighbours_tmp() {
    let Some(lab) = Lab::new() else { return };
    let victim = lab.victim().await;
    let attack = lab
        .attack(&["read", "/tmp/secret", "/tmp/victim.sock", "/tmp"])
        .await;
    attack
        .assert_blocked()
        .assert_reasons_within(&["ENOENT", "EMPTY"]);
    victim.assert_untouched(&attack).await;
}

/// Tried: read B's secret through `/proc/<pid>/root/tmp/secret` and `/proc/<pid>/cwd/../../tmp/
/// secret` for every pid up to 64, B's pid as B sees it, and B's pids as the host numbers them;
/// and follow `/proc/<pid>/root` links anywhere but A's own root.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cannot_reach_the_neighbours_files_through_proc_pid_root() {
    let Some(lab) = Lab::new() else { return };
    let victim = lab.victim().await;
    let mut args = vec![
        "proc-root".to_owned(),
        "/tmp/secret".to_owned(),
        victim.get("pid").to_owned(),
    ];
    args.extend(victim.host_pid_args());
    let attack = lab
        .attack(&args.iter().map(String::as_str).collect::<Vec<_>>())
        .await;
    // EACCES: A's own agent (pid 1) is another user; ENOENT: no such pid here, or A's own /tmp.
    attack
        .assert_blocked()
        .assert_reasons_within(&["ENOENT", "EACCES"]);
    victim.assert_untouched(&attack).await;
}

/// Tried: list `/proc` and read every process's name and command line. B's Python process is
/// pid 2 inside B; in A, pid 2 is A's own probe, and nothing else but A's agent (pid 1) exists.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sees_only_its_own_processes() {
    let Some(lab) = Lab::new() else { return };
    let victim = lab.victim().await;
    let attack = lab.attack(&["list-processes"]).await;
    attack.assert_blocked().assert_reasons_within(&["ONLY-OWN"]);
    let b_pid = victim.get("pid").to_owned();
    let visible = attack.notes().trim_start_matches("visible ").to_owned();
    eprintln!("B's pid inside B: {b_pid}; A's /proc shows: {visible}");
    assert_eq!(
        visible,
        "1=bulkhead-agent,2=probe",
        "B's pid inside B is {b_pid}; A sees {visible}\n{}",
        attack.transcript()
    );
    victim.assert_untouched(&attack).await;
}

/// Tried: SIGKILL to every pid from 1 to 32768 (the host's pid_max here) and to B's host pids,
/// then `kill(-1, SIGKILL)`. Only A's own agent exists to refuse (EPERM); every other pid is
/// absent from A's PID namespace (ESRCH).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cannot_kill_the_neighbour_by_signalling_every_pid() {
    let Some(lab) = Lab::new() else { return };
    let victim = lab.victim().await;
    let mut args = vec!["kill-all".to_owned()];
    args.extend(victim.host_pid_args());
    let attack = lab
        .attack(&args.iter().map(String::as_str).collect::<Vec<_>>())
        .await;
    attack
        .assert_blocked()
        .assert_reasons_within(&["ESRCH", "EPERM"]);
    victim.assert_untouched(&attack).await;
}

/// Tried: PTRACE_ATTACH and PTRACE_SEIZE on A's agent, B's pid, B's host pids and a child of
/// A's own; process_vm_readv and pidfd_getfd on that child; PTRACE_TRACEME. Seccomp answers
/// EPERM to all of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cannot_ptrace_the_neighbour_or_anything_else() {
    let Some(lab) = Lab::new() else { return };
    let victim = lab.victim().await;
    let mut args = vec!["ptrace".to_owned(), victim.get("pid").to_owned()];
    args.extend(victim.host_pid_args());
    let attack = lab
        .attack(&args.iter().map(String::as_str).collect::<Vec<_>>())
        .await;
    attack.assert_blocked().assert_reasons_within(&["EPERM"]);
    victim.assert_untouched(&attack).await;
}

/// Tried: find descriptors inherited from the agent (its control socket to the host would be a
/// way out). Only stdin (/dev/null), stdout and stderr (pipes) are open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inherits_no_descriptor_but_stdio() {
    let Some(lab) = Lab::new() else { return };
    let victim = lab.victim().await;
    let attack = lab.attack(&["inherited-fds"]).await;
    attack
        .assert_blocked()
        .assert_reasons_within(&["ONLY-STDIO"])
        .assert_note("fd 0 -> /dev/null");
    victim.assert_untouched(&attack).await;
}

/// Tried: read or list `/root`, `/etc/shadow`, `/home`, `/etc/ssl/private` and the host's TLS
/// key in it, a host file in the test's data dir (and the dir), the lab's state dir, this
/// source tree, `/proc/1/environ` and `/proc/1/mem` (A's agent), `/sys`, `/boot`, `/run`,
/// `/var/lib`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cannot_read_host_files_that_were_not_bound() {
    let Some(lab) = Lab::new() else { return };
    let victim = lab.victim().await;
    let data_dir = lab.host_dir().join("data");
    std::fs::create_dir_all(&data_dir).expect("data dir");
    let host_secret = data_dir.join("host-secret");
    std::fs::write(&host_secret, "host-secret-contents").expect("host secret");
    let paths = [
        "/root".to_owned(),
        "/etc/shadow".to_owned(),
        "/home".to_owned(),
        "/etc/ssl/private".to_owned(),
        "/etc/ssl/private/ssl-cert-snakeoil.key".to_owned(),
        host_secret.display().to_string(),
        data_dir.display().to_string(),
        lab.host_dir().display().to_string(),
        env!("CARGO_MANIFEST_DIR").to_owned(),
        "/proc/1/environ".to_owned(),
        "/proc/1/mem".to_owned(),
        "/sys".to_owned(),
        "/boot".to_owned(),
        "/run".to_owned(),
        "/var/lib".to_owned(),
    ];
    let mut args = vec!["read"];
    args.extend(paths.iter().map(String::as_str));
    let attack = lab.attack(&args).await;
    attack
        .assert_blocked()
        .assert_reasons_within(&["ENOENT", "EACCES"]);
    assert!(
        !attack.transcript().contains("host-secret-contents"),
        "{}",
        attack.transcript()
    );
    victim.assert_untouched(&attack).await;
}

/// Tried: create a file and a directory in `/`, `/var`, `/var/task`, `/var/runtime`, `/opt`,
/// `/usr`, `/usr/bin`, `/etc`, `/dev`; open for writing and chmod `/var/task/probe`,
/// `/usr/bin/bash`, `/etc/passwd`, `/proc/sys/kernel/hostname`, `/proc/sys/vm/drop_caches`;
/// create `/dev/new-device`; symlink in `/`; rename `/etc/hosts`. `/tmp` is the control: writing
/// there works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cannot_write_outside_tmp() {
    let Some(lab) = Lab::new() else { return };
    let victim = lab.victim().await;
    let attack = lab
        .attack(&[
            "write",
            "/",
            "/var",
            "/var/task",
            "/var/task/probe",
            "/var/runtime",
            "/opt",
            "/usr",
            "/usr/bin",
            "/usr/bin/bash",
            "/etc",
            "/etc/passwd",
            "/dev",
            "/dev/new-device",
            "/proc/sys/kernel/hostname",
            "/proc/sys/vm/drop_caches",
        ])
        .await;
    attack
        .assert_blocked()
        .assert_reasons_within(&["EROFS", "EACCES", "EPERM"])
        .assert_note("control: /tmp is writable");
    victim.assert_untouched(&attack).await;
}

/// Tried: read `/proc/self/cgroup`. In a cgroup namespace rooted at the environment's own cgroup
/// every path reads `/`; a host path names the host's cgroup tree and the environment's
/// sequence number, which tells A how many environments the host has made for anyone since it
/// started (a measure of other tenants' activity).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cgroup_namespace_hides_the_host_cgroup_tree() {
    let Some(lab) = Lab::new() else { return };
    let victim = lab.victim().await;
    let attack = lab.attack(&["cgroup-view"]).await;
    attack.assert_blocked().assert_reasons_within(&["ROOTED"]);
    victim.assert_untouched(&attack).await;
}

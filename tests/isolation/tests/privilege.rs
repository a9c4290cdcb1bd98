//! Tenant A tries to get more than an unprivileged user in its own box: mounts, namespaces,
//! capabilities, kernel modules and kernel interfaces, and the syscalls seccomp denies. Each
//! test's doc comment says what the attack tried.

use bulkhead_isolation_tests::Lab;

/// Runs one argument-less attack beside a victim and checks it was refused only for `reasons`.
async fn refused(attack: &str, reasons: &[&str]) {
    let Some(lab) = Lab::new() else { return };
    let victim = lab.victim().await;
    let result = lab.attack(&[attack]).await;
    result.assert_blocked().assert_reasons_within(reasons);
    victim.assert_untouched(&result).await;
}

/// Tried: mount a tmpfs and a proc, bind `/` elsewhere, remount `/` and `/usr` read-write,
/// unmount the masks over `/proc/kcore` and `/proc/sysrq-trigger`, unmount `/proc/sys`, `/proc`,
/// `/var/task` and `/`, pivot_root, and the new mount API (fsopen, open_tree, fspick,
/// move_mount, mount_setattr). Seccomp answers EPERM, and the mount table is unchanged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cannot_mount_or_unmount() {
    refused("mount", &["EPERM"]).await;
}

/// Tried: unshare(2) with each namespace flag (mount, UTS, IPC, user, PID, network, cgroup,
/// time), and clone(2) with each, also with a bit above 32 set to hide the flag.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cannot_unshare_any_namespace() {
    refused("unshare", &["EPERM"]).await;
}

/// Tried: open `/proc/1/ns/*` (A's agent, root in A's namespaces) and `/proc/self/ns/*`, and
/// setns(2) into each, and setns through a pidfd of pid 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cannot_setns_into_any_namespace() {
    refused("setns", &["EACCES", "EPERM"]).await;
}

/// Tried: chroot into `/tmp`; the classic escape (keep a descriptor to `/`, chroot deeper,
/// fchdir back, climb `..` 64 times, chroot `.`); pivot_root; climbing `..` from `/`;
/// `/proc/1/root` and `/proc/self/root`. Every path leads back to A's own root.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cannot_chroot_out() {
    let Some(lab) = Lab::new() else { return };
    let victim = lab.victim().await;
    let attack = lab.attack(&["chroot-escape"]).await;
    attack
        .assert_blocked()
        .assert_reasons_within(&["EPERM", "EACCES", "SAME-ROOT"])
        .assert_reason("SAME-ROOT");
    victim.assert_untouched(&attack).await;
}

/// Tried: capset(2) with every capability, setuid(0), setgid(0), setresuid(0,0,0),
/// setgroups([0]), raising an ambient capability, clearing no_new_privs; then exec every
/// setuid, setgid or file-capability binary in the root (su, passwd, mount, ssh-keysign, ...)
/// and read its credentials after exec. Each runs as uid 993 / gid 990 with no capabilities
/// (no_new_privs, a nosuid mount, and owners the namespace does not map).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cannot_gain_a_capability() {
    let Some(lab) = Lab::new() else { return };
    let victim = lab.victim().await;
    let attack = lab.attack(&["gain-capability"]).await;
    attack
        .assert_blocked()
        .assert_reasons_within(&["EPERM", "EINVAL", "NO-PRIVILEGE", "EACCES"])
        .assert_note("own credentials: uid 993, gid 990, no capabilities, no_new_privs");
    victim.assert_untouched(&attack).await;
}

/// Tried: packet and raw sockets (CAP_NET_RAW) and an unprivileged ICMP ping socket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cannot_open_raw_or_packet_sockets() {
    refused(
        "raw-socket",
        &["EPERM", "EACCES", "EAFNOSUPPORT", "EPROTONOSUPPORT"],
    )
    .await;
}

/// Tried: init_module, finit_module, delete_module, kexec_load, kexec_file_load, and writing
/// `/proc/sys/kernel/modprobe`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cannot_load_a_kernel_module() {
    refused("load-module", &["EPERM", "ENOENT", "EACCES", "EROFS"]).await;
}

/// Tried: open `/proc/sysrq-trigger` for writing (masked with /dev/null where the kernel has
/// it, so nothing would reach the kernel) and `/proc/sys/kernel/sysrq`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cannot_use_sysrq_trigger() {
    let Some(lab) = Lab::new() else { return };
    let victim = lab.victim().await;
    let attack = lab.attack(&["sysrq-trigger"]).await;
    attack
        .assert_blocked()
        .assert_reasons_within(&["MASKED", "EACCES", "EROFS", "ENOENT"]);
    if std::path::Path::new("/proc/sysrq-trigger").exists() {
        attack.assert_reason("MASKED");
    }
    victim.assert_untouched(&attack).await;
}

/// Tried: read `/proc/kcore`, `/proc/kallsyms`, `/proc/keys`, `/proc/timer_list` (masked with
/// /dev/null where the kernel has them), `/proc/kmsg`, `/dev/mem`, `/dev/kmem`, `/dev/port`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cannot_read_kernel_memory() {
    let Some(lab) = Lab::new() else { return };
    let victim = lab.victim().await;
    let attack = lab.attack(&["kernel-memory"]).await;
    attack
        .assert_blocked()
        .assert_reasons_within(&["MASKED", "EACCES", "ENOENT", "EPERM"])
        .assert_reason("MASKED");
    victim.assert_untouched(&attack).await;
}

/// Tried: bpf(2) BPF_MAP_CREATE, BPF_PROG_LOAD and BPF_BTF_LOAD.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bpf_is_refused() {
    refused("bpf", &["EPERM"]).await;
}

/// Tried: perf_event_open(2) on itself (which perf_event_paranoid would otherwise allow), on
/// every process of CPU 0, and on pid 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn perf_event_open_is_refused() {
    refused("perf-event-open", &["EPERM"]).await;
}

/// Tried: keyctl(2) on the session and user keyrings, add_key(2), request_key(2). Keyrings are
/// shared by every process of a uid, not namespaced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyctl_is_refused() {
    refused("keyctl", &["EPERM"]).await;
}

/// Tried: userfaultfd(2) with and without UFFD_USER_MODE_ONLY, and `/dev/userfaultfd`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn userfaultfd_is_refused() {
    refused("userfaultfd", &["EPERM", "ENOENT"]).await;
}

/// Tried: io_uring_setup(2), io_uring_enter(2), io_uring_register(2).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn io_uring_is_refused() {
    refused("io-uring", &["EPERM"]).await;
}

/// Tried: name_to_handle_at(2) on `/`, and open_by_handle_at(2) with a forged handle for inode 2
/// (the "shocker" escape).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_by_handle_at_is_refused() {
    refused("open-by-handle-at", &["EPERM"]).await;
}

/// Tried: reboot(2) with LINUX_REBOOT_CMD_CAD_OFF.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reboot_is_refused() {
    refused("reboot", &["EPERM"]).await;
}

/// Tried: clone3(2) plain and with CLONE_NEWUSER and CLONE_NEWNS. It answers ENOSYS (its flags
/// sit behind a pointer the filter cannot read), and glibc's fallback to clone(2) still gives
/// threads and fork.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clone3_answers_enosys_and_threads_still_work() {
    let Some(lab) = Lab::new() else { return };
    let victim = lab.victim().await;
    let attack = lab.attack(&["clone3"]).await;
    attack
        .assert_blocked()
        .assert_reasons_within(&["ENOSYS"])
        .assert_note("fallback works: threads and fork");
    victim.assert_untouched(&attack).await;
}

/// Tried: unshare(CLONE_NEWUSER) and getpid through the x32 syscall numbers (bit 30 set), which
/// share the x86_64 audit arch and would sidestep number-based rules.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x32_syscalls_answer_enosys() {
    refused("x32-abi", &["ENOSYS", "NOT-X86_64"]).await;
}

/// Tried: unshare(CLONE_NEWUSER) through the 32-bit `int 0x80` gate, where syscall numbers mean
/// other syscalls. The filter kills the process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn int80_syscalls_kill_the_process() {
    refused("int80-abi", &["KILLED-SIGSYS", "NOT-X86_64"]).await;
}

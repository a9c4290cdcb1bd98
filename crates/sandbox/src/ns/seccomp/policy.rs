//! The deny-list itself, as data: what a function's processes may not ask the kernel for.
//!
//! Everything here answers `EPERM`. The two `ENOSYS` answers (`clone3`, x32 numbers) are not
//! syscall-number rules seccompiler can express beside `EPERM` ones, so they live in the prelude
//! in `mod.rs`.

use std::collections::BTreeMap;

use seccompiler::{BackendError, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompRule};

/// `open_tree_attr(2)` (Linux 6.15) is missing from libc 0.2.191. Every architecture shares the
/// numbers from 424 up, so one value serves x86_64 and aarch64.
const SYS_OPEN_TREE_ATTR: i64 = 467;

/// `personality(0xffffffff)` only reads the current persona (personality(2)).
const PERSONALITY_QUERY: u64 = 0xffff_ffff;

/// Syscalls denied whatever their arguments, with the name tests and `bulkhead doctor` print.
pub(super) const DENIED: &[(&str, i64)] = &[
    // Loading or replacing kernel code, or stopping the machine: never a function's business,
    // and each is a large kernel surface even when capability checks would refuse it.
    ("init_module", libc::SYS_init_module),
    ("finit_module", libc::SYS_finit_module),
    ("delete_module", libc::SYS_delete_module),
    ("kexec_load", libc::SYS_kexec_load),
    ("kexec_file_load", libc::SYS_kexec_file_load),
    ("reboot", libc::SYS_reboot),
    ("swapon", libc::SYS_swapon),
    ("swapoff", libc::SYS_swapoff),
    ("acct", libc::SYS_acct),
    // The mount table is built once by the spawner; inside a user namespace a process could
    // otherwise remount, overmount or (with pivot_root/chroot) walk out of what it was given.
    // The new mount API (fsopen…mount_setattr, open_tree_attr) reaches the same code.
    ("mount", libc::SYS_mount),
    ("umount2", libc::SYS_umount2),
    ("pivot_root", libc::SYS_pivot_root),
    ("chroot", libc::SYS_chroot),
    ("move_mount", libc::SYS_move_mount),
    ("open_tree", libc::SYS_open_tree),
    ("open_tree_attr", SYS_OPEN_TREE_ATTR),
    ("fsopen", libc::SYS_fsopen),
    ("fsconfig", libc::SYS_fsconfig),
    ("fsmount", libc::SYS_fsmount),
    ("fspick", libc::SYS_fspick),
    ("mount_setattr", libc::SYS_mount_setattr),
    // A nested user namespace hands back every capability inside it, and with them most of the
    // kernel's privileged surface; namespace-creating clone flags are ruled in `clone_rules`.
    // unshare is denied for any flags: its non-namespace uses (CLONE_FILES, CLONE_FS) are not
    // something runtimes do.
    ("unshare", libc::SYS_unshare),
    ("setns", libc::SYS_setns),
    // Reading or steering another process of the same uid. Everything in one environment is one
    // tenant, but a function has no need to and these have a long CVE history.
    // process_madvise is beyond the brief's list: it is the same kind of reach into another
    // process's memory.
    ("ptrace", libc::SYS_ptrace),
    ("process_vm_readv", libc::SYS_process_vm_readv),
    ("process_vm_writev", libc::SYS_process_vm_writev),
    ("process_madvise", libc::SYS_process_madvise),
    ("kcmp", libc::SYS_kcmp),
    ("pidfd_getfd", libc::SYS_pidfd_getfd),
    // Large, frequently exploited kernel subsystems that runtimes do not need.
    ("bpf", libc::SYS_bpf),
    ("perf_event_open", libc::SYS_perf_event_open),
    ("userfaultfd", libc::SYS_userfaultfd),
    ("io_uring_setup", libc::SYS_io_uring_setup),
    ("io_uring_enter", libc::SYS_io_uring_enter),
    ("io_uring_register", libc::SYS_io_uring_register),
    ("fanotify_init", libc::SYS_fanotify_init),
    // Kernel keyrings are not namespaced: they are shared by every process of a uid.
    ("keyctl", libc::SYS_keyctl),
    ("add_key", libc::SYS_add_key),
    ("request_key", libc::SYS_request_key),
    // File handles name inodes directly, bypassing the path walk that keeps the root confined
    // (the "shocker" container escape).
    ("open_by_handle_at", libc::SYS_open_by_handle_at),
    ("name_to_handle_at", libc::SYS_name_to_handle_at),
    // Host-global state: profiling cookies, quotas, the kernel log.
    ("lookup_dcookie", libc::SYS_lookup_dcookie),
    ("quotactl", libc::SYS_quotactl),
    ("quotactl_fd", libc::SYS_quotactl_fd),
    ("syslog", libc::SYS_syslog),
    // The clock is the host's. adjtimex and clock_adjtime are denied even for their read-only
    // use (modes == 0): the mode sits inside the struct the pointer argument points at, which
    // seccomp cannot read, and reading the NTP discipline state is not something functions do.
    ("settimeofday", libc::SYS_settimeofday),
    ("clock_settime", libc::SYS_clock_settime),
    ("clock_adjtime", libc::SYS_clock_adjtime),
    ("adjtimex", libc::SYS_adjtimex),
    // Hangs up the controlling terminal; a function has none of its own to hang up.
    ("vhangup", libc::SYS_vhangup),
    // Removed from the kernel (ENOSYS already); listed so a kernel that revives the number
    // does not quietly expose it.
    ("nfsservctl", libc::SYS_nfsservctl),
    // NUMA placement. Denied as Docker does without CAP_SYS_NICE: migrate_pages and move_pages
    // act on other processes, and memory placement is the host's to decide. get_mempolicy stays
    // allowed because the JVM and libnuma probe with it; they treat EPERM from mbind or
    // set_mempolicy as "no NUMA" and carry on.
    ("mbind", libc::SYS_mbind),
    ("set_mempolicy", libc::SYS_set_mempolicy),
    ("set_mempolicy_home_node", libc::SYS_set_mempolicy_home_node),
    ("migrate_pages", libc::SYS_migrate_pages),
    ("move_pages", libc::SYS_move_pages),
    // Raw port I/O; modify_ldt (beyond the brief's list) is 16-bit segment plumbing that only
    // Wine and DOS emulators use, with a history of kernel bugs; uselib loads a.out libraries.
    #[cfg(target_arch = "x86_64")]
    ("iopl", libc::SYS_iopl),
    #[cfg(target_arch = "x86_64")]
    ("ioperm", libc::SYS_ioperm),
    #[cfg(target_arch = "x86_64")]
    ("modify_ldt", libc::SYS_modify_ldt),
    #[cfg(target_arch = "x86_64")]
    ("uselib", libc::SYS_uselib),
];

/// `CLONE_NEW*` flags `clone(2)` can carry in its first argument (the flags on both x86_64 and
/// aarch64).
///
/// `CLONE_NEWTIME` (0x80) is absent on purpose: for `clone` that bit belongs to the exit-signal
/// byte (`CSIGNAL`), which the kernel strips before it looks at the flags, so a time namespace
/// can only come from `unshare` or `clone3`, both refused.
/// libc types them as `c_int`; all are single positive bits, so widening them is exact.
pub(super) const CLONE_NAMESPACE_FLAGS: &[(&str, u64)] = &[
    ("CLONE_NEWNS", libc::CLONE_NEWNS as u64),
    ("CLONE_NEWUTS", libc::CLONE_NEWUTS as u64),
    ("CLONE_NEWIPC", libc::CLONE_NEWIPC as u64),
    ("CLONE_NEWUSER", libc::CLONE_NEWUSER as u64),
    ("CLONE_NEWPID", libc::CLONE_NEWPID as u64),
    ("CLONE_NEWNET", libc::CLONE_NEWNET as u64),
    ("CLONE_NEWCGROUP", libc::CLONE_NEWCGROUP as u64),
];

/// The rules answered `EPERM`, keyed by syscall number as seccompiler wants them. An empty rule
/// list means "whatever the arguments".
pub(super) fn eperm_rules() -> Result<BTreeMap<i64, Vec<SeccompRule>>, BackendError> {
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> =
        DENIED.iter().map(|&(_, nr)| (nr, Vec::new())).collect();
    rules.insert(libc::SYS_clone, clone_rules()?);
    rules.insert(libc::SYS_personality, personality_rules()?);
    Ok(rules)
}

/// One rule per namespace flag, because rules are OR-ed and a single masked compare can only
/// test "all of these bits", not "any". The kernel reads clone's flags as 32 bits, so a 32-bit
/// compare leaves nothing in the high half to hide behind.
fn clone_rules() -> Result<Vec<SeccompRule>, BackendError> {
    CLONE_NAMESPACE_FLAGS
        .iter()
        .map(|&(_, flag)| {
            SeccompRule::new(vec![SeccompCondition::new(
                0,
                SeccompCmpArgLen::Dword,
                SeccompCmpOp::MaskedEq(flag),
                flag,
            )?])
        })
        .collect()
}

/// Only the default persona (`PER_LINUX`, 0) and the query are allowed. Other personas switch
/// off ASLR (`ADDR_NO_RANDOMIZE`), make low addresses mappable (`MMAP_PAGE_ZERO`) or turn on
/// `READ_IMPLIES_EXEC`: each weakens the process against its own bugs, none is needed by a
/// runtime. The argument is an `unsigned int`, hence the 32-bit compares.
fn personality_rules() -> Result<Vec<SeccompRule>, BackendError> {
    let persona = |op, value| SeccompCondition::new(0, SeccompCmpArgLen::Dword, op, value);
    Ok(vec![SeccompRule::new(vec![
        persona(SeccompCmpOp::Ne, 0)?,
        persona(SeccompCmpOp::Ne, PERSONALITY_QUERY)?,
    ])?])
}

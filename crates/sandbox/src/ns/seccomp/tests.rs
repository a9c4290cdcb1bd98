//! Two kinds of evidence. Kernel tests install the real filter in a child process (this test
//! binary re-run on one test, `BULKHEAD_SECCOMP_TEST_CHILD` set) and call each denied syscall
//! with arguments that, unfiltered and as root, fail harmlessly with some other errno
//! (`probes_reach_the_kernel_unfiltered` checks that claim), then check what still works.
//! Table tests run the compiled program through a small classic-BPF interpreter for every
//! syscall number, so nothing is denied that the policy does not list, and the x32 and
//! foreign-arch paths are covered on kernels where they cannot be exercised.

// Raw syscalls are the point of these probes.
#![allow(unsafe_code)]

use std::collections::BTreeMap;
use std::ffi::CStr;
use std::fmt;
use std::io::Write as _;
use std::os::unix::process::ExitStatusExt as _;
use std::process::{Command, ExitStatus, Stdio};

use seccompiler::sock_filter;

use super::policy::{CLONE_NAMESPACE_FLAGS, DENIED};
use super::{Filter, SeccompError, install};

// ---------------------------------------------------------------------------------------------
// Running a test body in a child process.

const CHILD_ENV: &str = "BULKHEAD_SECCOMP_TEST_CHILD";
const REPORT: &str = "seccomp-test-report\t";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Filtered,
    Unfiltered,
}

struct ChildRun {
    status: ExitStatus,
    lines: Vec<String>,
    output: String,
}

/// In the parent: re-runs this test binary on `test` alone and collects what the child
/// reported. In that child: installs the filter (for `Mode::Filtered`), runs `body`, prints
/// its lines and exits, so the filter never touches the test harness's own process.
fn in_child(test: &str, mode: Mode, body: impl FnOnce() -> Vec<String>) -> ChildRun {
    if std::env::var_os(CHILD_ENV).is_some() {
        child_side(mode, body)
    }
    let exe = std::env::current_exe().expect("test binary path is known");
    let module = module_path!()
        .split_once("::")
        .map_or(module_path!(), |(_crate, rest)| rest);
    let out = Command::new(exe)
        .args([&format!("{module}::{test}"), "--exact", "--nocapture"])
        .args(["--test-threads=1"])
        .env(CHILD_ENV, "1")
        .stdin(Stdio::null())
        .output()
        .expect("re-run the test binary");
    let stdout = String::from_utf8_lossy(&out.stdout);
    ChildRun {
        status: out.status,
        lines: stdout
            .lines()
            .filter_map(|l| l.strip_prefix(REPORT))
            .map(str::to_owned)
            .collect(),
        output: format!("{stdout}{}", String::from_utf8_lossy(&out.stderr)),
    }
}

fn child_side(mode: Mode, body: impl FnOnce() -> Vec<String>) -> ! {
    // SAFETY: setsid and setrlimit take no pointers but the rlimit, which lives on this stack.
    // Leaving the session drops the controlling terminal, so the vhangup probe cannot hang up
    // the terminal running the tests; no core file from the deliberate SIGSYS kill.
    unsafe {
        libc::setsid();
        let none = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        libc::setrlimit(libc::RLIMIT_CORE, &none);
    }
    if mode == Mode::Filtered {
        // Through bytes, as the agent receives it.
        let bytes = Filter::for_functions().expect("policy compiles").to_bytes();
        install(&bytes).expect("filter installs");
    }
    let lines = body();
    let mut out = std::io::stdout().lock();
    // libtest has printed "test NAME ... " without a newline.
    writeln!(out).expect("write report");
    for line in lines {
        writeln!(out, "{REPORT}{line}").expect("write report");
    }
    out.flush().expect("flush report");
    std::process::exit(0)
}

impl ChildRun {
    fn outcomes(&self) -> BTreeMap<String, Outcome> {
        assert!(
            self.status.success(),
            "child failed: {}\n{}",
            self.status,
            self.output
        );
        self.lines
            .iter()
            .map(|l| {
                let (name, outcome) = l.split_once('\t').expect("name<TAB>outcome");
                (name.to_owned(), outcome.parse().expect("outcome"))
            })
            .collect()
    }
}

// ---------------------------------------------------------------------------------------------
// Probes: one raw syscall each.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Returned(i64),
    Errno(i32),
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Returned(v) => write!(f, "ret:{v}"),
            Outcome::Errno(e) => write!(f, "errno:{e}"),
        }
    }
}

impl std::str::FromStr for Outcome {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let parse = |v: &str| v.parse::<i64>().map_err(|e| format!("{s}: {e}"));
        match s.split_once(':') {
            Some(("ret", v)) => Ok(Outcome::Returned(parse(v)?)),
            Some(("errno", v)) => Ok(Outcome::Errno(
                i32::try_from(parse(v)?).map_err(|e| e.to_string())?,
            )),
            _ => Err(format!("not an outcome: {s}")),
        }
    }
}

/// Human form for assertion messages: "EPERM"-style text from the OS.
fn describe(outcome: Option<&Outcome>) -> String {
    match outcome {
        Some(Outcome::Errno(e)) => format!("{} ({e})", std::io::Error::from_raw_os_error(*e)),
        Some(Outcome::Returned(v)) => format!("success, returned {v}"),
        None => "no report".to_owned(),
    }
}

#[derive(Clone, Copy)]
enum Arg {
    N(u64),
    S(&'static CStr),
}
use Arg::{N, S};

/// `-1` as a syscall argument (bad fd, invalid flag word).
const NEG: u64 = u64::MAX;
/// A pid above `PID_MAX_LIMIT`, so lookups fail with ESRCH.
const NO_PID: u64 = 0x3fff_ffff;
const NO_PATH: &CStr = c"/nonexistent/bulkhead-seccomp-probe";
// libc's c_int constants as syscall arguments; all small and positive.
const O_NONBLOCK: u64 = libc::O_NONBLOCK as u64;
const CLONE_NEWUSER: u64 = libc::CLONE_NEWUSER as u64;
const CLONE_NEWNS: u64 = libc::CLONE_NEWNS as u64;
const CLONE_NEWNET: u64 = libc::CLONE_NEWNET as u64;
const CLONE_FILES: u64 = libc::CLONE_FILES as u64;
const PTRACE_PEEKDATA: u64 = libc::PTRACE_PEEKDATA as u64;

struct Probe {
    name: &'static str,
    nr: i64,
    args: &'static [Arg],
}

impl Probe {
    fn run(&self) -> Outcome {
        let mut a = [0u64; 6];
        for (slot, arg) in a.iter_mut().zip(self.args) {
            *slot = match arg {
                N(v) => *v,
                S(s) => s.as_ptr() as u64,
            };
        }
        // SAFETY: every probe passes integers, null, or pointers to 'static NUL-terminated
        // strings, and each probe's arguments are chosen so the call, if the kernel ran it,
        // fails or does nothing (see the table); none maps, unmaps or writes through a pointer.
        let ret = unsafe { libc::syscall(self.nr, a[0], a[1], a[2], a[3], a[4], a[5]) };
        if ret == -1 {
            Outcome::Errno(last_errno())
        } else {
            Outcome::Returned(ret)
        }
    }

    fn report(&self) -> String {
        format!("{}\t{}", self.name, self.run())
    }
}

fn last_errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// A probe table: `"name" syscall-number => [args];`, written as a brace macro so rustfmt keeps
/// one probe per line.
macro_rules! probes {
    ($($name:literal $nr:expr => [$($arg:expr),*];)*) => {
        &[$(Probe { name: $name, nr: $nr, args: &[$($arg),*] }),*]
    };
}

// Comments give the answer the kernel would give root without the filter (Linux 6.x); where a
// subsystem is compiled out it is ENOSYS instead.
const MODULES: &[Probe] = probes! {
    "init_module" libc::SYS_init_module => [N(0), N(0), S(c"")]; // ENOEXEC: too short for ELF
    "finit_module" libc::SYS_finit_module => [N(NEG), S(c""), N(0)]; // EBADF
    // ENOENT
    "delete_module" libc::SYS_delete_module => [S(c"bulkhead_no_such_module"), N(O_NONBLOCK)];
};
const KEXEC: &[Probe] = probes! {
    "kexec_load" libc::SYS_kexec_load => [N(0), N(0), N(0), N(0x7fff_0000)]; // EINVAL: arch bits
    "kexec_file_load" libc::SYS_kexec_file_load => [N(NEG), N(NEG), N(0), N(0), N(NEG)]; // EINVAL
};
const REBOOT: &[Probe] = probes! {
    "reboot" libc::SYS_reboot => [N(0), N(0), N(0), N(0)]; // EINVAL: wrong magic, checked first
};
const SWAP: &[Probe] = probes! {
    "swapon" libc::SYS_swapon => [N(0), N(0)]; // EFAULT
    "swapoff" libc::SYS_swapoff => [N(0)]; // EFAULT
};
const ACCT: &[Probe] = probes! {
    "acct" libc::SYS_acct => [S(NO_PATH)]; // ENOENT
};
const MOUNT: &[Probe] = probes! {
    "mount" libc::SYS_mount => [N(0), N(0), N(0), N(0), N(0)]; // EFAULT
    "umount2" libc::SYS_umount2 => [S(NO_PATH), N(0)]; // ENOENT
};
const NEW_MOUNT_API: &[Probe] = probes! {
    "move_mount" libc::SYS_move_mount => [N(NEG), S(c""), N(NEG), S(c""), N(0)]; // ENOENT
    "open_tree" libc::SYS_open_tree => [N(NEG), S(NO_PATH), N(0)]; // ENOENT
    "open_tree_attr" 467 => [N(NEG), S(NO_PATH), N(0), N(0), N(0)]; // ENOENT
    "fsopen" libc::SYS_fsopen => [S(c"bulkhead-no-such-fs"), N(0)]; // ENODEV
    "fsconfig" libc::SYS_fsconfig => [N(NEG), N(0), N(0), N(0), N(0)]; // EBADF
    "fsmount" libc::SYS_fsmount => [N(NEG), N(0), N(0)]; // EBADF
    "fspick" libc::SYS_fspick => [N(NEG), S(NO_PATH), N(0)]; // ENOENT
    // EINVAL: size
    "mount_setattr" libc::SYS_mount_setattr => [N(NEG), S(NO_PATH), N(0), N(0), N(0)];
};
const PIVOT_ROOT: &[Probe] = probes! {
    "pivot_root" libc::SYS_pivot_root => [S(NO_PATH), S(NO_PATH)]; // ENOENT
};
const CHROOT: &[Probe] = probes! {
    "chroot" libc::SYS_chroot => [S(NO_PATH)]; // ENOENT
};
const UNSHARE_USER: &[Probe] = probes! {
    "unshare(CLONE_NEWUSER)" libc::SYS_unshare => [N(CLONE_NEWUSER)]; // EINVAL: libtest's threads
};
const UNSHARE_OTHER: &[Probe] = probes! {
    "unshare(CLONE_NEWNS)" libc::SYS_unshare => [N(CLONE_NEWNS)]; // succeeds
    "unshare(CLONE_NEWNET)" libc::SYS_unshare => [N(CLONE_NEWNET)]; // succeeds
    "unshare(CLONE_FILES)" libc::SYS_unshare => [N(CLONE_FILES)]; // succeeds
    "unshare(0)" libc::SYS_unshare => [N(0)]; // succeeds
};
const SETNS: &[Probe] = probes! {
    "setns" libc::SYS_setns => [N(NEG), N(0)]; // EBADF
};
const PTRACE: &[Probe] = probes! {
    // ESRCH
    "ptrace(PTRACE_PEEKDATA)" libc::SYS_ptrace => [N(PTRACE_PEEKDATA), N(NO_PID), N(0), N(0)];
};
const CROSS_PROCESS_MEMORY: &[Probe] = probes! {
    // EINVAL: flags, checked first
    "process_vm_readv" libc::SYS_process_vm_readv => [N(NO_PID), N(0), N(0), N(0), N(0), N(1)];
    "process_vm_writev" libc::SYS_process_vm_writev => [N(NO_PID), N(0), N(0), N(0), N(0), N(1)];
    "process_madvise" libc::SYS_process_madvise => [N(NEG), N(0), N(0), N(0), N(0)]; // EBADF
};
const KCMP: &[Probe] = probes! {
    "kcmp" libc::SYS_kcmp => [N(NO_PID), N(NO_PID), N(0), N(0), N(0)]; // ESRCH
};
const PIDFD_GETFD: &[Probe] = probes! {
    "pidfd_getfd" libc::SYS_pidfd_getfd => [N(NEG), N(0), N(0)]; // EBADF
};
const BPF: &[Probe] = probes! {
    "bpf" libc::SYS_bpf => [N(0xffff), N(0), N(0)]; // EINVAL: no such command
};
const PERF: &[Probe] = probes! {
    "perf_event_open" libc::SYS_perf_event_open => [N(0), N(0), N(NEG), N(NEG), N(0)]; // EFAULT
};
const USERFAULTFD: &[Probe] = probes! {
    "userfaultfd" libc::SYS_userfaultfd => [N(0xffff_ffff)]; // EINVAL: flags
};
const IO_URING: &[Probe] = probes! {
    "io_uring_setup" libc::SYS_io_uring_setup => [N(0), N(0)]; // EFAULT
    "io_uring_enter" libc::SYS_io_uring_enter => [N(NEG), N(0), N(0), N(0), N(0), N(0)]; // EBADF
    "io_uring_register" libc::SYS_io_uring_register => [N(NEG), N(0), N(0), N(0)]; // EINVAL
};
const FANOTIFY: &[Probe] = probes! {
    "fanotify_init" libc::SYS_fanotify_init => [N(0xffff_ffff), N(0)]; // EINVAL: flags
};
const KEYRINGS: &[Probe] = probes! {
    "keyctl" libc::SYS_keyctl => [N(0xffff)]; // EOPNOTSUPP
    "add_key" libc::SYS_add_key => [N(0), N(0), N(0), N(0), N(0)]; // EFAULT
    "request_key" libc::SYS_request_key => [N(0), N(0), N(0), N(0)]; // EFAULT
};
const FILE_HANDLES: &[Probe] = probes! {
    "open_by_handle_at" libc::SYS_open_by_handle_at => [N(NEG), N(0), N(0)]; // EFAULT
    // ENOENT
    "name_to_handle_at" libc::SYS_name_to_handle_at => [N(NEG), S(NO_PATH), N(0), N(0), N(0)];
};
const LOOKUP_DCOOKIE: &[Probe] = probes! {
    // ENOSYS since 6.10, else EINVAL
    "lookup_dcookie" libc::SYS_lookup_dcookie => [N(0), N(0), N(0)];
};
const QUOTAS: &[Probe] = probes! {
    // ENODEV: no device (cmd 0 is not Q_SYNC)
    "quotactl" libc::SYS_quotactl => [N(0), N(0), N(0), N(0)];
    "quotactl_fd" libc::SYS_quotactl_fd => [N(NEG), N(0), N(0), N(0)]; // EBADF
};
const SYSLOG: &[Probe] = probes! {
    "syslog" libc::SYS_syslog => [N(9999), N(0), N(0)]; // EINVAL: no such action
};
const CLOCKS: &[Probe] = probes! {
    "settimeofday" libc::SYS_settimeofday => [N(0), N(0)]; // 0: both null, nothing set
    "clock_settime" libc::SYS_clock_settime => [N(0x7fff_ffff), N(0)]; // EINVAL: no such clock
    "clock_adjtime" libc::SYS_clock_adjtime => [N(0x7fff_ffff), N(0)]; // EFAULT
    "adjtimex" libc::SYS_adjtimex => [N(0)]; // EFAULT
};
const VHANGUP: &[Probe] = probes! {
    "vhangup" libc::SYS_vhangup => []; // 0: the child has left the session, no terminal to hang up
};
const NFSSERVCTL: &[Probe] = probes! {
    "nfsservctl" libc::SYS_nfsservctl => [N(0), N(0), N(0)]; // ENOSYS
};
const NUMA: &[Probe] = probes! {
    "mbind" libc::SYS_mbind => [N(0), N(0), N(0xff), N(0), N(0), N(0)]; // EINVAL: mode
    "set_mempolicy" libc::SYS_set_mempolicy => [N(0xff), N(0), N(0)]; // EINVAL: mode
    // EINVAL: flags
    "set_mempolicy_home_node" libc::SYS_set_mempolicy_home_node => [N(0), N(0), N(0), N(1)];
    "migrate_pages" libc::SYS_migrate_pages => [N(NO_PID), N(0), N(0), N(0)]; // ESRCH
    "move_pages" libc::SYS_move_pages => [N(NO_PID), N(0), N(0), N(0), N(0), N(0)]; // ESRCH
};
#[cfg(target_arch = "x86_64")]
const IO_PORTS: &[Probe] = probes! {
    "iopl" libc::SYS_iopl => [N(4)]; // EINVAL: level > 3
    "ioperm" libc::SYS_ioperm => [N(0x1_0000), N(1), N(0)]; // EINVAL: past the bitmap
};
#[cfg(target_arch = "x86_64")]
const LEGACY_X86: &[Probe] = probes! {
    "modify_ldt" libc::SYS_modify_ldt => [N(0xff), N(0), N(0)]; // (u32)-ENOSYS: no such func
    "uselib" libc::SYS_uselib => [S(NO_PATH)]; // ENOSYS (CONFIG_USELIB off) or ENOENT
};
const PERSONALITY_CHANGES: &[Probe] = probes! {
    "personality(ADDR_NO_RANDOMIZE)" libc::SYS_personality => [N(0x0004_0000)]; // old persona
    "personality(READ_IMPLIES_EXEC)" libc::SYS_personality => [N(0x0040_0000)]; // old persona
    "personality(PER_LINUX32)" libc::SYS_personality => [N(0x0008)]; // old persona
};

const FAMILIES: &[&[Probe]] = &[
    MODULES,
    KEXEC,
    REBOOT,
    SWAP,
    ACCT,
    MOUNT,
    NEW_MOUNT_API,
    PIVOT_ROOT,
    CHROOT,
    UNSHARE_USER,
    UNSHARE_OTHER,
    SETNS,
    PTRACE,
    CROSS_PROCESS_MEMORY,
    KCMP,
    PIDFD_GETFD,
    BPF,
    PERF,
    USERFAULTFD,
    IO_URING,
    FANOTIFY,
    KEYRINGS,
    FILE_HANDLES,
    LOOKUP_DCOOKIE,
    QUOTAS,
    SYSLOG,
    CLOCKS,
    VHANGUP,
    NFSSERVCTL,
    NUMA,
    #[cfg(target_arch = "x86_64")]
    IO_PORTS,
    #[cfg(target_arch = "x86_64")]
    LEGACY_X86,
    PERSONALITY_CHANGES,
];

fn assert_all(test: &str, probes: &[Probe], expected: i32) {
    let outcomes = in_child(test, Mode::Filtered, || {
        probes.iter().map(Probe::report).collect()
    })
    .outcomes();
    for p in probes {
        let got = outcomes.get(p.name);
        assert_eq!(
            got,
            Some(&Outcome::Errno(expected)),
            "{} under the filter: {}, wanted {}",
            p.name,
            describe(got),
            describe(Some(&Outcome::Errno(expected))),
        );
    }
}

macro_rules! denies {
    ($($test:ident: $probes:expr;)*) => {$(
        #[test]
        fn $test() {
            assert_all(stringify!($test), $probes, libc::EPERM);
        }
    )*};
}

denies! {
    denies_module_loading: MODULES;
    denies_kexec: KEXEC;
    denies_reboot: REBOOT;
    denies_swap: SWAP;
    denies_acct: ACCT;
    denies_mount: MOUNT;
    denies_new_mount_api: NEW_MOUNT_API;
    denies_pivot_root: PIVOT_ROOT;
    denies_chroot: CHROOT;
    denies_unshare_user: UNSHARE_USER;
    denies_unshare_with_any_flags: UNSHARE_OTHER;
    denies_setns: SETNS;
    denies_ptrace: PTRACE;
    denies_cross_process_memory_access: CROSS_PROCESS_MEMORY;
    denies_kcmp: KCMP;
    denies_pidfd_getfd: PIDFD_GETFD;
    denies_bpf: BPF;
    denies_perf_event_open: PERF;
    denies_userfaultfd: USERFAULTFD;
    denies_io_uring: IO_URING;
    denies_fanotify_init: FANOTIFY;
    denies_keyrings: KEYRINGS;
    denies_file_handles: FILE_HANDLES;
    denies_lookup_dcookie: LOOKUP_DCOOKIE;
    denies_quotactl: QUOTAS;
    denies_syslog: SYSLOG;
    denies_setting_clocks: CLOCKS;
    denies_vhangup: VHANGUP;
    denies_nfsservctl: NFSSERVCTL;
    denies_numa_memory_policy: NUMA;
    denies_personality_changes: PERSONALITY_CHANGES;
}

#[cfg(target_arch = "x86_64")]
denies! {
    denies_io_ports: IO_PORTS;
    denies_modify_ldt_and_uselib: LEGACY_X86;
}

/// clone3's flags are behind a pointer; ENOSYS sends glibc back to clone, which is checked.
#[test]
fn answers_clone3_with_enosys() {
    // size 0 < CLONE_ARGS_SIZE_VER0: EINVAL if it reached the kernel.
    const CLONE3: &[Probe] = probes! {
        "clone3" libc::SYS_clone3 => [N(0), N(0)];
    };
    assert_all("answers_clone3_with_enosys", CLONE3, libc::ENOSYS);
}

/// `clone` with a null stack behaves like fork. Returns the child's exit status (7), or the
/// errno of a refused clone.
fn fork_by_clone(flags: u64) -> Outcome {
    let flags = flags | libc::SIGCHLD as u64;
    // SAFETY: with a null stack and no CLONE_VM, clone is fork: the child gets a copy of this
    // address space, and all it does is `_exit`, which is async-signal-safe, so no lock or
    // allocator state copied mid-use from another thread is touched. The remaining arguments
    // (tid pointers, tls) are ignored without their CLONE_* flags.
    let pid = unsafe { libc::syscall(libc::SYS_clone, flags, 0u64, 0u64, 0u64, 0u64) };
    if pid == 0 {
        // SAFETY: see above; this is the child.
        unsafe { libc::_exit(7) }
    }
    if pid < 0 {
        return Outcome::Errno(last_errno());
    }
    let pid = libc::pid_t::try_from(pid).expect("pids fit pid_t");
    let mut status = 0;
    // SAFETY: `status` is a live local the kernel writes an int into.
    let waited = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(waited, pid, "waitpid: {}", std::io::Error::last_os_error());
    Outcome::Returned(i64::from(libc::WEXITSTATUS(status)))
}

#[test]
fn denies_clone_with_namespace_flags() {
    let outcomes = in_child("denies_clone_with_namespace_flags", Mode::Filtered, || {
        CLONE_NAMESPACE_FLAGS
            .iter()
            .map(|&(name, flag)| format!("{name}\t{}", fork_by_clone(flag)))
            .collect()
    })
    .outcomes();
    for (name, _) in CLONE_NAMESPACE_FLAGS {
        let got = outcomes.get(*name);
        assert_eq!(
            got,
            Some(&Outcome::Errno(libc::EPERM)),
            "clone({name}): {}",
            describe(got)
        );
    }
}

#[test]
fn allows_plain_clone() {
    let outcomes = in_child("allows_plain_clone", Mode::Filtered, || {
        vec![
            format!("bare\t{}", fork_by_clone(0)),
            // glibc's fork() flags (its tid pointers are null here, which the kernel skips).
            format!(
                "glibc-fork\t{}",
                fork_by_clone((libc::CLONE_CHILD_SETTID | libc::CLONE_CHILD_CLEARTID) as u64)
            ),
            format!("vfork\t{}", fork_by_clone(libc::CLONE_VFORK as u64)),
        ]
    })
    .outcomes();
    for name in ["bare", "glibc-fork", "vfork"] {
        let got = outcomes.get(name);
        assert_eq!(
            got,
            Some(&Outcome::Returned(7)),
            "{name}: {}",
            describe(got)
        );
    }
}

/// A 64-bit x86 process can still enter the kernel through the i386 ABI (`int 0x80`), where the
/// numbers mean other syscalls; the arch check kills it (SIGSYS) before any rule is read.
#[cfg(target_arch = "x86_64")]
#[test]
fn kills_foreign_arch_syscalls() {
    let run = in_child("kills_foreign_arch_syscalls", Mode::Filtered, || {
        let ret: i32;
        // SAFETY: i386 getpid (20) takes no arguments and touches no memory; int 0x80 from
        // 64-bit code may zero r8-r11, declared clobbered.
        unsafe {
            std::arch::asm!(
                "int 0x80",
                inlateout("eax") 20 => ret,
                out("r8") _, out("r9") _, out("r10") _, out("r11") _,
            );
        }
        vec![format!("survived\t{}", Outcome::Returned(i64::from(ret)))]
    });
    assert_eq!(
        run.status.signal(),
        Some(libc::SIGSYS),
        "child should die of SIGSYS, got {}\n{}",
        run.status,
        run.output
    );
}

// ---------------------------------------------------------------------------------------------
// What must keep working under the filter.

fn assert_child_reports(test: &str, body: impl FnOnce() -> Vec<String>, expected: &[&str]) {
    let run = in_child(test, Mode::Filtered, body);
    assert!(
        run.status.success(),
        "child failed: {}\n{}",
        run.status,
        run.output
    );
    assert_eq!(run.lines, expected, "\n{}", run.output);
}

#[test]
fn allows_fork_exec() {
    // std's Command goes through posix_spawn, which tries clone3 first: this also checks
    // that ENOSYS sends glibc back to clone.
    assert_child_reports(
        "allows_fork_exec",
        || {
            let status = Command::new("/bin/true").status();
            vec![format!(
                "{:?}",
                status.map(|s| s.code()).map_err(|e| e.kind())
            )]
        },
        &["Ok(Some(0))"],
    );
}

#[test]
fn allows_threads() {
    assert_child_reports(
        "allows_threads",
        || {
            let joined = std::thread::spawn(|| 6 * 7).join();
            vec![format!("{:?}", joined.ok())]
        },
        &["Some(42)"],
    );
}

#[test]
fn allows_file_io() {
    assert_child_reports(
        "allows_file_io",
        || {
            let dir = tempfile::tempdir().expect("tempdir");
            let path = dir.path().join("probe");
            std::fs::write(&path, b"written under seccomp").expect("write");
            let read = std::fs::read_to_string(&path).expect("read");
            let passwd = std::fs::read("/etc/passwd").map(|b| !b.is_empty());
            vec![read, format!("{passwd:?}")]
        },
        &["written under seccomp", "Ok(true)"],
    );
}

#[test]
fn allows_loopback_tcp() {
    assert_child_reports(
        "allows_loopback_tcp",
        || {
            use std::io::Read as _;
            use std::net::{TcpListener, TcpStream};
            let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
            let addr = listener.local_addr().expect("local addr");
            let mut client = TcpStream::connect(addr).expect("connect");
            let (mut server, _) = listener.accept().expect("accept");
            client.write_all(b"ping").expect("send");
            let mut buf = [0u8; 4];
            server.read_exact(&mut buf).expect("receive");
            vec![String::from_utf8_lossy(&buf).into_owned()]
        },
        &["ping"],
    );
}

#[test]
fn allows_personality_query() {
    const QUERIES: &[Probe] = probes! {
        "personality(0xffffffff)" libc::SYS_personality => [N(0xffff_ffff)];
        "personality(PER_LINUX)" libc::SYS_personality => [N(0)];
    };
    let outcomes = in_child("allows_personality_query", Mode::Filtered, || {
        QUERIES.iter().map(Probe::report).collect()
    })
    .outcomes();
    for p in QUERIES {
        let got = outcomes.get(p.name);
        assert!(
            matches!(got, Some(Outcome::Returned(v)) if *v >= 0),
            "{}: {}",
            p.name,
            describe(got)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Are the probes honest?

#[test]
fn every_denied_syscall_is_probed() {
    let probed: Vec<i64> = FAMILIES
        .iter()
        .flat_map(|f| f.iter().map(|p| p.nr))
        .collect();
    let missing: Vec<&str> = DENIED
        .iter()
        .filter(|(_, nr)| !probed.contains(nr))
        .map(|(name, _)| *name)
        .collect();
    assert!(missing.is_empty(), "denied but never probed: {missing:?}");
}

/// Without the filter, as root, the probes must not already get EPERM from the kernel, or the
/// EPERM seen under the filter would prove nothing.
#[test]
fn probes_reach_the_kernel_unfiltered() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("probes_reach_the_kernel_unfiltered needs root: unprivileged, EPERM is normal");
        return;
    }
    // The kernel may refuse these even to root when the host is hardened (lockdown,
    // kexec_load_disabled, modules_disabled, io_uring_disabled, LSM hooks on bpf/perf).
    const HOST_MAY_REFUSE: &[&str] = &[
        "init_module",
        "finit_module",
        "kexec_load",
        "kexec_file_load",
        "io_uring_setup",
        "bpf",
        "perf_event_open",
    ];
    // Entering a user namespace would make every later probe unprivileged; it runs last.
    let mut order: Vec<&Probe> = FAMILIES.iter().flat_map(|f| f.iter()).collect();
    order.sort_by_key(|p| p.name == "unshare(CLONE_NEWUSER)");
    let outcomes = in_child(
        "probes_reach_the_kernel_unfiltered",
        Mode::Unfiltered,
        || order.iter().map(|p| p.report()).collect(),
    )
    .outcomes();
    let refused: Vec<String> = FAMILIES
        .iter()
        .flat_map(|f| f.iter())
        .filter(|p| !HOST_MAY_REFUSE.contains(&p.name))
        .filter(|p| outcomes.get(p.name) == Some(&Outcome::Errno(libc::EPERM)))
        .map(|p| p.name.to_owned())
        .collect();
    assert!(
        refused.is_empty(),
        "kernel itself answered EPERM to {refused:?}"
    );
    let count = FAMILIES.iter().map(|f| f.len()).sum::<usize>();
    assert_eq!(outcomes.len(), count, "every probe reported");
}

#[test]
fn install_rejects_a_program_the_kernel_refuses() {
    let run = in_child(
        "install_rejects_a_program_the_kernel_refuses",
        Mode::Unfiltered,
        || {
            // One instruction with an opcode classic BPF does not have.
            let result = install(&[0xff, 0xff, 0, 0, 0, 0, 0, 0]);
            vec![format!(
                "{}",
                matches!(result, Err(SeccompError::Install(_)))
            )]
        },
    );
    assert!(run.status.success(), "{}", run.output);
    assert_eq!(run.lines, ["true"]);
}

// ---------------------------------------------------------------------------------------------
// Bytes.

#[test]
fn byte_round_trip_preserves_the_program() {
    let filter = Filter::for_functions().expect("policy compiles");
    let bytes = filter.to_bytes();
    assert_eq!(bytes.len(), filter.len() * 8);
    assert_eq!(Filter::from_bytes(&bytes).expect("decodes"), filter);
}

#[test]
fn from_bytes_rejects_bad_lengths() {
    for len in [0, 1, 7, 9, 15] {
        let result = Filter::from_bytes(&vec![0; len]);
        assert!(
            matches!(result, Err(SeccompError::BadLength { len: l }) if l == len),
            "{len} bytes: {result:?}"
        );
    }
    let too_long = vec![0; 8 * 4097];
    assert!(matches!(
        Filter::from_bytes(&too_long),
        Err(SeccompError::TooLong { instructions: 4097 })
    ));
    assert!(Filter::from_bytes(&vec![0; 8 * 4096]).is_ok());
}

// ---------------------------------------------------------------------------------------------
// The program as a decision table, through a classic-BPF interpreter.

#[cfg(target_arch = "x86_64")]
const NATIVE_ARCH: u32 = 0xc000_003e;
#[cfg(target_arch = "x86_64")]
const FOREIGN_ARCH: u32 = 0x4000_0003; // AUDIT_ARCH_I386
#[cfg(target_arch = "aarch64")]
const NATIVE_ARCH: u32 = 0xc000_00b7;
#[cfg(target_arch = "aarch64")]
const FOREIGN_ARCH: u32 = 0x4000_0028; // AUDIT_ARCH_ARM

const ALLOW: u32 = libc::SECCOMP_RET_ALLOW;
const KILL: u32 = libc::SECCOMP_RET_KILL_PROCESS;
const RET_EPERM: u32 = libc::SECCOMP_RET_ERRNO | libc::EPERM as u32;
const RET_ENOSYS: u32 = libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32;

/// `struct seccomp_data` as the kernel lays it out: nr, arch, instruction pointer, args.
fn seccomp_data(nr: u32, arch: u32, args: [u64; 6]) -> [u8; 64] {
    let mut d = [0u8; 64];
    d[0..4].copy_from_slice(&nr.to_ne_bytes());
    d[4..8].copy_from_slice(&arch.to_ne_bytes());
    for (i, arg) in args.iter().enumerate() {
        d[16 + 8 * i..24 + 8 * i].copy_from_slice(&arg.to_ne_bytes());
    }
    d
}

/// Classic BPF, the subset seccompiler and the prelude emit. Panics on anything else, so a new
/// instruction kind shows up here rather than being misjudged.
fn evaluate(program: &[sock_filter], data: &[u8; 64]) -> u32 {
    run(program, data).0
}

/// The verdict and how many instructions it took.
fn run(program: &[sock_filter], data: &[u8; 64]) -> (u32, usize) {
    let mut acc: u32 = 0;
    let mut pc = 0usize;
    let mut steps = 0;
    loop {
        let insn = &program[pc];
        pc += 1;
        steps += 1;
        let k = insn.k;
        let branch = |taken: bool| usize::from(if taken { insn.jt } else { insn.jf });
        match insn.code {
            0x20 => {
                let at = usize::try_from(k).expect("offset");
                acc = u32::from_ne_bytes(data[at..at + 4].try_into().expect("4 bytes"));
            }
            0x54 => acc &= k,                                // ALU AND K
            0x05 => pc += usize::try_from(k).expect("jump"), // JA
            0x15 => pc += branch(acc == k),                  // JEQ K
            0x25 => pc += branch(acc > k),                   // JGT K
            0x35 => pc += branch(acc >= k),                  // JGE K
            0x45 => pc += branch(acc & k != 0),              // JSET K
            0x06 => return (k, steps),                       // RET K
            code => panic!("instruction {code:#x} at {} not interpreted", pc - 1),
        }
    }
}

fn decide(nr: i64, arch: u32, args: [u64; 6]) -> u32 {
    let program = Filter::for_functions().expect("policy compiles").0;
    evaluate(
        &program,
        &seccomp_data(u32::try_from(nr).expect("nr"), arch, args),
    )
}

#[test]
fn table_denies_exactly_the_listed_syscalls() {
    let program = Filter::for_functions().expect("policy compiles").0;
    for nr in 0..1024 {
        let expected = if i64::from(nr) == libc::SYS_clone3 {
            RET_ENOSYS
        } else if DENIED.iter().any(|(_, d)| *d == i64::from(nr)) {
            RET_EPERM
        } else {
            // clone and personality with all-zero arguments are a plain fork and PER_LINUX.
            ALLOW
        };
        let got = evaluate(&program, &seccomp_data(nr, NATIVE_ARCH, [0; 6]));
        assert_eq!(
            got, expected,
            "syscall {nr}: {got:#x}, wanted {expected:#x}"
        );
    }
}

/// The kernel runs the filter once per syscall number when it is loaded (to build its action
/// cache), with interrupts off: the search must keep that walk short for every number.
#[test]
fn every_syscall_number_is_decided_in_a_few_dozen_instructions() {
    let program = Filter::for_functions().expect("policy compiles").0;
    let longest = (0..1024)
        .map(|nr| run(&program, &seccomp_data(nr, NATIVE_ARCH, [0; 6])).1)
        .max()
        .expect("numbers");
    assert!(
        longest <= 40,
        "a syscall number took {longest} instructions"
    );
}

#[cfg(target_arch = "x86_64")]
#[test]
fn table_answers_x32_numbers_with_enosys() {
    let program = Filter::for_functions().expect("policy compiles").0;
    for nr in (0..1024).map(|n| n | 0x4000_0000).chain([u32::MAX]) {
        let got = evaluate(&program, &seccomp_data(nr, NATIVE_ARCH, [0; 6]));
        assert_eq!(got, RET_ENOSYS, "syscall {nr:#x}");
    }
}

#[test]
fn table_kills_foreign_architectures() {
    let program = Filter::for_functions().expect("policy compiles").0;
    for nr in 0..1024 {
        assert_eq!(
            evaluate(&program, &seccomp_data(nr, FOREIGN_ARCH, [0; 6])),
            KILL,
            "{nr}"
        );
    }
}

#[test]
fn table_denies_only_namespace_clone_flags() {
    let clone = |flags: u64| decide(libc::SYS_clone, NATIVE_ARCH, [flags, 0, 0, 0, 0, 0]);
    let sigchld = libc::SIGCHLD as u64;
    // What glibc passes for pthread_create when clone3 is refused.
    let thread = (libc::CLONE_VM
        | libc::CLONE_FS
        | libc::CLONE_FILES
        | libc::CLONE_SIGHAND
        | libc::CLONE_THREAD
        | libc::CLONE_SYSVSEM
        | libc::CLONE_SETTLS
        | libc::CLONE_PARENT_SETTID
        | libc::CLONE_CHILD_CLEARTID) as u64;
    assert_eq!(clone(sigchld), ALLOW, "fork");
    assert_eq!(clone(thread), ALLOW, "thread");
    assert_eq!(
        clone((libc::CLONE_VM | libc::CLONE_VFORK) as u64 | sigchld),
        ALLOW,
        "vfork"
    );
    // 0x80 is CLONE_NEWTIME for unshare/clone3 but part of the exit signal for clone.
    assert_eq!(clone(0x80), ALLOW, "CSIGNAL bit");
    for &(name, flag) in CLONE_NAMESPACE_FLAGS {
        assert_eq!(clone(flag | sigchld), RET_EPERM, "{name}");
        assert_eq!(clone(flag | thread), RET_EPERM, "{name} with thread flags");
        // The kernel reads the low 32 bits; garbage above them changes nothing.
        assert_eq!(
            clone(flag | 0xffff_ffff_0000_0000),
            RET_EPERM,
            "{name} high bits"
        );
    }
}

#[test]
fn table_allows_only_default_personality() {
    let personality = |p: u64| decide(libc::SYS_personality, NATIVE_ARCH, [p, 0, 0, 0, 0, 0]);
    assert_eq!(personality(0), ALLOW);
    assert_eq!(personality(0xffff_ffff), ALLOW);
    // personality takes an unsigned int: the high half is not part of it.
    assert_eq!(personality(0x1_0000_0000), ALLOW);
    for p in [0x0004_0000, 0x0040_0000, 0x0010_0000, 0x0008, 0x0002_0000] {
        assert_eq!(personality(p), RET_EPERM, "{p:#x}");
    }
}

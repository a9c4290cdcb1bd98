//! The seccomp filter of a function's processes: the runtime and everything it forks.
//!
//! # Policy
//! A deny-list on top of default *allow*. The syscalls in `policy.rs` answer `EPERM`, so a runtime
//! that probes one sees an ordinary error instead of dying; `clone3` answers `ENOSYS` because its
//! flags sit behind a pointer the filter cannot read, and glibc falls back to `clone` (whose
//! namespace flags the filter does check) only on `ENOSYS`. On x86_64, x32-ABI numbers also
//! answer `ENOSYS`: they share the x86_64 audit arch, so without this every rule below could be
//! sidestepped by setting bit 30 of the syscall number. A syscall from any other ABI
//! (`int 0x80` on x86_64, AArch32 on aarch64) kills the process, since its numbers mean other
//! syscalls. The filter is installed with `TSYNC` so every thread of the caller gets it.
//!
//! # Why default-allow
//! Runtimes (Node, Python, the JVM, Go, custom `provided` binaries) use a broad syscall set that
//! grows with every libc and kernel release; an allow-list either breaks them on upgrade or ends
//! up as long as Docker's. Seccomp is not the boundary here: the environment's user, mount, PID,
//! network, IPC, UTS and cgroup namespaces, its unique non-root uid, empty capability sets and
//! `no_new_privs` are. What seccomp adds is a smaller *kernel* attack surface: the subsystems
//! it denies are where privilege-escalation bugs keep being found, and functions never need them.
//!
//! # Considered
//! Docker's default profile (an allow-list of several hundred syscalls, capability-gated extras,
//! a `clone` flag mask, `ENOSYS` for `clone3`) is the source of most entries and of the `clone3`
//! handling; most of what it refuses a container without added capabilities is denied here.
//! Firecracker's per-thread allow-lists (`resources/seccomp/*.json`) suit a VMM whose syscall
//! set is known exactly, not arbitrary tenant code. libseccomp would give a binary-search
//! filter but is a C dependency. seccompiler is pure Rust but lays rules out as a linear list;
//! at run time the kernel's seccomp action cache (5.11+) skips the filter for every syscall it
//! can prove always allowed (all but the denied ones, `clone` and `personality`), but *building*
//! that cache runs the filter for every syscall number when it is loaded, once per environment.
//! So the unconditional denials are a binary search of our own ([`prelude::search`]) and
//! seccompiler compiles only the two argument-checked rules.
//!
//! The host compiles the filter ([`Filter::for_functions`]) and hands the bytes to the agent,
//! which installs them ([`install`]) in the runtime's process after fork, before exec.

#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
mod policy;
#[cfg(all(test, any(target_arch = "x86_64", target_arch = "aarch64")))]
mod tests;

use seccompiler::{BpfProgram, sock_filter};

/// The kernel's limit on a classic BPF program (`BPF_MAXINSNS`).
const MAX_INSTRUCTIONS: usize = 4096;

/// Size of one `struct sock_filter`: `u16 code, u8 jt, u8 jf, u32 k`.
const INSTRUCTION_BYTES: usize = 8;

/// Why a filter could not be built, decoded or installed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SeccompError {
    /// The policy names syscalls by number, which only exist here for x86_64 and aarch64.
    #[error("no seccomp policy for architecture {arch}")]
    UnsupportedArch { arch: &'static str },
    #[error("compile the seccomp policy")]
    Compile(#[from] seccompiler::BackendError),
    #[error("seccomp program of {len} bytes is not a non-empty run of 8-byte instructions")]
    BadLength { len: usize },
    #[error(
        "seccomp program of {instructions} instructions exceeds the kernel's {MAX_INSTRUCTIONS}"
    )]
    TooLong { instructions: usize },
    #[error("install the seccomp filter")]
    Install(#[source] seccompiler::Error),
}

/// A compiled classic-BPF seccomp program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter(BpfProgram);

impl Filter {
    /// The policy for function processes on this architecture (x86_64 and aarch64; others
    /// return [`SeccompError::UnsupportedArch`]).
    pub fn for_functions() -> Result<Filter, SeccompError> {
        compile()
    }

    /// The instructions in the native layout of `struct sock_filter`, 8 bytes each, for the
    /// agent to install.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(self.0.len() * INSTRUCTION_BYTES);
        for insn in &self.0 {
            bytes.extend_from_slice(&insn.code.to_ne_bytes());
            bytes.push(insn.jt);
            bytes.push(insn.jf);
            bytes.extend_from_slice(&insn.k.to_ne_bytes());
        }
        bytes
    }

    /// Reads what [`Filter::to_bytes`] wrote. Checks only the framing (non-empty, whole
    /// instructions, within the kernel's length limit): the kernel verifies the program itself
    /// when it is installed.
    pub fn from_bytes(bytes: &[u8]) -> Result<Filter, SeccompError> {
        if bytes.is_empty() || !bytes.len().is_multiple_of(INSTRUCTION_BYTES) {
            return Err(SeccompError::BadLength { len: bytes.len() });
        }
        let instructions = bytes.len() / INSTRUCTION_BYTES;
        // seccompiler narrows the length to the u16 of `struct sock_fprog`; past the kernel's
        // limit that would silently install a truncated program.
        if instructions > MAX_INSTRUCTIONS {
            return Err(SeccompError::TooLong { instructions });
        }
        let program = bytes
            .chunks_exact(INSTRUCTION_BYTES)
            .map(|b| sock_filter {
                code: u16::from_ne_bytes([b[0], b[1]]),
                jt: b[2],
                jf: b[3],
                k: u32::from_ne_bytes([b[4], b[5], b[6], b[7]]),
            })
            .collect();
        Ok(Filter(program))
    }

    /// Number of BPF instructions.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always false for a filter built or decoded here; present because `len` is.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Installs this filter on every thread of the calling process (`TSYNC`), setting
    /// `no_new_privs` first, so no `CAP_SYS_ADMIN` is needed. Allocates nothing, so a
    /// multi-threaded parent can decode before `fork` and call this in the child.
    pub fn install(&self) -> Result<(), SeccompError> {
        // No logging here: a subscriber may allocate or lock, which a forked child must not.
        seccompiler::apply_filter_all_threads(&self.0).map_err(SeccompError::Install)
    }
}

/// Decodes `filter_bytes` and installs them on the calling process, all threads, after setting
/// `no_new_privs`. For the agent's child between fork and exec, and for tests: it is
/// irreversible for the caller.
pub fn install(filter_bytes: &[u8]) -> Result<(), SeccompError> {
    Filter::from_bytes(filter_bytes)?.install()
}

#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
fn compile() -> Result<Filter, SeccompError> {
    use std::collections::BTreeMap;

    use seccompiler::{SeccompAction, SeccompFilter};

    // Syscalls denied whatever their arguments go into a binary search of our own; the few
    // whose arguments decide (clone, personality) into a seccompiler program of their own,
    // which the search jumps to for exactly those numbers.
    let (plain, by_args): (BTreeMap<i64, Vec<_>>, BTreeMap<i64, Vec<_>>) = policy::eperm_rules()?
        .into_iter()
        .partition(|(_, rules)| rules.is_empty());
    let plain: Vec<u32> = plain
        .into_keys()
        .map(|nr| u32::try_from(nr).expect("syscall numbers fit in 32 bits"))
        .collect();
    let special: Vec<u32> = by_args
        .keys()
        .map(|&nr| u32::try_from(nr).expect("syscall numbers fit in 32 bits"))
        .collect();
    let by_args: BpfProgram = SeccompFilter::new(
        by_args,
        SeccompAction::Allow,
        SeccompAction::Errno(errno(libc::EPERM)),
        native::TARGET,
    )?
    .try_into()?;
    let mut program = prelude::enosys_and_arch();
    program.extend(prelude::search(&plain, &special));
    program.extend(by_args);
    if program.len() > MAX_INSTRUCTIONS {
        return Err(SeccompError::TooLong {
            instructions: program.len(),
        });
    }
    tracing::debug!(
        instructions = program.len(),
        "compiled seccomp policy for functions"
    );
    Ok(Filter(program))
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn compile() -> Result<Filter, SeccompError> {
    Err(SeccompError::UnsupportedArch {
        arch: std::env::consts::ARCH,
    })
}

/// errno values are small positive ints; the seccomp return value carries them in 16 bits.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
fn errno(e: i32) -> u32 {
    e.unsigned_abs() & libc::SECCOMP_RET_DATA
}

#[cfg(target_arch = "x86_64")]
mod native {
    /// `AUDIT_ARCH_X86_64`: `EM_X86_64 | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE`.
    pub(super) const AUDIT_ARCH: u32 = 62 | 0x8000_0000 | 0x4000_0000;
    pub(super) const TARGET: seccompiler::TargetArch = seccompiler::TargetArch::x86_64;
    /// x32 syscalls arrive as `__X32_SYSCALL_BIT | nr` under the x86_64 audit arch.
    pub(super) const X32_SYSCALL_BIT: Option<u32> = Some(0x4000_0000);
}

#[cfg(target_arch = "aarch64")]
mod native {
    /// `AUDIT_ARCH_AARCH64`: `EM_AARCH64 | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE`.
    pub(super) const AUDIT_ARCH: u32 = 183 | 0x8000_0000 | 0x4000_0000;
    pub(super) const TARGET: seccompiler::TargetArch = seccompiler::TargetArch::aarch64;
    pub(super) const X32_SYSCALL_BIT: Option<u32> = None;
}

/// The few instructions seccompiler cannot express: its filter has one match action (ours is
/// `EPERM`) and matches syscall numbers only by equality. This runs first and is self-contained
/// (its jumps stay inside it), so it does not depend on how seccompiler lays out its program,
/// which follows and repeats the arch check.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
mod prelude {
    use seccompiler::sock_filter;

    use super::{errno, native};

    // Classic BPF opcodes (linux/bpf_common.h), spelled out because libc types them u32 and
    // `code` is u16.
    /// `BPF_LD | BPF_W | BPF_ABS`: load 32 bits of `struct seccomp_data` at offset k.
    const LD_W_ABS: u16 = 0x20;
    /// `BPF_JMP | BPF_JEQ | BPF_K`.
    const JMP_JEQ_K: u16 = 0x15;
    /// `BPF_JMP | BPF_JGE | BPF_K` (unsigned).
    const JMP_JGE_K: u16 = 0x35;
    /// `BPF_RET | BPF_K`.
    const RET_K: u16 = 0x06;
    /// `BPF_JMP | BPF_JA`: jump forward k instructions (32 bits, unlike jt/jf's 8).
    const JMP_JA: u16 = 0x05;

    /// Syscalls per leaf of the search: compared one by one.
    const LEAF: usize = 8;

    // Offsets in `struct seccomp_data`.
    const NR: u32 = 0;
    const ARCH: u32 = 4;

    fn stmt(code: u16, k: u32) -> sock_filter {
        sock_filter {
            code,
            jt: 0,
            jf: 0,
            k,
        }
    }

    fn jump(code: u16, k: u32, jt: u8, jf: u8) -> sock_filter {
        sock_filter { code, jt, jf, k }
    }

    /// With the syscall number loaded (the prelude leaves it there): `EPERM` for the numbers in
    /// `denied` (sorted), a jump past the search for those in `special` (the program after it
    /// decides them by their arguments), `ALLOW` for every other.
    ///
    /// Why not seccompiler's own layout, which compares the number against each rule in turn:
    /// the kernel builds its per-syscall action cache when the filter is loaded by running the
    /// filter for every syscall number, with interrupts off. Through ~170 comparisons that cost
    /// ~0.2 ms for every environment; a binary search takes a handful per number.
    pub(super) fn search(denied: &[u32], special: &[u32]) -> Vec<sock_filter> {
        let tree = tree(denied);
        let mut program = Vec::new();
        for (i, &nr) in special.iter().enumerate() {
            // Past the remaining special tests and the whole tree.
            let skip = 2 * (special.len() - i - 1) + tree.len();
            program.push(jump(JMP_JEQ_K, nr, 0, 1));
            program.push(stmt(
                JMP_JA,
                u32::try_from(skip).expect("programs are at most 4096 instructions"),
            ));
        }
        program.extend(tree);
        program
    }

    fn tree(denied: &[u32]) -> Vec<sock_filter> {
        let eperm = libc::SECCOMP_RET_ERRNO | errno(libc::EPERM);
        if denied.len() <= LEAF {
            let n = denied.len();
            // Each match jumps over the remaining tests and the ALLOW to the EPERM.
            let mut leaf: Vec<sock_filter> = denied
                .iter()
                .enumerate()
                .map(|(i, &nr)| jump(JMP_JEQ_K, nr, (n - i) as u8, 0))
                .collect();
            leaf.push(stmt(RET_K, libc::SECCOMP_RET_ALLOW));
            leaf.push(stmt(RET_K, eperm));
            return leaf;
        }
        let (low, high) = denied.split_at(denied.len() / 2);
        let low = tree(low);
        // nr ≥ high[0]: the JA right after takes it past the low half; else skip the JA.
        let mut node = vec![
            jump(JMP_JGE_K, high[0], 0, 1),
            stmt(
                JMP_JA,
                u32::try_from(low.len()).expect("programs are at most 4096 instructions"),
            ),
        ];
        node.extend(low);
        node.extend(tree(high));
        node
    }

    pub(super) fn enosys_and_arch() -> Vec<sock_filter> {
        let clone3 = u32::try_from(libc::SYS_clone3).expect("syscall numbers fit in 32 bits");
        let enosys = libc::SECCOMP_RET_ERRNO | errno(libc::ENOSYS);
        let mut program = vec![
            stmt(LD_W_ABS, ARCH),
            jump(JMP_JEQ_K, native::AUDIT_ARCH, 1, 0),
            stmt(RET_K, libc::SECCOMP_RET_KILL_PROCESS),
            stmt(LD_W_ABS, NR),
        ];
        if let Some(x32) = native::X32_SYSCALL_BIT {
            // Taken: skip the clone3 test and land on the ENOSYS return.
            program.push(jump(JMP_JGE_K, x32, 1, 0));
        }
        program.push(jump(JMP_JEQ_K, clone3, 0, 1));
        program.push(stmt(RET_K, enosys));
        program
    }
}

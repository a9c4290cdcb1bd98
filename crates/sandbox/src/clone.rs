//! Starting the agent in new namespaces from the multi-threaded server.
//!
//! On x86_64 the child shares the server's memory (`CLONE_VM`) and runs on a small stack of its
//! own until it execs, as `posix_spawn` does. A copying `clone` would duplicate the page tables of
//! the whole server and then take copy-on-write faults and TLB shootdowns on every server thread
//! that touches memory before the child's exec: the largest per-environment cost on the host side
//! of creation, and one that grows with the server. Unlike `posix_spawn` the parent is not
//! suspended (`CLONE_VFORK`): it must write the child's uid/gid maps while the child waits, so
//! the memory the child runs on stays alive in a [`ChildMem`] until the caller knows the child
//! has exec'd or died. On other architectures the child is an ordinary copy.
//!
//! Between the clone and the exec the child makes only raw system calls on values prepared
//! before the clone: no allocation, no locks, no `errno` (which lives in the parent thread's
//! TLS, shared here), and all signals stay blocked until the agent sets its own mask.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::io;
use std::mem::ManuallyDrop;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// What the child is given: descriptors already numbered ≥ 10 and the exec arguments, all
/// prepared before the clone so that the child allocates nothing.
pub struct ChildPlan {
    pub sync_read: OwnedFd,
    /// The parent's end of the sync pipe. The child's copy of the descriptor table holds it too
    /// until the exec; the child closes it first, or a parent that died before releasing the
    /// child would leave it waiting forever (holding every descriptor the server had, among
    /// them other environments' control sockets, whose agents then never see the host go).
    pub sync_write: libc::c_int,
    pub control: OwnedFd,
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
    pub devnull: OwnedFd,
    /// The agent binary, opened once at start (`O_PATH`), so rebuilding or upgrading the file
    /// never mixes agent versions within one server.
    pub program: OwnedFd,
    pub argv: Vec<CString>,
    pub envp: Vec<CString>,
}

pub const NAMESPACES: u64 = (libc::CLONE_NEWUSER
    | libc::CLONE_NEWNS
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWCGROUP) as u64;

const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;
const CLOSE_RANGE_CLOEXEC: u32 = 1 << 2;

/// Exit codes of a child that failed before its exec; the agent never uses them.
const EXIT_SYNC: i32 = 126;
const EXIT_IDS: i32 = 124;
const EXIT_FDS: i32 = 125;
const EXIT_EXEC: i32 = 127;

#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// Everything the child reads, at a stable address.
struct ChildArgs {
    sync: libc::c_int,
    sync_write: libc::c_int,
    control: libc::c_int,
    stdout: libc::c_int,
    stderr: libc::c_int,
    devnull: libc::c_int,
    program: libc::c_int,
    argv: Vec<*const libc::c_char>,
    envp: Vec<*const libc::c_char>,
    /// Own the strings `argv` and `envp` point into.
    _strings: Vec<CString>,
}

/// The memory a child may still be running on: its stack and its arguments. Dropping it
/// leaks them, which is always safe; [`ChildMem::free`] returns them once that is known to be
/// safe too.
pub struct ChildMem {
    args: ManuallyDrop<Box<ChildArgs>>,
    stack: ManuallyDrop<Option<Stack>>,
}

impl ChildMem {
    /// Frees the child's stack and arguments.
    ///
    /// # Safety
    /// The child has exec'd (the new program has spoken) or has been reaped: it no longer runs
    /// on this memory.
    pub unsafe fn free(mut self) {
        // SAFETY: each field is dropped once; ChildMem has no Drop of its own to touch them again.
        unsafe {
            ManuallyDrop::drop(&mut self.stack);
            ManuallyDrop::drop(&mut self.args);
        }
    }
}

/// An anonymous mapping with a guard page below it, so an overflowing child faults instead of
/// writing into the server's memory.
struct Stack {
    base: *mut libc::c_void,
    len: usize,
}

// SAFETY: the mapping is plain memory owned by this value; nothing is tied to a thread.
unsafe impl Send for Stack {}

const GUARD: usize = 4096;
/// The child's frames are a few hundred bytes; the rest is margin.
const STACK: usize = 64 * 1024;

impl Stack {
    fn new() -> io::Result<Self> {
        let len = GUARD + STACK;
        // SAFETY: a fresh private anonymous mapping; no existing memory is affected.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let stack = Stack { base, len };
        // SAFETY: the lowest page of the mapping just created.
        if unsafe { libc::mprotect(base, GUARD, libc::PROT_NONE) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(stack)
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, unmapped once.
        unsafe { libc::munmap(self.base, self.len) };
    }
}

/// Starts the agent in new namespaces. The child blocks until the parent writes one byte to
/// the sync pipe (after the uid/gid maps and cgroup are in place), then execs the agent.
/// Returns (pid, pidfd, the memory the child runs on until its exec).
pub fn spawn(
    plan: &mut ChildPlan,
    cgroup_dir: Option<&std::fs::File>,
) -> io::Result<(i32, OwnedFd, ChildMem)> {
    let argv = std::mem::take(&mut plan.argv);
    let argc = argv.len();
    let strings: Vec<CString> = argv
        .into_iter()
        .chain(std::mem::take(&mut plan.envp))
        .collect();
    let pointers = |s: &[CString]| -> Vec<*const libc::c_char> {
        s.iter()
            .map(|a| a.as_ptr())
            .chain(std::iter::once(std::ptr::null()))
            .collect()
    };
    let args = Box::new(ChildArgs {
        sync: plan.sync_read.as_raw_fd(),
        sync_write: plan.sync_write,
        control: plan.control.as_raw_fd(),
        stdout: plan.stdout.as_raw_fd(),
        stderr: plan.stderr.as_raw_fd(),
        devnull: plan.devnull.as_raw_fd(),
        program: plan.program.as_raw_fd(),
        argv: pointers(&strings[..argc]),
        envp: pointers(&strings[argc..]),
        _strings: strings,
    });
    let mut pidfd: libc::c_int = -1;
    let mut clone = CloneArgs {
        flags: NAMESPACES | libc::CLONE_PIDFD as u64,
        pidfd: &mut pidfd as *mut libc::c_int as u64,
        exit_signal: libc::SIGCHLD as u64,
        ..CloneArgs::default()
    };
    if let Some(dir) = cgroup_dir {
        clone.flags |= CLONE_INTO_CGROUP;
        clone.cgroup = dir.as_raw_fd() as u64;
    }
    let stack = shared_stack(&mut clone)?;
    let blocked = BlockAll::new();
    // SAFETY: `clone` is a fully initialised clone_args; `child` only reads `args`, which lives
    // in a Box whose address does not change and which the returned ChildMem keeps alive (and
    // leaks unless the caller vouches that the child exec'd or died).
    let pid = unsafe { clone3(&mut clone, &args) };
    drop(blocked);
    let mem = ChildMem {
        args: ManuallyDrop::new(args),
        stack: ManuallyDrop::new(stack),
    };
    let pid = match pid {
        p if p < 0 => {
            // SAFETY: no child was created; nothing runs on this memory.
            unsafe { mem.free() };
            return Err(io::Error::from_raw_os_error(-p as i32));
        }
        p => p as i32,
    };
    // SAFETY: with CLONE_PIDFD the kernel stored a new descriptor in `pidfd`.
    Ok((pid, unsafe { OwnedFd::from_raw_fd(pidfd) }, mem))
}

/// Blocks every signal on the calling thread while it lives: the child inherits the mask, so no
/// handler of the server's can run on the server's memory in the child before its exec.
struct BlockAll(libc::sigset_t);

impl BlockAll {
    fn new() -> Self {
        // SAFETY: sigset operations on locals; pthread_sigmask affects only this thread.
        unsafe {
            let mut all: libc::sigset_t = std::mem::zeroed();
            let mut old: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut all);
            libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
            BlockAll(old)
        }
    }
}

impl Drop for BlockAll {
    fn drop(&mut self) {
        // SAFETY: restores this thread's own mask, saved in `new`.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.0, std::ptr::null_mut()) };
    }
}

#[cfg(target_arch = "x86_64")]
fn shared_stack(clone: &mut CloneArgs) -> io::Result<Option<Stack>> {
    let stack = Stack::new()?;
    clone.flags |= libc::CLONE_VM as u64;
    clone.stack = stack.base as u64 + GUARD as u64;
    clone.stack_size = STACK as u64;
    Ok(Some(stack))
}

#[cfg(not(target_arch = "x86_64"))]
fn shared_stack(_clone: &mut CloneArgs) -> io::Result<Option<Stack>> {
    Ok(None)
}

/// clone3, with the child calling `child(args)` on the stack named in `clone` (or, without
/// `CLONE_VM`, on its copy of the caller's). Returns the child's pid or `-errno`.
///
/// # Safety
/// `args` must stay valid until the child has exec'd or exited.
#[cfg(target_arch = "x86_64")]
unsafe fn clone3(clone: &mut CloneArgs, args: &ChildArgs) -> libc::c_long {
    let ret: libc::c_long;
    // SAFETY: clone3 reads `clone` (of the size passed). In the parent the syscall returns
    // normally. The child starts on the new stack, whose top the kernel aligns to 16 bytes, with
    // every register but rax, rcx and r11 as the parent left them: r12 and r13 carry the
    // function and its argument into a call that never returns.
    unsafe {
        std::arch::asm!(
            "syscall",
            "test rax, rax",
            "jnz 2f",
            "mov rdi, r13",
            "call r12",
            "ud2",
            "2:",
            inlateout("rax") libc::SYS_clone3 => ret,
            in("rdi") clone as *mut CloneArgs,
            in("rsi") std::mem::size_of::<CloneArgs>(),
            in("r12") child as extern "C" fn(*const ChildArgs) -> !,
            in("r13") args as *const ChildArgs,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    ret
}

/// See the x86_64 version. Without `CLONE_VM` the child has its own copy of memory and of this
/// stack frame, so it can simply carry on from the syscall.
#[cfg(not(target_arch = "x86_64"))]
unsafe fn clone3(clone: &mut CloneArgs, args: &ChildArgs) -> libc::c_long {
    // SAFETY: clone3 with a fully initialised clone_args of the size passed.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            clone as *mut CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    if pid == 0 {
        child(args as *const ChildArgs);
    }
    if pid < 0 {
        -(io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EINVAL) as libc::c_long)
    } else {
        pid
    }
}

/// The child, from the clone to the exec.
extern "C" fn child(args: *const ChildArgs) -> ! {
    // SAFETY: the parent keeps `*args` alive until this process has exec'd or exited.
    let a = unsafe { &*args };
    raw::syscall3(libc::SYS_close, a.sync_write as usize, 0, 0);
    let mut byte = 0u8;
    if raw::syscall3(libc::SYS_read, a.sync as usize, (&raw mut byte) as usize, 1) != 1 {
        raw::exit(EXIT_SYNC);
    }
    // Become root of the new user namespace (host uid 0 is unmapped there), so the exec below
    // keeps the namespace's capabilities.
    if raw::syscall3(libc::SYS_setresgid, 0, 0, 0) < 0
        || raw::syscall3(libc::SYS_setresuid, 0, 0, 0) < 0
        || raw::syscall3(libc::SYS_setgroups, 0, 0, 0) < 0
    {
        raw::exit(EXIT_IDS);
    }
    for (from, to) in [
        (a.devnull, 0),
        (a.devnull, 1),
        (a.control, 3),
        (a.stdout, 4),
        (a.stderr, 5),
    ] {
        if raw::syscall3(libc::SYS_dup3, from as usize, to, 0) < 0 {
            raw::exit(EXIT_FDS);
        }
    }
    // Close-on-exec rather than closed: the program descriptor must live until execveat.
    raw::syscall3(
        libc::SYS_close_range,
        6,
        u32::MAX as usize,
        CLOSE_RANGE_CLOEXEC as usize,
    );
    raw::syscall5(
        libc::SYS_execveat,
        a.program as usize,
        c"".as_ptr() as usize,
        a.argv.as_ptr() as usize,
        a.envp.as_ptr() as usize,
        libc::AT_EMPTY_PATH as usize,
    );
    raw::exit(EXIT_EXEC)
}

/// System calls that leave `errno` alone.
mod raw {
    #[cfg(target_arch = "x86_64")]
    pub fn syscall5(nr: libc::c_long, a: usize, b: usize, c: usize, d: usize, e: usize) -> isize {
        let ret: isize;
        // SAFETY: a raw system call; the kernel clobbers only rax (result), rcx and r11. Callers
        // pass arguments valid for `nr`.
        unsafe {
            std::arch::asm!(
                "syscall",
                inlateout("rax") nr as isize => ret,
                in("rdi") a,
                in("rsi") b,
                in("rdx") c,
                in("r10") d,
                in("r8") e,
                lateout("rcx") _,
                lateout("r11") _,
                options(nostack),
            );
        }
        ret
    }

    /// Without `CLONE_VM` the child's `errno` is its own, so libc's wrapper will do.
    #[cfg(not(target_arch = "x86_64"))]
    pub fn syscall5(nr: libc::c_long, a: usize, b: usize, c: usize, d: usize, e: usize) -> isize {
        // SAFETY: a raw system call; callers pass arguments valid for `nr`.
        let r = unsafe { libc::syscall(nr, a, b, c, d, e) };
        if r < 0 { -1 } else { r as isize }
    }

    pub fn syscall3(nr: libc::c_long, a: usize, b: usize, c: usize) -> isize {
        syscall5(nr, a, b, c, 0, 0)
    }

    pub fn exit(code: i32) -> ! {
        syscall3(libc::SYS_exit_group, code as usize, 0, 0);
        // exit_group does not return; should it ever, fault rather than run on.
        loop {
            std::hint::spin_loop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys;
    use std::os::fd::AsRawFd;
    use std::time::Duration;

    fn plan(sync_read: &OwnedFd, sync_write: &OwnedFd) -> ChildPlan {
        let high = |fd: &OwnedFd| sys::dup_above(fd, 10).expect("dup");
        let (control, _peer) = sys::seqpacket_pair().expect("socketpair");
        let (_, out) = sys::pipe().expect("pipe");
        let devnull: OwnedFd = std::fs::File::open("/dev/null").expect("null").into();
        let program: OwnedFd = std::fs::File::open("/bin/true").expect("true").into();
        ChildPlan {
            sync_read: high(sync_read),
            sync_write: sync_write.as_raw_fd(),
            control: high(&control),
            stdout: high(&out),
            stderr: high(&out),
            devnull: high(&devnull),
            program: high(&program),
            argv: vec![CString::new("true").expect("argv")],
            envp: Vec::new(),
        }
    }

    fn wait_exit(pidfd: &OwnedFd) -> Option<sys::Status> {
        let mut fds = [libc::pollfd {
            fd: pidfd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        if sys::poll_once(&mut fds, Duration::from_secs(10)).expect("poll") {
            return sys::try_reap(pidfd).expect("reap");
        }
        // Still waiting: end it, so a failing test leaves nothing holding the harness's pipes.
        sys::pidfd_kill(pidfd, libc::SIGKILL).expect("kill");
        while sys::try_reap(pidfd).expect("reap").is_none() {
            std::thread::sleep(Duration::from_millis(1));
        }
        None
    }

    /// A child waiting to be released, with the parent's ends of its sync pipe; `None` (said
    /// why) where user namespaces are unavailable.
    fn started() -> Option<(ChildPlan, OwnedFd, OwnedFd, OwnedFd, ChildMem)> {
        let (sync_read, sync_write) = sys::pipe().expect("pipe");
        let mut plan = plan(&sync_read, &sync_write);
        match spawn(&mut plan, None) {
            Ok((_pid, pidfd, mem)) => Some((plan, sync_read, sync_write, pidfd, mem)),
            Err(e) => {
                eprintln!("skipped: no user namespaces here ({e})");
                None
            }
        }
    }

    #[test]
    fn a_child_its_parent_lets_go_of_before_releasing_it_exits_instead_of_waiting_forever() {
        let Some((plan, sync_read, sync_write, pidfd, mem)) = started() else {
            return;
        };
        // As if the server died between the clone and the release: its ends close unwritten.
        drop((plan, sync_read, sync_write));
        assert_eq!(wait_exit(&pidfd), Some(sys::Status::Exited(EXIT_SYNC)));
        // SAFETY: reaped above.
        unsafe { mem.free() };
    }

    #[test]
    fn a_released_child_without_id_maps_stops_before_its_exec() {
        let Some((plan, _sync_read, sync_write, pidfd, mem)) = started() else {
            return;
        };
        drop(plan);
        sys::write_byte(&sync_write).expect("release");
        // Root of the new namespace cannot be had without a uid map: the child says so by its
        // exit code rather than exec'ing with whatever ids it has.
        assert_eq!(wait_exit(&pidfd), Some(sys::Status::Exited(EXIT_IDS)));
        // SAFETY: reaped above.
        unsafe { mem.free() };
    }
}

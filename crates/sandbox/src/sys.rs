//! The host side's syscalls. Every `unsafe` of the sandbox's spawn path is here.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

fn check(rc: libc::c_long) -> io::Result<libc::c_long> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

fn owned(fd: libc::c_int) -> io::Result<OwnedFd> {
    check(fd as libc::c_long)?;
    // SAFETY: fd was just returned by the kernel and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

pub fn seqpacket_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: socketpair writes two descriptors into the array on success.
    check(unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    } as libc::c_long)?;
    Ok((owned(fds[0])?, owned(fds[1])?))
}

/// A close-on-exec pipe: (read end, write end).
pub fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into the array on success.
    check(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } as libc::c_long)?;
    Ok((owned(fds[0])?, owned(fds[1])?))
}

/// A close-on-exec duplicate numbered at least `min`, so the child's `dup2` onto 0–5 never
/// overwrites a source it still needs.
pub fn dup_above(fd: &OwnedFd, min: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: F_DUPFD_CLOEXEC returns a new descriptor or -1.
    owned(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, min) })
}

pub fn set_nonblocking(fd: &OwnedFd) -> io::Result<()> {
    // SAFETY: flag manipulation on a valid descriptor.
    unsafe {
        let flags =
            check(libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) as libc::c_long)? as libc::c_int;
        check(
            libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK) as libc::c_long,
        )?;
    }
    Ok(())
}

/// What the child is given: descriptors already numbered ≥ 10 and the exec arguments, all
/// prepared before `clone3` so that the child allocates nothing.
pub struct ChildPlan {
    pub sync_read: OwnedFd,
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

/// Starts the agent in new namespaces. The child blocks until the parent writes one byte to
/// the sync pipe (after the uid/gid maps and cgroup are in place), then execs the agent.
/// Returns (pid, pidfd).
pub fn spawn(plan: &ChildPlan, cgroup_dir: Option<&std::fs::File>) -> io::Result<(i32, OwnedFd)> {
    let mut argv: Vec<*const libc::c_char> = plan.argv.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    let mut envp: Vec<*const libc::c_char> = plan.envp.iter().map(|a| a.as_ptr()).collect();
    envp.push(std::ptr::null());
    let mut pidfd: libc::c_int = -1;
    let mut args = CloneArgs {
        flags: NAMESPACES | libc::CLONE_PIDFD as u64,
        pidfd: &mut pidfd as *mut libc::c_int as u64,
        exit_signal: libc::SIGCHLD as u64,
        ..CloneArgs::default()
    };
    if let Some(dir) = cgroup_dir {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = dir.as_raw_fd() as u64;
    }
    let program = plan.program.as_raw_fd();
    let (sync, control, stdout, stderr, devnull) = (
        plan.sync_read.as_raw_fd(),
        plan.control.as_raw_fd(),
        plan.stdout.as_raw_fd(),
        plan.stderr.as_raw_fd(),
        plan.devnull.as_raw_fd(),
    );
    // SAFETY: clone3 with a valid, fully initialised clone_args of the size we pass. It creates a
    // copy of this (possibly multi-threaded) process containing only the calling thread, so the
    // child branch below runs in the child and calls only async-signal-safe syscalls on values
    // prepared before the clone (no allocation, no locks, no Rust runtime), ending in execve or
    // _exit: the rule for code between fork and exec in a threaded parent.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut args as *mut CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    if pid == 0 {
        // Runs in the child.
        // SAFETY: see above; every call is a raw syscall on descriptors and pointers prepared
        // before the clone and still valid in the child's copy of memory.
        unsafe {
            let mut byte = 0u8;
            if libc::read(sync, (&mut byte as *mut u8).cast(), 1) != 1 {
                libc::_exit(126);
            }
            // Become root of the new user namespace (host uid 0 is unmapped there), so the exec
            // below keeps the namespace's capabilities. Raw syscalls: glibc's wrappers would try
            // to synchronise credentials with threads that do not exist in the child.
            if libc::syscall(libc::SYS_setresgid, 0, 0, 0) < 0
                || libc::syscall(libc::SYS_setresuid, 0, 0, 0) < 0
                || libc::syscall(libc::SYS_setgroups, 0, std::ptr::null::<libc::gid_t>()) < 0
            {
                libc::_exit(124);
            }
            if libc::dup2(devnull, 0) < 0
                || libc::dup2(devnull, 1) < 0
                || libc::dup2(control, 3) < 0
                || libc::dup2(stdout, 4) < 0
                || libc::dup2(stderr, 5) < 0
            {
                libc::_exit(125);
            }
            // Close-on-exec rather than closed: the program descriptor must live until execveat.
            libc::syscall(libc::SYS_close_range, 6u32, u32::MAX, CLOSE_RANGE_CLOEXEC);
            libc::syscall(
                libc::SYS_execveat,
                program,
                c"".as_ptr(),
                argv.as_ptr(),
                envp.as_ptr(),
                libc::AT_EMPTY_PATH,
            );
            libc::_exit(127);
        }
    }
    let pid = check(pid)? as i32;
    // SAFETY: with CLONE_PIDFD the kernel stored a new descriptor in `pidfd`.
    Ok((pid, unsafe { OwnedFd::from_raw_fd(pidfd) }))
}

pub fn write_byte(fd: &OwnedFd) -> io::Result<()> {
    // SAFETY: writing one byte from a local.
    let n = unsafe { libc::write(fd.as_raw_fd(), [1u8].as_ptr().cast(), 1) };
    if n == 1 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

pub fn pidfd_kill(pidfd: &OwnedFd, signal: libc::c_int) -> io::Result<()> {
    // SAFETY: pidfd_send_signal with no siginfo; the pidfd names exactly our child, never a
    // recycled pid.
    check(unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            signal,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    })?;
    Ok(())
}

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Exited(i32),
    Signaled(i32),
}

/// Reaps the process behind `pidfd` if it has exited; `Ok(None)` if it still runs.
pub fn try_reap(pidfd: &OwnedFd) -> io::Result<Option<Status>> {
    // SAFETY: an all-zero siginfo_t is a valid value of this plain C struct.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: waitid writes into `info`, which outlives the call; P_PIDFD targets only this child.
    check(unsafe {
        libc::waitid(
            libc::P_PIDFD,
            pidfd.as_raw_fd() as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOHANG,
        )
    } as libc::c_long)?;
    // SAFETY: after a successful waitid, si_pid is 0 when nothing exited and the status fields
    // are valid otherwise.
    unsafe {
        if info.si_pid() == 0 {
            return Ok(None);
        }
        let status = info.si_status();
        Ok(Some(if info.si_code == libc::CLD_EXITED {
            Status::Exited(status)
        } else {
            Status::Signaled(status)
        }))
    }
}

/// Polls once; true if any descriptor is ready before `timeout`.
pub fn poll_once(fds: &mut [libc::pollfd], timeout: std::time::Duration) -> io::Result<bool> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let left = deadline
            .saturating_duration_since(std::time::Instant::now())
            .as_millis() as libc::c_int;
        // SAFETY: the pointer and length describe the caller's slice.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, left) };
        if n >= 0 {
            return Ok(n > 0);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// A descriptor shared between an `AsyncFd` and other users.
pub struct SharedFd(pub std::sync::Arc<OwnedFd>);

impl AsRawFd for SharedFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

/// Registers a shared descriptor with tokio for readability.
pub fn watch_readable(
    fd: std::sync::Arc<OwnedFd>,
) -> io::Result<tokio::io::unix::AsyncFd<SharedFd>> {
    // SAFETY: SharedFd keeps the OwnedFd alive (it holds an Arc) for as long as the AsyncFd
    // exists, and always returns the same descriptor, which is what register requires.
    unsafe {
        tokio::io::unix::AsyncFd::register_with_interest(
            SharedFd(fd),
            tokio::io::Interest::READABLE,
        )
    }
    .map_err(io::Error::from)
}

const OPEN_TREE_CLONE: libc::c_uint = 0x01;
const AT_RECURSIVE: libc::c_uint = 0x8000;
const MOUNT_ATTR_RDONLY: u64 = 0x01;
const MOUNT_ATTR_NOSUID: u64 = 0x02;
const MOUNT_ATTR_NODEV: u64 = 0x04;

#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// A detached, read-only, nosuid, nodev copy of the mount tree at `path` (`open_tree` with
/// `OPEN_TREE_CLONE`). An environment attaches it with `move_mount`: a path would need the
/// environment's unprivileged ids to search the host directories around it, and a plain bind
/// from a descriptor of the host's mount namespace is refused in another namespace.
pub fn detached_read_only_tree(path: &std::path::Path) -> io::Result<OwnedFd> {
    use std::os::unix::ffi::OsStrExt;
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: open_tree reads a NUL-terminated path and returns a new descriptor or -1.
    let fd = check(unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            libc::AT_FDCWD,
            c.as_ptr(),
            OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint | AT_RECURSIVE,
        )
    })? as libc::c_int;
    let tree = owned(fd)?;
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: mount_setattr reads `attr` (of the size passed) and an empty path on our descriptor.
    check(unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            tree.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH as libc::c_uint | AT_RECURSIVE,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    })?;
    Ok(tree)
}

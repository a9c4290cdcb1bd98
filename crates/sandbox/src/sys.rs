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

//! The two syscalls the cgroup module needs that std does not wrap: signalling a process by pid
//! through a pidfd, and plain `kill` for kernels older than 5.3.
//!
//! JUSTIFICATION: std can only signal its own `Child`; the processes in a cgroup are grandchildren
//! (or orphans of a crashed server), so there is no safe std call. A pidfd pins the process, which
//! closes the race where a pid read from `cgroup.procs` is reused by an unrelated host process
//! before the signal lands.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// Opens a pidfd for `pid`. `ESRCH` means it is already gone, `ENOSYS` a kernel before 5.3.
pub(super) fn pidfd_open(pid: u32) -> io::Result<OwnedFd> {
    let pid = libc::pid_t::try_from(pid).map_err(|_| io::Error::from_raw_os_error(libc::ESRCH))?;
    // SAFETY: pidfd_open(2) takes a pid and a flags word by value and reads no memory of ours.
    let ret = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    let fd = libc::c_int::try_from(ret).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
    // SAFETY: the kernel has just returned this descriptor to us; it is open and nothing else owns
    // it, so handing it to an OwnedFd (which closes it once) is sound.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Sends SIGKILL to the process behind a pidfd.
pub(super) fn pidfd_kill(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: pidfd_send_signal(2) with a null siginfo pointer is documented to behave like kill(2);
    // the fd is borrowed, so it stays open for the duration of the call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd.as_raw_fd(),
            libc::SIGKILL,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Sends SIGKILL by pid; only for kernels without pidfds, where the reuse race cannot be closed.
pub(super) fn kill(pid: u32) -> io::Result<()> {
    // Pid 0 would signal our own process group: never pass it on.
    let pid = match libc::pid_t::try_from(pid) {
        Ok(p) if p > 0 => p,
        _ => return Err(io::Error::from_raw_os_error(libc::ESRCH)),
    };
    // SAFETY: kill(2) takes plain integers and reads no memory of ours.
    let ret = unsafe { libc::kill(pid, libc::SIGKILL) };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

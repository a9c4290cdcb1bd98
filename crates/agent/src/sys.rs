//! Thin, checked wrappers over the syscalls the agent needs. Every `unsafe` of the agent is here.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

fn check(rc: libc::c_int) -> io::Result<libc::c_int> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

fn cstr(s: &str) -> io::Result<CString> {
    CString::new(s).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains NUL"))
}

pub fn mount(
    source: Option<&str>,
    target: &str,
    fstype: Option<&str>,
    flags: libc::c_ulong,
    data: Option<&str>,
) -> io::Result<()> {
    let source = source.map(cstr).transpose()?;
    let target = cstr(target)?;
    let fstype = fstype.map(cstr).transpose()?;
    let data = data.map(cstr).transpose()?;
    let ptr = |c: &Option<CString>| c.as_ref().map_or(std::ptr::null(), |c| c.as_ptr());
    // SAFETY: every pointer is either null or a NUL-terminated string alive for the call.
    check(unsafe {
        libc::mount(
            ptr(&source),
            target.as_ptr(),
            ptr(&fstype),
            flags,
            ptr(&data).cast(),
        )
    })?;
    Ok(())
}

/// Attaches a detached mount tree (from `open_tree`) at `target`.
pub fn move_mount(tree: RawFd, target: &str) -> io::Result<()> {
    const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x04;
    let target = cstr(target)?;
    // SAFETY: move_mount takes a descriptor, an empty path and a NUL-terminated target path.
    check(unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            tree,
            c"".as_ptr(),
            libc::AT_FDCWD,
            target.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH,
        )
    } as libc::c_int)?;
    Ok(())
}

pub fn umount_detach(target: &str) -> io::Result<()> {
    let target = cstr(target)?;
    // SAFETY: target is a valid C string.
    check(unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) })?;
    Ok(())
}

/// The mount flags of the filesystem at `path`, as MS_* bits that a bind remount must keep
/// (the kernel refuses to clear locked flags from inside a user namespace).
pub fn locked_mount_flags(path: &str) -> io::Result<libc::c_ulong> {
    let p = cstr(path)?;
    // SAFETY: an all-zero statvfs is a valid value of this plain C struct.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: statvfs fills `st` on success; p is a valid C string.
    check(unsafe { libc::statvfs(p.as_ptr(), &mut st) })?;
    let mut flags = 0;
    for (st_bit, ms_bit) in [
        (libc::ST_NOSUID, libc::MS_NOSUID),
        (libc::ST_NODEV, libc::MS_NODEV),
        (libc::ST_NOEXEC, libc::MS_NOEXEC),
        (libc::ST_NOATIME, libc::MS_NOATIME),
        (libc::ST_NODIRATIME, libc::MS_NODIRATIME),
        (libc::ST_RELATIME, libc::MS_RELATIME),
    ] {
        if st.f_flag & st_bit != 0 {
            flags |= ms_bit;
        }
    }
    Ok(flags)
}

pub fn pivot_root_here() -> io::Result<()> {
    let dot = c".";
    // SAFETY: pivot_root(".", ".") stacks the old root under the new one; both args are valid.
    let rc = unsafe { libc::syscall(libc::SYS_pivot_root, dot.as_ptr(), dot.as_ptr()) };
    check(rc as libc::c_int)?;
    Ok(())
}

pub fn sethostname(name: &str) -> io::Result<()> {
    // SAFETY: the pointer and length describe `name`'s bytes.
    check(unsafe { libc::sethostname(name.as_ptr().cast(), name.len()) })?;
    Ok(())
}

/// Brings the loopback interface of this network namespace up.
pub fn loopback_up() -> io::Result<()> {
    // SAFETY: plain socket creation; the fd is owned right away.
    let fd =
        check(unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) })?;
    // SAFETY: fd is a fresh, valid descriptor.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: an all-zero ifreq is valid; the name fits in IFNAMSIZ and the union member set is
    // the flags one SIOCSIFFLAGS reads.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    req.ifr_ifru.ifru_flags =
        (libc::IFF_UP | libc::IFF_LOOPBACK | libc::IFF_RUNNING) as libc::c_short;
    // SAFETY: SIOCSIFFLAGS takes a pointer to an ifreq, which lives across the call.
    check(unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req) })?;
    Ok(())
}

/// A fresh cgroup namespace rooted at the agent's current cgroup. The clone made one already,
/// but on cgroup v1 the host attaches the agent only after the clone, so that first namespace
/// is rooted at the server's cgroup and would show host paths.
pub fn new_cgroup_namespace() -> io::Result<()> {
    // SAFETY: unshare takes a flag word only.
    check(unsafe { libc::unshare(libc::CLONE_NEWCGROUP) })?;
    Ok(())
}

pub fn clear_groups() -> io::Result<()> {
    // SAFETY: an empty list needs no pointer.
    check(unsafe { libc::setgroups(0, std::ptr::null()) })?;
    Ok(())
}

/// Blocks exactly the signals the agent handles (the host starts it with all of them blocked)
/// and returns a signalfd that reports them.
pub fn signalfd(signals: &[libc::c_int]) -> io::Result<OwnedFd> {
    // SAFETY: sigset operations on a zeroed local set; sigprocmask on this (only) thread.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in signals {
            libc::sigaddset(&mut set, *s);
        }
        check(libc::sigprocmask(
            libc::SIG_SETMASK,
            &set,
            std::ptr::null_mut(),
        ))?;
        let fd = check(libc::signalfd(
            -1,
            &set,
            libc::SFD_CLOEXEC | libc::SFD_NONBLOCK,
        ))?;
        Ok(OwnedFd::from_raw_fd(fd))
    }
}

/// Drains a signalfd; returns the signal numbers read.
pub fn read_signals(fd: &OwnedFd) -> Vec<u32> {
    let mut out = Vec::new();
    loop {
        // SAFETY: signalfd_siginfo is plain data; read fills at most its size.
        let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
        let size = std::mem::size_of::<libc::signalfd_siginfo>();
        // SAFETY: the buffer is `info`, exactly `size` bytes.
        let n = unsafe {
            libc::read(
                fd.as_raw_fd(),
                (&mut info as *mut libc::signalfd_siginfo).cast(),
                size,
            )
        };
        if n as usize != size {
            return out;
        }
        out.push(info.ssi_signo);
    }
}

pub fn unblock_all_signals() {
    // SAFETY: an empty set, applied to the calling thread.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
    }
}

pub enum Reaped {
    Exited(i32, i32),
    Signaled(i32, i32),
}

/// Reaps one exited child without blocking.
pub fn reap_any() -> Option<Reaped> {
    let mut status = 0;
    // SAFETY: waitpid writes the status into a local.
    let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
    if pid <= 0 {
        return None;
    }
    if libc::WIFEXITED(status) {
        Some(Reaped::Exited(pid, libc::WEXITSTATUS(status)))
    } else if libc::WIFSIGNALED(status) {
        Some(Reaped::Signaled(pid, libc::WTERMSIG(status)))
    } else {
        Some(Reaped::Exited(pid, -1))
    }
}

pub fn kill(pid: i32, signal: libc::c_int) {
    // SAFETY: sending a signal has no memory effects; a stale pid fails harmlessly.
    unsafe {
        libc::kill(pid, signal);
    }
}

pub fn poll(fds: &mut [libc::pollfd], timeout_ms: i32) -> io::Result<usize> {
    // SAFETY: the pointer and length describe the caller's slice.
    let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
    if n < 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            return Ok(0);
        }
        return Err(e);
    }
    Ok(n as usize)
}

/// Creates the runtime process. Returns its pid in the parent; `child` runs in the child, which
/// exits with 127 should `child` ever return. The agent is single-threaded, so the child may
/// allocate and do ordinary work before exec.
pub fn fork(child: impl FnOnce()) -> io::Result<i32> {
    // SAFETY: the agent never starts threads, so the child is a full copy of a single-threaded
    // process and may run arbitrary code.
    let pid = check(unsafe { libc::fork() })?;
    if pid == 0 {
        child();
        exit_now(127);
    }
    Ok(pid)
}

pub fn close(fd: RawFd) {
    // SAFETY: closing a descriptor number this process no longer uses.
    unsafe {
        libc::close(fd);
    }
}

pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit ends the process without running atexit handlers, right for a failed child.
    unsafe { libc::_exit(code) }
}

/// Steps of turning the forked child into the unprivileged runtime, in order. Each failure is
/// returned with its step name; the caller reports it and exits.
pub struct Unprivileged<'a> {
    pub uid: u32,
    pub gid: u32,
    pub nofile: u64,
    pub seccomp: &'a [u8],
}

impl Unprivileged<'_> {
    pub fn apply(&self) -> Result<(), (&'static str, io::Error)> {
        // SAFETY: each call takes plain integers or pointers to locals that outlive it; failures
        // are reported through errno and checked.
        unsafe {
            check(libc::setsid()).map_err(|e| ("setsid", e))?;
            for cap in 0..64 {
                // Caps past the kernel's last one fail with EINVAL, which ends the useful range.
                if libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 {
                    break;
                }
            }
            check(libc::setgroups(0, std::ptr::null())).map_err(|e| ("setgroups", e))?;
            check(libc::setresgid(self.gid, self.gid, self.gid)).map_err(|e| ("setresgid", e))?;
            check(libc::setresuid(self.uid, self.uid, self.uid)).map_err(|e| ("setresuid", e))?;
            check(libc::prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_CLEAR_ALL,
                0,
                0,
                0,
            ))
            .map_err(|e| ("clear ambient capabilities", e))?;
            check(libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
                .map_err(|e| ("no_new_privs", e))?;
            let nofile = libc::rlimit {
                rlim_cur: self.nofile,
                rlim_max: self.nofile,
            };
            check(libc::setrlimit(libc::RLIMIT_NOFILE, &nofile))
                .map_err(|e| ("rlimit nofile", e))?;
            let core = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            check(libc::setrlimit(libc::RLIMIT_CORE, &core)).map_err(|e| ("rlimit core", e))?;
        }
        Ok(())
    }
}

/// Installs a seccomp filter given as `struct sock_filter` bytes. Must come last before exec.
pub fn install_seccomp(bytes: &[u8]) -> io::Result<()> {
    if bytes.is_empty() || !bytes.len().is_multiple_of(8) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "seccomp program length is not a multiple of 8",
        ));
    }
    let filter: Vec<libc::sock_filter> = bytes
        .chunks_exact(8)
        .map(|c| libc::sock_filter {
            code: u16::from_ne_bytes([c[0], c[1]]),
            jt: c[2],
            jf: c[3],
            k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
        })
        .collect();
    let prog = libc::sock_fprog {
        len: filter.len() as libc::c_ushort,
        filter: filter.as_ptr() as *mut _,
    };
    // SAFETY: prog points at `filter`, alive across the call; the kernel copies the program.
    check(unsafe {
        libc::prctl(
            libc::PR_SET_SECCOMP,
            libc::SECCOMP_MODE_FILTER,
            &prog as *const libc::sock_fprog,
        )
    })?;
    Ok(())
}

pub fn dup2(from: RawFd, to: RawFd) -> io::Result<()> {
    // SAFETY: dup2 on descriptor numbers; a bad fd is reported through errno.
    check(unsafe { libc::dup2(from, to) })?;
    Ok(())
}

/// Closes every descriptor from `first` up.
pub fn close_from(first: u32) {
    // SAFETY: close_range only closes descriptors of this process.
    unsafe {
        libc::syscall(libc::SYS_close_range, first, u32::MAX, 0);
    }
}

pub fn execve(argv: &[String], env: &[(String, String)]) -> io::Error {
    let c_argv: Result<Vec<CString>, _> = argv.iter().map(|a| CString::new(a.as_str())).collect();
    let c_env: Result<Vec<CString>, _> = env
        .iter()
        .map(|(k, v)| CString::new(format!("{k}={v}")))
        .collect();
    let (Ok(c_argv), Ok(c_env)) = (c_argv, c_env) else {
        return io::Error::new(
            io::ErrorKind::InvalidInput,
            "argv or environment contains NUL",
        );
    };
    let Some(prog) = c_argv.first() else {
        return io::Error::new(io::ErrorKind::InvalidInput, "empty argv");
    };
    let mut argv_ptrs: Vec<*const libc::c_char> = c_argv.iter().map(|c| c.as_ptr()).collect();
    argv_ptrs.push(std::ptr::null());
    let mut env_ptrs: Vec<*const libc::c_char> = c_env.iter().map(|c| c.as_ptr()).collect();
    env_ptrs.push(std::ptr::null());
    // SAFETY: both arrays are NULL-terminated and point at CStrings alive across the call.
    unsafe { libc::execve(prog.as_ptr(), argv_ptrs.as_ptr(), env_ptrs.as_ptr()) };
    io::Error::last_os_error()
}

pub fn write_all_fd(fd: RawFd, bytes: &[u8]) {
    let mut rest = bytes;
    while !rest.is_empty() {
        // SAFETY: writing from a live slice.
        let n = unsafe { libc::write(fd, rest.as_ptr().cast(), rest.len()) };
        if n <= 0 {
            return;
        }
        rest = &rest[n as usize..];
    }
}

//! Building the environment's root filesystem, in the order of docs/sandbox.md: `prepare`
//! (tenant-neutral, ahead of time: private propagation, a tmpfs root, read-only system binds,
//! `/dev`, `/proc`, generated `/etc`), then `finish` (on the request path: the function's code
//! and runtime, `/tmp`, the root made read-only, `pivot_root` with the old root detached).

use std::fs;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt, symlink};
use std::path::Path;

use bulkhead_proto::{PrepareSpec, StartSpec};

use crate::sys;

const DEVICES: [&str; 5] = ["null", "zero", "full", "random", "urandom"];
/// Kernel interfaces a function has no business reading, covered with /dev/null.
const PROC_MASKS: [&str; 5] = ["kcore", "sysrq-trigger", "timer_list", "keys", "kallsyms"];

pub type StepResult = Result<(), (String, io::Error)>;

fn step<T>(name: impl Into<String>, r: io::Result<T>) -> Result<T, (String, io::Error)> {
    r.map_err(|e| (name.into(), e))
}

fn mkdirs(path: &str) -> io::Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(path)
}

fn touch(path: &str) -> io::Result<()> {
    if let Some(parent) = Path::new(path).parent() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(parent)?;
    }
    fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o444)
        .open(path)
        .map(drop)
}

/// Bind-mounts `source` at `target` read-only, keeping the flags the kernel locks.
fn bind_ro(source: &str, target: &str) -> io::Result<()> {
    sys::mount(
        Some(source),
        target,
        None,
        libc::MS_BIND | libc::MS_REC,
        None,
    )?;
    let keep = sys::locked_mount_flags(target)?;
    let flags = libc::MS_BIND
        | libc::MS_REMOUNT
        | libc::MS_RDONLY
        | libc::MS_NOSUID
        | libc::MS_NODEV
        | keep;
    sys::mount(None, target, None, flags, None)
}

/// The tenant-neutral half, done ahead of time: private propagation, the tmpfs root, system
/// binds, /dev, /proc and its masks, generated /etc. The root stays writable for `finish`.
pub fn prepare(spec: &PrepareSpec) -> StepResult {
    let root = spec.root_dir.trim_end_matches('/');
    let at = |p: &str| format!("{root}/{}", p.trim_start_matches('/'));

    step(
        "make mounts private",
        sys::mount(None, "/", None, libc::MS_REC | libc::MS_PRIVATE, None),
    )?;
    step(
        "mount root tmpfs",
        sys::mount(
            Some("tmpfs"),
            root,
            Some("tmpfs"),
            libc::MS_NOSUID | libc::MS_NODEV,
            Some("mode=0755,size=4m"),
        ),
    )?;
    for dir in [
        "proc",
        "dev",
        "tmp",
        "etc",
        "var/task",
        "var/runtime",
        "opt",
    ] {
        step(format!("mkdir /{dir}"), mkdirs(&at(dir)))?;
    }
    for bind in &spec.binds {
        let target = at(&bind.target);
        if bind.file {
            step(format!("create {}", bind.target), touch(&target))?;
        } else {
            step(format!("mkdir {}", bind.target), mkdirs(&target))?;
        }
        step(
            format!("bind {} at {}", bind.source, bind.target),
            bind_ro(&bind.source, &target),
        )?;
    }
    for (link, target) in &spec.symlinks {
        step(format!("symlink {link}"), symlink(target, at(link)))?;
    }

    let dev = at("dev");
    step(
        "mount /dev",
        sys::mount(
            Some("tmpfs"),
            &dev,
            Some("tmpfs"),
            libc::MS_NOSUID | libc::MS_NOEXEC,
            Some("mode=0755,size=64k"),
        ),
    )?;
    for name in DEVICES {
        let node = format!("{dev}/{name}");
        step(format!("create /dev/{name}"), touch(&node))?;
        step(
            format!("bind /dev/{name}"),
            sys::mount(
                Some(&format!("/dev/{name}")),
                &node,
                None,
                libc::MS_BIND,
                None,
            ),
        )?;
    }
    for (link, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        step(
            format!("symlink /dev/{link}"),
            symlink(target, format!("{dev}/{link}")),
        )?;
    }

    let proc_dir = at("proc");
    step(
        "mount /proc",
        sys::mount(
            Some("proc"),
            &proc_dir,
            Some("proc"),
            libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
            None,
        ),
    )?;
    for name in PROC_MASKS {
        let target = format!("{proc_dir}/{name}");
        if Path::new(&target).exists() {
            step(
                format!("mask /proc/{name}"),
                sys::mount(
                    Some(&format!("{dev}/null")),
                    &target,
                    None,
                    libc::MS_BIND,
                    None,
                ),
            )?;
        }
    }
    step(
        "read-only /proc/sys",
        bind_ro(&format!("{proc_dir}/sys"), &format!("{proc_dir}/sys")),
    )?;

    for (path, contents) in &spec.files {
        step(format!("write {path}"), write_file(&at(path), contents))?;
    }
    Ok(())
}

/// The function's half, on the request path: its code and runtime, a /tmp of its size, the root
/// made read-only, then `pivot_root` with the old root detached.
pub fn finish(root_dir: &str, spec: &StartSpec, dirs: &[OwnedFd]) -> StepResult {
    let root = root_dir.trim_end_matches('/');
    let at = |p: &str| format!("{root}/{}", p.trim_start_matches('/'));
    if dirs.len() != spec.fd_binds.len() {
        return Err((
            "receive the function's directories".into(),
            io::Error::other("descriptor count does not match"),
        ));
    }
    for (dir, target) in dirs.iter().zip(&spec.fd_binds) {
        let path = at(target);
        step(format!("mkdir {target}"), mkdirs(&path))?;
        // A detached read-only tree the host cloned; attaching it needs no path to the host's.
        step(
            format!("attach {target}"),
            sys::move_mount(dir.as_raw_fd(), &path),
        )?;
    }
    let tmp_opts = format!("mode=1777,size={}m", spec.tmp_mb);
    step(
        "mount /tmp",
        sys::mount(
            Some("tmpfs"),
            &at("tmp"),
            Some("tmpfs"),
            libc::MS_NOSUID | libc::MS_NODEV,
            Some(&tmp_opts),
        ),
    )?;
    step(
        "make root read-only",
        sys::mount(
            None,
            root,
            None,
            libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV,
            None,
        ),
    )?;
    step("chdir to new root", std::env::set_current_dir(root))?;
    step("pivot_root", sys::pivot_root_here())?;
    step("detach old root", sys::umount_detach("."))?;
    step("chdir /", std::env::set_current_dir("/"))?;
    Ok(())
}

fn write_file(path: &str, contents: &str) -> io::Result<()> {
    if let Some(parent) = Path::new(path).parent() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(parent)?;
    }
    fs::write(path, contents)?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o444))
}

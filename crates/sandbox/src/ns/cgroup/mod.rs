//! cgroup limits and accounting for environments, on cgroup v1 and v2 hosts.
//!
//! Every environment gets its own group with a memory limit (no swap), a pids limit and a CPU
//! weight, and the host reads back its peak memory, CPU time and how it hit its limits. The layout
//! is detected at run time from `/proc/self/mountinfo`: production hosts are mostly pure v2 (one
//! directory per group, `clone3(CLONE_INTO_CGROUP)` possible), while this project's CI machines are
//! v1 "hybrid" (one directory per controller, and a cgroup2 mount that offers none of the
//! controllers we need).
//!
//! All groups live under one parent, `<base>`, at the top of each hierarchy. On v2 that parent is
//! the only place where we turn on controllers in `cgroup.subtree_control`; putting it under the
//! server's own cgroup would break v2's "no processes in inner groups" rule, because the server
//! itself lives there. Asking systemd for a delegated subtree over D-Bus was rejected: it ties the
//! server to systemd and adds a dependency for what is a handful of file writes.
//!
//! Attaching a process is the expensive step on v1 (an RCU grace period, 5–20 ms here, when no
//! attach ran just before; see `shared/sandbox-bench.md`), which is why callers should create and
//! attach groups ahead of time, and on v2 start processes straight inside the group with
//! [`Cgroup::open_dir_v2`] and `CLONE_INTO_CGROUP`.

mod detect;
mod sys;
mod v1;
mod v2;

use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::os::fd::AsFd as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use detect::Layout;

/// The controllers every environment needs, in the order v2's `subtree_control` gets them.
const NEEDED: [&str; 3] = ["memory", "cpu", "pids"];

/// How long [`Cgroup::kill_all`] keeps signalling and waiting for the group to empty.
const KILL_BOUND: Duration = Duration::from_millis(500);

/// How long [`Cgroup::remove`] retries `rmdir` while exiting tasks still pin a group (`EBUSY`).
const REMOVE_BOUND: Duration = Duration::from_millis(200);

/// Longest group name accepted; the kernel allows 255, callers need far less.
const MAX_NAME: usize = 64;

/// Which cgroup interface the host offers for memory, cpu and pids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupVersion {
    /// One hierarchy per controller (`/sys/fs/cgroup/memory`, …), including "hybrid" hosts.
    V1,
    /// The unified hierarchy with memory, cpu and pids available in `cgroup.controllers`.
    V2,
}

/// Errors of the cgroup module; each names the file or directory it failed on.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("cannot read the mount table {path}")]
    ReadMounts {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("missing cgroup controllers: {missing} (found: {looked})")]
    MissingControllers { missing: String, looked: String },
    #[error("invalid cgroup name {name:?}: expected 1 to 64 characters of [a-z0-9-]")]
    InvalidName { name: String },
    #[error("invalid cgroup limits: {reason}")]
    InvalidLimits { reason: String },
    #[error("cannot create cgroup {path}")]
    Create {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot enable controllers in {path}")]
    EnableControllers {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot write {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot attach process {pid} to {path}")]
    Attach {
        pid: u32,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot remove cgroup {path}")]
    Remove {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// The detected cgroup layout and the parent group `<base>` all environment groups live in.
#[derive(Debug)]
pub struct CgroupManager {
    base: String,
    layout: Layout,
}

impl CgroupManager {
    /// Detects the host layout and creates (if missing) the parent group `<base>` under each
    /// needed controller: v1 memory, cpu (and cpuacct when it is a separate mount), pids; on v2 one
    /// directory with memory, cpu and pids enabled in its parent's and its own `subtree_control`.
    pub fn detect(base: &str) -> Result<Self, CgroupError> {
        let path = PathBuf::from("/proc/self/mountinfo");
        let text =
            fs::read_to_string(&path).map_err(|source| CgroupError::ReadMounts { path, source })?;
        Self::from_mounts(&detect::parse_mountinfo(&text), base)
    }

    /// Like [`detect`](Self::detect) over a tree laid out like `/sys/fs/cgroup` (pure v2 when
    /// `root/cgroup.controllers` exists, else one directory per v1 controller), for tests.
    pub fn with_root(root: &Path, base: &str) -> Result<Self, CgroupError> {
        Self::from_mounts(&detect::mounts_under_root(root)?, base)
    }

    fn from_mounts(mounts: &[detect::Mount], base: &str) -> Result<Self, CgroupError> {
        validate_name(base)?;
        let layout = detect::select(mounts)?;
        match &layout {
            Layout::V1(h) => h.prepare(base)?,
            Layout::V2(h) => h.prepare(base)?,
        }
        tracing::debug!(base, version = ?version_of(&layout), "cgroup layout detected");
        Ok(Self {
            base: base.to_owned(),
            layout,
        })
    }

    pub fn version(&self) -> CgroupVersion {
        version_of(&self.layout)
    }

    /// Human-readable facts for `bulkhead doctor`: version, where the groups go, which optional
    /// features exist and what their absence costs.
    pub fn describe(&self) -> Vec<(String, String)> {
        let mut facts = vec![(
            "cgroup version".to_owned(),
            match self.version() {
                CgroupVersion::V1 => "v1".to_owned(),
                CgroupVersion::V2 => "v2".to_owned(),
            },
        )];
        match &self.layout {
            Layout::V1(h) => facts.extend(h.describe(&self.base)),
            Layout::V2(h) => facts.extend(h.describe(&self.base)),
        }
        facts
    }

    /// Creates the group `<base>/<name>`; fails if it already exists, so two environments never
    /// share a group by accident. `name` must be 1–64 characters of `[a-z0-9-]`.
    pub fn create(&self, name: &str) -> Result<Cgroup, CgroupError> {
        validate_name(name)?;
        let cgroup = self.group(name);
        let mut made: Vec<&Path> = Vec::new();
        for dir in cgroup.dirs() {
            tracing::debug!(path = %dir.display(), "cgroup mkdir");
            if let Err(source) = fs::create_dir(dir) {
                // Leave nothing half-made behind: the caller cannot remove what it never got.
                for done in made {
                    let _ = fs::remove_dir(done);
                }
                return Err(CgroupError::Create {
                    path: dir.to_path_buf(),
                    source,
                });
            }
            made.push(dir);
        }
        Ok(cgroup)
    }

    /// Removes the groups a crashed server left under `<base>`, killing their processes first;
    /// returns how many were removed. Call it at start-up, before any [`create`](Self::create).
    pub fn sweep_stale(&self) -> usize {
        let mut names = BTreeSet::new();
        for dir in self.base_dirs() {
            let Ok(entries) = fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    names.insert(entry.file_name().to_string_lossy().into_owned());
                }
            }
        }
        let mut removed = 0;
        for name in names {
            // Not validated: whatever sits under our base is ours to clear, and each name is a
            // single directory entry, so it cannot point elsewhere.
            let cgroup = self.group(&name);
            cgroup.kill_all();
            match cgroup.remove() {
                Ok(()) => removed += 1,
                Err(e) => tracing::warn!(error = %e, "cannot remove stale cgroup"),
            }
        }
        if removed > 0 {
            tracing::info!(removed, base = %self.base, "removed stale cgroups");
        }
        removed
    }

    fn group(&self, name: &str) -> Cgroup {
        let inner = match &self.layout {
            Layout::V1(h) => Inner::V1(h.group(&self.base, name)),
            Layout::V2(h) => Inner::V2(h.group(&self.base, name)),
        };
        Cgroup {
            name: name.to_owned(),
            inner,
        }
    }

    fn base_dirs(&self) -> Vec<PathBuf> {
        match &self.layout {
            Layout::V1(h) => h.base_dirs(&self.base),
            Layout::V2(h) => vec![h.base_dir(&self.base)],
        }
    }

    /// Removes the parent groups `<base>`; fails with `EBUSY` while any group is left under them.
    /// A server keeps its base for good; tests and uninstalls use this to leave nothing behind.
    pub fn remove_base(&self) -> Result<(), CgroupError> {
        let deadline = Instant::now() + REMOVE_BOUND;
        let mut first_err = None;
        for dir in self.base_dirs() {
            if let Err(e) = rmdir_retry(&dir, deadline) {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }
}

fn version_of(layout: &Layout) -> CgroupVersion {
    match layout {
        Layout::V1(_) => CgroupVersion::V1,
        Layout::V2(_) => CgroupVersion::V2,
    }
}

fn validate_name(name: &str) -> Result<(), CgroupError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(CgroupError::InvalidName {
            name: name.to_owned(),
        })
    }
}

/// Limits of one environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Memory limit; swap is not allowed on top of it.
    pub memory_bytes: u64,
    pub pids_max: u32,
    /// 1..=10000 with v2 semantics (100 is the default); on v1 it becomes `cpu.shares`.
    pub cpu_weight: u32,
}

impl Limits {
    fn validate(&self) -> Result<(), CgroupError> {
        let reason = if self.memory_bytes == 0 {
            "memory limit must be above zero".to_owned()
        } else if self.pids_max == 0 {
            "pids limit must be above zero".to_owned()
        } else if !(1..=10_000).contains(&self.cpu_weight) {
            format!("cpu weight {} is outside 1..=10000", self.cpu_weight)
        } else {
            return Ok(());
        };
        Err(CgroupError::InvalidLimits { reason })
    }

    /// v1 `cpu.shares` for the v2 weight: the defaults (100 and 1024) line up, and the kernel's
    /// floor of 2 shares is kept.
    fn cpu_shares(&self) -> u64 {
        (u64::from(self.cpu_weight) * 1024 / 100).max(2)
    }
}

/// What an environment consumed; zero where the host cannot say.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub peak_memory_bytes: u64,
    pub cpu_time: Duration,
    pub pids: u32,
}

/// How often an environment ran into its limits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Events {
    /// Processes killed by the OOM killer inside the group.
    pub oom_kills: u64,
    /// Forks refused by the pids limit.
    pub pids_max_hits: u64,
    /// Times usage reached the memory limit (v1 `memory.failcnt`, v2 `memory.events` `max`).
    pub memory_max_hits: u64,
}

/// One environment's group: a directory per controller on v1, one directory on v2.
#[derive(Debug)]
pub struct Cgroup {
    name: String,
    inner: Inner,
}

#[derive(Debug)]
enum Inner {
    V1(v1::Group),
    V2(v2::Group),
}

impl Cgroup {
    pub fn name(&self) -> &str {
        &self.name
    }

    fn dirs(&self) -> &[PathBuf] {
        match &self.inner {
            Inner::V1(g) => g.dirs(),
            Inner::V2(g) => g.dirs(),
        }
    }

    /// Moves process `pid` (with all its threads) into the group, controller by controller.
    pub fn attach(&self, pid: u32) -> Result<(), CgroupError> {
        for dir in self.dirs() {
            let path = dir.join("cgroup.procs");
            tracing::debug!(pid, path = %path.display(), "cgroup attach");
            write_raw(&path, &pid.to_string()).map_err(|source| CgroupError::Attach {
                pid,
                path,
                source,
            })?;
        }
        Ok(())
    }

    /// A descriptor of the v2 directory for `clone3(CLONE_INTO_CGROUP)`; `None` on v1, or when
    /// the directory cannot be opened (the caller then falls back to [`attach`](Self::attach)).
    pub fn open_dir_v2(&self) -> Option<File> {
        match &self.inner {
            Inner::V1(_) => None,
            Inner::V2(g) => g.open_dir(),
        }
    }

    pub fn set_limits(&self, limits: &Limits) -> Result<(), CgroupError> {
        limits.validate()?;
        match &self.inner {
            Inner::V1(g) => g.set_limits(limits),
            Inner::V2(g) => g.set_limits(limits),
        }
    }

    /// Peak memory, CPU time and current pids; best effort, zero for what cannot be read.
    pub fn usage(&self) -> Usage {
        match &self.inner {
            Inner::V1(g) => g.usage(),
            Inner::V2(g) => g.usage(),
        }
    }

    /// Restarts peak-memory tracking from the current usage, so the next [`usage`](Self::usage)
    /// reports the peak of one invocation. A no-op where the kernel cannot reset it.
    pub fn reset_peak(&self) {
        match &self.inner {
            Inner::V1(g) => g.reset_peak(),
            Inner::V2(g) => g.reset_peak(),
        }
    }

    pub fn events(&self) -> Events {
        match &self.inner {
            Inner::V1(g) => g.events(),
            Inner::V2(g) => g.events(),
        }
    }

    /// Pids in the group (in the caller's pid namespace), sorted, over all controller directories.
    pub fn procs(&self) -> Vec<u32> {
        let mut pids: Vec<u32> = self
            .dirs()
            .iter()
            .flat_map(|d| read_pids(&d.join("cgroup.procs")))
            .collect();
        pids.sort_unstable();
        pids.dedup();
        pids
    }

    /// Kills every process in the group and waits (bounded) until it is empty. Uses v2
    /// `cgroup.kill` when present, which also stops concurrent forks; otherwise signals each pid
    /// through a pidfd, round after round, so a pid reused outside the group is never hit.
    pub fn kill_all(&self) {
        let deadline = Instant::now() + KILL_BOUND;
        let killed_by_kernel = match &self.inner {
            Inner::V2(g) => g.kill_file(),
            Inner::V1(_) => false,
        };
        loop {
            let pids = self.procs();
            if pids.is_empty() {
                return;
            }
            if Instant::now() >= deadline {
                tracing::warn!(cgroup = %self.name, left = pids.len(), "cgroup not empty after kill");
                return;
            }
            if !killed_by_kernel {
                self.signal_round(&pids);
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn signal_round(&self, pids: &[u32]) {
        let mut pinned = Vec::with_capacity(pids.len());
        for &pid in pids {
            match sys::pidfd_open(pid) {
                Ok(fd) => pinned.push((pid, fd)),
                // Kernels before 5.3: a plain kill, accepting the tiny pid-reuse window.
                Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => {
                    let _ = sys::kill(pid);
                }
                // ESRCH: it is gone already.
                Err(_) => {}
            }
        }
        if pinned.is_empty() {
            return;
        }
        // Each pidfd now pins whichever process holds that pid; if the pid is still listed in the
        // group, the pinned process is the group's and not a newcomer that reused the number.
        let still = self.procs();
        for (pid, fd) in &pinned {
            if still.binary_search(pid).is_ok() {
                tracing::debug!(pid, cgroup = %self.name, "SIGKILL");
                let _ = sys::pidfd_kill(fd.as_fd());
            }
        }
    }

    /// Removes every directory of the group, retrying briefly on `EBUSY` while exiting tasks
    /// still pin it. A directory that is already gone counts as removed.
    pub fn remove(&self) -> Result<(), CgroupError> {
        let deadline = Instant::now() + REMOVE_BOUND;
        let mut first_err = None;
        for dir in self.dirs() {
            if let Err(e) = rmdir_retry(dir, deadline) {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }
}

fn rmdir_retry(dir: &Path, deadline: Instant) -> Result<(), CgroupError> {
    loop {
        tracing::debug!(path = %dir.display(), "cgroup rmdir");
        match fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(source) => {
                return Err(CgroupError::Remove {
                    path: dir.to_path_buf(),
                    source,
                });
            }
        }
    }
}

/// Creates `dir` unless it exists; for the long-lived `<base>` groups.
fn mkdir_existing_ok(dir: &Path) -> Result<(), CgroupError> {
    match fs::create_dir(dir) {
        Ok(()) => {
            tracing::debug!(path = %dir.display(), "cgroup base created");
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(CgroupError::Create {
            path: dir.to_path_buf(),
            source,
        }),
    }
}

/// Writes a control file in one `write(2)`, never creating it: a missing file means a missing
/// controller, which must surface as an error rather than as a stray regular file.
fn write_raw(path: &Path, value: &str) -> io::Result<()> {
    // O_TRUNC means nothing to cgroupfs, but keeps fake trees in tests honest.
    OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)?
        .write_all(value.as_bytes())
}

fn write_value(path: &Path, value: &str) -> Result<(), CgroupError> {
    tracing::debug!(path = %path.display(), value, "cgroup write");
    write_raw(path, value).map_err(|source| CgroupError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// A single-number file; `None` when missing, unreadable, or `max`.
fn read_u64(path: &Path) -> Option<u64> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The value of `key` in a flat-keyed file such as `memory.events` (`oom_kill 3`).
fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once(' ')?;
        if k == key {
            v.trim().parse().ok()
        } else {
            None
        }
    })
}

fn read_keyed(path: &Path, key: &str) -> Option<u64> {
    keyed(&fs::read_to_string(path).ok()?, key)
}

fn read_pids(path: &Path) -> Vec<u32> {
    fs::read_to_string(path)
        .map(|t| t.lines().filter_map(|l| l.trim().parse().ok()).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests;

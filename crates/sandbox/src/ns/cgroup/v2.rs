//! cgroup v2: one unified hierarchy, so one directory per group.
//!
//! Only its file formats and paths are tested here (over a fake tree): this project's machines
//! are v1 hybrid, so the v2 code stays as plain as the kernel interface allows.

use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::{FileExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use super::{
    CgroupError, Events, Limits, NEEDED, Usage, mkdir_existing_ok, read_keyed, read_u64, write_raw,
    write_value,
};

#[derive(Debug)]
pub(super) struct Hierarchy {
    pub mount: PathBuf,
    /// What the mount's `cgroup.controllers` offered at detection.
    pub controllers: Vec<String>,
    /// Mounted with `favordynmods`, which makes attaching a process cheap.
    pub favordynmods: bool,
}

impl Hierarchy {
    pub fn base_dir(&self, base: &str) -> PathBuf {
        self.mount.join(base)
    }

    /// Turns on memory, cpu and pids for `<base>` (in the mount's `subtree_control`) and for its
    /// children (in `<base>`'s own).
    pub fn prepare(&self, base: &str) -> Result<(), CgroupError> {
        enable_controllers(&self.mount)?;
        let dir = self.base_dir(base);
        mkdir_existing_ok(&dir)?;
        enable_controllers(&dir)
    }

    pub fn group(&self, base: &str, name: &str) -> Group {
        Group {
            dirs: [self.base_dir(base).join(name)],
            peak: Mutex::new(None),
        }
    }

    pub fn describe(&self, base: &str) -> Vec<(String, String)> {
        let dir = self.base_dir(base);
        let has = |file: &str| dir.join(file).exists();
        let present_or = |file: &str, missing: &str| {
            if has(file) {
                "present".to_owned()
            } else {
                format!("missing: {missing}")
            }
        };
        vec![
            (
                "cgroup2 mount".to_owned(),
                format!(
                    "{} offers [{}]",
                    self.mount.display(),
                    self.controllers.join(" ")
                ),
            ),
            ("cgroup v2 base".to_owned(), dir.display().to_string()),
            (
                "cgroup.kill".to_owned(),
                present_or(
                    "cgroup.kill",
                    "kernel before 5.14, processes are killed one by one",
                ),
            ),
            (
                "memory.peak".to_owned(),
                present_or(
                    "memory.peak",
                    "kernel before 5.19, peak memory reads as current usage",
                ),
            ),
            (
                "memory.swap.max".to_owned(),
                present_or(
                    "memory.swap.max",
                    "no swap accounting, environments may swap if the host has swap",
                ),
            ),
            (
                "favordynmods".to_owned(),
                if self.favordynmods {
                    "on: attaching a process is cheap".to_owned()
                } else {
                    "off: an attach may wait for an RCU grace period; CLONE_INTO_CGROUP avoids it"
                        .to_owned()
                },
            ),
        ]
    }
}

/// Enables whatever of [`NEEDED`] is not yet in `dir/cgroup.subtree_control`, in one write;
/// writes nothing when all are on, so an unprivileged server can run on a prepared host.
fn enable_controllers(dir: &Path) -> Result<(), CgroupError> {
    let path = dir.join("cgroup.subtree_control");
    let err = |source| CgroupError::EnableControllers {
        path: path.clone(),
        source,
    };
    let enabled = fs::read_to_string(&path).map_err(err)?;
    let missing: Vec<String> = NEEDED
        .iter()
        .filter(|c| !enabled.split_whitespace().any(|e| e == **c))
        .map(|c| format!("+{c}"))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let value = missing.join(" ");
    tracing::debug!(path = %path.display(), value, "cgroup enable controllers");
    write_raw(&path, &value).map_err(err)
}

#[derive(Debug)]
pub(super) struct Group {
    dirs: [PathBuf; 1],
    /// `memory.peak` opened by [`reset_peak`](Self::reset_peak): since Linux 6.12 a reset only
    /// applies to reads through the same descriptor, so it is kept for [`usage`](Self::usage).
    peak: Mutex<Option<File>>,
}

impl Group {
    fn dir(&self) -> &Path {
        &self.dirs[0]
    }

    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    pub fn open_dir(&self) -> Option<File> {
        OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY)
            .open(self.dir())
            .inspect_err(|e| tracing::debug!(path = %self.dir().display(), error = %e, "cannot open cgroup dir"))
            .ok()
    }

    pub fn set_limits(&self, l: &Limits) -> Result<(), CgroupError> {
        let dir = self.dir();
        write_value(&dir.join("memory.max"), &l.memory_bytes.to_string())?;
        // Absent without swap accounting; then there is nothing to cap.
        let swap = dir.join("memory.swap.max");
        if swap.exists() {
            write_value(&swap, "0")?;
        }
        // Kill the whole environment on OOM, not one process of it: a half-killed runtime
        // would keep serving in an unknown state.
        let group = dir.join("memory.oom.group");
        if group.exists() {
            write_value(&group, "1")?;
        }
        write_value(&dir.join("pids.max"), &l.pids_max.to_string())?;
        write_value(&dir.join("cpu.weight"), &l.cpu_weight.to_string())
    }

    pub fn usage(&self) -> Usage {
        let dir = self.dir();
        let cpu_usec = read_keyed(&dir.join("cpu.stat"), "usage_usec").unwrap_or(0);
        Usage {
            peak_memory_bytes: self
                .peak_since_reset()
                .or_else(|| read_u64(&dir.join("memory.peak")))
                .or_else(|| read_u64(&dir.join("memory.current")))
                .unwrap_or(0),
            cpu_time: Duration::from_micros(cpu_usec),
            pids: read_u64(&dir.join("pids.current"))
                .and_then(|n| u32::try_from(n).ok())
                .unwrap_or(0),
        }
    }

    fn peak_since_reset(&self) -> Option<u64> {
        let guard = self.peak.lock().unwrap_or_else(PoisonError::into_inner);
        let file = guard.as_ref()?;
        let mut buf = [0u8; 32];
        let n = file.read_at(&mut buf, 0).ok()?;
        std::str::from_utf8(&buf[..n]).ok()?.trim().parse().ok()
    }

    pub fn reset_peak(&self) {
        let path = self.dir().join("memory.peak");
        let opened = OpenOptions::new()
            .read(true)
            .write(true)
            .truncate(true)
            .open(&path);
        let reset = opened.and_then(|mut f| f.write_all(b"reset\n").map(|()| f));
        let mut guard = self.peak.lock().unwrap_or_else(PoisonError::into_inner);
        match reset {
            Ok(f) => *guard = Some(f),
            Err(e) => {
                // Before 6.12 memory.peak is read-only: usage keeps reporting the lifetime peak.
                tracing::debug!(path = %path.display(), error = %e, "cannot reset peak memory");
                *guard = None;
            }
        }
    }

    pub fn events(&self) -> Events {
        let dir = self.dir();
        let memory = fs::read_to_string(dir.join("memory.events")).unwrap_or_default();
        Events {
            oom_kills: super::keyed(&memory, "oom_kill").unwrap_or(0),
            pids_max_hits: read_keyed(&dir.join("pids.events"), "max").unwrap_or(0),
            memory_max_hits: super::keyed(&memory, "max").unwrap_or(0),
        }
    }

    /// Writes `cgroup.kill`; false when the kernel has none (before 5.14) or the write failed.
    pub fn kill_file(&self) -> bool {
        let path = self.dir().join("cgroup.kill");
        if !path.exists() {
            return false;
        }
        tracing::debug!(path = %path.display(), "cgroup kill");
        write_raw(&path, "1")
            .inspect_err(
                |e| tracing::warn!(path = %path.display(), error = %e, "cgroup.kill failed"),
            )
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::super::{CgroupManager, CgroupVersion, Inner};
    use super::*;

    const ALL: &str = "cpuset cpu io memory hugetlb pids rdma misc\n";

    /// A pure v2 root as the kernel shows it, with `<base>` already there (the kernel would fill
    /// in its control files on mkdir; a fake tree has to do that itself).
    fn fake_v2(root_enabled: &str) -> tempfile::TempDir {
        let tmp = tempfile::tempdir().expect("tempdir");
        fs::write(tmp.path().join("cgroup.controllers"), ALL).expect("write");
        fs::write(tmp.path().join("cgroup.subtree_control"), root_enabled).expect("write");
        let base = tmp.path().join("bulkhead");
        fs::create_dir(&base).expect("mkdir");
        fs::write(base.join("cgroup.controllers"), "cpu memory pids\n").expect("write");
        fs::write(base.join("cgroup.subtree_control"), "").expect("write");
        tmp
    }

    fn populate(dir: &Path, files: &[(&str, &str)]) {
        for (name, content) in files {
            fs::write(dir.join(name), content).expect("write control file");
        }
    }

    fn read(path: PathBuf) -> String {
        fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    #[test]
    fn detection_enables_controllers_in_root_and_base() {
        let tmp = fake_v2("cpuset io\n");
        let mgr = CgroupManager::with_root(tmp.path(), "bulkhead").expect("detect");
        assert_eq!(mgr.version(), CgroupVersion::V2);
        assert_eq!(
            read(tmp.path().join("cgroup.subtree_control")),
            "+memory +cpu +pids"
        );
        assert_eq!(
            read(tmp.path().join("bulkhead/cgroup.subtree_control")),
            "+memory +cpu +pids"
        );
    }

    #[test]
    fn already_enabled_controllers_are_not_written_again() {
        let tmp = fake_v2("cpu io memory pids\n");
        fs::write(
            tmp.path().join("bulkhead/cgroup.subtree_control"),
            "memory pids\n",
        )
        .expect("write");
        CgroupManager::with_root(tmp.path(), "bulkhead").expect("detect");
        assert_eq!(
            read(tmp.path().join("cgroup.subtree_control")),
            "cpu io memory pids\n"
        );
        assert_eq!(
            read(tmp.path().join("bulkhead/cgroup.subtree_control")),
            "+cpu"
        );
    }

    #[test]
    fn one_directory_per_group_and_a_dir_fd_for_clone3() {
        let tmp = fake_v2("");
        let mgr = CgroupManager::with_root(tmp.path(), "bulkhead").expect("detect");
        let cg = mgr.create("env-1").expect("create");
        assert_eq!(cg.dirs(), [tmp.path().join("bulkhead/env-1")]);
        let fd = cg.open_dir_v2().expect("directory fd");
        assert!(fd.metadata().expect("fstat").is_dir());
    }

    #[test]
    fn limits_go_to_the_v2_files() {
        let tmp = fake_v2("");
        let mgr = CgroupManager::with_root(tmp.path(), "bulkhead").expect("detect");
        let cg = mgr.create("env-2").expect("create");
        let dir = tmp.path().join("bulkhead/env-2");
        populate(
            &dir,
            &[
                ("memory.max", "max\n"),
                ("memory.swap.max", "max\n"),
                ("memory.oom.group", "0\n"),
                ("pids.max", "max\n"),
                ("cpu.weight", "100\n"),
            ],
        );
        cg.set_limits(&Limits {
            memory_bytes: 64 << 20,
            pids_max: 5,
            cpu_weight: 250,
        })
        .expect("set");
        assert_eq!(read(dir.join("memory.max")), "67108864");
        assert_eq!(read(dir.join("memory.swap.max")), "0");
        assert_eq!(read(dir.join("memory.oom.group")), "1");
        assert_eq!(read(dir.join("pids.max")), "5");
        assert_eq!(
            read(dir.join("cpu.weight")),
            "250",
            "v2 takes the weight as is"
        );
    }

    #[test]
    fn swap_file_is_not_invented_without_swap_accounting() {
        let tmp = fake_v2("");
        let mgr = CgroupManager::with_root(tmp.path(), "bulkhead").expect("detect");
        let cg = mgr.create("env-3").expect("create");
        let dir = tmp.path().join("bulkhead/env-3");
        populate(
            &dir,
            &[("memory.max", ""), ("pids.max", ""), ("cpu.weight", "")],
        );
        cg.set_limits(&Limits {
            memory_bytes: 1 << 20,
            pids_max: 1,
            cpu_weight: 1,
        })
        .expect("set");
        assert!(!dir.join("memory.swap.max").exists());
        assert!(!dir.join("memory.oom.group").exists());
    }

    #[test]
    fn invalid_limits_are_refused_before_any_write() {
        let tmp = fake_v2("");
        let mgr = CgroupManager::with_root(tmp.path(), "bulkhead").expect("detect");
        let cg = mgr.create("env-4").expect("create");
        for (l, word) in [
            (
                Limits {
                    memory_bytes: 0,
                    pids_max: 1,
                    cpu_weight: 1,
                },
                "memory",
            ),
            (
                Limits {
                    memory_bytes: 1,
                    pids_max: 0,
                    cpu_weight: 1,
                },
                "pids",
            ),
            (
                Limits {
                    memory_bytes: 1,
                    pids_max: 1,
                    cpu_weight: 0,
                },
                "weight",
            ),
            (
                Limits {
                    memory_bytes: 1,
                    pids_max: 1,
                    cpu_weight: 10_001,
                },
                "weight",
            ),
        ] {
            let err = cg.set_limits(&l).expect_err("invalid");
            assert!(
                matches!(err, CgroupError::InvalidLimits { .. }) && err.to_string().contains(word),
                "{err}"
            );
        }
    }

    #[test]
    fn usage_and_events_read_the_v2_files() {
        let tmp = fake_v2("");
        let mgr = CgroupManager::with_root(tmp.path(), "bulkhead").expect("detect");
        let cg = mgr.create("env-5").expect("create");
        let dir = tmp.path().join("bulkhead/env-5");
        populate(
            &dir,
            &[
                ("memory.current", "1000\n"),
                ("memory.peak", "4096\n"),
                (
                    "cpu.stat",
                    "usage_usec 2500\nuser_usec 2000\nsystem_usec 500\n",
                ),
                ("pids.current", "4\n"),
                (
                    "memory.events",
                    "low 0\nhigh 0\nmax 5\noom 2\noom_kill 2\noom_group_kill 1\n",
                ),
                ("pids.events", "max 9\n"),
            ],
        );
        assert_eq!(
            cg.usage(),
            Usage {
                peak_memory_bytes: 4096,
                cpu_time: Duration::from_micros(2500),
                pids: 4
            }
        );
        assert_eq!(
            cg.events(),
            Events {
                oom_kills: 2,
                pids_max_hits: 9,
                memory_max_hits: 5
            }
        );

        fs::remove_file(dir.join("memory.peak")).expect("rm");
        assert_eq!(
            cg.usage().peak_memory_bytes,
            1000,
            "kernels before 5.19 have only memory.current"
        );
    }

    #[test]
    fn reset_peak_keeps_the_descriptor_it_reset() {
        let tmp = fake_v2("");
        let mgr = CgroupManager::with_root(tmp.path(), "bulkhead").expect("detect");
        let cg = mgr.create("env-6").expect("create");
        let dir = tmp.path().join("bulkhead/env-6");
        populate(&dir, &[("memory.peak", "999999\n")]);
        cg.reset_peak();
        let Inner::V2(g) = &cg.inner else {
            panic!("v2")
        };
        assert!(
            g.peak.lock().expect("lock").is_some(),
            "the reset descriptor is kept"
        );
        assert!(read(dir.join("memory.peak")).starts_with("reset\n"));
        // The kernel would now answer reads through that descriptor with the new peak.
        fs::write(dir.join("memory.peak"), "2048\n").expect("write");
        assert_eq!(cg.usage().peak_memory_bytes, 2048);
    }

    #[test]
    fn kill_uses_cgroup_kill_when_present() {
        let tmp = fake_v2("");
        let mgr = CgroupManager::with_root(tmp.path(), "bulkhead").expect("detect");
        let cg = mgr.create("env-7").expect("create");
        let dir = tmp.path().join("bulkhead/env-7");
        populate(&dir, &[("cgroup.kill", ""), ("cgroup.procs", "")]);
        cg.kill_all();
        assert_eq!(read(dir.join("cgroup.kill")), "1");
    }
}

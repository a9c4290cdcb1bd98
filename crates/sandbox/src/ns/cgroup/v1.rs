//! cgroup v1: one hierarchy per controller, so one directory per controller per group.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{
    CgroupError, Events, Limits, Usage, mkdir_existing_ok, read_keyed, read_u64, write_raw,
    write_value,
};

/// Where each needed v1 controller is mounted.
#[derive(Debug)]
pub(super) struct Hierarchy {
    pub memory: PathBuf,
    pub cpu: PathBuf,
    pub pids: PathBuf,
    /// CPU time lives here; the same path as `cpu` when the two are co-mounted (`cpu,cpuacct`).
    pub cpuacct: Option<PathBuf>,
    /// The cgroup2 mount of a hybrid host and the controllers it offers; unused, but reported.
    pub unified: Option<(PathBuf, Vec<String>)>,
}

impl Hierarchy {
    /// Distinct mount points, in attach order: memory first, so what the process allocates after
    /// the first write is already charged to the group.
    fn mounts(&self) -> Vec<&Path> {
        let mut mounts: Vec<&Path> = vec![&self.memory, &self.cpu];
        if let Some(acct) = &self.cpuacct {
            mounts.push(acct);
        }
        mounts.push(&self.pids);
        let mut seen = Vec::with_capacity(mounts.len());
        mounts.retain(|m| {
            let new = !seen.contains(m);
            seen.push(*m);
            new
        });
        mounts
    }

    pub fn base_dirs(&self, base: &str) -> Vec<PathBuf> {
        self.mounts().iter().map(|m| m.join(base)).collect()
    }

    pub fn prepare(&self, base: &str) -> Result<(), CgroupError> {
        self.base_dirs(base)
            .iter()
            .map(PathBuf::as_path)
            .try_for_each(mkdir_existing_ok)
    }

    pub fn group(&self, base: &str, name: &str) -> Group {
        let at = |mount: &Path| mount.join(base).join(name);
        Group {
            memory: at(&self.memory),
            pids: at(&self.pids),
            cpu: at(&self.cpu),
            cpuacct: self.cpuacct.as_deref().map(at),
            dirs: self.mounts().into_iter().map(at).collect(),
        }
    }

    pub fn describe(&self, base: &str) -> Vec<(String, String)> {
        let mut facts = vec![
            (
                "cgroup v1 memory".to_owned(),
                self.memory.join(base).display().to_string(),
            ),
            (
                "cgroup v1 cpu".to_owned(),
                self.cpu.join(base).display().to_string(),
            ),
            (
                "cgroup v1 pids".to_owned(),
                self.pids.join(base).display().to_string(),
            ),
            (
                "cgroup v1 cpuacct".to_owned(),
                match &self.cpuacct {
                    Some(p) if *p == self.cpu => format!("co-mounted with cpu at {}", p.display()),
                    Some(p) => p.join(base).display().to_string(),
                    None => "missing: CPU time of environments reads as zero".to_owned(),
                },
            ),
        ];
        let memsw = self
            .memory
            .join(base)
            .join("memory.memsw.limit_in_bytes")
            .exists();
        facts.push((
            "swap limit".to_owned(),
            if memsw {
                "memory.memsw.limit_in_bytes present: memory+swap is capped at the memory limit".to_owned()
            } else {
                "missing (kernel without swap accounting): environments may swap if the host has swap"
                    .to_owned()
            },
        ));
        if let Some((point, controllers)) = &self.unified {
            facts.push((
                "cgroup2 mount".to_owned(),
                format!(
                    "{} offers [{}]: hybrid layout, not used",
                    point.display(),
                    controllers.join(" ")
                ),
            ));
        }
        facts.push((
            "cgroup attach".to_owned(),
            "v1 has no CLONE_INTO_CGROUP: an attach waits for an RCU grace period unless another \
             ran just before, so attach ahead of time"
                .to_owned(),
        ));
        facts
    }
}

/// One group's directories.
#[derive(Debug)]
pub(super) struct Group {
    memory: PathBuf,
    cpu: PathBuf,
    pids: PathBuf,
    cpuacct: Option<PathBuf>,
    /// Every distinct directory, in attach order.
    dirs: Vec<PathBuf>,
}

impl Group {
    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    pub fn set_limits(&self, l: &Limits) -> Result<(), CgroupError> {
        let bytes = l.memory_bytes.to_string();
        let mem = self.memory.join("memory.limit_in_bytes");
        let memsw = self.memory.join("memory.memsw.limit_in_bytes");
        if memsw.exists() {
            // The kernel keeps memsw >= mem at every step: raising means memsw first, lowering
            // means mem first. Trying memsw first and falling back on EINVAL covers both.
            match write_raw(&memsw, &bytes) {
                Ok(()) => write_value(&mem, &bytes)?,
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                    write_value(&mem, &bytes)?;
                    write_value(&memsw, &bytes)?;
                }
                Err(source) => {
                    return Err(CgroupError::Write {
                        path: memsw,
                        source,
                    });
                }
            }
        } else {
            write_value(&mem, &bytes)?;
        }
        write_value(&self.memory.join("memory.swappiness"), "0")?;
        write_value(&self.pids.join("pids.max"), &l.pids_max.to_string())?;
        write_value(&self.cpu.join("cpu.shares"), &l.cpu_shares().to_string())
    }

    pub fn usage(&self) -> Usage {
        let cpu_ns = self
            .cpuacct
            .as_ref()
            .and_then(|d| read_u64(&d.join("cpuacct.usage")))
            .unwrap_or(0);
        Usage {
            peak_memory_bytes: read_u64(&self.memory.join("memory.max_usage_in_bytes"))
                .unwrap_or(0),
            cpu_time: Duration::from_nanos(cpu_ns),
            pids: read_u64(&self.pids.join("pids.current"))
                .and_then(|n| u32::try_from(n).ok())
                .unwrap_or(0),
        }
    }

    pub fn reset_peak(&self) {
        let path = self.memory.join("memory.max_usage_in_bytes");
        // Writing 0 makes the kernel restart the watermark from the current usage.
        if let Err(e) = write_raw(&path, "0") {
            tracing::debug!(path = %path.display(), error = %e, "cannot reset peak memory");
        }
    }

    pub fn events(&self) -> Events {
        Events {
            oom_kills: read_keyed(&self.memory.join("memory.oom_control"), "oom_kill").unwrap_or(0),
            pids_max_hits: read_keyed(&self.pids.join("pids.events"), "max").unwrap_or(0),
            memory_max_hits: self.memory_max_hits(),
        }
    }

    /// With memsw set to the memory limit, the memsw counter is charged first and is the one
    /// that fails, and since Linux 6.12 the kernel keeps `failcnt` only for the memory counter:
    /// `memory.memsw.failcnt` stays 0 and so does `memory.failcnt` (seen on this project's 6.18
    /// hosts). When neither counts but the peak has touched the limit, report at least one hit.
    fn memory_max_hits(&self) -> u64 {
        let read = |file: &str| read_u64(&self.memory.join(file));
        let counted =
            read("memory.failcnt").unwrap_or(0) + read("memory.memsw.failcnt").unwrap_or(0);
        if counted > 0 {
            return counted;
        }
        match (
            read("memory.max_usage_in_bytes"),
            read("memory.limit_in_bytes"),
        ) {
            (Some(peak), Some(limit)) if peak >= limit => 1,
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::super::{CgroupManager, CgroupVersion};
    use super::*;

    /// A tree shaped like this CI host's: separate cpu and cpuacct mounts, plus a unified mount
    /// offering only hugetlb.
    fn fake_hybrid() -> tempfile::TempDir {
        let tmp = tempfile::tempdir().expect("tempdir");
        for c in ["memory", "cpu", "cpuacct", "pids", "unified"] {
            fs::create_dir(tmp.path().join(c)).expect("mkdir");
        }
        fs::write(tmp.path().join("unified/cgroup.controllers"), "hugetlb\n").expect("write");
        tmp
    }

    /// Stands in for the kernel, which fills a new group directory with its control files.
    fn populate(dir: &Path, files: &[(&str, &str)]) {
        for (name, content) in files {
            fs::write(dir.join(name), content).expect("write control file");
        }
    }

    fn read(path: PathBuf) -> String {
        fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    #[test]
    fn hybrid_tree_is_v1_with_a_directory_per_controller() {
        let tmp = fake_hybrid();
        let mgr = CgroupManager::with_root(tmp.path(), "bulkhead").expect("detect");
        assert_eq!(mgr.version(), CgroupVersion::V1);
        for c in ["memory", "cpu", "cpuacct", "pids"] {
            assert!(
                tmp.path().join(c).join("bulkhead").is_dir(),
                "{c} base missing"
            );
        }
        assert!(
            !tmp.path().join("unified/bulkhead").exists(),
            "the unused v2 mount must stay untouched"
        );
        let cg = mgr.create("env-1").expect("create");
        let dirs: Vec<_> = cg
            .dirs()
            .iter()
            .map(|d| d.strip_prefix(tmp.path()).expect("inside"))
            .collect();
        assert_eq!(
            dirs,
            [
                "memory/bulkhead/env-1",
                "cpu/bulkhead/env-1",
                "cpuacct/bulkhead/env-1",
                "pids/bulkhead/env-1"
            ]
            .map(Path::new)
        );
        assert!(cg.open_dir_v2().is_none(), "v1 has no CLONE_INTO_CGROUP");
        let facts = mgr.describe();
        let hybrid = facts
            .iter()
            .find(|(k, _)| k == "cgroup2 mount")
            .expect("hybrid noted");
        assert!(hybrid.1.contains("[hugetlb]"), "{hybrid:?}");
    }

    #[test]
    fn create_refuses_an_existing_group_and_undoes_partial_work() {
        let tmp = fake_hybrid();
        let mgr = CgroupManager::with_root(tmp.path(), "bulkhead").expect("detect");
        // A leftover only in pids: the memory and cpu directories made before it must go again.
        fs::create_dir(tmp.path().join("pids/bulkhead/env-2")).expect("mkdir");
        let err = mgr.create("env-2").expect_err("exists");
        assert!(matches!(err, CgroupError::Create { .. }), "{err}");
        assert!(!tmp.path().join("memory/bulkhead/env-2").exists());
        assert!(!tmp.path().join("cpu/bulkhead/env-2").exists());
    }

    #[test]
    fn comounted_cpu_cpuacct_is_one_directory() {
        let tmp = tempfile::tempdir().expect("tempdir");
        for c in ["memory", "cpu,cpuacct", "pids"] {
            fs::create_dir(tmp.path().join(c)).expect("mkdir");
        }
        let mgr = CgroupManager::with_root(tmp.path(), "bh").expect("detect");
        let cg = mgr.create("e").expect("create");
        assert_eq!(cg.dirs().len(), 3, "{:?}", cg.dirs());
        let acct = tmp.path().join("cpu,cpuacct/bh/e");
        populate(&acct, &[("cpuacct.usage", "2000000\n")]);
        assert_eq!(cg.usage().cpu_time, Duration::from_millis(2));
    }

    #[test]
    fn limits_go_to_the_v1_files() {
        let tmp = fake_hybrid();
        let mgr = CgroupManager::with_root(tmp.path(), "bulkhead").expect("detect");
        let cg = mgr.create("env-3").expect("create");
        let mem = tmp.path().join("memory/bulkhead/env-3");
        populate(
            &mem,
            &[
                ("memory.limit_in_bytes", "9223372036854771712\n"),
                ("memory.memsw.limit_in_bytes", "9223372036854771712\n"),
                ("memory.swappiness", "60\n"),
            ],
        );
        populate(
            &tmp.path().join("pids/bulkhead/env-3"),
            &[("pids.max", "max\n")],
        );
        populate(
            &tmp.path().join("cpu/bulkhead/env-3"),
            &[("cpu.shares", "1024\n")],
        );

        cg.set_limits(&Limits {
            memory_bytes: 128 << 20,
            pids_max: 64,
            cpu_weight: 50,
        })
        .expect("set limits");
        assert_eq!(read(mem.join("memory.limit_in_bytes")), "134217728");
        assert_eq!(read(mem.join("memory.memsw.limit_in_bytes")), "134217728");
        assert_eq!(read(mem.join("memory.swappiness")), "0");
        assert_eq!(read(tmp.path().join("pids/bulkhead/env-3/pids.max")), "64");
        assert_eq!(
            read(tmp.path().join("cpu/bulkhead/env-3/cpu.shares")),
            "512"
        );
    }

    #[test]
    fn memsw_is_not_invented_when_the_kernel_lacks_it() {
        let tmp = fake_hybrid();
        let mgr = CgroupManager::with_root(tmp.path(), "bulkhead").expect("detect");
        let cg = mgr.create("env-4").expect("create");
        let mem = tmp.path().join("memory/bulkhead/env-4");
        populate(
            &mem,
            &[("memory.limit_in_bytes", ""), ("memory.swappiness", "")],
        );
        populate(&tmp.path().join("pids/bulkhead/env-4"), &[("pids.max", "")]);
        populate(
            &tmp.path().join("cpu/bulkhead/env-4"),
            &[("cpu.shares", "")],
        );
        cg.set_limits(&Limits {
            memory_bytes: 1 << 30,
            pids_max: 1,
            cpu_weight: 10_000,
        })
        .expect("set limits");
        assert!(!mem.join("memory.memsw.limit_in_bytes").exists());
        assert_eq!(read(mem.join("memory.limit_in_bytes")), "1073741824");
        assert_eq!(
            read(tmp.path().join("cpu/bulkhead/env-4/cpu.shares")),
            "102400"
        );
    }

    #[test]
    fn a_missing_control_file_is_an_error_not_a_new_file() {
        let tmp = fake_hybrid();
        let mgr = CgroupManager::with_root(tmp.path(), "bulkhead").expect("detect");
        let cg = mgr.create("env-5").expect("create");
        let err = cg
            .set_limits(&Limits {
                memory_bytes: 1 << 20,
                pids_max: 1,
                cpu_weight: 1,
            })
            .expect_err("no control files");
        let CgroupError::Write { path, .. } = &err else {
            panic!("{err}")
        };
        assert!(
            path.ends_with("memory.limit_in_bytes"),
            "{}",
            path.display()
        );
        assert!(!path.exists());
    }

    #[test]
    fn weight_maps_to_shares() {
        let shares = |cpu_weight| {
            Limits {
                memory_bytes: 1,
                pids_max: 1,
                cpu_weight,
            }
            .cpu_shares()
        };
        assert_eq!(shares(100), 1024, "the defaults line up");
        assert_eq!(shares(1), 10);
        assert_eq!(shares(50), 512);
        assert_eq!(shares(10_000), 102_400);
    }

    #[test]
    fn usage_and_events_read_the_v1_files() {
        let tmp = fake_hybrid();
        let mgr = CgroupManager::with_root(tmp.path(), "bulkhead").expect("detect");
        let cg = mgr.create("env-6").expect("create");
        let mem = tmp.path().join("memory/bulkhead/env-6");
        populate(
            &mem,
            &[
                ("memory.max_usage_in_bytes", "52428800\n"),
                (
                    "memory.oom_control",
                    "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
                ),
                ("memory.failcnt", "17\n"),
            ],
        );
        let pids = tmp.path().join("pids/bulkhead/env-6");
        populate(
            &pids,
            &[("pids.current", "3\n"), ("pids.events", "max 9\n")],
        );
        populate(
            &tmp.path().join("cpuacct/bulkhead/env-6"),
            &[("cpuacct.usage", "1500000000\n")],
        );

        assert_eq!(
            cg.usage(),
            Usage {
                peak_memory_bytes: 50 << 20,
                cpu_time: Duration::from_millis(1500),
                pids: 3
            }
        );
        assert_eq!(
            cg.events(),
            Events {
                oom_kills: 2,
                pids_max_hits: 9,
                memory_max_hits: 17
            }
        );
        cg.reset_peak();
        assert_eq!(read(mem.join("memory.max_usage_in_bytes")), "0");
    }

    #[test]
    fn memory_hits_survive_the_uncounted_memsw_failures() {
        let tmp = fake_hybrid();
        let mgr = CgroupManager::with_root(tmp.path(), "bulkhead").expect("detect");
        let cg = mgr.create("env-8").expect("create");
        let mem = tmp.path().join("memory/bulkhead/env-8");
        populate(
            &mem,
            &[
                ("memory.failcnt", "0\n"),
                ("memory.memsw.failcnt", "0\n"),
                ("memory.limit_in_bytes", "67108864\n"),
                ("memory.max_usage_in_bytes", "1048576\n"),
            ],
        );
        assert_eq!(
            cg.events().memory_max_hits,
            0,
            "the peak stayed below the limit"
        );
        populate(&mem, &[("memory.max_usage_in_bytes", "67108864\n")]);
        assert_eq!(cg.events().memory_max_hits, 1, "the peak reached the limit");
        populate(
            &mem,
            &[("memory.memsw.failcnt", "4\n"), ("memory.failcnt", "3\n")],
        );
        assert_eq!(cg.events().memory_max_hits, 7, "real counts win");
    }

    #[test]
    fn unreadable_files_read_as_zero() {
        let tmp = fake_hybrid();
        let mgr = CgroupManager::with_root(tmp.path(), "bulkhead").expect("detect");
        let cg = mgr.create("env-7").expect("create");
        assert_eq!(cg.usage(), Usage::default());
        assert_eq!(cg.events(), Events::default());
        assert!(cg.procs().is_empty());
    }
}

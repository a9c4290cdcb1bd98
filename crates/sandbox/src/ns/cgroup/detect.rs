//! Finding the cgroup hierarchies from the mount table.
//!
//! `/proc/self/mountinfo` says which filesystem is cgroup v1 (and with which controllers) and which
//! is cgroup2, without `statfs` and so without unsafe code. Whether a cgroup2 mount is usable is
//! then decided by its `cgroup.controllers`: on a "hybrid" host the v2 mount exists but offers
//! none of the controllers we need, which all sit on v1 mounts.

use std::fs;
use std::path::{Path, PathBuf};

use super::{CgroupError, NEEDED, v1, v2};

/// One cgroup filesystem mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Mount {
    pub point: PathBuf,
    pub kind: MountKind,
    pub super_options: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum MountKind {
    /// Controllers bound to this v1 hierarchy (`name=systemd` and other named ones have none).
    V1 {
        controllers: Vec<String>,
    },
    V2,
}

/// The v1 controllers the kernel knows; any other super option (rw, name=…, nsroot=…) is not one.
const V1_CONTROLLERS: &[&str] = &[
    "blkio",
    "cpu",
    "cpuacct",
    "cpuset",
    "devices",
    "freezer",
    "hugetlb",
    "memory",
    "misc",
    "net_cls",
    "net_prio",
    "perf_event",
    "pids",
    "rdma",
];

#[derive(Debug)]
pub(super) enum Layout {
    V1(v1::Hierarchy),
    V2(v2::Hierarchy),
}

/// Parses `/proc/self/mountinfo` text into its cgroup mounts, in table order.
pub(super) fn parse_mountinfo(text: &str) -> Vec<Mount> {
    text.lines().filter_map(parse_mountinfo_line).collect()
}

fn parse_mountinfo_line(line: &str) -> Option<Mount> {
    // id parent major:minor root mount-point options [optional fields...] - fstype source super-options
    let fields: Vec<&str> = line.split(' ').collect();
    let point = fields.get(4)?;
    let dash = fields.iter().position(|f| *f == "-")?;
    let fstype = fields.get(dash + 1)?;
    let super_options: Vec<String> = fields
        .get(dash + 3)
        .map(|o| o.split(',').map(str::to_owned).collect())
        .unwrap_or_default();
    let kind = match *fstype {
        "cgroup2" => MountKind::V2,
        "cgroup" => MountKind::V1 {
            controllers: super_options
                .iter()
                .filter(|o| V1_CONTROLLERS.contains(&o.as_str()))
                .cloned()
                .collect(),
        },
        _ => return None,
    };
    Some(Mount {
        point: PathBuf::from(unescape(point)),
        kind,
        super_options,
    })
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo` octal.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && let Some(oct) = field.get(i + 1..i + 4)
            && let Ok(b) = u8::from_str_radix(oct, 8)
        {
            out.push(b);
            i += 4;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Synthesises the mount list of a tree laid out like `/sys/fs/cgroup`, for tests over fake trees:
/// a `cgroup.controllers` at the top means pure v2; otherwise each directory named after v1
/// controllers (`memory`, `cpu,cpuacct`) is a v1 mount, and any other directory holding a
/// `cgroup.controllers` (like `unified`) is a cgroup2 mount.
pub(super) fn mounts_under_root(root: &Path) -> Result<Vec<Mount>, CgroupError> {
    if root.join("cgroup.controllers").is_file() {
        return Ok(vec![Mount {
            point: root.to_path_buf(),
            kind: MountKind::V2,
            super_options: vec!["rw".into()],
        }]);
    }
    let entries = fs::read_dir(root).map_err(|source| CgroupError::Read {
        path: root.into(),
        source,
    })?;
    let mut mounts = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        let parts: Vec<&str> = name.split(',').collect();
        if parts.iter().all(|p| V1_CONTROLLERS.contains(p)) {
            mounts.push(Mount {
                point: path,
                kind: MountKind::V1 {
                    controllers: parts.iter().map(|p| (*p).to_owned()).collect(),
                },
                super_options: vec!["rw".into()],
            });
        } else if path.join("cgroup.controllers").is_file() {
            mounts.push(Mount {
                point: path,
                kind: MountKind::V2,
                super_options: vec!["rw".into()],
            });
        }
    }
    mounts.sort_by(|a, b| a.point.cmp(&b.point));
    Ok(mounts)
}

/// Reads the controllers a cgroup2 directory offers; empty when unreadable.
pub(super) fn v2_controllers(dir: &Path) -> Vec<String> {
    fs::read_to_string(dir.join("cgroup.controllers"))
        .map(|t| t.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default()
}

/// Picks the layout: a cgroup2 mount offering every needed controller wins (pure v2); otherwise
/// every needed controller must have a v1 mount.
pub(super) fn select(mounts: &[Mount]) -> Result<Layout, CgroupError> {
    let mut v2_seen = Vec::new();
    for m in mounts.iter().filter(|m| m.kind == MountKind::V2) {
        let controllers = v2_controllers(&m.point);
        if NEEDED
            .iter()
            .all(|c| controllers.iter().any(|have| have == c))
        {
            return Ok(Layout::V2(v2::Hierarchy {
                mount: m.point.clone(),
                controllers,
                favordynmods: m.super_options.iter().any(|o| o == "favordynmods"),
            }));
        }
        v2_seen.push((m.point.clone(), controllers));
    }

    let v1_mount = |controller: &str| {
        mounts.iter().find_map(|m| match &m.kind {
            MountKind::V1 { controllers } if controllers.iter().any(|c| c == controller) => {
                Some(m.point.clone())
            }
            _ => None,
        })
    };
    if let (Some(memory), Some(cpu), Some(pids)) =
        (v1_mount("memory"), v1_mount("cpu"), v1_mount("pids"))
    {
        return Ok(Layout::V1(v1::Hierarchy {
            memory,
            cpu,
            pids,
            cpuacct: v1_mount("cpuacct"),
            unified: v2_seen.into_iter().next(),
        }));
    }

    // A named v1 hierarchy (name=systemd) next to a v2 mount says nothing about controllers.
    let any_v1 = mounts
        .iter()
        .any(|m| matches!(&m.kind, MountKind::V1 { controllers } if !controllers.is_empty()));
    let missing: Vec<&str> = if any_v1 || v2_seen.is_empty() {
        NEEDED
            .iter()
            .copied()
            .filter(|c| v1_mount(c).is_none())
            .collect()
    } else {
        NEEDED
            .iter()
            .copied()
            .filter(|c| !v2_seen.iter().any(|(_, have)| have.iter().any(|h| h == c)))
            .collect()
    };
    Err(CgroupError::MissingControllers {
        missing: missing.join(", "),
        looked: summary(mounts),
    })
}

/// One line naming every cgroup mount and its controllers, for error messages.
fn summary(mounts: &[Mount]) -> String {
    if mounts.is_empty() {
        return "no cgroup filesystem is mounted".into();
    }
    mounts
        .iter()
        .map(|m| match &m.kind {
            MountKind::V1 { controllers } => {
                format!(
                    "cgroup v1 {} at {}",
                    controllers.join(","),
                    m.point.display()
                )
            }
            MountKind::V2 => format!(
                "cgroup2 at {} offering [{}]",
                m.point.display(),
                v2_controllers(&m.point).join(" ")
            ),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    // Lines copied from this project's CI host (v1 hybrid) and from a systemd host on pure v2.
    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";
    const PURE_V2: &str = "\
25 30 0:23 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
33 25 0:28 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot,favordynmods
";

    #[test]
    fn parses_hybrid_mountinfo() {
        let mounts = parse_mountinfo(HYBRID);
        assert_eq!(mounts.len(), 6, "tmpfs is not a cgroup mount: {mounts:?}");
        assert_eq!(mounts[0].point, PathBuf::from("/sys/fs/cgroup/cpu"));
        assert_eq!(
            mounts[0].kind,
            MountKind::V1 {
                controllers: vec!["cpu".into()]
            }
        );
        let systemd = &mounts[4];
        assert_eq!(
            systemd.kind,
            MountKind::V1 {
                controllers: vec![]
            },
            "name=systemd is no controller"
        );
        assert_eq!(mounts[5].kind, MountKind::V2);
    }

    #[test]
    fn parses_pure_v2_mountinfo_with_optional_fields() {
        let mounts = parse_mountinfo(PURE_V2);
        assert_eq!(mounts.len(), 1);
        assert_eq!(mounts[0].point, PathBuf::from("/sys/fs/cgroup"));
        assert_eq!(mounts[0].kind, MountKind::V2);
        assert!(mounts[0].super_options.iter().any(|o| o == "favordynmods"));
    }

    #[test]
    fn parses_comounted_controllers_and_escaped_paths() {
        let line =
            "40 31 0:37 / /mnt/my\\040cgroups/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n";
        let mounts = parse_mountinfo(line);
        assert_eq!(
            mounts[0].point,
            PathBuf::from("/mnt/my cgroups/cpu,cpuacct")
        );
        assert_eq!(
            mounts[0].kind,
            MountKind::V1 {
                controllers: vec!["cpu".into(), "cpuacct".into()]
            }
        );
    }

    #[test]
    fn hybrid_selects_v1_and_remembers_the_unused_v2_mount() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let unified = tmp.path().join("unified");
        fs::create_dir(&unified).expect("mkdir");
        fs::write(unified.join("cgroup.controllers"), "hugetlb\n").expect("write");
        let v1 = |c: &str| Mount {
            point: tmp.path().join(c),
            kind: MountKind::V1 {
                controllers: c.split(',').map(str::to_owned).collect(),
            },
            super_options: vec![],
        };
        let mounts = vec![
            v1("cpu,cpuacct"),
            v1("memory"),
            v1("pids"),
            Mount {
                point: unified.clone(),
                kind: MountKind::V2,
                super_options: vec![],
            },
        ];
        let Ok(Layout::V1(h)) = select(&mounts) else {
            panic!("expected v1")
        };
        assert_eq!(h.memory, tmp.path().join("memory"));
        assert_eq!(h.cpu, tmp.path().join("cpu,cpuacct"));
        assert_eq!(
            h.cpuacct.as_deref(),
            Some(tmp.path().join("cpu,cpuacct").as_path())
        );
        assert_eq!(h.unified, Some((unified, vec!["hugetlb".to_owned()])));
    }

    #[test]
    fn v2_with_all_controllers_wins() {
        let tmp = tempfile::tempdir().expect("tempdir");
        fs::write(
            tmp.path().join("cgroup.controllers"),
            "cpuset cpu io memory hugetlb pids rdma misc\n",
        )
        .expect("write");
        let mounts = vec![Mount {
            point: tmp.path().into(),
            kind: MountKind::V2,
            super_options: vec!["rw".into(), "favordynmods".into()],
        }];
        let Ok(Layout::V2(h)) = select(&mounts) else {
            panic!("expected v2")
        };
        assert!(h.favordynmods);
        assert_eq!(h.mount, tmp.path());
    }

    #[test]
    fn missing_controllers_are_named() {
        let tmp = tempfile::tempdir().expect("tempdir");
        fs::write(tmp.path().join("cgroup.controllers"), "cpu memory\n").expect("write");
        let mounts = vec![Mount {
            point: tmp.path().into(),
            kind: MountKind::V2,
            super_options: vec![],
        }];
        let err = select(&mounts).expect_err("pids is missing");
        let CgroupError::MissingControllers { missing, looked } = &err else {
            panic!("{err}")
        };
        assert_eq!(missing, "pids");
        assert!(looked.contains("offering [cpu memory]"), "{looked}");
        let none = select(&[]).expect_err("nothing mounted");
        assert!(none.to_string().contains("memory, cpu, pids"), "{none}");
    }
}

//! What this host supports, in plain words, for `bulkhead doctor`.

use std::path::Path;

/// One finding. `ok == false` means Bulkhead cannot use that part here.
#[derive(Debug, Clone)]
pub struct Check {
    pub name: &'static str,
    pub ok: bool,
    pub detail: String,
}

fn read(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_owned())
}

fn kernel_at_least(release: &str, major: u32, minor: u32) -> bool {
    let mut parts = release
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|p| p.parse::<u32>().ok());
    let (a, b) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (a, b) >= (major, minor)
}

pub fn report(agent: &Path) -> Vec<Check> {
    let mut checks = Vec::new();
    let release = read("/proc/sys/kernel/osrelease").unwrap_or_default();
    checks.push(Check {
        name: "kernel",
        ok: kernel_at_least(&release, 5, 10),
        detail: format!("{release} (needs 5.10+ for clone3 with pidfds and close_range)"),
    });
    let root = read("/proc/self/status")
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false);
    checks.push(Check {
        name: "root",
        ok: root,
        detail: if root { "running as root: environments can be mapped to a private host uid range".into() } else { "not root: the namespace backend needs root to map each environment to host uids of its own".into() },
    });
    let max_userns = read("/proc/sys/user/max_user_namespaces")
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    checks.push(Check {
        name: "user namespaces",
        ok: max_userns > 0,
        detail: format!("user.max_user_namespaces = {max_userns}"),
    });
    let missing: Vec<&str> = ["user", "mnt", "pid", "net", "ipc", "uts", "cgroup"]
        .into_iter()
        .filter(|ns| !Path::new(&format!("/proc/self/ns/{ns}")).exists())
        .collect();
    checks.push(Check {
        name: "namespaces",
        ok: missing.is_empty(),
        detail: if missing.is_empty() {
            "user, mount, pid, network, ipc, uts and cgroup namespaces available".into()
        } else {
            format!("missing: {}", missing.join(", "))
        },
    });
    match crate::ns::cgroup::CgroupManager::detect("bulkhead") {
        Ok(m) => {
            let facts: Vec<String> = m
                .describe()
                .into_iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect();
            checks.push(Check {
                name: "cgroups",
                ok: true,
                detail: facts.join("; "),
            });
        }
        Err(e) => checks.push(Check {
            name: "cgroups",
            ok: false,
            detail: crate::env_error_chain(&e),
        }),
    }
    let seccomp_field = read("/proc/self/status").and_then(|s| {
        s.lines()
            .find(|l| l.starts_with("Seccomp:"))
            .map(str::to_owned)
    });
    let filter = crate::ns::seccomp::Filter::for_functions();
    checks.push(Check {
        name: "seccomp",
        ok: seccomp_field.is_some() && filter.is_ok(),
        detail: match (&seccomp_field, &filter) {
            (Some(_), Ok(f)) => format!(
                "seccomp filters supported; function policy compiles to {} instructions",
                f.len()
            ),
            (None, _) => "the kernel has no seccomp support".into(),
            (_, Err(e)) => format!("the function policy does not compile here: {e}"),
        },
    });
    let kvm = Path::new("/dev/kvm");
    let pvm = Path::new("/sys/module/kvm_pvm").exists();
    let kvm_open = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(kvm)
        .is_ok();
    checks.push(Check {
        name: "kvm",
        ok: kvm_open && !pvm,
        detail: match (kvm.exists(), kvm_open, pvm) {
            (false, _, _) => "no /dev/kvm: the hardware-virtualised backend is unavailable".into(),
            (true, false, _) => "/dev/kvm exists but cannot be opened read-write".into(),
            (true, true, true) => "/dev/kvm is nested PVM (kvm_pvm): stock guest kernels do not boot on it, so no microVM backend here".into(),
            (true, true, false) => "/dev/kvm usable (no microVM backend is built yet)".into(),
        },
    });
    checks.push(Check {
        name: "agent",
        ok: agent.is_file(),
        detail: if agent.is_file() {
            format!("{}", agent.display())
        } else {
            format!(
                "no agent binary at {} (build it: cargo build -p bulkhead-agent)",
                agent.display()
            )
        },
    });
    checks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_versions_compare_numerically() {
        assert!(kernel_at_least("6.18.0-foo", 5, 10));
        assert!(kernel_at_least("5.10.1", 5, 10));
        assert!(!kernel_at_least("5.4.0", 5, 10));
        assert!(!kernel_at_least("", 5, 10));
    }

    #[test]
    fn every_check_says_something() {
        for c in report(Path::new("/nonexistent/agent")) {
            assert!(!c.detail.is_empty(), "{}", c.name);
            if c.name == "agent" {
                assert!(!c.ok);
            }
        }
    }
}

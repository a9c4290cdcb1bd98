//! The host's half of the root filesystem: which host paths an environment sees, decided once
//! at start-up. The agent carries the plan out inside the environment (crates/agent/src/rootfs.rs).

use std::path::Path;

use std::os::fd::OwnedFd;

use bulkhead_proto::Bind;

use super::uids::{FUNCTION_GID, FUNCTION_UID};
use crate::{EnvSpec, SandboxError};

/// System paths a runtime needs. On merged-/usr hosts `/bin`, `/lib`... are symlinks into `/usr`
/// and are recreated as symlinks; elsewhere they are bound.
const SYSTEM_DIRS: [&str; 7] = [
    "/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32",
];
/// Host configuration a dynamically linked runtime reads; nothing else of `/etc` is shown.
const ETC_ENTRIES: [&str; 3] = ["/etc/ld.so.cache", "/etc/alternatives", "/etc/ssl"];

#[derive(Debug, Clone, Default)]
pub struct SystemPaths {
    pub binds: Vec<Bind>,
    pub symlinks: Vec<(String, String)>,
}

impl SystemPaths {
    pub fn detect() -> Self {
        let mut out = SystemPaths::default();
        for dir in SYSTEM_DIRS.iter().chain(ETC_ENTRIES.iter()) {
            let Ok(meta) = std::fs::symlink_metadata(dir) else {
                continue;
            };
            if meta.file_type().is_symlink() {
                if let Ok(target) = std::fs::read_link(dir)
                    && let Some(target) = target.to_str()
                {
                    out.symlinks.push(((*dir).to_owned(), target.to_owned()));
                }
            } else {
                out.binds.push(Bind {
                    source: (*dir).to_owned(),
                    target: (*dir).to_owned(),
                    file: meta.is_file(),
                });
            }
        }
        out
    }
}

pub fn etc_files() -> Vec<(String, String)> {
    let f = |p: &str, c: String| (p.to_owned(), c);
    vec![
        f(
            "/etc/passwd",
            format!(
                "root:x:0:0:root:/root:/usr/sbin/nologin\nsbx_user1051:x:{FUNCTION_UID}:{FUNCTION_GID}::/tmp:/usr/sbin/nologin\n"
            ),
        ),
        f(
            "/etc/group",
            format!("root:x:0:\nsbx_user1051:x:{FUNCTION_GID}:\n"),
        ),
        f(
            "/etc/hosts",
            "127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n".into(),
        ),
        // No network beyond loopback, so no resolver either.
        f("/etc/resolv.conf", String::new()),
        f(
            "/etc/nsswitch.conf",
            "passwd: files\ngroup: files\nhosts: files\n".into(),
        ),
        f("/etc/hostname", "localhost\n".into()),
    ]
}

/// The function's directories — code, runtime, layers — as detached read-only mounts made
/// here, with the targets the agent attaches them at. Passing mounts rather than paths means the
/// environment's unprivileged host ids need no search permission on the data directory.
pub fn function_dirs(spec: &EnvSpec) -> Result<(Vec<OwnedFd>, Vec<String>), SandboxError> {
    let mut fds = Vec::new();
    let mut targets = Vec::new();
    let mut add = |dir: &Path, target: &str| -> Result<(), SandboxError> {
        fds.push(
            crate::sys::detached_read_only_tree(dir).map_err(SandboxError::step(
                "clone the function's directories as read-only mounts",
            ))?,
        );
        targets.push(target.to_owned());
        Ok(())
    };
    add(&spec.code_dir, "/var/task")?;
    if let Some(runtime) = &spec.runtime_dir {
        add(runtime, "/var/runtime")?;
    }
    if let Some(layers) = &spec.layers_dir {
        add(layers, "/opt")?;
    }
    Ok((fds, targets))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_listed_host_paths_are_shown() {
        let system = SystemPaths::detect();
        for b in &system.binds {
            assert!(
                SYSTEM_DIRS.contains(&b.source.as_str())
                    || ETC_ENTRIES.contains(&b.source.as_str()),
                "{b:?}"
            );
            assert_eq!(b.source, b.target);
        }
        assert!(
            system.binds.iter().any(|b| b.source == "/usr"),
            "every Linux host has /usr"
        );
        assert!(
            !system
                .binds
                .iter()
                .any(|b| b.source == "/etc" || b.source == "/root" || b.source == "/home")
        );
    }

    #[test]
    fn generated_etc_names_the_function_user() {
        let files = etc_files();
        let passwd = &files
            .iter()
            .find(|(p, _)| p == "/etc/passwd")
            .expect("passwd")
            .1;
        assert!(passwd.contains(":993:990:"));
    }
}

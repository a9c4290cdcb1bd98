//! The Linux namespace backend.
//!
//! An environment is the agent as PID 1 in fresh user, mount, PID, network, IPC, UTS and cgroup
//! namespaces, mapped to host ids of its own, in a cgroup of its own. Creating one has two halves:
//!
//! 1. [`spawn`]: tenant-neutral, done ahead of time for a warm pool — clone the agent into new
//!    namespaces, write its id maps, attach its cgroup (on cgroup v1 this attach waits for an RCU
//!    grace period, 5–20 ms on an idle host, which is why it happens off the request path), and
//!    wait until the agent says it is waiting.
//! 2. [`NsBackend::create`]: set the limits and send `Start`; the agent builds the root filesystem
//!    and starts the runtime.
//!
//! Steps in order, with their reasons: docs/sandbox.md.

pub mod cgroup;
mod live;
pub mod rootfs;
pub mod seccomp;
mod spawn;
pub mod uids;

use std::future::Future;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use bulkhead_proto::{HostMsg, PrepareSpec, StartSpec};

use crate::{Backend, EnvSpec, Environment, SandboxError};
use cgroup::{CgroupManager, Limits};
use spawn::Neutral;
use uids::UidPool;

/// Where the Runtime API listens inside every environment, as on Lambda.
pub const RUNTIME_API_PORT: u16 = 9001;

#[derive(Debug, Clone)]
pub struct NsConfig {
    /// The `bulkhead-agent` binary.
    pub agent: PathBuf,
    /// A host directory for the backend's own files (the empty mount point of every new root).
    pub state_dir: PathBuf,
    /// First host uid/gid of the range environments are mapped into; each takes two.
    pub uid_base: u32,
    /// Most environments at once (live and pooled), which sizes the uid range.
    pub max_environments: u32,
    /// Tenant-neutral sandboxes kept ready, so a cold start skips namespace and cgroup setup.
    pub warm_pool: usize,
    /// Name of the parent cgroup under which every environment's cgroup is made.
    pub cgroup_parent: String,
}

impl NsConfig {
    /// `bulkhead-agent` beside the running executable, or `BULKHEAD_AGENT`.
    pub fn default_agent() -> PathBuf {
        if let Some(p) = std::env::var_os("BULKHEAD_AGENT") {
            return PathBuf::from(p);
        }
        std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(|d| d.join("bulkhead-agent")))
            .unwrap_or_else(|| PathBuf::from("bulkhead-agent"))
    }
}

impl Default for NsConfig {
    fn default() -> Self {
        Self {
            agent: Self::default_agent(),
            state_dir: PathBuf::from("/run/bulkhead"),
            uid_base: 1_000_000,
            max_environments: 8192,
            warm_pool: 2,
            cgroup_parent: "bulkhead".into(),
        }
    }
}

pub(crate) struct Inner {
    pub(crate) config: NsConfig,
    pub(crate) cgroups: CgroupManager,
    pub(crate) uids: UidPool,
    pub(crate) seccomp: Vec<u8>,
    /// The agent binary, pinned at start.
    pub(crate) agent: std::os::fd::OwnedFd,
    /// The tenant-neutral root every neutral sandbox builds while it waits.
    pub(crate) prepare: PrepareSpec,
}

pub struct NsBackend {
    inner: Arc<Inner>,
    pool: Arc<Mutex<Vec<Neutral>>>,
    refilling: Arc<AtomicBool>,
}

impl NsBackend {
    pub fn new(config: NsConfig) -> Result<Self, SandboxError> {
        let agent = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_PATH | libc::O_CLOEXEC)
            .open(&config.agent)
            .map(std::os::fd::OwnedFd::from)
            .map_err(|e| {
                SandboxError::Agent(format!(
                    "no agent binary at {}: {e}",
                    config.agent.display()
                ))
            })?;
        let root_dir = config.state_dir.join("root");
        std::fs::create_dir_all(&root_dir)
            .map_err(SandboxError::step("create the state directory"))?;
        // Environments' unprivileged ids must reach the (empty) mount point: search, not list.
        for dir in root_dir
            .ancestors()
            .take_while(|d| d.starts_with(&config.state_dir))
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir)
                .map_err(SandboxError::step("inspect the state directory"))?
                .permissions()
                .mode();
            if mode & 0o001 == 0 {
                std::fs::set_permissions(
                    dir,
                    std::fs::Permissions::from_mode((mode & 0o7777) | 0o711),
                )
                .map_err(SandboxError::step("make the state directory searchable"))?;
            }
        }
        let cgroups = CgroupManager::detect(&config.cgroup_parent)?;
        let stale = cgroups.sweep_stale();
        if stale > 0 {
            tracing::info!(stale, "removed cgroups left by an earlier run");
        }
        let seccomp = seccomp::Filter::for_functions()?.to_bytes();
        let system = rootfs::SystemPaths::detect();
        let prepare = PrepareSpec {
            root_dir: root_dir.to_string_lossy().into_owned(),
            binds: system.binds,
            symlinks: system.symlinks,
            files: rootfs::etc_files(),
            hostname: "localhost".into(),
            runtime_api_port: RUNTIME_API_PORT,
        };
        let inner = Inner {
            uids: UidPool::new(config.uid_base, config.max_environments),
            cgroups,
            seccomp,
            agent,
            prepare,
            config,
        };
        Ok(Self {
            inner: Arc::new(inner),
            pool: Arc::default(),
            refilling: Arc::default(),
        })
    }

    /// Tops the warm pool up in the background. Safe to call often.
    pub fn refill(&self) {
        if self.inner.config.warm_pool == 0 || self.refilling.swap(true, Ordering::AcqRel) {
            return;
        }
        let (inner, pool, refilling) = (
            self.inner.clone(),
            self.pool.clone(),
            self.refilling.clone(),
        );
        tokio::task::spawn_blocking(move || {
            loop {
                let have = pool.lock().map(|p| p.len()).unwrap_or(usize::MAX);
                if have >= inner.config.warm_pool {
                    break;
                }
                match spawn::neutral(&inner) {
                    Ok(n) => match pool.lock() {
                        Ok(mut p) => p.push(n),
                        Err(_) => break,
                    },
                    Err(e) => {
                        tracing::warn!(error = %crate::env_error_chain(&e), "could not pre-warm a sandbox");
                        break;
                    }
                }
            }
            refilling.store(false, Ordering::Release);
        });
    }

    /// How many tenant-neutral sandboxes are ready now.
    pub fn warm(&self) -> usize {
        self.pool.lock().map(|p| p.len()).unwrap_or(0)
    }

    async fn create_env(&self, spec: EnvSpec) -> Result<Environment, SandboxError> {
        spec.check()?;
        let pooled = self.pool.lock().ok().and_then(|mut p| p.pop());
        let neutral = match pooled {
            Some(n) => n,
            None => {
                let inner = self.inner.clone();
                tokio::task::spawn_blocking(move || spawn::neutral(&inner))
                    .await
                    .map_err(|e| SandboxError::Agent(format!("spawn task failed: {e}")))??
            }
        };
        self.refill();
        let limits = Limits {
            memory_bytes: u64::from(spec.memory_mb) << 20,
            pids_max: spec.pids_max,
            // Lambda gives one vCPU at 1,769 MB; weight follows memory the same way.
            cpu_weight: (u64::from(spec.memory_mb) * 100 / 1769).clamp(1, 10_000) as u32,
        };
        if let Err(e) = neutral.cgroup.set_limits(&limits) {
            neutral.destroy(&self.inner);
            return Err(e.into());
        }
        let (dirs, fd_binds) = match rootfs::function_dirs(&spec) {
            Ok(d) => d,
            Err(e) => {
                neutral.destroy(&self.inner);
                return Err(e);
            }
        };
        let start = StartSpec {
            fd_binds,
            tmp_mb: spec.tmp_mb,
            uid: uids::FUNCTION_UID,
            gid: uids::FUNCTION_GID,
            argv: spec.argv.clone(),
            env: spec.env.clone(),
            cwd: "/var/task".into(),
            seccomp: self.inner.seccomp.clone(),
            nofile: 1024,
        };
        let raw: Vec<std::os::fd::RawFd> =
            dirs.iter().map(std::os::fd::AsRawFd::as_raw_fd).collect();
        if let Err(e) =
            bulkhead_proto::send(&neutral.control, &HostMsg::Start(Box::new(start)), &raw)
        {
            neutral.destroy(&self.inner);
            return Err(SandboxError::Agent(format!("sending start: {e}")));
        }
        tracing::debug!(env = neutral.id, label = %spec.label, "environment starting");
        live::start(self.inner.clone(), neutral)
    }
}

impl Drop for NsBackend {
    fn drop(&mut self) {
        let drained: Vec<Neutral> = self
            .pool
            .lock()
            .map(|mut p| p.drain(..).collect())
            .unwrap_or_default();
        for n in drained {
            n.destroy(&self.inner);
        }
        // Empty by now unless environments outlive the backend; then the next start sweeps it.
        let _ = self.inner.cgroups.remove_base();
    }
}

impl Backend for NsBackend {
    fn name(&self) -> &'static str {
        "namespaces"
    }

    fn create(
        &self,
        spec: EnvSpec,
    ) -> Pin<Box<dyn Future<Output = Result<Environment, SandboxError>> + Send + '_>> {
        Box::pin(self.create_env(spec))
    }
}

#[cfg(test)]
mod tests;

//! Tenant-neutral sandboxes: the agent in fresh namespaces with its ids mapped and its cgroup
//! attached, waiting for `Start`. Nothing about a function or tenant is known here.

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bulkhead_proto::{AgentMsg, HostMsg};

use super::Inner;
use super::cgroup::{Cgroup, CgroupVersion};
use super::uids::{FUNCTION_GID, FUNCTION_UID, HostIds};
use crate::SandboxError;
use crate::{clone, sys};

/// Environment ids are unique within the process, across backends, so cgroup names never clash.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// How long a freshly spawned agent may take to say it is waiting.
const AGENT_READY: Duration = Duration::from_secs(5);

pub(crate) struct Neutral {
    pub id: u64,
    pub pidfd: OwnedFd,
    pub control: OwnedFd,
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
    pub cgroup: Cgroup,
    pub ids: HostIds,
}

impl Neutral {
    /// Kills and cleans up a sandbox that will never be used (pool drained at shutdown, or a
    /// start that failed). Blocking, at most a few hundred ms.
    pub fn destroy(self, inner: &Inner) {
        let _ = sys::pidfd_kill(&self.pidfd, libc::SIGKILL);
        for _ in 0..100 {
            if !matches!(sys::try_reap(&self.pidfd), Ok(None)) {
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        self.cgroup.kill_all();
        if let Err(e) = self.cgroup.remove() {
            tracing::warn!(env = self.id, error = %e, "could not remove the cgroup of an unused sandbox");
        }
        inner.uids.give_back(self.ids);
    }
}

/// Creates one neutral sandbox. Blocking (a few ms); runs on a blocking thread.
pub(crate) fn neutral(inner: &Inner) -> Result<Neutral, SandboxError> {
    let ids = inner
        .uids
        .take()
        .ok_or(SandboxError::NoUids(inner.uids.capacity()))?;
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let result = spawn_with(inner, id, ids);
    if result.is_err() {
        inner.uids.give_back(ids);
    }
    result
}

fn spawn_with(inner: &Inner, id: u64, ids: HostIds) -> Result<Neutral, SandboxError> {
    let cgroup = inner.cgroups.create(&format!("env-{id}"))?;
    match spawn_in(inner, id, ids, &cgroup) {
        Ok((pidfd, control, stdout, stderr)) => Ok(Neutral {
            id,
            pidfd,
            control,
            stdout,
            stderr,
            cgroup,
            ids,
        }),
        Err(e) => {
            cgroup.kill_all();
            let _ = cgroup.remove();
            Err(e)
        }
    }
}

type Fds = (OwnedFd, OwnedFd, OwnedFd, OwnedFd);

fn spawn_in(inner: &Inner, id: u64, ids: HostIds, cgroup: &Cgroup) -> Result<Fds, SandboxError> {
    let step = SandboxError::step;
    let (host_control, agent_control) =
        sys::seqpacket_pair().map_err(step("create the control socket"))?;
    let (stdout_read, stdout_write) = sys::pipe().map_err(step("create the stdout pipe"))?;
    let (stderr_read, stderr_write) = sys::pipe().map_err(step("create the stderr pipe"))?;
    let (sync_read, sync_write) = sys::pipe().map_err(step("create the sync pipe"))?;
    let devnull: OwnedFd = std::fs::File::open("/dev/null")
        .map_err(step("open /dev/null"))?
        .into();
    let high =
        |fd: &OwnedFd| sys::dup_above(fd, 10).map_err(step("number the child's descriptors"));
    let mut plan = clone::ChildPlan {
        sync_read: high(&sync_read)?,
        sync_write: sync_write.as_raw_fd(),
        control: high(&agent_control)?,
        stdout: high(&stdout_write)?,
        stderr: high(&stderr_write)?,
        devnull: high(&devnull)?,
        program: high(&inner.agent)?,
        argv: vec![CString::new("bulkhead-agent").map_err(|_| SandboxError::Agent("argv".into()))?],
        envp: Vec::new(),
    };
    drop((
        sync_read,
        agent_control,
        stdout_write,
        stderr_write,
        devnull,
    ));
    let cgroup_dir = match inner.cgroups.version() {
        CgroupVersion::V2 => cgroup.open_dir_v2(),
        CgroupVersion::V1 => None,
    };
    let (pid, pidfd, child_mem) = clone::spawn(&mut plan, cgroup_dir.as_ref())
        .map_err(step("clone the agent into new namespaces"))?;
    // The child holds its own copies of the descriptors now.
    drop(plan);
    let finish = || -> Result<(), SandboxError> {
        std::fs::write(format!("/proc/{pid}/uid_map"), ids.map(FUNCTION_UID))
            .map_err(step("write the uid map"))?;
        std::fs::write(format!("/proc/{pid}/gid_map"), ids.map(FUNCTION_GID))
            .map_err(step("write the gid map"))?;
        if cgroup_dir.is_none() {
            cgroup.attach(pid as u32)?;
        }
        sys::write_byte(&sync_write).map_err(step("release the agent"))?;
        expect(&host_control, &AgentMsg::Waiting)?;
        // The tenant-neutral root, built now so that a request only adds the function's part.
        let prepare = HostMsg::Prepare(Box::new(inner.prepare.clone()));
        bulkhead_proto::send(&host_control, &prepare, &[])
            .map_err(|e| SandboxError::Agent(format!("sending prepare: {e}")))?;
        expect(&host_control, &AgentMsg::Prepared)
    };
    if let Err(e) = finish() {
        let _ = sys::pidfd_kill(&pidfd, libc::SIGKILL);
        for _ in 0..500 {
            match sys::try_reap(&pidfd) {
                Ok(None) => std::thread::sleep(Duration::from_millis(1)),
                Ok(Some(_)) => {
                    // SAFETY: reaped: the child runs on nothing any more.
                    #[allow(unsafe_code)]
                    unsafe {
                        child_mem.free()
                    };
                    return Err(e);
                }
                Err(_) => break,
            }
        }
        // Not known to be gone: the child may in theory still run on its memory, which is kept
        // (leaked, ~70 KiB).
        return Err(e);
    }
    // SAFETY: the agent said it is waiting, which only the exec'd agent can say (the control
    // socket's other end went only to the child, which writes nothing before its exec).
    #[allow(unsafe_code)]
    unsafe {
        child_mem.free()
    };
    tracing::debug!(env = id, pid, "neutral sandbox ready");
    Ok((pidfd, host_control, stdout_read, stderr_read))
}

/// Waits for one message from a freshly spawned agent; `want` is the one expected.
fn expect(control: &OwnedFd, want: &AgentMsg) -> Result<(), SandboxError> {
    let mut fds = [libc::pollfd {
        fd: control.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    }];
    if !crate::sys::poll_once(&mut fds, AGENT_READY)
        .map_err(SandboxError::step("wait for the agent"))?
    {
        return Err(SandboxError::Agent(format!(
            "no word from the agent within {AGENT_READY:?}"
        )));
    }
    match bulkhead_proto::recv::<AgentMsg>(control) {
        Ok((msg, _)) if msg == *want => Ok(()),
        Ok((AgentMsg::SetupFailed { step, error }, _)) => {
            Err(SandboxError::Agent(format!("{step}: {error}")))
        }
        Ok((other, _)) => Err(SandboxError::Agent(format!(
            "expected {want:?}, got {other:?}"
        ))),
        Err(e) => Err(SandboxError::Agent(format!(
            "agent exited before it was ready: {e}"
        ))),
    }
}

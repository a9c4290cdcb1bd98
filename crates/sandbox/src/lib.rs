//! Execution environments: the box each tenant's code runs in.
//!
//! A [`Backend`] turns an [`EnvSpec`] (code, runtime, limits, command) into a running
//! [`Environment`]: a handle that yields the connections the runtime opens to its Runtime API,
//! its log lines, its usage, and how it ended. The router never learns how the box is built.
//!
//! The [`ns`] backend builds it from Linux namespaces (user, mount, PID, network, IPC, UTS,
//! cgroup), cgroups v1 or v2, seccomp and a private root filesystem, with the in-sandbox agent as
//! PID 1. A hardware-virtualised backend can sit beside it: its runtime connections would arrive
//! over vsock instead of as sockets handed out by the agent, which is why connections are
//! [`RuntimeConn`] trait objects rather than TCP sockets.

mod clone;
pub mod doctor;
mod env;
pub mod ns;
mod spec;
mod sys;

use std::future::Future;
use std::pin::Pin;

pub use env::{
    EnvControl, Environment, Exit, ExitCause, LogLine, LogStream, RuntimeConn, RuntimeStream, Usage,
};
pub use spec::EnvSpec;

/// A way of building environments.
pub trait Backend: Send + Sync + 'static {
    fn name(&self) -> &'static str;

    /// Starts an environment and returns once it is set up and its runtime is starting. Must be
    /// called from inside a Tokio runtime.
    fn create(
        &self,
        spec: EnvSpec,
    ) -> Pin<Box<dyn Future<Output = Result<Environment, SandboxError>> + Send + '_>>;
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("{step}")]
    Step {
        step: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("cgroup")]
    Cgroup(#[from] ns::cgroup::CgroupError),
    #[error("seccomp")]
    Seccomp(#[from] ns::seccomp::SeccompError),
    #[error("every uid slot of the configured range is in use ({0} environments)")]
    NoUids(u32),
    #[error("the agent did not come up: {0}")]
    Agent(String),
    #[error("invalid environment spec: {0}")]
    Spec(String),
}

impl SandboxError {
    pub(crate) fn step(step: &'static str) -> impl FnOnce(std::io::Error) -> SandboxError {
        move |source| SandboxError::Step { step, source }
    }
}

/// An error with its sources, on one line, for logs.
pub(crate) fn env_error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

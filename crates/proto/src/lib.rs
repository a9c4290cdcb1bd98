//! The frames the host and the in-sandbox agent exchange over their private socket.
//!
//! One `SOCK_SEQPACKET` socketpair per environment: message boundaries come from the kernel, so a
//! frame is one JSON document, and file descriptors ride along with `SCM_RIGHTS`. The agent hands
//! the host every connection the runtime opens to `127.0.0.1:9001`, so the host serves the Runtime
//! API on a socket that only that one environment could have produced.
//!
//! JSON over a seqpacket socket rather than a hand-rolled binary format: frames are rare (start,
//! one per connection, exit) and small, and serde keeps both ends honest about the shape.

mod fdpass;

use serde::{Deserialize, Serialize};

pub use fdpass::{recv, send};

/// Largest frame either side accepts; a `Start` with its environment and filter fits easily.
pub const MAX_FRAME: usize = 64 * 1024;

/// Host → agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum HostMsg {
    /// Build the tenant-neutral part of the root filesystem (system paths, /dev, /proc, /etc),
    /// bring up loopback and open the Runtime API port. Done ahead of time, for the warm pool.
    Prepare(Box<PrepareSpec>),
    /// Add the function (code, runtime, /tmp), seal the root, pivot into it, start the runtime.
    Start(Box<StartSpec>),
    /// Stop the runtime: SIGTERM, then SIGKILL after `grace_ms`.
    Shutdown { grace_ms: u64 },
}

/// Agent → host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AgentMsg {
    /// Namespaces entered; the agent waits for `Prepare`.
    Waiting,
    /// The neutral root is built; the agent waits for `Start`.
    Prepared,
    /// The root filesystem is sealed and the runtime process exists (its pid inside the sandbox).
    Started { pid: i32 },
    /// A connection to the Runtime API; the connected socket is attached.
    RuntimeApiConnection,
    /// The runtime exited; the agent exits next with the same status.
    RuntimeExited {
        code: Option<i32>,
        signal: Option<i32>,
    },
    /// A setup step failed; nothing of the function ran.
    SetupFailed { step: String, error: String },
}

/// The tenant-neutral environment: the same for every function on this host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrepareSpec {
    /// An empty host directory to build the new root on (a tmpfs is mounted over it).
    pub root_dir: String,
    /// Read-only bind mounts of system paths, host path → path inside the new root.
    pub binds: Vec<Bind>,
    /// Symlinks to create inside the new root (`/bin` → `usr/bin` on merged-/usr hosts).
    pub symlinks: Vec<(String, String)>,
    /// Files to write inside the new root (generated `/etc/passwd`, ...), path → contents.
    pub files: Vec<(String, String)>,
    pub hostname: String,
    /// Port the agent listens on at 127.0.0.1 for the Runtime API.
    pub runtime_api_port: u16,
}

/// What makes the environment one function's, and how its runtime starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StartSpec {
    /// Where to bind, read-only, each directory whose descriptor rides along with this frame,
    /// in order (/var/task, /var/runtime, /opt). Descriptors rather than paths: the host opened
    /// them, so the environment's unprivileged ids need no access to the host directories
    /// around them.
    pub fd_binds: Vec<String>,
    /// Size of the private `/tmp` in MiB.
    pub tmp_mb: u32,
    /// Uid and gid inside the sandbox that the runtime runs as (non-root).
    pub uid: u32,
    pub gid: u32,
    /// argv of the runtime; `argv[0]` is an absolute path inside the new root.
    pub argv: Vec<String>,
    /// The runtime's whole environment.
    pub env: Vec<(String, String)>,
    pub cwd: String,
    /// Compiled seccomp BPF (`struct sock_filter` array, native layout) for the runtime.
    pub seccomp: Vec<u8>,
    /// Open-files limit for the runtime.
    pub nofile: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bind {
    pub source: String,
    pub target: String,
    /// Bind a single file rather than a directory tree.
    pub file: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ProtoError {
    #[error("socket i/o")]
    Io(#[from] std::io::Error),
    #[error("malformed frame")]
    Json(#[from] serde_json::Error),
    #[error("peer closed the socket")]
    Closed,
    #[error("frame larger than {MAX_FRAME} bytes")]
    TooLarge,
}

#[cfg(test)]
mod tests;

//! The handle the router holds for one environment.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, watch};

/// A connection from the runtime to its Runtime API endpoint.
pub trait RuntimeStream: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> RuntimeStream for T {}
pub type RuntimeConn = Box<dyn RuntimeStream>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogStream {
    Stdout,
    Stderr,
}

/// One line the runtime wrote, without its newline. Lines longer than 256 KiB are split.
#[derive(Debug, Clone)]
pub struct LogLine {
    pub stream: LogStream,
    pub text: String,
    pub at: std::time::SystemTime,
}

/// Resource use so far (or at the end).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub peak_memory_bytes: u64,
    pub cpu_time: Duration,
    pub pids: u32,
}

/// Why an environment ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExitCause {
    /// The runtime exited (or was killed by a signal nobody on the host sent).
    RuntimeExit,
    /// The memory limit was hit and the kernel killed a process of the environment.
    OutOfMemory,
    /// The host killed it ([`Environment::kill`]).
    Killed,
    /// Building the environment failed before any function code ran.
    SetupFailed(String),
    /// The agent died without reporting (a bug or a kill from outside).
    AgentLost,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exit {
    pub cause: ExitCause,
    /// The runtime's exit code, when it exited.
    pub code: Option<i32>,
    /// The signal that ended the runtime, when one did.
    pub signal: Option<i32>,
    /// Whether the process limit refused a fork at some point.
    pub pids_limit_hit: bool,
    pub usage: Usage,
}

/// Backend operations on a live environment.
pub trait EnvControl: Send + Sync {
    /// Ends the environment now (SIGKILL to its init; the kernel ends the rest).
    fn kill(&self);
    /// Asks the runtime to stop (SIGTERM), then kills after `grace`.
    fn shutdown(&self, grace: Duration);
    fn usage(&self) -> Usage;
    /// Starts a new peak-memory measurement (per invocation).
    fn reset_peak_memory(&self);
}

pub struct Environment {
    id: u64,
    created: Instant,
    connections: Option<mpsc::UnboundedReceiver<RuntimeConn>>,
    logs: Option<mpsc::Receiver<LogLine>>,
    exit: watch::Receiver<Option<Exit>>,
    control: Arc<dyn EnvControl>,
}

impl Environment {
    pub fn new(
        id: u64,
        connections: mpsc::UnboundedReceiver<RuntimeConn>,
        logs: mpsc::Receiver<LogLine>,
        exit: watch::Receiver<Option<Exit>>,
        control: Arc<dyn EnvControl>,
    ) -> Self {
        Self {
            id,
            created: Instant::now(),
            connections: Some(connections),
            logs: Some(logs),
            exit,
            control,
        }
    }

    /// Unique among the environments of this process; also names the log stream.
    pub fn id(&self) -> u64 {
        self.id
    }

    pub fn age(&self) -> Duration {
        self.created.elapsed()
    }

    /// The next Runtime API connection; `None` once the environment is gone (or after
    /// [`Environment::take_connections`]).
    pub async fn next_connection(&mut self) -> Option<RuntimeConn> {
        self.connections.as_mut()?.recv().await
    }

    /// All Runtime API connections, for a server that owns them. Can be taken once.
    pub fn take_connections(&mut self) -> Option<mpsc::UnboundedReceiver<RuntimeConn>> {
        self.connections.take()
    }

    /// The runtime's output. Can be taken once.
    pub fn take_logs(&mut self) -> Option<mpsc::Receiver<LogLine>> {
        self.logs.take()
    }

    pub fn kill(&self) {
        self.control.kill();
    }

    pub fn shutdown(&self, grace: Duration) {
        self.control.shutdown(grace);
    }

    pub fn usage(&self) -> Usage {
        self.control.usage()
    }

    pub fn reset_peak_memory(&self) {
        self.control.reset_peak_memory();
    }

    /// How it ended, if it has.
    pub fn exit(&self) -> Option<Exit> {
        self.exit.borrow().clone()
    }

    /// Waits until the environment has ended and its resources are released.
    pub async fn wait(&mut self) -> Exit {
        loop {
            if let Some(exit) = self.exit.borrow_and_update().clone() {
                return exit;
            }
            if self.exit.changed().await.is_err() {
                return self.exit.borrow().clone().unwrap_or(Exit {
                    cause: ExitCause::AgentLost,
                    code: None,
                    signal: None,
                    pids_limit_hit: false,
                    usage: Usage::default(),
                });
            }
        }
    }

    /// A watch that turns `Some` when the environment ends; for select loops.
    pub fn exit_watch(&self) -> watch::Receiver<Option<Exit>> {
        self.exit.clone()
    }
}

impl Drop for Environment {
    /// An environment nobody holds can never be used again: end it rather than leak it.
    fn drop(&mut self) {
        if self.exit.borrow().is_none() {
            self.control.kill();
        }
    }
}

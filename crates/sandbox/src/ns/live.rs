//! A started environment: the tasks that serve its control socket, its output and its exit, and
//! the backend operations behind [`EnvControl`].

use std::os::fd::OwnedFd;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use bulkhead_proto::{AgentMsg, HostMsg, ProtoError};
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, BufReader, ReadBuf};
use tokio::sync::{mpsc, watch};

use super::Inner;
use super::cgroup::Cgroup;
use super::spawn::Neutral;
use crate::sys::{self, SharedFd};
use crate::{
    EnvControl, Environment, Exit, ExitCause, LogLine, LogStream, RuntimeConn, SandboxError, Usage,
};

const MAX_LINE: u64 = 256 * 1024;
/// Runtime API connections one environment may hold open at once.
const MAX_RUNTIME_CONNECTIONS: usize = 32;
/// Lines buffered per environment before its output pipes stop being drained.
const LOG_BACKLOG: usize = 256;

#[derive(Default)]
struct Reports {
    runtime_exit: Option<(Option<i32>, Option<i32>)>,
    setup_failed: Option<String>,
}

struct Live {
    id: u64,
    pidfd: Arc<OwnedFd>,
    control: Arc<OwnedFd>,
    cgroup: Cgroup,
    killed: AtomicBool,
}

impl EnvControl for Live {
    fn kill(&self) {
        self.killed.store(true, Ordering::Release);
        // The agent is the PID namespace's init: killing it makes the kernel kill the rest.
        if let Err(e) = sys::pidfd_kill(&self.pidfd, libc::SIGKILL)
            && e.raw_os_error() != Some(libc::ESRCH)
        {
            tracing::warn!(env = self.id, error = %e, "kill failed");
        }
    }

    fn shutdown(&self, grace: Duration) {
        let msg = HostMsg::Shutdown {
            grace_ms: grace.as_millis() as u64,
        };
        if bulkhead_proto::send(&*self.control, &msg, &[]).is_err() {
            self.kill();
        }
    }

    fn usage(&self) -> Usage {
        let u = self.cgroup.usage();
        Usage {
            peak_memory_bytes: u.peak_memory_bytes,
            cpu_time: u.cpu_time,
            pids: u.pids,
        }
    }

    fn reset_peak_memory(&self) {
        self.cgroup.reset_peak();
    }
}

pub(crate) fn start(inner: Arc<Inner>, neutral: Neutral) -> Result<Environment, SandboxError> {
    let Neutral {
        id,
        pidfd,
        control,
        stdout,
        stderr,
        cgroup,
        ids,
    } = neutral;
    let step = SandboxError::step;
    sys::set_nonblocking(&control).map_err(step("make the control socket non-blocking"))?;
    let control = Arc::new(control);
    let pidfd = Arc::new(pidfd);
    let live = Arc::new(Live {
        id,
        pidfd: pidfd.clone(),
        control: control.clone(),
        cgroup,
        killed: AtomicBool::new(false),
    });

    let (conn_tx, conn_rx) = mpsc::unbounded_channel();
    // Bounded: a runtime that writes faster than the host consumes blocks on its own stdout
    // instead of growing the server's memory.
    let (log_tx, log_rx) = mpsc::channel(LOG_BACKLOG);
    let (exit_tx, exit_rx) = watch::channel(None);
    let reports = Arc::new(Mutex::new(Reports::default()));

    let control_fd = sys::watch_readable(control).map_err(step("watch the control socket"))?;
    let pid_fd = sys::watch_readable(pidfd).map_err(step("watch the agent's pidfd"))?;
    for (fd, stream) in [(stdout, LogStream::Stdout), (stderr, LogStream::Stderr)] {
        sys::set_nonblocking(&fd).map_err(step("make the output pipes non-blocking"))?;
        let pipe = tokio::net::unix::pipe::Receiver::from_owned_fd(fd)
            .map_err(step("watch the output pipes"))?;
        tokio::spawn(read_lines(pipe, stream, log_tx.clone()));
    }
    let control_task = tokio::spawn(serve_control(id, control_fd, conn_tx, reports.clone()));
    tokio::spawn(watch_exit(
        inner,
        live.clone(),
        pid_fd,
        control_task,
        reports,
        ids,
        exit_tx,
    ));
    Ok(Environment::new(id, conn_rx, log_rx, exit_rx, live))
}

async fn read_lines(
    pipe: tokio::net::unix::pipe::Receiver,
    stream: LogStream,
    tx: mpsc::Sender<LogLine>,
) {
    let mut reader = BufReader::new(pipe);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match (&mut reader)
            .take(MAX_LINE)
            .read_until(b'\n', &mut buf)
            .await
        {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                if buf.last() == Some(&b'\n') {
                    buf.pop();
                }
                let line = LogLine {
                    stream,
                    text: String::from_utf8_lossy(&buf).into_owned(),
                    at: SystemTime::now(),
                };
                if tx.send(line).await.is_err() {
                    // Nobody reads the logs: keep draining so the runtime never blocks on a full pipe.
                    continue;
                }
            }
        }
    }
}

async fn serve_control(
    id: u64,
    fd: AsyncFd<SharedFd>,
    conns: mpsc::UnboundedSender<RuntimeConn>,
    reports: Arc<Mutex<Reports>>,
) {
    let open = Arc::new(AtomicUsize::new(0));
    loop {
        let Ok(mut guard) = fd.readable().await else {
            return;
        };
        match bulkhead_proto::recv::<AgentMsg>(&*fd.get_ref().0) {
            Ok((AgentMsg::RuntimeApiConnection, fds)) => {
                for conn in fds {
                    // Each connection costs the host a descriptor: a runtime gets a few, not
                    // as many as it can open (Lambda's clients use one).
                    if open.load(Ordering::Acquire) >= MAX_RUNTIME_CONNECTIONS {
                        tracing::warn!(env = id, "runtime api connection refused: too many open");
                        continue;
                    }
                    match runtime_stream(conn) {
                        Ok(stream) => {
                            let counted = Counted::new(stream, open.clone());
                            let _ = conns.send(Box::new(counted));
                        }
                        Err(e) => {
                            tracing::warn!(env = id, error = %e, "agent passed something that is not a loopback tcp connection")
                        }
                    }
                }
            }
            Ok((AgentMsg::RuntimeExited { code, signal }, _)) => {
                if let Ok(mut r) = reports.lock() {
                    r.runtime_exit = Some((code, signal));
                }
            }
            Ok((AgentMsg::SetupFailed { step, error }, _)) => {
                tracing::warn!(env = id, %step, %error, "environment setup failed");
                if let Ok(mut r) = reports.lock() {
                    r.setup_failed = Some(format!("{step}: {error}"));
                }
            }
            Ok((AgentMsg::Started { pid }, _)) => tracing::debug!(env = id, pid, "runtime started"),
            Ok((AgentMsg::Waiting | AgentMsg::Prepared, _)) => {}
            Err(ProtoError::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock => {
                guard.clear_ready()
            }
            Err(ProtoError::Closed) => return,
            Err(e) => {
                tracing::warn!(env = id, error = %e, "unreadable frame from the agent");
                return;
            }
        }
    }
}

/// Only a TCP socket connected over loopback is served: an agent that passed anything else is
/// ignored rather than trusted.
fn runtime_stream(fd: OwnedFd) -> std::io::Result<tokio::net::TcpStream> {
    let stream = std::net::TcpStream::from(fd);
    let peer = stream.peer_addr()?;
    if !peer.ip().is_loopback() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "peer is not loopback",
        ));
    }
    stream.set_nonblocking(true)?;
    stream.set_nodelay(true)?;
    tokio::net::TcpStream::from_std(stream)
}

async fn watch_exit(
    inner: Arc<Inner>,
    live: Arc<Live>,
    pidfd: AsyncFd<SharedFd>,
    control_task: tokio::task::JoinHandle<()>,
    reports: Arc<Mutex<Reports>>,
    ids: super::uids::HostIds,
    exit_tx: watch::Sender<Option<Exit>>,
) {
    let status = loop {
        let Ok(mut guard) = pidfd.readable().await else {
            break None;
        };
        match sys::try_reap(&pidfd.get_ref().0) {
            Ok(Some(status)) => break Some(status),
            Ok(None) => guard.clear_ready(),
            Err(_) => break None,
        }
    };
    // The agent's last report arrives before its socket closes; give the reader a moment.
    let _ = tokio::time::timeout(Duration::from_millis(500), control_task).await;
    let events = live.cgroup.events();
    let usage = live.usage();
    let reports = reports
        .lock()
        .map(|r| (r.runtime_exit, r.setup_failed.clone()))
        .unwrap_or_default();
    let (cause, code, signal) = match reports {
        (_, Some(setup)) => (ExitCause::SetupFailed(setup), None, None),
        (runtime, None) if events.oom_kills > 0 => (
            ExitCause::OutOfMemory,
            runtime.and_then(|r| r.0),
            runtime.and_then(|r| r.1),
        ),
        (runtime, None) if live.killed.load(Ordering::Acquire) => (
            ExitCause::Killed,
            runtime.and_then(|r| r.0),
            runtime.and_then(|r| r.1),
        ),
        (Some((code, signal)), None) => (ExitCause::RuntimeExit, code, signal),
        (None, None) => {
            tracing::warn!(env = live.id, ?status, "agent ended without a report");
            (ExitCause::AgentLost, None, None)
        }
    };
    let exit = Exit {
        cause,
        code,
        signal,
        pids_limit_hit: events.pids_max_hits > 0,
        usage,
    };
    let cleanup = {
        let live = live.clone();
        tokio::task::spawn_blocking(move || {
            live.cgroup.kill_all();
            if let Err(e) = live.cgroup.remove() {
                tracing::warn!(env = live.id, error = %e, "could not remove the environment's cgroup");
            }
            inner.uids.give_back(ids);
        })
    };
    let _ = cleanup.await;
    tracing::debug!(env = live.id, ?exit, "environment ended");
    let _ = exit_tx.send(Some(exit));
}

/// A connection that counts itself among its environment's open ones until dropped.
struct Counted<T> {
    inner: T,
    open: Arc<AtomicUsize>,
}

impl<T> Counted<T> {
    fn new(inner: T, open: Arc<AtomicUsize>) -> Self {
        open.fetch_add(1, Ordering::AcqRel);
        Self { inner, open }
    }
}

impl<T> Drop for Counted<T> {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::AcqRel);
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Counted<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Counted<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

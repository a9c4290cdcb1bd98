//! `bulkhead-agent`: PID 1 of every execution environment.
//!
//! The host starts it inside fresh namespaces with three descriptors: 3, the private control
//! socket to the host; 4 and 5, the write ends of the runtime's stdout and stderr pipes (the host
//! reads them line by line). It announces itself, waits for `Start`, builds the root filesystem,
//! starts the runtime as an unprivileged user under seccomp, and then only: reaps zombies,
//! forwards termination signals, and hands every connection to `127.0.0.1:9001` to the host.
//! It never parses HTTP and never starts a thread (so `fork` stays safe). When the runtime exits
//! the agent reports it and exits, which ends every process in the environment.

mod rootfs;
mod sys;

use std::net::{Ipv4Addr, TcpListener};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use bulkhead_proto::{AgentMsg, HostMsg, StartSpec};

const CONTROL_FD: i32 = 3;
const STDOUT_FD: i32 = 4;
const STDERR_FD: i32 = 5;

fn main() {
    // SAFETY: the host guarantees descriptor 3 is our end of the control socketpair and that
    // nothing else in this process owns it.
    #[allow(unsafe_code)]
    let control = unsafe { OwnedFd::from_raw_fd(CONTROL_FD) };
    let code = match run(&control) {
        Ok(code) => code,
        Err((step, error)) => {
            let _ = bulkhead_proto::send(
                &control,
                &AgentMsg::SetupFailed {
                    step,
                    error: error.to_string(),
                },
                &[],
            );
            1
        }
    };
    std::process::exit(code);
}

type Failure = (String, std::io::Error);

fn fail(step: &str) -> impl FnOnce(std::io::Error) -> Failure + '_ {
    move |e| (step.to_owned(), e)
}

/// The next message, or `None` when the host is gone or asked us to stop before starting.
fn receive(control: &OwnedFd, what: &str) -> Result<Option<(HostMsg, Vec<OwnedFd>)>, Failure> {
    match bulkhead_proto::recv::<HostMsg>(control) {
        Ok((HostMsg::Shutdown { .. }, _)) | Err(bulkhead_proto::ProtoError::Closed) => Ok(None),
        Ok(msg) => Ok(Some(msg)),
        Err(e) => Err((
            format!("receive {what}"),
            std::io::Error::other(e.to_string()),
        )),
    }
}

fn unexpected(what: &str) -> Failure {
    (
        format!("receive {what}"),
        std::io::Error::other("unexpected message"),
    )
}

fn run(control: &OwnedFd) -> Result<i32, Failure> {
    sys::clear_groups().map_err(fail("drop supplementary groups"))?;
    sys::new_cgroup_namespace()
        .map_err(fail("enter a cgroup namespace rooted at the environment"))?;
    send(control, &AgentMsg::Waiting).map_err(fail("announce"))?;

    // Tenant-neutral preparation, ahead of any request.
    let prepare = match receive(control, "prepare")? {
        Some((HostMsg::Prepare(p), _)) => *p,
        Some(_) => return Err(unexpected("prepare")),
        None => return Ok(0),
    };
    rootfs::prepare(&prepare)?;
    sys::sethostname(&prepare.hostname).map_err(fail("set hostname"))?;
    sys::loopback_up().map_err(fail("bring up loopback"))?;
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, prepare.runtime_api_port))
        .map_err(fail("listen for the runtime api"))?;
    listener
        .set_nonblocking(true)
        .map_err(fail("listen for the runtime api"))?;
    let signals = sys::signalfd(&[libc::SIGCHLD, libc::SIGTERM, libc::SIGINT, libc::SIGHUP])
        .map_err(fail("signalfd"))?;
    send(control, &AgentMsg::Prepared).map_err(fail("report prepared"))?;

    // The function's part, on the request path.
    let (spec, dirs) = match receive(control, "start")? {
        Some((HostMsg::Start(s), dirs)) => (*s, dirs),
        Some(_) => return Err(unexpected("start")),
        None => return Ok(0),
    };
    rootfs::finish(&prepare.root_dir, &spec, &dirs)?;
    drop(dirs);
    let runtime = sys::fork(|| start_runtime(&spec)).map_err(fail("fork the runtime"))?;
    // Only the runtime writes its output; our copies would keep the host's pipes open.
    sys::close(STDOUT_FD);
    sys::close(STDERR_FD);
    send(control, &AgentMsg::Started { pid: runtime }).map_err(fail("report start"))?;
    Ok(serve(control, &listener, &signals, runtime))
}

fn send(control: &OwnedFd, msg: &AgentMsg) -> std::io::Result<()> {
    bulkhead_proto::send(control, msg, &[]).map_err(|e| std::io::Error::other(e.to_string()))
}

/// Runs in the forked child: becomes the unprivileged runtime or exits 127 with the reason on
/// stderr (which the host logs).
fn start_runtime(spec: &StartSpec) {
    sys::unblock_all_signals();
    // Output first, so every later failure reaches the host's log through the runtime's stderr.
    if sys::dup2(STDOUT_FD, 1)
        .and(sys::dup2(STDERR_FD, 2))
        .is_err()
    {
        sys::write_all_fd(
            STDERR_FD,
            b"bulkhead-agent: cannot redirect the runtime's output\n",
        );
        sys::exit_now(127);
    }
    let die = |what: &str, e: std::io::Error| -> ! {
        sys::write_all_fd(
            2,
            format!("bulkhead-agent: cannot start the runtime: {what}: {e}\n").as_bytes(),
        );
        sys::exit_now(127)
    };
    match std::fs::File::open("/dev/null") {
        Ok(null) => {
            if let Err(e) = sys::dup2(null.as_raw_fd(), 0) {
                die("redirect stdin", e);
            }
        }
        Err(e) => die("open /dev/null", e),
    }
    sys::close_from(3);
    if let Err(e) = std::env::set_current_dir(&spec.cwd) {
        die("chdir", e);
    }
    let privs = sys::Unprivileged {
        uid: spec.uid,
        gid: spec.gid,
        nofile: spec.nofile,
        seccomp: &spec.seccomp,
    };
    if let Err((step, e)) = privs.apply() {
        die(step, e);
    }
    if let Err(e) = sys::install_seccomp(privs.seccomp) {
        die("install seccomp filter", e);
    }
    let e = sys::execve(&spec.argv, &spec.env);
    die(
        &format!("exec {}", spec.argv.first().map_or("", String::as_str)),
        e,
    )
}

/// The agent's life after the runtime started. Returns the exit code for the agent.
fn serve(control: &OwnedFd, listener: &TcpListener, signals: &OwnedFd, runtime: i32) -> i32 {
    let mut shutdown_deadline: Option<std::time::Instant> = None;
    loop {
        let mut fds = [
            libc::pollfd {
                fd: signals.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: listener.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: control.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        let timeout = shutdown_deadline.map_or(-1, |d| {
            d.saturating_duration_since(std::time::Instant::now())
                .as_millis() as i32
        });
        if sys::poll(&mut fds, timeout).is_err() {
            return 1;
        }
        if shutdown_deadline.is_some_and(|d| std::time::Instant::now() >= d) {
            // PID 1 exiting makes the kernel kill everything left in the namespace.
            return 137;
        }
        if fds[0].revents != 0 {
            for signal in sys::read_signals(signals) {
                match signal as i32 {
                    libc::SIGCHLD => {
                        while let Some(reaped) = sys::reap_any() {
                            let (pid, code, sig) = match reaped {
                                sys::Reaped::Exited(pid, code) => (pid, Some(code), None),
                                sys::Reaped::Signaled(pid, sig) => (pid, None, Some(sig)),
                            };
                            if pid == runtime {
                                let _ =
                                    send(control, &AgentMsg::RuntimeExited { code, signal: sig });
                                return code.unwrap_or_else(|| 128 + sig.unwrap_or(0));
                            }
                        }
                    }
                    // Forwarded, so a runtime gets its chance to shut down cleanly.
                    other => sys::kill(runtime, other),
                }
            }
        }
        if fds[1].revents != 0 {
            while let Ok((conn, _)) = listener.accept() {
                let _ = bulkhead_proto::send(
                    control,
                    &AgentMsg::RuntimeApiConnection,
                    &[conn.as_raw_fd()],
                );
            }
        }
        if fds[2].revents != 0 {
            match bulkhead_proto::recv::<HostMsg>(control) {
                Ok((HostMsg::Shutdown { grace_ms }, _)) => {
                    sys::kill(runtime, libc::SIGTERM);
                    shutdown_deadline = Some(
                        std::time::Instant::now() + std::time::Duration::from_millis(grace_ms),
                    );
                }
                Ok((HostMsg::Start(_) | HostMsg::Prepare(_), _)) => {}
                Err(bulkhead_proto::ProtoError::Io(e))
                    if e.kind() == std::io::ErrorKind::WouldBlock => {}
                // The host is gone or speaks nonsense: nobody can use this environment any more.
                Err(_) => return 1,
            }
        }
    }
}

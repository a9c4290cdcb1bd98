//! One live environment as the router holds it: the sandbox, its Runtime API, its log tail.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use bulkhead_runtime_api::{InitError, Invocation, Outcome, RuntimeApi};
use bulkhead_sandbox::{Backend, EnvSpec, Environment, Exit, LogStream, SandboxError};

/// Bytes of recent output kept per environment, for `X-Amz-Log-Type: Tail` (which returns 4 KB).
const TAIL_KEEP: usize = 16 * 1024;

#[derive(Default)]
pub(crate) struct LogTail {
    lines: VecDeque<(u64, String)>,
    bytes: usize,
    next: u64,
}

impl LogTail {
    fn push(&mut self, line: String) {
        self.bytes += line.len() + 1;
        self.lines.push_back((self.next, line));
        self.next += 1;
        while self.bytes > TAIL_KEEP {
            match self.lines.pop_front() {
                Some((_, l)) => self.bytes -= l.len() + 1,
                None => break,
            }
        }
    }

    /// Sequence number of the next line: the mark an invocation starts from.
    pub fn mark(&self) -> u64 {
        self.next
    }

    pub fn since(&self, mark: u64) -> Vec<String> {
        self.lines
            .iter()
            .filter(|(n, _)| *n >= mark)
            .map(|(_, l)| l.clone())
            .collect()
    }
}

pub(crate) struct LiveEnv {
    pub env: Environment,
    pub api: RuntimeApi,
    pub tail: Arc<Mutex<LogTail>>,
    pub memory_mb: u32,
    pub last_used: Instant,
    pub invocations: u64,
    pub log_stream: String,
    /// Set once, when the environment is bound; every log line carries it from then on.
    pub tenant: Arc<OnceLock<String>>,
}

/// Why an environment could not become ready.
pub(crate) enum StartFailure {
    Sandbox(SandboxError),
    /// The runtime posted to `/init/error`.
    Init(InitError),
    /// The runtime (or its environment) ended during Init.
    Exited(Exit),
    TimedOut(Duration),
}

/// How one invocation went.
pub(crate) enum RunResult {
    Done(Outcome),
    Died(Option<Exit>),
    TimedOut,
}

async fn exited(mut watch: tokio::sync::watch::Receiver<Option<Exit>>) -> Option<Exit> {
    loop {
        if let Some(exit) = watch.borrow_and_update().clone() {
            return Some(exit);
        }
        if watch.changed().await.is_err() {
            return None;
        }
    }
}

impl LiveEnv {
    /// Creates the environment and waits for the end of Init (the runtime's first `/next`).
    pub async fn start(
        backend: &dyn Backend,
        spec: EnvSpec,
        log_stream: String,
        init_timeout: Duration,
    ) -> Result<LiveEnv, StartFailure> {
        let memory_mb = spec.memory_mb;
        let mut env = backend.create(spec).await.map_err(StartFailure::Sandbox)?;
        let api = RuntimeApi::new();
        if let Some(mut conns) = env.take_connections() {
            let api = api.clone();
            tokio::spawn(async move {
                while let Some(conn) = conns.recv().await {
                    api.serve(conn);
                }
            });
        }
        let tail = Arc::new(Mutex::new(LogTail::default()));
        let tenant: Arc<OnceLock<String>> = Arc::default();
        if let Some(mut logs) = env.take_logs() {
            let (tail, id, tenant, stream_name) =
                (tail.clone(), env.id(), tenant.clone(), log_stream.clone());
            tokio::spawn(async move {
                while let Some(line) = logs.recv().await {
                    let stream = if line.stream == LogStream::Stdout {
                        "stdout"
                    } else {
                        "stderr"
                    };
                    let tenant = tenant.get().map(String::as_str);
                    tracing::info!(target: "bulkhead::function", env = id, log_stream = %stream_name, tenant, stream, "{}", line.text);
                    if let Ok(mut t) = tail.lock() {
                        t.push(line.text);
                    }
                }
            });
        }
        let ready = tokio::select! {
            r = api.ready() => r.map_err(StartFailure::Init),
            exit = exited(env.exit_watch()) => Err(StartFailure::Exited(exit.unwrap_or_else(lost))),
            () = tokio::time::sleep(init_timeout) => Err(StartFailure::TimedOut(init_timeout)),
        };
        if let Err(e) = ready {
            env.kill();
            return Err(e);
        }
        Ok(LiveEnv {
            env,
            api,
            tail,
            memory_mb,
            last_used: Instant::now(),
            invocations: 0,
            log_stream,
            tenant,
        })
    }

    pub fn is_dead(&self) -> bool {
        self.env.exit().is_some()
    }

    /// Runs one invocation under `timeout`.
    pub async fn run(&mut self, invocation: Invocation, timeout: Duration) -> RunResult {
        // Max Memory Used is the environment's peak, as Lambda reports it; resetting the peak per
        // invocation would cost a cgroup write on the warm path.
        self.invocations += 1;
        let watch = self.env.exit_watch();
        tokio::select! {
            outcome = self.api.invoke(invocation) => match outcome {
                Ok(o) => RunResult::Done(o),
                Err(_) => RunResult::Died(self.env.exit()),
            },
            exit = exited(watch) => RunResult::Died(exit),
            () = tokio::time::sleep(timeout) => RunResult::TimedOut,
        }
    }

    /// Ends the environment; it is never used again.
    pub fn destroy(self) {
        self.env.kill();
    }
}

fn lost() -> Exit {
    Exit {
        cause: bulkhead_sandbox::ExitCause::AgentLost,
        code: None,
        signal: None,
        pids_limit_hit: false,
        usage: Default::default(),
    }
}

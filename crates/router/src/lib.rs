//! The router: the one place that hands out execution environments.
//!
//! Every invocation names a key — (function, version, revision, tenant) — and runs in an idle
//! environment bound to exactly that key, or in a new one that is then bound to it for life
//! (see [`isolation`], which holds the guarantee and is small enough to audit alone). Around it:
//! admission ([`limits`]: account and reserved concurrency, 2.5 tenant environments per unit of
//! concurrency, a host memory budget), Lambda's lifecycle (Init ≤ 10 s and not counted against
//! the timeout; a timeout, crash or out-of-memory destroys the environment), idle reclaim, and
//! the log tail.

pub mod ids;
pub mod isolation;
pub mod limits;
mod live;
mod outcome;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bulkhead_model::TenantId;
use bulkhead_runtime_api::Invocation;
use bulkhead_sandbox::{Backend, EnvSpec};
use bytes::Bytes;

use isolation::{Env, EnvKey, Pool, Spares, Unbound};
use limits::Usage;
pub use limits::{Limits, Refusal};
use live::{LiveEnv, RunResult};

/// Everything about a function version the router needs to run it, resolved by the caller.
#[derive(Debug, Clone)]
pub struct FunctionTarget {
    pub name: String,
    /// `$LATEST` or a version number.
    pub version: String,
    /// The configuration's RevisionId: environments of another revision are never reused.
    pub revision: String,
    pub per_tenant: bool,
    pub memory_mb: u32,
    pub tmp_mb: u32,
    pub timeout: Duration,
    pub reserved_concurrency: Option<u32>,
    pub code_dir: PathBuf,
    pub runtime_dir: Option<PathBuf>,
    pub argv: Vec<String>,
    /// The runtime's environment (Lambda's reserved variables and the function's own), all but
    /// the log stream name, which is per environment.
    pub env: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
pub struct InvokeRequest {
    pub target: Arc<FunctionTarget>,
    pub tenant: Option<TenantId>,
    /// As invoked, with its qualifier, for `Lambda-Runtime-Invoked-Function-Arn`.
    pub invoked_arn: String,
    pub payload: Bytes,
    pub client_context: Option<String>,
    pub tail: bool,
}

#[derive(Debug, Clone)]
pub struct InvokeResponse {
    pub request_id: String,
    pub payload: Bytes,
    /// `Unhandled` when the function failed.
    pub function_error: Option<&'static str>,
    /// Base64 of the last 4 KB of the log, when asked for.
    pub log_tail: Option<String>,
    pub environment: u64,
    pub cold_start: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    #[error("Rate exceeded")]
    TooManyRequests(Refusal),
    #[error("the environment could not be created")]
    Sandbox(#[source] bulkhead_sandbox::SandboxError),
    #[error("internal error: {0}")]
    Internal(String),
}

#[derive(Debug, Clone)]
pub struct RouterConfig {
    pub limits: Limits,
    /// Idle environments older than this are reclaimed.
    pub idle_timeout: Duration,
    /// Lambda's Init limit.
    pub init_timeout: Duration,
    /// Initialised, never-used environments kept per PER_TENANT deployment once it has been
    /// invoked, so a new tenant's first invocation skips Init (Lambda's Init never sees the
    /// tenant either). 0 turns it off.
    pub spares_per_function: usize,
}

impl Default for RouterConfig {
    fn default() -> Self {
        Self {
            limits: Limits {
                account_concurrency: 1000,
                memory_budget_mb: 16 * 1024,
            },
            idle_timeout: Duration::from_secs(600),
            init_timeout: Duration::from_secs(10),
            spares_per_function: 1,
        }
    }
}

/// One environment as `bulkhead env list` shows it.
#[derive(Debug, Clone)]
pub struct EnvInfo {
    pub id: u64,
    pub function: String,
    pub version: String,
    pub tenant: Option<String>,
    pub state: &'static str,
    pub age: Duration,
    pub invocations: u64,
    pub memory_mb: u32,
    pub peak_memory_bytes: u64,
    pub log_stream: String,
}

#[derive(Debug, Default, Clone, Copy)]
pub struct Stats {
    /// Tenant environments created (a spare counts once bound).
    pub environments_created: u64,
    /// Tenant environments alive, idle or busy.
    pub environments_live: u64,
    /// Initialised environments waiting for their first tenant.
    pub spares: u64,
    pub busy: u32,
}

/// Where an admitted invocation will run.
enum Slot {
    /// An idle environment of its key.
    Idle(Env<LiveEnv>),
    /// A spare, initialised environment of its deployment, to be bound now.
    Spare(Unbound<LiveEnv>),
    /// Nothing ready: room was reserved for a new environment.
    New,
}

/// The slot, and the environments evicted to make room, to be ended outside the lock.
type Admitted = (Slot, Vec<LiveEnv>);

type Deployment = (String, String, String);

#[derive(Default)]
struct State {
    pool: Pool<LiveEnv>,
    spares: Spares<LiveEnv>,
    /// Spares being initialised now, per deployment, so replenishing never overshoots.
    starting: HashMap<Deployment, usize>,
    usage: Usage,
    busy: HashMap<u64, EnvInfo>,
    /// Tenant environments created (a spare counts once it is bound).
    created: u64,
    /// The server is stopping: environments coming back from an invocation, and spares that
    /// finish starting, are ended instead of kept.
    closing: bool,
}

pub struct Router {
    backend: Arc<dyn Backend>,
    config: RouterConfig,
    state: Mutex<State>,
}

/// What the listing shows; `usage` reads cgroup files, so the busy map (filled on the warm
/// path) leaves it out and the listing reads it at listing time.
fn info(env: &Env<LiveEnv>, state: &'static str, usage: bool) -> EnvInfo {
    let key = env.key();
    let live = env.inner();
    EnvInfo {
        id: live.env.id(),
        function: key.function.clone(),
        version: key.version.clone(),
        tenant: key.tenant.as_ref().map(|t| t.as_str().to_owned()),
        state,
        age: live.env.age(),
        invocations: live.invocations,
        memory_mb: live.memory_mb,
        peak_memory_bytes: if usage {
            live.env.usage().peak_memory_bytes
        } else {
            0
        },
        log_stream: live.log_stream.clone(),
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn log_stream_name(version: &str) -> String {
    let date = time::OffsetDateTime::now_utc();
    let hex = uuid::Uuid::new_v4().simple().to_string();
    format!(
        "{:04}/{:02}/{:02}/[{version}]{hex}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

fn trace_id() -> String {
    let hex = ids::hex128();
    format!(
        "Root=1-{:08x}-{};Parent={};Sampled=0",
        now_ms() / 1000,
        &hex[..24],
        &hex[16..]
    )
}

/// Lambda's platform.report record of one invocation, with the tenant on it.
struct Report {
    request_id: String,
    target: Arc<FunctionTarget>,
    tenant: Option<TenantId>,
    env: u64,
    cold_start: bool,
    error: bool,
    duration: Duration,
}

impl Report {
    fn log(&self) {
        tracing::info!(
            target: "bulkhead::platform",
            record = "platform.report",
            request_id = %self.request_id,
            function = %self.target.name,
            version = %self.target.version,
            tenant = self.tenant.as_ref().map(|t| t.as_str()),
            env = self.env,
            cold_start = self.cold_start,
            status = if self.error { "error" } else { "success" },
            duration_ms = self.duration.as_secs_f64() * 1e3,
        );
    }
}

impl Router {
    /// Must be called inside a Tokio runtime: it starts the idle reclaimer.
    pub fn new(backend: Arc<dyn Backend>, config: RouterConfig) -> Arc<Self> {
        let router = Arc::new(Self {
            backend,
            config,
            state: Mutex::default(),
        });
        let weak = Arc::downgrade(&router);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                let Some(router) = weak.upgrade() else { return };
                router.reclaim_idle();
            }
        });
        router
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, State>, InvokeError> {
        self.state
            .lock()
            .map_err(|_| InvokeError::Internal("router state poisoned".into()))
    }

    /// Ends idle environments unused for longer than the idle timeout.
    pub fn reclaim_idle(&self) {
        let idle_timeout = self.config.idle_timeout;
        let reclaimed = match self.state.lock() {
            Ok(mut st) => {
                let taken = st.pool.take_where(|e| {
                    e.inner().last_used.elapsed() >= idle_timeout || e.inner().is_dead()
                });
                for e in &taken {
                    st.usage
                        .remove_environment(&e.key().function, e.inner().memory_mb);
                }
                taken
            }
            Err(_) => return,
        };
        for env in reclaimed {
            tracing::debug!(env = env.inner().env.id(), "reclaiming idle environment");
            env.retire().destroy();
        }
        let spares = match self.state.lock() {
            Ok(mut st) => {
                let taken = st.spares.take_where(|u| {
                    u.inner().last_used.elapsed() >= idle_timeout || u.inner().is_dead()
                });
                for u in &taken {
                    st.usage.remove_spare(u.inner().memory_mb);
                }
                taken
            }
            Err(_) => return,
        };
        for spare in spares {
            spare.into_inner().destroy();
        }
    }

    /// Ends every idle environment and spare, and waits (up to `grace`) until each has ended
    /// and given back its processes, mounts, cgroup and ids: a stopping server leaves nothing
    /// behind. Environments still finishing an invocation are ended when they come back.
    pub async fn shutdown(&self, grace: Duration) {
        let ending: Vec<LiveEnv> = match self.state.lock() {
            Ok(mut st) => {
                st.closing = true;
                let mut all: Vec<LiveEnv> = st
                    .pool
                    .take_where(|_| true)
                    .into_iter()
                    .map(Env::retire)
                    .collect();
                all.extend(
                    st.spares
                        .take_where(|_| true)
                        .into_iter()
                        .map(Unbound::into_inner),
                );
                all
            }
            Err(_) => return,
        };
        for live in &ending {
            live.env.kill();
        }
        let deadline = tokio::time::Instant::now() + grace;
        let mut left = 0;
        for mut live in ending {
            if tokio::time::timeout_at(deadline, live.env.wait())
                .await
                .is_err()
            {
                left += 1;
            }
        }
        if left > 0 {
            tracing::warn!(
                left,
                ?grace,
                "environments still ending at shutdown; the next start sweeps what they leave"
            );
        }
    }

    pub fn environments(&self) -> Vec<EnvInfo> {
        let Ok(st) = self.state.lock() else {
            return Vec::new();
        };
        let mut out: Vec<EnvInfo> = st.pool.iter().map(|e| info(e, "idle", true)).collect();
        out.extend(st.spares.iter().map(|u| {
            let (function, version, _) = u.deployment();
            let live = u.inner();
            EnvInfo {
                id: live.env.id(),
                function: function.to_owned(),
                version: version.to_owned(),
                tenant: None,
                state: "spare",
                age: live.env.age(),
                invocations: 0,
                memory_mb: live.memory_mb,
                peak_memory_bytes: live.env.usage().peak_memory_bytes,
                log_stream: live.log_stream.clone(),
            }
        }));
        out.extend(st.busy.values().cloned());
        out.sort_by_key(|e| e.id);
        out
    }

    pub fn stats(&self) -> Stats {
        let Ok(st) = self.state.lock() else {
            return Stats::default();
        };
        Stats {
            environments_created: st.created,
            environments_live: (st.pool.len() + st.busy.len()) as u64,
            spares: st.spares.len() as u64,
            busy: st.usage.busy(),
        }
    }

    /// Runs one invocation. It runs to completion on its own task even if the caller goes
    /// away, so accounting and environments are never stranded by a dropped connection.
    pub async fn invoke(
        self: &Arc<Self>,
        req: InvokeRequest,
    ) -> Result<InvokeResponse, InvokeError> {
        let this = self.clone();
        let (answer, answered) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let mut report = None;
            let result = Router::invoke_here(&this, req, &mut report).await;
            let _ = answer.send(result);
            if let Some(report) = report {
                // The caller answers its client first: formatting the record (several µs)
                // stays off the client's latency.
                tokio::task::yield_now().await;
                report.log();
            }
        });
        answered
            .await
            .map_err(|_| InvokeError::Internal("the invoke task ended without an answer".into()))?
    }

    async fn invoke_here(
        self: &Arc<Self>,
        req: InvokeRequest,
        report: &mut Option<Report>,
    ) -> Result<InvokeResponse, InvokeError> {
        let t = req.target.clone();
        let key = EnvKey {
            function: t.name.clone(),
            version: t.version.clone(),
            revision: t.revision.clone(),
            tenant: req.tenant.clone(),
        };
        let request_id = ids::request_id();
        let (slot, evicted) = self.admit(&t, &key)?;
        for e in evicted {
            e.destroy();
        }
        let cold_start = !matches!(slot, Slot::Idle(_));
        let ready = match slot {
            Slot::Idle(env) => Ok(env),
            Slot::Spare(unbound) => Err(unbound),
            Slot::New => match self.start(&t).await {
                Ok(unbound) => Err(unbound),
                Err(failure) => {
                    if let Ok(mut st) = self.lock() {
                        st.usage.remove_environment(&t.name, t.memory_mb);
                        st.usage.finish(&t.name);
                    }
                    return outcome::init_failed(failure, request_id);
                }
            },
        };
        let mut env = match ready {
            Ok(env) => env,
            Err(unbound) => {
                let env = unbound.bind(req.tenant.clone());
                if let Some(t) = &env.key().tenant {
                    let _ = env.inner().tenant.set(t.as_str().to_owned());
                }
                // The next new tenant of this deployment should find one ready too.
                if t.per_tenant {
                    self.replenish(t.clone());
                }
                env
            }
        };
        let env_id = env.inner().env.id();
        if let Ok(mut st) = self.lock() {
            st.busy.insert(env_id, info(&env, "busy", false));
        }
        let invocation = Invocation {
            request_id: request_id.clone(),
            payload: req.payload,
            deadline_ms: now_ms() + t.timeout.as_millis() as u64,
            function_arn: req.invoked_arn,
            trace_id: trace_id(),
            client_context: req.client_context,
            cognito_identity: None,
            tenant_id: req.tenant.as_ref().map(|t| t.as_str().to_owned()),
        };
        let mark = env.inner().tail.lock().map(|t| t.mark()).unwrap_or(0);
        let started = Instant::now();
        let result = env.inner_mut().run(invocation, t.timeout).await;
        let duration = started.elapsed();
        // A runtime refused an oversized response may not recover (awslambdaric exits): like a
        // crash or a timeout, it costs the environment.
        let healthy = matches!(result, RunResult::Done(ref o) if *o != bulkhead_runtime_api::Outcome::ResponseTooLarge);
        let tail = if req.tail {
            Some(outcome::tail(&env, mark, &request_id, &t, duration).await)
        } else {
            None
        };
        let response = outcome::response(result, &request_id, t.timeout, tail, env_id, cold_start);
        *report = Some(Report {
            request_id: request_id.clone(),
            target: t.clone(),
            tenant: req.tenant.clone(),
            env: env_id,
            cold_start,
            error: response.function_error.is_some(),
            duration,
        });
        let retired = {
            let mut st = self.lock()?;
            st.busy.remove(&env_id);
            st.usage.finish(&t.name);
            if healthy && !env.inner().is_dead() && !st.closing {
                env.inner_mut().last_used = Instant::now();
                st.pool.checkin(env);
                None
            } else {
                st.usage.remove_environment(&t.name, t.memory_mb);
                Some(env)
            }
        };
        if let Some(env) = retired {
            env.retire().destroy();
        }
        Ok(response)
    }

    /// Admission under the lock: counts the invocation and finds it a slot — an idle
    /// environment of its key, a spare of its deployment, or room for a new environment
    /// (evicting spares, then least recently used idle environments, if needed).
    fn admit(&self, t: &FunctionTarget, key: &EnvKey) -> Result<Admitted, InvokeError> {
        let limits = &self.config.limits;
        let mut st = self.lock()?;
        st.usage
            .admit(limits, &t.name, t.reserved_concurrency)
            .map_err(InvokeError::TooManyRequests)?;
        let mut evicted = Vec::new();
        while let Some(env) = st.pool.checkout(key) {
            if !env.inner().is_dead() {
                return Ok((Slot::Idle(env), evicted));
            }
            st.usage.remove_environment(&t.name, env.inner().memory_mb);
            evicted.push(env.retire());
        }
        let refuse = |st: &mut State, why| {
            st.usage.finish(&t.name);
            InvokeError::TooManyRequests(why)
        };
        let mut spare = None;
        while let Some(s) = st.spares.take(&t.name, &t.version, &t.revision) {
            if !s.inner().is_dead() {
                spare = Some(s);
                break;
            }
            st.usage.remove_spare(s.inner().memory_mb);
            evicted.push(s.into_inner());
        }
        if !st
            .usage
            .tenant_cap_allows(limits, &t.name, t.per_tenant, t.reserved_concurrency)
        {
            // Make room within this function: its spares of other revisions go, and its least
            // recently used idle environment.
            if let Some(stale) = take_one_spare(&mut st.spares, |u| u.deployment().0 == t.name) {
                st.usage.remove_spare(stale.memory_mb);
                evicted.push(stale);
            }
            match st
                .pool
                .take_min_by(|e| e.key().function == t.name, |e| e.inner().last_used)
            {
                Some(e) => {
                    st.usage.remove_environment(&t.name, e.inner().memory_mb);
                    evicted.push(e.retire());
                }
                None => {
                    if let Some(s) = spare {
                        st.spares.put(s);
                    }
                    return Err(refuse(&mut st, Refusal::TenantEnvironments));
                }
            }
        }
        if let Some(spare) = spare {
            // It becomes a tenant environment now; its memory was counted when it started.
            st.usage.spare_bound(&t.name);
            st.created += 1;
            return Ok((Slot::Spare(spare), evicted));
        }
        while !st.usage.memory_allows(limits, t.memory_mb) {
            if let Some(stale) = take_one_spare(&mut st.spares, |_| true) {
                st.usage.remove_spare(stale.memory_mb);
                evicted.push(stale);
                continue;
            }
            match st.pool.take_min_by(|_| true, |e| e.inner().last_used) {
                Some(e) => {
                    let function = e.key().function.clone();
                    st.usage.remove_environment(&function, e.inner().memory_mb);
                    evicted.push(e.retire());
                }
                None => return Err(refuse(&mut st, Refusal::HostMemory)),
            }
        }
        st.usage.add_environment(&t.name, t.memory_mb);
        st.created += 1;
        Ok((Slot::New, evicted))
    }

    /// Starts a spare for `t`'s deployment in the background, if it has fewer than configured
    /// and the limits have room without evicting anything.
    fn replenish(self: &Arc<Self>, t: Arc<FunctionTarget>) {
        if self.config.spares_per_function == 0 {
            return;
        }
        let deployment: Deployment = (t.name.clone(), t.version.clone(), t.revision.clone());
        {
            let limits = &self.config.limits;
            let Ok(mut st) = self.state.lock() else {
                return;
            };
            let have = st.spares.count(&t.name, &t.version, &t.revision)
                + st.starting.get(&deployment).copied().unwrap_or(0);
            if have >= self.config.spares_per_function
                || !st
                    .usage
                    .tenant_cap_allows(limits, &t.name, true, t.reserved_concurrency)
                || !st.usage.memory_allows(limits, t.memory_mb)
            {
                return;
            }
            st.usage.add_spare(t.memory_mb);
            *st.starting.entry(deployment.clone()).or_default() += 1;
        }
        let this = self.clone();
        tokio::spawn(async move {
            let started = this.start(&t).await;
            let Ok(mut st) = this.state.lock() else {
                return;
            };
            if let Some(n) = st.starting.get_mut(&deployment) {
                *n -= 1;
                if *n == 0 {
                    st.starting.remove(&deployment);
                }
            }
            match started {
                Ok(spare) if !st.closing => st.spares.put(spare),
                Ok(spare) => spare.into_inner().destroy(),
                Err(_) => st.usage.remove_spare(t.memory_mb),
            }
        });
    }

    async fn start(&self, t: &FunctionTarget) -> Result<Unbound<LiveEnv>, live::StartFailure> {
        let log_stream = log_stream_name(&t.version);
        let mut env = t.env.clone();
        env.push(("AWS_LAMBDA_LOG_STREAM_NAME".into(), log_stream.clone()));
        let spec = EnvSpec {
            label: format!("{}:{}", t.name, t.version),
            code_dir: t.code_dir.clone(),
            runtime_dir: t.runtime_dir.clone(),
            layers_dir: None,
            memory_mb: t.memory_mb,
            tmp_mb: t.tmp_mb,
            // Lambda allows 1,024 processes and threads per environment.
            pids_max: 1024,
            argv: t.argv.clone(),
            env,
        };
        let live =
            LiveEnv::start(&*self.backend, spec, log_stream, self.config.init_timeout).await?;
        Ok(Unbound::new(
            t.name.clone(),
            t.version.clone(),
            t.revision.clone(),
            live,
        ))
    }
}

#[cfg(test)]
mod proptests;

/// Takes at most one spare that `pick` selects, as the environment to end.
fn take_one_spare(
    spares: &mut Spares<LiveEnv>,
    pick: impl Fn(&Unbound<LiveEnv>) -> bool,
) -> Option<LiveEnv> {
    let mut taken = false;
    spares
        .take_where(|u| {
            let p = !taken && pick(u);
            taken |= p;
            p
        })
        .pop()
        .map(Unbound::into_inner)
}

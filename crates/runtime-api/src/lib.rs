//! The host side of the Lambda Runtime API, one instance per execution environment.
//!
//! The runtime inside an environment speaks HTTP/1.1 to `127.0.0.1:9001`; the agent hands each of
//! those connections to the host (see the sandbox crate), and [`RuntimeApi::serve`] answers them
//! here. Because every connection arrives through one environment's private channel, the host
//! always knows which environment is speaking: there is no shared listener and nothing for one
//! environment to reach in another's.
//!
//! The router drives it: [`RuntimeApi::ready`] resolves at the runtime's first `/next` (the end of
//! Init) or its `/init/error`; [`RuntimeApi::invoke`] queues one invocation for `/next` and
//! resolves with what the runtime posts to `/response` or `/error`.
//!
//! hyper's connection server directly, rather than axum: four fixed routes, and every microsecond
//! here is on the warm-invoke path.

mod http;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use bulkhead_sandbox::RuntimeConn;
use bytes::Bytes;
use tokio::sync::{mpsc, oneshot, watch};

/// Lambda's synchronous response limit.
pub const MAX_RESPONSE: usize = 6 * 1024 * 1024;

/// One invocation as the runtime receives it from `/next`.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub request_id: String,
    pub payload: Bytes,
    /// Epoch milliseconds.
    pub deadline_ms: u64,
    /// As invoked, including a qualifier.
    pub function_arn: String,
    pub trace_id: String,
    /// Decoded `X-Amz-Client-Context` JSON.
    pub client_context: Option<String>,
    pub cognito_identity: Option<String>,
    /// Sent only for tenant-isolated functions.
    pub tenant_id: Option<String>,
}

/// What the runtime answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Response(Bytes),
    /// A body posted to `/error`, with the `Lambda-Runtime-Function-Error-Type` header if sent.
    Error {
        error_type: Option<String>,
        body: Bytes,
    },
    /// The runtime tried to answer with more than [`MAX_RESPONSE`] bytes.
    ResponseTooLarge,
}

/// What a runtime posted to `/init/error`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitError {
    pub error_type: Option<String>,
    pub body: Bytes,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InitState {
    Running,
    Ready,
    Failed(InitError),
}

/// The runtime went away before answering (its environment ended).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the runtime did not answer: its environment is gone")]
pub struct Gone;

struct Pending {
    invocation: Invocation,
    reply: oneshot::Sender<Outcome>,
}

#[derive(Default)]
struct Current {
    request_id: Option<String>,
    reply: Option<oneshot::Sender<Outcome>>,
    /// Recently answered ids, so a second post gets InvalidStateTransition, not InvalidRequestID.
    answered: VecDeque<String>,
}

struct Shared {
    queue_tx: mpsc::Sender<Pending>,
    queue_rx: tokio::sync::Mutex<mpsc::Receiver<Pending>>,
    current: Mutex<Current>,
    init: watch::Sender<InitState>,
}

/// One environment's Runtime API. Cheap to clone.
#[derive(Clone)]
pub struct RuntimeApi {
    shared: Arc<Shared>,
}

impl Default for RuntimeApi {
    fn default() -> Self {
        Self::new()
    }
}

impl RuntimeApi {
    pub fn new() -> Self {
        let (queue_tx, queue_rx) = mpsc::channel(1);
        let (init, _) = watch::channel(InitState::Running);
        Self {
            shared: Arc::new(Shared {
                queue_tx,
                queue_rx: tokio::sync::Mutex::new(queue_rx),
                current: Mutex::new(Current::default()),
                init,
            }),
        }
    }

    /// Serves one connection from the runtime until it closes.
    pub fn serve(&self, conn: RuntimeConn) {
        tokio::spawn(http::serve(self.shared.clone(), conn));
    }

    pub fn init_state(&self) -> InitState {
        self.shared.init.borrow().clone()
    }

    /// Resolves when Init ends: at the first `/next` (Ok) or an `/init/error` (Err).
    pub async fn ready(&self) -> Result<(), InitError> {
        let mut rx = self.shared.init.subscribe();
        loop {
            match &*rx.borrow_and_update() {
                InitState::Ready => return Ok(()),
                InitState::Failed(e) => return Err(e.clone()),
                InitState::Running => {}
            }
            if rx.changed().await.is_err() {
                return Err(InitError {
                    error_type: Some("Runtime.Unknown".into()),
                    body: Bytes::new(),
                });
            }
        }
    }

    /// Hands `invocation` to the runtime's `/next` and waits for its answer. Cancel-safe: drop
    /// the future to abandon the invocation (the caller then ends the environment).
    pub async fn invoke(&self, invocation: Invocation) -> Result<Outcome, Gone> {
        let (reply, answer) = oneshot::channel();
        self.shared
            .queue_tx
            .send(Pending { invocation, reply })
            .await
            .map_err(|_| Gone)?;
        answer.await.map_err(|_| Gone)
    }
}

#[cfg(test)]
mod tests;

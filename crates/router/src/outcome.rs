//! Turning what happened into what Lambda reports: payloads, `X-Amz-Function-Error`, error
//! types and messages (lambda-api.md §2.3), and the log tail.

use std::time::Duration;

use base64::Engine;
use bulkhead_runtime_api::Outcome;
use bulkhead_sandbox::{Exit, ExitCause};
use bytes::Bytes;

use crate::isolation::Env;
use crate::live::{LiveEnv, RunResult, StartFailure};
use crate::{FunctionTarget, InvokeError, InvokeResponse};

const TAIL_BYTES: usize = 4096;

fn error_body(error_type: &str, message: &str) -> Bytes {
    Bytes::from(serde_json::json!({ "errorType": error_type, "errorMessage": message }).to_string())
}

fn failed(
    request_id: &str,
    payload: Bytes,
    environment: u64,
    cold_start: bool,
    tail: Option<String>,
) -> InvokeResponse {
    InvokeResponse {
        request_id: request_id.to_owned(),
        payload,
        function_error: Some("Unhandled"),
        log_tail: tail,
        environment,
        cold_start,
    }
}

/// The runtime's exit as Lambda words it: "exit status 1", "signal: killed".
fn how(exit: &Exit) -> String {
    match (exit.code, exit.signal) {
        (_, Some(9)) => "signal: killed".into(),
        (_, Some(s)) => format!("signal: {s}"),
        (Some(c), None) => format!("exit status {c}"),
        (None, None) => "unknown".into(),
    }
}

fn died(request_id: &str, exit: Option<&Exit>) -> Bytes {
    match exit {
        Some(e) if e.cause == ExitCause::OutOfMemory => {
            // UNCONFIRMED message; the type is Lambda's.
            error_body(
                "Runtime.OutOfMemory",
                &format!(
                    "RequestId: {request_id} Error: Runtime exited with error: signal: killed"
                ),
            )
        }
        Some(e) => error_body(
            "Runtime.ExitError",
            &format!(
                "RequestId: {request_id} Error: Runtime exited with error: {}",
                how(e)
            ),
        ),
        None => error_body(
            "Runtime.ExitError",
            &format!("RequestId: {request_id} Error: Runtime exited without providing a reason"),
        ),
    }
}

pub(crate) fn response(
    result: RunResult,
    request_id: &str,
    timeout: Duration,
    tail: Option<String>,
    env: u64,
    cold: bool,
) -> InvokeResponse {
    match result {
        RunResult::Done(Outcome::Response(payload)) => InvokeResponse {
            request_id: request_id.to_owned(),
            payload,
            function_error: None,
            log_tail: tail,
            environment: env,
            cold_start: cold,
        },
        RunResult::Done(Outcome::Error { error_type, body }) => {
            let body = if body.is_empty() {
                error_body(error_type.as_deref().unwrap_or("Unhandled"), "")
            } else {
                body
            };
            failed(request_id, body, env, cold, tail)
        }
        RunResult::Done(Outcome::ResponseTooLarge) => failed(
            request_id,
            error_body(
                "Function.ResponseSizeTooLarge",
                "Response payload size exceeded maximum allowed payload size (6291556 bytes).",
            ),
            env,
            cold,
            tail,
        ),
        RunResult::Died(exit) => {
            failed(request_id, died(request_id, exit.as_ref()), env, cold, tail)
        }
        RunResult::TimedOut => failed(
            request_id,
            error_body(
                "Sandbox.Timedout",
                &format!(
                    "RequestId: {request_id} Error: Task timed out after {:.2} seconds",
                    timeout.as_secs_f64()
                ),
            ),
            env,
            cold,
            tail,
        ),
    }
}

pub(crate) fn init_failed(
    failure: StartFailure,
    request_id: String,
) -> Result<InvokeResponse, InvokeError> {
    let payload = match failure {
        StartFailure::Sandbox(e) => return Err(InvokeError::Sandbox(e)),
        // The runtime's own report (awslambdaric: errorType Runtime.ImportModuleError, ...).
        StartFailure::Init(e) if !e.body.is_empty() => e.body,
        StartFailure::Init(e) => error_body(
            e.error_type.as_deref().unwrap_or("Runtime.Unknown"),
            "The runtime failed to initialise",
        ),
        // The agent exits 127 when it cannot exec the runtime: a missing or broken bootstrap.
        StartFailure::Exited(exit) if exit.code == Some(127) => error_body(
            "Runtime.InvalidEntrypoint",
            &format!(
                "RequestId: {request_id} Error: Couldn't find valid bootstrap(s): [/var/task/bootstrap]"
            ),
        ),
        // Bulkhead's own failure, not the function's: a 500, logged with its cause.
        StartFailure::Exited(Exit {
            cause: ExitCause::SetupFailed(step),
            ..
        }) => {
            return Err(InvokeError::Internal(format!(
                "the environment could not be set up: {step}"
            )));
        }
        StartFailure::Exited(exit) => died(&request_id, Some(&exit)),
        // UNCONFIRMED wording: Lambda retries a slow Init during the invoke; Bulkhead reports it.
        StartFailure::TimedOut(d) => error_body(
            "Sandbox.Timedout",
            &format!(
                "RequestId: {request_id} Error: Init timed out after {:.2} seconds",
                d.as_secs_f64()
            ),
        ),
    };
    Ok(failed(&request_id, payload, 0, true, None))
}

/// START / output / END / REPORT for one invocation, the last 4 KB, base64.
pub(crate) async fn tail(
    env: &Env<LiveEnv>,
    mark: u64,
    request_id: &str,
    t: &FunctionTarget,
    duration: Duration,
) -> String {
    // Output travels on pipes, the response on a socket: give lines written just before the
    // response a moment to arrive.
    tokio::time::sleep(Duration::from_millis(5)).await;
    let lines = env
        .inner()
        .tail
        .lock()
        .map(|t| t.since(mark))
        .unwrap_or_default();
    let max_used_mb = env.inner().env.usage().peak_memory_bytes.div_ceil(1 << 20);
    let ms = duration.as_secs_f64() * 1e3;
    let mut text = format!("START RequestId: {request_id} Version: {}\n", t.version);
    for l in lines {
        text.push_str(&l);
        text.push('\n');
    }
    text.push_str(&format!(
        "END RequestId: {request_id}\nREPORT RequestId: {request_id}\tDuration: {ms:.2} ms\tBilled Duration: {} ms\tMemory Size: {} MB\tMax Memory Used: {max_used_mb} MB\t\n",
        ms.ceil() as u64,
        t.memory_mb
    ));
    let mut start = text.len().saturating_sub(TAIL_BYTES);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    base64::engine::general_purpose::STANDARD.encode(&text.as_bytes()[start..])
}

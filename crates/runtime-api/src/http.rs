//! The four routes of the Runtime API over HTTP/1.1.

use std::convert::Infallible;
use std::sync::Arc;

use bulkhead_sandbox::RuntimeConn;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};

use crate::{InitError, InitState, MAX_RESPONSE, Outcome, Pending, Shared};

const PREFIX: &str = "/2018-06-01/runtime/";
/// Ids remembered as answered; a runtime only ever re-posts the last one or two.
const ANSWERED_MEMORY: usize = 8;

type Reply = Response<Full<Bytes>>;

pub(crate) async fn serve(shared: Arc<Shared>, conn: RuntimeConn) {
    let io = hyper_util::rt::TokioIo::new(conn);
    let service = hyper::service::service_fn(move |req| handle(shared.clone(), req));
    if let Err(e) = hyper::server::conn::http1::Builder::new()
        .serve_connection(io, service)
        .await
    {
        tracing::debug!(error = %e, "runtime api connection ended");
    }
}

fn json(status: StatusCode, body: String) -> Reply {
    let mut res = Response::new(Full::new(Bytes::from(body)));
    *res.status_mut() = status;
    res.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    res
}

fn accepted() -> Reply {
    json(StatusCode::ACCEPTED, r#"{"status":"OK"}"#.into())
}

/// The Runtime API's error shape (the emulator's): `{"errorMessage","errorType"}`.
fn error(status: StatusCode, error_type: &str, message: &str) -> Reply {
    json(
        status,
        format!(r#"{{"errorMessage":"{message}","errorType":"{error_type}"}}"#),
    )
}

async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Result<Reply, Infallible> {
    let path = req.uri().path().to_owned();
    let Some(route) = path.strip_prefix(PREFIX) else {
        return Ok(error(
            StatusCode::NOT_FOUND,
            "NotFound",
            "Unknown Runtime API path",
        ));
    };
    let reply = match (req.method().clone(), route) {
        (Method::GET, "invocation/next") => next(&shared).await,
        (Method::POST, "init/error") => init_error(&shared, req).await,
        (Method::POST, rest) => match rest
            .strip_prefix("invocation/")
            .and_then(|r| r.rsplit_once('/'))
        {
            Some((id, "response")) => post_result(&shared, id, req, false).await,
            Some((id, "error")) => post_result(&shared, id, req, true).await,
            _ => error(
                StatusCode::NOT_FOUND,
                "NotFound",
                "Unknown Runtime API path",
            ),
        },
        _ => error(
            StatusCode::NOT_FOUND,
            "NotFound",
            "Unknown Runtime API path",
        ),
    };
    Ok(reply)
}

async fn next(shared: &Shared) -> Reply {
    // The first /next ends Init.
    shared.init.send_if_modified(|s| {
        if *s == InitState::Running {
            *s = InitState::Ready;
            true
        } else {
            false
        }
    });
    let pending = shared.queue_rx.lock().await.recv().await;
    let Some(Pending { invocation, reply }) = pending else {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Runtime.Unknown",
            "The environment is shutting down",
        );
    };
    if let Ok(mut current) = shared.current.lock() {
        // A runtime asking for more work without answering gives up the invocation it had: its
        // invoker hears `Gone` instead of waiting for its deadline.
        current.request_id = Some(invocation.request_id.clone());
        current.reply = Some(reply);
    }
    let mut res = Response::new(Full::new(invocation.payload));
    let headers = res.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let mut set = |name: &'static str, value: &str| {
        // Headers are sent only when non-empty, as the reference emulator does; a value that
        // cannot be a header (it came from a client) is dropped rather than sent mangled.
        if !value.is_empty()
            && let Ok(v) = HeaderValue::from_str(value)
        {
            headers.insert(name, v);
        }
    };
    set("lambda-runtime-aws-request-id", &invocation.request_id);
    set(
        "lambda-runtime-deadline-ms",
        &invocation.deadline_ms.to_string(),
    );
    set(
        "lambda-runtime-invoked-function-arn",
        &invocation.function_arn,
    );
    set("lambda-runtime-trace-id", &invocation.trace_id);
    set(
        "lambda-runtime-client-context",
        invocation.client_context.as_deref().unwrap_or(""),
    );
    set(
        "lambda-runtime-cognito-identity",
        invocation.cognito_identity.as_deref().unwrap_or(""),
    );
    set(
        "lambda-runtime-aws-tenant-id",
        invocation.tenant_id.as_deref().unwrap_or(""),
    );
    res
}

fn header(req: &Request<Incoming>, name: &str) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

async fn post_result(shared: &Shared, id: &str, req: Request<Incoming>, is_error: bool) -> Reply {
    let error_type = header(&req, "lambda-runtime-function-error-type");
    // Read the body before answering, even to refuse it: a keep-alive connection must be left
    // at a message boundary.
    let body = Limited::new(req.into_body(), MAX_RESPONSE)
        .collect()
        .await
        .map(|b| b.to_bytes());
    let reply = {
        let Ok(mut current) = shared.current.lock() else {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Runtime.Unknown",
                "internal error",
            );
        };
        if current.request_id.as_deref() != Some(id) {
            return if current.answered.iter().any(|a| a == id) {
                error(
                    StatusCode::FORBIDDEN,
                    "InvalidStateTransition",
                    "Invalid State Transition",
                )
            } else {
                error(
                    StatusCode::BAD_REQUEST,
                    "InvalidRequestID",
                    "Invalid request ID",
                )
            };
        }
        current.request_id = None;
        if current.answered.len() == ANSWERED_MEMORY {
            current.answered.pop_front();
        }
        current.answered.push_back(id.to_owned());
        current.reply.take()
    };
    let outcome = match body {
        Ok(body) if is_error => Outcome::Error { error_type, body },
        Ok(body) => Outcome::Response(body),
        Err(_) => Outcome::ResponseTooLarge,
    };
    let too_large = outcome == Outcome::ResponseTooLarge;
    if let Some(r) = reply {
        let _ = r.send(outcome);
        // Let the invoker answer its client before this 202 wakes the runtime: on a busy host
        // the runtime's next `/next` would otherwise compete with the client's response.
        tokio::task::yield_now().await;
    }
    if too_large {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLarge",
            "Response payload size exceeded maximum allowed payload size",
        );
    }
    accepted()
}

async fn init_error(shared: &Shared, req: Request<Incoming>) -> Reply {
    let error_type = header(&req, "lambda-runtime-function-error-type");
    let body = Limited::new(req.into_body(), MAX_RESPONSE)
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    shared
        .init
        .send_replace(InitState::Failed(InitError { error_type, body }));
    accepted()
}

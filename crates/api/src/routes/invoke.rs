//! `POST /2015-03-31/functions/{name}/invocations`: Lambda's Invoke, with tenant isolation.
//!
//! Order of checks, before anything runs (lambda-api.md §8): resolve the function (404), the
//! invocation and log types, the tenant rules (PER_TENANT needs a tenant id, other functions
//! refuse one, and the id must match 1–256 of `[a-zA-Z0-9._:/=+\-@ ]`), the client context.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine;
use bulkhead_model::{TenantId, ValidationError};
use bulkhead_router::{InvokeError, InvokeRequest};

use super::{blocking, function_ref};
use crate::input::Query;
use crate::{ApiError, AppState};

/// `X-Amz-Client-Context` may carry at most this much base64.
const CLIENT_CONTEXT_MAX: usize = 3583;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/2015-03-31/functions/{name}/invocations", post(invoke))
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, ApiError> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .map(Some)
            .map_err(|_| ApiError::invalid_parameter(format!("{name} must be ASCII"))),
    }
}

#[derive(PartialEq, Eq)]
enum InvocationType {
    RequestResponse,
    Event,
    DryRun,
}

fn invocation_type(headers: &HeaderMap) -> Result<InvocationType, ApiError> {
    match header(headers, "x-amz-invocation-type")? {
        None | Some("RequestResponse") => Ok(InvocationType::RequestResponse),
        Some("Event") => Ok(InvocationType::Event),
        Some("DryRun") => Ok(InvocationType::DryRun),
        Some(other) => Err(ApiError::validation(
            ValidationError::new(
                "invocationType",
                other,
                "Member must satisfy enum value set: [Event, RequestResponse, DryRun]",
            )
            .to_string(),
        )),
    }
}

fn wants_tail(headers: &HeaderMap) -> Result<bool, ApiError> {
    match header(headers, "x-amz-log-type")? {
        None | Some("None") => Ok(false),
        Some("Tail") => Ok(true),
        Some(other) => Err(ApiError::validation(
            ValidationError::new(
                "logType",
                other,
                "Member must satisfy enum value set: [None, Tail]",
            )
            .to_string(),
        )),
    }
}

/// The decoded client context: base64 of a JSON object, delivered to the runtime decoded.
fn client_context(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(raw) = header(headers, "x-amz-client-context")? else {
        return Ok(None);
    };
    // UNCONFIRMED wording for both refusals.
    if raw.len() > CLIENT_CONTEXT_MAX {
        return Err(ApiError::invalid_parameter(format!(
            "Client context must be at most {CLIENT_CONTEXT_MAX} bytes of base64."
        )));
    }
    let bad = || {
        ApiError::invalid_parameter("Client context must be a valid Base64-encoded JSON object.")
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(raw.trim())
        .map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(serde_json::Value::Object(_)) => Ok(Some(text)),
        _ => Err(bad()),
    }
}

/// Lambda's tenant rules, with AWS's words (lambda-api.md §2.2).
fn tenant(per_tenant: bool, raw: Option<&str>) -> Result<Option<TenantId>, ApiError> {
    match (per_tenant, raw) {
        (true, None) => Err(ApiError::invalid_parameter(
            "The invoked function is enabled with tenancy configuration. Add a valid tenant ID in your request and try again.",
        )),
        // UNCONFIRMED wording (aws-sam-cli's); AWS documents the 400 InvalidParameterValueException.
        (false, Some(_)) => Err(ApiError::invalid_parameter(
            "The invoked function is not enabled with tenancy configuration. Remove the tenant ID from your request and try again.",
        )),
        (true, Some(raw)) => TenantId::parse(raw)
            .map(Some)
            .map_err(|e| ApiError::validation(e.to_string())),
        (false, None) => Ok(None),
    }
}

async fn invoke(
    State(state): State<AppState>,
    Path(name): Path<String>,
    query: Query,
    headers: HeaderMap,
    payload: Bytes,
) -> Result<Response, ApiError> {
    let fref = function_ref(&state, &name, query.get("Qualifier"))?;
    let kind = invocation_type(&headers)?;
    let tail = wants_tail(&headers)?;
    // Cached after the first call; only a miss goes to the database (on the blocking pool).
    let resolved = match state.registry.cached(&fref) {
        Some(hit) => hit,
        None => {
            let fref = fref.clone();
            blocking(&state, move |r| r.resolve_cached(&fref)).await?
        }
    };
    let tenant = tenant(
        resolved.tenancy.is_some(),
        header(&headers, "x-amz-tenant-id")?,
    )?;
    let client_context = client_context(&headers)?;
    if tail && kind != InvocationType::RequestResponse {
        return Err(ApiError::invalid_parameter(
            "LogType Tail is only supported for RequestResponse invocations.",
        ));
    }
    let executed =
        HeaderValue::from_str(&resolved.executed_version).map_err(|_| ApiError::internal())?;
    match kind {
        InvocationType::DryRun => {
            return Ok((
                StatusCode::NO_CONTENT,
                [("X-Amz-Executed-Version", executed)],
            )
                .into_response());
        }
        InvocationType::Event => {
            // Accepting an Event promises it will run; until invocations are queued durably,
            // saying no is the honest answer.
            return Err(ApiError::invalid_parameter(
                "Asynchronous invocation (InvocationType Event) is not supported by Bulkhead yet; use RequestResponse.",
            ));
        }
        InvocationType::RequestResponse => {}
    }
    let Some(invoker) = state.invoker.clone() else {
        return Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "ServiceException",
            "Execution environments are not available on this host (see `bulkhead doctor`).",
        ));
    };
    let target = invoker.target(&state.registry, &resolved)?;
    let invoked_arn = match &fref.qualifier {
        Some(q) => state
            .registry
            .function_arn(fref.name.as_str(), Some(&q.to_string())),
        None => state.registry.function_arn(fref.name.as_str(), None),
    };
    let request = InvokeRequest {
        target,
        tenant,
        invoked_arn,
        payload,
        client_context,
        tail,
    };
    // DEBUG for the same reason as the request span; the router logs each invocation's
    // platform.report at INFO.
    let span = tracing::debug_span!("invoke", function = %fref.name, version = %resolved.executed_version, tenant = request.tenant.as_ref().map(|t| t.as_str()));
    let result = tracing::Instrument::instrument(invoker.router.invoke(request), span).await;
    let out = match result {
        Ok(out) => out,
        Err(InvokeError::TooManyRequests(refusal)) => {
            return Err(ApiError::too_many_requests(refusal.reason()));
        }
        Err(e) => {
            tracing::error!(function = %fref.name, error = %crate::error::error_chain(&e), "invoke failed");
            return Err(ApiError::internal());
        }
    };
    let mut res = (StatusCode::OK, out.payload).into_response();
    let h = res.headers_mut();
    h.insert("X-Amz-Executed-Version", executed);
    if let Ok(id) = HeaderValue::from_str(&out.request_id) {
        h.insert("x-amzn-RequestId", id);
    }
    if let Some(kind) = out.function_error {
        h.insert("X-Amz-Function-Error", HeaderValue::from_static(kind));
    }
    if let Some(tail) = out.log_tail.and_then(|t| HeaderValue::from_str(&t).ok()) {
        h.insert("X-Amz-Log-Result", tail);
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_rules_use_aws_words() {
        let e = tenant(true, None).unwrap_err();
        assert_eq!(e.code, "InvalidParameterValueException");
        assert!(
            e.message
                .starts_with("The invoked function is enabled with tenancy configuration.")
        );
        let e = tenant(false, Some("blue")).unwrap_err();
        assert!(e.message.contains("Remove the tenant ID"));
        assert_eq!(
            tenant(true, Some(&"x".repeat(257))).unwrap_err().code,
            "ValidationException"
        );
        assert_eq!(
            tenant(true, Some("bad#id")).unwrap_err().code,
            "ValidationException"
        );
        assert_eq!(
            tenant(true, Some("blue"))
                .expect("ok")
                .map(|t| t.as_str().to_owned())
                .as_deref(),
            Some("blue")
        );
        assert!(tenant(false, None).expect("ok").is_none());
    }

    #[test]
    fn client_context_must_be_base64_json_object() {
        let mut h = HeaderMap::new();
        h.insert(
            "x-amz-client-context",
            HeaderValue::from_static("eyJhIjoxfQ=="),
        );
        assert_eq!(
            client_context(&h).expect("ok").as_deref(),
            Some("{\"a\":1}")
        );
        h.insert(
            "x-amz-client-context",
            HeaderValue::from_static("bm90IGpzb24="),
        );
        assert!(client_context(&h).is_err());
        h.insert("x-amz-client-context", HeaderValue::from_static("%%%"));
        assert!(client_context(&h).is_err());
    }
}

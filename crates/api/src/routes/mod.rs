//! Lambda's URIs, one file per resource. Paths and methods are botocore's service model's.

mod account;
mod aliases;
mod code;
mod concurrency;
mod environments;
mod functions;
mod invoke;
mod unsupported;
mod versions;

use axum::Router;
use axum::http::StatusCode;
use bulkhead_model::FunctionRef;
use bulkhead_registry::{Registry, RegistryError};

use crate::{ApiError, AppState};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .merge(functions::routes())
        .merge(versions::routes())
        .merge(aliases::routes())
        .merge(concurrency::routes())
        .merge(account::routes())
        .merge(unsupported::routes())
        .merge(invoke::routes())
        .merge(environments::routes())
}

pub(crate) fn code_download() -> Router<AppState> {
    code::routes()
}

pub(crate) async fn unknown_operation() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "UnknownOperationException",
        "Unknown operation",
    )
}

/// Runs registry work on the blocking pool: SQLite and zip extraction block the thread.
pub(crate) async fn blocking<T: Send + 'static>(
    state: &AppState,
    work: impl FnOnce(&Registry) -> Result<T, RegistryError> + Send + 'static,
) -> Result<T, ApiError> {
    let registry = state.registry.clone();
    match tokio::task::spawn_blocking(move || work(&registry)).await {
        Ok(result) => result.map_err(ApiError::from),
        Err(e) => {
            tracing::error!(error = %e, "registry task failed");
            Err(ApiError::internal())
        }
    }
}

/// Parses the `{FunctionName}` URI segment with an optional `?Qualifier=`.
pub(crate) fn function_ref(
    state: &AppState,
    raw: &str,
    qualifier: Option<&str>,
) -> Result<FunctionRef, ApiError> {
    Ok(state.registry.function_ref(raw, qualifier)?)
}

/// A list page as Lambda returns it: `{"<Items>": [...], "NextMarker": "..."}`, the marker only
/// when there is more.
pub(crate) fn page_body<T: serde::Serialize>(
    items_key: &str,
    page: bulkhead_registry::Page<T>,
) -> serde_json::Value {
    let mut body = serde_json::json!({ items_key: page.items });
    if let Some(m) = page.next_marker {
        body["NextMarker"] = m.into();
    }
    body
}

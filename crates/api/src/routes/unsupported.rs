//! Operations Lambda has and Bulkhead does not (yet) run. They answer with a clear error of the
//! modelled type instead of an unknown-route 404, and PER_TENANT functions get the reason AWS gives:
//! function URLs and provisioned concurrency cannot be combined with tenant isolation.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::put;
use bulkhead_model::TenancyMode;

use super::{blocking, function_ref};
use crate::input::Query;
use crate::{ApiError, AppState};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/2021-10-31/functions/{name}/url",
            put(url).post(url).get(url_not_found).delete(url_not_found),
        )
        .route(
            "/2019-09-30/functions/{name}/provisioned-concurrency",
            put(provisioned)
                .get(provisioned_not_found)
                .delete(provisioned_not_found),
        )
}

async fn tenancy(
    state: &AppState,
    name: &str,
    qualifier: Option<&str>,
) -> Result<Option<TenancyMode>, ApiError> {
    let fref = function_ref(state, name, qualifier)?;
    Ok(blocking(state, move |r| r.resolve(&fref)).await?.tenancy)
}

async fn url(State(state): State<AppState>, Path(name): Path<String>, query: Query) -> ApiError {
    match tenancy(&state, &name, query.get("Qualifier")).await {
        Err(e) => e,
        // UNCONFIRMED wording: AWS documents the restriction, not its message.
        Ok(Some(_)) => ApiError::invalid_parameter(
            "Function URLs are not supported for functions with tenant isolation mode (TenancyConfig PER_TENANT): a URL cannot carry a tenant id. Invoke the function with X-Amz-Tenant-Id instead.",
        ),
        Ok(None) => ApiError::invalid_parameter(
            "Function URLs are not supported by Bulkhead yet: invoke the function through the Invoke API.",
        ),
    }
}

async fn url_not_found(
    State(state): State<AppState>,
    Path(name): Path<String>,
    query: Query,
) -> ApiError {
    match tenancy(&state, &name, query.get("Qualifier")).await {
        Err(e) => e,
        Ok(_) => ApiError::new(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            "The resource you requested does not exist.",
        ),
    }
}

async fn provisioned(
    State(state): State<AppState>,
    Path(name): Path<String>,
    query: Query,
) -> ApiError {
    match tenancy(&state, &name, query.get("Qualifier")).await {
        Err(e) => e,
        // UNCONFIRMED wording, as above.
        Ok(Some(_)) => ApiError::invalid_parameter(
            "Provisioned concurrency is not supported for functions with tenant isolation mode (TenancyConfig PER_TENANT).",
        ),
        Ok(None) => {
            ApiError::invalid_parameter("Provisioned concurrency is not supported by Bulkhead yet.")
        }
    }
}

async fn provisioned_not_found(
    State(state): State<AppState>,
    Path(name): Path<String>,
    query: Query,
) -> ApiError {
    match tenancy(&state, &name, query.get("Qualifier")).await {
        Err(e) => e,
        Ok(_) => ApiError::new(
            StatusCode::NOT_FOUND,
            "ProvisionedConcurrencyConfigNotFoundException",
            "No Provisioned Concurrency Config found for this function",
        ),
    }
}

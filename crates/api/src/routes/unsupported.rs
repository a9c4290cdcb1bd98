//! Operations Lambda has and Bulkhead does not (yet) run. They answer with a clear error of the
//! modelled type instead of an unknown-route 404, and PER_TENANT functions get the reason AWS gives:
//! function URLs and provisioned concurrency cannot be combined with tenant isolation.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::put;

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

/// Resolves the function (so a missing one is a 404 as everywhere else), then answers by its
/// tenancy: `isolated` for a PER_TENANT function, `otherwise` for the rest.
async fn answer(
    state: &AppState,
    name: &str,
    query: &Query,
    isolated: ApiError,
    otherwise: ApiError,
) -> ApiError {
    let fref = match function_ref(state, name, query.get("Qualifier")) {
        Ok(f) => f,
        Err(e) => return e,
    };
    match blocking(state, move |r| r.resolve(&fref)).await {
        Err(e) => e,
        Ok(resolved) if resolved.tenancy.is_some() => isolated,
        Ok(_) => otherwise,
    }
}

fn not_found(code: &'static str, message: &str) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, code, message)
}

// UNCONFIRMED wording below: AWS documents that URLs and provisioned concurrency cannot be
// combined with tenant isolation, not its messages.

async fn url(State(state): State<AppState>, Path(name): Path<String>, query: Query) -> ApiError {
    let isolated = ApiError::invalid_parameter(
        "Function URLs are not supported for functions with tenant isolation mode (TenancyConfig PER_TENANT): a URL cannot carry a tenant id. Invoke the function with X-Amz-Tenant-Id instead.",
    );
    let otherwise = ApiError::invalid_parameter(
        "Function URLs are not supported by Bulkhead yet: invoke the function through the Invoke API.",
    );
    answer(&state, &name, &query, isolated, otherwise).await
}

async fn url_not_found(
    State(state): State<AppState>,
    Path(name): Path<String>,
    query: Query,
) -> ApiError {
    let missing = || {
        not_found(
            "ResourceNotFoundException",
            "The resource you requested does not exist.",
        )
    };
    answer(&state, &name, &query, missing(), missing()).await
}

async fn provisioned(
    State(state): State<AppState>,
    Path(name): Path<String>,
    query: Query,
) -> ApiError {
    let isolated = ApiError::invalid_parameter(
        "Provisioned concurrency is not supported for functions with tenant isolation mode (TenancyConfig PER_TENANT).",
    );
    let otherwise =
        ApiError::invalid_parameter("Provisioned concurrency is not supported by Bulkhead yet.");
    answer(&state, &name, &query, isolated, otherwise).await
}

async fn provisioned_not_found(
    State(state): State<AppState>,
    Path(name): Path<String>,
    query: Query,
) -> ApiError {
    let missing = || {
        not_found(
            "ProvisionedConcurrencyConfigNotFoundException",
            "No Provisioned Concurrency Config found for this function",
        )
    };
    answer(&state, &name, &query, missing(), missing()).await
}

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::{Json, Router};
use serde_json::{Value, json};

use super::{blocking, function_ref};
use crate::input::Body;
use crate::{ApiError, AppState};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/2017-10-31/functions/{name}/concurrency",
            put(put_concurrency).delete(delete),
        )
        .route(
            "/2019-09-30/functions/{name}/concurrency",
            get(get_concurrency),
        )
}

async fn put_concurrency(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Body(input): Body<bulkhead_registry::ConcurrencyInput>,
) -> Result<Json<Value>, ApiError> {
    let fref = function_ref(&state, &name, None)?;
    let out = blocking(&state, move |r| r.put_concurrency(&fref, input)).await?;
    Ok(Json(json!(out)))
}

async fn get_concurrency(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let fref = function_ref(&state, &name, None)?;
    let out = blocking(&state, move |r| r.get_concurrency(&fref)).await?;
    Ok(Json(json!(out)))
}

async fn delete(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    let fref = function_ref(&state, &name, None)?;
    blocking(&state, move |r| r.delete_concurrency(&fref)).await?;
    Ok(StatusCode::NO_CONTENT)
}

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use super::{blocking, function_ref};
use crate::input::{Body, Query};
use crate::{ApiError, AppState};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/2015-03-31/functions/{name}/aliases",
            post(create).get(list),
        )
        .route(
            "/2015-03-31/functions/{name}/aliases/{alias}",
            get(get_alias).put(update).delete(delete),
        )
}

async fn create(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Body(input): Body<bulkhead_registry::AliasInput>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let fref = function_ref(&state, &name, None)?;
    let alias = blocking(&state, move |r| r.create_alias(&fref, input)).await?;
    Ok((StatusCode::CREATED, Json(json!(alias))))
}

async fn list(
    State(state): State<AppState>,
    Path(name): Path<String>,
    query: Query,
) -> Result<Json<Value>, ApiError> {
    let fref = function_ref(&state, &name, None)?;
    let version = query.get("FunctionVersion").map(str::to_owned);
    let marker = query.get("Marker").map(str::to_owned);
    let max = query.int("MaxItems", "maxItems")?;
    let page = blocking(&state, move |r| {
        r.list_aliases(&fref, version.as_deref(), marker.as_deref(), max)
    })
    .await?;
    Ok(Json(super::page_body("Aliases", page)))
}

async fn get_alias(
    State(state): State<AppState>,
    Path((name, alias)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let fref = function_ref(&state, &name, None)?;
    let alias = blocking(&state, move |r| r.get_alias(&fref, &alias)).await?;
    Ok(Json(json!(alias)))
}

async fn update(
    State(state): State<AppState>,
    Path((name, alias)): Path<(String, String)>,
    Body(input): Body<bulkhead_registry::AliasInput>,
) -> Result<Json<Value>, ApiError> {
    let fref = function_ref(&state, &name, None)?;
    let alias = blocking(&state, move |r| r.update_alias(&fref, &alias, input)).await?;
    Ok(Json(json!(alias)))
}

async fn delete(
    State(state): State<AppState>,
    Path((name, alias)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let fref = function_ref(&state, &name, None)?;
    blocking(&state, move |r| r.delete_alias(&fref, &alias)).await?;
    Ok(StatusCode::NO_CONTENT)
}

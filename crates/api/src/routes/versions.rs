use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::{blocking, function_ref};
use crate::input::{Body, Query};
use crate::{ApiError, AppState};

pub(super) fn routes() -> Router<AppState> {
    Router::new().route(
        "/2015-03-31/functions/{name}/versions",
        post(publish).get(list),
    )
}

async fn publish(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Body(input): Body<bulkhead_registry::PublishVersionInput>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let fref = function_ref(&state, &name, None)?;
    let config = blocking(&state, move |r| r.publish_version(&fref, input)).await?;
    Ok((StatusCode::CREATED, Json(json!(config))))
}

async fn list(
    State(state): State<AppState>,
    Path(name): Path<String>,
    query: Query,
) -> Result<Json<Value>, ApiError> {
    let fref = function_ref(&state, &name, None)?;
    let marker = query.get("Marker").map(str::to_owned);
    let max = query.int("MaxItems", "maxItems")?;
    let page = blocking(&state, move |r| {
        r.list_versions(&fref, marker.as_deref(), max)
    })
    .await?;
    Ok(Json(super::page_body("Versions", page)))
}

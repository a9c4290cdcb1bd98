use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde_json::{Value, json};

use super::{blocking, function_ref};
use crate::input::{Body, Query};
use crate::{ApiError, AppState};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        // botocore lists at `/functions/` and creates at `/functions`; accept both spellings.
        .route("/2015-03-31/functions", post(create).get(list))
        .route("/2015-03-31/functions/", post(create).get(list))
        .route(
            "/2015-03-31/functions/{name}",
            get(get_function).delete(delete),
        )
        .route(
            "/2015-03-31/functions/{name}/configuration",
            get(get_config).put(update_config),
        )
        .route("/2015-03-31/functions/{name}/code", put(update_code))
}

async fn create(
    State(state): State<AppState>,
    Body(input): Body<bulkhead_registry::CreateFunctionInput>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let config = blocking(&state, move |r| r.create_function(input)).await?;
    Ok((StatusCode::CREATED, Json(json!(config))))
}

async fn list(State(state): State<AppState>, query: Query) -> Result<Json<Value>, ApiError> {
    let marker = query.get("Marker").map(str::to_owned);
    let max = query.int("MaxItems", "maxItems")?;
    let all = match query.get("FunctionVersion") {
        None => false,
        Some("ALL") => true,
        Some(other) => {
            return Err(ApiError::validation(
                bulkhead_model::ValidationError::new(
                    "functionVersion",
                    other,
                    "Member must satisfy enum value set: [ALL]",
                )
                .to_string(),
            ));
        }
    };
    let page = blocking(&state, move |r| {
        r.list_functions(marker.as_deref(), max, all)
    })
    .await?;
    Ok(Json(super::page_body("Functions", page)))
}

async fn get_function(
    State(state): State<AppState>,
    Path(name): Path<String>,
    query: Query,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let fref = function_ref(&state, &name, query.get("Qualifier"))?;
    let details = blocking(&state, move |r| r.get_function(&fref)).await?;
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    let mut body = json!(details);
    // AWS answers with a pre-signed S3 URL; Bulkhead serves the package itself under its own
    // prefix, with a URL it signs.
    body["Code"] = json!({
        "RepositoryType": "S3",
        "Location": super::code::location(&state, host, &details.code_sha256_hex),
    });
    Ok(Json(body))
}

async fn get_config(
    State(state): State<AppState>,
    Path(name): Path<String>,
    query: Query,
) -> Result<Json<Value>, ApiError> {
    let fref = function_ref(&state, &name, query.get("Qualifier"))?;
    let config = blocking(&state, move |r| r.get_config(&fref)).await?;
    Ok(Json(json!(config)))
}

async fn update_config(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Body(input): Body<bulkhead_registry::UpdateConfigInput>,
) -> Result<Json<Value>, ApiError> {
    let fref = function_ref(&state, &name, None)?;
    let config = blocking(&state, move |r| r.update_config(&fref, input)).await?;
    Ok(Json(json!(config)))
}

async fn update_code(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Body(input): Body<bulkhead_registry::UpdateCodeInput>,
) -> Result<Json<Value>, ApiError> {
    let fref = function_ref(&state, &name, None)?;
    let config = blocking(&state, move |r| r.update_code(&fref, input)).await?;
    Ok(Json(json!(config)))
}

async fn delete(
    State(state): State<AppState>,
    Path(name): Path<String>,
    query: Query,
) -> Result<StatusCode, ApiError> {
    let fref = function_ref(&state, &name, query.get("Qualifier"))?;
    blocking(&state, move |r| r.delete_function(&fref)).await?;
    Ok(StatusCode::NO_CONTENT)
}

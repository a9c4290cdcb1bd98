use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::blocking;
use crate::{ApiError, AppState};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/2016-08-19/account-settings", get(account_settings))
        .route("/2016-08-19/account-settings/", get(account_settings))
}

async fn account_settings(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let settings = blocking(&state, |r| r.account_settings()).await?;
    Ok(Json(json!(settings)))
}

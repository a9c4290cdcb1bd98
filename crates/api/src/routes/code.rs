//! `GET /bulkhead/v1/code/{sha256}`: the package behind GetFunction's `Code.Location`.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use crate::{ApiError, AppState};

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/bulkhead/v1/code/{sha256}", get(download))
}

async fn download(State(state): State<AppState>, Path(sha256): Path<String>) -> Result<impl IntoResponse, ApiError> {
    let not_found = || ApiError::new(StatusCode::NOT_FOUND, "ResourceNotFoundException", "Code package not found");
    // The hex is joined into a path: only a real SHA-256 may pass.
    if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()) {
        return Err(not_found());
    }
    let path = state.registry.code_zip(&sha256);
    let bytes = tokio::fs::read(&path).await.map_err(|_| not_found())?;
    Ok(([(header::CONTENT_TYPE, "application/zip")], bytes))
}

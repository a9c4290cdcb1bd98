//! `GET /bulkhead/v1/code/{sha256}?Expires=&Signature=`: the package behind GetFunction's
//! `Code.Location`. Like AWS's pre-signed S3 URL it needs no credentials: the server signed the
//! URL (HMAC over the package hash and expiry) when it answered an authenticated GetFunction.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use crate::input::Query;
use crate::{ApiError, AppState};

/// AWS's code URLs are valid for ten minutes.
const VALID_FOR: Duration = Duration::from_secs(600);

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/bulkhead/v1/code/{sha256}", get(download))
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn signature(key: &[u8], sha256: &str, expires: u64) -> String {
    bulkhead_sigv4::hmac_sha256_hex(key, format!("{sha256}\n{expires}").as_bytes())
}

/// The URL GetFunction returns for a package.
pub(crate) fn location(state: &AppState, host: &str, sha256: &str) -> String {
    let expires = now_secs() + VALID_FOR.as_secs();
    format!(
        "http://{host}/bulkhead/v1/code/{sha256}?Expires={expires}&Signature={}",
        signature(&state.url_key[..], sha256, expires)
    )
}

async fn download(
    State(state): State<AppState>,
    Path(sha256): Path<String>,
    query: Query,
) -> Result<impl IntoResponse, ApiError> {
    let denied = |m: &str| ApiError::new(StatusCode::FORBIDDEN, "AccessDeniedException", m);
    let expires: u64 = query
        .get("Expires")
        .and_then(|e| e.parse().ok())
        .ok_or_else(|| denied("Missing or malformed Expires"))?;
    let given = query.get("Signature").unwrap_or_default();
    let expected = signature(&state.url_key[..], &sha256, expires);
    // Equal length hex strings; a timing leak of a per-process key's MAC over public data buys nothing.
    if given != expected {
        return Err(denied("The URL signature does not match"));
    }
    if now_secs() > expires {
        return Err(denied("The URL has expired; call GetFunction again"));
    }
    // A signature over a non-hash cannot be forged, but only a real SHA-256 may become a path.
    if !bulkhead_code::is_sha256_hex(&sha256) {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            "Code package not found",
        ));
    }
    let bytes = tokio::fs::read(state.registry.code_zip(&sha256))
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "ResourceNotFoundException",
                "Code package not found",
            )
        })?;
    Ok(([(header::CONTENT_TYPE, "application/zip")], bytes))
}

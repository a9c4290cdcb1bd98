//! `GET /bulkhead/v1/environments`: the live execution environments, for `bulkhead env list`.
//! Bulkhead's own API, so it lives under `/bulkhead/`, and it is SigV4-signed like Lambda's.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::{ApiError, AppState};

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/bulkhead/v1/environments", get(list))
}

async fn list(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let Some(invoker) = &state.invoker else {
        return Ok(Json(json!({ "Environments": [], "Stats": null })));
    };
    let envs: Vec<Value> = invoker
        .router
        .environments()
        .into_iter()
        .map(|e| {
            json!({
                "Id": e.id,
                "FunctionName": e.function,
                "Version": e.version,
                "TenantId": e.tenant,
                "State": e.state,
                "AgeSeconds": e.age.as_secs_f64(),
                "Invocations": e.invocations,
                "MemorySize": e.memory_mb,
                "MaxMemoryUsedBytes": e.peak_memory_bytes,
                "LogStreamName": e.log_stream,
            })
        })
        .collect();
    let stats = invoker.router.stats();
    Ok(Json(json!({
        "Environments": envs,
        "Stats": { "EnvironmentsCreated": stats.environments_created, "EnvironmentsLive": stats.environments_live, "Spares": stats.spares, "Busy": stats.busy },
    })))
}

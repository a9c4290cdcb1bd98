//! The HTTP face of Bulkhead: Lambda's control-plane API, wire-compatible with AWS, behind SigV4.
//!
//! Handlers are thin: they parse the URI and body into the registry's input types, run the
//! registry on the blocking pool (SQLite and zip extraction block), and turn results and
//! [`ApiError`]s into AWS's shapes. Everything Bulkhead offers beyond Lambda lives under
//! `/bulkhead/`, never inside Lambda's paths.

mod auth;
mod error;
mod input;
mod routes;

use std::sync::Arc;

use axum::Router;
use bulkhead_registry::Registry;
use bulkhead_sigv4::Verifier;

pub use error::ApiError;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub registry: Arc<Registry>,
    pub verifier: Arc<Verifier>,
}

/// The whole API: routes, then SigV4 verification and request ids around them.
pub fn app(state: AppState) -> Router {
    routes::router()
        .fallback(routes::unknown_operation)
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth::verify))
        .layer(axum::middleware::from_fn(auth::request_id))
        .layer(axum::extract::DefaultBodyLimit::disable())
        .with_state(state)
}


/// Serves the API on `listener` until `shutdown` completes, then drains open requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app(state)).with_graceful_shutdown(shutdown).await
}

#[cfg(test)]
mod tests;

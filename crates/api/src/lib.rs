//! The HTTP face of Bulkhead: Lambda's control-plane API, wire-compatible with AWS, behind SigV4.
//!
//! Handlers are thin: they parse the URI and body into the registry's input types, run the
//! registry on the blocking pool (SQLite and zip extraction block), and turn results and
//! [`ApiError`]s into AWS's shapes. Everything Bulkhead offers beyond Lambda lives under
//! `/bulkhead/`, never inside Lambda's paths.

mod auth;
mod error;
mod input;
mod invoker;
mod routes;

use std::sync::Arc;

use axum::Router;
use bulkhead_registry::Registry;
use bulkhead_sigv4::Verifier;

pub use error::ApiError;
pub use invoker::Invoker;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub registry: Arc<Registry>,
    pub verifier: Arc<Verifier>,
    /// Signs the download URLs GetFunction hands out; random per process, so a restart
    /// invalidates old URLs (AWS's last ten minutes anyway).
    pub url_key: Arc<[u8; 32]>,
    /// `None` where this host cannot run environments: Invoke then says so.
    pub invoker: Option<Arc<Invoker>>,
}

impl AppState {
    pub fn new(registry: Arc<Registry>, verifier: Arc<Verifier>) -> Self {
        let mut key = [0u8; 32];
        key[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        key[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        Self {
            registry,
            verifier,
            url_key: Arc::new(key),
            invoker: None,
        }
    }
}

/// The whole API: routes, then SigV4 verification and request ids around them.
pub fn app(state: AppState) -> Router {
    let signed = routes::router().fallback(routes::unknown_operation).layer(
        axum::middleware::from_fn_with_state(state.clone(), auth::verify),
    );
    Router::new()
        // Pre-signed by the server itself, like AWS's S3 code locations: no SigV4 header.
        .merge(routes::code_download())
        .merge(signed)
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
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown)
        .await
}

#[cfg(test)]
mod tests;

//! A plain-HTTP transport for the SDK.
//!
//! The SDK's bundled client always links a TLS stack and hyper's client half. The server under
//! test speaks plain HTTP on loopback, and the workspace already compiles `ureq` without TLS for
//! the CLI, so a small connector over it adds nothing to the CI build. ureq blocks, so each call
//! runs on tokio's blocking pool.

use std::time::Duration;

use aws_sdk_lambda::config::http::{HttpRequest, HttpResponse};
use aws_sdk_lambda::config::{HttpClient, RuntimeComponents};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::http::{
    HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_types::body::SdkBody;
use ureq::http;

const MAX_RESPONSE_BYTES: u64 = 64 * 1024 * 1024;

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        // The SDK judges statuses itself and must see every error response as it came.
        .http_status_as_error(false)
        .max_redirects(0)
        // A proxy from the environment must never sit between the tests and the loopback server.
        .proxy(None)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

#[derive(Debug, Clone)]
pub struct PlainHttpClient {
    agent: ureq::Agent,
}

impl PlainHttpClient {
    pub fn new() -> Self {
        Self { agent: agent() }
    }
}

impl HttpClient for PlainHttpClient {
    fn http_connector(
        &self,
        _settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(PlainHttpConnector {
            agent: self.agent.clone(),
        })
    }
}

#[derive(Debug, Clone)]
struct PlainHttpConnector {
    agent: ureq::Agent,
}

impl HttpConnector for PlainHttpConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let agent = self.agent.clone();
        HttpConnectorFuture::new(
            async move { send(agent, request).await.map_err(ConnectorError::io) },
        )
    }
}

async fn send(agent: ureq::Agent, request: HttpRequest) -> Result<HttpResponse, BoxError> {
    let (mut parts, body) = request.try_into_http1x()?.into_parts();
    let body = body
        .bytes()
        .ok_or("streaming request bodies are not supported")?
        .to_vec();
    // ureq writes Content-Length from the body it is given; the value is the same one the SDK
    // signed, and a second copy of the header would be rejected.
    parts.headers.remove(http::header::CONTENT_LENGTH);
    let request = http::Request::from_parts(parts, body);
    let response = tokio::task::spawn_blocking(move || -> Result<_, BoxError> {
        let mut response = agent.run(request)?;
        let bytes = response
            .body_mut()
            .with_config()
            .limit(MAX_RESPONSE_BYTES)
            .read_to_vec()?;
        Ok(response.map(|_| bytes))
    })
    .await??;
    Ok(HttpResponse::try_from(response.map(SdkBody::from))?)
}

/// A bare, unsigned GET outside the SDK: for the pre-signed package URL behind `Code.Location`
/// and for checking that unsigned API requests are refused.
pub async fn raw_get(url: &str) -> http::Response<Vec<u8>> {
    let request = http::Request::get(url).body(()).expect("request");
    tokio::task::spawn_blocking(move || {
        let mut response = agent().run(request).expect("GET");
        let bytes = response.body_mut().read_to_vec().expect("read body");
        response.map(|_| bytes)
    })
    .await
    .expect("blocking GET")
}

//! The CLI's HTTP client: SigV4-signed requests to a Bulkhead (or AWS) Lambda endpoint.

use std::time::SystemTime;

use anyhow::{Context, bail};
use bulkhead_sigv4::{Credentials, Payload, SignOptions, SigningParams};
use serde_json::Value;

use crate::keys;

/// Where to connect and as whom; shared by every client subcommand.
#[derive(clap::Args, Clone)]
pub struct Connection {
    /// The server's base URL.
    #[arg(
        long,
        global = true,
        env = "BULKHEAD_ENDPOINT",
        default_value = "http://127.0.0.1:9000"
    )]
    pub endpoint: String,
    /// Signing region.
    #[arg(long, global = true, env = "AWS_REGION", default_value = "us-east-1")]
    pub region: String,
}

pub struct Client {
    agent: ureq::Agent,
    base: String,
    authority: String,
    region: String,
    creds: Credentials,
}

/// A server answer that is not 2xx, with AWS's error code and message.
#[derive(Debug)]
pub struct ApiFailure {
    pub status: u16,
    pub code: String,
    pub message: String,
}

impl std::fmt::Display for ApiFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.status, self.message)
    }
}

impl std::error::Error for ApiFailure {}

impl Client {
    pub fn new(conn: &Connection) -> anyhow::Result<Self> {
        let base = conn.endpoint.trim_end_matches('/').to_owned();
        let Some(rest) = base.strip_prefix("http://") else {
            bail!("--endpoint must be an http:// URL (got {base})");
        };
        let authority = rest.split('/').next().unwrap_or(rest).to_owned();
        if authority.is_empty() {
            bail!("--endpoint has no host: {base}");
        }
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let creds = match (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
            (Some(id), Some(secret)) => Credentials {
                access_key_id: id,
                secret_access_key: secret,
                session_token: env("AWS_SESSION_TOKEN"),
            },
            _ => Credentials {
                access_key_id: keys::LOCAL_ACCESS_KEY_ID.into(),
                secret_access_key: keys::LOCAL_SECRET_ACCESS_KEY.into(),
                session_token: None,
            },
        };
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        Ok(Self {
            agent,
            base,
            authority,
            region: conn.region.clone(),
            creds,
        })
    }

    /// Sends a signed JSON request; `path` is already percent-encoded, `query` too.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        query: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<Option<Value>> {
        let body = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let content_type: &[(&str, &str)] = if body.is_empty() {
            &[]
        } else {
            &[("content-type", "application/json")]
        };
        let res = self.send(method, path, query, content_type, body)?;
        let text = String::from_utf8_lossy(&res.body);
        let json: Option<Value> = if text.trim().is_empty() {
            None
        } else {
            serde_json::from_str(&text).ok()
        };
        if (200..300).contains(&res.status) {
            return Ok(json);
        }
        let message = json
            .as_ref()
            .and_then(|j| j.get("message").or_else(|| j.get("Message")))
            .and_then(Value::as_str)
            .unwrap_or(text.trim())
            .to_owned();
        let code = res
            .header("x-amzn-ErrorType")
            .map(|c| c.split([':', '#']).next().unwrap_or_default().to_owned())
            .unwrap_or_else(|| "HttpError".into());
        Err(ApiFailure {
            status: res.status,
            code,
            message,
        }
        .into())
    }

    /// Sends a signed request with raw bytes; every `x-amz-*` header given is signed too.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        query: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> anyhow::Result<RawResponse> {
        let mut signed: Vec<(&str, &[u8])> = vec![("host", self.authority.as_bytes())];
        signed.extend(headers.iter().map(|(k, v)| (*k, v.as_bytes())));
        let req = bulkhead_sigv4::Request {
            method,
            path,
            query,
            headers: &signed,
            payload: Payload::Bytes(&body),
        };
        let params = SigningParams {
            region: &self.region,
            service: "lambda",
            time: SystemTime::now(),
            options: SignOptions::default(),
        };
        let sig =
            bulkhead_sigv4::sign(&req, &self.creds, &params).context("signing the request")?;
        let uri = if query.is_empty() {
            format!("{}{path}", self.base)
        } else {
            format!("{}{path}?{query}", self.base)
        };
        let mut builder = ureq::http::Request::builder()
            .method(method)
            .uri(&uri)
            .header("host", &self.authority);
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        for (k, v) in &sig.headers {
            builder = builder.header(*k, v);
        }
        let request = builder.body(body).context("building the request")?;
        let mut res = self
            .agent
            .run(request)
            .with_context(|| format!("connecting to {}", self.base))?;
        let status = res.status().as_u16();
        let headers = res
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = res
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_vec()
            .context("reading the response")?;
        Ok(RawResponse {
            status,
            headers,
            body,
        })
    }
}

pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Percent-encodes one URI path segment (a function name or ARN).
pub fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

//! The one place that speaks AWS's error dialect: status, `x-amzn-ErrorType`, and the JSON body
//! (`{"Type":"User","message":...}`; `Message` for the codes whose model spells it so).

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bulkhead_registry::RegistryError;
use bulkhead_sigv4::AuthError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// `TooManyRequestsException`'s `Reason` member and `Retry-After` header.
    pub throttle: Option<(&'static str, u32)>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            throttle: None,
        }
    }

    pub fn too_many_requests(reason: &'static str) -> Self {
        Self {
            throttle: Some((reason, 1)),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequestsException",
                "Rate exceeded",
            )
        }
    }

    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "InvalidParameterValueException",
            message,
        )
    }

    pub fn bad_content(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "InvalidRequestContentException",
            message,
        )
    }

    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "ValidationException", message)
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "ServiceException",
            "An internal error occurred. Try again.",
        )
    }

    /// The botocore model names the member `Message` for these and `message` for the rest.
    fn message_key(&self) -> &'static str {
        match self.code {
            "ResourceNotFoundException" | "ServiceException" => "Message",
            _ => "message",
        }
    }

    fn fault_type(&self) -> &'static str {
        if self.status.is_server_error() {
            "Service"
        } else {
            "User"
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = serde_json::Map::new();
        body.insert("Type".into(), self.fault_type().into());
        body.insert(self.message_key().into(), self.message.clone().into());
        if let Some((reason, _)) = self.throttle {
            body.insert("Reason".into(), reason.into());
        }
        let mut res = (self.status, axum::Json(serde_json::Value::Object(body))).into_response();
        res.headers_mut()
            .insert("x-amzn-ErrorType", HeaderValue::from_static(self.code));
        if let Some((_, retry_after)) = self.throttle {
            res.headers_mut()
                .insert("Retry-After", HeaderValue::from(retry_after));
        }
        res
    }
}

impl From<RegistryError> for ApiError {
    fn from(e: RegistryError) -> Self {
        match e {
            RegistryError::Validation(v) => ApiError::validation(v.to_string()),
            RegistryError::InvalidParameter(m) => ApiError::invalid_parameter(m),
            RegistryError::BadContent(m) => ApiError::bad_content(m),
            RegistryError::NotFound(m) => {
                ApiError::new(StatusCode::NOT_FOUND, "ResourceNotFoundException", m)
            }
            RegistryError::Conflict(m) => {
                ApiError::new(StatusCode::CONFLICT, "ResourceConflictException", m)
            }
            RegistryError::PreconditionFailed(m) => ApiError::new(
                StatusCode::PRECONDITION_FAILED,
                "PreconditionFailedException",
                m,
            ),
            internal => {
                // Internal detail is logged once, here, and never sent.
                tracing::error!(error = %error_chain(&internal), "registry failure");
                ApiError::internal()
            }
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::FORBIDDEN);
        ApiError::new(status, e.code(), e.message().into_owned())
    }
}

pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

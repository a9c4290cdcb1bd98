use bulkhead_code::CodeError;
use bulkhead_model::ValidationError;
use bulkhead_store::StoreError;

/// What went wrong, in the categories AWS Lambda reports. The API maps each to a code and status.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// A member broke a modelled constraint (`ValidationException`).
    #[error(transparent)]
    Validation(#[from] ValidationError),
    /// A value is well-formed but not acceptable (`InvalidParameterValueException`).
    #[error("{0}")]
    InvalidParameter(String),
    /// The body could not be read as the operation's input (`InvalidRequestContentException`).
    #[error("{0}")]
    BadContent(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// A `RevisionId` or `CodeSha256` precondition did not hold (`PreconditionFailedException`).
    #[error("{0}")]
    PreconditionFailed(String),
    #[error("code package")]
    Code(#[source] CodeError),
    #[error("store")]
    Store(#[from] StoreError),
    #[error("stored document {what} is unreadable")]
    Corrupt {
        what: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("a registry lock was poisoned by a panic")]
    Poisoned,
}

impl From<CodeError> for RegistryError {
    fn from(e: CodeError) -> Self {
        if e.is_user_error() {
            RegistryError::InvalidParameter(e.aws_message())
        } else {
            RegistryError::Code(e)
        }
    }
}

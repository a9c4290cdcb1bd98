//! Why a request failed authentication, with the code and message AWS itself returns.
//!
//! Wording sources (all HTTP 403 from Lambda unless noted):
//! - "Missing Authentication Token" / `MissingAuthenticationTokenException`: Lambda Invoke,
//!   brefphp/bref#1250; API Gateway, aws/chalice#12.
//! - "The security token included in the request is invalid." / `UnrecognizedClientException`:
//!   Lambda ListFunctions via botocore (epsagon/lambda-cost-calculator#3, #6; cloudyr/aws.lambda#10
//!   shows 403 and `x-amzn-errortype`).
//! - Signature mismatch text: scratchstack-aws-signature `auth.rs`; the same text is what every
//!   JSON AWS service returns as `InvalidSignatureException`.
//! - "Signature expired: A is now earlier than B (C - 5 min.)": Lambda CreateFunction,
//!   serverless/serverless#27 (403), aws/aws-cli#4600 (UpdateFunctionCode). "Signature not yet
//!   current: A is still later than B (C + 5 min.)": serverless/enterprise#11.
//! - "Authorization header requires 'Credential' parameter. ... Authorization=VALUE" (VALUE the whole header):
//!   API Gateway front ends (aws/chalice#828, nordcloud/cognitocurl#28,
//!   digitalepidemiologylab/crowdbreaks#3). UNCONFIRMED for Lambda itself, and whether the echo
//!   is the whole header or just the algorithm (scratchstack echoes only the algorithm).
//! - "'X' not a valid key=value pair (missing equal-sign) in Authorization header: '...'.":
//!   amzn/selling-partner-api-docs#836 (API Gateway). UNCONFIRMED for Lambda.
//! - "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term,
//!   got '...'" (`IncompleteSignature`, 400 from STS/IAM/SQS: boto/boto3#1752, hashicorp/vault#2277).
//!   Lambda's status for `IncompleteSignatureException` is UNCONFIRMED; we send 403 like the rest.
//! - "Credential should be scoped to a valid region, not 'x'." and siblings: 403
//!   `InvalidSignatureException`/`SignatureDoesNotMatch` (aws/aws-sdk-js-v3#5576,
//!   aws/aws-toolkit-eclipse#94); service/terminator/date wording from scratchstack, UNCONFIRMED.
//! - "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.":
//!   aws/aws-sdk-php#2469, opensearch-project/opensearch-php#248. The same sentence for
//!   `X-Amz-Date`, `Date` and other `x-amz-*` headers is our extrapolation, UNCONFIRMED.
//! - "Unsupported AWS 'algorithm': 'X'." and "Date must be in ISO-8601 'basic format'. Got 'X'.
//!   See <http://en.wikipedia.org/wiki/ISO_8601>": scratchstack only, UNCONFIRMED.

use std::borrow::Cow;

/// A request that failed SigV4 authentication. Every variant maps to HTTP 403.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// Neither an `Authorization` header nor query-string authentication.
    #[error("request has no authorization header")]
    MissingAuthenticationToken,
    /// `X-Amz-Algorithm` & co. in the query string: presigned URLs are not supported.
    #[error("presigned url authentication is not supported")]
    PresignedUrlUnsupported,
    /// The `Authorization` header or the date is malformed; carries AWS's message.
    #[error("incomplete signature: {0}")]
    IncompleteSignature(String),
    /// The access key id is not configured.
    #[error("unknown access key id {0:?}")]
    UnrecognizedClient(String),
    /// Well-formed, but the signature is not the one we computed.
    #[error("signature does not match")]
    SignatureMismatch,
    /// Well-formed, but rejected before comparing signatures (clock skew, credential scope,
    /// unsigned headers); carries AWS's message.
    #[error("invalid signature: {0}")]
    InvalidSignature(String),
}

const MSG_MISSING_TOKEN: &str = "Missing Authentication Token";
const MSG_PRESIGNED: &str = "Query-string (presigned URL) authentication is not supported by \
                             this endpoint; sign the request with an Authorization header.";
const MSG_UNRECOGNIZED: &str = "The security token included in the request is invalid.";
const MSG_MISMATCH: &str = "The request signature we calculated does not match the signature you \
                            provided. Check your AWS Secret Access Key and signing method. Consult \
                            the service documentation for details.";

impl AuthError {
    /// AWS's error code, for the `x-amzn-ErrorType` header.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingAuthenticationToken => "MissingAuthenticationTokenException",
            Self::PresignedUrlUnsupported | Self::IncompleteSignature(_) => {
                "IncompleteSignatureException"
            }
            Self::UnrecognizedClient(_) => "UnrecognizedClientException",
            Self::SignatureMismatch | Self::InvalidSignature(_) => "InvalidSignatureException",
        }
    }

    /// AWS's message, for the body's `message` field.
    pub fn message(&self) -> Cow<'_, str> {
        match self {
            Self::MissingAuthenticationToken => Cow::Borrowed(MSG_MISSING_TOKEN),
            Self::PresignedUrlUnsupported => Cow::Borrowed(MSG_PRESIGNED),
            Self::IncompleteSignature(m) | Self::InvalidSignature(m) => Cow::Borrowed(m),
            Self::UnrecognizedClient(_) => Cow::Borrowed(MSG_UNRECOGNIZED),
            Self::SignatureMismatch => Cow::Borrowed(MSG_MISMATCH),
        }
    }

    /// The HTTP status: always 403 Forbidden.
    pub fn http_status(&self) -> u16 {
        403
    }
}

/// Why a request could not be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// The request has no `host` header; every SigV4 signature must cover it.
    #[error("request has no host header")]
    MissingHost,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_messages_are_aws_wording() {
        let cases = [
            (
                AuthError::MissingAuthenticationToken,
                "MissingAuthenticationTokenException",
                "Missing Authentication Token",
            ),
            (
                AuthError::UnrecognizedClient("AKID".into()),
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            ),
            (
                AuthError::SignatureMismatch,
                "InvalidSignatureException",
                "The request signature we calculated does not match the signature you provided. \
                 Check your AWS Secret Access Key and signing method. Consult the service \
                 documentation for details.",
            ),
            (
                AuthError::IncompleteSignature("x".into()),
                "IncompleteSignatureException",
                "x",
            ),
        ];
        for (err, code, message) in cases {
            assert_eq!(err.code(), code);
            assert_eq!(err.message(), message);
            assert_eq!(err.http_status(), 403);
        }
    }
}

//! AWS Signature Version 4 (header form, `AWS4-HMAC-SHA256`): signing for the Bulkhead CLI and
//! verification for the Bulkhead server, as boto3/botocore, the AWS CLI and aws-sdk-rust sign
//! requests to the Lambda REST API.
//!
//! # Why our own
//!
//! AWS ships signers only (`aws-sigv4`, botocore); there is no verifier. Verifying by re-signing
//! with `aws-sigv4` does not work: it chooses its own signed-header set, whereas a server must hash
//! exactly the headers the client lists in `SignedHeaders`. The one third-party verifier,
//! scratchstack-aws-signature, has a single maintainer and pulls in http, tower, chrono and regex.
//! This crate stays plain so the synchronous CLI (ureq) and the axum server can both use it: it
//! depends on no HTTP crate and takes a borrowed [`Request`] view.
//!
//! # Lambda's canonicalisation
//!
//! Like every AWS service but S3, Lambda URI-encodes the path *as sent*: boto3 sends a function
//! ARN's `:` as `%3A`, so the canonical URI holds `%253A`. [`CanonicalOptions`] defaults to that and
//! can be switched to S3's single encoding, which some of AWS's test vectors need.
//!
//! # Not supported
//!
//! Presigned (query-string) URLs and SigV4a are rejected with a clear [`AuthError`]. Session
//! tokens are required to be signed but are not validated.

#![deny(missing_docs)]

mod auth_header;
mod canonical;
mod error;
mod request;
mod sign;
mod time;
mod verify;

#[cfg(test)]
mod vectors;

pub use canonical::{
    ALGORITHM, CanonicalOptions, TERMINATOR, canonical_query, canonical_uri, hmac_sha256_hex,
    sha256_hex,
};
pub use error::{AuthError, SignError};
pub use request::{Payload, Request};
pub use sign::{Credentials, HeaderSelection, SignOptions, Signature, SigningParams, sign};
pub use time::AmzDate;
pub use verify::{DEFAULT_MAX_SKEW, Identity, Verifier};

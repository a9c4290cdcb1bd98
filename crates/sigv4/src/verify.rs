//! Server-side verification of header-signed requests.

use std::collections::HashMap;
use std::fmt;
use std::time::{Duration, SystemTime};

use hmac::Mac;

use crate::auth_header::{self, AuthHeader};
use crate::canonical::{self, CanonicalOptions, TERMINATOR};
use crate::error::AuthError;
use crate::request::Request;
use crate::time::{self, AmzDate};

/// Who signed a request that verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The access key id from the credential scope.
    pub access_key_id: String,
    /// The `X-Amz-Security-Token` the client signed, if any. Not validated.
    pub session_token: Option<String>,
}

/// Verifies SigV4 `Authorization` headers against a fixed set of access keys.
///
/// The canonical request is built from exactly the headers the client lists in `SignedHeaders`,
/// never a set of our choosing, so any header a client adds is accepted as long as it is signed.
#[derive(Clone)]
pub struct Verifier {
    keys: HashMap<String, String>,
    region: String,
    service: String,
    max_skew: Duration,
    canonical: CanonicalOptions,
    require_signed_amz_headers: bool,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("access_key_ids", &self.keys.keys().collect::<Vec<_>>())
            .field("region", &self.region)
            .field("service", &self.service)
            .field("max_skew", &self.max_skew)
            .field("canonical", &self.canonical)
            .field(
                "require_signed_amz_headers",
                &self.require_signed_amz_headers,
            )
            .finish()
    }
}

/// AWS's allowed clock skew.
pub const DEFAULT_MAX_SKEW: Duration = Duration::from_secs(5 * 60);

impl Verifier {
    /// A verifier for `service` (`lambda`) in `region`, accepting the given
    /// `(access_key_id, secret_access_key)` pairs.
    pub fn new(
        region: impl Into<String>,
        service: impl Into<String>,
        keys: impl IntoIterator<Item = (String, String)>,
    ) -> Self {
        Self {
            keys: keys.into_iter().collect(),
            region: region.into(),
            service: service.into(),
            max_skew: DEFAULT_MAX_SKEW,
            canonical: CanonicalOptions::default(),
            require_signed_amz_headers: true,
        }
    }

    /// How far `X-Amz-Date` may be from the server clock either way (default 5 minutes).
    pub fn with_max_skew(mut self, max_skew: Duration) -> Self {
        self.max_skew = max_skew;
        self
    }

    /// Path canonicalisation (default: Lambda's, normalised and double-encoded).
    pub fn with_canonical_options(mut self, canonical: CanonicalOptions) -> Self {
        self.canonical = canonical;
        self
    }

    /// Whether every `x-amz-*` header present must be signed (default true).
    ///
    /// AWS does not demand this, but Bulkhead routes on `X-Amz-Tenant-Id`, so an unsigned one
    /// could be swapped in transit. boto3, the AWS CLI and aws-sdk-rust sign every such header.
    pub fn require_signed_amz_headers(mut self, require: bool) -> Self {
        self.require_signed_amz_headers = require;
        self
    }

    /// Verifies `req` as of `now`, returning who signed it.
    pub fn verify(&self, req: &Request<'_>, now: SystemTime) -> Result<Identity, AuthError> {
        let Some(auth_value) = req.first_header("authorization") else {
            return Err(if is_presigned(req.query) {
                AuthError::PresignedUrlUnsupported
            } else {
                AuthError::MissingAuthenticationToken
            });
        };
        let amz_date = req.first_header("x-amz-date");
        let http_date = req.first_header("date");
        let auth = auth_header::parse(auth_value, amz_date.is_some() || http_date.is_some())?;

        self.check_signed_header_set(req, &auth, amz_date.is_some())?;
        let date = parse_date(amz_date, http_date)?;
        self.check_skew(date, now)?;
        let access_key_id = self.check_scope(&auth.credential, date)?;
        let secret = self
            .keys
            .get(access_key_id)
            .ok_or_else(|| AuthError::UnrecognizedClient(access_key_id.to_owned()))?;

        let payload_hash = checked_payload_hash(req)?;
        let creq =
            canonical::canonical_request(req, &auth.signed_headers, &payload_hash, self.canonical);
        let scope = canonical::scope(date, &self.region, &self.service);
        let sts = canonical::string_to_sign(date, &scope, &creq);
        let claimed = hex::decode(&auth.signature).map_err(|_| AuthError::SignatureMismatch)?;
        // `verify_slice` compares in constant time.
        canonical::signing_mac(secret, date, &self.region, &self.service)
            .chain_update(sts.as_bytes())
            .verify_slice(&claimed)
            .map_err(|_| AuthError::SignatureMismatch)?;

        let session_token = req
            .first_header("x-amz-security-token")
            .map(|t| String::from_utf8_lossy(t).into_owned());
        Ok(Identity {
            access_key_id: access_key_id.to_owned(),
            session_token,
        })
    }

    /// `host` and the date header must be signed, and (by default) every `x-amz-*` header.
    fn check_signed_header_set(
        &self,
        req: &Request<'_>,
        auth: &AuthHeader,
        has_amz_date: bool,
    ) -> Result<(), AuthError> {
        let signed = |name: &str| auth.signed_headers.iter().any(|h| h == name);
        let must_sign = |shown: &str| {
            AuthError::InvalidSignature(format!(
                "'{shown}' must be a 'SignedHeader' in the AWS Authorization."
            ))
        };
        if !signed("host") {
            return Err(AuthError::InvalidSignature(
                "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
                    .to_owned(),
            ));
        }
        if has_amz_date && !signed("x-amz-date") {
            return Err(must_sign("X-Amz-Date"));
        }
        if !has_amz_date && !signed("date") {
            return Err(must_sign("Date"));
        }
        if self.require_signed_amz_headers {
            for (name, _) in req.headers {
                let lower = name.to_ascii_lowercase();
                if lower.starts_with("x-amz-") && !signed(&lower) {
                    return Err(must_sign(&lower));
                }
            }
        }
        Ok(())
    }

    fn check_skew(&self, date: AmzDate, now: SystemTime) -> Result<(), AuthError> {
        let now = time::unix_nanos(now);
        let skew = time::duration_nanos(self.max_skew);
        let earliest = now.saturating_sub(skew);
        let latest = now.saturating_add(skew);
        let shown_now = time::amz_date_from_nanos(now);
        let shown_skew = describe_skew(self.max_skew);
        if date.unix_nanos() < earliest {
            return Err(AuthError::InvalidSignature(format!(
                "Signature expired: {date} is now earlier than {} ({shown_now} - {shown_skew}.)",
                time::amz_date_from_nanos(earliest),
            )));
        }
        if date.unix_nanos() > latest {
            return Err(AuthError::InvalidSignature(format!(
                "Signature not yet current: {date} is still later than {} ({shown_now} + {shown_skew}.)",
                time::amz_date_from_nanos(latest),
            )));
        }
        Ok(())
    }

    /// Checks `keyid/date/region/service/aws4_request` and returns the key id.
    fn check_scope<'c>(&self, credential: &'c str, date: AmzDate) -> Result<&'c str, AuthError> {
        let parts: Vec<&str> = credential.split('/').collect();
        let [key_id, scope_date, region, service, terminator] = parts[..] else {
            return Err(AuthError::IncompleteSignature(format!(
                "Credential must have exactly 5 slash-delimited elements, e.g. \
                 keyid/date/region/service/term, got '{credential}'"
            )));
        };
        let mut problems = Vec::new();
        if region != self.region {
            problems.push(format!(
                "Credential should be scoped to a valid region, not '{region}'."
            ));
        }
        if service != self.service {
            problems.push(format!(
                "Credential should be scoped to correct service: '{}'.",
                self.service
            ));
        }
        if terminator != TERMINATOR {
            problems.push(format!(
                "Credential should be scoped with a valid terminator: '{TERMINATOR}', not \
                 '{terminator}'."
            ));
        }
        let expected_date = date.date_stamp();
        if scope_date != expected_date {
            problems.push(format!(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date \
                 from HTTP: '{scope_date}' != '{expected_date}', from '{date}'."
            ));
        }
        if problems.is_empty() {
            Ok(key_id)
        } else {
            Err(AuthError::InvalidSignature(problems.join(" ")))
        }
    }
}

/// Query-string auth is recognised by its parameter names, compared as AWS does (exact case).
fn is_presigned(query: &str) -> bool {
    query.split('&').any(|pair| {
        let name = pair.split_once('=').map_or(pair, |(n, _)| n);
        name == "X-Amz-Algorithm" || name == "X-Amz-Signature" || name == "X-Amz-Credential"
    })
}

/// `X-Amz-Date` wins over `Date`; the first value of either is used.
fn parse_date(amz_date: Option<&[u8]>, http_date: Option<&[u8]>) -> Result<AmzDate, AuthError> {
    let (raw, parsed) = match (amz_date, http_date) {
        (Some(v), _) => {
            let s = String::from_utf8_lossy(v);
            let d = AmzDate::parse(s.trim_matches(' '));
            (s, d)
        }
        (None, Some(v)) => {
            let s = String::from_utf8_lossy(v);
            let d = AmzDate::parse_http_date(s.trim_matches(' '));
            (s, d)
        }
        // auth_header::parse has already reported a missing date.
        (None, None) => return Err(AuthError::MissingAuthenticationToken),
    };
    parsed.ok_or_else(|| {
        AuthError::IncompleteSignature(format!(
            "Date must be in ISO-8601 'basic format'. Got '{raw}'. See \
             http://en.wikipedia.org/wiki/ISO_8601"
        ))
    })
}

/// The hash that goes into the canonical request. When the client sent `X-Amz-Content-Sha256`,
/// botocore and aws-sigv4 sign that value instead of hashing; we accept it only if it is the
/// body's real hash, so an `UNSIGNED-PAYLOAD` client cannot slip an unsigned body past us.
pub(crate) fn checked_payload_hash(req: &Request<'_>) -> Result<String, AuthError> {
    let actual = canonical::payload_hash(&req.payload);
    match req.first_header("x-amz-content-sha256") {
        Some(claimed) if !claimed.trim_ascii().eq_ignore_ascii_case(actual.as_bytes()) => {
            Err(AuthError::SignatureMismatch)
        }
        Some(claimed) => Ok(String::from_utf8_lossy(claimed.trim_ascii()).into_owned()),
        None => Ok(actual),
    }
}

fn describe_skew(d: Duration) -> String {
    let secs = d.as_secs();
    if secs.is_multiple_of(60) {
        format!("{} min", secs / 60)
    } else {
        format!("{secs} sec")
    }
}

#[cfg(test)]
mod tests;

//! Parsing `Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`.
//!
//! The checks run in the order AWS applies them (as documented by scratchstack's "AWS Auth Error
//! Ordering"), so a request with several faults gets the error AWS would give.

use crate::canonical::ALGORITHM;
use crate::error::AuthError;

/// The three parameters of a well-formed header.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct AuthHeader {
    pub credential: String,
    pub signed_headers: Vec<String>,
    pub signature: String,
}

const REQ_CREDENTIAL: &str = "Authorization header requires 'Credential' parameter.";
const REQ_SIGNATURE: &str = "Authorization header requires 'Signature' parameter.";
const REQ_SIGNED_HEADERS: &str = "Authorization header requires 'SignedHeaders' parameter.";
const REQ_DATE: &str =
    "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.";

/// Parses the header `value`; `has_date` says whether the request carries `X-Amz-Date` or
/// `Date`, whose absence AWS reports together with missing parameters.
pub(crate) fn parse(value: &[u8], has_date: bool) -> Result<AuthHeader, AuthError> {
    let text = String::from_utf8_lossy(value);
    let full = text.trim_matches(' ');
    let (algorithm, params) = full.split_once(' ').unwrap_or((full, ""));

    if algorithm != ALGORITHM && algorithm.starts_with("AWS") {
        return Err(AuthError::IncompleteSignature(format!(
            "Unsupported AWS 'algorithm': '{algorithm}'."
        )));
    }

    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    // A non-AWS scheme (`Bearer ...`) is reported as lacking every parameter, as API Gateway does.
    if algorithm == ALGORITHM {
        for param in params.split(',').map(|p| p.trim_matches(' ')) {
            if param.is_empty() {
                continue;
            }
            let Some((key, val)) = param.split_once('=') else {
                return Err(AuthError::IncompleteSignature(format!(
                    "'{param}' not a valid key=value pair (missing equal-sign) in Authorization \
                     header: '{full}'."
                )));
            };
            // Later duplicates win, as at AWS.
            match key {
                "Credential" => credential = Some(val),
                "SignedHeaders" => signed_headers = Some(val),
                "Signature" => signature = Some(val),
                _ => {}
            }
        }
    }

    let mut missing = Vec::new();
    if credential.is_none() {
        missing.push(REQ_CREDENTIAL);
    }
    if signature.is_none() {
        missing.push(REQ_SIGNATURE);
    }
    if signed_headers.is_none() {
        missing.push(REQ_SIGNED_HEADERS);
    }
    if !has_date {
        missing.push(REQ_DATE);
    }
    match (credential, signed_headers, signature) {
        (Some(c), Some(h), Some(s)) if has_date => Ok(AuthHeader {
            credential: c.to_owned(),
            signed_headers: h.split(';').map(str::to_ascii_lowercase).collect(),
            signature: s.to_owned(),
        }),
        _ => Err(AuthError::IncompleteSignature(format!(
            "{} Authorization={full}",
            missing.join(" ")
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incomplete(value: &str, has_date: bool) -> String {
        match parse(value.as_bytes(), has_date) {
            Err(AuthError::IncompleteSignature(m)) => m,
            other => panic!("expected IncompleteSignature, got {other:?}"),
        }
    }

    #[test]
    fn parses_botocore_header() {
        let h = parse(
            b"AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/lambda/aws4_request, \
              SignedHeaders=host;x-amz-date, Signature=abc",
            true,
        )
        .expect("well formed");
        assert_eq!(
            h,
            AuthHeader {
                credential: "AKID/20150830/us-east-1/lambda/aws4_request".into(),
                signed_headers: vec!["host".into(), "x-amz-date".into()],
                signature: "abc".into(),
            }
        );
    }

    #[test]
    fn accepts_commas_without_spaces_and_any_order() {
        let h = parse(
            b"AWS4-HMAC-SHA256 Signature=abc,SignedHeaders=Host,Credential=a/b/c/d/e",
            true,
        )
        .expect("well formed");
        assert_eq!(h.signed_headers, ["host"]);
        assert_eq!(h.credential, "a/b/c/d/e");
    }

    #[test]
    fn missing_everything_lists_each_requirement_like_aws() {
        assert_eq!(
            incomplete("Bearer eyJ0eXAi.abc", false),
            "Authorization header requires 'Credential' parameter. Authorization header requires \
             'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. \
             Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. \
             Authorization=Bearer eyJ0eXAi.abc"
        );
        assert_eq!(
            incomplete("", true),
            "Authorization header requires 'Credential' parameter. Authorization header requires \
             'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. \
             Authorization="
        );
    }

    #[test]
    fn reports_only_what_is_missing() {
        assert_eq!(
            incomplete("AWS4-HMAC-SHA256 Credential=a/b/c/d/e, Signature=00", true),
            "Authorization header requires 'SignedHeaders' parameter. \
             Authorization=AWS4-HMAC-SHA256 Credential=a/b/c/d/e, Signature=00"
        );
        assert_eq!(
            incomplete(
                "AWS4-HMAC-SHA256 Credential=a/b/c/d/e, SignedHeaders=host, Signature=00",
                false
            ),
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. \
             Authorization=AWS4-HMAC-SHA256 Credential=a/b/c/d/e, SignedHeaders=host, Signature=00"
        );
    }

    #[test]
    fn rejects_pairs_without_equals_and_other_algorithms() {
        assert_eq!(
            incomplete("AWS4-HMAC-SHA256 Credential=a/b/c/d/e, bogus", true),
            "'bogus' not a valid key=value pair (missing equal-sign) in Authorization header: \
             'AWS4-HMAC-SHA256 Credential=a/b/c/d/e, bogus'."
        );
        assert_eq!(
            incomplete("AWS4-ECDSA-P256-SHA256 Credential=x", true),
            "Unsupported AWS 'algorithm': 'AWS4-ECDSA-P256-SHA256'."
        );
    }
}

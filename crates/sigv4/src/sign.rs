//! Signing, for the CLI (and for tests of the verifier).

use std::fmt;
use std::time::SystemTime;

use crate::canonical::{self, ALGORITHM, CanonicalOptions};
use crate::error::SignError;
use crate::request::Request;
use crate::time::AmzDate;

/// An access key pair, optionally with an STS session token.
#[derive(Clone)]
pub struct Credentials {
    /// The access key id (`AKIDEXAMPLE`).
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: String,
    /// Sent as `X-Amz-Security-Token` and signed, when present.
    pub session_token: Option<String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// Which of the request's own headers to sign, besides the ones [`sign`] adds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HeaderSelection {
    /// `host` and every `x-amz-*` header: the minimum the verifier demands, and nothing a proxy
    /// or the HTTP client may rewrite.
    #[default]
    HostAndAmz,
    /// Every header except hop-by-hop and tracing ones (botocore's rule).
    All,
}

/// Knobs for [`sign`]; the default suits Lambda.
#[derive(Clone, Copy, Debug, Default)]
pub struct SignOptions {
    /// Path canonicalisation; must match the verifier's.
    pub canonical: CanonicalOptions,
    /// Also send (and sign) `X-Amz-Content-Sha256`. Lambda does not need it.
    pub content_sha256_header: bool,
    /// Which request headers to sign.
    pub headers: HeaderSelection,
}

/// Where and when a request is signed.
#[derive(Clone, Copy, Debug)]
pub struct SigningParams<'a> {
    /// Region of the credential scope (`us-east-1`).
    pub region: &'a str,
    /// Signing name of the service (`lambda`).
    pub service: &'a str,
    /// The signing time; becomes `X-Amz-Date`.
    pub time: SystemTime,
    /// Options.
    pub options: SignOptions,
}

/// The result of [`sign`]: headers to add to the request, plus the intermediate strings for
/// debugging a mismatch.
#[derive(Clone, Debug)]
pub struct Signature {
    /// Headers to add, in this order: `X-Amz-Date`, then `X-Amz-Security-Token` and
    /// `X-Amz-Content-Sha256` if applicable, then `Authorization`. Replace any existing ones.
    pub headers: Vec<(&'static str, String)>,
    /// The hex signature.
    pub signature: String,
    /// The canonical request that was signed (lossy UTF-8).
    pub canonical_request: String,
    /// The string that was signed.
    pub string_to_sign: String,
}

/// Headers botocore never signs, because proxies add, drop or rewrite them.
const UNSIGNABLE: [&str; 15] = [
    "authorization",
    "baggage",
    "connection",
    "expect",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "traceparent",
    "tracestate",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "user-agent",
    "x-amzn-trace-id",
];

/// Signs `req` with `creds`, returning the headers to add.
///
/// Signs `host`, `x-amz-date`, the session token and content hash if sent, and the request's
/// headers chosen by [`SignOptions::headers`]. Existing `Authorization`, `X-Amz-Date`,
/// `X-Amz-Security-Token` (with a token) and `X-Amz-Content-Sha256` (with the option) headers in
/// `req` are ignored, since the returned ones replace them.
pub fn sign(
    req: &Request<'_>,
    creds: &Credentials,
    params: &SigningParams<'_>,
) -> Result<Signature, SignError> {
    if req.first_header("host").is_none() {
        return Err(SignError::MissingHost);
    }
    let date = AmzDate::from_system_time(params.time);
    let opts = params.options;

    let replaced = |name: &str| {
        name.eq_ignore_ascii_case("authorization")
            || name.eq_ignore_ascii_case("x-amz-date")
            || (creds.session_token.is_some() && name.eq_ignore_ascii_case("x-amz-security-token"))
            || (opts.content_sha256_header && name.eq_ignore_ascii_case("x-amz-content-sha256"))
    };
    let date_text = date.to_string();
    let payload_hash = match req.first_header("x-amz-content-sha256") {
        // The verifier hashes with the header's value when present, as botocore does.
        Some(v) if !opts.content_sha256_header => String::from_utf8_lossy(v).trim().to_owned(),
        _ => canonical::payload_hash(&req.payload),
    };

    let mut added: Vec<(&'static str, String)> = vec![("X-Amz-Date", date_text.clone())];
    if let Some(token) = &creds.session_token {
        added.push(("X-Amz-Security-Token", token.clone()));
    }
    if opts.content_sha256_header {
        added.push(("X-Amz-Content-Sha256", payload_hash.clone()));
    }

    let mut all: Vec<(&str, &[u8])> = req
        .headers
        .iter()
        .filter(|(n, _)| !replaced(n))
        .copied()
        .collect();
    all.extend(added.iter().map(|(n, v)| (*n, v.as_bytes())));

    let mut signed: Vec<String> = all
        .iter()
        .map(|(n, _)| n.to_ascii_lowercase())
        .filter(|n| match opts.headers {
            HeaderSelection::HostAndAmz => n == "host" || n.starts_with("x-amz-"),
            HeaderSelection::All => !UNSIGNABLE.contains(&n.as_str()),
        })
        .collect();
    signed.sort();
    signed.dedup();

    let view = Request {
        headers: &all,
        ..*req
    };
    let creq = canonical::canonical_request(&view, &signed, &payload_hash, opts.canonical);
    let scope = canonical::scope(date, params.region, params.service);
    let sts = canonical::string_to_sign(date, &scope, &creq);
    let mac = canonical::signing_mac(
        &creds.secret_access_key,
        date,
        params.region,
        params.service,
    );
    let signature = canonical::signature_hex(mac, &sts);
    let authorization = format!(
        "{ALGORITHM} Credential={}/{scope}, SignedHeaders={}, Signature={signature}",
        creds.access_key_id,
        signed.join(";")
    );
    added.push(("Authorization", authorization));
    Ok(Signature {
        headers: added,
        signature,
        canonical_request: String::from_utf8_lossy(&creq).into_owned(),
        string_to_sign: sts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::Payload;
    use std::time::{Duration, UNIX_EPOCH};

    fn creds(token: Option<&str>) -> Credentials {
        Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            session_token: token.map(str::to_owned),
        }
    }

    fn params(options: SignOptions) -> SigningParams<'static> {
        SigningParams {
            region: "us-east-1",
            service: "service",
            time: UNIX_EPOCH + Duration::from_secs(1_440_938_160),
            options,
        }
    }

    #[test]
    fn get_vanilla() {
        let headers: [(&str, &[u8]); 1] = [("Host", b"example.amazonaws.com")];
        let req = Request {
            method: "GET",
            path: "/",
            query: "",
            headers: &headers,
            payload: Payload::Bytes(b""),
        };
        let sig = sign(&req, &creds(None), &params(SignOptions::default())).expect("host present");
        assert_eq!(
            sig.headers,
            vec![
                ("X-Amz-Date", "20150830T123600Z".to_owned()),
                (
                    "Authorization",
                    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
                     SignedHeaders=host;x-amz-date, \
                     Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
                        .to_owned()
                ),
            ]
        );
    }

    #[test]
    fn default_selection_skips_ordinary_headers_and_replaces_stale_auth() {
        let headers: [(&str, &[u8]); 5] = [
            ("Host", b"h"),
            ("User-Agent", b"ua"),
            ("Content-Type", b"application/json"),
            ("X-Amz-Tenant-Id", b"blue"),
            ("Authorization", b"stale"),
        ];
        let req = Request {
            method: "POST",
            path: "/",
            query: "",
            headers: &headers,
            payload: Payload::Bytes(b"{}"),
        };
        let options = SignOptions {
            content_sha256_header: true,
            ..SignOptions::default()
        };
        let sig = sign(&req, &creds(Some("tok")), &params(options)).expect("host present");
        let names: Vec<&str> = sig.headers.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            [
                "X-Amz-Date",
                "X-Amz-Security-Token",
                "X-Amz-Content-Sha256",
                "Authorization"
            ]
        );
        let auth = &sig.headers[3].1;
        assert!(
            auth.contains(
                "SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token;x-amz-tenant-id,"
            ),
            "{auth}"
        );
        assert!(!sig.canonical_request.contains("stale"));
    }

    #[test]
    fn missing_host_is_an_error() {
        let req = Request {
            method: "GET",
            path: "/",
            query: "",
            headers: &[],
            payload: Payload::Bytes(b""),
        };
        assert_eq!(
            sign(&req, &creds(None), &params(SignOptions::default())).unwrap_err(),
            SignError::MissingHost
        );
    }

    #[test]
    fn debug_redacts_secrets() {
        let shown = format!("{:?}", creds(Some("tok")));
        assert!(
            !shown.contains("EXAMPLEKEY") && !shown.contains("tok\""),
            "{shown}"
        );
    }
}

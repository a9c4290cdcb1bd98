//! Verifier tests: real boto3 requests, AWS's error wording, and sign/verify properties.

use super::*;
use crate::request::Payload;
use crate::sign::{Credentials, SignOptions, SigningParams, sign};
use proptest::prelude::*;
use std::time::UNIX_EPOCH;

const KEY_ID: &str = "BULKHEADLOCALDEMOKEY";
const SECRET: &str = "bulkhead/local/demo/secret/not/for/prod";

/// An owned request, so tests can mutate it and then borrow a [`Request`].
#[derive(Clone, Debug)]
struct Owned {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

impl Owned {
    fn new(method: &str, path: &str, query: &str, headers: &[(&str, &str)], body: &[u8]) -> Self {
        Self {
            method: method.into(),
            path: path.into(),
            query: query.into(),
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), v.as_bytes().to_vec()))
                .collect(),
            body: body.to_vec(),
        }
    }

    fn verify(&self, verifier: &Verifier, now: SystemTime) -> Result<Identity, AuthError> {
        let headers: Vec<(&str, &[u8])> = self
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_slice()))
            .collect();
        verifier.verify(
            &Request {
                method: &self.method,
                path: &self.path,
                query: &self.query,
                headers: &headers,
                payload: Payload::Bytes(&self.body),
            },
            now,
        )
    }

    /// This request as sent by a client signing with `creds` at `time`.
    fn signed(&self, creds: &Credentials, time: SystemTime) -> Self {
        let headers: Vec<(&str, &[u8])> = self
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_slice()))
            .collect();
        let req = Request {
            method: &self.method,
            path: &self.path,
            query: &self.query,
            headers: &headers,
            payload: Payload::Bytes(&self.body),
        };
        let params = SigningParams {
            region: "us-east-1",
            service: "lambda",
            time,
            options: SignOptions::default(),
        };
        let sig = sign(&req, creds, &params).expect("test requests have a host");
        let mut out = self.clone();
        out.headers.retain(|(n, _)| {
            !sig.headers
                .iter()
                .any(|(added, _)| added.eq_ignore_ascii_case(n))
        });
        out.headers.extend(
            sig.headers
                .into_iter()
                .map(|(n, v)| (n.to_owned(), v.into_bytes())),
        );
        out
    }

    fn header_mut(&mut self, name: &str) -> &mut Vec<u8> {
        &mut self
            .headers
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .expect("header present")
            .1
    }
}

fn verifier() -> Verifier {
    Verifier::new(
        "us-east-1",
        "lambda",
        [(KEY_ID.to_owned(), SECRET.to_owned())],
    )
}

fn creds() -> Credentials {
    Credentials {
        access_key_id: KEY_ID.into(),
        secret_access_key: SECRET.into(),
        session_token: None,
    }
}

fn at(amz_date: &str) -> SystemTime {
    let d = AmzDate::parse(amz_date).expect("valid date");
    UNIX_EPOCH + Duration::from_secs(d.unix_seconds().unsigned_abs())
}

/// Requests signed by botocore 1.44.5's own Lambda client, captured in its `before-send` event
/// with `botocore.auth.get_current_datetime` patched to 2026-03-01T12:00:00Z, endpoint
/// `http://127.0.0.1:9000` and the local demo key; the calls were `get_function_configuration`
/// and `invoke` on the function's full ARN, and `list_functions(MaxItems=5, Marker='a b+c/d')`.
/// `Host` is what urllib3 puts on the wire; botocore adds the `amz-sdk-*` headers after
/// signing, so they are unsigned.
fn boto3_requests() -> Vec<Owned> {
    const UA: &str = "Botocore/1.44.5 ua/2.1 os/linux#6.18.44-fc-v769 md/arch#x86_64 \
                      lang/python#3.11.7 md/pyimpl#CPython m/b,E,e,N,Z cfg/retry-mode#standard";
    vec![
        Owned::new(
            "GET",
            "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Afoo/configuration",
            "",
            &[
                ("Host", "127.0.0.1:9000"),
                ("User-Agent", UA),
                ("X-Amz-Date", "20260301T120000Z"),
                (
                    "Authorization",
                    "AWS4-HMAC-SHA256 Credential=BULKHEADLOCALDEMOKEY/20260301/us-east-1/lambda/aws4_request, \
                     SignedHeaders=host;x-amz-date, \
                     Signature=5542bc95a5f84d5ff84d2d336cf78edfd7e18b203a732b724d18f775d8691037",
                ),
                (
                    "amz-sdk-invocation-id",
                    "66f0e50f-7f6e-4798-bd34-aa9840347f24",
                ),
                ("amz-sdk-request", "attempt=1; max=3"),
            ],
            b"",
        ),
        Owned::new(
            "POST",
            "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Afoo/invocations",
            "Qualifier=%24LATEST",
            &[
                ("Host", "127.0.0.1:9000"),
                ("X-Amz-Tenant-Id", "BlueTenant"),
                ("User-Agent", UA),
                ("X-Amz-Date", "20260301T120000Z"),
                (
                    "Authorization",
                    "AWS4-HMAC-SHA256 Credential=BULKHEADLOCALDEMOKEY/20260301/us-east-1/lambda/aws4_request, \
                     SignedHeaders=host;x-amz-date;x-amz-tenant-id, \
                     Signature=26a94c1b59647b0c4ae1a69eafc169a9c086f2a0f2502651a7df2d28d89ebe8d",
                ),
                (
                    "amz-sdk-invocation-id",
                    "bc029651-4b06-45aa-9a54-e6764ad61e8b",
                ),
                ("amz-sdk-request", "attempt=1; max=3"),
                ("Content-Length", "18"),
            ],
            br#"{"hello": "world"}"#,
        ),
        Owned::new(
            "GET",
            "/2015-03-31/functions",
            "MaxItems=5&Marker=a%20b%2Bc%2Fd",
            &[
                ("Host", "127.0.0.1:9000"),
                ("User-Agent", UA),
                ("X-Amz-Date", "20260301T120000Z"),
                (
                    "Authorization",
                    "AWS4-HMAC-SHA256 Credential=BULKHEADLOCALDEMOKEY/20260301/us-east-1/lambda/aws4_request, \
                     SignedHeaders=host;x-amz-date, \
                     Signature=7de6fa4ede1132b502a89468e86e1edd6f35b66feb3c8997e4f268e873067325",
                ),
                (
                    "amz-sdk-invocation-id",
                    "998950e7-80a8-481b-93cc-d206c12a5fd3",
                ),
                ("amz-sdk-request", "attempt=1; max=3"),
            ],
            b"",
        ),
    ]
}

#[test]
fn accepts_requests_signed_by_boto3() {
    for req in boto3_requests() {
        let id = req
            .verify(&verifier(), at("20260301T120130Z"))
            .unwrap_or_else(|e| panic!("{} {}: {e:?}", req.method, req.path));
        assert_eq!(id.access_key_id, KEY_ID);
        assert_eq!(id.session_token, None);
    }
}

#[test]
fn boto3_signature_depends_on_double_encoding() {
    let [get, ..] = &boto3_requests()[..] else {
        unreachable!("three captured requests")
    };
    let single = verifier().with_canonical_options(CanonicalOptions {
        normalize_path: true,
        double_encode: false,
    });
    assert_eq!(
        get.verify(&single, at("20260301T120000Z")),
        Err(AuthError::SignatureMismatch)
    );
    let mut decoded = get.clone();
    decoded.path = decoded.path.replace("%3A", ":");
    assert_eq!(
        decoded.verify(&verifier(), at("20260301T120000Z")),
        Err(AuthError::SignatureMismatch)
    );
}

#[test]
fn boto3_tenant_header_is_covered() {
    let mut invoke = boto3_requests().swap_remove(1);
    *invoke.header_mut("x-amz-tenant-id") = b"GreenTenant".to_vec();
    assert_eq!(
        invoke.verify(&verifier(), at("20260301T120000Z")),
        Err(AuthError::SignatureMismatch)
    );
}

fn vanilla() -> Owned {
    Owned::new("GET", "/", "", &[("Host", "example.amazonaws.com")], b"")
}

#[test]
fn no_authorization_is_a_missing_token() {
    assert_eq!(
        vanilla().verify(&verifier(), at("20150830T123600Z")),
        Err(AuthError::MissingAuthenticationToken)
    );
    let mut presigned = vanilla();
    presigned.query = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=00".into();
    let err = presigned
        .verify(&verifier(), at("20150830T123600Z"))
        .unwrap_err();
    assert_eq!(err, AuthError::PresignedUrlUnsupported);
    assert_eq!(err.code(), "IncompleteSignatureException");
}

#[test]
fn clock_skew_messages_match_aws() {
    let req = vanilla().signed(&creds(), at("20150830T123600Z"));
    let expired = req.verify(&verifier(), at("20150830T124600Z")).unwrap_err();
    assert_eq!(expired.code(), "InvalidSignatureException");
    assert_eq!(
        expired.message(),
        "Signature expired: 20150830T123600Z is now earlier than 20150830T124100Z \
         (20150830T124600Z - 5 min.)"
    );
    let future = req.verify(&verifier(), at("20150830T123000Z")).unwrap_err();
    assert_eq!(
        future.message(),
        "Signature not yet current: 20150830T123600Z is still later than 20150830T123500Z \
         (20150830T123000Z + 5 min.)"
    );
    assert!(req.verify(&verifier(), at("20150830T124100Z")).is_ok());
    assert!(req.verify(&verifier(), at("20150830T123100Z")).is_ok());
    let just_past = at("20150830T124100Z") + Duration::from_millis(1);
    assert!(matches!(
        req.verify(&verifier(), just_past),
        Err(AuthError::InvalidSignature(m)) if m.starts_with("Signature expired")
    ));
    let strict = verifier().with_max_skew(Duration::from_secs(90));
    assert_eq!(
        req.verify(&strict, at("20150830T123800Z"))
            .unwrap_err()
            .message(),
        "Signature expired: 20150830T123600Z is now earlier than 20150830T123630Z \
         (20150830T123800Z - 90 sec.)"
    );
}

/// Replaces the `Authorization` header's value.
fn with_auth(mut req: Owned, auth: &str) -> Owned {
    *req.header_mut("authorization") = auth.as_bytes().to_vec();
    req
}

#[test]
fn malformed_authorization_and_scope_errors() {
    let now = at("20150830T123600Z");
    let signed = vanilla().signed(&creds(), now);
    let cases = [
        (
            "AWS4-HMAC-SHA256 Credential=BULKHEADLOCALDEMOKEY/20150830/us-east-1/lambda, \
             SignedHeaders=host;x-amz-date, Signature=00",
            "IncompleteSignatureException",
            "Credential must have exactly 5 slash-delimited elements, e.g. \
             keyid/date/region/service/term, got 'BULKHEADLOCALDEMOKEY/20150830/us-east-1/lambda'",
        ),
        (
            "AWS4-HMAC-SHA256 Credential=K/20150829/eu-west-1/s3/aws5_request, \
             SignedHeaders=host;x-amz-date, Signature=00",
            "InvalidSignatureException",
            "Credential should be scoped to a valid region, not 'eu-west-1'. Credential should \
             be scoped to correct service: 'lambda'. Credential should be scoped with a valid \
             terminator: 'aws4_request', not 'aws5_request'. Date in Credential scope does not \
             match YYYYMMDD from ISO-8601 version of date from HTTP: '20150829' != '20150830', \
             from '20150830T123600Z'.",
        ),
        (
            "AWS4-HMAC-SHA256 Credential=NOBODY/20150830/us-east-1/lambda/aws4_request, \
             SignedHeaders=host;x-amz-date, Signature=00",
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        ),
        (
            "AWS4-HMAC-SHA256 Credential=BULKHEADLOCALDEMOKEY/20150830/us-east-1/lambda/aws4_request, \
             SignedHeaders=x-amz-date, Signature=00",
            "InvalidSignatureException",
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
        ),
        (
            "AWS4-HMAC-SHA256 Credential=BULKHEADLOCALDEMOKEY/20150830/us-east-1/lambda/aws4_request, \
             SignedHeaders=host, Signature=00",
            "InvalidSignatureException",
            "'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization.",
        ),
        (
            "AWS4-HMAC-SHA256 Credential=BULKHEADLOCALDEMOKEY/20150830/us-east-1/lambda/aws4_request, \
             SignedHeaders=host;x-amz-date, Signature=not-hex",
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided. \
             Check your AWS Secret Access Key and signing method. Consult the service \
             documentation for details.",
        ),
    ];
    for (auth, code, message) in cases {
        let err = with_auth(signed.clone(), auth)
            .verify(&verifier(), now)
            .unwrap_err();
        assert_eq!(
            (err.code(), err.message().as_ref()),
            (code, message),
            "{auth}"
        );
    }
}

#[test]
fn date_errors() {
    let now = at("20150830T123600Z");
    let mut bad_date = vanilla().signed(&creds(), now);
    *bad_date.header_mut("x-amz-date") = b"2015-08-30T12:36:00Z".to_vec();
    let err = bad_date.verify(&verifier(), now).unwrap_err();
    assert_eq!(err.code(), "IncompleteSignatureException");
    assert_eq!(
        err.message(),
        "Date must be in ISO-8601 'basic format'. Got '2015-08-30T12:36:00Z'. See \
         http://en.wikipedia.org/wiki/ISO_8601"
    );

    let mut no_date = vanilla().signed(&creds(), now);
    no_date
        .headers
        .retain(|(n, _)| !n.eq_ignore_ascii_case("x-amz-date"));
    let err = no_date.verify(&verifier(), now).unwrap_err();
    assert_eq!(err.code(), "IncompleteSignatureException");
    assert!(
        err.message().starts_with(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' \
             header. Authorization=AWS4-HMAC-SHA256 Credential="
        ),
        "{}",
        err.message()
    );
}

#[test]
fn accepts_a_signed_http_date_header() {
    let req = Owned::new(
        "GET",
        "/",
        "",
        &[
            ("Host", "example.amazonaws.com"),
            ("Date", "Sun, 30 Aug 2015 12:36:00 GMT"),
        ],
        b"",
    );
    let headers: Vec<(&str, &[u8])> = req
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_slice()))
        .collect();
    let view = Request {
        method: "GET",
        path: "/",
        query: "",
        headers: &headers,
        payload: Payload::Bytes(b""),
    };
    let date = AmzDate::parse("20150830T123600Z").expect("valid");
    let signed = ["date".to_owned(), "host".to_owned()];
    let creq = canonical::canonical_request(
        &view,
        &signed,
        &canonical::sha256_hex(b""),
        CanonicalOptions::default(),
    );
    let scope = canonical::scope(date, "us-east-1", "lambda");
    let sts = canonical::string_to_sign(date, &scope, &creq);
    let sig = canonical::signature_hex(
        canonical::signing_mac(SECRET, date, "us-east-1", "lambda"),
        &sts,
    );
    let mut req = req;
    req.headers.push((
        "Authorization".into(),
        format!(
            "AWS4-HMAC-SHA256 Credential={KEY_ID}/{scope}, SignedHeaders=date;host, Signature={sig}"
        )
        .into_bytes(),
    ));
    assert!(req.verify(&verifier(), at("20150830T123600Z")).is_ok());
    let mut unsigned_date = req.clone();
    *unsigned_date.header_mut("authorization") = format!(
        "AWS4-HMAC-SHA256 Credential={KEY_ID}/{scope}, SignedHeaders=host, Signature={sig}"
    )
    .into_bytes();
    assert_eq!(
        unsigned_date
            .verify(&verifier(), at("20150830T123600Z"))
            .unwrap_err()
            .message(),
        "'Date' must be a 'SignedHeader' in the AWS Authorization."
    );
}

#[test]
fn content_sha256_header_must_match_the_body() {
    let now = at("20150830T123600Z");
    let body = b"{\"a\":1}";
    let good = Owned::new(
        "POST",
        "/",
        "",
        &[
            ("Host", "h"),
            ("X-Amz-Content-Sha256", &canonical::sha256_hex(body)),
        ],
        body,
    )
    .signed(&creds(), now);
    assert!(good.verify(&verifier(), now).is_ok());
    let unsigned_payload = Owned::new(
        "POST",
        "/",
        "",
        &[("Host", "h"), ("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")],
        body,
    )
    .signed(&creds(), now);
    assert_eq!(
        unsigned_payload.verify(&verifier(), now),
        Err(AuthError::SignatureMismatch)
    );
}

#[test]
fn unsigned_amz_header_is_rejected_unless_allowed() {
    let now = at("20150830T123600Z");
    let mut req = vanilla().signed(&creds(), now);
    req.headers
        .push(("X-Amz-Tenant-Id".into(), b"GreenTenant".to_vec()));
    assert_eq!(
        req.verify(&verifier(), now).unwrap_err().message(),
        "'x-amz-tenant-id' must be a 'SignedHeader' in the AWS Authorization."
    );
    assert!(
        req.verify(&verifier().require_signed_amz_headers(false), now)
            .is_ok()
    );
}

#[test]
fn session_token_is_signed_and_reported() {
    let now = at("20150830T123600Z");
    let creds = Credentials {
        session_token: Some("FwoGZXIvYXdzEXAMPLE".into()),
        ..creds()
    };
    let req = vanilla().signed(&creds, now);
    let id = req.verify(&verifier(), now).expect("valid");
    assert_eq!(id.session_token.as_deref(), Some("FwoGZXIvYXdzEXAMPLE"));
    let mut swapped = req;
    *swapped.header_mut("x-amz-security-token") = b"other".to_vec();
    assert_eq!(
        swapped.verify(&verifier(), now),
        Err(AuthError::SignatureMismatch)
    );
}

#[test]
fn debug_lists_key_ids_but_not_secrets() {
    let shown = format!("{:?}", verifier());
    assert!(shown.contains(KEY_ID) && !shown.contains(SECRET), "{shown}");
}

fn arb_segment() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9._~-]{0,8}",
        Just("arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Afoo".to_owned()),
        "[ :@%ሴé$+]{1,4}",
        Just(".".to_owned()),
        Just("..".to_owned()),
    ]
}

prop_compose! {
    fn arb_request()(
        method in prop_oneof![Just("GET"), Just("POST"), Just("PUT"), Just("DELETE"), Just("PATCH")],
        segments in prop::collection::vec(arb_segment(), 0..5),
        query in prop::collection::vec(("[A-Za-z0-9%+ ሴ_.-]{1,6}", "[A-Za-z0-9%+ =ሴ$]{0,6}"), 0..4),
        port in 1u16..,
        extra in prop::collection::vec(
            (
                prop_oneof!["[xX]-[aA][mM][zZ]-[A-Za-z]{1,8}", "x-custom-[a-z]{1,5}", Just("Content-Type".to_owned())],
                "[ -~]{0,16}",
            ),
            0..4,
        ),
        body in prop::collection::vec(any::<u8>(), 0..64),
    ) -> Owned {
        let path = format!("/{}", segments.join("/"));
        let query = query.iter().map(|(n, v)| format!("{n}={v}")).collect::<Vec<_>>().join("&");
        let mut headers = vec![("Host".to_owned(), format!("localhost:{port}").into_bytes())];
        headers.extend(
            extra
                .into_iter()
                // The signer owns these; a stray one would be a different test.
                .filter(|(n, _)| {
                    !["x-amz-date", "x-amz-content-sha256", "x-amz-security-token"]
                        .contains(&n.to_ascii_lowercase().as_str())
                })
                .map(|(n, v)| (n, v.into_bytes())),
        );
        Owned { method: method.to_owned(), path, query, headers, body }
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    BodyByte(usize),
    HostValue,
    AmzHeaderValue,
    Path,
    Query,
    Method,
    Later,
    Earlier,
    Secret,
    KeyId,
}

fn arb_mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::BodyByte),
        Just(Mutation::HostValue),
        Just(Mutation::AmzHeaderValue),
        Just(Mutation::Path),
        Just(Mutation::Query),
        Just(Mutation::Method),
        Just(Mutation::Later),
        Just(Mutation::Earlier),
        Just(Mutation::Secret),
        Just(Mutation::KeyId),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn sign_then_verify_roundtrips(
        req in arb_request(),
        secs in 1_000_000_000u64..4_000_000_000,
        drift in -299i64..=299,
        token in prop::option::of("[A-Za-z0-9/+=]{1,40}"),
    ) {
        let t = UNIX_EPOCH + Duration::from_secs(secs);
        let creds = Credentials { session_token: token.clone(), ..creds() };
        let signed = req.signed(&creds, t);
        let now = UNIX_EPOCH + Duration::from_secs(secs.saturating_add_signed(drift));
        let id = signed.verify(&verifier(), now);
        prop_assert_eq!(id, Ok(Identity { access_key_id: KEY_ID.into(), session_token: token }));
    }

    #[test]
    fn any_single_mutation_is_rejected(
        req in arb_request(),
        secs in 1_000_000_000u64..4_000_000_000,
        mutation in arb_mutation(),
    ) {
        let t = UNIX_EPOCH + Duration::from_secs(secs);
        let mut signed = req.signed(&creds(), t);
        let mut now = t;
        let mut verifier = verifier();
        match &mutation {
            Mutation::BodyByte(i) => match signed.body.len() {
                0 => signed.body.push(0),
                n => signed.body[i % n] ^= 0x01,
            },
            Mutation::HostValue => signed.header_mut("host").push(b'0'),
            Mutation::AmzHeaderValue => {
                let amz = signed.headers.iter_mut().find(|(n, _)| {
                    let n = n.to_ascii_lowercase();
                    n.starts_with("x-amz-") && n != "x-amz-date"
                });
                match amz {
                    Some((_, v)) => v.push(b'!'),
                    None => signed.header_mut("host").push(b'!'),
                }
            }
            Mutation::Path => signed.path.push('z'),
            Mutation::Query => signed.query.push_str("&mutated=1"),
            Mutation::Method => signed.method.push('X'),
            Mutation::Later => now = t + Duration::from_secs(301),
            Mutation::Earlier => now = t - Duration::from_secs(301),
            Mutation::Secret => {
                verifier = Verifier::new("us-east-1", "lambda", [(KEY_ID.to_owned(), format!("{SECRET}x"))]);
            }
            Mutation::KeyId => {
                verifier = Verifier::new("us-east-1", "lambda", [("OTHERKEY".to_owned(), SECRET.to_owned())]);
            }
        }
        let err = signed.verify(&verifier, now);
        match mutation {
            Mutation::Later => prop_assert!(
                matches!(&err, Err(AuthError::InvalidSignature(m)) if m.starts_with("Signature expired:")),
                "{:?}", err
            ),
            Mutation::Earlier => prop_assert!(
                matches!(&err, Err(AuthError::InvalidSignature(m)) if m.starts_with("Signature not yet current:")),
                "{:?}", err
            ),
            Mutation::KeyId => prop_assert_eq!(err, Err(AuthError::UnrecognizedClient(KEY_ID.into()))),
            _ => prop_assert_eq!(err, Err(AuthError::SignatureMismatch)),
        }
    }

    #[test]
    fn arbitrary_authorization_never_verifies_or_panics(
        auth in prop_oneof![
            "\\PC{0,80}",
            "AWS4-HMAC-SHA256( ?(Credential|SignedHeaders|Signature|Foo)(=[A-Za-z0-9/;_-]{0,30})?,?){0,5}",
        ],
        raw in prop::option::of(prop::collection::vec(any::<u8>(), 0..40)),
        headers in prop::collection::vec(("[A-Za-z-]{0,12}", prop::collection::vec(any::<u8>(), 0..20)), 0..6),
        path in "\\PC{0,20}",
        query in "\\PC{0,20}",
    ) {
        let mut req = Owned::new("GET", &path, &query, &[], b"");
        req.headers = headers;
        req.headers.push(("Authorization".into(), raw.unwrap_or_else(|| auth.into_bytes())));
        req.headers.push(("X-Amz-Date".into(), b"20150830T123600Z".to_vec()));
        let err = req.verify(&verifier(), at("20150830T123600Z")).unwrap_err();
        prop_assert!(!err.message().is_empty());
        prop_assert_eq!(err.http_status(), 403);
    }

    #[test]
    fn arbitrary_header_maps_never_panic(
        headers in prop::collection::vec(
            (
                prop_oneof!["[A-Za-z-]{0,12}", Just("x-amz-date".to_owned()), Just("date".to_owned()), Just("authorization".to_owned()), Just("host".to_owned())],
                prop::collection::vec(any::<u8>(), 0..24),
            ),
            0..8,
        ),
    ) {
        let mut req = Owned::new("GET", "/", "", &[], b"");
        req.headers = headers;
        let result = req.verify(&verifier(), at("20150830T123600Z"));
        prop_assert!(result.is_err());
    }
}

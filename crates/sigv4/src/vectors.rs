//! AWS's SigV4 test suite (`tests/vectors`, see its README): canonical request, string to sign
//! and signature must match byte for byte, the signer must reproduce each `Authorization`, and
//! the verifier must accept each signed request and reject it with one byte changed.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::auth_header;
use crate::canonical::{self, CanonicalOptions};
use crate::{
    AmzDate, AuthError, Credentials, HeaderSelection, Payload, Request, SignOptions, SigningParams,
    Verifier, sign,
};

const KEY_ID: &str = "AKIDEXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const SUITE_TIME: u64 = 1_440_938_160; // 20150830T123600Z

/// Every vector with a full `context.json`.
const SUITE: [&str; 38] = [
    "get-header-key-duplicate",
    "get-header-value-multiline",
    "get-header-value-order",
    "get-header-value-trim",
    "get-relative-normalized",
    "get-relative-relative-normalized",
    "get-relative-relative-unnormalized",
    "get-relative-unnormalized",
    "get-slash-dot-slash-normalized",
    "get-slash-dot-slash-unnormalized",
    "get-slash-normalized",
    "get-slash-pointless-dot-normalized",
    "get-slash-pointless-dot-unnormalized",
    "get-slash-unnormalized",
    "get-slashes-normalized",
    "get-slashes-unnormalized",
    "get-space-normalized",
    "get-space-unnormalized",
    "get-unreserved",
    "get-utf8",
    "get-vanilla",
    "get-vanilla-empty-query-key",
    "get-vanilla-query",
    "get-vanilla-query-order-encoded",
    "get-vanilla-query-order-key-case",
    "get-vanilla-query-unreserved",
    "get-vanilla-utf8-query",
    "get-vanilla-with-session-token",
    "post-header-key-case",
    "post-header-key-sort",
    "post-header-value-case",
    "post-sts-header-after",
    "post-sts-header-before",
    "post-vanilla",
    "post-vanilla-empty-query-value",
    "post-vanilla-query",
    "post-x-www-form-urlencoded",
    "post-x-www-form-urlencoded-parameters",
];

fn read(name: &str, file: &str) -> String {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "vectors", name, file]
        .iter()
        .collect();
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A request parsed from the suite's `.txt` form.
struct Http {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

impl Http {
    fn parse(text: &str) -> Self {
        let (head, body) = text.split_once("\n\n").unwrap_or((text, ""));
        let mut lines = head.lines();
        let request_line = lines.next().expect("request line");
        let request_line = request_line
            .strip_suffix(" HTTP/1.1")
            .unwrap_or(request_line);
        let (method, target) = request_line.split_once(' ').expect("method and target");
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let mut headers: Vec<(String, Vec<u8>)> = Vec::new();
        for line in lines {
            if line.starts_with([' ', '\t']) {
                // obs-fold: a continuation line joins the previous value with a space.
                let last = headers.last_mut().expect("folded line follows a header");
                last.1.push(b' ');
                last.1.extend_from_slice(line.as_bytes());
            } else {
                let (name, value) = line.split_once(':').expect("header line");
                headers.push((name.to_owned(), value.as_bytes().to_vec()));
            }
        }
        Self {
            method: method.to_owned(),
            path: path.to_owned(),
            query: query.to_owned(),
            headers,
            body: body.as_bytes().to_vec(),
        }
    }

    fn header_refs(&self) -> Vec<(&str, &[u8])> {
        self.headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_slice()))
            .collect()
    }

    fn authorization(&self) -> &[u8] {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("authorization"))
            .map(|(_, v)| v.as_slice())
            .expect("signed request has Authorization")
    }
}

fn request<'a>(http: &'a Http, headers: &'a [(&'a str, &'a [u8])]) -> Request<'a> {
    Request {
        method: &http.method,
        path: &http.path,
        query: &http.query,
        headers,
        payload: Payload::Bytes(&http.body),
    }
}

/// The few `context.json` fields that vary, read without a JSON parser.
struct Context {
    normalize: bool,
    sign_body: bool,
    token: Option<String>,
    omit_token: bool,
}

impl Context {
    fn load(name: &str) -> Self {
        let text = read(name, "context.json");
        let boolean = |key: &str| text.contains(&format!("\"{key}\": true"));
        let token = text.split_once("\"token\": \"").map(|(_, rest)| {
            rest.split_once('"')
                .expect("token is a closed string")
                .0
                .to_owned()
        });
        Self {
            normalize: boolean("normalize"),
            sign_body: boolean("sign_body"),
            token,
            omit_token: boolean("omit_session_token"),
        }
    }

    fn canonical(&self, name: &str) -> CanonicalOptions {
        CanonicalOptions {
            normalize_path: self.normalize,
            // This one vector sends an already-encoded path and expects it encoded once (S3's
            // rule); aws-sigv4 skips it for the same reason. Every other vector's path holds no
            // `%`, where single and double encoding agree.
            double_encode: name != "get-space-normalized",
        }
    }
}

fn suite_time() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(SUITE_TIME)
}

fn suite_verifier(opts: CanonicalOptions) -> Verifier {
    Verifier::new(
        "us-east-1",
        "service",
        [(KEY_ID.to_owned(), SECRET.to_owned())],
    )
    .with_canonical_options(opts)
}

#[test]
fn canonical_request_string_to_sign_and_signature_match() {
    for name in SUITE {
        let ctx = Context::load(name);
        let signed = Http::parse(&read(name, "header-signed-request.txt"));
        let headers = signed.header_refs();
        let req = request(&signed, &headers);
        let auth = auth_header::parse(signed.authorization(), true).expect("well formed");

        let payload = crate::verify::checked_payload_hash(&req).expect("payload hash matches");
        let creq =
            canonical::canonical_request(&req, &auth.signed_headers, &payload, ctx.canonical(name));
        assert_eq!(
            String::from_utf8_lossy(&creq),
            read(name, "header-canonical-request.txt"),
            "{name}"
        );
        let date = AmzDate::parse("20150830T123600Z").expect("suite date");
        let scope = canonical::scope(date, "us-east-1", "service");
        let sts = canonical::string_to_sign(date, &scope, &creq);
        assert_eq!(sts, read(name, "header-string-to-sign.txt"), "{name}");
        let signature = canonical::signature_hex(
            canonical::signing_mac(SECRET, date, "us-east-1", "service"),
            &sts,
        );
        assert_eq!(signature, read(name, "header-signature.txt"), "{name}");
        assert_eq!(signature, auth.signature, "{name}");
    }
}

#[test]
fn signer_reproduces_each_authorization() {
    for name in SUITE {
        let ctx = Context::load(name);
        if ctx.omit_token {
            // The token is sent but deliberately left unsigned; our signer always signs it.
            continue;
        }
        let unsigned = Http::parse(&read(name, "request.txt"));
        let headers = unsigned.header_refs();
        let creds = Credentials {
            access_key_id: KEY_ID.into(),
            secret_access_key: SECRET.into(),
            session_token: ctx.token.clone(),
        };
        let params = SigningParams {
            region: "us-east-1",
            service: "service",
            time: suite_time(),
            options: SignOptions {
                canonical: ctx.canonical(name),
                content_sha256_header: ctx.sign_body,
                headers: HeaderSelection::All,
            },
        };
        let sig = sign(&request(&unsigned, &headers), &creds, &params).expect("host present");
        let signed = Http::parse(&read(name, "header-signed-request.txt"));
        let (_, authorization) = sig.headers.last().expect("Authorization is last");
        assert_eq!(
            authorization.as_bytes(),
            signed.authorization(),
            "{name}\n{}",
            sig.canonical_request
        );
    }
}

#[test]
fn verifier_accepts_each_signed_request_and_rejects_one_changed_byte() {
    for name in SUITE {
        let ctx = Context::load(name);
        let verifier = suite_verifier(ctx.canonical(name));
        let signed = Http::parse(&read(name, "header-signed-request.txt"));
        let headers = signed.header_refs();
        let result = verifier.verify(&request(&signed, &headers), suite_time());
        if ctx.omit_token {
            assert_eq!(
                result,
                Err(AuthError::InvalidSignature(
                    "'x-amz-security-token' must be a 'SignedHeader' in the AWS Authorization."
                        .into()
                )),
                "{name}"
            );
            let lenient = verifier.clone().require_signed_amz_headers(false);
            assert!(
                lenient
                    .verify(&request(&signed, &headers), suite_time())
                    .is_ok(),
                "{name}"
            );
            continue;
        }
        let identity = result.unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert_eq!(identity.access_key_id, KEY_ID);
        assert_eq!(identity.session_token, ctx.token, "{name}");

        for mutation in [
            Mutation::Header("authorization"),
            Mutation::Header("host"),
            Mutation::Header("x-amz-date"),
            Mutation::Method,
            Mutation::Body,
        ] {
            let mut changed = Http::parse(&read(name, "header-signed-request.txt"));
            mutation.apply(&mut changed);
            let headers = changed.header_refs();
            assert_eq!(
                verifier.verify(&request(&changed, &headers), suite_time()),
                Err(AuthError::SignatureMismatch),
                "{name} {mutation:?}"
            );
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Mutation {
    /// Change the last digit of a header's value, or its last byte if it has no digit (for
    /// `Authorization`, the signature; for `X-Amz-Date`, the seconds, staying within the skew).
    Header(&'static str),
    Method,
    /// Change a body byte, or add one to an empty body.
    Body,
}

impl Mutation {
    fn apply(self, http: &mut Http) {
        let bump = |b: &mut u8| *b = if *b == b'0' { b'1' } else { b'0' };
        match self {
            Self::Header(name) => {
                let (_, value) = http
                    .headers
                    .iter_mut()
                    .find(|(n, _)| n.eq_ignore_ascii_case(name))
                    .expect("header present");
                let at = value
                    .iter()
                    .rposition(u8::is_ascii_digit)
                    .unwrap_or(value.len() - 1);
                bump(&mut value[at]);
            }
            Self::Method => http.method.insert(0, 'X'),
            Self::Body => match http.body.first_mut() {
                Some(b) => bump(b),
                None => http.body.push(b'x'),
            },
        }
    }
}

#[test]
fn lambda_double_url_encode_vector() {
    let name = "double-url-encode";
    let signed = Http::parse(&read(name, "header-signed-request.txt"));
    let headers = signed.header_refs();
    let req = request(&signed, &headers);
    let auth = auth_header::parse(signed.authorization(), true).expect("well formed");
    let creq = canonical::canonical_request(
        &req,
        &auth.signed_headers,
        &canonical::sha256_hex(b""),
        CanonicalOptions::default(),
    );
    assert_eq!(
        String::from_utf8_lossy(&creq),
        read(name, "header-canonical-request.txt")
    );
    let date = AmzDate::parse("20210511T154045Z").expect("valid");
    let sts =
        canonical::string_to_sign(date, &canonical::scope(date, "us-east-2", "lambda"), &creq);
    assert_eq!(sts, read(name, "header-string-to-sign.txt").trim_end());

    let at = UNIX_EPOCH + Duration::from_secs(date.unix_seconds().unsigned_abs());
    let verifier = Verifier::new("us-east-2", "lambda", [(KEY_ID.into(), SECRET.into())]);
    assert!(verifier.verify(&req, at).is_ok());
    let east1 = Verifier::new("us-east-1", "lambda", [(KEY_ID.into(), SECRET.into())]);
    assert_eq!(
        east1.verify(&req, at),
        Err(AuthError::InvalidSignature(
            "Credential should be scoped to a valid region, not 'us-east-2'.".into()
        ))
    );
}

#[test]
fn double_encode_path_vector_canonical_uri() {
    let name = "double-encode-path";
    let unsigned = Http::parse(&read(name, "request.txt"));
    let expected = read(name, "header-canonical-request.txt");
    let expected_uri = expected.lines().nth(1).expect("uri line");
    assert_eq!(
        canonical::canonical_uri(&unsigned.path, CanonicalOptions::default()),
        expected_uri
    );
}

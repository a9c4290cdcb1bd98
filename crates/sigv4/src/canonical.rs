//! The canonical request and string to sign, shared by [`crate::sign`] and [`crate::Verifier`].
//!
//! Both sides must agree byte for byte, so there is exactly one implementation of each step.
//! Where clients disagree with each other, the choice is commented.

use hmac::{Hmac, KeyInit, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, percent_encode};
use sha2::{Digest, Sha256};

use crate::request::{Payload, Request};
use crate::time::AmzDate;

/// The only algorithm this crate signs or verifies.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// The fixed last element of every credential scope.
pub const TERMINATOR: &str = "aws4_request";

/// RFC 3986 unreserved characters stay; every other byte is `%XX` (upper-case hex).
const QUERY_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');
/// As [`QUERY_SET`], but `/` separates segments and stays.
const PATH_SET: &AsciiSet = &QUERY_SET.remove(b'/');

/// How the path becomes the canonical URI.
///
/// The default is what Lambda (and every AWS service but S3) expects, and what boto3, the AWS CLI
/// and aws-sdk-rust send: remove dot segments and empty segments, then URI-encode the path *as it
/// was sent*, so a `%3A` on the wire becomes `%253A` in the canonical URI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CanonicalOptions {
    /// Remove `.`/`..` segments and collapse `//` (RFC 3986 §5.2.4 plus AWS's empty-segment rule).
    pub normalize_path: bool,
    /// Encode the wire path again (`%` → `%25`). When false, each segment is decoded and encoded
    /// once, which is S3's rule.
    pub double_encode: bool,
}

impl Default for CanonicalOptions {
    fn default() -> Self {
        Self {
            normalize_path: true,
            double_encode: true,
        }
    }
}

/// The canonical URI of `path` (the raw request path, without `?query`).
pub fn canonical_uri(path: &str, opts: CanonicalOptions) -> String {
    let path = if path.is_empty() { "/" } else { path };
    let normalized;
    let path = if opts.normalize_path {
        normalized = normalize_path(path);
        normalized.as_str()
    } else {
        path
    };
    if opts.double_encode {
        percent_encode(path.as_bytes(), PATH_SET).to_string()
    } else {
        path.split('/')
            .map(|seg| {
                let raw: Vec<u8> = percent_decode_str(seg).collect();
                percent_encode(&raw, QUERY_SET).to_string()
            })
            .collect::<Vec<_>>()
            .join("/")
    }
}

/// Removes `.` and `..` segments and empty segments, keeping a trailing slash.
///
/// This follows aws-sigv4 (and RFC 3986 §5.2.4 for `/foo/.` → `/foo/`); botocore drops the
/// trailing slash in that one case. Lambda paths never contain dot segments, so neither client
/// is affected.
fn normalize_path(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    let mut result = String::with_capacity(path.len() + 1);
    result.push('/');
    result.push_str(&out.join("/"));
    let trailing = ["/", "/.", "/.."].iter().any(|s| path.ends_with(s));
    if trailing && !result.ends_with('/') {
        result.push('/');
    }
    result
}

/// The canonical query string of a raw query (`a=1&b=2`, no leading `?`).
///
/// Each name and value is percent-decoded and re-encoded with the unreserved set, then pairs are
/// sorted by name and then value. A `+` is taken literally (it becomes `%2B`): botocore and
/// aws-sdk-rust both encode `+` and space themselves, so neither ever sends a bare `+`.
pub fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (reencode(name), reencode(value))
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

fn reencode(s: &str) -> String {
    let raw: Vec<u8> = percent_decode_str(s).collect();
    percent_encode(&raw, QUERY_SET).to_string()
}

/// All values of header `name` (any case), each trimmed with inner runs of spaces collapsed,
/// joined with `,` in the order received. `None` if the request has no such header.
pub(crate) fn header_value(headers: &[(&str, &[u8])], name: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut found = false;
    for (_, value) in headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)) {
        if found {
            out.push(b',');
        }
        found = true;
        trim_all_into(value, &mut out);
    }
    found.then_some(out)
}

/// AWS's `Trimall`: strip spaces at both ends and collapse runs of spaces to one. Only the space
/// byte counts (as in aws-sigv4); botocore also folds tabs, which no SDK puts in a header value.
fn trim_all_into(value: &[u8], out: &mut Vec<u8>) {
    let start = value.iter().position(|b| *b != b' ').unwrap_or(value.len());
    let end = value
        .iter()
        .rposition(|b| *b != b' ')
        .map_or(start, |i| i + 1);
    let mut prev_space = false;
    for &b in &value[start..end] {
        if b == b' ' && prev_space {
            continue;
        }
        prev_space = b == b' ';
        out.push(b);
    }
}

/// Lower-case hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// The payload hash as it goes into the canonical request.
pub(crate) fn payload_hash(payload: &Payload<'_>) -> String {
    match payload {
        Payload::Bytes(b) => sha256_hex(b),
        Payload::Sha256Hex(h) => h.to_ascii_lowercase(),
    }
}

/// The canonical request, as bytes because header values need not be UTF-8.
///
/// `signed_headers` are lower-case names in the order they are to appear (clients sort them; the
/// verifier passes the client's list through unchanged). A signed header missing from the
/// request contributes an empty value.
pub(crate) fn canonical_request(
    req: &Request<'_>,
    signed_headers: &[String],
    payload_hash: &str,
    opts: CanonicalOptions,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(req.method.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(canonical_uri(req.path, opts).as_bytes());
    out.push(b'\n');
    out.extend_from_slice(canonical_query(req.query).as_bytes());
    out.push(b'\n');
    for name in signed_headers {
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        out.extend_from_slice(&header_value(req.headers, name).unwrap_or_default());
        out.push(b'\n');
    }
    out.push(b'\n');
    out.extend_from_slice(signed_headers.join(";").as_bytes());
    out.push(b'\n');
    out.extend_from_slice(payload_hash.as_bytes());
    out
}

/// `date/region/service/aws4_request`.
pub(crate) fn scope(date: AmzDate, region: &str, service: &str) -> String {
    format!("{}/{region}/{service}/{TERMINATOR}", date.date_stamp())
}

/// The string to sign for a canonical request.
pub(crate) fn string_to_sign(date: AmzDate, scope: &str, canonical_request: &[u8]) -> String {
    format!(
        "{ALGORITHM}\n{date}\n{scope}\n{}",
        sha256_hex(canonical_request)
    )
}

type HmacSha256 = Hmac<Sha256>;

fn hmac(key: &[u8], data: &[u8]) -> HmacSha256 {
    <HmacSha256 as KeyInit>::new_from_slice(key)
        .expect("HMAC accepts keys of any length")
        .chain_update(data)
}

/// The HMAC keyed with the derived signing key, ready to take the string to sign.
pub(crate) fn signing_mac(secret: &str, date: AmzDate, region: &str, service: &str) -> HmacSha256 {
    let k_secret = format!("AWS4{secret}");
    let k_date = hmac(k_secret.as_bytes(), date.date_stamp().as_bytes()).finalize();
    let k_region = hmac(&k_date.into_bytes(), region.as_bytes()).finalize();
    let k_service = hmac(&k_region.into_bytes(), service.as_bytes()).finalize();
    let k_signing = hmac(&k_service.into_bytes(), TERMINATOR.as_bytes()).finalize();
    hmac(&k_signing.into_bytes(), b"")
}

/// Lower-case hex HMAC-SHA256 of `data` under `key`, for URLs the server signs itself.
pub fn hmac_sha256_hex(key: &[u8], data: &[u8]) -> String {
    hex::encode(hmac(key, data).finalize().into_bytes())
}

/// Hex signature of `string_to_sign` under the derived key.
pub(crate) fn signature_hex(mac: HmacSha256, string_to_sign: &str) -> String {
    hex::encode(
        mac.chain_update(string_to_sign.as_bytes())
            .finalize()
            .into_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn lambda_arn_path_is_double_encoded() {
        let path = "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Afoo/configuration";
        assert_eq!(
            canonical_uri(path, CanonicalOptions::default()),
            "/2015-03-31/functions/arn%253Aaws%253Alambda%253Aus-east-1%253A000000000000%253Afunction%253Afoo/configuration"
        );
    }

    #[test]
    fn single_encoding_decodes_first() {
        let opts = CanonicalOptions {
            normalize_path: false,
            double_encode: false,
        };
        assert_eq!(canonical_uri("/a%3Ab/c d/%2F", opts), "/a%3Ab/c%20d/%2F");
    }

    #[test]
    fn normalization_matches_rfc3986_and_aws() {
        for (input, want) in [
            ("", "/"),
            ("/", "/"),
            ("//", "/"),
            ("/./", "/"),
            ("/example/..", "/"),
            ("/a/b/../..", "/"),
            ("/../a", "/a"),
            ("//example//", "/example/"),
            ("/./example", "/example"),
            ("/foo/.", "/foo/"),
            ("/foo/bar", "/foo/bar"),
        ] {
            assert_eq!(
                normalize_path(if input.is_empty() { "/" } else { input }),
                want,
                "{input}"
            );
        }
    }

    #[test]
    fn query_is_decoded_reencoded_and_sorted() {
        assert_eq!(
            canonical_query("Param-3=Value3&Param=Value2&%E1%88%B4=Value1"),
            "%E1%88%B4=Value1&Param=Value2&Param-3=Value3"
        );
        assert_eq!(
            canonical_query("b=2&a&a=1&&c=x%20y+z"),
            "a=&a=1&b=2&c=x%20y%2Bz"
        );
        assert_eq!(canonical_query("k=%zz%4"), "k=%25zz%254");
        assert_eq!(canonical_query(""), "");
    }

    #[test]
    fn header_values_are_trimmed_collapsed_and_joined() {
        let headers: [(&str, &[u8]); 4] = [
            ("My-Header1", b"  a   b  "),
            ("my-header1", b"c"),
            ("Other", b"x"),
            ("MY-HEADER1", b"\"q  r\""),
        ];
        assert_eq!(
            header_value(&headers, "my-header1").as_deref(),
            Some(&b"a b,c,\"q r\""[..])
        );
        assert_eq!(header_value(&headers, "absent"), None);
        let empty: [(&str, &[u8]); 1] = [("x-empty", b"   ")];
        assert_eq!(header_value(&empty, "x-empty").as_deref(), Some(&b""[..]));
    }

    proptest! {
        #[test]
        fn canonical_uri_is_always_encoded(path in "\\PC{0,40}", norm: bool, double: bool) {
            let opts = CanonicalOptions { normalize_path: norm, double_encode: double };
            let uri = canonical_uri(&path, opts);
            prop_assert!(uri.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.~/%".contains(&b)));
            if norm {
                prop_assert!(uri.starts_with('/') && !uri.contains("//"));
            }
        }

        #[test]
        fn canonical_query_is_stable_under_reencoding(q in "[a-z%0-9=&+ ~:\\u{1234}]{0,30}") {
            let once = canonical_query(&q);
            prop_assert_eq!(canonical_query(&once), once.clone());
        }
    }
}

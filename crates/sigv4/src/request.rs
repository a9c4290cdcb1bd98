//! A borrowed view of an HTTP request, free of any HTTP crate so axum and ureq callers can both
//! build one cheaply.

/// The parts of a request that SigV4 covers, exactly as they travel on the wire.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// The method, as sent (`GET`, `POST`, ...).
    pub method: &'a str,
    /// The raw path, still percent-encoded as sent (`/2015-03-31/functions/arn%3Aaws%3A...`),
    /// without the query.
    pub path: &'a str,
    /// The raw query string without the leading `?`; empty if there is none.
    pub query: &'a str,
    /// Every header as received: names in any case, repeated names allowed, values as bytes
    /// because HTTP does not promise UTF-8. Must include `host` (for HTTP/2, the `:authority`).
    pub headers: &'a [(&'a str, &'a [u8])],
    /// The body, or its SHA-256 if the caller already hashed it.
    pub payload: Payload<'a>,
}

/// The request body as far as signing is concerned.
#[derive(Clone, Copy, Debug)]
pub enum Payload<'a> {
    /// The whole body.
    Bytes(&'a [u8]),
    /// Lower-case hex SHA-256 of the body, computed by the caller (for example while streaming).
    Sha256Hex(&'a str),
}

impl<'a> Request<'a> {
    /// The first value of header `name` (any case), if any.
    pub(crate) fn first_header(&self, name: &str) -> Option<&'a [u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }
}

//! A minimal keep-alive HTTP/1.1 client that signs with SigV4, so the bench measures the server
//! rather than a client library.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::SystemTime;

use base64::Engine;
use bulkhead_sigv4::{Credentials, Payload, SignOptions, SigningParams};

#[derive(Clone)]
pub struct Client {
    addr: String,
    creds: Credentials,
}

pub struct Conn {
    reader: BufReader<TcpStream>,
}

impl Client {
    pub fn new(addr: &str) -> Self {
        let creds = Credentials {
            access_key_id: "BULKHEADLOCALDEMOKEY".into(),
            secret_access_key: "bulkhead/local/demo/secret/not/for/prod".into(),
            session_token: None,
        };
        Self {
            addr: addr.to_owned(),
            creds,
        }
    }

    pub fn connect(&self) -> Conn {
        let s = TcpStream::connect(&self.addr).expect("connect to the server");
        s.set_nodelay(true).expect("nodelay");
        Conn {
            reader: BufReader::new(s),
        }
    }

    fn request(
        &self,
        conn: &mut Conn,
        method: &str,
        path: &str,
        extra: &[(&str, &str)],
        body: &[u8],
    ) -> (u16, Vec<u8>) {
        let mut headers: Vec<(&str, &[u8])> = vec![("host", self.addr.as_bytes())];
        headers.extend(extra.iter().map(|(k, v)| (*k, v.as_bytes())));
        let req = bulkhead_sigv4::Request {
            method,
            path,
            query: "",
            headers: &headers,
            payload: Payload::Bytes(body),
        };
        let params = SigningParams {
            region: "us-east-1",
            service: "lambda",
            time: SystemTime::now(),
            options: SignOptions::default(),
        };
        let sig = bulkhead_sigv4::sign(&req, &self.creds, &params).expect("sign");
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n",
            self.addr,
            body.len()
        );
        for (k, v) in extra {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        for (k, v) in &sig.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        // One write, as HTTP clients send a small request (http.client does), so the server
        // wakes once for it.
        let stream = conn.reader.get_mut();
        stream
            .write_all(&[head.as_bytes(), body].concat())
            .expect("send");
        read_response(&mut conn.reader)
    }

    pub fn create(
        &self,
        name: &str,
        runtime: &str,
        handler: Option<&str>,
        zip: &[u8],
        per_tenant: bool,
    ) {
        let mut body = serde_json::json!({
            "FunctionName": name, "Runtime": runtime, "Role": "arn:aws:iam::000000000000:role/bench",
            "Code": { "ZipFile": base64::engine::general_purpose::STANDARD.encode(zip) }, "MemorySize": 256, "Timeout": 30,
        });
        if let Some(h) = handler {
            body["Handler"] = h.into();
        }
        if per_tenant {
            body["TenancyConfig"] = serde_json::json!({ "TenantIsolationMode": "PER_TENANT" });
        }
        let mut conn = self.connect();
        let (status, resp) = self.request(
            &mut conn,
            "POST",
            "/2015-03-31/functions",
            &[],
            body.to_string().as_bytes(),
        );
        assert_eq!(
            status,
            201,
            "create {name}: {}",
            String::from_utf8_lossy(&resp)
        );
    }

    pub fn invoke(
        &self,
        conn: &mut Conn,
        name: &str,
        tenant: Option<&str>,
        payload: &[u8],
    ) -> Vec<u8> {
        let path = format!("/2015-03-31/functions/{name}/invocations");
        let extra: Vec<(&str, &str)> = tenant.map(|t| ("x-amz-tenant-id", t)).into_iter().collect();
        let (status, body) = self.request(conn, "POST", &path, &extra, payload);
        assert_eq!(
            status,
            200,
            "invoke {name}: {}",
            String::from_utf8_lossy(&body)
        );
        body
    }
}

pub fn read_response(reader: &mut impl BufRead) -> (u16, Vec<u8>) {
    let mut line = String::new();
    reader.read_line(&mut line).expect("status line");
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    let mut length = 0;
    loop {
        line.clear();
        reader.read_line(&mut line).expect("header");
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            length = v.trim().parse().expect("length");
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).expect("body");
    (status, body)
}

/// The floor's request: same method, path shape and body as an invoke, without signing.
pub fn round_trip(stream: &mut TcpStream, addr: &str, body: &[u8]) {
    let head = format!(
        "POST /2015-03-31/functions/noop/invocations HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream
        .write_all(&[head.as_bytes(), body].concat())
        .expect("send");
    let mut reader = BufReader::new(&*stream);
    read_response(&mut reader);
}

/// Serves the floor: answers each request with its own body.
pub fn echo_connection(conn: TcpStream) {
    let _ = conn.set_nodelay(true);
    let mut reader = BufReader::new(match conn.try_clone() {
        Ok(c) => c,
        Err(_) => return,
    });
    let mut writer = conn;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0;
        loop {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len());
        if writer
            .write_all(&[head.as_bytes(), &body].concat())
            .is_err()
        {
            return;
        }
    }
}

//! Just enough of the Lambda Runtime API (lambda-api.md §3) to hand one invocation to a real
//! runtime client and collect what it posts back. The platform's own Runtime API lives in another
//! crate; this one exists so these tests check the installed clients and the launch plans against
//! the wire contract without depending on it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[derive(Clone, Copy)]
pub struct Invocation {
    pub request_id: &'static str,
    pub tenant_id: &'static str,
    pub event: &'static str,
}

pub struct OneInvocation {
    pub address: String,
    posted: Receiver<(String, String)>,
    done: Arc<AtomicBool>,
}

impl OneInvocation {
    /// The first thing the runtime posts (path, body): the response, or an error.
    pub fn result(&self, timeout: Duration) -> Option<(String, String)> {
        self.posted.recv_timeout(timeout).ok()
    }
}

impl Drop for OneInvocation {
    fn drop(&mut self) {
        self.done.store(true, Ordering::SeqCst);
    }
}

pub fn serve_one(inv: Invocation) -> OneInvocation {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    listener.set_nonblocking(true).unwrap();
    let (tx, posted) = channel();
    let done = Arc::new(AtomicBool::new(false));
    let handed_out = Arc::new(AtomicBool::new(false));
    let flag = done.clone();
    thread::spawn(move || {
        while !flag.load(Ordering::SeqCst) {
            match listener.accept() {
                Ok((stream, _)) => {
                    let (tx, flag, handed_out) = (tx.clone(), flag.clone(), handed_out.clone());
                    thread::spawn(move || connection(stream, inv, &tx, &flag, &handed_out));
                }
                Err(_) => thread::sleep(Duration::from_millis(5)),
            }
        }
    });
    OneInvocation {
        address,
        posted,
        done,
    }
}

fn connection(
    stream: TcpStream,
    inv: Invocation,
    tx: &Sender<(String, String)>,
    done: &AtomicBool,
    handed_out: &AtomicBool,
) {
    stream.set_nonblocking(false).unwrap();
    let mut out = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = request_line.split_whitespace();
        let method = parts.next().unwrap_or("").to_owned();
        let path = parts.next().unwrap_or("").to_owned();
        let mut length = 0usize;
        let mut chunked = false;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(':').unwrap_or((line, ""));
            match name.to_ascii_lowercase().as_str() {
                "content-length" => length = value.trim().parse().unwrap_or(0),
                "transfer-encoding" => chunked = value.to_ascii_lowercase().contains("chunked"),
                _ => {}
            }
        }
        let body = if chunked {
            read_chunked(&mut reader)
        } else {
            let mut b = vec![0; length];
            if reader.read_exact(&mut b).is_err() {
                return;
            }
            b
        };
        if method == "GET" && path.ends_with("/runtime/invocation/next") {
            if handed_out.swap(true, Ordering::SeqCst) {
                // The runtime is idle now; hold its /next until the test ends.
                while !done.load(Ordering::SeqCst) {
                    thread::sleep(Duration::from_millis(20));
                }
                return;
            }
            let deadline = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_millis()
                + 30_000;
            let headers = format!(
                "Lambda-Runtime-Aws-Request-Id: {}\r\n\
                 Lambda-Runtime-Deadline-Ms: {deadline}\r\n\
                 Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:000000000000:function:f\r\n\
                 Lambda-Runtime-Trace-Id: Root=1-00000000-000000000000000000000000;Sampled=0\r\n\
                 Lambda-Runtime-Aws-Tenant-Id: {}\r\n",
                inv.request_id, inv.tenant_id
            );
            respond(&mut out, "200 OK", &headers, inv.event);
        } else {
            respond(&mut out, "202 Accepted", "", r#"{"status":"OK"}"#);
            let _ = tx.send((path, String::from_utf8_lossy(&body).into_owned()));
        }
    }
}

fn read_chunked(reader: &mut impl BufRead) -> Vec<u8> {
    let mut body = Vec::new();
    loop {
        let mut size = String::new();
        if reader.read_line(&mut size).unwrap_or(0) == 0 {
            return body;
        }
        let n =
            usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16).unwrap_or(0);
        let mut chunk = vec![0; n + 2];
        if reader.read_exact(&mut chunk).is_err() {
            return body;
        }
        if n == 0 {
            return body;
        }
        body.extend_from_slice(&chunk[..n]);
    }
}

fn respond(out: &mut TcpStream, status: &str, headers: &str, body: &str) {
    let _ = write!(
        out,
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{headers}\r\n{body}",
        body.len()
    );
    let _ = out.flush();
}

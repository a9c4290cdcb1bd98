//! The Runtime API over real loopback HTTP, spoken by hand as a runtime client would.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use super::*;

async fn connected(api: &RuntimeApi) -> BufReader<TcpStream> {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let client = TcpStream::connect(addr).await.expect("connect");
    let (server, _) = listener.accept().await.expect("accept");
    api.serve(Box::new(server));
    BufReader::new(client)
}

/// Sends one request and reads the response: (status, headers, body).
async fn request(
    conn: &mut BufReader<TcpStream>,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, Vec<(String, String)>, String) {
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:9001\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    conn.get_mut()
        .write_all(head.as_bytes())
        .await
        .expect("write");
    conn.get_mut().write_all(body).await.expect("write body");
    let mut line = String::new();
    conn.read_line(&mut line).await.expect("status line");
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    let mut headers = Vec::new();
    let mut length = 0;
    loop {
        line.clear();
        conn.read_line(&mut line).await.expect("header");
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let (k, v) = l.split_once(':').expect("header line");
        if k.eq_ignore_ascii_case("content-length") {
            length = v.trim().parse().expect("length");
        }
        headers.push((k.to_ascii_lowercase(), v.trim().to_owned()));
    }
    let mut body = vec![0; length];
    conn.read_exact(&mut body).await.expect("body");
    (status, headers, String::from_utf8(body).expect("utf8"))
}

/// `GET /next`, as a runtime asks for work.
async fn next(conn: &mut BufReader<TcpStream>) -> (u16, Vec<(String, String)>, String) {
    request(conn, "GET", "/2018-06-01/runtime/invocation/next", &[], b"").await
}

fn get<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Queues an invocation for the runtime's next `/next`, as the router does, on its own task.
fn invoke_in_background(
    api: &RuntimeApi,
    id: &str,
    tenant: Option<&str>,
) -> tokio::task::JoinHandle<Result<Outcome, Gone>> {
    let (api, invocation) = (api.clone(), invocation(id, tenant));
    tokio::spawn(async move { api.invoke(invocation).await })
}

fn invocation(id: &str, tenant: Option<&str>) -> Invocation {
    Invocation {
        request_id: id.into(),
        payload: Bytes::from_static(b"{\"n\":1}"),
        deadline_ms: 1_900_000_000_000,
        function_arn: "arn:aws:lambda:us-east-1:000000000000:function:f".into(),
        trace_id: "Root=1-abc".into(),
        client_context: None,
        cognito_identity: None,
        tenant_id: tenant.map(str::to_owned),
    }
}

#[tokio::test]
async fn next_delivers_the_event_with_lambdas_headers_and_the_tenant() {
    let api = RuntimeApi::new();
    let mut conn = connected(&api).await;
    let invoker = invoke_in_background(&api, "req-1", Some("blue"));
    let (status, headers, body) = next(&mut conn).await;
    assert_eq!((status, body.as_str()), (200, "{\"n\":1}"));
    assert_eq!(
        get(&headers, "lambda-runtime-aws-request-id"),
        Some("req-1")
    );
    assert_eq!(
        get(&headers, "lambda-runtime-deadline-ms"),
        Some("1900000000000")
    );
    assert_eq!(get(&headers, "lambda-runtime-aws-tenant-id"), Some("blue"));
    assert_eq!(
        get(&headers, "lambda-runtime-invoked-function-arn"),
        Some("arn:aws:lambda:us-east-1:000000000000:function:f")
    );
    assert_eq!(
        get(&headers, "lambda-runtime-client-context"),
        None,
        "empty headers are not sent"
    );
    assert_eq!(
        api.init_state(),
        InitState::Ready,
        "the first /next ends Init"
    );
    let (status, _, body) = request(
        &mut conn,
        "POST",
        "/2018-06-01/runtime/invocation/req-1/response",
        &[],
        b"\"done\"",
    )
    .await;
    assert_eq!((status, body.as_str()), (202, "{\"status\":\"OK\"}"));
    let outcome = invoker.await.expect("join").expect("answered");
    assert_eq!(outcome, Outcome::Response(Bytes::from_static(b"\"done\"")));
}

#[tokio::test]
async fn no_tenant_header_without_a_tenant() {
    let api = RuntimeApi::new();
    let mut conn = connected(&api).await;
    let invoker = invoke_in_background(&api, "req-2", None);
    let (_, headers, _) = next(&mut conn).await;
    assert_eq!(get(&headers, "lambda-runtime-aws-tenant-id"), None);
    request(
        &mut conn,
        "POST",
        "/2018-06-01/runtime/invocation/req-2/error",
        &[("Lambda-Runtime-Function-Error-Type", "Runtime.HandlerError")],
        b"{\"errorMessage\":\"boom\"}",
    )
    .await;
    let outcome = invoker.await.expect("join").expect("answered");
    assert_eq!(
        outcome,
        Outcome::Error {
            error_type: Some("Runtime.HandlerError".into()),
            body: Bytes::from_static(b"{\"errorMessage\":\"boom\"}")
        }
    );
}

#[tokio::test]
async fn wrong_ids_and_second_posts_get_the_documented_errors() {
    let api = RuntimeApi::new();
    let mut conn = connected(&api).await;
    let invoker = invoke_in_background(&api, "req-3", None);
    next(&mut conn).await;
    let (status, _, body) = request(
        &mut conn,
        "POST",
        "/2018-06-01/runtime/invocation/other/response",
        &[],
        b"x",
    )
    .await;
    assert_eq!(status, 400);
    assert!(body.contains("InvalidRequestID"), "{body}");
    let (status, _, _) = request(
        &mut conn,
        "POST",
        "/2018-06-01/runtime/invocation/req-3/response",
        &[],
        b"ok",
    )
    .await;
    assert_eq!(status, 202);
    let (status, _, body) = request(
        &mut conn,
        "POST",
        "/2018-06-01/runtime/invocation/req-3/response",
        &[],
        b"again",
    )
    .await;
    assert_eq!(status, 403);
    assert!(body.contains("InvalidStateTransition"), "{body}");
    assert_eq!(
        invoker.await.expect("join"),
        Ok(Outcome::Response(Bytes::from_static(b"ok")))
    );
}

#[tokio::test]
async fn init_error_fails_readiness_with_the_runtimes_type() {
    let api = RuntimeApi::new();
    let mut conn = connected(&api).await;
    let waiter = {
        let api = api.clone();
        tokio::spawn(async move { api.ready().await })
    };
    let (status, _, _) = request(
        &mut conn,
        "POST",
        "/2018-06-01/runtime/init/error",
        &[(
            "Lambda-Runtime-Function-Error-Type",
            "Runtime.ImportModuleError",
        )],
        b"{\"errorMessage\":\"No module named 'app'\"}",
    )
    .await;
    assert_eq!(status, 202);
    let err = tokio::time::timeout(Duration::from_secs(5), waiter)
        .await
        .expect("in time")
        .expect("join")
        .unwrap_err();
    assert_eq!(err.error_type.as_deref(), Some("Runtime.ImportModuleError"));
}

#[tokio::test]
async fn an_oversized_response_is_refused_and_reported() {
    let api = RuntimeApi::new();
    let mut conn = connected(&api).await;
    let invoker = invoke_in_background(&api, "big", None);
    next(&mut conn).await;
    let body = vec![b'x'; MAX_RESPONSE + 1];
    let (status, _, _) = request(
        &mut conn,
        "POST",
        "/2018-06-01/runtime/invocation/big/response",
        &[],
        &body,
    )
    .await;
    assert_eq!(status, 413);
    assert_eq!(invoker.await.expect("join"), Ok(Outcome::ResponseTooLarge));
}

#[tokio::test]
async fn asking_for_more_work_without_answering_abandons_the_invocation() {
    let api = RuntimeApi::new();
    let mut conn = connected(&api).await;
    let first = invoke_in_background(&api, "first", None);
    next(&mut conn).await;
    let second = invoke_in_background(&api, "second", None);
    let (_, headers, _) = next(&mut conn).await;
    assert_eq!(
        get(&headers, "lambda-runtime-aws-request-id"),
        Some("second")
    );
    assert_eq!(first.await.expect("join"), Err(Gone));
    request(
        &mut conn,
        "POST",
        "/2018-06-01/runtime/invocation/second/response",
        &[],
        b"2",
    )
    .await;
    assert_eq!(
        second.await.expect("join"),
        Ok(Outcome::Response(Bytes::from_static(b"2")))
    );
}

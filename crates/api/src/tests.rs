//! Handler tests through the whole router (auth included), without a socket.

use std::io::Write;
use std::sync::Arc;
use std::time::SystemTime;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine;
use bulkhead_registry::{Registry, Settings};
use bulkhead_sigv4::{Credentials, Payload, SignOptions, SigningParams, Verifier};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::*;

const KEY: &str = "AKIDTEST";
const SECRET: &str = "test-secret";

fn app_in(dir: &tempfile::TempDir) -> Router {
    let store = bulkhead_store::Store::open_in_memory().expect("store");
    let registry =
        Registry::open(store, dir.path().join("code"), Settings::default()).expect("registry");
    let verifier = Verifier::new("us-east-1", "lambda", [(KEY.to_owned(), SECRET.to_owned())]);
    app(AppState::new(Arc::new(registry), Arc::new(verifier)))
}

fn signed(method: &str, uri: &str, body: Vec<u8>, secret: &str) -> Request<Body> {
    let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
    let headers: Vec<(&str, &[u8])> = vec![("host", b"localhost")];
    let req = bulkhead_sigv4::Request {
        method,
        path,
        query,
        headers: &headers,
        payload: Payload::Bytes(&body),
    };
    let creds = Credentials {
        access_key_id: KEY.into(),
        secret_access_key: secret.into(),
        session_token: None,
    };
    let params = SigningParams {
        region: "us-east-1",
        service: "lambda",
        time: SystemTime::now(),
        options: SignOptions::default(),
    };
    let sig = bulkhead_sigv4::sign(&req, &creds, &params).expect("sign");
    let mut builder = Request::builder()
        .method(method)
        .uri(uri)
        .header("host", "localhost");
    for (k, v) in sig.headers {
        builder = builder.header(k, v);
    }
    builder.body(Body::from(body)).expect("request")
}

async fn call(app: &Router, req: Request<Body>) -> (StatusCode, Option<String>, Value) {
    let res = app.clone().oneshot(req).await.expect("infallible");
    let status = res.status();
    let code = res
        .headers()
        .get("x-amzn-ErrorType")
        .map(|v| v.to_str().unwrap_or("").to_owned());
    assert!(
        res.headers().contains_key("x-amzn-RequestId"),
        "every response carries a request id"
    );
    let bytes = res.into_body().collect().await.expect("body").to_bytes();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).expect("json body")
    };
    (status, code, body)
}

fn zip_b64() -> String {
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut w = zip::ZipWriter::new(&mut buf);
        w.start_file("app.py", zip::write::SimpleFileOptions::default())
            .expect("start");
        w.write_all(b"def handler(e, c):\n    return 1\n")
            .expect("write");
        w.finish().expect("finish");
    }
    base64::engine::general_purpose::STANDARD.encode(buf.into_inner())
}

fn create_body(name: &str) -> Vec<u8> {
    json!({
        "FunctionName": name, "Runtime": "python3.12", "Handler": "app.handler",
        "Role": "arn:aws:iam::123456789012:role/r", "Code": {"ZipFile": zip_b64()},
        "TenancyConfig": {"TenantIsolationMode": "PER_TENANT"}
    })
    .to_string()
    .into_bytes()
}

#[tokio::test]
async fn create_then_get_through_a_function_arn() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = app_in(&dir);
    let (status, _, body) = call(
        &app,
        signed("POST", "/2015-03-31/functions", create_body("f"), SECRET),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["TenancyConfig"]["TenantIsolationMode"], "PER_TENANT");
    let uri = "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Af/configuration";
    let (status, _, body) = call(&app, signed("GET", uri, vec![], SECRET)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["FunctionName"], "f");
}

#[tokio::test]
async fn errors_carry_aws_codes_and_member_spelling() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = app_in(&dir);
    let (status, code, body) = call(
        &app,
        signed("GET", "/2015-03-31/functions/nope", vec![], SECRET),
    )
    .await;
    assert_eq!(
        (status, code.as_deref()),
        (StatusCode::NOT_FOUND, Some("ResourceNotFoundException"))
    );
    assert_eq!(
        body["Message"],
        "Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope"
    );
    assert_eq!(body["Type"], "User");

    let (status, code, body) = call(
        &app,
        signed(
            "POST",
            "/2015-03-31/functions",
            b"{not json".to_vec(),
            SECRET,
        ),
    )
    .await;
    assert_eq!(
        (status, code.as_deref()),
        (
            StatusCode::BAD_REQUEST,
            Some("InvalidRequestContentException")
        )
    );
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("Could not parse request body into json"))
    );

    let wrong_type = json!({"FunctionName": "f", "MemorySize": "big"})
        .to_string()
        .into_bytes();
    let (_, code, _) = call(
        &app,
        signed("POST", "/2015-03-31/functions", wrong_type, SECRET),
    )
    .await;
    assert_eq!(code.as_deref(), Some("InvalidRequestContentException"));

    let (status, code, _) = call(
        &app,
        signed("GET", "/2015-03-31/nothing-here", vec![], SECRET),
    )
    .await;
    assert_eq!(
        (status, code.as_deref()),
        (StatusCode::NOT_FOUND, Some("UnknownOperationException"))
    );
}

#[tokio::test]
async fn unsigned_and_badly_signed_requests_never_reach_a_handler() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = app_in(&dir);
    let unsigned = Request::builder()
        .method("POST")
        .uri("/2015-03-31/functions")
        .header("host", "localhost")
        .body(Body::from(create_body("u")))
        .expect("request");
    let (status, code, _) = call(&app, unsigned).await;
    assert_eq!(
        (status, code.as_deref()),
        (
            StatusCode::FORBIDDEN,
            Some("MissingAuthenticationTokenException")
        )
    );
    let (status, code, _) = call(
        &app,
        signed("POST", "/2015-03-31/functions", create_body("u"), "wrong"),
    )
    .await;
    assert_eq!(
        (status, code.as_deref()),
        (StatusCode::FORBIDDEN, Some("InvalidSignatureException"))
    );
    let (status, _, _) = call(
        &app,
        signed("GET", "/2015-03-31/functions/u", vec![], SECRET),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "refused creates left nothing behind"
    );
}

#[tokio::test]
async fn an_oversized_body_is_refused_before_it_is_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = app_in(&dir);
    let req = Request::builder()
        .method("PUT")
        .uri("/2015-03-31/functions/f/configuration")
        .header("host", "localhost")
        .header("content-length", "7000000")
        .body(Body::from(vec![b' '; 7_000_000]))
        .expect("request");
    let (status, code, body) = call(&app, req).await;
    assert_eq!(
        (status, code.as_deref()),
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            Some("RequestEntityTooLargeException")
        )
    );
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("6291456"))
    );
}

#[tokio::test]
async fn tenant_isolated_functions_refuse_urls_and_provisioned_concurrency() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = app_in(&dir);
    call(
        &app,
        signed("POST", "/2015-03-31/functions", create_body("iso"), SECRET),
    )
    .await;
    let (status, code, body) = call(
        &app,
        signed(
            "POST",
            "/2021-10-31/functions/iso/url",
            b"{\"AuthType\":\"NONE\"}".to_vec(),
            SECRET,
        ),
    )
    .await;
    assert_eq!(
        (status, code.as_deref()),
        (
            StatusCode::BAD_REQUEST,
            Some("InvalidParameterValueException")
        )
    );
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("tenant isolation"))
    );
    let uri = "/2019-09-30/functions/iso/provisioned-concurrency?Qualifier=1";
    let body = b"{\"ProvisionedConcurrentExecutions\":1}".to_vec();
    let (_, code, _) = call(&app, signed("PUT", uri, body, SECRET)).await;
    assert_eq!(
        code.as_deref(),
        Some("ResourceNotFoundException"),
        "version 1 does not exist yet"
    );
    let (_, code, _) = call(
        &app,
        signed(
            "PUT",
            "/2019-09-30/functions/iso/provisioned-concurrency?Qualifier=%24LATEST",
            b"{}".to_vec(),
            SECRET,
        ),
    )
    .await;
    assert_eq!(code.as_deref(), Some("InvalidParameterValueException"));
}

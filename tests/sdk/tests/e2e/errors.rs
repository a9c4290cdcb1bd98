//! Validation, authentication and tenancy-incompatibility errors, as AWS reports them.

use std::time::{Duration, SystemTime};

use aws_sdk_lambda::error::ProvideErrorMetadata;
use aws_sdk_lambda::operation::create_function_url_config::CreateFunctionUrlConfigError;
use aws_sdk_lambda::operation::get_function::GetFunctionError;
use aws_sdk_lambda::operation::put_provisioned_concurrency_config::PutProvisionedConcurrencyConfigError;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{FunctionCode, FunctionUrlAuthType, Runtime};
use aws_smithy_async::time::StaticTimeSource;

use crate::http::raw_get;

use crate::harness::{
    LOCAL_KEY_ID, ROLE, client_for, create_python, describe, fresh, per_tenant, python_zip,
    status_of, wait_active,
};

fn assert_validation(err: &impl ProvideErrorMetadata, member: &str, value: &str) {
    // Smithy-modelled range violations come back as ValidationException with the member named
    // in camelCase: "1 validation error detected: Value '127' at 'memorySize' failed to satisfy
    // constraint: Member must have value greater than or equal to 128".
    assert_eq!(
        err.code(),
        Some("ValidationException"),
        "{:?}",
        err.message()
    );
    let message = err.message().unwrap_or_default();
    assert!(
        message.contains(&format!("Value '{value}' at '{member}'")),
        "message {message:?} does not name {member}={value}"
    );
}

#[tokio::test]
async fn create_function_with_memory_127_is_a_validation_error_naming_memory_size() {
    let (_work, server) = fresh();
    let client = server.client();
    let err = client
        .create_function()
        .function_name("tiny")
        .runtime(Runtime::Python312)
        .role(ROLE)
        .handler("index.handler")
        .memory_size(127)
        .code(
            FunctionCode::builder()
                .zip_file(Blob::new(python_zip("t")))
                .build(),
        )
        .send()
        .await
        .expect_err("memory 127 must be rejected");
    assert_eq!(status_of(&err), Some(400));
    assert_validation(&err.into_service_error(), "memorySize", "127");
    let lookup = client.get_function().function_name("tiny").send().await;
    assert!(
        matches!(
            lookup.map_err(|e| e.into_service_error()),
            Err(GetFunctionError::ResourceNotFoundException(_))
        ),
        "a rejected CreateFunction must not leave a function behind"
    );
}

#[tokio::test]
async fn update_configuration_out_of_range_is_rejected_and_changes_nothing() {
    let (_work, server) = fresh();
    let client = server.client();
    create_python(&client, "ranged", &python_zip("r"), None).await;
    wait_active(&client, "ranged").await;
    let before = client
        .get_function_configuration()
        .function_name("ranged")
        .send()
        .await
        .unwrap();

    let err = client
        .update_function_configuration()
        .function_name("ranged")
        .memory_size(127)
        .description("must-not-stick")
        .send()
        .await
        .expect_err("memory 127 must be rejected");
    assert_eq!(status_of(&err), Some(400));
    assert_validation(&err.into_service_error(), "memorySize", "127");

    let err = client
        .update_function_configuration()
        .function_name("ranged")
        .timeout(0)
        .send()
        .await
        .expect_err("timeout 0 must be rejected");
    assert_validation(&err.into_service_error(), "timeout", "0");

    let conf = client
        .get_function_configuration()
        .function_name("ranged")
        .send()
        .await
        .unwrap();
    assert_eq!(conf.memory_size(), Some(128));
    assert_eq!(conf.timeout(), Some(3));
    assert_ne!(conf.description(), Some("must-not-stick"));
    assert_eq!(
        conf.revision_id(),
        before.revision_id(),
        "a rejected update must not bump RevisionId"
    );
}

#[tokio::test]
async fn create_function_with_invalid_name_is_a_validation_error() {
    let (_work, server) = fresh();
    let client = server.client();
    let err = client
        .create_function()
        .function_name("bad name!")
        .runtime(Runtime::Python312)
        .role(ROLE)
        .handler("index.handler")
        .code(
            FunctionCode::builder()
                .zip_file(Blob::new(python_zip("n")))
                .build(),
        )
        .send()
        .await
        .expect_err("a name with a space must be rejected");
    assert_eq!(status_of(&err), Some(400));
    assert_validation(&err.into_service_error(), "functionName", "bad name!");
}

#[tokio::test]
async fn wrong_secret_is_invalid_signature_exception() {
    let (_work, server) = fresh();
    let client = client_for(server.endpoint(), LOCAL_KEY_ID, "not-the-secret");
    let err = client
        .list_functions()
        .send()
        .await
        .expect_err("a request signed with the wrong secret must fail");
    assert_eq!(status_of(&err), Some(403));
    let service = err.into_service_error();
    assert_eq!(service.code(), Some("InvalidSignatureException"));
    assert!(
        service
            .message()
            .is_some_and(|m| m.contains("signature we calculated does not match")),
        "message: {:?}",
        service.message()
    );

    // The same server still serves correctly signed requests.
    let ok = server.client().list_functions().send().await;
    assert!(ok.is_ok(), "{:?}", ok.err().map(|e| describe(&e)));
}

#[tokio::test]
async fn unknown_access_key_is_unrecognized_client_exception() {
    let (_work, server) = fresh();
    let client = client_for(server.endpoint(), "AKIANOTAKNOWNKEY0000", "whatever");
    let err = client
        .get_account_settings()
        .send()
        .await
        .expect_err("an unknown access key must be refused");
    assert_eq!(status_of(&err), Some(403));
    assert_eq!(
        err.into_service_error().code(),
        Some("UnrecognizedClientException")
    );
}

#[tokio::test]
async fn expired_or_future_signatures_are_invalid_signature_exception() {
    let (_work, server) = fresh();
    let now = SystemTime::now();
    // SigV4 allows five minutes of clock skew either way.
    let skew = Duration::from_secs(20 * 60);
    for (signed_at, prefix) in [
        (now - skew, "Signature expired"),
        (now + skew, "Signature not yet current"),
    ] {
        let config = server
            .client()
            .config()
            .to_builder()
            .time_source(StaticTimeSource::new(signed_at))
            .build();
        let client = aws_sdk_lambda::Client::from_conf(config);
        let err = client
            .list_functions()
            .send()
            .await
            .expect_err("a request signed 20 minutes off must fail");
        assert_eq!(status_of(&err), Some(403), "{prefix}");
        let service = err.into_service_error();
        assert_eq!(
            service.code(),
            Some("InvalidSignatureException"),
            "{prefix}"
        );
        assert!(
            service.message().is_some_and(|m| m.starts_with(prefix)),
            "message {:?} should start with {prefix:?}",
            service.message()
        );
    }
}

#[tokio::test]
async fn unsigned_request_is_missing_authentication_token() {
    let (_work, server) = fresh();
    let response = raw_get(&format!("{}/2015-03-31/functions", server.endpoint())).await;
    assert_eq!(response.status(), 403);
    assert_eq!(
        response
            .headers()
            .get("x-amzn-ErrorType")
            .and_then(|v| v.to_str().ok()),
        Some("MissingAuthenticationTokenException")
    );
}

#[tokio::test]
async fn function_url_and_provisioned_concurrency_are_refused_for_per_tenant_functions() {
    let (_work, server) = fresh();
    let client = server.client();
    create_python(&client, "iso", &python_zip("i"), Some(per_tenant())).await;
    wait_active(&client, "iso").await;
    let v = client
        .publish_version()
        .function_name("iso")
        .send()
        .await
        .unwrap();
    assert_eq!(v.version(), Some("1"));

    let err = client
        .create_function_url_config()
        .function_name("iso")
        .auth_type(FunctionUrlAuthType::AwsIam)
        .send()
        .await
        .expect_err("function URLs are not supported with PER_TENANT");
    assert_eq!(status_of(&err), Some(400));
    assert!(
        matches!(
            err.into_service_error(),
            CreateFunctionUrlConfigError::InvalidParameterValueException(_)
        ),
        "CreateFunctionUrlConfig on a PER_TENANT function"
    );

    // Provisioned concurrency needs a published version; use one so that the tenancy mode is
    // the only reason left to refuse.
    let err = client
        .put_provisioned_concurrency_config()
        .function_name("iso")
        .qualifier("1")
        .provisioned_concurrent_executions(1)
        .send()
        .await
        .expect_err("provisioned concurrency is not supported with PER_TENANT");
    assert_eq!(status_of(&err), Some(400));
    assert!(
        matches!(
            err.into_service_error(),
            PutProvisionedConcurrencyConfigError::InvalidParameterValueException(_)
        ),
        "PutProvisionedConcurrencyConfig on a PER_TENANT function"
    );
}

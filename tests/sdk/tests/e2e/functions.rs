//! CreateFunction, Get*, ListFunctions, Update*, DeleteFunction.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_lambda::error::ProvideErrorMetadata as _;
use aws_sdk_lambda::operation::create_function::CreateFunctionError;
use aws_sdk_lambda::operation::delete_function::DeleteFunctionError;
use aws_sdk_lambda::operation::get_function::GetFunctionError;
use aws_sdk_lambda::operation::get_function_configuration::GetFunctionConfigurationError;
use aws_sdk_lambda::operation::update_function_configuration::UpdateFunctionConfigurationError;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{
    Architecture, Environment, FunctionCode, FunctionVersion, LastUpdateStatus, PackageType,
    Runtime, State, TenantIsolationMode,
};

use crate::http::raw_get;
use aws_sdk_lambda::operation::RequestId as _;

use crate::harness::{
    ROLE, assert_lambda_timestamp, code_sha256, create_python, describe, fresh, function_arn,
    per_tenant, python_zip, status_of, wait_active, wait_updated,
};

#[tokio::test]
async fn create_without_tenancy_reports_aws_defaults_and_no_tenancy_config() {
    let (_work, server) = fresh();
    let client = server.client();
    let zip = python_zip("plain");

    let created = create_python(&client, "plain", &zip, None).await;
    assert!(
        created.request_id().is_some_and(|id| !id.is_empty()),
        "every response carries x-amzn-RequestId"
    );
    let created = snapshot!(created);
    assert_eq!(created.name.as_deref(), Some("plain"));
    assert_eq!(created.arn, Some(function_arn("plain")));
    assert_eq!(created.runtime, Some(Runtime::Python312));
    assert_eq!(created.role.as_deref(), Some(ROLE));
    assert_eq!(created.handler.as_deref(), Some("index.handler"));
    assert_eq!(created.code_size, zip.len() as i64);
    assert_eq!(created.code_sha256, Some(code_sha256(&zip)));
    assert_eq!(created.version.as_deref(), Some("$LATEST"));
    // AWS defaults when the request leaves them out.
    assert_eq!(created.memory, Some(128));
    assert_eq!(created.timeout, Some(3));
    assert_eq!(created.package_type, Some(PackageType::Zip));
    assert_eq!(created.architectures, vec![Architecture::X8664]);
    assert_eq!(created.ephemeral_storage, Some(512));
    assert!(
        created
            .revision_id
            .as_deref()
            .is_some_and(|r| !r.is_empty()),
        "RevisionId missing"
    );
    assert_lambda_timestamp(created.last_modified.as_deref());
    assert_eq!(
        created.tenancy, None,
        "TenancyConfig must be omitted when not set"
    );

    wait_active(&client, "plain").await;
    let got = client
        .get_function()
        .function_name("plain")
        .send()
        .await
        .unwrap();
    let config = snapshot!(got.configuration().expect("Configuration"));
    assert_eq!(config.state, Some(State::Active));
    assert_eq!(
        config.last_update_status,
        Some(LastUpdateStatus::Successful)
    );
    assert_eq!(config.stable(), created.stable());
    let code = got.code().expect("GetFunction returns Code");
    assert_eq!(code.repository_type(), Some("S3"));
    assert!(
        got.concurrency().is_none(),
        "Concurrency must be omitted without a reservation"
    );

    let conf = client
        .get_function_configuration()
        .function_name("plain")
        .send()
        .await
        .unwrap();
    assert_eq!(snapshot!(conf).stable(), created.stable());
    assert!(conf.tenancy_config().is_none());
}

#[tokio::test]
async fn create_per_tenant_echoes_tenancy_config_everywhere() {
    let (_work, server) = fresh();
    let client = server.client();
    let zip = python_zip("isolated");

    let created = create_python(&client, "isolated", &zip, Some(per_tenant())).await;
    assert_eq!(
        created.tenancy_config().map(|t| t.tenant_isolation_mode()),
        Some(&TenantIsolationMode::PerTenant)
    );
    create_python(&client, "shared", &python_zip("shared"), None).await;
    wait_active(&client, "isolated").await;

    let got = client
        .get_function()
        .function_name("isolated")
        .send()
        .await
        .unwrap();
    let config = snapshot!(got.configuration().expect("Configuration"));
    assert_eq!(config.tenancy, Some(TenantIsolationMode::PerTenant));
    assert_eq!(config.stable(), snapshot!(created).stable());

    let conf = client
        .get_function_configuration()
        .function_name("isolated")
        .send()
        .await
        .unwrap();
    assert_eq!(
        snapshot!(conf).tenancy,
        Some(TenantIsolationMode::PerTenant)
    );

    let listed = client.list_functions().send().await.unwrap();
    let tenancy_by_name: BTreeMap<_, _> = listed
        .functions()
        .iter()
        .map(|f| {
            (
                f.function_name().unwrap_or_default().to_owned(),
                f.tenancy_config()
                    .map(|t| t.tenant_isolation_mode().clone()),
            )
        })
        .collect();
    assert_eq!(
        tenancy_by_name,
        BTreeMap::from([
            ("isolated".to_owned(), Some(TenantIsolationMode::PerTenant)),
            ("shared".to_owned(), None),
        ])
    );
}

#[tokio::test]
async fn list_functions_pages_with_max_items_and_marker() {
    let (_work, server) = fresh();
    let client = server.client();
    let names: BTreeSet<String> = (0..5).map(|i| format!("page-fn-{i}")).collect();
    for name in &names {
        create_python(&client, name, &python_zip(name), None).await;
    }

    let mut seen = Vec::new();
    let mut marker: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = client
            .list_functions()
            .max_items(2)
            .set_marker(marker.clone())
            .send()
            .await
            .unwrap();
        pages += 1;
        assert!(page.functions().len() <= 2, "page larger than MaxItems");
        seen.extend(
            page.functions()
                .iter()
                .map(|f| f.function_name().unwrap_or_default().to_owned()),
        );
        match page.next_marker() {
            Some(next) => {
                assert!(!next.is_empty(), "NextMarker must be absent, not empty");
                assert_eq!(page.functions().len(), 2, "a non-final page must be full");
                marker = Some(next.to_owned());
            }
            None => break,
        }
        assert!(pages < 10, "ListFunctions never stopped paging");
    }
    assert_eq!(pages, 3, "5 functions at 2 per page");
    assert_eq!(seen.len(), 5, "duplicates across pages: {seen:?}");
    assert_eq!(seen.iter().cloned().collect::<BTreeSet<_>>(), names);

    // The SDK's own paginator follows NextMarker the same way.
    let items: Vec<_> = client
        .list_functions()
        .into_paginator()
        .page_size(2)
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap();
    let paged: BTreeSet<String> = items
        .iter()
        .map(|f| f.function_name().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(items.len(), 5);
    assert_eq!(paged, names);
}

#[tokio::test]
async fn list_functions_shows_versions_only_with_function_version_all() {
    let (_work, server) = fresh();
    let client = server.client();
    create_python(&client, "versioned", &python_zip("v"), None).await;
    wait_active(&client, "versioned").await;
    let published = client
        .publish_version()
        .function_name("versioned")
        .send()
        .await
        .unwrap();
    assert_eq!(published.version(), Some("1"));

    let default_list = client.list_functions().send().await.unwrap();
    let versions: Vec<_> = default_list
        .functions()
        .iter()
        .map(|f| f.version().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        versions,
        vec!["$LATEST"],
        "default ListFunctions lists $LATEST only"
    );

    let all = client
        .list_functions()
        .function_version(FunctionVersion::All)
        .send()
        .await
        .unwrap();
    let versions: BTreeSet<_> = all
        .functions()
        .iter()
        .map(|f| f.version().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        versions,
        BTreeSet::from(["$LATEST".to_owned(), "1".to_owned()])
    );
}

#[tokio::test]
async fn update_function_code_changes_code_sha256_to_the_new_package_hash() {
    let (_work, server) = fresh();
    let client = server.client();
    let first = python_zip("first");
    let created = create_python(&client, "coded", &first, Some(per_tenant())).await;
    wait_active(&client, "coded").await;

    let second = python_zip("second, a longer marker so the size differs too");
    let updated = client
        .update_function_code()
        .function_name("coded")
        .zip_file(Blob::new(second.clone()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("UpdateFunctionCode: {}", describe(&e)));
    let updated = snapshot!(updated);
    assert_eq!(updated.code_sha256, Some(code_sha256(&second)));
    assert_ne!(
        updated.code_sha256,
        created.code_sha256().map(str::to_owned)
    );
    assert_eq!(updated.code_size, second.len() as i64);
    assert_ne!(
        updated.revision_id.as_deref(),
        created.revision_id(),
        "RevisionId must change on every update"
    );
    assert_eq!(updated.tenancy, Some(TenantIsolationMode::PerTenant));

    wait_updated(&client, "coded").await;
    let got = client
        .get_function()
        .function_name("coded")
        .send()
        .await
        .unwrap();
    let config = snapshot!(got.configuration().expect("Configuration"));
    assert_eq!(config.code_sha256, Some(code_sha256(&second)));
    assert_eq!(config.code_size, second.len() as i64);
    assert_eq!(config.tenancy, Some(TenantIsolationMode::PerTenant));
}

#[tokio::test]
async fn update_function_configuration_applies_memory_timeout_env_and_keeps_tenancy() {
    let (_work, server) = fresh();
    let client = server.client();
    let zip = python_zip("configured");
    let created = client
        .create_function()
        .function_name("configured")
        .runtime(Runtime::Python312)
        .role(ROLE)
        .handler("index.handler")
        .code(
            FunctionCode::builder()
                .zip_file(Blob::new(zip.clone()))
                .build(),
        )
        .environment(Environment::builder().variables("KEEP", "no").build())
        .tenancy_config(per_tenant())
        .send()
        .await
        .unwrap();
    assert_eq!(
        snapshot!(created).env,
        Some(BTreeMap::from([("KEEP".to_owned(), "no".to_owned())]))
    );
    wait_active(&client, "configured").await;

    let updated = client
        .update_function_configuration()
        .function_name("configured")
        .memory_size(256)
        .timeout(30)
        .description("tuned")
        .environment(
            Environment::builder()
                .variables("GREETING", "hello")
                .variables("MODE", "test")
                .build(),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("UpdateFunctionConfiguration: {}", describe(&e)));
    let updated = snapshot!(updated);
    let expected_env = BTreeMap::from([
        ("GREETING".to_owned(), "hello".to_owned()),
        ("MODE".to_owned(), "test".to_owned()),
    ]);
    assert_eq!(updated.memory, Some(256));
    assert_eq!(updated.timeout, Some(30));
    assert_eq!(updated.description.as_deref(), Some("tuned"));
    // Environment is replaced as a whole, not merged.
    assert_eq!(updated.env, Some(expected_env.clone()));
    assert_eq!(updated.tenancy, Some(TenantIsolationMode::PerTenant));
    assert_eq!(
        updated.code_sha256,
        Some(code_sha256(&zip)),
        "code untouched"
    );
    assert_ne!(updated.revision_id.as_deref(), created.revision_id());

    wait_updated(&client, "configured").await;
    let conf = snapshot!(
        client
            .get_function_configuration()
            .function_name("configured")
            .send()
            .await
            .unwrap()
    );
    assert_eq!(conf.memory, Some(256));
    assert_eq!(conf.timeout, Some(30));
    assert_eq!(conf.env, Some(expected_env));
    assert_eq!(conf.tenancy, Some(TenantIsolationMode::PerTenant));
    assert_eq!(conf.stable(), updated.stable());
}

#[tokio::test]
async fn delete_function_then_get_is_resource_not_found() {
    let (_work, server) = fresh();
    let client = server.client();
    create_python(&client, "doomed", &python_zip("doomed"), None).await;
    wait_active(&client, "doomed").await;

    client
        .delete_function()
        .function_name("doomed")
        .send()
        .await
        .unwrap_or_else(|e| panic!("DeleteFunction: {}", describe(&e)));

    let err = client
        .get_function()
        .function_name("doomed")
        .send()
        .await
        .expect_err("GetFunction after delete must fail");
    assert_eq!(status_of(&err), Some(404));
    assert!(
        err.request_id().is_some(),
        "errors carry x-amzn-RequestId too"
    );
    match err.into_service_error() {
        GetFunctionError::ResourceNotFoundException(e) => assert_eq!(
            e.message(),
            Some(format!("Function not found: {}", function_arn("doomed")).as_str())
        ),
        other => panic!("expected ResourceNotFoundException, got {other:?}"),
    }

    let err = client
        .get_function_configuration()
        .function_name("doomed")
        .send()
        .await
        .expect_err("GetFunctionConfiguration after delete must fail");
    assert!(
        matches!(
            err.into_service_error(),
            GetFunctionConfigurationError::ResourceNotFoundException(_)
        ),
        "GetFunctionConfiguration after delete"
    );

    let err = client
        .delete_function()
        .function_name("doomed")
        .send()
        .await
        .expect_err("deleting twice must fail");
    assert!(
        matches!(
            err.into_service_error(),
            DeleteFunctionError::ResourceNotFoundException(_)
        ),
        "second DeleteFunction"
    );

    let listed = client.list_functions().send().await.unwrap();
    assert!(
        listed.functions().is_empty(),
        "deleted function still listed"
    );
}

#[tokio::test]
async fn create_function_twice_is_resource_conflict() {
    let (_work, server) = fresh();
    let client = server.client();
    let first = create_python(&client, "twice", &python_zip("one"), None).await;

    let err = client
        .create_function()
        .function_name("twice")
        .runtime(Runtime::Python312)
        .role(ROLE)
        .handler("index.handler")
        .code(
            FunctionCode::builder()
                .zip_file(Blob::new(python_zip("two")))
                .build(),
        )
        .tenancy_config(per_tenant())
        .send()
        .await
        .expect_err("second CreateFunction must fail");
    assert_eq!(status_of(&err), Some(409));
    match err.into_service_error() {
        CreateFunctionError::ResourceConflictException(e) => {
            assert_eq!(e.code(), Some("ResourceConflictException"));
            assert_eq!(e.message(), Some("Function already exist: twice"));
        }
        other => panic!("expected ResourceConflictException, got {other:?}"),
    }

    // The original is untouched by the failed attempt.
    let conf = client
        .get_function_configuration()
        .function_name("twice")
        .send()
        .await
        .unwrap();
    assert_eq!(conf.code_sha256(), first.code_sha256());
    assert!(conf.tenancy_config().is_none());
}

#[tokio::test]
async fn code_location_is_a_presigned_url_for_the_exact_package() {
    let (_work, server) = fresh();
    let client = server.client();
    let zip = python_zip("downloadable");
    create_python(&client, "dl", &zip, None).await;

    let got = client
        .get_function()
        .function_name("dl")
        .send()
        .await
        .unwrap();
    let location = got
        .code()
        .and_then(|c| c.location())
        .expect("Code.Location")
        .to_owned();
    // Like AWS's pre-signed S3 URL, it downloads without credentials...
    let anonymous = raw_get(&location).await;
    assert_eq!(anonymous.status(), 200, "anonymous GET {location}");
    assert_eq!(anonymous.body(), &zip, "downloaded package differs");

    // ...but only as issued: without its query, or with the signature altered, it is refused.
    let (bare, _signature) = location
        .split_once('?')
        .expect("Location carries a signature");
    assert_eq!(raw_get(bare).await.status(), 403, "unsigned {bare}");
    let flipped = if location.ends_with('0') { '1' } else { '0' };
    let tampered = format!("{}{flipped}", &location[..location.len() - 1]);
    assert_eq!(
        raw_get(&tampered).await.status(),
        403,
        "tampered {tampered}"
    );
}

#[tokio::test]
async fn stale_revision_id_is_precondition_failed() {
    let (_work, server) = fresh();
    let client = server.client();
    create_python(&client, "optimistic", &python_zip("o"), None).await;
    wait_active(&client, "optimistic").await;
    let current = client
        .get_function_configuration()
        .function_name("optimistic")
        .send()
        .await
        .unwrap();
    let revision = current.revision_id().expect("RevisionId").to_owned();

    let first = client
        .update_function_configuration()
        .function_name("optimistic")
        .revision_id(&revision)
        .memory_size(192)
        .send()
        .await
        .unwrap_or_else(|e| panic!("update with the current RevisionId: {}", describe(&e)));
    assert_eq!(first.memory_size(), Some(192));
    wait_updated(&client, "optimistic").await;

    let err = client
        .update_function_configuration()
        .function_name("optimistic")
        .revision_id(&revision)
        .memory_size(256)
        .send()
        .await
        .expect_err("an update based on a stale RevisionId must fail");
    assert_eq!(status_of(&err), Some(412));
    assert!(
        matches!(
            err.into_service_error(),
            UpdateFunctionConfigurationError::PreconditionFailedException(_)
        ),
        "stale RevisionId"
    );
    let now = client
        .get_function_configuration()
        .function_name("optimistic")
        .send()
        .await
        .unwrap();
    assert_eq!(now.memory_size(), Some(192));
}

//! PublishVersion, ListVersionsByFunction and the alias operations.

use aws_sdk_lambda::operation::create_alias::CreateAliasError;
use aws_sdk_lambda::operation::delete_function::DeleteFunctionError;
use aws_sdk_lambda::operation::get_alias::GetAliasError;
use aws_sdk_lambda::types::TenantIsolationMode;

use crate::harness::{
    code_sha256, create_python, describe, fresh, function_arn, per_tenant, python_zip, wait_active,
    wait_updated,
};

#[tokio::test]
async fn publish_version_snapshots_latest_and_list_versions_by_function_lists_them() {
    let (_work, server) = fresh();
    let client = server.client();
    let zip = python_zip("v1");
    create_python(&client, "pub", &zip, Some(per_tenant())).await;
    wait_active(&client, "pub").await;

    let v1 = client
        .publish_version()
        .function_name("pub")
        .description("first")
        .send()
        .await
        .unwrap_or_else(|e| panic!("PublishVersion: {}", describe(&e)));
    let v1 = snapshot!(v1);
    assert_eq!(v1.version.as_deref(), Some("1"));
    assert_eq!(v1.arn, Some(format!("{}:1", function_arn("pub"))));
    assert_eq!(v1.description.as_deref(), Some("first"));
    assert_eq!(v1.code_sha256, Some(code_sha256(&zip)));
    assert_eq!(v1.memory, Some(128));
    assert_eq!(v1.tenancy, Some(TenantIsolationMode::PerTenant));

    // Nothing changed since version 1, so AWS hands back version 1 instead of minting 2.
    let again = client
        .publish_version()
        .function_name("pub")
        .send()
        .await
        .unwrap();
    assert_eq!(
        again.version(),
        Some("1"),
        "unchanged $LATEST must not publish"
    );

    client
        .update_function_configuration()
        .function_name("pub")
        .memory_size(512)
        .send()
        .await
        .unwrap();
    wait_updated(&client, "pub").await;
    let v2 = client
        .publish_version()
        .function_name("pub")
        .send()
        .await
        .unwrap();
    assert_eq!(v2.version(), Some("2"));
    assert_eq!(v2.memory_size(), Some(512));

    // Versions are immutable: version 1 still has the old memory size.
    let v1_now = client
        .get_function_configuration()
        .function_name("pub")
        .qualifier("1")
        .send()
        .await
        .unwrap();
    assert_eq!(v1_now.version(), Some("1"));
    assert_eq!(v1_now.memory_size(), Some(128));
    assert_eq!(
        v1_now.tenancy_config().map(|t| t.tenant_isolation_mode()),
        Some(&TenantIsolationMode::PerTenant)
    );

    let listed = client
        .list_versions_by_function()
        .function_name("pub")
        .send()
        .await
        .unwrap();
    let versions: Vec<_> = listed
        .versions()
        .iter()
        .map(|v| v.version().unwrap_or_default())
        .collect();
    assert_eq!(versions, vec!["$LATEST", "1", "2"]);
    let arns: Vec<_> = listed
        .versions()
        .iter()
        .map(|v| v.function_arn().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        arns,
        // As in AWS's own example output, the $LATEST entry carries a qualified ARN here.
        vec![
            format!("{}:$LATEST", function_arn("pub")),
            format!("{}:1", function_arn("pub")),
            format!("{}:2", function_arn("pub")),
        ]
    );
    assert!(listed.next_marker().is_none());
}

#[tokio::test]
async fn alias_create_get_list_update_delete() {
    let (_work, server) = fresh();
    let client = server.client();
    create_python(&client, "aliased", &python_zip("a1"), None).await;
    wait_active(&client, "aliased").await;
    client
        .publish_version()
        .function_name("aliased")
        .send()
        .await
        .unwrap();
    client
        .update_function_configuration()
        .function_name("aliased")
        .timeout(10)
        .send()
        .await
        .unwrap();
    wait_updated(&client, "aliased").await;
    let v2 = client
        .publish_version()
        .function_name("aliased")
        .send()
        .await
        .unwrap();
    assert_eq!(v2.version(), Some("2"));

    let alias_arn = format!("{}:live", function_arn("aliased"));
    let created = client
        .create_alias()
        .function_name("aliased")
        .name("live")
        .function_version("1")
        .description("production")
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateAlias: {}", describe(&e)));
    assert_eq!(created.alias_arn(), Some(alias_arn.as_str()));
    assert_eq!(created.name(), Some("live"));
    assert_eq!(created.function_version(), Some("1"));
    assert_eq!(created.description(), Some("production"));
    assert!(created.revision_id().is_some_and(|r| !r.is_empty()));

    let got = client
        .get_alias()
        .function_name("aliased")
        .name("live")
        .send()
        .await
        .unwrap();
    assert_eq!(got.alias_arn(), Some(alias_arn.as_str()));
    assert_eq!(got.function_version(), Some("1"));
    assert_eq!(got.revision_id(), created.revision_id());

    // The alias resolves to its version's configuration.
    let via_alias = client
        .get_function_configuration()
        .function_name("aliased")
        .qualifier("live")
        .send()
        .await
        .unwrap();
    assert_eq!(via_alias.version(), Some("1"));
    assert_eq!(via_alias.timeout(), Some(3));

    let duplicate = client
        .create_alias()
        .function_name("aliased")
        .name("live")
        .function_version("2")
        .send()
        .await
        .expect_err("duplicate alias must fail");
    assert!(
        matches!(
            duplicate.into_service_error(),
            CreateAliasError::ResourceConflictException(_)
        ),
        "duplicate CreateAlias"
    );

    let to_missing_version = client
        .create_alias()
        .function_name("aliased")
        .name("future")
        .function_version("99")
        .send()
        .await
        .expect_err("alias to a missing version must fail");
    assert!(
        matches!(
            to_missing_version.into_service_error(),
            CreateAliasError::ResourceNotFoundException(_)
        ),
        "CreateAlias to version 99"
    );

    client
        .create_alias()
        .function_name("aliased")
        .name("canary")
        .function_version("2")
        .send()
        .await
        .unwrap();
    let listed = client
        .list_aliases()
        .function_name("aliased")
        .send()
        .await
        .unwrap();
    let mut names: Vec<_> = listed
        .aliases()
        .iter()
        .map(|a| {
            (
                a.name().unwrap_or_default(),
                a.function_version().unwrap_or_default(),
            )
        })
        .collect();
    names.sort();
    assert_eq!(names, vec![("canary", "2"), ("live", "1")]);

    let updated = client
        .update_alias()
        .function_name("aliased")
        .name("live")
        .function_version("2")
        .send()
        .await
        .unwrap_or_else(|e| panic!("UpdateAlias: {}", describe(&e)));
    assert_eq!(updated.function_version(), Some("2"));
    assert_eq!(
        updated.description(),
        Some("production"),
        "unset members are kept"
    );
    assert_ne!(updated.revision_id(), created.revision_id());
    let via_alias = client
        .get_function_configuration()
        .function_name("aliased")
        .qualifier("live")
        .send()
        .await
        .unwrap();
    assert_eq!(via_alias.version(), Some("2"));
    assert_eq!(via_alias.timeout(), Some(10));

    // A version an alias points at cannot be deleted.
    let pinned = client
        .delete_function()
        .function_name("aliased")
        .qualifier("2")
        .send()
        .await
        .expect_err("deleting a version behind an alias must fail");
    assert!(
        matches!(
            pinned.into_service_error(),
            DeleteFunctionError::ResourceConflictException(_)
        ),
        "DeleteFunction(version 2) while aliases point at it"
    );

    client
        .delete_alias()
        .function_name("aliased")
        .name("live")
        .send()
        .await
        .unwrap_or_else(|e| panic!("DeleteAlias: {}", describe(&e)));
    let gone = client
        .get_alias()
        .function_name("aliased")
        .name("live")
        .send()
        .await
        .expect_err("GetAlias after DeleteAlias must fail");
    assert!(
        matches!(
            gone.into_service_error(),
            GetAliasError::ResourceNotFoundException(_)
        ),
        "GetAlias after delete"
    );
    let listed = client
        .list_aliases()
        .function_name("aliased")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.aliases().len(), 1);
}

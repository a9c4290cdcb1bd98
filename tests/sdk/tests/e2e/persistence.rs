//! State survives a restart on the same data dir.

use aws_sdk_lambda::Client;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::TenantIsolationMode;

use crate::harness::{
    Snapshot, Workdir, code_sha256, create_python, per_tenant, python_zip, wait_active,
    wait_updated,
};

struct Expected {
    isolated: Snapshot,
    plain: Snapshot,
    version1: Snapshot,
}

/// Creates a small estate: two functions (one PER_TENANT, with updated code), a version, an
/// alias and a reservation.
async fn populate(client: &Client) -> Expected {
    create_python(
        client,
        "keep-iso",
        &python_zip("iso v1"),
        Some(per_tenant()),
    )
    .await;
    create_python(client, "keep-plain", &python_zip("plain"), None).await;
    wait_active(client, "keep-iso").await;
    wait_active(client, "keep-plain").await;
    let version1 = snapshot!(
        client
            .publish_version()
            .function_name("keep-iso")
            .send()
            .await
            .unwrap()
    );
    let code2 = python_zip("iso v2");
    client
        .update_function_code()
        .function_name("keep-iso")
        .zip_file(Blob::new(code2.clone()))
        .send()
        .await
        .unwrap();
    wait_updated(client, "keep-iso").await;
    client
        .create_alias()
        .function_name("keep-iso")
        .name("stable")
        .function_version("1")
        .send()
        .await
        .unwrap();
    client
        .put_function_concurrency()
        .function_name("keep-plain")
        .reserved_concurrent_executions(11)
        .send()
        .await
        .unwrap();

    let isolated = conf(client, "keep-iso", None).await;
    assert_eq!(isolated.code_sha256, Some(code_sha256(&code2)));
    Expected {
        isolated,
        plain: conf(client, "keep-plain", None).await,
        version1,
    }
}

async fn conf(client: &Client, name: &str, qualifier: Option<&str>) -> Snapshot {
    let out = client
        .get_function_configuration()
        .function_name(name)
        .set_qualifier(qualifier.map(str::to_owned))
        .send()
        .await
        .unwrap_or_else(|e| panic!("GetFunctionConfiguration({name}, {qualifier:?}): {e:?}"));
    snapshot!(out)
}

async fn assert_restored(client: &Client, expected: &Expected) {
    let isolated = conf(client, "keep-iso", None).await;
    assert_eq!(isolated.stable(), expected.isolated.stable());
    assert_eq!(isolated.revision_id, expected.isolated.revision_id);
    assert_eq!(isolated.tenancy, Some(TenantIsolationMode::PerTenant));
    assert_eq!(
        conf(client, "keep-plain", None).await.stable(),
        expected.plain.stable()
    );
    assert_eq!(
        conf(client, "keep-iso", Some("1")).await.stable(),
        expected.version1.stable()
    );

    let versions = client
        .list_versions_by_function()
        .function_name("keep-iso")
        .send()
        .await
        .unwrap();
    let versions: Vec<_> = versions
        .versions()
        .iter()
        .map(|v| v.version().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(versions, vec!["$LATEST", "1"]);

    let alias = client
        .get_alias()
        .function_name("keep-iso")
        .name("stable")
        .send()
        .await
        .unwrap();
    assert_eq!(alias.function_version(), Some("1"));

    let reserved = client
        .get_function_concurrency()
        .function_name("keep-plain")
        .send()
        .await
        .unwrap();
    assert_eq!(reserved.reserved_concurrent_executions(), Some(11));

    let listed = client.list_functions().send().await.unwrap();
    assert_eq!(listed.functions().len(), 2);

    // Writes still work after the restart, and version numbering continues.
    client
        .update_function_configuration()
        .function_name("keep-iso")
        .memory_size(1024)
        .send()
        .await
        .unwrap();
    wait_updated(client, "keep-iso").await;
    let v2 = client
        .publish_version()
        .function_name("keep-iso")
        .send()
        .await
        .unwrap();
    assert_eq!(v2.version(), Some("2"));
}

#[tokio::test]
async fn state_survives_a_clean_restart() {
    let mut work = Workdir::new();
    let server = work.start(&[]);
    let expected = populate(&server.client()).await;

    let status = server.terminate();
    assert!(
        status.success(),
        "SIGTERM should stop the server cleanly: {status:?}"
    );

    let server = work.start(&[]);
    assert_restored(&server.client(), &expected).await;
}

#[tokio::test]
async fn acknowledged_writes_survive_sigkill() {
    let mut work = Workdir::new();
    let mut server = work.start(&[]);
    let expected = populate(&server.client()).await;

    server.kill();
    drop(server);

    let server = work.start(&[]);
    assert_restored(&server.client(), &expected).await;
}

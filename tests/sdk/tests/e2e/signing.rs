//! SigV4 as the SDK signs it: ARNs and qualified names in the path, query strings, bodies, and
//! keys from `--access-keys-file`.

use aws_sdk_lambda::operation::get_function::GetFunctionError;
use aws_sdk_lambda::types::FunctionVersion;

use crate::harness::{
    ACCOUNT, Workdir, client_for, create_python, describe, function_arn, python_zip, wait_active,
    wait_updated,
};

#[tokio::test]
async fn arn_and_qualified_function_names_verify_and_resolve() {
    let (_work, server) = crate::harness::fresh();
    let client = server.client();
    create_python(&client, "signed", &python_zip("s"), None).await;
    wait_active(&client, "signed").await;
    client
        .publish_version()
        .function_name("signed")
        .send()
        .await
        .unwrap();

    let arn = function_arn("signed");
    let partial = format!("{ACCOUNT}:function:signed");
    // The SDK sends ':' as %3A in the path and signs the double-encoded %253A; the server must
    // verify against the same canonical URI and then resolve the name.
    for (function_name, version) in [
        (arn.clone(), "$LATEST"),
        (partial.clone(), "$LATEST"),
        ("signed:1".to_owned(), "1"),
        (format!("{arn}:1"), "1"),
        ("signed:$LATEST".to_owned(), "$LATEST"),
    ] {
        let got = client
            .get_function()
            .function_name(&function_name)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GetFunction({function_name}): {}", describe(&e)));
        let config = got.configuration().expect("Configuration");
        assert_eq!(config.function_name(), Some("signed"), "{function_name}");
        assert_eq!(config.version(), Some(version), "{function_name}");

        let conf = client
            .get_function_configuration()
            .function_name(&function_name)
            .send()
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "GetFunctionConfiguration({function_name}): {}",
                    describe(&e)
                )
            });
        assert_eq!(conf.version(), Some(version), "{function_name}");
    }

    // A signed JSON body together with an ARN in the path.
    let updated = client
        .update_function_configuration()
        .function_name(&arn)
        .description("via arn: with colons, spaces & ünïcode")
        .send()
        .await
        .unwrap_or_else(|e| panic!("UpdateFunctionConfiguration(arn): {}", describe(&e)));
    assert_eq!(
        updated.description(),
        Some("via arn: with colons, spaces & ünïcode")
    );
    wait_updated(&client, "signed").await;

    let versions = client
        .list_versions_by_function()
        .function_name(&arn)
        .send()
        .await
        .unwrap_or_else(|e| panic!("ListVersionsByFunction(arn): {}", describe(&e)));
    assert_eq!(versions.versions().len(), 2);

    // Several query parameters, signed in canonical (sorted) order.
    let all = client
        .list_functions()
        .function_version(FunctionVersion::All)
        .max_items(50)
        .send()
        .await
        .unwrap_or_else(|e| panic!("ListFunctions(ALL): {}", describe(&e)));
    assert_eq!(all.functions().len(), 2);

    let concurrency = client
        .put_function_concurrency()
        .function_name(&arn)
        .reserved_concurrent_executions(3)
        .send()
        .await
        .unwrap_or_else(|e| panic!("PutFunctionConcurrency(arn): {}", describe(&e)));
    assert_eq!(concurrency.reserved_concurrent_executions(), Some(3));
}

#[tokio::test]
async fn keys_from_access_keys_file_are_accepted() {
    let mut work = Workdir::new();
    let keys = work.path().join("keys");
    std::fs::write(
        &keys,
        "# e2e keys\nAKIDE2ETESTKEY000001:e2e/secret/one\nAKIDE2ETESTKEY000002:e2e/secret/two\n",
    )
    .unwrap();
    let keys_arg = keys.to_str().expect("utf-8 temp path").to_owned();
    let server = work.start(&["--access-keys-file", &keys_arg]);

    for (id, secret) in [
        ("AKIDE2ETESTKEY000001", "e2e/secret/one"),
        ("AKIDE2ETESTKEY000002", "e2e/secret/two"),
    ] {
        let client = client_for(server.endpoint(), id, secret);
        let settings = client.get_account_settings().send().await;
        assert!(
            settings.is_ok(),
            "{id}: {:?}",
            settings.err().map(|e| describe(&e))
        );
    }

    let wrong = client_for(server.endpoint(), "AKIDE2ETESTKEY000001", "e2e/secret/two");
    let err = wrong
        .get_account_settings()
        .send()
        .await
        .expect_err("a secret belonging to another key must fail");
    assert_eq!(crate::harness::status_of(&err), Some(403));
}

#[tokio::test]
async fn qualifier_in_the_name_must_exist_and_agree_with_the_qualifier_parameter() {
    let (_work, server) = crate::harness::fresh();
    let client = server.client();
    create_python(&client, "qual", &python_zip("q"), None).await;
    wait_active(&client, "qual").await;
    client
        .publish_version()
        .function_name("qual")
        .send()
        .await
        .unwrap();

    let agreed = client
        .get_function()
        .function_name("qual:1")
        .qualifier("1")
        .send()
        .await
        .unwrap_or_else(|e| panic!("GetFunction(qual:1, Qualifier=1): {}", describe(&e)));
    assert_eq!(agreed.configuration().and_then(|c| c.version()), Some("1"));

    let err = client
        .get_function()
        .function_name("qual:1")
        .qualifier("$LATEST")
        .send()
        .await
        .expect_err("a qualifier that contradicts the name must be refused");
    assert_eq!(crate::harness::status_of(&err), Some(400));
    match err.into_service_error() {
        GetFunctionError::InvalidParameterValueException(e) => assert_eq!(
            e.message(),
            Some(
                "The derived qualifier from the function name does not match the specified qualifier."
            )
        ),
        other => panic!("expected InvalidParameterValueException, got {other:?}"),
    }

    let err = client
        .get_function()
        .function_name("qual:99")
        .send()
        .await
        .expect_err("version 99 does not exist");
    match err.into_service_error() {
        GetFunctionError::ResourceNotFoundException(e) => assert_eq!(
            e.message(),
            Some(format!("Function not found: {}:99", function_arn("qual")).as_str())
        ),
        other => panic!("expected ResourceNotFoundException, got {other:?}"),
    }
}

//! Reserved concurrency and GetAccountSettings.

use aws_sdk_lambda::operation::put_function_concurrency::PutFunctionConcurrencyError;

use crate::harness::{create_python, describe, fresh, python_zip, wait_active};

#[tokio::test]
async fn function_concurrency_put_get_delete() {
    let (_work, server) = fresh();
    let client = server.client();
    create_python(&client, "reserved", &python_zip("r"), None).await;
    wait_active(&client, "reserved").await;

    let before = client
        .get_function_concurrency()
        .function_name("reserved")
        .send()
        .await
        .unwrap_or_else(|e| panic!("GetFunctionConcurrency: {}", describe(&e)));
    assert_eq!(before.reserved_concurrent_executions(), None);

    let put = client
        .put_function_concurrency()
        .function_name("reserved")
        .reserved_concurrent_executions(7)
        .send()
        .await
        .unwrap_or_else(|e| panic!("PutFunctionConcurrency: {}", describe(&e)));
    assert_eq!(put.reserved_concurrent_executions(), Some(7));

    let got = client
        .get_function_concurrency()
        .function_name("reserved")
        .send()
        .await
        .unwrap();
    assert_eq!(got.reserved_concurrent_executions(), Some(7));
    let function = client
        .get_function()
        .function_name("reserved")
        .send()
        .await
        .unwrap();
    assert_eq!(
        function
            .concurrency()
            .and_then(|c| c.reserved_concurrent_executions()),
        Some(7)
    );

    client
        .delete_function_concurrency()
        .function_name("reserved")
        .send()
        .await
        .unwrap_or_else(|e| panic!("DeleteFunctionConcurrency: {}", describe(&e)));
    let after = client
        .get_function_concurrency()
        .function_name("reserved")
        .send()
        .await
        .unwrap();
    assert_eq!(after.reserved_concurrent_executions(), None);
    let function = client
        .get_function()
        .function_name("reserved")
        .send()
        .await
        .unwrap();
    assert!(function.concurrency().is_none());
}

#[tokio::test]
async fn account_settings_count_functions_code_and_reservations() {
    let (_work, server) = fresh();
    let client = server.client();

    let empty = client
        .get_account_settings()
        .send()
        .await
        .unwrap_or_else(|e| panic!("GetAccountSettings: {}", describe(&e)));
    let limit = empty.account_limit().expect("AccountLimit");
    let usage = empty.account_usage().expect("AccountUsage");
    // The documented Lambda default concurrency quota.
    assert_eq!(limit.concurrent_executions(), 1000);
    assert_eq!(limit.unreserved_concurrent_executions(), Some(1000));
    assert!(limit.code_size_zipped() > 0 && limit.code_size_unzipped() >= limit.code_size_zipped());
    assert!(limit.total_code_size() >= limit.code_size_unzipped());
    assert_eq!(usage.function_count(), 0);
    assert_eq!(usage.total_code_size(), 0);

    let a = python_zip("a");
    let b = python_zip("bb");
    create_python(&client, "acct-a", &a, None).await;
    create_python(&client, "acct-b", &b, None).await;
    wait_active(&client, "acct-a").await;
    client
        .put_function_concurrency()
        .function_name("acct-a")
        .reserved_concurrent_executions(25)
        .send()
        .await
        .unwrap();

    let settings = client.get_account_settings().send().await.unwrap();
    let limit = settings.account_limit().expect("AccountLimit");
    let usage = settings.account_usage().expect("AccountUsage");
    assert_eq!(usage.function_count(), 2);
    assert_eq!(usage.total_code_size(), (a.len() + b.len()) as i64);
    assert_eq!(limit.unreserved_concurrent_executions(), Some(1000 - 25));
}

#[tokio::test]
async fn reservation_may_not_leave_fewer_than_100_unreserved() {
    let (_work, server) = fresh();
    let client = server.client();
    create_python(&client, "greedy", &python_zip("g"), None).await;
    wait_active(&client, "greedy").await;
    let total = client
        .get_account_settings()
        .send()
        .await
        .unwrap()
        .account_limit()
        .expect("AccountLimit")
        .concurrent_executions();

    let err = client
        .put_function_concurrency()
        .function_name("greedy")
        .reserved_concurrent_executions(total - 99)
        .send()
        .await
        .expect_err("reservation leaving 99 unreserved must fail");
    match err.into_service_error() {
        PutFunctionConcurrencyError::InvalidParameterValueException(e) => assert!(
            e.message()
                .is_some_and(|m| m.contains("UnreservedConcurrentExecution")),
            "message: {:?}",
            e.message()
        ),
        other => panic!("expected InvalidParameterValueException, got {other:?}"),
    }

    // Exactly 100 left over is allowed.
    let put = client
        .put_function_concurrency()
        .function_name("greedy")
        .reserved_concurrent_executions(total - 100)
        .send()
        .await
        .unwrap_or_else(|e| panic!("PutFunctionConcurrency at the limit: {}", describe(&e)));
    assert_eq!(put.reserved_concurrent_executions(), Some(total - 100));
}

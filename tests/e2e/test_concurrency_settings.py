"""Reserved concurrency and GetAccountSettings."""

from __future__ import annotations

from support import arn, create_function, expect_client_error, lambda_client, python_zip, unique_name


def test_put_get_delete_function_concurrency(lam):
    name = create_function(lam)["FunctionName"]
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName=name)

    put = lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=5)
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert put["ReservedConcurrentExecutions"] == 5
    assert lam.get_function_concurrency(FunctionName=name)["ReservedConcurrentExecutions"] == 5
    assert lam.get_function(FunctionName=name)["Concurrency"] == {"ReservedConcurrentExecutions": 5}

    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    assert lam.get_function(FunctionName=name)["Concurrency"] == {"ReservedConcurrentExecutions": 0}

    deleted = lam.delete_function_concurrency(FunctionName=name)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] in (200, 204)
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName=name)
    assert "Concurrency" not in lam.get_function(FunctionName=name)


def test_function_concurrency_on_missing_function_is_404(lam):
    name = unique_name("noconc")
    expect_client_error(
        lambda: lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1),
        404,
        "ResourceNotFoundException",
        arn(name),
    )
    expect_client_error(lambda: lam.get_function_concurrency(FunctionName=name), 404, "ResourceNotFoundException")
    expect_client_error(lambda: lam.delete_function_concurrency(FunctionName=name), 404, "ResourceNotFoundException")


def test_reserving_more_than_the_account_allows_is_refused(fresh):
    lam = lambda_client(fresh.endpoint)
    name = create_function(lam, "greedy")["FunctionName"]
    limit = lam.get_account_settings()["AccountLimit"]["ConcurrentExecutions"]
    # AWS keeps at least 100 unreserved: reserving all of it must fail.
    expect_client_error(
        lambda: lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=limit),
        400,
        "InvalidParameterValueException",
        "ReservedConcurrentExecution",
    )
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName=name)


def test_get_account_settings_shapes_and_usage(fresh):
    lam = lambda_client(fresh.endpoint)
    empty = lam.get_account_settings()
    limit = empty["AccountLimit"]
    assert set(limit) >= {
        "TotalCodeSize",
        "CodeSizeUnzipped",
        "CodeSizeZipped",
        "ConcurrentExecutions",
        "UnreservedConcurrentExecutions",
    }
    assert all(isinstance(v, int) and v > 0 for v in limit.values()), limit
    assert limit["CodeSizeUnzipped"] == 262144000
    assert limit["CodeSizeZipped"] == 52428800
    assert limit["UnreservedConcurrentExecutions"] == limit["ConcurrentExecutions"]
    assert empty["AccountUsage"] == {"TotalCodeSize": 0, "FunctionCount": 0}

    code_a, code_b = python_zip("acct-a"), python_zip("acct-b-longer-tag")
    create_function(lam, "acct-a", zip_bytes=code_a)
    create_function(lam, "acct-b", zip_bytes=code_b)
    lam.put_function_concurrency(FunctionName="acct-a", ReservedConcurrentExecutions=7)
    after = lam.get_account_settings()
    assert after["AccountUsage"]["FunctionCount"] == 2
    assert after["AccountUsage"]["TotalCodeSize"] == len(code_a) + len(code_b)
    assert after["AccountLimit"]["UnreservedConcurrentExecutions"] == limit["ConcurrentExecutions"] - 7


def test_aws_cli_function_concurrency(aws, lam):
    name = create_function(lam)["FunctionName"]
    out = aws("put-function-concurrency", "--function-name", name, "--reserved-concurrent-executions", "3")
    assert out.check().json == {"ReservedConcurrentExecutions": 3}
    assert aws("get-function-concurrency", "--function-name", name).check().json == {"ReservedConcurrentExecutions": 3}
    settings = aws("get-account-settings").check().json
    assert settings["AccountUsage"]["FunctionCount"] >= 1

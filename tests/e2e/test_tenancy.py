"""TenancyConfig: set once at creation, never changed, and refused by the features AWS does not
offer with tenant isolation (function URLs, provisioned concurrency)."""

from __future__ import annotations

import base64

import pytest
from botocore.exceptions import ClientError, ParamValidationError

from support import (
    ROLE,
    create_function,
    error_of,
    expect_client_error,
    function_names,
    python_zip,
    signed_request,
    unique_name,
)


def test_update_function_configuration_with_tenancy_config_raw_is_400(endpoint, lam):
    name = create_function(lam, tenant=True)["FunctionName"]
    before = lam.get_function_configuration(FunctionName=name)
    r = signed_request(
        endpoint,
        "PUT",
        f"/2015-03-31/functions/{name}/configuration",
        {"TenancyConfig": {"TenantIsolationMode": "PER_TENANT"}, "MemorySize": 256},
    )
    assert r.status == 400, (r.status, r.body)
    assert r.headers.get("x-amzn-errortype", "").startswith("InvalidParameterValueException")
    assert "tenancy" in r.message.lower()
    after = lam.get_function_configuration(FunctionName=name)
    assert after["MemorySize"] == before["MemorySize"]
    assert after["RevisionId"] == before["RevisionId"]


def test_tenancy_cannot_be_added_to_a_shared_function_raw(endpoint, lam):
    name = create_function(lam)["FunctionName"]
    r = signed_request(
        endpoint,
        "PUT",
        f"/2015-03-31/functions/{name}/configuration",
        {"TenancyConfig": {"TenantIsolationMode": "PER_TENANT"}},
    )
    assert (r.status, r.code) == (400, "InvalidParameterValueException"), (r.status, r.body)
    assert "TenancyConfig" not in lam.get_function_configuration(FunctionName=name)


def test_boto3_refuses_tenancy_config_on_update_client_side(lam):
    with pytest.raises(ParamValidationError, match="TenancyConfig"):
        lam.update_function_configuration(
            FunctionName="never-sent", TenancyConfig={"TenantIsolationMode": "PER_TENANT"}
        )


def test_aws_cli_refuses_tenancy_config_on_update(aws, lam):
    name = create_function(lam, tenant=True)["FunctionName"]
    r = aws(
        "update-function-configuration",
        "--function-name", name,
        "--tenancy-config", '{"TenantIsolationMode":"PER_TENANT"}',
    )  # fmt: skip
    assert r.returncode != 0
    assert "--tenancy-config" in r.stderr
    assert lam.get_function_configuration(FunctionName=name)["TenancyConfig"] == {"TenantIsolationMode": "PER_TENANT"}


def test_tenancy_config_with_an_unknown_mode_is_refused(endpoint, lam):
    name = unique_name("badmode")
    r = signed_request(
        endpoint,
        "POST",
        "/2015-03-31/functions",
        {
            "FunctionName": name,
            "Runtime": "python3.12",
            "Role": ROLE,
            "Handler": "app.handler",
            "Code": {"ZipFile": base64.b64encode(python_zip()).decode()},
            "TenancyConfig": {"TenantIsolationMode": "SHARED"},
        },
    )
    assert r.status == 400, (r.status, r.body)
    assert r.code in ("ValidationException", "InvalidParameterValueException")
    assert "tenantisolationmode" in r.message.lower().replace(".", "").replace("_", "")
    assert name not in function_names(lam)


def test_function_url_on_a_per_tenant_function_is_refused(lam):
    name = create_function(lam, tenant=True)["FunctionName"]
    expect_client_error(
        lambda: lam.create_function_url_config(FunctionName=name, AuthType="NONE"),
        400,
        "InvalidParameterValueException",
        "tenan",
    )


def test_provisioned_concurrency_on_a_per_tenant_function_is_refused(lam):
    name = create_function(lam, tenant=True)["FunctionName"]
    lam.publish_version(FunctionName=name)
    expect_client_error(
        lambda: lam.put_provisioned_concurrency_config(
            FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=1
        ),
        400,
        "InvalidParameterValueException",
        "tenan",
    )


def test_provisioned_concurrency_on_a_shared_function_gives_a_clear_error(lam):
    name = create_function(lam)["FunctionName"]
    lam.publish_version(FunctionName=name)
    with pytest.raises(ClientError) as ei:
        lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=1)
    status, code, message = error_of(ei.value)
    # The function and version exist: a 404 here would mean the route itself is missing.
    assert status != 404 and 400 <= status < 600, (status, code, message)
    assert code and code not in ("ResourceNotFoundException", "UnknownOperationException"), code
    assert "provisioned" in message.lower(), message


def test_provisioned_concurrency_on_latest_is_refused(lam):
    name = create_function(lam)["FunctionName"]
    expect_client_error(
        lambda: lam.put_provisioned_concurrency_config(
            FunctionName=name, Qualifier="$LATEST", ProvisionedConcurrentExecutions=1
        ),
        400,
        "InvalidParameterValueException",
    )


def test_tenancy_config_survives_code_and_configuration_updates(lam):
    name = create_function(lam, tenant=True)["FunctionName"]
    lam.update_function_configuration(FunctionName=name, MemorySize=256)
    lam.update_function_code(FunctionName=name, ZipFile=python_zip("next"))
    assert lam.get_function(FunctionName=name)["Configuration"]["TenancyConfig"] == {
        "TenantIsolationMode": "PER_TENANT"
    }
    assert lam.publish_version(FunctionName=name)["TenancyConfig"] == {"TenantIsolationMode": "PER_TENANT"}


def test_shared_function_never_reports_tenancy(lam):
    name = create_function(lam)["FunctionName"]
    lam.publish_version(FunctionName=name)
    assert "TenancyConfig" not in lam.get_function(FunctionName=name)["Configuration"]
    assert "TenancyConfig" not in lam.get_function_configuration(FunctionName=name, Qualifier="1")

"""Invoke with tenant isolation against a real `bulkhead serve` with real sandboxes: the
official sample's per-tenant state (boto3 and the AWS CLI), AWS's tenant errors with nothing
run, ids that a careless encoding would collide, and ordinary reuse without tenancy."""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

import support
from invoke_fixtures import inv_endpoint, lam, python_runtime  # noqa: F401 (fixtures)
from support import (
    PYTHON_RUNTIME,
    deploy,
    environments_created,
    environments_of,
    expect_client_error,
    invoke,
    invoke_ok,
    signed_request,
)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="execution environments need root")

MISSING_TENANT = (
    "The invoked function is enabled with tenancy configuration. Add a valid tenant ID in your request and try again."
)


def raw_payload_args() -> list[str]:
    """AWS CLI v2 reads `--payload` as base64 unless told otherwise; v1 (what the suite pins)
    sends it as given and does not know `--cli-binary-format` at all."""
    version = support.run([*support.aws_cli_command(), "--version"], support.cli_env(Path("/nonexistent")))
    text = version.stdout + version.stderr
    return ["--cli-binary-format", "raw-in-base64-out"] if text.startswith("aws-cli/2") else []


def counters(payload) -> tuple[int, int, str | None]:
    return payload["memoryCounter"], payload["diskCounter"], payload["tenantId"]


def test_official_sample_counters_are_per_tenant_with_boto3(lam, inv_endpoint, python_runtime):
    name = deploy(lam, "python_counter", tenant=True)
    seen = [
        ("blue", counters(invoke_ok(lam, name, tenant="blue"))),
        ("blue", counters(invoke_ok(lam, name, tenant="blue"))),
        ("green", counters(invoke_ok(lam, name, tenant="green"))),
        ("blue", counters(invoke_ok(lam, name, tenant="blue"))),
        ("green", counters(invoke_ok(lam, name, tenant="green"))),
    ]
    assert seen == [
        ("blue", (1, 1, "blue")),
        ("blue", (2, 2, "blue")),
        ("green", (1, 1, "green")),
        ("blue", (3, 3, "blue")),
        ("green", (2, 2, "green")),
    ]
    envs = environments_of(inv_endpoint, name)
    assert sorted((e["TenantId"], e["Version"], e["Invocations"]) for e in envs) == [
        ("blue", "$LATEST", 3),
        ("green", "$LATEST", 2),
    ], envs


def test_official_sample_counters_with_the_aws_cli(aws, lam, inv_endpoint, python_runtime, tmp_path):
    name = deploy(lam, "python_counter", tenant=True)

    def cli_invoke(tenant: str) -> tuple[dict, dict]:
        out = tmp_path / f"out-{tenant}.json"
        r = aws(
            "invoke", "--function-name", name, "--tenant-id", tenant,
            *raw_payload_args(), "--payload", "{}", str(out),
            endpoint_url=inv_endpoint,
        ).check()  # fmt: skip
        return r.json, json.loads(out.read_text())

    meta, first = cli_invoke("blue")
    assert meta["StatusCode"] == 200 and "FunctionError" not in meta, meta
    assert meta["ExecutedVersion"] == "$LATEST"
    assert counters(first) == (1, 1, "blue")
    assert counters(cli_invoke("blue")[1]) == (2, 2, "blue")
    assert counters(cli_invoke("green")[1]) == (1, 1, "green")
    assert counters(cli_invoke("blue")[1]) == (3, 3, "blue")


def test_aws_cli_without_tenant_on_a_per_tenant_function_shows_awss_error(aws, lam, inv_endpoint, tmp_path):
    name = deploy(lam, "python_counter", tenant=True)
    r = aws(
        "invoke", "--function-name", name, *raw_payload_args(),
        "--payload", "{}", str(tmp_path / "out.json"), endpoint_url=inv_endpoint,
    )  # fmt: skip
    assert r.returncode != 0
    assert "InvalidParameterValueException" in r.stderr, r.stderr
    assert MISSING_TENANT in r.stderr, r.stderr
    assert environments_of(inv_endpoint, name) == []


def test_missing_tenant_on_a_per_tenant_function(lam, inv_endpoint):
    name = deploy(lam, "python_counter", tenant=True)
    before = environments_created(inv_endpoint)
    status, code, message = expect_client_error(lambda: invoke(lam, name), 400, "InvalidParameterValueException")
    assert message == MISSING_TENANT
    assert environments_created(inv_endpoint) == before
    assert environments_of(inv_endpoint, name) == []


def test_tenant_on_a_function_without_tenancy(lam, inv_endpoint):
    name = deploy(lam, "python_counter")
    before = environments_created(inv_endpoint)
    _, _, message = expect_client_error(
        lambda: invoke(lam, name, tenant="blue"), 400, "InvalidParameterValueException", "tenant ID"
    )
    assert "remove" in message.lower(), message
    assert environments_created(inv_endpoint) == before
    assert environments_of(inv_endpoint, name) == []


@pytest.mark.parametrize(
    "tenant",
    [
        pytest.param("t" * 257, id="257-chars"),
        pytest.param("blue#1", id="hash"),
        pytest.param("blue;green", id="semicolon"),
        pytest.param("blue%2Fgreen", id="percent"),
        pytest.param("blue\\green", id="backslash"),
    ],
)
def test_invalid_tenant_ids_are_refused_before_anything_runs(lam, inv_endpoint, tenant):
    name = deploy(lam, "python_counter", tenant=True)
    before = environments_created(inv_endpoint)
    expect_client_error(lambda: invoke(lam, name, tenant=tenant), 400, "ValidationException")
    assert environments_created(inv_endpoint) == before
    assert environments_of(inv_endpoint, name) == []


def test_an_empty_tenant_header_is_refused(lam, inv_endpoint):
    name = deploy(lam, "python_counter", tenant=True)
    before = environments_created(inv_endpoint)
    r = signed_request(
        inv_endpoint, "POST", f"/2015-03-31/functions/{name}/invocations", b"{}", headers={"X-Amz-Tenant-Id": ""}
    )
    assert r.status == 400, (r.status, r.body)
    assert r.code in ("ValidationException", "InvalidParameterValueException"), r.headers
    assert environments_created(inv_endpoint) == before


def test_a_non_ascii_tenant_header_is_refused(lam, inv_endpoint):
    name = deploy(lam, "python_counter", tenant=True)
    before = environments_created(inv_endpoint)
    path = f"/2015-03-31/functions/{name}/invocations"
    url = inv_endpoint + path
    req = AWSRequest(method="POST", url=url, data=b"{}", headers={"Host": urlsplit(url).netloc, "X-Amz-Tenant-Id": "bl\u00e9"})
    SigV4Auth(Credentials(support.ACCESS_KEY, support.SECRET_KEY), "lambda", support.REGION).add_auth(req)
    # Signed over the UTF-8 bytes, sent as the UTF-8 bytes (http.client would send Latin-1).
    headers = {k: (v.encode() if k.lower() == "x-amz-tenant-id" else v) for k, v in req.headers.items()}
    r = support._send("POST", url, headers, b"{}", 30)
    assert r.status == 400, (r.status, r.body)
    assert r.code in ("ValidationException", "InvalidParameterValueException"), r.headers
    assert environments_created(inv_endpoint) == before


def test_longest_and_widest_valid_tenant_ids_arrive_unchanged(lam, python_runtime):
    name = deploy(lam, "python_probe", tenant=True)
    for tenant in ("t" * 256, "a", "Az09._:/=+-@ x", "inner  double  spaces", "../../etc/passwd", "/", "."):
        got = invoke_ok(lam, name, tenant=tenant)
        assert got["tenantId"] == tenant
        assert got["count"] == 1, f"tenant {tenant!r} reused another tenant's environment: {got}"


def test_tenant_ids_that_a_naive_encoding_would_merge_stay_apart(lam, inv_endpoint, python_runtime):
    """Each of these differs from the others only in a character that a path-, cgroup- or
    uid-safe rewrite might map to the same thing."""
    name = deploy(lam, "python_counter", tenant=True)
    tenants = ["a/b", "a_b", "a:b", "a b", "a  b", "a.b", "a+b", "a=b", "a-b", "a@b", "ab", "A/B", "a//b", "a/./b", "a/../b"]
    for round_ in (1, 2):
        for t in tenants:
            assert counters(invoke_ok(lam, name, tenant=t)) == (round_, round_, t)
    envs = environments_of(inv_endpoint, name)
    assert sorted(e["TenantId"] for e in envs) == sorted(tenants)
    assert len({e["LogStreamName"] for e in envs}) == len(tenants)


def test_per_tenant_state_does_not_leak_between_tenants_or_versions(lam, inv_endpoint, python_runtime):
    name = deploy(lam, "python_probe", tenant=True)
    blue1 = invoke_ok(lam, name, tenant="blue")
    green1 = invoke_ok(lam, name, tenant="green")
    blue2 = invoke_ok(lam, name, tenant="blue")
    assert (blue1["count"], green1["count"], blue2["count"]) == (1, 1, 2)
    assert blue1["envId"] == blue2["envId"] != green1["envId"]
    assert blue1["logStreamName"] == blue2["logStreamName"] != green1["logStreamName"]
    lam.publish_version(FunctionName=name)
    v1 = invoke_ok(lam, name, tenant="blue", Qualifier="1")
    assert v1["count"] == 1 and v1["envId"] not in (blue1["envId"], green1["envId"]), v1
    assert v1["functionVersion"] == "1"
    assert v1["logStreamName"].split("/")[3].startswith("[1]"), v1["logStreamName"]


def test_a_function_without_tenancy_reuses_its_environment(lam, inv_endpoint, python_runtime):
    name = deploy(lam, "python_probe")
    got = [invoke_ok(lam, name) for _ in range(3)]
    assert [g["count"] for g in got] == [1, 2, 3]
    assert len({g["envId"] for g in got}) == 1
    assert all(g["tenantId"] is None for g in got)
    envs = environments_of(inv_endpoint, name)
    assert [(e["TenantId"], e["Invocations"], e["State"]) for e in envs] == [(None, 3, "idle")], envs


def test_the_sample_without_tenancy_shares_state_between_callers(lam, python_runtime):
    name = deploy(lam, "python_counter")
    assert [counters(invoke_ok(lam, name)) for _ in range(3)] == [(1, 1, None), (2, 2, None), (3, 3, None)]


def test_the_environment_is_lambdas(lam, python_runtime):
    name = deploy(lam, "python_probe", tenant=True, MemorySize=256)
    got = invoke_ok(lam, name, tenant="blue")
    env = got["env"]
    assert (got["uid"], got["cwd"]) == (993, "/var/task")
    assert (got["tmpWritable"], got["taskWritable"]) == (True, False)
    assert env["AWS_LAMBDA_RUNTIME_API"] == "127.0.0.1:9001"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == name == got["functionName"]
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST" == got["functionVersion"]
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256" and got["memoryLimitInMB"] == "256"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == f"/aws/lambda/{name}" == got["logGroupName"]
    assert env["LAMBDA_TASK_ROOT"] == "/var/task" and env["_HANDLER"] == "app.handler"
    assert env["AWS_REGION"] == support.REGION and env["TZ"] == ":UTC"
    assert env["AWS_LAMBDA_INITIALIZATION_TYPE"] == "on-demand"
    assert env["AWS_EXECUTION_ENV"] == f"AWS_Lambda_{PYTHON_RUNTIME}"
    stream = env["AWS_LAMBDA_LOG_STREAM_NAME"]
    assert stream == got["logStreamName"]
    parts = stream.split("/")
    assert len(parts) == 4 and parts[3].startswith("[$LATEST]") and len(parts[3]) == len("[$LATEST]") + 32, stream
    # The tenant exists per invocation only: no variable carries it, not even during Init.
    assert got["tenantEnvAtInit"] == {} and not [k for k in env if "TENANT" in k]
    assert got["functionArn"] == support.arn(name)
    assert 0 < got["remainingMs"] <= 30_000


def test_a_new_tenant_gets_a_spare_initialised_before_any_tenant_was_known(lam, inv_endpoint, python_runtime):
    """After a first invocation, an initialised environment waits for the next new tenant: it
    never saw a tenant during Init, and once bound it serves that tenant only."""
    source = (
        "import os\n"
        "INIT_TENANT = os.environ.get('TENANT_ID')\n"
        "count = 0\n"
        "def handler(event, context):\n"
        "    global count\n"
        "    count += 1\n"
        "    return {'tenant': context.tenant_id, 'count': count, 'initTenant': INIT_TENANT}\n"
    )
    name = deploy(lam, "spare", tenant=True, zip_bytes=support.make_zip({"app.py": source}))
    assert invoke_ok(lam, name, tenant="first")["count"] == 1
    support.wait_until(lambda: bool(support.spares_of(inv_endpoint, name)), 30, "a spare after the first invocation")
    spare = support.spares_of(inv_endpoint, name)[0]
    assert (spare["TenantId"], spare["Invocations"]) == (None, 0)
    assert invoke_ok(lam, name, tenant="second") == {"tenant": "second", "count": 1, "initTenant": None}
    bound = {e["LogStreamName"]: e for e in support.environments_of(inv_endpoint, name)}
    assert bound[spare["LogStreamName"]]["TenantId"] == "second", "the spare became the new tenant's environment"
    assert invoke_ok(lam, name, tenant="first")["count"] == 2, "the first tenant keeps its own"

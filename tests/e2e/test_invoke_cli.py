"""`bulkhead invoke` and `bulkhead env list` against a server running real environments."""

from __future__ import annotations

import json
import os

import pytest

import support
from invoke_fixtures import inv_endpoint, lam, python_runtime  # noqa: F401 (fixtures)
from support import deploy, invoke_ok

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="execution environments need root")


@pytest.fixture
def cli(bulkhead_cli, inv_endpoint):
    def run(*args: str) -> support.CliResult:
        return bulkhead_cli(*args, endpoint_url=inv_endpoint)

    return run


def test_cli_invoke_prints_the_result_and_the_log(cli, lam, python_runtime):
    name = deploy(lam, "python_probe", tenant=True)
    r = cli("invoke", name, "--tenant-id", "blue", "--payload", '{"a":1}', "--log-type", "Tail").check()
    got = json.loads(r.stdout)
    assert (got["tenantId"], got["event"], got["count"]) == ("blue", {"a": 1}, 1)
    assert f"START RequestId: {got['requestId']}" in r.stderr, r.stderr
    assert f"REPORT RequestId: {got['requestId']}" in r.stderr, r.stderr
    r = cli("invoke", name, "--tenant-id", "blue", "--payload", '{"action":"print","text":"cli-log-line"}', "--log-type", "Tail").check()
    assert "cli-log-line 0" in r.stderr, r.stderr


def test_cli_invoke_payload_from_a_file_and_a_qualifier(cli, lam, python_runtime, tmp_path):
    name = deploy(lam, "python_probe", tenant=True)
    lam.publish_version(FunctionName=name)
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"from": "file", "tenant": "green"}))
    r = cli("invoke", name, "--tenant-id", "green", "--payload", f"@{event}", "--qualifier", "1").check()
    got = json.loads(r.stdout)
    assert got["event"] == {"from": "file", "tenant": "green"} and got["functionVersion"] == "1"


def test_cli_invoke_function_error_exits_non_zero_and_prints_it(cli, lam, python_runtime):
    name = deploy(lam, "python_probe", tenant=True)
    r = cli("invoke", name, "--tenant-id", "blue", "--payload", '{"action":"raise","message":"cli-boom"}')
    assert r.returncode != 0, r
    printed = r.stdout + r.stderr
    assert "cli-boom" in printed and "ValueError" in printed, printed
    assert "Unhandled" in r.stderr, r.stderr
    assert "panicked" not in r.stderr


def test_cli_invoke_without_tenant_shows_awss_error(cli, lam):
    name = deploy(lam, "python_probe", tenant=True)
    r = cli("invoke", name, "--payload", "{}")
    assert r.returncode != 0 and r.stdout == "", r
    assert "InvalidParameterValueException" in r.stderr and "Add a valid tenant ID" in r.stderr, r.stderr
    assert len([line for line in r.stderr.splitlines() if line.strip()]) == 1, r.stderr


def test_cli_env_list_shows_the_tenants_environment(cli, lam, python_runtime):
    name = deploy(lam, "python_probe", tenant=True, MemorySize=192)
    tenant = f"cli-{support.unique_name('t')}"
    invoke_ok(lam, name, tenant=tenant)
    invoke_ok(lam, name, tenant=tenant)
    rows = [e for e in cli("env", "list", "--output", "json").check().json["Environments"] if e["FunctionName"] == name]
    assert [(e["Version"], e["TenantId"], e["State"], e["Invocations"], e["MemorySize"]) for e in rows] == [
        ("$LATEST", tenant, "idle", 2, 192)
    ], rows
    table = cli("env", "list").check().stdout
    header = table.splitlines()[0].split()
    assert header[:5] == ["ID", "FUNCTION", "VERSION", "TENANT", "STATE"], table
    line = next((line for line in table.splitlines() if name in line), None)
    assert line is not None, table
    assert tenant in line and "$LATEST" in line and "idle" in line and "192 MB" in line, line

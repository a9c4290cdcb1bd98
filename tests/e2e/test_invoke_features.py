"""Invoke's request and response features on real environments: the log tail, executed
versions and aliases, the client context, DryRun and Event, and the 6 MB limits."""

from __future__ import annotations

import base64
import json
import os

import pytest

import support
from invoke_fixtures import inv_endpoint, lam, python_runtime  # noqa: F401 (fixtures)
from support import (
    deploy,
    environments_created,
    environments_of,
    expect_client_error,
    invoke,
    invoke_ok,
    signed_request,
)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="execution environments need root")

SIX_MB = 6 * 1024 * 1024


@pytest.fixture(scope="module")
def probe(lam, python_runtime) -> str:
    """One PER_TENANT probe function shared by the tests here, which use their own tenants."""
    return deploy(lam, "python_probe", tenant=True)


def test_log_tail_has_the_functions_output_between_start_end_and_report(lam, probe):
    r = invoke(lam, probe, {"action": "print", "text": "hello from the probe"}, tenant="tail-1", tail=True)
    assert (r.status, r.function_error) == (200, None), r.raw
    log = r.log
    assert log is not None, "no LogResult with LogType Tail"
    assert "hello from the probe 0" in log
    rid = r.request_id
    assert rid
    start, end, report = (log.index(f"{w} RequestId: {rid}") for w in ("START", "END", "REPORT"))
    assert start < log.index("hello from the probe 0") < end < report, log
    assert "Duration:" in log[report:] and "Memory Size: 128 MB" in log[report:], log


def test_log_tail_is_only_this_invocations_log(lam, probe):
    invoke_ok(lam, probe, {"action": "print", "text": "first-call"}, tenant="tail-2")
    r = invoke(lam, probe, {"action": "print", "text": "second-call"}, tenant="tail-2", tail=True)
    assert "second-call 0" in r.log and "first-call" not in r.log, r.log


def test_log_tail_is_the_last_4_kb(lam, probe):
    r = invoke(lam, probe, {"action": "print", "text": "y" * 90, "lines": 200}, tenant="tail-3", tail=True)
    size = len(r.log.encode())
    # The function printed ~19 KB: the tail is full, and no more than 4 KB.
    assert 4096 - 100 < size <= 4096, size
    assert f"REPORT RequestId: {r.request_id}" in r.log
    assert "y" * 90 + " 199" in r.log and "y" * 90 + " 0\n" not in r.log


def test_without_log_type_there_is_no_log_result(lam, probe):
    r = lam.invoke(FunctionName=probe, TenantId="tail-4", Payload=b"{}")
    assert "LogResult" not in r


def test_executed_version_qualifiers_and_aliases(lam, inv_endpoint, python_runtime):
    name = deploy(lam, "python_probe", tenant=True)
    latest = invoke(lam, name, tenant="blue")
    assert latest.executed_version == "$LATEST" and latest.payload["functionVersion"] == "$LATEST"
    assert latest.payload["functionArn"] == support.arn(name)
    lam.publish_version(FunctionName=name)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    v1 = invoke(lam, name, tenant="blue", Qualifier="1")
    assert v1.executed_version == "1" and v1.payload["functionVersion"] == "1"
    assert v1.payload["functionArn"] == support.arn(name, "1")
    assert v1.payload["count"] == 1, "version 1 must not run in the $LATEST environment"
    via_alias = invoke(lam, name, tenant="blue", Qualifier="live")
    assert via_alias.executed_version == "1"
    assert via_alias.payload["functionArn"] == support.arn(name, "live")
    assert (via_alias.payload["envId"], via_alias.payload["count"]) == (v1.payload["envId"], 2)
    colon = invoke(lam, f"{name}:live", tenant="blue")
    assert colon.executed_version == "1" and colon.payload["count"] == 3
    by_arn = invoke(lam, support.arn(name, "1"), tenant="blue")
    assert by_arn.executed_version == "1" and by_arn.payload["count"] == 4
    versions = sorted((e["Version"], e["TenantId"]) for e in environments_of(inv_endpoint, name))
    assert versions == [("$LATEST", "blue"), ("1", "blue")], versions


def test_unknown_qualifier_is_404_and_runs_nothing(lam, inv_endpoint, probe):
    before = environments_created(inv_endpoint)
    expect_client_error(lambda: invoke(lam, probe, tenant="blue", Qualifier="nope"), 404, "ResourceNotFoundException")
    expect_client_error(lambda: invoke(lam, probe, tenant="blue", Qualifier="7"), 404, "ResourceNotFoundException")
    assert environments_created(inv_endpoint) == before


def test_client_context_reaches_the_python_context(lam, probe):
    cc = {"custom": {"plan": "gold", "n": 3}, "env": {"locale": "en_GB"}, "client": {"installation_id": "inst-1", "app_title": "e2e"}}
    r = invoke(lam, probe, tenant="cc-1", ClientContext=base64.b64encode(json.dumps(cc).encode()).decode())
    assert r.function_error is None, r.raw
    got = r.payload["clientContext"]
    assert got["custom"] == cc["custom"] and got["env"] == cc["env"]
    assert got["client"] == {"installation_id": "inst-1", "app_title": "e2e"}
    assert invoke_ok(lam, probe, tenant="cc-1")["clientContext"] is None, "a client context must not stick to the environment"


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("%%% not base64 %%%", id="not-base64"),
        pytest.param(base64.b64encode(b"not json").decode(), id="not-json"),
        pytest.param(base64.b64encode(b"[1, 2]").decode(), id="json-array"),
        pytest.param(base64.b64encode(json.dumps({"custom": {"k": "v" * 3000}}).encode()).decode(), id="over-3583"),
    ],
)
def test_invalid_client_context_is_400_and_runs_nothing(lam, inv_endpoint, probe, value):
    before = environments_created(inv_endpoint)
    status, code, _ = expect_client_error(
        lambda: invoke(lam, probe, tenant="cc-bad", ClientContext=value),
        400,
        {"InvalidParameterValueException", "InvalidRequestContentException", "ValidationException"},
    )
    assert environments_created(inv_endpoint) == before


def test_dry_run_is_204_and_runs_nothing(lam, inv_endpoint, probe):
    before = environments_created(inv_endpoint)
    r = lam.invoke(FunctionName=probe, TenantId="dry", InvocationType="DryRun", Payload=b"{}")
    assert r["StatusCode"] == 204
    assert r["Payload"].read() == b""
    assert environments_created(inv_endpoint) == before
    assert not [e for e in environments_of(inv_endpoint, probe) if e["TenantId"] == "dry"]


def test_dry_run_of_a_missing_function_is_404(lam):
    expect_client_error(
        lambda: lam.invoke(FunctionName=support.unique_name("nope"), InvocationType="DryRun"), 404, "ResourceNotFoundException"
    )


def test_event_invocation_is_refused_for_now_and_runs_nothing(lam, inv_endpoint, probe):
    before = environments_created(inv_endpoint)
    expect_client_error(
        lambda: lam.invoke(FunctionName=probe, TenantId="event", InvocationType="Event", Payload=b"{}"),
        400,
        "InvalidParameterValueException",
    )
    assert environments_created(inv_endpoint) == before


def test_unknown_invocation_and_log_types_are_refused(inv_endpoint, probe):
    path = f"/2015-03-31/functions/{probe}/invocations"
    for headers in ({"X-Amz-Invocation-Type": "Sometimes"}, {"X-Amz-Log-Type": "All"}):
        r = signed_request(inv_endpoint, "POST", path, b"{}", headers={"X-Amz-Tenant-Id": "blue", **headers})
        assert r.status == 400 and r.code in ("ValidationException", "InvalidParameterValueException"), (headers, r.status, r.body)


def test_invoking_a_missing_function_is_404(lam):
    name = support.unique_name("missing")
    _, _, message = expect_client_error(lambda: invoke(lam, name, tenant="blue"), 404, "ResourceNotFoundException")
    assert name in message


def test_a_payload_just_under_6_mb_reaches_the_function(lam, probe):
    blob = "z" * (SIX_MB - 1024)
    got = invoke_ok(lam, probe, {"action": "size", "blob": blob}, tenant="big-in")
    assert got["size"] == len(blob)


def test_a_request_over_6_mb_is_413(inv_endpoint, probe):
    before = environments_created(inv_endpoint)
    body = b'{"blob":"' + b"z" * SIX_MB + b'"}'
    r = signed_request(
        inv_endpoint, "POST", f"/2015-03-31/functions/{probe}/invocations", body, headers={"X-Amz-Tenant-Id": "big-in"}
    )
    assert (r.status, r.code) == (413, "RequestTooLargeException"), (r.status, r.headers, r.body[:500])
    assert r.message == "Request must be smaller than 6291456 bytes for the InvokeFunction operation"
    assert environments_created(inv_endpoint) == before


def test_a_request_over_6_mb_with_boto3(lam, probe):
    body = b'{"blob":"' + b"z" * SIX_MB + b'"}'
    expect_client_error(
        lambda: lam.invoke(FunctionName=probe, TenantId="big-in", Payload=body), 413, "RequestTooLargeException"
    )


def test_a_response_just_under_6_mb_comes_back_whole(lam, probe):
    n = SIX_MB - 1024
    r = invoke(lam, probe, {"action": "big", "bytes": n}, tenant="big-out")
    assert r.function_error is None
    assert r.raw == b'"' + b"x" * n + b'"'


def test_a_response_over_6_mb_is_a_function_error(lam, probe):
    r = invoke(lam, probe, {"action": "big", "bytes": SIX_MB + 1024}, tenant="big-out-2")
    assert (r.status, r.function_error) == (200, "Unhandled")
    assert r.payload == {
        "errorType": "Function.ResponseSizeTooLarge",
        "errorMessage": "Response payload size exceeded maximum allowed payload size (6291556 bytes).",
    }
    again = invoke_ok(lam, probe, tenant="big-out-2")
    assert again["tenantId"] == "big-out-2"

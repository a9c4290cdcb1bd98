"""Admission limits on Invoke, with real environments: reserved concurrency gives Lambda's 429,
and a PER_TENANT function holds at most 2.5 environments per unit of concurrency, evicting its
least recently used idle one to make room."""

from __future__ import annotations

import os
import threading

import pytest

import support
from invoke_fixtures import inv_endpoint, lam, python_runtime  # noqa: F401 (fixtures)
from support import deploy, environments_created, environments_of, invoke, invoke_ok, signed_request, wait_until

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="execution environments need root")


def test_reserved_concurrency_exhausted_is_429_with_a_reason(lam, inv_endpoint, python_runtime):
    name = deploy(lam, "python_probe", tenant=True)
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    invoke_ok(lam, name, tenant="blue")  # warm, so the sleeper below is busy at once
    sleeper: dict = {}
    t = threading.Thread(target=lambda: sleeper.update(r=invoke(lam, name, {"action": "sleep", "seconds": 2}, tenant="blue")))
    t.start()
    try:
        wait_until(lambda: any(e["State"] == "busy" for e in environments_of(inv_endpoint, name)), 5, "the sleeper to be busy")
        before = environments_created(inv_endpoint)
        r = signed_request(inv_endpoint, "POST", f"/2015-03-31/functions/{name}/invocations", b"{}", headers={"X-Amz-Tenant-Id": "green"})
        assert (r.status, r.code) == (429, "TooManyRequestsException"), (r.status, r.headers, r.body)
        assert r.json.get("Reason") == "ReservedFunctionConcurrentInvocationLimitExceeded", r.body
        assert r.headers.get("retry-after", "").strip().isdigit(), r.headers
        assert environments_created(inv_endpoint) == before
        support.expect_client_error(lambda: invoke(lam, name, tenant="blue"), 429, "TooManyRequestsException")
    finally:
        t.join(30)
    assert sleeper["r"].function_error is None, sleeper["r"].raw
    assert invoke_ok(lam, name, tenant="green")["tenantId"] == "green"


def test_tenant_environment_cap_evicts_the_least_recently_used(lam, inv_endpoint, python_runtime):
    name = deploy(lam, "python_probe", tenant=True)
    # Reserved concurrency 2 allows 2.5 × 2 = 5 tenant environments.
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=2)
    first = {f"t{i}": invoke_ok(lam, name, tenant=f"t{i}") for i in range(5)}
    assert sorted(e["TenantId"] for e in environments_of(inv_endpoint, name)) == ["t0", "t1", "t2", "t3", "t4"]
    assert invoke_ok(lam, name, tenant="t1")["count"] == 2  # t0 is now the least recently used
    assert invoke_ok(lam, name, tenant="t5")["count"] == 1
    live = sorted(e["TenantId"] for e in environments_of(inv_endpoint, name))
    assert live == ["t1", "t2", "t3", "t4", "t5"], live
    again = invoke_ok(lam, name, tenant="t0")
    assert again["count"] == 1 and again["envId"] != first["t0"]["envId"]
    assert len(environments_of(inv_endpoint, name)) == 5

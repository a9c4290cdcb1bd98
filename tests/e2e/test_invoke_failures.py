"""Failures inside functions, on real environments: exceptions, timeouts, crashes, running out
of memory, and Init errors give Lambda's error payloads, and none of them poisons the tenant's
next invocation."""

from __future__ import annotations

import os
import shutil
import time

import pytest

import support
from invoke_fixtures import inv_endpoint, lam, python_runtime  # noqa: F401 (fixtures)
from support import PROVIDED_RUNTIME, deploy, environments_of, function_zip, invoke, invoke_ok

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="execution environments need root")


def failed(r: support.Invoked) -> dict:
    """A failed invocation as Lambda reports it: 200, Unhandled, a JSON error body."""
    assert (r.status, r.function_error) == (200, "Unhandled"), (r.status, r.function_error, r.raw[:2000])
    body = r.payload
    assert isinstance(body, dict) and isinstance(body.get("errorType"), str), body
    return body


def assert_fresh_environment(lam, name: str, tenant: str, before: dict) -> dict:
    """The tenant's next invocation works, in a new environment (count restarts at 1)."""
    after = invoke_ok(lam, name, tenant=tenant)
    assert after["tenantId"] == tenant
    assert after["count"] == 1 and after["envId"] != before["envId"], (before, after)
    return after


def test_handler_exception_is_unhandled_with_the_runtimes_error(lam, inv_endpoint, python_runtime):
    name = deploy(lam, "python_probe", tenant=True)
    first = invoke_ok(lam, name, tenant="blue")
    r = invoke(lam, name, {"action": "raise", "message": "the handler gave up"}, tenant="blue", tail=True)
    body = failed(r)
    assert (body["errorType"], body["errorMessage"]) == ("ValueError", "the handler gave up")
    assert body["requestId"] == r.request_id
    assert isinstance(body["stackTrace"], list) and body["stackTrace"]
    assert "the handler gave up" in r.log and f"END RequestId: {r.request_id}" in r.log
    # An exception is not a crash: Lambda keeps the environment, and so do globals.
    after = invoke_ok(lam, name, tenant="blue")
    assert (after["envId"], after["count"]) == (first["envId"], 3)


def test_timeout_is_sandbox_timedout_and_the_environment_is_replaced(lam, inv_endpoint, python_runtime):
    name = deploy(lam, "python_probe", tenant=True, Timeout=1)
    before = invoke_ok(lam, name, tenant="blue")
    started = time.monotonic()
    r = invoke(lam, name, {"action": "sleep", "seconds": 3}, tenant="blue")
    took = time.monotonic() - started
    body = failed(r)
    assert body == {
        "errorType": "Sandbox.Timedout",
        "errorMessage": f"RequestId: {r.request_id} Error: Task timed out after 1.00 seconds",
    }
    assert 0.9 < took < 2.5, f"the timeout answered after {took:.2f}s"
    assert_fresh_environment(lam, name, "blue", before)
    envs = environments_of(inv_endpoint, name)
    assert [(e["TenantId"], e["Invocations"]) for e in envs] == [("blue", 1)], envs


def test_a_python_crash_is_runtime_exit_error(lam, python_runtime):
    name = deploy(lam, "python_probe", tenant=True)
    before = invoke_ok(lam, name, tenant="blue")
    r = invoke(lam, name, {"action": "exit", "code": 1}, tenant="blue")
    body = failed(r)
    assert body == {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: {r.request_id} Error: Runtime exited with error: exit status 1",
    }
    assert_fresh_environment(lam, name, "blue", before)


def test_running_out_of_memory_is_runtime_out_of_memory(lam, python_runtime):
    name = deploy(lam, "python_probe", tenant=True, MemorySize=128)
    before = invoke_ok(lam, name, tenant="blue")
    r = invoke(lam, name, {"action": "oom", "mb": 512}, tenant="blue")
    body = failed(r)
    assert body["errorType"] == "Runtime.OutOfMemory", body
    assert body["errorMessage"].startswith(f"RequestId: {r.request_id} Error: Runtime exited with error"), body
    assert_fresh_environment(lam, name, "blue", before)


def test_an_import_error_is_the_runtimes_init_error_and_is_never_reused(lam, inv_endpoint, python_runtime):
    name = deploy(lam, "python_import_error", tenant=True)
    for _ in range(2):
        r = invoke(lam, name, tenant="blue")
        body = failed(r)
        assert body["errorType"] == "Runtime.ImportModuleError", body
        assert "Unable to import module 'app'" in body["errorMessage"], body
        assert "bulkhead_e2e_module_that_does_not_exist" in body["errorMessage"], body
    assert environments_of(inv_endpoint, name) == []
    lam.update_function_code(FunctionName=name, ZipFile=function_zip("python_probe"))
    fixed = invoke_ok(lam, name, tenant="blue")
    assert (fixed["tenantId"], fixed["count"]) == ("blue", 1)


def test_failures_of_one_tenant_do_not_touch_another(lam, python_runtime):
    name = deploy(lam, "python_probe", tenant=True, Timeout=2)
    green = invoke_ok(lam, name, tenant="green")
    failed(invoke(lam, name, {"action": "exit", "code": 1}, tenant="blue"))
    failed(invoke(lam, name, {"action": "sleep", "seconds": 5}, tenant="blue"))
    failed(invoke(lam, name, {"action": "oom", "mb": 512}, tenant="blue"))
    green_again = invoke_ok(lam, name, tenant="green")
    assert (green_again["envId"], green_again["count"]) == (green["envId"], 2)


needs_curl = pytest.mark.skipif(shutil.which("curl") != "/usr/bin/curl", reason="the sh bootstraps use /usr/bin/curl")


@needs_curl
def test_a_provided_bootstrap_that_exits_mid_invoke(lam, inv_endpoint):
    name = deploy(lam, "provided_exit", runtime=PROVIDED_RUNTIME, tenant=True)
    for _ in range(2):
        r = invoke(lam, name, tenant="blue", tail=True)
        body = failed(r)
        assert body == {
            "errorType": "Runtime.ExitError",
            "errorMessage": f"RequestId: {r.request_id} Error: Runtime exited with error: exit status 3",
        }
        assert "bootstrap got an invocation and exits 3" in (r.log or ""), r.log
    assert environments_of(inv_endpoint, name) == []


def test_a_provided_bootstrap_that_exits_during_init(lam, inv_endpoint):
    name = deploy(lam, "provided_init_exit", runtime=PROVIDED_RUNTIME, tenant=True)
    r = invoke(lam, name, tenant="blue")
    body = failed(r)
    assert body["errorType"] == "Runtime.ExitError", body
    assert body["errorMessage"].endswith("Runtime exited with error: exit status 2"), body
    assert environments_of(inv_endpoint, name) == []


def test_a_zip_without_bootstrap_is_an_invalid_entrypoint(lam, inv_endpoint):
    name = deploy(lam, "python_counter", runtime=PROVIDED_RUNTIME, tenant=True)
    body = failed(invoke(lam, name, tenant="blue"))
    assert body["errorType"] == "Runtime.InvalidEntrypoint", body
    assert environments_of(inv_endpoint, name) == []

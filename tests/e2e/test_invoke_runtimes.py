"""The tenant reaches handlers through each official runtime client: Python's awslambdaric
(`context.tenant_id`), Node's aws-lambda-ric (`context.tenantId`) and Rust's `lambda_runtime`
(`Context::tenant_id`), each running in Bulkhead's environments."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

import support
from invoke_fixtures import inv_endpoint, lam  # noqa: F401 (fixtures)
from support import NODE_RUNTIME, PROVIDED_RUNTIME, REPO, deploy, environments_of, invoke, invoke_ok, make_zip

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="execution environments need root")

RUST_FUNCTION = Path(__file__).resolve().parent / "rust-function"
RUST_TARGET = REPO / "target" / "rust-function"


@pytest.fixture(scope="module")
def runtimes():
    return support.require_runtimes()


@pytest.fixture(scope="module")
def rust_bootstrap() -> bytes:
    """Builds tests/e2e/rust-function (its own workspace) and returns the binary's bytes."""
    started = time.monotonic()
    p = subprocess.run(
        ["cargo", "build", "--release", "--locked", "--manifest-path", str(RUST_FUNCTION / "Cargo.toml")],
        env={**os.environ, "CARGO_TARGET_DIR": str(RUST_TARGET)},
        capture_output=True, text=True, timeout=1800, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert p.returncode == 0, f"building the Rust function failed:\n{p.stderr[-4000:]}"
    print(f"rust function built in {time.monotonic() - started:.1f}s")
    return (RUST_TARGET / "release" / "bootstrap").read_bytes()


def test_python_context_tenant_id(lam, runtimes):
    name = deploy(lam, "python_probe", tenant=True)
    for tenant in ("blue", "green", "org:42/team=a+b@x.y z-1"):
        got = invoke_ok(lam, name, tenant=tenant)
        assert got["tenantId"] == tenant and got["count"] == 1


def test_node_sample_with_context_tenant_id(lam, inv_endpoint, runtimes):
    name = deploy(lam, "node_counter", runtime=NODE_RUNTIME, tenant=True)
    seen = []
    for tenant in ("blue", "blue", "green", "blue"):
        got = invoke_ok(lam, name, tenant=tenant)
        assert got["hasTenantId"] is True, got
        seen.append((got["tenantId"], got["memoryCounter"], got["diskCounter"]))
    assert seen == [("blue", 1, 1), ("blue", 2, 2), ("green", 1, 1), ("blue", 3, 3)]
    assert sorted(e["TenantId"] for e in environments_of(inv_endpoint, name)) == ["blue", "green"]


def test_node_without_tenancy_has_no_tenant_id(lam, runtimes):
    name = deploy(lam, "node_counter", runtime=NODE_RUNTIME)
    got = invoke_ok(lam, name)
    assert "tenantId" not in got and got["memoryCounter"] == 1, got


def test_node_handler_error_is_unhandled(lam, runtimes):
    code = make_zip({"index.mjs": "export const handler = async () => { throw new TypeError('node says no'); };\n"})
    name = deploy(lam, "node_counter", runtime=NODE_RUNTIME, tenant=True, zip_bytes=code)
    r = invoke(lam, name, tenant="blue")
    assert (r.status, r.function_error) == (200, "Unhandled"), r.raw
    assert (r.payload["errorType"], r.payload["errorMessage"]) == ("TypeError", "node says no")


def test_rust_lambda_runtime_context_tenant_id(lam, inv_endpoint, rust_bootstrap):
    code = support.executable_zip({"bootstrap": rust_bootstrap})
    name = deploy(lam, "rust", runtime=PROVIDED_RUNTIME, tenant=True, zip_bytes=code)
    seen = []
    for tenant in ("blue", "blue", "green"):
        got = invoke_ok(lam, name, {"hello": tenant}, tenant=tenant)
        assert got["event"] == {"hello": tenant}
        assert got["functionArn"] == support.arn(name)
        seen.append((got["tenantId"], got["count"]))
    assert seen == [("blue", 1), ("blue", 2), ("green", 1)]
    assert sorted(e["TenantId"] for e in environments_of(inv_endpoint, name)) == ["blue", "green"]


def test_rust_without_tenancy_has_no_tenant_id(lam, rust_bootstrap):
    name = deploy(lam, "rust", runtime=PROVIDED_RUNTIME, zip_bytes=support.executable_zip({"bootstrap": rust_bootstrap}))
    assert [(g["tenantId"], g["count"]) for g in (invoke_ok(lam, name) for _ in range(2))] == [(None, 1), (None, 2)]

"""Isolation under load: 200 tenants × 20 invocations in random order from 32 client threads,
on a fresh server. Every response must prove it ran in an environment of its own tenant, and
the environments the functions saw must be exactly the ones the router says it created."""

from __future__ import annotations

import collections
import json
import os
import random
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import support
from support import PROVIDED_RUNTIME, deploy, environments

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="execution environments need root")

TENANTS = 200
PER_TENANT = 20
THREADS = 32


@pytest.fixture
def fresh():
    """A server of this test's own, so the router's counts are this test's alone."""
    base = support.sandbox_tmpdir("bulkhead-e2e-scale-")
    srv = support.Server(base / "data", base / "logs").start()
    yield srv
    if srv.alive():
        srv.stop()


def test_200_tenants_x_20_invokes_never_share_an_environment(fresh):
    lam = support.lambda_client(fresh.endpoint)
    name = deploy(lam, "provided_isolation", runtime=PROVIDED_RUNTIME, tenant=True, Timeout=30)
    tenants = [f"tenant-{i:03d}/{random.choice('abcdef')}@x" for i in range(TENANTS)]
    work = [(t, n) for t in tenants for n in range(PER_TENANT)]
    random.Random(4).shuffle(work)
    local = threading.local()

    def one(item):
        tenant, n = item
        # One client per thread: boto3 clients are thread-safe, but each thread keeping its own
        # keeps their connection pools from being the bottleneck being measured.
        client = getattr(local, "client", None) or support.lambda_client(fresh.endpoint)
        local.client = client
        started = time.monotonic()
        r = client.invoke(FunctionName=name, TenantId=tenant, Payload=json.dumps({"tenant": tenant, "n": n}).encode())
        took = time.monotonic() - started
        body = r["Payload"].read()
        return tenant, n, r["StatusCode"], r.get("FunctionError"), body, took

    started = time.monotonic()
    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(one, work))
    wall = time.monotonic() - started

    failures = [(t, n, s, fe, b[:300]) for t, n, s, fe, b, _ in results if (s, fe) != (200, None)]
    assert not failures, f"{len(failures)} invocations failed, e.g. {failures[:5]}"

    env_tenant: dict[str, str] = {}
    env_counts: dict[str, list[int]] = collections.defaultdict(list)
    env_stream: dict[str, str] = {}
    per_tenant_envs: dict[str, set[str]] = collections.defaultdict(set)
    latencies = []
    for tenant, n, _, _, body, took in results:
        got = json.loads(body)
        latencies.append(took)
        assert got["event"] == {"tenant": tenant, "n": n}, got
        assert got["tenant"] == tenant, f"asked for {tenant!r}, the runtime was told {got['tenant']!r}"
        env = got["env_id_mem"]
        assert got["env_id_tmp"] == env, f"/tmp of {env} holds another environment's id: {got}"
        assert got["tmp_preexisting"] is False, f"environment {env} found /tmp already written: {got}"
        assert env_tenant.setdefault(env, tenant) == tenant, f"environment {env} served {env_tenant[env]!r} and {tenant!r}"
        assert env_stream.setdefault(env, got["log_stream"]) == got["log_stream"]
        env_counts[env].append(got["count"])
        per_tenant_envs[tenant].add(env)

    # Each environment ran one invocation at a time: its counts are exactly 1..k.
    for env, counts in env_counts.items():
        assert sorted(counts) == list(range(1, len(counts) + 1)), (env, sorted(counts))
    for tenant in tenants:
        served = sum(len(env_counts[e]) for e in per_tenant_envs[tenant])
        assert served == PER_TENANT, (tenant, served)
    assert len(set(env_stream.values())) == len(env_stream), "two environments shared a log stream name"

    listing = environments(fresh.endpoint)
    created = listing["Stats"]["EnvironmentsCreated"]
    assert created == len(env_counts), f"router created {created} environments, functions saw {len(env_counts)}"
    stream_env = {s: e for e, s in env_stream.items()}
    live = [e for e in listing["Environments"] if e["FunctionName"] == name]
    for e in live:
        env = stream_env.get(e["LogStreamName"])
        assert env is not None, f"router lists an environment no response came from: {e}"
        assert e["TenantId"] == env_tenant[env], (e, env_tenant[env])
        assert e["Invocations"] == len(env_counts[env]), (e, env_counts[env])
        assert e["State"] == "idle", e
    assert listing["Stats"]["Busy"] == 0

    latencies.sort()
    q = lambda p: latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1e3  # noqa: E731
    print(
        f"\n{TENANTS}x{PER_TENANT} invokes from {THREADS} threads: wall {wall:.1f}s, "
        f"{len(results) / wall:.0f}/s; environments created {created}, live {len(live)}, "
        f"max per tenant {max(len(v) for v in per_tenant_envs.values())}; "
        f"latency ms p50 {q(0.5):.1f} p90 {q(0.9):.1f} p99 {q(0.99):.1f} max {latencies[-1] * 1e3:.0f} "
        f"mean {statistics.mean(latencies) * 1e3:.1f}"
    )

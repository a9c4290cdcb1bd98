"""Isolation under load: 200 tenants × 20 invocations in random order from 32 client threads,
on a fresh server. Every response must prove it ran in an environment of its own tenant, and
the environments the functions saw must be exactly the ones the router says it created. A
smaller run under a tight memory budget checks the same while idle environments are evicted."""

from __future__ import annotations

import collections
import dataclasses
import json
import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import support
from support import PROVIDED_RUNTIME, deploy, environments

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="execution environments need root")


@pytest.fixture
def start_server():
    """Starts servers of this test's own, so the router's counts are this test's alone."""
    started: list[support.Server] = []

    def start(*args: str) -> support.Server:
        base = support.sandbox_tmpdir("bulkhead-e2e-scale-")
        srv = support.Server(base / "data", base / "logs", args=args).start()
        started.append(srv)
        return srv

    yield start
    for srv in started:
        support._stop_and_drop_data(srv)


@dataclasses.dataclass
class Run:
    wall: float
    invokes: int
    environments: int
    live: int
    max_per_tenant: int
    latencies_ms: list[float]

    def summary(self, label: str) -> str:
        lat = sorted(self.latencies_ms)
        q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))]  # noqa: E731
        return (
            f"\n{label}: wall {self.wall:.1f}s, {self.invokes / self.wall:.0f} invokes/s; environments created "
            f"{self.environments}, live at the end {self.live}, most for one tenant {self.max_per_tenant}; "
            f"latency ms p50 {q(0.5):.1f} p90 {q(0.9):.1f} p99 {q(0.99):.1f} max {lat[-1]:.0f}"
        )


def run_and_check(srv: support.Server, tenants: int, per_tenant: int, threads: int, seed: int) -> Run:
    """Invokes a PER_TENANT provided function `per_tenant` times for each of `tenants` tenants,
    in random order from `threads` threads, and checks every response and the router's view."""
    lam = support.lambda_client(srv.endpoint)
    name = deploy(lam, "provided_isolation", runtime=PROVIDED_RUNTIME, tenant=True, Timeout=30)
    rng = random.Random(seed)
    # Characters a path or cgroup name would need encoded, so encodings are exercised too.
    names = [f"tenant-{i:03d}/{rng.choice('abcdef')}@x y" for i in range(tenants)]
    work = [(t, n) for t in names for n in range(per_tenant)]
    rng.shuffle(work)
    local = threading.local()

    def one(item):
        tenant, n = item
        client = getattr(local, "client", None) or support.lambda_client(srv.endpoint)
        local.client = client
        started = time.monotonic()
        r = client.invoke(FunctionName=name, TenantId=tenant, Payload=json.dumps({"tenant": tenant, "n": n}).encode())
        body = r["Payload"].read()
        return tenant, n, r["StatusCode"], r.get("FunctionError"), body, (time.monotonic() - started) * 1e3

    started = time.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(one, work))
    wall = time.monotonic() - started

    failures = [(t, n, s, fe, b[:300]) for t, n, s, fe, b, _ in results if (s, fe) != (200, None)]
    assert not failures, f"{len(failures)} invocations failed, e.g. {failures[:5]}\n{srv.logs()}"

    env_tenant: dict[str, str] = {}
    env_counts: dict[str, list[int]] = collections.defaultdict(list)
    env_stream: dict[str, str] = {}
    per_tenant_envs: dict[str, set[str]] = collections.defaultdict(set)
    for tenant, n, _, _, body, _ in results:
        got = json.loads(body)
        assert got["event"] == {"tenant": tenant, "n": n}, got
        assert got["tenant"] == tenant, f"asked for {tenant!r}, the runtime was told {got['tenant']!r}"
        env = got["env_id_mem"]
        assert got["env_id_tmp"] == env, f"/tmp of {env} holds another environment's id: {got}"
        assert got["tmp_preexisting"] is False, f"environment {env} found /tmp already written: {got}"
        assert env_tenant.setdefault(env, tenant) == tenant, f"environment {env} served {env_tenant[env]!r} and {tenant!r}"
        assert env_stream.setdefault(env, got["log_stream"]) == got["log_stream"]
        env_counts[env].append(got["count"])
        per_tenant_envs[tenant].add(env)

    # An environment runs one invocation at a time and keeps its memory: its counts are 1..k.
    for env, counts in env_counts.items():
        assert sorted(counts) == list(range(1, len(counts) + 1)), (env, sorted(counts))
    for tenant in names:
        assert sum(len(env_counts[e]) for e in per_tenant_envs[tenant]) == per_tenant, tenant
    assert len(set(env_stream.values())) == len(env_stream), "two environments shared a log stream name"

    listing = environments(srv.endpoint)
    created = listing["Stats"]["EnvironmentsCreated"]
    assert created == len(env_counts), f"the router created {created} environments, the function saw {len(env_counts)}"
    stream_env = {s: e for e, s in env_stream.items()}
    # Spares (initialised, never used, no tenant) are not tenant environments.
    live = [e for e in listing["Environments"] if e["FunctionName"] == name and e["State"] != "spare"]
    assert all(e["TenantId"] is None and e["Invocations"] == 0 for e in listing["Environments"] if e["State"] == "spare")
    assert listing["Stats"]["EnvironmentsLive"] == len(live)
    for e in live:
        env = stream_env.get(e["LogStreamName"])
        assert env is not None, f"the router lists an environment no response came from: {e}"
        assert (e["TenantId"], e["Invocations"], e["State"]) == (env_tenant[env], len(env_counts[env]), "idle"), e
    assert listing["Stats"]["Busy"] == 0
    return Run(wall, len(results), created, len(live), max(len(v) for v in per_tenant_envs.values()), [r[5] for r in results])


def test_200_tenants_x_20_invokes_never_share_an_environment(start_server):
    # Room for every tenant's environment (200 × 128 MB reserved), so what is measured is
    # isolation and reuse rather than eviction (which has its own test below).
    srv = start_server("--memory-budget-mb", "65536")
    run = run_and_check(srv, tenants=200, per_tenant=20, threads=32, seed=4)
    print(run.summary("200 tenants x 20 invokes, 32 threads"))
    # Every tenant has an environment left, and most invocations were warm.
    assert run.live >= 200
    assert run.environments < 4000 // 2, run.environments


def test_isolation_holds_while_a_tight_memory_budget_evicts(start_server):
    # Ten 128 MB environments fit; forty tenants compete for them.
    srv = start_server("--memory-budget-mb", str(10 * 128), "--warm-pool", "0")
    run = run_and_check(srv, tenants=40, per_tenant=6, threads=8, seed=5)
    print(run.summary("40 tenants x 6 invokes, 8 threads, 10 environments of memory"))
    assert run.live <= 10, run.live
    assert run.environments > 40, "expected evictions to force new environments"


def bulkhead_cgroup_parents() -> set:
    """The host's `bulkhead-<tag>` cgroup parents: in the memory hierarchy on cgroup v1, in the
    unified one on v2."""
    from pathlib import Path

    v1 = Path("/sys/fs/cgroup/memory")
    root = v1 if (v1 / "cgroup.procs").exists() else Path("/sys/fs/cgroup")
    return set(root.glob("bulkhead-*"))


def test_a_stopped_server_leaves_no_environment_behind(start_server):
    """SIGTERM ends every environment (idle ones and the spare) and waits for them: no agent
    outlives the server, and no cgroup of it is left on the host."""
    before = bulkhead_cgroup_parents()
    srv = start_server("--spare-environments", "1")
    lam = support.lambda_client(srv.endpoint)
    name = deploy(lam, "provided_isolation", runtime=PROVIDED_RUNTIME, tenant=True, Timeout=30)
    for tenant in ("blue", "green"):
        support.invoke_ok(lam, name, {}, tenant=tenant)
    support.wait_until(
        lambda: environments(srv.endpoint)["Stats"].get("Spares", 0) >= 1, 30, "a spare to be ready"
    )
    ours = bulkhead_cgroup_parents() - before
    assert len(ours) == 1, f"expected one new cgroup parent, found {sorted(map(str, ours))}"
    parent = next(iter(ours))
    groups = [p for p in parent.iterdir() if p.is_dir()]
    pids = [int(line) for g in groups for line in (g / "cgroup.procs").read_text().split()]
    assert len(groups) >= 3 and pids, f"two tenants' environments and a spare: {groups}, {pids}"

    assert srv.stop() == 0, srv.logs()

    alive = [p for p in pids if os.path.exists(f"/proc/{p}")]
    assert not alive, f"processes of the stopped server's environments still run: {alive}"
    assert not parent.exists(), f"left behind: {sorted(str(p) for p in parent.rglob('env-*'))}"

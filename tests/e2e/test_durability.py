"""Races, clean restarts and crashes: what was acknowledged is kept, whole, and nothing else."""

from __future__ import annotations

import threading

from botocore.exceptions import ClientError

from support import (
    create_function,
    error_of,
    function_names,
    lambda_client,
    python_zip,
    sha256_b64,
    unique_name,
)


def test_sixteen_concurrent_creates_of_one_name_give_exactly_one_function(endpoint, lam):
    name = unique_name("race")
    clients = [lambda_client(endpoint) for _ in range(16)]
    codes = [python_zip(f"racer-{i}") for i in range(16)]
    barrier = threading.Barrier(16)
    outcomes: list[tuple[int, object]] = []
    lock = threading.Lock()

    def racer(i: int) -> None:
        barrier.wait(timeout=30)
        try:
            resp = create_function(clients[i], name, zip_bytes=codes[i])
            result: object = ("created", resp["ResponseMetadata"]["HTTPStatusCode"], resp["CodeSha256"])
        except ClientError as e:
            result = ("error",) + error_of(e)[:2]
        with lock:
            outcomes.append((i, result))

    threads = [threading.Thread(target=racer, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(outcomes) == 16, outcomes
    created = [(i, r) for i, r in outcomes if r[0] == "created"]
    conflicts = [r for _, r in outcomes if r == ("error", 409, "ResourceConflictException")]
    assert len(created) == 1, outcomes
    assert created[0][1][1] == 201
    assert len(conflicts) == 15, outcomes
    assert function_names(lam).count(name) == 1
    winner = created[0][0]
    assert lam.get_function_configuration(FunctionName=name)["CodeSha256"] == sha256_b64(codes[winner])


def _snapshot(lam, names):
    """Everything the API says about these functions, minus the code URL (it may be re-signed)."""
    snap = {}
    for name in names:
        versions = lam.list_versions_by_function(FunctionName=name)["Versions"]
        per_version = {}
        for v in versions:
            got = lam.get_function(FunctionName=name, Qualifier=v["Version"])
            got.pop("ResponseMetadata")
            got["Code"].pop("Location", None)
            per_version[v["Version"]] = got
        aliases = sorted(lam.list_aliases(FunctionName=name)["Aliases"], key=lambda a: a["Name"])
        conc = lam.get_function_concurrency(FunctionName=name)
        conc.pop("ResponseMetadata")
        snap[name] = {"versions": per_version, "aliases": aliases, "concurrency": conc}
    return snap


def test_everything_survives_a_clean_restart(server_factory):
    srv = server_factory()
    lam = lambda_client(srv.endpoint)
    create_function(lam, "keep-tenant", tenant=True, zip_bytes=python_zip("t1"), Environment={"Variables": {"KEY": "v"}})
    lam.publish_version(FunctionName="keep-tenant")
    lam.update_function_code(FunctionName="keep-tenant", ZipFile=python_zip("t2"))
    lam.publish_version(FunctionName="keep-tenant")
    lam.create_alias(FunctionName="keep-tenant", Name="live", FunctionVersion="1")
    lam.create_alias(
        FunctionName="keep-tenant",
        Name="canary",
        FunctionVersion="1",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.1}},
    )
    lam.put_function_concurrency(FunctionName="keep-tenant", ReservedConcurrentExecutions=11)
    create_function(lam, "keep-shared", zip_bytes=python_zip("s1"), MemorySize=512, Timeout=30)
    lam.update_function_configuration(FunctionName="keep-shared", Description="after update")
    names = ["keep-shared", "keep-tenant"]
    before = _snapshot(lam, names)
    settings_before = lam.get_account_settings()
    settings_before.pop("ResponseMetadata")

    assert srv.stop() == 0, f"SIGTERM should end the server cleanly\n{srv.logs()}"
    again = server_factory(srv.data_dir)
    lam2 = lambda_client(again.endpoint)

    assert sorted(function_names(lam2)) == names
    assert _snapshot(lam2, names) == before
    settings_after = lam2.get_account_settings()
    settings_after.pop("ResponseMetadata")
    assert settings_after == settings_before
    # Numbering carries on where it stopped, and the restarted server takes writes.
    lam2.update_function_code(FunctionName="keep-tenant", ZipFile=python_zip("t3"))
    assert lam2.publish_version(FunctionName="keep-tenant")["Version"] == "3"
    create_function(lam2, "after-restart")


def test_deleted_things_stay_deleted_after_restart(server_factory):
    srv = server_factory()
    lam = lambda_client(srv.endpoint)
    create_function(lam, "doomed")
    create_function(lam, "partly", zip_bytes=python_zip("p1"))
    lam.publish_version(FunctionName="partly")
    lam.update_function_code(FunctionName="partly", ZipFile=python_zip("p2"))
    lam.publish_version(FunctionName="partly")
    lam.delete_function(FunctionName="partly", Qualifier="1")
    lam.delete_function(FunctionName="doomed")
    assert srv.stop() == 0
    lam2 = lambda_client(server_factory(srv.data_dir).endpoint)
    assert function_names(lam2) == ["partly"]
    assert [v["Version"] for v in lam2.list_versions_by_function(FunctionName="partly")["Versions"]] == ["$LATEST", "2"]


def test_sigkill_during_a_burst_of_creates_keeps_every_acknowledged_function(server_factory):
    srv = server_factory()
    endpoint = srv.endpoint
    workers = 6
    acked: dict[str, str] = {}  # name -> CodeSha256 the client sent, for 201s only
    attempted: dict[str, str] = {}
    lock = threading.Lock()
    enough = threading.Event()
    stop = threading.Event()

    def worker(w: int) -> None:
        client = lambda_client(endpoint)
        n = 0
        while not stop.is_set() and n < 500:
            name = f"crash-{w}-{n}"
            code = python_zip(name * 20)
            with lock:
                attempted[name] = sha256_b64(code)
            try:
                resp = create_function(client, name, zip_bytes=code, tenant=(n % 2 == 0))
            except Exception:  # ClientError, or botocore's connection errors once the server is gone
                return
            if resp["ResponseMetadata"]["HTTPStatusCode"] == 201:
                with lock:
                    acked[name] = resp["CodeSha256"]
                    if len(acked) >= 40:
                        enough.set()
            n += 1

    threads = [threading.Thread(target=worker, args=(w,), daemon=True) for w in range(workers)]
    for t in threads:
        t.start()
    assert enough.wait(120), f"only {len(acked)} creates acknowledged\n{srv.logs()}"
    srv.kill()  # SIGKILL while the workers are still sending
    stop.set()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads)

    restarted = server_factory(srv.data_dir)
    lam = lambda_client(restarted.endpoint)
    listed = function_names(lam)
    assert len(listed) == len(set(listed)), "a function is listed twice"
    missing = sorted(set(acked) - set(listed))
    assert not missing, f"acknowledged but lost: {missing}"
    strangers = sorted(set(listed) - set(attempted))
    assert not strangers, f"never requested: {strangers}"
    for name in listed:
        got = lam.get_function(FunctionName=name)
        conf = got["Configuration"]
        assert conf["CodeSha256"] == attempted[name], name
        assert conf["State"] == "Active" and conf["LastUpdateStatus"] == "Successful", conf
        assert conf["CodeSize"] > 0 and got["Code"]["Location"], got
        n = int(name.rsplit("-", 1)[1])
        assert ("TenancyConfig" in conf) == (n % 2 == 0), conf
        assert [v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"]] == ["$LATEST"]
    # Requests that died with the server left nothing half-made that blocks the name.
    for name in sorted(set(attempted) - set(listed)):
        assert create_function(lam, name)["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert lam.get_account_settings()["AccountUsage"]["FunctionCount"] == len(attempted)


def test_server_stops_on_sigterm_promptly_while_idle(server_factory):
    srv = server_factory()
    assert srv.stop(timeout=10) == 0
    assert not srv.alive()

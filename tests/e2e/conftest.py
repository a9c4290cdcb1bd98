"""Fixtures: a shared `bulkhead serve`, fresh servers on demand, boto3, the AWS CLI, the binary's CLI."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

import support

# Nothing of the host's AWS setup (profiles, endpoints, tokens, keys) may reach boto3, the AWS
# CLI or the server: drop it before any client or child process is made.
for _var in list(os.environ):
    if _var.startswith(("AWS_", "BULKHEAD_")) and _var != "BULKHEAD_BIN":
        del os.environ[_var]
_AWS_HOME = Path(tempfile.mkdtemp(prefix="bulkhead-e2e-home-"))
os.environ["AWS_CONFIG_FILE"] = str(_AWS_HOME / "aws-config")
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = str(_AWS_HOME / "aws-credentials")
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"


def pytest_report_header(config):
    return f"bulkhead binary: {support.BIN}; aws cli: {' '.join(support.aws_cli_command())}"


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """One server for every test that only needs *a* server; tests use unique function names."""
    base = tmp_path_factory.mktemp("shared-server")
    srv = support.Server(base / "data", base / "logs").start()
    yield srv
    if srv.alive():
        srv.stop()


@pytest.fixture(scope="session")
def endpoint(server) -> str:
    assert server.endpoint
    return server.endpoint


@pytest.fixture(scope="session")
def lam(endpoint):
    return support.lambda_client(endpoint)


@pytest.fixture
def server_factory(tmp_path):
    """Starts fresh servers (own data dir unless given) and stops any still running at the end,
    with SIGTERM, so that each leaves nothing on the host (a server that ignores it fails the
    test)."""
    started: list[support.Server] = []

    def make(data_dir: Path | None = None, *, start: bool = True, **kw) -> support.Server:
        n = len(started)
        srv = support.Server(data_dir or tmp_path / f"data-{n}", tmp_path / f"logs-{n}", **kw)
        started.append(srv)
        return srv.start() if start else srv

    yield make
    for srv in started:
        if srv.alive():
            srv.stop()


@pytest.fixture
def fresh(server_factory):
    """A server of this test's own, for exact counts (listing, account usage)."""
    return server_factory()


@pytest.fixture(scope="session")
def cli_home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cli-home")


@pytest.fixture(scope="session")
def aws(endpoint, cli_home):
    """Runs `aws --endpoint-url <server> lambda ...` (AWS CLI v1) with the local key pair."""

    def run(*args: str, endpoint_url: str | None = None, env: dict[str, str] | None = None) -> support.CliResult:
        cmd = [*support.aws_cli_command(), "--endpoint-url", endpoint_url or endpoint, "--output", "json", "lambda", *args]
        return support.run(cmd, support.cli_env(cli_home, **(env or {})))

    return run


@pytest.fixture(scope="session")
def bulkhead_cli(endpoint, cli_home):
    """Runs the binary's own CLI (`bulkhead function ...`) against the shared server."""

    def run(*args: str, endpoint_url: str | None = None, env: dict[str, str] | None = None) -> support.CliResult:
        cmd = [str(support.BIN), *args]
        extra = {"BULKHEAD_ENDPOINT": endpoint_url or endpoint, **(env or {})}
        return support.run(cmd, support.cli_env(cli_home, **extra), timeout=60)

    return run

"""The binary's own CLI (`bulkhead function ...`) against a running server."""

from __future__ import annotations

import json

import pytest

from support import (
    create_function,
    expect_client_error,
    function_names_in,
    lambda_client,
    make_zip,
    python_zip,
    sha256_b64,
    unique_name,
)


@pytest.fixture
def code_dir(tmp_path):
    d = tmp_path / "hello"
    (d / "lib").mkdir(parents=True)
    (d / "app.py").write_text("def handler(event, context):\n    return {'tenant': context.tenant_id}\n")
    (d / "lib" / "helper.py").write_text("VALUE = 42\n")
    return d


def one_line_error(r) -> str:
    """A failed command: non-zero exit, and a single readable line on stderr (no backtrace)."""
    assert r.returncode != 0, f"expected failure\nstdout: {r.stdout}\nstderr: {r.stderr}"
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"stderr should be one line:\n{r.stderr}"
    assert "panicked" not in r.stderr and "RUST_BACKTRACE" not in r.stderr
    return lines[0]


def test_cli_create_from_a_directory_with_tenant_isolation(bulkhead_cli, lam, code_dir):
    name = unique_name("clidir")
    r = bulkhead_cli(
        "function", "create", name,
        "--runtime", "python3.12",
        "--handler", "app.handler",
        "--code", str(code_dir),
        "--tenant-isolation",
        "--memory", "256",
        "--timeout", "10",
        "--env", "GREETING=hi",
        "--env", "EQ=a=b",
    ).check()  # fmt: skip
    assert name in r.stdout
    conf = lam.get_function_configuration(FunctionName=name)
    assert conf["TenancyConfig"] == {"TenantIsolationMode": "PER_TENANT"}
    assert (conf["Runtime"], conf["Handler"], conf["MemorySize"], conf["Timeout"]) == (
        "python3.12",
        "app.handler",
        256,
        10,
    )
    assert conf["Environment"]["Variables"] == {"GREETING": "hi", "EQ": "a=b"}
    assert conf["CodeSize"] > 0


def test_cli_create_from_a_zip_file_uploads_it_unchanged(bulkhead_cli, lam, tmp_path):
    name = unique_name("clizip")
    code = python_zip("cli-zip")
    path = tmp_path / "fn.zip"
    path.write_bytes(code)
    r = bulkhead_cli(
        "function", "create", name, "--runtime", "python3.12", "--handler", "app.handler",
        "--code", str(path), "--tenant-isolation", "--output", "json",
    ).check()  # fmt: skip
    assert name in function_names_in(r.json)
    conf = lam.get_function_configuration(FunctionName=name)
    assert conf["CodeSha256"] == sha256_b64(code)
    assert conf["TenancyConfig"] == {"TenantIsolationMode": "PER_TENANT"}


def test_cli_create_without_tenant_isolation_is_shared(bulkhead_cli, lam, code_dir):
    name = unique_name("clishared")
    bulkhead_cli(
        "function", "create", name, "--runtime", "python3.12", "--handler", "app.handler", "--code", str(code_dir)
    ).check()
    conf = lam.get_function_configuration(FunctionName=name)
    assert "TenancyConfig" not in conf
    assert (conf["MemorySize"], conf["Timeout"]) == (128, 3)


def test_cli_list_table_and_json(bulkhead_cli, lam):
    name = create_function(lam, tenant=True)["FunctionName"]
    table = bulkhead_cli("function", "list").check()
    assert name in table.stdout
    as_json = bulkhead_cli("function", "list", "--output", "json").check()
    assert name in function_names_in(as_json.json)


def test_cli_get_table_and_json(bulkhead_cli, lam):
    created = create_function(lam, tenant=True)
    name = created["FunctionName"]
    table = bulkhead_cli("function", "get", name).check()
    assert name in table.stdout
    assert "PER_TENANT" in table.stdout
    doc = bulkhead_cli("function", "get", name, "--output", "json").check().json
    assert name in function_names_in(doc)
    assert created["CodeSha256"] in json.dumps(doc)
    assert "PER_TENANT" in json.dumps(doc)


def test_cli_update_memory_and_code(bulkhead_cli, lam, tmp_path):
    created = create_function(lam)
    name = created["FunctionName"]
    bulkhead_cli("function", "update", name, "--memory", "256").check()
    conf = lam.get_function_configuration(FunctionName=name)
    assert conf["MemorySize"] == 256
    assert conf["CodeSha256"] == created["CodeSha256"]
    code = python_zip("cli-update")
    (tmp_path / "new.zip").write_bytes(code)
    bulkhead_cli("function", "update", name, "--code", str(tmp_path / "new.zip")).check()
    conf = lam.get_function_configuration(FunctionName=name)
    assert (conf["CodeSha256"], conf["MemorySize"]) == (sha256_b64(code), 256)


def test_cli_delete(bulkhead_cli, lam):
    name = create_function(lam)["FunctionName"]
    bulkhead_cli("function", "delete", name).check()
    expect_client_error(lambda: lam.get_function(FunctionName=name), 404, "ResourceNotFoundException")


def test_cli_get_missing_function_is_a_one_line_error(bulkhead_cli):
    name = unique_name("clinone")
    line = one_line_error(bulkhead_cli("function", "get", name))
    assert "not found" in line.lower()


def test_cli_create_with_missing_code_path_is_a_one_line_error(bulkhead_cli, lam, tmp_path):
    name = unique_name("clinocode")
    line = one_line_error(
        bulkhead_cli(
            "function", "create", name, "--runtime", "python3.12", "--handler", "app.handler",
            "--code", str(tmp_path / "does-not-exist"),
        )
    )  # fmt: skip
    assert "does-not-exist" in line
    expect_client_error(lambda: lam.get_function(FunctionName=name), 404, "ResourceNotFoundException")


def test_cli_server_side_validation_error_is_a_one_line_error(bulkhead_cli, lam, code_dir):
    name = unique_name("clibadmem")
    line = one_line_error(
        bulkhead_cli(
            "function", "create", name, "--runtime", "python3.12", "--handler", "app.handler",
            "--code", str(code_dir), "--memory", "99999",
        )
    )  # fmt: skip
    assert "memory" in line.lower()
    expect_client_error(lambda: lam.get_function(FunctionName=name), 404, "ResourceNotFoundException")


def test_cli_bad_zip_is_a_one_line_error(bulkhead_cli, lam, tmp_path):
    name = unique_name("clibadzip")
    bad = tmp_path / "evil.zip"
    bad.write_bytes(make_zip({"../escape.py": "x = 1"}))
    one_line_error(
        bulkhead_cli(
            "function", "create", name, "--runtime", "python3.12", "--handler", "app.handler", "--code", str(bad)
        )
    )
    expect_client_error(lambda: lam.get_function(FunctionName=name), 404, "ResourceNotFoundException")


def test_cli_with_no_server_is_a_one_line_error(bulkhead_cli, server_factory):
    srv = server_factory()
    dead = srv.endpoint
    srv.stop()
    line = one_line_error(bulkhead_cli("function", "list", endpoint_url=dead))
    assert dead.split("//")[1] in line or "connect" in line.lower()


def test_cli_wrong_credentials_is_a_one_line_error(bulkhead_cli):
    line = one_line_error(bulkhead_cli("function", "list", env={"AWS_SECRET_ACCESS_KEY": "wrong"}))
    assert "signature" in line.lower()


def test_cli_endpoint_flag_overrides_the_environment(bulkhead_cli, server_factory):
    srv = server_factory()
    other = lambda_client(srv.endpoint)
    create_function(other, "only-on-the-other-server")
    r = bulkhead_cli("function", "list", "--output", "json", "--endpoint", srv.endpoint).check()
    assert function_names_in(r.json) == {"only-on-the-other-server"}

"""CreateFunction, GetFunction(Configuration), ListFunctions, UpdateFunction*, DeleteFunction
as boto3 and the AWS CLI v1 see them."""

from __future__ import annotations

import hashlib
import io
import re
import urllib.request
import zipfile

import pytest

from support import (
    ARN_PREFIX,
    LAST_MODIFIED,
    ROLE,
    arn,
    create_function,
    expect_client_error,
    function_names,
    lambda_client,
    make_zip,
    python_zip,
    sha256_b64,
    unique_name,
)

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def test_create_function_returns_201_and_a_complete_configuration(lam):
    name = unique_name("create")
    code = python_zip("complete")
    resp = lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": code},
        Environment={"Variables": {"GREETING": "hello", "EMPTY": ""}},
        Description="made by the e2e suite",
    )
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert resp["ResponseMetadata"]["RequestId"], "x-amzn-RequestId header missing"
    assert resp["FunctionName"] == name
    assert resp["FunctionArn"] == arn(name)
    assert resp["Runtime"] == "python3.12"
    assert resp["Role"] == ROLE
    assert resp["Handler"] == "app.handler"
    assert resp["CodeSize"] == len(code)
    assert resp["CodeSha256"] == sha256_b64(code)
    assert resp["Description"] == "made by the e2e suite"
    assert resp["Timeout"] == 3
    assert resp["MemorySize"] == 128
    assert resp["EphemeralStorage"] == {"Size": 512}
    assert resp["Environment"]["Variables"] == {"GREETING": "hello", "EMPTY": ""}
    assert resp["Version"] == "$LATEST"
    assert resp["State"] == "Active"
    # AWS leaves LastUpdateStatus out of the CreateFunction answer; if present it must be final.
    assert resp.get("LastUpdateStatus", "Successful") == "Successful"
    assert UUID_RE.match(resp["RevisionId"]), resp["RevisionId"]
    assert LAST_MODIFIED.match(resp["LastModified"]), resp["LastModified"]
    assert resp["PackageType"] == "Zip"
    assert resp["Architectures"] == ["x86_64"]
    assert "TenancyConfig" not in resp


def test_create_function_with_tenancy_config_echoes_it(lam):
    resp = create_function(lam, unique_name("tenant"), tenant=True)
    assert resp["TenancyConfig"] == {"TenantIsolationMode": "PER_TENANT"}
    conf = lam.get_function_configuration(FunctionName=resp["FunctionName"])
    assert conf["TenancyConfig"] == {"TenantIsolationMode": "PER_TENANT"}


def test_create_function_keeps_explicit_settings(lam):
    resp = create_function(lam, MemorySize=1024, Timeout=900, EphemeralStorage={"Size": 10240})
    conf = lam.get_function_configuration(FunctionName=resp["FunctionName"])
    for doc in (resp, conf):
        assert doc["MemorySize"] == 1024
        assert doc["Timeout"] == 900
        assert doc["EphemeralStorage"] == {"Size": 10240}
        assert doc["Architectures"] == ["x86_64"]


def test_create_function_accepts_the_arm64_architecture(lam):
    """AWS accepts either architecture on any account; the function records it."""
    resp = create_function(lam, Architectures=["arm64"])
    assert resp["Architectures"] == ["arm64"]
    assert lam.get_function_configuration(FunctionName=resp["FunctionName"])["Architectures"] == ["arm64"]


def test_create_function_twice_is_a_conflict(lam):
    name = create_function(lam)["FunctionName"]
    expect_client_error(lambda: create_function(lam, name), 409, "ResourceConflictException", name)


def test_get_function_returns_configuration_and_code_location(lam):
    code = python_zip("get")
    name = create_function(lam, zip_bytes=code)["FunctionName"]
    resp = lam.get_function(FunctionName=name)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    conf = resp["Configuration"]
    assert conf["FunctionName"] == name
    assert conf["FunctionArn"] == arn(name)
    assert conf["CodeSha256"] == sha256_b64(code)
    assert conf["LastUpdateStatus"] == "Successful"
    assert conf["State"] == "Active"
    assert resp["Code"]["RepositoryType"] == "S3"
    assert resp["Code"]["Location"].startswith(("http://", "https://"))
    # Concurrency appears only once reserved concurrency is set.
    assert "Concurrency" not in resp


def test_get_function_code_location_downloads_the_zip(lam):
    """AWS's Location is a pre-signed URL: a plain GET, no credentials, returns the package."""
    code = python_zip("download")
    name = create_function(lam, zip_bytes=code)["FunctionName"]
    location = lam.get_function(FunctionName=name)["Code"]["Location"]
    with urllib.request.urlopen(location, timeout=30) as r:
        assert r.status == 200
        body = r.read()
    assert hashlib.sha256(body).digest() == hashlib.sha256(code).digest()


def test_get_function_accepts_the_full_arn(lam):
    name = create_function(lam)["FunctionName"]
    assert lam.get_function(FunctionName=arn(name))["Configuration"]["FunctionName"] == name
    conf = lam.get_function_configuration(FunctionName=arn(name))
    assert conf["FunctionArn"] == arn(name)


def test_get_missing_function_is_404_with_the_aws_message(lam):
    name = unique_name("missing")
    _, _, msg = expect_client_error(lambda: lam.get_function(FunctionName=name), 404, "ResourceNotFoundException")
    assert msg == f"Function not found: {arn(name)}"
    expect_client_error(
        lambda: lam.get_function_configuration(FunctionName=name), 404, "ResourceNotFoundException", arn(name)
    )


def test_get_function_configuration_with_qualifier(lam):
    code = python_zip("q1")
    name = create_function(lam, zip_bytes=code)["FunctionName"]
    v1 = lam.publish_version(FunctionName=name)
    assert v1["Version"] == "1"
    conf = lam.get_function_configuration(FunctionName=name, Qualifier="1")
    assert conf["Version"] == "1"
    assert conf["FunctionArn"] == arn(name, "1")
    assert conf["CodeSha256"] == sha256_b64(code)
    latest = lam.get_function_configuration(FunctionName=name, Qualifier="$LATEST")
    assert latest["Version"] == "$LATEST"
    expect_client_error(
        lambda: lam.get_function_configuration(FunctionName=name, Qualifier="7"),
        404,
        "ResourceNotFoundException",
        arn(name, "7"),
    )


def test_list_functions_contains_created_function_unqualified(lam):
    name = create_function(lam, tenant=True)["FunctionName"]
    found = [f for f in _all_functions(lam) if f["FunctionName"] == name]
    assert len(found) == 1
    assert found[0]["FunctionArn"] == arn(name)
    assert found[0]["Version"] == "$LATEST"
    assert found[0]["TenancyConfig"] == {"TenantIsolationMode": "PER_TENANT"}


def test_list_functions_pages_with_max_items_and_next_marker(fresh):
    lam = lambda_client(fresh.endpoint)
    names = sorted(create_function(lam, f"page-{i:02d}")["FunctionName"] for i in range(7))
    pages = []
    marker = None
    while True:
        kw = {"MaxItems": 3, **({"Marker": marker} if marker else {})}
        page = lam.list_functions(**kw)
        pages.append([f["FunctionName"] for f in page["Functions"]])
        marker = page.get("NextMarker")
        if not marker:
            break
        assert len(pages) < 10, "NextMarker never ends"
    assert [len(p) for p in pages] == [3, 3, 1]
    assert sorted(n for p in pages for n in p) == names


def test_list_functions_default_page_is_at_most_50(fresh):
    lam = lambda_client(fresh.endpoint)
    code = python_zip("fifty")
    for i in range(52):
        create_function(lam, f"many-{i:02d}", zip_bytes=code)
    first = lam.list_functions()
    assert 0 < len(first["Functions"]) <= 50
    assert first.get("NextMarker")
    assert len(function_names(lam)) == 52


def test_list_functions_boto3_paginator_walks_every_page(fresh):
    lam = lambda_client(fresh.endpoint)
    names = {create_function(lam, f"pager-{i}")["FunctionName"] for i in range(5)}
    pages = list(lam.get_paginator("list_functions").paginate(PaginationConfig={"PageSize": 2}))
    assert len(pages) == 3
    seen = [f["FunctionName"] for p in pages for f in p["Functions"]]
    assert sorted(seen) == sorted(names)


def test_list_functions_version_all_includes_published_versions(fresh):
    lam = lambda_client(fresh.endpoint)
    name = create_function(lam, "versioned")["FunctionName"]
    lam.publish_version(FunctionName=name)
    create_function(lam, "unversioned")
    plain = lam.list_functions()["Functions"]
    assert sorted((f["FunctionName"], f["Version"]) for f in plain) == [
        ("unversioned", "$LATEST"),
        ("versioned", "$LATEST"),
    ]
    everything = lam.list_functions(FunctionVersion="ALL")["Functions"]
    assert sorted((f["FunctionName"], f["Version"], f["FunctionArn"]) for f in everything) == sorted(
        [
            ("unversioned", "$LATEST", arn("unversioned", "$LATEST")),
            ("versioned", "$LATEST", arn("versioned", "$LATEST")),
            ("versioned", "1", arn("versioned", "1")),
        ]
    )


def test_update_function_code_changes_hash_and_revision(lam):
    first = create_function(lam, zip_bytes=python_zip("before"))
    name = first["FunctionName"]
    new_code = python_zip("after")
    resp = lam.update_function_code(FunctionName=name, ZipFile=new_code)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert resp["CodeSha256"] == sha256_b64(new_code)
    assert resp["CodeSize"] == len(new_code)
    assert resp["RevisionId"] != first["RevisionId"]
    assert resp["Version"] == "$LATEST"
    conf = lam.get_function_configuration(FunctionName=name)
    assert conf["CodeSha256"] == sha256_b64(new_code)
    assert conf["LastUpdateStatus"] == "Successful"
    assert conf["RevisionId"] == resp["RevisionId"]


def test_update_function_code_with_publish_returns_the_new_version(lam):
    name = create_function(lam, zip_bytes=python_zip("p0"))["FunctionName"]
    code = python_zip("p1")
    resp = lam.update_function_code(FunctionName=name, ZipFile=code, Publish=True)
    assert resp["Version"] == "1"
    assert resp["FunctionArn"] == arn(name, "1")
    assert resp["CodeSha256"] == sha256_b64(code)
    assert lam.get_function_configuration(FunctionName=name, Qualifier="1")["CodeSha256"] == sha256_b64(code)


def test_update_function_configuration_changes_only_what_is_given(lam):
    created = create_function(lam, Environment={"Variables": {"FIRST": "1"}})
    name = created["FunctionName"]
    resp = lam.update_function_configuration(
        FunctionName=name,
        MemorySize=512,
        Timeout=30,
        Environment={"Variables": {"SECOND": "2"}},
        Description="updated",
    )
    assert resp["MemorySize"] == 512
    assert resp["Timeout"] == 30
    assert resp["Environment"]["Variables"] == {"SECOND": "2"}
    assert resp["Description"] == "updated"
    assert resp["CodeSha256"] == created["CodeSha256"]
    assert resp["Handler"] == "app.handler"
    assert resp["RevisionId"] != created["RevisionId"]
    conf = lam.get_function_configuration(FunctionName=name)
    assert (conf["MemorySize"], conf["Timeout"], conf["Description"]) == (512, 30, "updated")
    assert conf["Environment"]["Variables"] == {"SECOND": "2"}
    assert conf["LastUpdateStatus"] == "Successful"


def test_update_function_configuration_with_stale_revision_is_412(lam):
    created = create_function(lam)
    name = created["FunctionName"]
    lam.update_function_configuration(FunctionName=name, MemorySize=256)
    expect_client_error(
        lambda: lam.update_function_configuration(FunctionName=name, MemorySize=384, RevisionId=created["RevisionId"]),
        412,
        "PreconditionFailedException",
        "revision",
    )
    assert lam.get_function_configuration(FunctionName=name)["MemorySize"] == 256
    current = lam.get_function_configuration(FunctionName=name)["RevisionId"]
    ok = lam.update_function_configuration(FunctionName=name, MemorySize=384, RevisionId=current)
    assert ok["MemorySize"] == 384


def test_update_function_code_with_stale_revision_is_412(lam):
    created = create_function(lam)
    name = created["FunctionName"]
    lam.update_function_configuration(FunctionName=name, Timeout=10)
    expect_client_error(
        lambda: lam.update_function_code(FunctionName=name, ZipFile=python_zip("x"), RevisionId=created["RevisionId"]),
        412,
        "PreconditionFailedException",
    )
    assert lam.get_function_configuration(FunctionName=name)["CodeSha256"] == created["CodeSha256"]


def test_update_missing_function_is_404(lam):
    name = unique_name("nofn")
    expect_client_error(
        lambda: lam.update_function_configuration(FunctionName=name, MemorySize=256),
        404,
        "ResourceNotFoundException",
        arn(name),
    )
    expect_client_error(
        lambda: lam.update_function_code(FunctionName=name, ZipFile=python_zip()), 404, "ResourceNotFoundException"
    )


def test_delete_function_then_it_is_gone(lam):
    name = create_function(lam)["FunctionName"]
    resp = lam.delete_function(FunctionName=name)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] in (200, 204)
    _, _, msg = expect_client_error(lambda: lam.get_function(FunctionName=name), 404, "ResourceNotFoundException")
    assert msg == f"Function not found: arn:aws:lambda:us-east-1:000000000000:function:{name}"
    assert name not in function_names(lam)
    expect_client_error(lambda: lam.delete_function(FunctionName=name), 404, "ResourceNotFoundException", arn(name))


def test_delete_function_removes_versions_and_aliases_and_the_name_can_be_reused(lam):
    name = create_function(lam)["FunctionName"]
    lam.publish_version(FunctionName=name)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    lam.delete_function(FunctionName=name)
    expect_client_error(
        lambda: lam.get_function_configuration(FunctionName=name, Qualifier="1"), 404, "ResourceNotFoundException"
    )
    create_function(lam, name)
    assert [v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"]] == ["$LATEST"]
    assert lam.list_aliases(FunctionName=name)["Aliases"] == []
    assert lam.publish_version(FunctionName=name)["Version"] == "1"


def test_delete_a_version_by_qualifier_keeps_the_function(lam):
    name = create_function(lam, zip_bytes=python_zip("d1"))["FunctionName"]
    lam.publish_version(FunctionName=name)
    lam.update_function_code(FunctionName=name, ZipFile=python_zip("d2"))
    lam.publish_version(FunctionName=name)
    lam.delete_function(FunctionName=name, Qualifier="1")
    versions = [v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"]]
    assert versions == ["$LATEST", "2"]
    expect_client_error(
        lambda: lam.get_function_configuration(FunctionName=name, Qualifier="1"),
        404,
        "ResourceNotFoundException",
        arn(name, "1"),
    )
    assert lam.get_function(FunctionName=name)["Configuration"]["Version"] == "$LATEST"
    # Version numbers are never reused.
    lam.update_function_code(FunctionName=name, ZipFile=python_zip("d3"))
    assert lam.publish_version(FunctionName=name)["Version"] == "3"


def test_delete_latest_by_qualifier_is_refused(lam):
    name = create_function(lam)["FunctionName"]
    expect_client_error(
        lambda: lam.delete_function(FunctionName=name, Qualifier="$LATEST"),
        400,
        "InvalidParameterValueException",
        "$LATEST version cannot be deleted without deleting the function",
    )
    assert lam.get_function(FunctionName=name)["Configuration"]["FunctionName"] == name


def test_delete_a_version_an_alias_points_to_is_a_conflict(lam):
    name = create_function(lam)["FunctionName"]
    lam.publish_version(FunctionName=name)
    lam.create_alias(FunctionName=name, Name="prod", FunctionVersion="1")
    expect_client_error(
        lambda: lam.delete_function(FunctionName=name, Qualifier="1"), 409, "ResourceConflictException", "prod"
    )
    assert lam.get_function_configuration(FunctionName=name, Qualifier="1")["Version"] == "1"


# --- the AWS CLI v1 -------------------------------------------------------------------------


def test_aws_cli_create_function_with_tenancy_config(aws, lam, tmp_path):
    name = unique_name("cli")
    code = python_zip("cli")
    (tmp_path / "fn.zip").write_bytes(code)
    created = aws(
        "create-function",
        "--function-name", name,
        "--runtime", "python3.12",
        "--role", ROLE,
        "--handler", "app.handler",
        "--zip-file", f"fileb://{tmp_path / 'fn.zip'}",
        "--tenancy-config", '{"TenantIsolationMode":"PER_TENANT"}',
    ).check().json  # fmt: skip
    assert created["FunctionName"] == name
    assert created["TenancyConfig"] == {"TenantIsolationMode": "PER_TENANT"}
    assert created["CodeSha256"] == sha256_b64(code)
    conf = aws("get-function-configuration", "--function-name", name).check().json
    assert conf["TenancyConfig"] == {"TenantIsolationMode": "PER_TENANT"}
    assert conf["FunctionArn"] == arn(name)
    got = aws("get-function", "--function-name", name).check().json
    assert got["Configuration"]["CodeSha256"] == sha256_b64(code)
    listed = aws("list-functions").check().json
    assert name in [f["FunctionName"] for f in listed["Functions"]]
    assert lam.get_function_configuration(FunctionName=name)["TenancyConfig"]["TenantIsolationMode"] == "PER_TENANT"


def test_aws_cli_update_and_delete(aws, lam):
    name = create_function(lam)["FunctionName"]
    upd = aws("update-function-configuration", "--function-name", name, "--memory-size", "256", "--timeout", "9")
    assert (upd.check().json["MemorySize"], upd.json["Timeout"]) == (256, 9)
    aws("delete-function", "--function-name", name).check()
    gone = aws("get-function", "--function-name", name)
    assert gone.returncode != 0
    assert "ResourceNotFoundException" in gone.stderr
    assert f"Function not found: {arn(name)}" in gone.stderr


def test_aws_cli_list_functions_paginates_through_everything(aws, fresh):
    lam = lambda_client(fresh.endpoint)
    names = {create_function(lam, f"clipage-{i}")["FunctionName"] for i in range(5)}
    out = aws("list-functions", "--page-size", "2", endpoint_url=fresh.endpoint).check().json
    assert sorted(f["FunctionName"] for f in out["Functions"]) == sorted(names)


def _all_functions(lam):
    out = []
    for page in lam.get_paginator("list_functions").paginate():
        out += page["Functions"]
    return out


def test_function_arn_prefix_is_the_configured_region_and_account(lam):
    name = create_function(lam)["FunctionName"]
    assert lam.get_function_configuration(FunctionName=name)["FunctionArn"].startswith(ARN_PREFIX)


def test_code_package_is_stored_byte_for_byte(lam):
    """CodeSize/CodeSha256 describe the zip as uploaded, not a re-packed copy."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("app.py", "def handler(e, c):\n    return 1\n")
        zf.writestr("pkg/__init__.py", "")
        zf.writestr("pkg/data.txt", "x" * 1000)
    code = buf.getvalue()
    conf = create_function(lam, zip_bytes=code)
    assert (conf["CodeSize"], conf["CodeSha256"]) == (len(code), sha256_b64(code))


@pytest.mark.parametrize("runtime,handler", [("nodejs20.x", "index.handler"), ("provided.al2023", "bootstrap")])
def test_create_function_for_other_supported_runtimes(lam, runtime, handler):
    files = {"index.mjs": "export const handler = async () => 1;\n"} if runtime.startswith("node") else {}
    if runtime.startswith("provided"):
        files = {"bootstrap": "#!/bin/sh\nexit 0\n"}
    resp = create_function(lam, Runtime=runtime, Handler=handler, zip_bytes=make_zip(files))
    assert (resp["Runtime"], resp["Handler"]) == (runtime, handler)


def test_boto3_waiters_used_by_deploy_tools_succeed(lam):
    """SAM, CDK and Terraform wait with these after create/update; they poll State/LastUpdateStatus."""
    name = create_function(lam)["FunctionName"]
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 3})
    lam.update_function_configuration(FunctionName=name, MemorySize=192)
    lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 3})
    lam.publish_version(FunctionName=name)
    lam.get_waiter("published_version_active").wait(
        FunctionName=name, Qualifier="1", WaiterConfig={"Delay": 1, "MaxAttempts": 3}
    )
    assert lam.get_function_configuration(FunctionName=name, Qualifier="1")["MemorySize"] == 192

"""PublishVersion, ListVersionsByFunction and aliases."""

from __future__ import annotations

from support import (
    arn,
    create_function,
    expect_client_error,
    python_zip,
    sha256_b64,
    signed_request,
    unique_name,
)


def test_publish_version_numbers_from_one_and_echoes_tenancy(lam):
    code1 = python_zip("v1")
    name = create_function(lam, zip_bytes=code1, tenant=True)["FunctionName"]
    v1 = lam.publish_version(FunctionName=name, Description="first")
    assert v1["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert v1["Version"] == "1"
    assert v1["FunctionArn"] == arn(name, "1")
    assert v1["Description"] == "first"
    assert v1["CodeSha256"] == sha256_b64(code1)
    assert v1["TenancyConfig"] == {"TenantIsolationMode": "PER_TENANT"}
    code2 = python_zip("v2")
    lam.update_function_code(FunctionName=name, ZipFile=code2)
    v2 = lam.publish_version(FunctionName=name)
    assert v2["Version"] == "2"
    assert v2["CodeSha256"] == sha256_b64(code2)
    assert v2["TenancyConfig"] == {"TenantIsolationMode": "PER_TENANT"}
    got = lam.get_function(FunctionName=name, Qualifier="2")["Configuration"]
    assert got["TenancyConfig"] == {"TenantIsolationMode": "PER_TENANT"}
    assert lam.get_function_configuration(FunctionName=name, Qualifier="1")["CodeSha256"] == sha256_b64(code1)


def test_publish_version_without_changes_returns_the_same_version(lam):
    name = create_function(lam)["FunctionName"]
    first = lam.publish_version(FunctionName=name)
    again = lam.publish_version(FunctionName=name)
    assert (first["Version"], again["Version"]) == ("1", "1")
    assert again["CodeSha256"] == first["CodeSha256"]
    versions = [v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"]]
    assert versions == ["$LATEST", "1"]
    # A configuration change counts as a change.
    lam.update_function_configuration(FunctionName=name, MemorySize=256)
    assert lam.publish_version(FunctionName=name)["Version"] == "2"


def test_publish_version_with_wrong_code_sha256_is_refused(lam):
    name = create_function(lam)["FunctionName"]
    expect_client_error(
        lambda: lam.publish_version(FunctionName=name, CodeSha256=sha256_b64(b"something else")),
        400,
        "InvalidParameterValueException",
        "CodeSHA256",
    )
    assert [v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"]] == ["$LATEST"]


def test_publish_version_with_stale_revision_is_412(lam):
    created = create_function(lam)
    name = created["FunctionName"]
    lam.update_function_configuration(FunctionName=name, Timeout=5)
    expect_client_error(
        lambda: lam.publish_version(FunctionName=name, RevisionId=created["RevisionId"]),
        412,
        "PreconditionFailedException",
    )


def test_publish_version_of_missing_function_is_404(lam):
    name = unique_name("nopub")
    expect_client_error(lambda: lam.publish_version(FunctionName=name), 404, "ResourceNotFoundException", arn(name))


def test_list_versions_by_function_lists_latest_and_versions_with_qualified_arns(lam):
    name = create_function(lam, zip_bytes=python_zip("l1"))["FunctionName"]
    lam.publish_version(FunctionName=name)
    lam.update_function_code(FunctionName=name, ZipFile=python_zip("l2"))
    lam.publish_version(FunctionName=name)
    versions = lam.list_versions_by_function(FunctionName=name)["Versions"]
    assert [(v["Version"], v["FunctionArn"]) for v in versions] == [
        ("$LATEST", arn(name, "$LATEST")),
        ("1", arn(name, "1")),
        ("2", arn(name, "2")),
    ]
    paged = lam.list_versions_by_function(FunctionName=name, MaxItems=2)
    assert len(paged["Versions"]) == 2 and paged.get("NextMarker")
    rest = lam.list_versions_by_function(FunctionName=name, Marker=paged["NextMarker"])
    assert [v["Version"] for v in paged["Versions"] + rest["Versions"]] == ["$LATEST", "1", "2"]


def test_alias_create_get_list_update_delete(lam):
    name = create_function(lam, zip_bytes=python_zip("a1"))["FunctionName"]
    lam.publish_version(FunctionName=name)
    lam.update_function_code(FunctionName=name, ZipFile=python_zip("a2"))
    lam.publish_version(FunctionName=name)

    created = lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1", Description="stable")
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert created["AliasArn"] == arn(name, "live")
    assert (created["Name"], created["FunctionVersion"], created["Description"]) == ("live", "1", "stable")
    assert created["RevisionId"]

    got = lam.get_alias(FunctionName=name, Name="live")
    assert (got["AliasArn"], got["FunctionVersion"], got["RevisionId"]) == (
        arn(name, "live"),
        "1",
        created["RevisionId"],
    )

    lam.create_alias(FunctionName=name, Name="beta", FunctionVersion="$LATEST")
    listed = lam.list_aliases(FunctionName=name)["Aliases"]
    assert sorted((a["Name"], a["FunctionVersion"]) for a in listed) == [("beta", "$LATEST"), ("live", "1")]
    only_v1 = lam.list_aliases(FunctionName=name, FunctionVersion="1")["Aliases"]
    assert [a["Name"] for a in only_v1] == ["live"]

    updated = lam.update_alias(FunctionName=name, Name="live", FunctionVersion="2")
    assert updated["FunctionVersion"] == "2"
    assert updated["Description"] == "stable"
    assert updated["RevisionId"] != created["RevisionId"]
    assert lam.get_function(FunctionName=name, Qualifier="live")["Configuration"]["Version"] == "2"

    expect_client_error(
        lambda: lam.update_alias(FunctionName=name, Name="live", FunctionVersion="1", RevisionId=created["RevisionId"]),
        412,
        "PreconditionFailedException",
    )

    resp = lam.delete_alias(FunctionName=name, Name="live")
    assert resp["ResponseMetadata"]["HTTPStatusCode"] in (200, 204)
    expect_client_error(
        lambda: lam.get_alias(FunctionName=name, Name="live"), 404, "ResourceNotFoundException", arn(name, "live")
    )
    assert [a["Name"] for a in lam.list_aliases(FunctionName=name)["Aliases"]] == ["beta"]


def test_alias_with_routing_config(lam):
    name = create_function(lam, zip_bytes=python_zip("r1"))["FunctionName"]
    lam.publish_version(FunctionName=name)
    lam.update_function_code(FunctionName=name, ZipFile=python_zip("r2"))
    lam.publish_version(FunctionName=name)
    created = lam.create_alias(
        FunctionName=name,
        Name="canary",
        FunctionVersion="1",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.25}},
    )
    assert created["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.25}}
    assert lam.get_alias(FunctionName=name, Name="canary")["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.25}}
    cleared = lam.update_alias(FunctionName=name, Name="canary", RoutingConfig={"AdditionalVersionWeights": {}})
    assert not cleared.get("RoutingConfig", {}).get("AdditionalVersionWeights")


def test_alias_routing_to_a_missing_version_is_refused(lam):
    name = create_function(lam)["FunctionName"]
    lam.publish_version(FunctionName=name)
    expect_client_error(
        lambda: lam.create_alias(
            FunctionName=name, Name="bad", FunctionVersion="1", RoutingConfig={"AdditionalVersionWeights": {"9": 0.5}}
        ),
        404,
        "ResourceNotFoundException",
        arn(name, "9"),
    )
    assert lam.list_aliases(FunctionName=name)["Aliases"] == []


def test_alias_to_a_nonexistent_version_is_404(lam):
    name = create_function(lam)["FunctionName"]
    expect_client_error(
        lambda: lam.create_alias(FunctionName=name, Name="nope", FunctionVersion="42"),
        404,
        "ResourceNotFoundException",
        arn(name, "42"),
    )
    assert lam.list_aliases(FunctionName=name)["Aliases"] == []


def test_duplicate_alias_is_a_conflict(lam):
    name = create_function(lam)["FunctionName"]
    lam.publish_version(FunctionName=name)
    lam.create_alias(FunctionName=name, Name="dup", FunctionVersion="1")
    expect_client_error(
        lambda: lam.create_alias(FunctionName=name, Name="dup", FunctionVersion="$LATEST"),
        409,
        "ResourceConflictException",
        f"Alias already exists: {arn(name, 'dup')}",
    )
    assert lam.get_alias(FunctionName=name, Name="dup")["FunctionVersion"] == "1"


def test_alias_name_that_is_a_number_is_refused(endpoint, lam):
    name = create_function(lam)["FunctionName"]
    lam.publish_version(FunctionName=name)
    # Raw, since a version-like alias name would be ambiguous with a version qualifier.
    r = signed_request(
        endpoint, "POST", f"/2015-03-31/functions/{name}/aliases", {"Name": "7", "FunctionVersion": "1"}
    )
    assert r.status == 400, (r.status, r.body)
    assert r.code in ("ValidationException", "InvalidParameterValueException"), r.code
    assert "name" in r.message.lower()
    assert lam.list_aliases(FunctionName=name)["Aliases"] == []


def test_alias_on_missing_function_is_404(lam):
    name = unique_name("noalias")
    expect_client_error(
        lambda: lam.create_alias(FunctionName=name, Name="x", FunctionVersion="$LATEST"),
        404,
        "ResourceNotFoundException",
    )
    expect_client_error(lambda: lam.get_alias(FunctionName=name, Name="x"), 404, "ResourceNotFoundException")


def test_get_function_configuration_by_alias_resolves_the_version(lam):
    code = python_zip("byalias")
    name = create_function(lam, zip_bytes=code)["FunctionName"]
    lam.publish_version(FunctionName=name)
    lam.update_function_code(FunctionName=name, ZipFile=python_zip("later"))
    lam.create_alias(FunctionName=name, Name="pinned", FunctionVersion="1")
    conf = lam.get_function_configuration(FunctionName=name, Qualifier="pinned")
    assert conf["Version"] == "1"
    assert conf["CodeSha256"] == sha256_b64(code)


def test_aws_cli_publish_version_and_alias(aws, lam):
    name = create_function(lam)["FunctionName"]
    v = aws("publish-version", "--function-name", name).check().json
    assert v["Version"] == "1"
    a = aws("create-alias", "--function-name", name, "--name", "live", "--function-version", "1").check().json
    assert a["AliasArn"] == arn(name, "live")
    listed = aws("list-aliases", "--function-name", name).check().json
    assert [x["Name"] for x in listed["Aliases"]] == ["live"]
    versions = aws("list-versions-by-function", "--function-name", name).check().json
    assert [x["Version"] for x in versions["Versions"]] == ["$LATEST", "1"]

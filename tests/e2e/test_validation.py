"""Bad input to CreateFunction/UpdateFunctionConfiguration: every case gets the right status and
error code, names what was wrong, and leaves nothing behind.

Most cases go out as raw signed requests, because botocore refuses some of them (MemorySize 127,
Timeout 0, ...) before sending; a few go through boto3 to check the error parses there too.
AWS's own codes: model constraints (pattern, length, min) are `ValidationException`; Lambda's
semantic checks are `InvalidParameterValueException`; unparsable bodies are
`InvalidRequestContentException`. Where AWS's choice is not certain both are accepted.
"""

from __future__ import annotations

import base64
import functools
import os

import pytest

from support import (
    ROLE,
    create_function,
    expect_client_error,
    function_names,
    make_zip,
    python_zip,
    signed_request,
    unique_name,
    zip_bomb,
    zip_lying_about_size,
    zip_with_symlink,
)

VALIDATION = "ValidationException"
INVALID = "InvalidParameterValueException"
CONTENT = "InvalidRequestContentException"
EITHER = {VALIDATION, INVALID}

UNZIPPED_LIMIT = 262_144_000  # 250 MiB, AWS's unzipped code limit


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def body(name: str, **changes) -> dict:
    doc = {
        "FunctionName": name,
        "Runtime": "python3.12",
        "Role": ROLE,
        "Handler": "app.handler",
        "Code": {"ZipFile": b64(python_zip(name))},
    }
    for k, v in changes.items():
        if v is DROP:
            doc.pop(k, None)
        else:
            doc[k] = v
    return doc


DROP = object()


@functools.cache
def bomb() -> bytes:
    return zip_bomb(UNZIPPED_LIMIT + (8 << 20))


@functools.cache
def lying_bomb() -> bytes:
    return zip_lying_about_size(UNZIPPED_LIMIT + (40 << 20), claimed_bytes=1000)


# (id, changes to the body, status, accepted codes, any of these must be in the message)
CASES = [
    ("name-pattern", {"FunctionName": "bad name!"}, 400, {VALIDATION}, ("functionName",)),
    ("name-too-long", {"FunctionName": "a" * 65}, 400, {VALIDATION}, ("functionName",)),
    ("runtime-unknown", {"Runtime": "python9.9"}, 400, {INVALID, VALIDATION}, ("runtime",)),
    ("handler-missing", {"Handler": DROP}, 400, EITHER, ("handler",)),
    ("memory-127", {"MemorySize": 127}, 400, EITHER, ("memorySize",)),
    ("memory-10241", {"MemorySize": 10241}, 400, EITHER, ("memorySize",)),
    ("timeout-0", {"Timeout": 0}, 400, EITHER, ("timeout",)),
    ("timeout-901", {"Timeout": 901}, 400, EITHER, ("timeout",)),
    ("ephemeral-511", {"EphemeralStorage": {"Size": 511}}, 400, EITHER, ("ephemeralStorage",)),
    ("ephemeral-10241", {"EphemeralStorage": {"Size": 10241}}, 400, EITHER, ("ephemeralStorage",)),
    ("env-over-4kb", {"Environment": {"Variables": {"BIG": "x" * 4200}}}, 400, {INVALID}, ("environment",)),
    ("env-name-pattern", {"Environment": {"Variables": {"1BAD-NAME": "x"}}}, 400, {VALIDATION}, ("environment",)),
    ("env-reserved-key", {"Environment": {"Variables": {"AWS_REGION": "eu-west-1"}}}, 400, {INVALID}, ("AWS_REGION",)),
    ("role-not-an-arn", {"Role": "not-an-arn"}, 400, {VALIDATION}, ("role",)),
    ("role-missing", {"Role": DROP}, 400, {VALIDATION, INVALID, CONTENT}, ("role",)),
    ("code-missing", {"Code": DROP}, 400, {VALIDATION, INVALID, CONTENT}, ("code",)),
    ("architecture-unknown", {"Architectures": ["sparc"]}, 400, EITHER, ("architectures",)),
    ("zipfile-bad-base64", {"Code": {"ZipFile": "!!! not base64 !!!"}}, 400, {CONTENT, INVALID}, ("zipfile", "base64")),
    ("zip-corrupt", {"Code": {"ZipFile": b64(b"PK\x03\x04 this is not a zip")}}, 400, {INVALID}, ("zip",)),
    ("zip-empty-bytes", {"Code": {"ZipFile": ""}}, 400, EITHER | {CONTENT}, ("zip",)),
    ("zip-slip", {"Code": {"ZipFile": b64(make_zip({"app.py": "x=1", "../evil.py": "x=1"}))}}, 400, {INVALID}, ("../evil.py", "path")),
    ("zip-absolute-path", {"Code": {"ZipFile": b64(make_zip({"app.py": "x=1", "/etc/evil.py": "x=1"}))}}, 400, {INVALID}, ("/etc/evil.py", "path")),
    ("zip-symlink-escape", {"Code": {"ZipFile": b64(zip_with_symlink("link", "../../../../etc/passwd"))}}, 400, {INVALID}, ("link", "symlink")),
    ("zip-symlink-absolute", {"Code": {"ZipFile": b64(zip_with_symlink("link", "/etc/passwd"))}}, 400, {INVALID}, ("link", "symlink")),
]  # fmt: skip


@pytest.mark.parametrize("changes,status,codes,mentions", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_create_function_rejects_bad_input(endpoint, lam, changes, status, codes, mentions):
    doc = body(unique_name("bad"), **changes)
    name = doc.get("FunctionName")
    r = signed_request(endpoint, "POST", "/2015-03-31/functions", doc)
    assert r.status == status, (r.status, r.headers.get("x-amzn-errortype"), r.body[:500])
    assert r.code in codes, (r.code, r.body[:500])
    assert any(m.lower() in r.message.lower() for m in mentions), f"{r.message!r} mentions none of {mentions}"
    assert name not in function_names(lam)


def test_zip_bomb_is_refused(endpoint, lam):
    data = bomb()
    assert len(data) < 2 << 20, "the bomb should be small when compressed"
    name = unique_name("bomb")
    r = signed_request(endpoint, "POST", "/2015-03-31/functions", body(name, Code={"ZipFile": b64(data)}))
    assert (r.status, r.code) == (400, INVALID), (r.status, r.body[:500])
    assert any(m in r.message.lower() for m in ("unzipped", "262144000", "uncompressed")), r.message
    assert name not in function_names(lam)


def test_zip_bomb_with_lying_size_headers_is_refused(endpoint, lam):
    name = unique_name("liar")
    r = signed_request(endpoint, "POST", "/2015-03-31/functions", body(name, Code={"ZipFile": b64(lying_bomb())}))
    assert (r.status, r.code) == (400, INVALID), (r.status, r.body[:500])
    assert name not in function_names(lam)
    # The server is still healthy after inflating (or refusing to inflate) it.
    assert lam.get_account_settings()["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_request_body_too_large_is_413(endpoint, lam):
    name = unique_name("huge")
    # 54 MiB of incompressible bytes is ~75 MB once base64'd: above AWS's 70,167,211-byte limit.
    doc = body(name, Code={"ZipFile": b64(os.urandom(54 << 20))})
    r = signed_request(endpoint, "POST", "/2015-03-31/functions", doc, timeout=120)
    assert r.status == 413, (r.status, r.body[:500])
    assert r.code in ("RequestEntityTooLargeException", "RequestTooLargeException"), r.code
    assert "bytes" in r.message.lower() or "large" in r.message.lower(), r.message
    assert name not in function_names(lam)


def test_malformed_json_body_is_400(endpoint, lam):
    r = signed_request(endpoint, "POST", "/2015-03-31/functions", b'{"FunctionName": "x", "Runtime": ')
    assert (r.status, r.code) == (400, CONTENT), (r.status, r.body[:500])
    assert "json" in r.message.lower()


def test_json_body_that_is_not_an_object_is_400(endpoint):
    r = signed_request(endpoint, "POST", "/2015-03-31/functions", b"[1, 2, 3]")
    assert r.status == 400, (r.status, r.body[:500])
    assert r.code in (CONTENT, VALIDATION, INVALID)


def test_wrong_json_type_for_a_field_is_400_and_names_it(endpoint, lam):
    name = unique_name("wrongtype")
    r = signed_request(endpoint, "POST", "/2015-03-31/functions", body(name, MemorySize="lots"))
    assert (r.status, r.code) == (400, CONTENT), (r.status, r.body[:500])
    assert "memorysize" in r.message.lower(), r.message
    assert name not in function_names(lam)


def test_error_bodies_have_the_lambda_shape(endpoint):
    """`{"Type": "User", "message": ...}`, `Message` for ResourceNotFoundException, and the
    code in `x-amzn-ErrorType`."""
    r = signed_request(endpoint, "POST", "/2015-03-31/functions", body(unique_name("shape"), Timeout=0))
    assert r.headers["content-type"].startswith("application/json")
    assert r.json["Type"] == "User"
    assert isinstance(r.json.get("message"), str) and r.json["message"]
    missing = unique_name("shape404")
    r = signed_request(endpoint, "GET", f"/2015-03-31/functions/{missing}")
    assert r.status == 404
    assert r.headers["x-amzn-errortype"].split(":")[0] == "ResourceNotFoundException"
    assert r.json == {
        "Type": "User",
        "Message": f"Function not found: arn:aws:lambda:us-east-1:000000000000:function:{missing}",
    }
    assert r.headers.get("x-amzn-requestid")


def test_unknown_route_is_not_a_200(endpoint):
    r = signed_request(endpoint, "GET", "/2015-03-31/no-such-thing")
    assert 400 <= r.status < 500, (r.status, r.body[:200])
    assert r.code, r.headers


# --- the same checks through boto3 (error parsed from x-amzn-ErrorType) -------------------


def test_boto3_sees_invalid_parameter_for_reserved_env_key(lam):
    name = unique_name("reserved")
    expect_client_error(
        lambda: create_function(lam, name, Environment={"Variables": {"AWS_REGION": "x"}}),
        400,
        INVALID,
        "AWS_REGION",
    )
    assert name not in function_names(lam)


def test_boto3_sees_invalid_parameter_for_corrupt_zip(lam):
    name = unique_name("corrupt")
    expect_client_error(lambda: create_function(lam, name, zip_bytes=b"not a zip at all"), 400, INVALID, "zip")
    assert name not in function_names(lam)


def test_boto3_sees_the_error_for_a_bad_runtime_and_bad_name(lam):
    expect_client_error(lambda: create_function(lam, Runtime="cobol85"), 400, {INVALID, VALIDATION}, "runtime")
    expect_client_error(lambda: create_function(lam, "has spaces in it"), 400, VALIDATION, "functionName")


def test_boto3_sees_the_error_for_memory_over_the_limit(lam):
    name = unique_name("bigmem")
    expect_client_error(lambda: create_function(lam, name, MemorySize=10241), 400, EITHER, "memorySize")
    assert name not in function_names(lam)


# --- UpdateFunctionConfiguration applies the same rules and changes nothing on failure -------

UPDATE_CASES = [
    ("memory-10241", {"MemorySize": 10241}, EITHER, "memorySize"),
    ("memory-127", {"MemorySize": 127}, EITHER, "memorySize"),
    ("timeout-901", {"Timeout": 901}, EITHER, "timeout"),
    ("env-reserved", {"Environment": {"Variables": {"AWS_LAMBDA_FUNCTION_NAME": "x"}}}, {INVALID}, "AWS_LAMBDA_FUNCTION_NAME"),
    ("env-over-4kb", {"Environment": {"Variables": {f"K{i}": "v" * 100 for i in range(45)}}}, {INVALID}, "environment"),
    ("runtime-unknown", {"Runtime": "ruby0.1"}, {INVALID, VALIDATION}, "runtime"),
    ("role-bad", {"Role": "arn:aws:iam::nope"}, {VALIDATION}, "role"),
]  # fmt: skip


@pytest.mark.parametrize("changes,codes,mention", [c[1:] for c in UPDATE_CASES], ids=[c[0] for c in UPDATE_CASES])
def test_update_function_configuration_rejects_bad_input(endpoint, lam, changes, codes, mention):
    created = create_function(lam)
    name = created["FunctionName"]
    r = signed_request(endpoint, "PUT", f"/2015-03-31/functions/{name}/configuration", changes)
    assert r.status == 400, (r.status, r.body[:500])
    assert r.code in codes, (r.code, r.body[:500])
    assert mention.lower() in r.message.lower(), r.message
    after = lam.get_function_configuration(FunctionName=name)
    assert after["RevisionId"] == created["RevisionId"]
    assert (after["MemorySize"], after["Timeout"], after["Runtime"]) == (128, 3, "python3.12")


def test_update_function_code_rejects_a_bad_zip_and_keeps_the_old_code(endpoint, lam):
    created = create_function(lam)
    name = created["FunctionName"]
    expect_client_error(
        lambda: lam.update_function_code(FunctionName=name, ZipFile=make_zip({"../../escape.py": "x"})), 400, INVALID
    )
    r = signed_request(endpoint, "PUT", f"/2015-03-31/functions/{name}/code", {"ZipFile": b64(bomb())})
    assert (r.status, r.code) == (400, INVALID), (r.status, r.body[:300])
    after = lam.get_function_configuration(FunctionName=name)
    assert (after["CodeSha256"], after["RevisionId"]) == (created["CodeSha256"], created["RevisionId"])

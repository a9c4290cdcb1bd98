"""SigV4 authentication: unsigned, wrong secret, unknown key, expired, tampered, configured keys."""

from __future__ import annotations

import base64
import datetime
import http.client
import json
import time
from urllib.parse import urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from support import (
    ACCESS_KEY,
    ROLE,
    SECRET_KEY,
    create_function,
    expect_client_error,
    function_names,
    lambda_client,
    python_zip,
    signed_request,
    unique_name,
)


def test_unsigned_request_is_403_missing_authentication_token(endpoint):
    r = signed_request(endpoint, "GET", "/2015-03-31/functions", sign=False)
    assert r.status == 403, (r.status, r.body)
    assert r.code == "MissingAuthenticationTokenException"
    assert r.message


def test_unsigned_create_creates_nothing(endpoint, lam):
    name = unique_name("unsigned")
    r = signed_request(
        endpoint,
        "POST",
        "/2015-03-31/functions",
        {"FunctionName": name, "Runtime": "python3.12", "Role": "x", "Handler": "a.b", "Code": {}},
        sign=False,
    )
    assert (r.status, r.code) == (403, "MissingAuthenticationTokenException")
    assert name not in function_names(lam)


def test_wrong_secret_is_403_invalid_signature(endpoint):
    bad = lambda_client(endpoint, secret_key=SECRET_KEY + "x")
    expect_client_error(bad.list_functions, 403, "InvalidSignatureException", "signature")


def test_unknown_access_key_is_403_unrecognized_client(endpoint):
    bad = lambda_client(endpoint, access_key="AKIAUNKNOWNKEY000000", secret_key=SECRET_KEY)
    expect_client_error(bad.list_functions, 403, "UnrecognizedClientException")


def test_signature_from_twenty_minutes_ago_is_expired(endpoint):
    when = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) - datetime.timedelta(minutes=20)
    r = signed_request(endpoint, "GET", "/2015-03-31/functions", when=when)
    assert r.status == 403, (r.status, r.body)
    assert r.code == "InvalidSignatureException"
    assert "Signature expired" in r.message, r.message


def test_signature_from_twenty_minutes_ahead_is_refused(endpoint):
    when = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) + datetime.timedelta(minutes=20)
    r = signed_request(endpoint, "GET", "/2015-03-31/functions", when=when)
    assert (r.status, r.code) == (403, "InvalidSignatureException"), (r.status, r.body)


def test_signature_within_clock_skew_is_accepted(endpoint):
    when = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) - datetime.timedelta(minutes=3)
    r = signed_request(endpoint, "GET", "/2015-03-31/functions", when=when)
    assert r.status == 200, (r.status, r.body)


def test_body_changed_after_signing_is_refused(endpoint, lam):
    """The payload hash is part of the signature: a swapped body must not be accepted."""
    name = unique_name("tamper")
    url = endpoint + "/2015-03-31/functions"
    signed_body = b'{"FunctionName": "harmless"}'
    req = AWSRequest(method="POST", url=url, data=signed_body, headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "lambda", "us-east-1").add_auth(req)
    evil = json.dumps(
        {
            "FunctionName": name,
            "Runtime": "python3.12",
            "Role": ROLE,
            "Handler": "app.handler",
            "Code": {"ZipFile": base64.b64encode(python_zip()).decode()},
        }
    ).encode()
    parts = urlsplit(endpoint)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        headers = {k: v for k, v in req.headers.items()}
        headers["Content-Length"] = str(len(evil))
        conn.request("POST", "/2015-03-31/functions", body=evil, headers=headers)
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 403
        assert resp.getheader("x-amzn-ErrorType", "").startswith("InvalidSignatureException")
    finally:
        conn.close()
    assert name not in function_names(lam)


def test_signature_for_another_service_is_refused(endpoint):
    req = AWSRequest(method="GET", url=endpoint + "/2015-03-31/functions")
    SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "s3", "us-east-1").add_auth(req)
    parts = urlsplit(endpoint)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request("GET", "/2015-03-31/functions", headers=dict(req.headers.items()))
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 403
        assert resp.getheader("x-amzn-ErrorType", "").split(":")[0] in (
            "InvalidSignatureException",
            "IncompleteSignatureException",
        )
    finally:
        conn.close()


def test_aws_cli_with_wrong_secret_fails_with_invalid_signature(aws):
    r = aws("list-functions", env={"AWS_SECRET_ACCESS_KEY": "definitely-wrong"})
    assert r.returncode != 0
    assert "InvalidSignatureException" in r.stderr


def test_access_keys_file_replaces_the_local_pair(server_factory, tmp_path):
    keys = tmp_path / "keys"
    keys.write_text("# team keys\nAKIAE2ETESTKEY000001:e2e-secret-one\nAKIAE2ETESTKEY000002:e2e-secret-two\n")
    srv = server_factory(args=["--access-keys-file", str(keys)])
    one = lambda_client(srv.endpoint, "AKIAE2ETESTKEY000001", "e2e-secret-one")
    two = lambda_client(srv.endpoint, "AKIAE2ETESTKEY000002", "e2e-secret-two")
    create_function(one, "from-key-one")
    assert function_names(two) == ["from-key-one"]
    expect_client_error(
        lambda_client(srv.endpoint, "AKIAE2ETESTKEY000001", "e2e-secret-two").list_functions,
        403,
        "InvalidSignatureException",
    )
    # Once real keys are configured the published demo pair must stop working.
    expect_client_error(lambda_client(srv.endpoint).list_functions, 403, "UnrecognizedClientException")


def test_access_keys_from_environment(server_factory):
    srv = server_factory(env={"BULKHEAD_ACCESS_KEYS": "AKIAE2EENVKEY0000001:env-secret"})
    lam = lambda_client(srv.endpoint, "AKIAE2EENVKEY0000001", "env-secret")
    assert lam.list_functions()["Functions"] == []
    expect_client_error(lambda_client(srv.endpoint).list_functions, 403, "UnrecognizedClientException")


def test_local_pair_is_not_offered_on_a_non_loopback_address(server_factory):
    """With no keys configured the demo pair is for loopback only. On 0.0.0.0 the server must
    either refuse to start or refuse that pair (the test connects over 127.0.0.1 only)."""
    srv = server_factory(listen="0.0.0.0:0", start=False)
    proc = srv.spawn()
    try:
        text = ""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and proc.poll() is None and "\n" not in text:
            text = srv.stdout_path.read_text(errors="replace")
            time.sleep(0.02)
        if proc.poll() is not None:
            assert proc.returncode != 0
            err = srv.stderr_path.read_text(errors="replace").lower()
            assert "key" in err, err
            return
        first = text.split("\n", 1)[0]
        port = first.rsplit(":", 1)[-1].strip()
        assert port.isdigit(), first
        lam = lambda_client(f"http://127.0.0.1:{port}")
        expect_client_error(lam.list_functions, 403, {"UnrecognizedClientException", "AccessDeniedException"})
    finally:
        srv.kill()

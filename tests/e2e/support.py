"""Shared pieces of the end-to-end suite: the server process, clients, zips, raw SigV4 requests.

Everything here talks to a real `bulkhead serve` over loopback HTTP; nothing is mocked. The
one patch (`when=` in `signed_request`) moves botocore's clock to build an expired signature.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import hashlib
import http.client
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
import zipfile
from pathlib import Path
from typing import Any, Callable, Iterable
from unittest import mock
from urllib.parse import quote, urlencode, urlsplit

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

REPO = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("BULKHEAD_BIN") or REPO / "target" / "debug" / "bulkhead")

ACCESS_KEY = "BULKHEADLOCALDEMOKEY"
SECRET_KEY = "bulkhead/local/demo/secret/not/for/prod"
REGION = "us-east-1"
ACCOUNT = "000000000000"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/bulkhead-e2e"
ARN_PREFIX = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:"

LISTENING = re.compile(r"^bulkhead listening on (http://127\.0\.0\.1:\d+)\s*$")
LAST_MODIFIED = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000$")

HANDLER_PY = "def handler(event, context):\n    return {'tag': %r, 'tenant': context.tenant_id}\n"


def unique_name(prefix: str = "fn") -> str:
    """A function name no other test uses, so tests can share one server."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def arn(name: str, qualifier: str | None = None) -> str:
    return ARN_PREFIX + name + (f":{qualifier}" if qualifier else "")


# ---------------------------------------------------------------------------------------------
# Code packages


def make_zip(files: dict[str, str | bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in files.items():
            zf.writestr(name, content)
    return buf.getvalue()


def python_zip(tag: str = "v1") -> bytes:
    """A python3.12 package with handler `app.handler`; `tag` makes its bytes (and hash) unique."""
    return make_zip({"app.py": HANDLER_PY % tag})


def sha256_b64(data: bytes) -> str:
    """CodeSha256 as Lambda reports it: base64 of the raw SHA-256 digest."""
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def zip_with_symlink(name: str, target: str) -> bytes:
    """A zip holding `app.py` and a Unix symlink entry `name` -> `target`."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("app.py", HANDLER_PY % "link")
        info = zipfile.ZipInfo(name)
        info.create_system = 3  # Unix, so the mode bits below are honoured
        info.external_attr = (0o120777 << 16) & 0xFFFF0000
        zf.writestr(info, target)
    return buf.getvalue()


def zip_bomb(unzipped_bytes: int) -> bytes:
    """One deflated entry of zeros: a few hundred KB that expand to `unzipped_bytes`."""
    buf = io.BytesIO()
    chunk = b"\0" * (1 << 20)
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("app.py", HANDLER_PY % "bomb")
        with zf.open("blob.bin", "w") as out:
            left = unzipped_bytes
            while left > 0:
                n = min(left, len(chunk))
                out.write(chunk[:n])
                left -= n
    return buf.getvalue()


def zip_lying_about_size(real_bytes: int, claimed_bytes: int) -> bytes:
    """A zip bomb whose local and central headers claim `claimed_bytes` uncompressed.

    A reader that trusts the headers for its size check lets the real expansion through.
    """
    buf = io.BytesIO()
    chunk = b"\0" * (1 << 20)
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        with zf.open("blob.bin", "w") as out:
            left = real_bytes
            while left > 0:
                n = min(left, len(chunk))
                out.write(chunk[:n])
                left -= n
    data = bytearray(buf.getvalue())
    local = data.find(b"PK\x03\x04")
    central = data.find(b"PK\x01\x02")
    assert local >= 0 and central > local
    data[local + 22 : local + 26] = claimed_bytes.to_bytes(4, "little")
    data[central + 24 : central + 28] = claimed_bytes.to_bytes(4, "little")
    return bytes(data)


# ---------------------------------------------------------------------------------------------
# The server process


class Server:
    """One `bulkhead serve` child process on 127.0.0.1 with its own (or a given) data dir."""

    def __init__(
        self,
        data_dir: Path,
        log_dir: Path,
        *,
        listen: str = "127.0.0.1:0",
        args: Iterable[str] = (),
        env: dict[str, str] | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.log_dir = Path(log_dir)
        self.listen = listen
        self.args = list(args)
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None
        self.endpoint: str | None = None
        self.starts = 0

    @property
    def stdout_path(self) -> Path:
        return self.log_dir / f"server-{self.starts}.stdout"

    @property
    def stderr_path(self) -> Path:
        return self.log_dir / f"server-{self.starts}.stderr"

    def spawn(self) -> subprocess.Popen[bytes]:
        if not BIN.exists():
            raise RuntimeError(f"{BIN} does not exist: run `cargo build -p bulkhead` or set BULKHEAD_BIN")
        self.starts += 1
        self.log_dir.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        if self.env:
            env.update(self.env)
        cmd = [str(BIN), "serve", "--listen", self.listen, "--data-dir", str(self.data_dir), *self.args]
        # Files, not pipes: nobody has to drain them, and they survive for the failure report.
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env)
        self.endpoint = None
        return self.proc

    def start(self, timeout: float = 30.0) -> "Server":
        self.spawn()
        self.endpoint = self.wait_listening(timeout)
        return self

    def wait_listening(self, timeout: float = 30.0) -> str:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.stdout_path.read_text(errors="replace")
            first = text.split("\n", 1)[0]
            if "\n" in text:
                m = LISTENING.match(first)
                if not m:
                    raise AssertionError(f"unexpected first stdout line {first!r}\n{self.logs()}")
                return m.group(1)
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited with {self.proc.returncode} before listening\n{self.logs()}")
            time.sleep(0.02)
        raise AssertionError(f"server did not print its listening line within {timeout}s\n{self.logs()}")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM and wait; returns the exit status."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
                raise AssertionError(f"server ignored SIGTERM for {timeout}s\n{self.logs()}")
        return self.proc.returncode

    def kill(self) -> None:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def logs(self, tail: int = 4000) -> str:
        parts = []
        for p in (self.stdout_path, self.stderr_path):
            if p.exists():
                parts.append(f"--- {p.name} ---\n{p.read_text(errors='replace')[-tail:]}")
        return "\n".join(parts)


# ---------------------------------------------------------------------------------------------
# Clients


def lambda_client(endpoint: str, access_key: str = ACCESS_KEY, secret_key: str = SECRET_KEY):
    """A boto3 Lambda client that never retries, so every server answer is seen as sent."""
    return boto3.session.Session().client(
        "lambda",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        config=Config(
            retries={"total_max_attempts": 1, "mode": "standard"},
            connect_timeout=10,
            read_timeout=60,
            max_pool_connections=32,
        ),
    )


def error_of(exc: ClientError) -> tuple[int, str, str]:
    """(HTTP status, error code, message) of a ClientError, as boto3 parsed them."""
    r = exc.response
    return r["ResponseMetadata"]["HTTPStatusCode"], r["Error"].get("Code", ""), r["Error"].get("Message", "")


def expect_client_error(
    call: Callable[[], Any], status: int, code: str | set[str], *in_message: str
) -> tuple[int, str, str]:
    """Runs `call`, which must fail with `status` and `code`; the message must contain each
    of `in_message` (case-insensitive)."""
    try:
        result = call()
    except ClientError as e:
        got = error_of(e)
    else:
        raise AssertionError(f"expected {status} {code}, call succeeded with {result!r}")
    codes = {code} if isinstance(code, str) else code
    assert (got[0], got[1] in codes) == (status, True), f"expected {status} {sorted(codes)}, got {got}"
    for part in in_message:
        assert part.lower() in got[2].lower(), f"message {got[2]!r} does not mention {part!r}"
    return got


def function_names(lam, **kwargs) -> list[str]:
    """Every FunctionName ListFunctions returns, walking NextMarker."""
    names: list[str] = []
    marker = None
    while True:
        page = lam.list_functions(**kwargs, **({"Marker": marker} if marker else {}))
        names += [f["FunctionName"] for f in page["Functions"]]
        marker = page.get("NextMarker")
        if not marker:
            return names


def function_exists(lam, name: str) -> bool:
    return name in function_names(lam)


def create_function(lam, name: str | None = None, *, zip_bytes: bytes | None = None, tenant: bool = False, **kw):
    """CreateFunction with a small python3.12 package; returns the response dict."""
    params: dict[str, Any] = {
        "FunctionName": name or unique_name(),
        "Runtime": "python3.12",
        "Role": ROLE,
        "Handler": "app.handler",
        "Code": {"ZipFile": zip_bytes if zip_bytes is not None else python_zip(uuid.uuid4().hex)},
    }
    if tenant:
        params["TenancyConfig"] = {"TenantIsolationMode": "PER_TENANT"}
    params.update(kw)
    return lam.create_function(**params)


# ---------------------------------------------------------------------------------------------
# Raw HTTP, for what boto3 will not send


@dataclasses.dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    @property
    def code(self) -> str:
        """The error code the way botocore reads it: x-amzn-ErrorType up to the first ':'."""
        raw = self.headers.get("x-amzn-errortype", "")
        return raw.split(":")[0].split("#")[-1]

    @property
    def message(self) -> str:
        body = self.json if self.body.startswith(b"{") else {}
        return (body or {}).get("message") or (body or {}).get("Message") or ""


def _send(method: str, url: str, headers: dict[str, str], body: bytes | None, timeout: float) -> RawResponse:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        for k, v in headers.items():
            conn.putheader(k, v)
        if body is not None and not any(k.lower() == "content-length" for k in headers):
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders()
        if body:
            view = memoryview(body)
            try:
                for off in range(0, len(view), 1 << 20):
                    conn.send(view[off : off + (1 << 20)])
            except (BrokenPipeError, ConnectionResetError):
                # A server may answer (413) and close before reading a huge body; read that answer.
                pass
        resp = conn.getresponse()
        return RawResponse(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
    finally:
        conn.close()


def signed_request(
    endpoint: str,
    method: str,
    path: str,
    body: Any = None,
    *,
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    access_key: str = ACCESS_KEY,
    secret_key: str = SECRET_KEY,
    sign: bool = True,
    when: datetime.datetime | None = None,
    timeout: float = 60.0,
) -> RawResponse:
    """One SigV4-signed (service `lambda`) request, sent verbatim. `body` may be bytes, str, or
    anything JSON-serialisable; `when` signs as of that UTC time."""
    url = endpoint + quote(path, safe="/$:") + (f"?{urlencode(query)}" if query else "")
    if body is None:
        data = None
    elif isinstance(body, bytes):
        data = body
    elif isinstance(body, str):
        data = body.encode()
    else:
        data = json.dumps(body).encode()
    hdrs = {"Host": urlsplit(endpoint).netloc}
    if data is not None:
        hdrs["Content-Type"] = "application/json"
    hdrs.update(headers or {})
    if sign:
        req = AWSRequest(method=method, url=url, data=data, headers=hdrs)
        signer = SigV4Auth(Credentials(access_key, secret_key), "lambda", REGION)
        if when is not None:
            with mock.patch("botocore.auth.get_current_datetime", return_value=when):
                signer.add_auth(req)
        else:
            signer.add_auth(req)
        hdrs = dict(req.headers.items())
    return _send(method, url, hdrs, data, timeout)


def cli_env(home: Path, **extra: str) -> dict[str, str]:
    """A clean environment for a child CLI: only PATH/locale from the host, the local key pair,
    and an empty HOME and config, so no profile or endpoint of the host leaks in."""
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")}
    env.update(
        HOME=str(home),
        AWS_ACCESS_KEY_ID=ACCESS_KEY,
        AWS_SECRET_ACCESS_KEY=SECRET_KEY,
        AWS_DEFAULT_REGION=REGION,
        AWS_CONFIG_FILE=str(home / "aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(home / "aws-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
        AWS_PAGER="",
        AWS_MAX_ATTEMPTS="1",
        AWS_RETRY_MODE="standard",
    )
    env.update(extra)
    return env


@dataclasses.dataclass
class CliResult:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def json(self) -> Any:
        return json.loads(self.stdout)

    def check(self) -> "CliResult":
        assert self.returncode == 0, f"{self.args} exited {self.returncode}\nstdout: {self.stdout}\nstderr: {self.stderr}"
        return self


def aws_cli_command() -> list[str]:
    venv_aws = REPO / ".venv" / "bin" / "aws"
    return [str(venv_aws)] if venv_aws.exists() else [sys.executable, "-m", "awscli"]


def run(cmd: list[str], env: dict[str, str], timeout: float = 120.0, cwd: Path | None = None) -> CliResult:
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL, cwd=cwd)
    return CliResult(cmd, p.returncode, p.stdout, p.stderr)


def function_names_in(value: Any) -> set[str]:
    """Every string under a "FunctionName" key anywhere in a parsed JSON document."""
    found: set[str] = set()
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "FunctionName" and isinstance(v, str):
                found.add(v)
            else:
                found |= function_names_in(v)
    elif isinstance(value, list):
        for v in value:
            found |= function_names_in(v)
    return found


def wait_until(pred: Callable[[], bool], timeout: float, what: str, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


# ---------------------------------------------------------------------------------------------
# Invoke: function packages, runtimes, a server that can run functions


FUNCTIONS = Path(__file__).resolve().parent / "functions"
PYTHON_RUNTIME = "python3.12"
NODE_RUNTIME = "nodejs20.x"
PROVIDED_RUNTIME = "provided.al2023"
RUNTIMES_DIR = REPO / "target" / "e2e-runtimes"


def executable_zip(files: dict[str, str | bytes], executable: Iterable[str] = ()) -> bytes:
    """A zip whose entries carry Unix modes: `bootstrap` (anywhere) and the names in
    `executable` are 0755, the rest 0644."""
    marked = set(executable)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for rel, data in files.items():
            info = zipfile.ZipInfo(rel, date_time=(2025, 1, 1, 0, 0, 0))
            info.create_system = 3
            mode = 0o100755 if rel.rsplit("/", 1)[-1] == "bootstrap" or rel in marked else 0o100644
            info.external_attr = (mode << 16) & 0xFFFF0000
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return buf.getvalue()


def function_zip(name: str, extra: dict[str, str | bytes] | None = None) -> bytes:
    """Zips `functions/<name>/` (plus `extra` files), keeping executable bits."""
    root = FUNCTIONS / name
    files: dict[str, str | bytes] = {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }
    files.update(extra or {})
    return executable_zip(files, [rel for rel in files if (root / rel).is_file() and os.access(root / rel, os.X_OK)])


def deploy(lam, source: str, *, runtime: str = PYTHON_RUNTIME, tenant: bool = False, zip_bytes: bytes | None = None, **kw) -> str:
    """Creates a function from `functions/<source>/` (Timeout 30 unless given) and returns its name."""
    default_handler = "index.handler" if runtime.startswith("nodejs") else "bootstrap" if runtime.startswith("provided") else "app.handler"
    params: dict[str, Any] = {"Timeout": 30, "Handler": default_handler}
    params.update(kw)
    name = params.pop("FunctionName", None) or unique_name(source.replace("_", "-"))
    code = zip_bytes if zip_bytes is not None else function_zip(source)
    create_function(lam, name, zip_bytes=code, tenant=tenant, Runtime=runtime, **params)
    return name


@dataclasses.dataclass
class Invoked:
    """One Invoke as boto3 saw it, with the payload read and (when JSON) parsed."""

    status: int
    raw: bytes
    function_error: str | None
    executed_version: str | None
    log: str | None
    request_id: str | None

    @property
    def payload(self) -> Any:
        return json.loads(self.raw) if self.raw else None


def invoke(lam, name: str, event: Any = None, *, tenant: str | None = None, tail: bool = False, **kw) -> Invoked:
    params: dict[str, Any] = {"FunctionName": name, "Payload": json.dumps({} if event is None else event).encode()}
    if tenant is not None:
        params["TenantId"] = tenant
    if tail:
        params["LogType"] = "Tail"
    params.update(kw)
    r = lam.invoke(**params)
    body = r["Payload"].read() if "Payload" in r else b""
    log = r.get("LogResult")
    return Invoked(
        status=r["StatusCode"],
        raw=body,
        function_error=r.get("FunctionError"),
        executed_version=r.get("ExecutedVersion"),
        log=base64.b64decode(log).decode(errors="replace") if log else None,
        request_id=r["ResponseMetadata"].get("RequestId"),
    )


def invoke_ok(lam, name: str, event: Any = None, **kw) -> Any:
    """Invoke that must succeed without a function error; returns the parsed payload."""
    r = invoke(lam, name, event, **kw)
    assert (r.status, r.function_error) == (200, None), f"invoke {name} failed: {r.status} {r.function_error} {r.raw[:2000]!r}"
    return r.payload


def environments(endpoint: str) -> dict[str, Any]:
    """GET /bulkhead/v1/environments: {"Environments": [...], "Stats": {...}}."""
    r = signed_request(endpoint, "GET", "/bulkhead/v1/environments")
    assert r.status == 200, (r.status, r.body)
    return r.json


def environments_of(endpoint: str, function: str) -> list[dict[str, Any]]:
    """The function's tenant environments; spares (initialised, no tenant yet) are left out."""
    return [
        e
        for e in environments(endpoint)["Environments"]
        if e.get("FunctionName") == function and e.get("State") != "spare"
    ]


def spares_of(endpoint: str, function: str) -> list[dict[str, Any]]:
    return [
        e
        for e in environments(endpoint)["Environments"]
        if e.get("FunctionName") == function and e.get("State") == "spare"
    ]


def environments_created(endpoint: str) -> int:
    return int(environments(endpoint)["Stats"]["EnvironmentsCreated"])


_RUNTIMES: dict[str, Any] = {}


def ensure_runtimes() -> tuple[Path | None, str]:
    """Installs the Python and Node.js runtime clients once per test session into
    target/e2e-runtimes (kept between sessions; the log goes beside it) and returns
    (runtimes dir, "") or (None, why not)."""
    if "result" in _RUNTIMES:
        return _RUNTIMES["result"]
    help_text = subprocess.run([str(BIN), "runtime", "install", "--help"], capture_output=True, text=True)
    if help_text.returncode != 0:
        result: tuple[Path | None, str] = (None, f"`bulkhead runtime install` is not available: {(help_text.stderr.strip().splitlines() or [''])[0][:200]}")
    else:
        RUNTIMES_DIR.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        # Safe to re-run: families already installed are skipped, so only the first session pays.
        p = subprocess.run(
            [str(BIN), "runtime", "install", "--runtimes-dir", str(RUNTIMES_DIR)],
            capture_output=True, text=True, timeout=1800, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        took = time.monotonic() - started
        (RUNTIMES_DIR.parent / "e2e-runtimes-install.log").write_text(f"exit {p.returncode} after {took:.1f}s\n{p.stdout}\n{p.stderr}")
        if p.returncode != 0:
            result = (None, f"`bulkhead runtime install` failed ({p.returncode}): {p.stderr.strip()[-500:]}")
        else:
            result = (RUNTIMES_DIR, "")
    _RUNTIMES["result"] = result
    return result


def sandbox_tmpdir(prefix: str) -> Path:
    """A fresh directory for a server's data dir that environments can use.

    mkdtemp (and pytest's tmp_path) make 0700 directories; the sandbox's state lives under the
    data dir and its mapped (non-root) ids must be able to traverse the path to it.
    """
    import tempfile

    base = Path(tempfile.mkdtemp(prefix=prefix))
    base.chmod(0o755)
    return base


_INVOKE_SERVER: dict[str, Server] = {}


def invoke_server() -> Server:
    """One `bulkhead serve` for the Invoke tests, with the installed runtimes when there are
    any; started at first use and stopped when the test process exits."""
    srv = _INVOKE_SERVER.get("server")
    if srv is not None and srv.alive():
        return srv
    import atexit

    runtimes, _ = ensure_runtimes()
    base = sandbox_tmpdir("bulkhead-e2e-invoke-")
    args = ["--runtimes-dir", str(runtimes)] if runtimes else []
    srv = Server(base / "data", base / "logs", args=args).start()
    _INVOKE_SERVER["server"] = srv
    atexit.register(_stop_and_drop_data, srv)
    return srv


def _stop_and_drop_data(srv: Server) -> None:
    """Stops a server and removes its data dir; its logs stay for a post-mortem."""
    import shutil

    if srv.alive():
        srv.stop()
    shutil.rmtree(srv.data_dir, ignore_errors=True)


def require_runtimes() -> Path:
    """For tests that run Python or Node.js functions: skips while `bulkhead runtime install`
    does not exist, fails if it exists and fails."""
    import pytest

    runtimes, why = ensure_runtimes()
    if runtimes is None:
        if "is not available" in why:
            pytest.skip(why)
        pytest.fail(why)
    return runtimes

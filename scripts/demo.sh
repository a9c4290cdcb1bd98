#!/usr/bin/env bash
# A short tour: start `bulkhead serve`, create a tenant-isolated function with the bulkhead CLI,
# look at it with the AWS CLI, and watch an attempt to change its tenancy be refused.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi

bash scripts/setup.sh
echo "demo: release build of bulkhead and its agent (scripts/build-release.sh)"
bash scripts/build-release.sh

bin=$repo/target/release/bulkhead
aws=$repo/.venv/bin/aws
work=$(mktemp -d)
server_pid=

cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# The documented local key pair: accepted only when no keys are configured, on loopback only.
# An empty HOME and AWS config keep the host's own AWS profiles out of the demo.
export AWS_ACCESS_KEY_ID=BULKHEADLOCALDEMOKEY
export AWS_SECRET_ACCESS_KEY=bulkhead/local/demo/secret/not/for/prod
export AWS_DEFAULT_REGION=us-east-1
export AWS_CONFIG_FILE=$work/aws-config AWS_SHARED_CREDENTIALS_FILE=$work/aws-credentials
export AWS_EC2_METADATA_DISABLED=true
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL AWS_ENDPOINT_URL_LAMBDA BULKHEAD_ACCESS_KEYS || true

# The Python runtime client (awslambdaric) from PyPI, shared by demo runs.
"$bin" runtime install python --runtimes-dir "$repo/target/runtimes"
"$bin" serve --listen 127.0.0.1:0 --data-dir "$work/data" --runtimes-dir "$repo/target/runtimes" \
  >"$work/server.out" 2>"$work/server.log" &
server_pid=$!

endpoint=
for _ in $(seq 1 300); do
  line=$(head -n 1 "$work/server.out" 2>/dev/null || true)
  case $line in
  "bulkhead listening on "*)
    endpoint=${line#bulkhead listening on }
    break
    ;;
  esac
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "demo: the server exited early:" >&2
    cat "$work/server.log" >&2
    exit 1
  fi
  sleep 0.1
done
[ -n "$endpoint" ] || {
  echo "demo: the server did not start within 30 s" >&2
  cat "$work/server.log" >&2
  exit 1
}
export BULKHEAD_ENDPOINT=$endpoint

show() {
  printf '\n$ %s\n' "$*"
  "$@"
}

echo
echo "=== bulkhead serve is listening on $endpoint"

mkdir -p "$work/hello"
cat >"$work/hello/app.py" <<'PY'
import os

invocations = 0  # lives as long as this tenant's environment


def handler(event, context):
    # Each tenant gets execution environments of its own; context.tenant_id says whose this is.
    global invocations
    invocations += 1
    path = "/tmp/invocations"
    on_disk = int(open(path).read()) + 1 if os.path.exists(path) else 1
    open(path, "w").write(str(on_disk))
    print(f"hello {event.get('name', 'world')} from tenant {context.tenant_id}")
    return {"tenant": context.tenant_id, "inMemory": invocations, "inTmp": on_disk}
PY

echo
echo "=== 1. Create a tenant-isolated function with the bulkhead CLI"
show "$bin" function create hello-tenants --runtime python3.12 --handler app.handler \
  --code "$work/hello" --tenant-isolation

echo
echo "=== 2. List and get it"
show "$bin" function list
show "$bin" function get hello-tenants

echo
echo "=== 3. The same function through the unmodified AWS CLI"
show "$aws" --endpoint-url "$endpoint" lambda get-function-configuration --function-name hello-tenants
show "$aws" --endpoint-url "$endpoint" lambda get-function-configuration --function-name hello-tenants \
  --query TenancyConfig

echo
echo "=== 4. Tenancy is fixed at creation: changing it is refused"
echo
echo "\$ aws lambda update-function-configuration --function-name hello-tenants --tenancy-config ..."
if "$aws" --endpoint-url "$endpoint" lambda update-function-configuration --function-name hello-tenants \
  --tenancy-config '{"TenantIsolationMode":"PER_TENANT"}' 2>"$work/refusal.txt"; then
  echo "demo: unexpected: the AWS CLI accepted a tenancy change" >&2
  exit 1
fi
# Only the CLI's verdict; the rest of its output is the generic usage banner.
grep -E 'Unknown options' "$work/refusal.txt" | sed 's/^/  /' || sed 's/^/  /' "$work/refusal.txt"
echo
echo "The AWS CLI refuses it before sending. Sent anyway, as a raw signed request, the server refuses it:"
BULKHEAD_ENDPOINT=$endpoint "$repo/.venv/bin/python" - <<'PY'
import json, os, urllib.request
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

endpoint = os.environ["BULKHEAD_ENDPOINT"]
body = json.dumps({"TenancyConfig": {"TenantIsolationMode": "PER_TENANT"}}).encode()
req = AWSRequest(method="PUT", url=f"{endpoint}/2015-03-31/functions/hello-tenants/configuration",
                 data=body, headers={"Content-Type": "application/json"})
SigV4Auth(Credentials(os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"]),
          "lambda", "us-east-1").add_auth(req)
raw = urllib.request.Request(req.url, data=body, headers=dict(req.headers.items()), method="PUT")
try:
    urllib.request.urlopen(raw, timeout=30)
    raise SystemExit("demo: unexpected: the server accepted a tenancy change")
except urllib.error.HTTPError as e:
    print(f"  HTTP {e.code} {e.headers.get('x-amzn-ErrorType', '').split(':')[0]}: {e.read().decode()}")
PY

echo
echo "=== 5. Invoke with tenant ids: each tenant gets environments of its own"
show "$bin" invoke hello-tenants --tenant-id blue --payload '{"name":"demo"}'
show "$bin" invoke hello-tenants --tenant-id blue --payload '{"name":"demo"}'
show "$bin" invoke hello-tenants --tenant-id green --payload '{"name":"demo"}' --log-type Tail
printf '\n$ aws lambda invoke --function-name hello-tenants --tenant-id blue ...\n'
"$aws" --endpoint-url "$endpoint" lambda invoke --function-name hello-tenants --tenant-id blue \
  --payload '{"name":"aws-cli"}' "$work/out.json" >/dev/null
cat "$work/out.json"
echo
echo
echo "Without a tenant id, a tenant-isolated function refuses the invocation:"
"$bin" invoke hello-tenants --payload '{}' 2>&1 | sed 's/^/  /' || true
show "$bin" env list

echo
echo "=== done; stopping the server"

#!/usr/bin/env bash
# Runs the benchmarks behind docs/benchmarks.md, as root, on release builds: sandbox creation
# (cargo bench) and the end-to-end invoke benchmark (bulkhead-bench). Prints Markdown tables.
# Figures are only comparable within one run: each is printed beside its floor from that run.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi

bash scripts/setup.sh
bash scripts/build-release.sh bulkhead-fixtures bulkhead-benches
target/release/bulkhead runtime install --runtimes-dir target/runtimes

echo
echo "## Sandbox creation"
cargo bench --locked -p bulkhead-sandbox --bench create 2>/dev/null
# The kernel tears the sandbox benchmark's network namespaces down asynchronously, for seconds
# after its last environment ended; let it finish so the invoke figures measure only themselves.
sleep 10
echo
echo "## Invoke"
# Environments see the host's environment variables only through what Bulkhead passes, so the
# floors run without the caller's (NODE_EXTRA_CA_CERTS alone adds ~50 ms to `node -e 0`).
env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/root target/release/bulkhead-bench target/runtimes

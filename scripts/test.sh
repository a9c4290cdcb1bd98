#!/usr/bin/env bash
# The whole check, as CI runs it: formatting, lints, build, unit tests, then the end-to-end
# suite against the real binary with boto3 and the AWS CLI.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi

step() { printf '\n==> %s\n' "$*"; }

step "setup"
bash scripts/setup.sh

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo build"
cargo build --workspace --locked

step "cargo test"
cargo test --workspace --locked

step "static agent"
# Release builds link the agent statically (scripts/build-release.sh); the end-to-end tests below
# run with it that way too.
cargo rustc --locked -p bulkhead-agent --bin bulkhead-agent -- -C target-feature=+crt-static

step "end-to-end tests (pytest)"
BULKHEAD_BIN="$PWD/target/debug/bulkhead" .venv/bin/python -m pytest tests/e2e -q -p no:cacheprovider

#!/usr/bin/env bash
# Release build of the server and its agent (plus any packages named as arguments). The agent is
# linked statically: every environment execs it, and the dynamic loader costs ~0.25 ms of CPU per
# exec, about 5 % of the creation rate (docs/benchmarks.md). `cargo rustc` puts the flag on the
# agent alone; a workspace-wide crt-static would break proc-macro crates.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(-p bulkhead -p bulkhead-agent)
for p in "$@"; do packages+=(-p "$p"); done
cargo build --release --locked "${packages[@]}"
cargo rustc --release --locked -p bulkhead-agent --bin bulkhead-agent -- -C target-feature=+crt-static

#!/usr/bin/env bash
# Installs what building Bulkhead and running its end-to-end tests need on Debian 12.
# Safe to run again: every step is skipped when its result is already there.
# Cargo itself is left to the callers (scripts/test.sh, scripts/demo.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'setup: %s\n' "$*"; }
die() {
  printf 'setup: error: %s\n' "$*" >&2
  exit 1
}

# rustup puts cargo in ~/.cargo/bin, which a non-login shell (CI) may not have on PATH.
if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi
command -v cargo >/dev/null 2>&1 ||
  die "cargo not found: install the Rust toolchain with rustup (https://rustup.rs) and retry"
say "cargo found: $(cargo --version)"

# cmake, autotools and g++ build the Node.js runtime client's native addon (bulkhead runtime install node).
packages=(gcc g++ make pkg-config python3 python3-venv python3-pip zip unzip curl cmake autoconf automake libtool)
missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  [ "$(id -u)" -eq 0 ] || die "missing packages (${missing[*]}) and not root: run as root"
  say "apt-get update (missing: ${missing[*]})"
  apt-get update -qq
  say "apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  say "system packages present"
fi

# Debian's interpreter, not whatever python3 a version manager puts first on PATH, so the
# venv is the same on a developer's machine and on a fresh CI machine.
python=/usr/bin/python3
[ -x "$python" ] || python=$(command -v python3)
req=tests/e2e/requirements.txt
stamp=.venv/.requirements.sha256
want=$(sha256sum "$req" | cut -d' ' -f1)
if [ -x .venv/bin/python ] && .venv/bin/python -c 'import sys' 2>/dev/null &&
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  say "python venv up to date (.venv)"
else
  if ! [ -x .venv/bin/python ] || ! .venv/bin/python -c 'import sys' 2>/dev/null; then
    say "create .venv with $("$python" --version 2>&1)"
    rm -rf .venv
    "$python" -m venv .venv
  fi
  say "pip install -r $req"
  .venv/bin/python -m pip install --disable-pip-version-check --no-input -q -r "$req"
  printf '%s\n' "$want" >"$stamp"
fi
say "done"

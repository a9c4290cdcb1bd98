#!/bin/sh
# What `bulkhead runtime install` needs on a Debian host, beyond the interpreters.
#   python: python3 + pip (awslambdaric ships a manylinux wheel for CPython 3.11 on x86_64 and
#           aarch64, so nothing is compiled).
#   node:   aws-lambda-ric 3.3.0 builds its native addon at install: curl 7.83 with autotools
#           (autoconf, automake, libtool), aws-lambda-cpp with cmake, then node-gyp (python3, make,
#           g++). node-gyp needs the Node.js headers next to node (`<prefix>/include/node`); the
#           nodesource `nodejs` package has them, Debian's own nodejs needs `libnode-dev`.
set -eu
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
  python3 python3-pip \
  cmake make g++ autoconf automake libtool
if ! command -v node >/dev/null 2>&1; then
  apt-get install -y -qq --no-install-recommends nodejs npm libnode-dev
fi

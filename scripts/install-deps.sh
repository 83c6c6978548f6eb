#!/usr/bin/env bash
# Installs what building and testing DataMesh needs, from Debian 12 (bookworm) packages.
# Run as root: sudo ./scripts/install-deps.sh
# Safe to run again: apt-get skips what is already installed.
set -euo pipefail

packages=(
  cmake                # 3.25: presets v6, workflow presets
  ninja-build          # the presets' generator
  g++                  # g++ 12, with the ASan/UBSan/TSan runtimes
  libboost1.81-dev     # Boost.Asio and Boost.Lockfree (header-only)
  doctest-dev          # tests: doctestConfig.cmake, doctest_discover_tests
  libbenchmark-dev     # bench/: Google Benchmark 1.7
  clang-format-14      # the formatting check in .ci/run
  clang-16             # the libFuzzer target (the fuzz preset)
  libclang-rt-16-dev   # libFuzzer and clang's sanitizer runtimes
  libhiredis-dev       # the optional Redis Streams connector (datamesh::redis): hiredis 0.14
  pkgconf              # finds hiredis
  redis-server         # 7.0: the connector's tests start their own, on 127.0.0.1
  ca-certificates
  git
)

if [[ "$(id -u)" -ne 0 ]]; then
  echo "install-deps.sh: must run as root (try: sudo $0)" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
echo "+ apt-get update"
apt-get update
echo "+ apt-get install -y --no-install-recommends ${packages[*]}"
apt-get install -y --no-install-recommends "${packages[@]}"

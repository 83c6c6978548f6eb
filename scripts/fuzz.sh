#!/usr/bin/env bash
# Builds the libFuzzer target (the `fuzz` preset: clang++-16, ASan + UBSan) and fuzzes the public
# API for a bounded time, starting from the seed corpus in tests/fuzz/corpus/.
#
#   ./scripts/fuzz.sh [seconds]     default 60; DATAMESH_FUZZ_SECONDS also sets it
#
# New inputs go to build/fuzz/corpus/, never into the source tree; a crash is written to
# build/fuzz/crash-* and the script fails. To keep a finding as a regression test, copy the input
# into tests/fuzz/corpus/: the fuzzer starts from that directory, and the ci preset replays it as
# the fuzz.corpus test.
# Needs the packages from scripts/install-deps.sh (clang-16, libclang-rt-16-dev).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

seconds="${1:-${DATAMESH_FUZZ_SECONDS:-60}}"
case "$seconds" in
  -h|--help) sed -n '2,12s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;;
  ''|*[!0-9]*) echo "fuzz.sh: seconds must be a number, not '$seconds'" >&2; exit 2 ;;
esac

run() {
  echo "+ $*"
  "$@"
}

run cmake --preset fuzz
run cmake --build --preset fuzz

work=build/fuzz/corpus
mkdir -p "$work"
# -timeout: one input taking 10 s is a hang. -rss_limit_mb: the sanitizers' shadow memory counts.
# The sanitizer runtimes of clang 16 handle high mmap randomisation, so no setarch here.
run env ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  build/fuzz/tests/fuzz/datamesh_fuzz_api \
  -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 \
  -artifact_prefix=build/fuzz/ "$work" tests/fuzz/corpus
echo "fuzz.sh: no crash in ${seconds} s"

#!/usr/bin/env bash
# Configures, builds and tests DataMesh.
#
#   ./scripts/test.sh               the newcomer's test command: the `ci` workflow preset, a
#                                   Release build with -Werror and asserts, and the whole suite
#                                   (unit, stress, compile-fail, package, fuzz-corpus, examples)
#   ./scripts/test.sh --sanitizers  what CI adds (.ci/run): the stress tests (all the tests with
#                                   real threads) under ThreadSanitizer (tsan), the unit and
#                                   stress tests under AddressSanitizer + UBSan (asan); the
#                                   examples, compile-fail and package tests run in Release only;
#                                   then the libFuzzer target (ASan + UBSan) from the seed corpus
#                                   for DATAMESH_FUZZ_SECONDS (default 60; scripts/fuzz.sh)
#   ./scripts/test.sh --all         both, in that order
#
# Each step prints its time. Idempotent: build trees live in build/<preset> and are reused;
# re-running rebuilds what changed. Needs the packages from scripts/install-deps.sh.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

release=1
sanitizers=0
for arg in "$@"; do
  case "$arg" in
    --quick) ;;  # the default since the sanitizers moved to --sanitizers; kept for old scripts
    --sanitizers) release=0; sanitizers=1 ;;
    --all) release=1; sanitizers=1 ;;
    -h|--help) sed -n '2,16s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "test.sh: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

run() {
  echo "+ $*"
  local start=$SECONDS
  "$@"
  echo "  ($((SECONDS - start)) s)"  # where a CI run's time goes
}

total=$SECONDS
if [[ "$release" == 1 ]]; then
  run cmake --workflow --preset ci
  echo "test.sh: the Release build passed the whole suite ($((SECONDS - total)) s)"
fi
if [[ "$sanitizers" == 0 ]]; then
  exit 0
fi

# Sanitizer runtimes of GCC 12 fail ("unexpected memory mapping") on kernels with more than 28
# bits of mmap randomisation; run those builds with address randomisation off there. The build
# is wrapped too, because it runs the test executables to list their test cases.
wrap=()
rnd_bits="$(cat /proc/sys/vm/mmap_rnd_bits 2>/dev/null || echo 0)"
if [[ "$rnd_bits" -gt 28 ]] && command -v setarch >/dev/null; then
  echo "note: vm.mmap_rnd_bits=$rnd_bits > 28, running sanitizer builds under setarch -R"
  wrap=(setarch "$(uname -m)" -R)
fi
for preset in tsan asan; do
  run cmake --preset "$preset"
  run "${wrap[@]}" cmake --build --preset "$preset"
  run "${wrap[@]}" ctest --preset "$preset"
done

run ./scripts/fuzz.sh "${DATAMESH_FUZZ_SECONDS:-60}"

echo "test.sh: all tests passed ($((SECONDS - total)) s)"

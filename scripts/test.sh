#!/usr/bin/env bash
# Configures, builds and tests DataMesh the way CI does. The whole suite (unit, stress,
# compile-fail, package, fuzz-corpus and example tests; -Werror, asserts on) runs three times:
# the `ci` workflow preset (Release), ThreadSanitizer (tsan), and AddressSanitizer + UBSan with
# leak checks (asan). Then the libFuzzer target runs for DATAMESH_FUZZ_SECONDS (default 60;
# scripts/fuzz.sh).
#
#   ./scripts/test.sh          all of it
#   ./scripts/test.sh --quick  the ci workflow only
#
# Idempotent: build trees live in build/<preset> and are reused; re-running rebuilds what changed.
# Needs the packages from scripts/install-deps.sh.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

quick=0
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1 ;;
    -h|--help) sed -n '2,12s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "test.sh: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

run() {
  echo "+ $*"
  local start=$SECONDS
  "$@"
  echo "  ($((SECONDS - start)) s)"  # where a CI run's time goes
}

run cmake --workflow --preset ci
if [[ "$quick" == 1 ]]; then
  echo "test.sh: ci passed (--quick: no sanitizers, no fuzzing)"
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

echo "test.sh: all tests passed"

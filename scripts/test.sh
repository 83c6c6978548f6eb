#!/usr/bin/env bash
# Configures, builds and tests DataMesh the way CI does: the `ci` workflow preset (Release,
# -Werror, asserts on; unit, stress, compile-fail, package and example tests).
#
#   ./scripts/test.sh          the ci workflow, then the whole suite under ThreadSanitizer (tsan)
#   ./scripts/test.sh --all    also under AddressSanitizer + UBSan (asan; DATAMESH_SANITIZE=1)
#
# Idempotent: build trees live in build/<preset> and are reused; re-running rebuilds what changed.
# Needs the packages from scripts/install-deps.sh.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

sanitize="${DATAMESH_SANITIZE:-0}"
for arg in "$@"; do
  case "$arg" in
    --all) sanitize=1 ;;
    -h|--help) sed -n '2,9s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "test.sh: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

run() {
  echo "+ $*"
  "$@"
}

run cmake --workflow --preset ci

# Sanitizer runtimes of GCC 12 fail ("unexpected memory mapping") on kernels with more than 28
# bits of mmap randomisation; run those builds with address randomisation off there. The build
# is wrapped too, because it runs the test executables to list their test cases.
wrap=()
rnd_bits="$(cat /proc/sys/vm/mmap_rnd_bits 2>/dev/null || echo 0)"
if [[ "$rnd_bits" -gt 28 ]] && command -v setarch >/dev/null; then
  echo "note: vm.mmap_rnd_bits=$rnd_bits > 28, running sanitizer builds under setarch -R"
  wrap=(setarch "$(uname -m)" -R)
fi
presets=(tsan)  # the stress tests' threads, every run
if [[ "$sanitize" == 1 ]]; then
  presets+=(asan)
fi
for preset in "${presets[@]}"; do
  run cmake --preset "$preset"
  run "${wrap[@]}" cmake --build --preset "$preset"
  run "${wrap[@]}" ctest --preset "$preset"
done

echo "test.sh: all tests passed"

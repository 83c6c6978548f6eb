#!/usr/bin/env bash
# Builds DataMesh (default preset: Release) and runs the demo: the sensor network mesh.
# Arguments are passed to the example, e.g. ./scripts/demo.sh --quick
# Needs the packages from scripts/install-deps.sh.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

run() {
  echo "+ $*"
  "$@"
}

run cmake --preset default
run cmake --build --preset default --target example_sensor_mesh
run ./build/default/examples/example_sensor_mesh "$@"

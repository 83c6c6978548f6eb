#!/usr/bin/env bash
# Compares two builds of bench/datamesh_bench, the way a hot-path change quotes its figures.
#
#   scripts/bench-compare.sh BEFORE AFTER [FILTER] [ROUNDS]
#   scripts/bench-compare.sh --work BEFORE AFTER [FILTER]
#
# Wall clock (default): runs BEFORE, AFTER, BEFORE, ... ROUNDS times each (default 20) and
# prints, per benchmark, the median of the per-round ratios AFTER/BEFORE of items_per_second
# with a bootstrap 90% interval. On a shared 2-core machine one binary's runs spread 10-30%,
# so read the interval: a copy of one binary compared with itself lands anywhere in 0.9-1.15.
#
# Work (--work): counts the instructions each binary executes for one iteration of each
# benchmark under callgrind (valgrind). The count does not drift with the machine's load, so it
# shows what a change costs per event even where the wall clock cannot (about 3 minutes per
# benchmark).
#
# FILTER is a --benchmark_filter regex (default: every DataMesh workload, baselines excluded).
# Needs python3; --work needs valgrind.
set -euo pipefail

work=0
if [[ "${1:-}" == "--work" ]]; then
  work=1
  shift
fi
if [[ $# -lt 2 ]]; then
  sed -n '2,17s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
  exit 2
fi
before="$1"
after="$2"
filter="${3:-W[1-8]_(producer|broadcast_4|partition_4|route|mesh|plain|consumer_sup)}"
rounds="${4:-20}"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

if [[ "$work" == 1 ]]; then
  mapfile -t names < <("$before" --benchmark_list_tests --benchmark_filter="$filter")
  printf '%-56s %14s %14s %8s\n' benchmark before after change
  for name in "${names[@]}"; do
    counts=()
    for bin in "$before" "$after"; do
      # Anchored: a name is a prefix of others (max:10 and max:1000).
      counts+=("$(valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" \
        --benchmark_filter="^${name}\$" --benchmark_min_time=0.001 2>&1 |
        awk '/Collected/ {print $NF}')")
    done
    awk -v n="$name" -v b="${counts[0]}" -v a="${counts[1]}" \
      'BEGIN { printf "%-56s %14d %14d %+7.1f%%\n", n, b, a, (a / b - 1) * 100 }'
  done
  exit 0
fi

for ((i = 1; i <= rounds; ++i)); do
  for side in before after; do
    bin="$before"
    [[ "$side" == after ]] && bin="$after"
    "$bin" --benchmark_filter="$filter" --benchmark_min_time=0.2 --benchmark_format=csv \
      2>/dev/null | grep '^"BM' >"$out/${side}_$i.csv"
  done
done

python3 - "$out" "$rounds" <<'PY'
import csv, random, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
rate = {}  # (side, name) -> {round: items_per_second}
for side in ("before", "after"):
    for r in range(1, rounds + 1):
        for row in csv.reader(open(f"{out}/{side}_{r}.csv")):
            if len(row) > 6 and row[6]:
                rate.setdefault((side, row[0]), {})[r] = float(row[6])
random.seed(1)
print(f"{'benchmark':56s} {'before':>10s} {'after':>10s}  ratio  90% interval")
for (side, name), b in sorted(rate.items()):
    if side != "before":
        continue
    a = rate.get(("after", name), {})
    ratios = [a[r] / b[r] for r in b if r in a]
    if not ratios:
        continue
    med = statistics.median(ratios)
    boot = sorted(statistics.median(random.choices(ratios, k=len(ratios))) for _ in range(2000))
    print(f"{name:56s} {statistics.median(b.values()) / 1e6:9.2f}M "
          f"{statistics.median(a.values()) / 1e6:9.2f}M  {med:5.2f}  "
          f"[{boot[100]:4.2f}, {boot[1899]:4.2f}]")
PY

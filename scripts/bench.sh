#!/usr/bin/env bash
# The issue 14 benchmark suite in one command; prints the measured-vs-target table.
#
#   scripts/bench.sh                      # everything (well under an hour on 2 cores after the
#                                         # builds; the python-gitlab peer is sequential and takes
#                                         # several minutes on each events-dominated instance)
#   scripts/bench.sh --only 2,4           # some targets (1 2 3 4 5); BENCH_ONLY=2,4 does the same
#   scripts/bench.sh --only 1 --users 2000 --big-users 20000   # other flags go to the driver
#
# The targets (issue 14, section 2): 1 = 10,000 members vs the python-gitlab peer on both shapes
# (~1% and ~30% active); 2 = 200,000 members in one invocation (time, peak RSS, requests);
# 3 = GitLab.com flavour vs the peer; 4 = 2,000 requests/min with RateLimit headers only on the
# 429; 5 = issue 6's render, DynamoDB write units, Lambda binary size and cold start.
#
# Builds the release binaries once, installs python-gitlab into .venv, then runs
# `seatwatch-bench` (bench/src/main.rs), which serves the simulated GitLab itself and runs the
# release `seatwatch collect`, the python-gitlab peer and the Lambda binaries as child processes.
# Target 5's render and write-unit figures are measured by `cargo bench -p seatwatch-testkit
# --bench render` and tests/store_dynamodb.rs; their output is kept in target/bench/ and
# summarised in the same table.
set -euo pipefail
cd "$(dirname "$0")/.."

only="${BENCH_ONLY:-1,2,3,4,5}"
driver_args=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --only) only="$2"; shift 2 ;;
    --only=*) only="${1#--only=}"; shift ;;
    *) driver_args+=("$1"); shift ;;
  esac
done
wants() { [[ ",$only," == *",$1,"* ]]; }
out=target/bench
mkdir -p "$out"

if [[ ! -x .venv/bin/python ]]; then
  if [[ -d "$HOME/.cache/seatwatch/venv" ]]; then
    ln -sfn "$HOME/.cache/seatwatch/venv" .venv
  else
    python3 -m venv .venv
  fi
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r bench/requirements.txt

echo "== building release binaries (once)" >&2
cargo build --release --workspace --quiet

extra=()
if wants 5; then
  echo "== target 5: cargo bench -p seatwatch-testkit --bench render" >&2
  cargo bench --quiet -p seatwatch-testkit --bench render | tee "$out/render.log" >&2
  extra+=(--render-log "$out/render.log")
  echo "== target 5: tests/store_dynamodb.rs (moto, started and stopped by the test)" >&2
  cargo test --quiet --test store_dynamodb write_units -- --nocapture 2>&1 | tee "$out/dynamodb.log" >&2
  extra+=(--dynamodb-log "$out/dynamodb.log")
fi

echo "== targets $only (seatwatch-bench)" >&2
started=$(date +%s)
target/release/seatwatch-bench --only "$only" "${extra[@]}" "${driver_args[@]}" | tee "$out/table.md"
echo "== the driver ran $(( $(date +%s) - started )) s; machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out/table.md" >&2

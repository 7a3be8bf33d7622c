#!/usr/bin/env bash
# The issue 6 benchmark suite in one command; prints the measured-vs-target table.
#
#   scripts/bench.sh                # everything (about 15 minutes on 2 cores; the python-gitlab
#                                   # peer alone takes several minutes, it is sequential)
#   BENCH_ONLY=2,4 scripts/bench.sh # some targets (1 2 3 4 5 6 7)
#
# Builds the release binaries once, installs python-gitlab into .venv, then runs
# `seatwatch-bench` (bench/src/main.rs), which serves the simulated GitLab itself and runs the
# release `seatwatch collect`, the python-gitlab peer and the Lambda binaries as child processes.
# Targets 5 and 6 are measured by `cargo bench -p seatwatch-testkit --bench render` and tests/store_dynamodb.rs; their
# output is kept in target/bench/ and summarised in the same table.
set -euo pipefail
cd "$(dirname "$0")/.."

only="${BENCH_ONLY:-1,2,3,4,5,6,7}"
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
fi
if wants 6; then
  echo "== target 6: tests/store_dynamodb.rs (moto, started and stopped by the test)" >&2
  cargo test --quiet --test store_dynamodb write_units -- --nocapture 2>&1 | tee "$out/dynamodb.log" >&2
  extra+=(--dynamodb-log "$out/dynamodb.log")
fi

drive=$(echo "$only" | tr ',' '\n' | grep -E '^[1234]$' | paste -sd, - || true)
echo "== targets ${drive:-none} (seatwatch-bench)" >&2
target/release/seatwatch-bench --only "${drive:-0}" "${extra[@]}" "$@" | tee "$out/table.md"
if wants 7; then
  echo "== target 7: Lambda binaries (release profile, size first)" >&2
  target/release/seatwatch-bench --bin-dir target/release --only 7 | tail -n +4 | tee -a "$out/table.md"
fi

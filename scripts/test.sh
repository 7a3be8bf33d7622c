#!/usr/bin/env bash
# The whole test suite, from a fresh machine or a warm one: installs what the tests need
# (a Python venv with moto and python-gitlab, Debian's chromium, the browser-check npm packages),
# starts one moto server on a free loopback port for the run, runs the format and lint gates and
# every test (with the dependency guard on the Lambda binaries and actionlint on the CI workflow),
# and stops what it started. `.ci/run` calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

log() { printf '\n==> %s\n' "$*"; }

# --- Python tools, in a venv kept outside the clone so CI's fresh clones reuse it -------------
venv="${SEATWATCH_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/seatwatch/venv}"
py_reqs="$root/scripts/requirements-test.txt"
stamp="$venv/.seatwatch-reqs"
if [ ! -x "$venv/bin/python" ] || ! cmp -s "$py_reqs" "$stamp"; then
  log "installing Python test tools into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$py_reqs"
  cp "$py_reqs" "$stamp"
fi
# tests look for .venv at the repo root
if [ ! -e .venv ] || { [ -L .venv ] && [ "$(readlink .venv)" != "$venv" ]; }; then
  ln -sfn "$venv" .venv
fi

# --- Chromium, for the browser checks --------------------------------------------------------
if ! command -v chromium >/dev/null 2>&1; then
  log "installing chromium (Debian package)"
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  fi
fi

# --- node: the browser checks and tests/site_gate.rs (the CloudFront Function) run under it ----
if ! command -v node >/dev/null 2>&1; then
  echo "node is needed (tests/site_gate.rs runs the site's CloudFront Function under it): install Node.js" >&2
  exit 1
fi

# --- npm packages for vnu and axe ------------------------------------------------------------
if [ -f tests/browser/package.json ]; then
  if [ ! -d tests/browser/node_modules ] || [ tests/browser/package-lock.json -nt tests/browser/node_modules ]; then
    log "installing browser-check npm packages"
    (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
    touch tests/browser/node_modules
  fi
fi

# --- one moto server for the whole run, on a free loopback port --------------------------------
moto_pid=""
cleanup() { if [ -n "$moto_pid" ]; then kill "$moto_pid" 2>/dev/null || true; wait "$moto_pid" 2>/dev/null || true; fi; }
trap cleanup EXIT INT TERM
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
"$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >/tmp/seatwatch-moto-$port.log 2>&1 &
moto_pid=$!
for _ in $(seq 1 200); do
  if curl -fsS "http://127.0.0.1:$port/moto-api/" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$moto_pid" 2>/dev/null; then echo "moto_server exited; see /tmp/seatwatch-moto-$port.log" >&2; exit 1; fi
  sleep 0.1
done
export SEATWATCH_TEST_MOTO_URL="http://127.0.0.1:$port"

# --- gates and tests -------------------------------------------------------------------------
log "cargo fmt --check"
cargo fmt --all -- --check
log "actionlint .github/workflows (the CI a fork runs)"
"$venv/bin/actionlint" .github/workflows/*.yml

log "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --quiet -- -D warnings

# Only what runs ships (issue 12): the simulator's HTTP and GraphQL servers, the CLI's argument
# parser and the embedded SQLite store stay out of every Lambda binary. Each Lambda names the store backends it
# runs (crates/seatwatch features); a build without one refuses it by name, tested below.
log "dependency guard: no Lambda binary links axum, async-graphql, clap or rusqlite; the crates keep the data flow's boundaries"
guard_failed=0
for function in seatwatch-check seatwatch-collect seatwatch-report; do
  linked=$(cargo tree --quiet -e normal -p "$function" --prefix none --format '{p}')
  for crate in axum async-graphql clap rusqlite; do
    if grep -q "^$crate v" <<<"$linked"; then
      echo "error: $function depends on $crate, through:" >&2
      cargo tree --quiet -e normal -p "$function" -i "$crate" >&2
      guard_failed=1
    fi
  done
done
# The data flow's boundaries (docs/ARCHITECTURE.md): core knows nothing of GitLab, HTTP, AWS or
# the runtime; the client and the simulator share none of our types.
forbid() { # crate, then what it must not depend on
  local crate=$1; shift
  linked=$(cargo tree --quiet -e normal -p "$crate" --prefix none --format '{p}')
  for dep in "$@"; do
    if grep -q "^$dep v" <<<"$linked"; then
      echo "error: $crate depends on $dep, through:" >&2
      cargo tree --quiet -e normal -p "$crate" -i "$dep" >&2
      guard_failed=1
    fi
  done
}
forbid seatwatch-core tokio reqwest aws-config seatwatch-gitlab seatwatch
forbid seatwatch-gitlab seatwatch-core seatwatch
forbid seatwatch-sim seatwatch-core seatwatch-gitlab seatwatch
[ "$guard_failed" = 0 ] || exit 1
cargo test -p seatwatch --lib --quiet --no-default-features --features dynamodb -- store::
log "cargo test"
cargo test --workspace --quiet --no-fail-fast 2>&1 | tee /tmp/seatwatch-test.log

# tests/iam_enforced.rs (every function under exactly its template statements, moto enforcing
# IAM) starts its own moto server: IAM enforcement is a server-wide setting.
log "Lambda functions under cargo-lambda's runtime emulator"
cargo build --workspace --quiet
.venv/bin/python tests/lambda/emulator_test.py

log "cargo lambda build --release --arm64 (the binaries SAM deploys)"
if ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
  rustup target add aarch64-unknown-linux-gnu
fi
# cargo-lambda finds its zig through the venv's bin
PATH="$venv/bin:$PATH" cargo-lambda lambda build --release --arm64 \
  -p seatwatch-check -p seatwatch-collect -p seatwatch-report
for f in check collect report; do
  test -x "target/lambda/$f/bootstrap" || { echo "target/lambda/$f/bootstrap was not built" >&2; exit 1; }
  printf 'lambda build: %s %s bytes\n' "$f" "$(stat -c %s "target/lambda/$f/bootstrap")"
done

log "infrastructure checks (cfn-lint, checkov, sam validate)"
scripts/infra-check.sh

# The RustSec advisory database is fetched from GitHub, which this workplace cannot reach; the
# check says NOT CHECKED in its summary rather than pass. Point SEATWATCH_ADVISORY_DB at a copy to
# run it offline (see scripts/security-check.sh).
log "dependency policy (cargo deny), advisories (cargo deny, cargo audit), bounded fuzzing"
SECURITY_CHECK_SKIP_ADVISORIES="${SECURITY_CHECK_SKIP_ADVISORIES:-1}" scripts/security-check.sh

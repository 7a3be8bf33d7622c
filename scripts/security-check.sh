#!/usr/bin/env bash
# Dependency and parser checks (issue 7 §4):
#   1. cargo deny check (licences, bans, sources, advisories) against deny.toml;
#   2. cargo audit (RustSec advisories, yanked crates);
#   3. a bounded cargo-fuzz run of each target in fuzz/ (FUZZ_SECONDS each, default 30).
# Installs cargo-deny, cargo-audit and cargo-fuzz with `cargo install --locked` only when missing;
# fuzzing needs the nightly toolchain (`rustup toolchain install nightly`).
#
# The advisory database: cargo deny and cargo audit clone https://github.com/RustSec/advisory-db.
# Where GitHub is unreachable, point SEATWATCH_ADVISORY_DB at a local copy of that repository
# (a git clone or an unpacked snapshot); both tools then run offline against it. With neither,
# the advisory checks did NOT run: the script says so and fails (exit 3), it never reports a pass
# it did not see. SECURITY_CHECK_SKIP_ADVISORIES=1 turns that failure into a loud warning, for
# machines that can reach no copy at all (the summary still says "NOT CHECKED").
#
# Exit: 0 all ran and passed; 1 a check found something; 3 advisories could not be checked.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
fuzz_seconds="${FUZZ_SECONDS:-30}"

log() { printf '\n==> %s\n' "$*"; }
failed=0
advisories_unchecked=0
summary=()

ensure_tool() { # ensure_tool BINARY CRATE
  if ! command -v "$1" >/dev/null 2>&1; then
    log "installing $2 (cargo install --locked)"
    cargo install --locked "$2" || { echo "cannot install $2" >&2; exit 1; }
  fi
}
ensure_tool cargo-deny cargo-deny
ensure_tool cargo-audit cargo-audit
ensure_tool cargo-fuzz cargo-fuzz

# --- where the advisory database comes from -------------------------------------------------
cargo_home="${CARGO_HOME:-$HOME/.cargo}"
# cargo-deny keeps its clone under a directory named from the URL's hash (stable per URL).
deny_db="$cargo_home/advisory-dbs/advisory-db-3157b0e258782691"
audit_db="$cargo_home/advisory-db"
offline_db=""
if [ -n "${SEATWATCH_ADVISORY_DB:-}" ]; then
  if [ ! -d "$SEATWATCH_ADVISORY_DB/crates" ]; then
    echo "SEATWATCH_ADVISORY_DB=$SEATWATCH_ADVISORY_DB is not an advisory-db copy (no crates/ folder)" >&2
    exit 1
  fi
  offline_db=$(cd "$SEATWATCH_ADVISORY_DB" && pwd)
  # Both tools open the database as a git repository.
  if [ ! -d "$offline_db/.git" ]; then
    tmp_db=$(mktemp -d)
    cp -r "$offline_db/." "$tmp_db/"
    git -C "$tmp_db" init -q -b main
    git -C "$tmp_db" -c user.name=seatwatch -c user.email=seatwatch@localhost add -A
    git -C "$tmp_db" -c user.name=seatwatch -c user.email=seatwatch@localhost commit -qm snapshot
    offline_db=$tmp_db
  fi
  # The copy replaces the tools' own cached clones (they are caches: the next online run refreshes them).
  mkdir -p "$(dirname "$deny_db")"
  rm -rf "$deny_db" && cp -r "$offline_db" "$deny_db"
  rm -rf "$audit_db" && cp -r "$offline_db" "$audit_db"
fi

# --- 1. cargo deny ----------------------------------------------------------------------------
log "cargo deny check licenses bans sources"
if cargo deny check licenses bans sources; then
  summary+=("cargo deny licenses/bans/sources: ok")
else
  summary+=("cargo deny licenses/bans/sources: FINDINGS")
  failed=1
fi

log "cargo deny check advisories"
deny_fetch=()
[ -n "$offline_db" ] && deny_fetch=(--offline)
deny_out=$(cargo deny "${deny_fetch[@]}" check advisories 2>&1)
deny_rc=$?
printf '%s\n' "$deny_out"
if [ $deny_rc -eq 0 ]; then
  summary+=("cargo deny advisories: ok${offline_db:+ (offline copy $SEATWATCH_ADVISORY_DB)}")
elif grep -q "failed to fetch advisory database\|Could not resolve host\|failed to open advisory database" <<<"$deny_out"; then
  summary+=("cargo deny advisories: NOT CHECKED (advisory database unreachable; set SEATWATCH_ADVISORY_DB)")
  advisories_unchecked=1
else
  summary+=("cargo deny advisories: FINDINGS")
  failed=1
fi

# --- 2. cargo audit ---------------------------------------------------------------------------
log "cargo audit"
audit_args=(--deny warnings)
[ -n "$offline_db" ] && audit_args+=(--no-fetch --db "$audit_db")
audit_out=$(cargo audit "${audit_args[@]}" 2>&1)
audit_rc=$?
printf '%s\n' "$audit_out"
if [ $audit_rc -eq 0 ]; then
  summary+=("cargo audit: ok${offline_db:+ (offline copy)}")
elif grep -qi "couldn't fetch advisory database\|error fetching\|could not resolve host\|failed to\(clone\|fetch\)" <<<"$audit_out"; then
  summary+=("cargo audit: NOT CHECKED (advisory database unreachable; set SEATWATCH_ADVISORY_DB)")
  advisories_unchecked=1
else
  summary+=("cargo audit: FINDINGS")
  failed=1
fi

# --- 3. bounded fuzzing ---------------------------------------------------------------------
# Seeds: the real GitLab bodies and headers in tests/fixtures/gitlab.
fixtures="$root/tests/fixtures/gitlab"
corpus="$root/fuzz/corpus"
mkdir -p "$corpus/gitlab_types" "$corpus/error_response" "$corpus/link_header"
for f in "$fixtures"/*.json; do cp "$f" "$corpus/gitlab_types/"; done
for f in "$fixtures"/error_*; do
  # Two little-endian status bytes, then the body (what the target reads).
  status=$(basename "$f" | sed -E 's/^error_([0-9]+).*/\1/')
  code=$((status - 100))
  { printf "\\x$(printf %02x $((code & 255)))\\x$(printf %02x $((code >> 8)))"; cat "$f"; } \
    >"$corpus/error_response/$(basename "$f")"
done
for f in "$fixtures"/headers_*.txt; do cp "$f" "$corpus/link_header/"; done

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  summary+=("cargo fuzz: NOT RUN (no nightly toolchain: rustup toolchain install nightly)")
  failed=1
else
  # Kept outside the clone so CI's fresh clones reuse the sanitizer build of the dependencies.
  fuzz_target_dir="${SEATWATCH_FUZZ_TARGET:-${XDG_CACHE_HOME:-$HOME/.cache}/seatwatch/fuzz-target}"
  for target in link_header error_response gitlab_types; do
    log "cargo fuzz run $target (${fuzz_seconds}s)"
    out=$(cd fuzz && cargo +nightly fuzz run --target-dir "$fuzz_target_dir" "$target" "corpus/$target" -- \
      -max_total_time="$fuzz_seconds" -max_len=65536 -print_final_stats=1 2>&1)
    rc=$?
    printf '%s\n' "$out" | grep -E "^#[0-9]+.*(DONE|pulse)|stat::|ERROR|panicked|SUMMARY|Test unit written" | tail -12
    execs=$(grep -oE "stat::number_of_executed_units: *[0-9]+" <<<"$out" | grep -oE "[0-9]+$" | tail -1)
    if [ $rc -eq 0 ]; then
      summary+=("cargo fuzz $target: no crash, ${execs:-?} execs in ${fuzz_seconds}s")
    else
      summary+=("cargo fuzz $target: CRASH or build failure (exit $rc; see fuzz/artifacts/$target)")
      failed=1
    fi
  done
fi

log "summary"
printf '  %s\n' "${summary[@]}"
if [ $failed -ne 0 ]; then
  exit 1
fi
if [ $advisories_unchecked -ne 0 ]; then
  if [ "${SECURITY_CHECK_SKIP_ADVISORIES:-0}" = 1 ]; then
    echo "WARNING: advisories were NOT checked (SECURITY_CHECK_SKIP_ADVISORIES=1)" >&2
    exit 0
  fi
  exit 3
fi
exit 0

#!/usr/bin/env bash
# Offline checks of the SAM template (infra/template.yaml): cfn-lint, checkov and
# `sam validate --lint`. Prints `infra: <tool>: ok` (or `FAILED` and the findings) per tool and a
# final `N passed, M failed` line; exits non-zero when any tool finds anything.
#
# Each tool lives in its own venv under ${XDG_CACHE_HOME:-$HOME/.cache}/seatwatch/ because pip,
# asked for all three at once, backtracks to old releases to satisfy their conflicting pins. A venv
# is (re)installed only when its scripts/requirements-*.txt differs from the stamp copy left by the
# last successful install, so a warm run costs only the checks themselves.
#
# Usage: scripts/infra-check.sh [TEMPLATE]   (default: infra/template.yaml)
# Needs: python3 (3.9+) with venv, and the PyPI index for the first run. No AWS account or network
# access is used by the checks: sam gets a fixed region and dummy credentials.

set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TEMPLATE="${1:-$ROOT/infra/template.yaml}"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/seatwatch"
PYTHON="${PYTHON:-python3}"

passed=0
failed=0
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# ensure_venv NAME REQUIREMENTS: make sure $CACHE/NAME holds what REQUIREMENTS asks for.
ensure_venv() {
    local venv="$CACHE/$1" requirements="$2"
    local stamp="$venv/.seatwatch-requirements.txt"
    if [[ -x "$venv/bin/python" ]] && cmp -s "$requirements" "$stamp"; then
        return 0
    fi
    mkdir -p "$CACHE"
    echo "infra: installing $(basename "$requirements") into $venv (first run, or the file changed)" >&2
    (
        # Two checks started at once (CI and a developer, or two worktrees) must not install into
        # the same venv together: the second waits, then finds the stamp and does nothing.
        if command -v flock >/dev/null 2>&1; then
            exec 9>"$venv.lock"
            flock 9
        fi
        if [[ -x "$venv/bin/python" ]] && cmp -s "$requirements" "$stamp"; then
            exit 0
        fi
        rm -f "$stamp"
        "$PYTHON" -m venv --clear "$venv" &&
            "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements" &&
            cp "$requirements" "$stamp"
    ) >"$WORK/install-$1.log" 2>&1
    local status=$?
    if [[ $status -ne 0 ]]; then
        cat "$WORK/install-$1.log" >&2
    fi
    return $status
}

# report TOOL STATUS OUTPUT_FILE: one line per tool; findings only when the tool failed.
report() {
    local tool="$1" status="$2" output="$3"
    if [[ $status -eq 0 ]]; then
        echo "infra: $tool: ok"
        passed=$((passed + 1))
    else
        echo "infra: $tool: FAILED"
        [[ -s "$output" ]] && sed 's/^/    /' "$output"
        failed=$((failed + 1))
    fi
}

if [[ ! -f "$TEMPLATE" ]]; then
    echo "infra: template not found: $TEMPLATE" >&2
    echo "0 passed, 3 failed"
    exit 1
fi

# --- cfn-lint: errors and warnings fail; informational findings are shown but do not fail. -------
out="$WORK/cfn-lint.out"
if ensure_venv cfnlint-venv "$ROOT/scripts/requirements-cfnlint.txt"; then
    "$CACHE/cfnlint-venv/bin/cfn-lint" --format parseable --non-zero-exit-code warning \
        -- "$TEMPLATE" >"$out" 2>&1
    status=$?
    [[ $status -eq 0 && -s "$out" ]] && sed 's/^/infra: cfn-lint: info: /' "$out"
else
    echo "could not install cfn-lint (see the pip output above)" >"$out"
    status=1
fi
report cfn-lint "$status" "$out"

# --- checkov: any failed check or parsing error fails; skips must be inline in the template. -----
out="$WORK/checkov.out"
if ensure_venv checkov-venv "$ROOT/scripts/requirements-checkov.txt"; then
    # BC_SKIP_MAPPING and --skip-download keep checkov from calling home (no network here).
    BC_SKIP_MAPPING=TRUE "$CACHE/checkov-venv/bin/checkov" -f "$TEMPLATE" \
        --framework cloudformation --skip-download --quiet --compact -o json \
        >"$WORK/checkov.json" 2>"$WORK/checkov.err"
    # checkov exits 0 when it could not parse the file at all, so the verdict comes from the
    # summary: something must have passed, and nothing may have failed or been unparseable.
    "$CACHE/checkov-venv/bin/python" - "$WORK/checkov.json" >"$out" 2>&1 <<'PY'
import json, sys
try:
    with open(sys.argv[1], encoding="utf-8") as f:
        doc = json.load(f)
except (OSError, ValueError) as e:
    print(f"checkov printed no JSON report ({e})")
    sys.exit(1)
reports = doc if isinstance(doc, list) else [doc]
passed = failed = skipped = parse_errors = 0
for r in reports:
    summary = r.get("summary", {})
    passed += summary.get("passed", 0)
    failed += summary.get("failed", 0)
    skipped += summary.get("skipped", 0)
    parse_errors += summary.get("parsing_errors", 0)
    for c in r.get("results", {}).get("failed_checks", []):
        print(f"{c.get('check_id')} {c.get('resource')}: {c.get('check_name')}")
print(f"checkov summary: {passed} passed, {failed} failed, {skipped} skipped, "
      f"{parse_errors} parsing errors")
sys.exit(0 if failed == 0 and parse_errors == 0 and passed > 0 else 1)
PY
    status=$?
    if [[ $status -ne 0 && -s "$WORK/checkov.err" ]]; then
        cat "$WORK/checkov.err" >>"$out"
    fi
else
    echo "could not install checkov (see the pip output above)" >"$out"
    status=1
fi
report checkov "$status" "$out"

# --- sam validate --lint: SAM's own view of the template (transform and cfn-lint rules). --------
out="$WORK/sam.out"
if ensure_venv sam-venv "$ROOT/scripts/requirements-sam.txt"; then
    # A fixed region and dummy credentials: validate --lint needs both to start, and must never
    # reach a real account from here.
    (
        cd "$(dirname "$TEMPLATE")" &&
            env AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1 \
                AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_SESSION_TOKEN=testing \
                AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
                SAM_CLI_TELEMETRY=0 \
                "$CACHE/sam-venv/bin/sam" validate --lint --template-file "$TEMPLATE"
    ) >"$out" 2>&1
    status=$?
else
    echo "could not install aws-sam-cli (see the pip output above)" >"$out"
    status=1
fi
report "sam validate" "$status" "$out"

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]

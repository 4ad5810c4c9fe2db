#!/usr/bin/env bash
# Set up everything the test suite needs on a fresh machine, then run it:
# lint (ruff), types (mypy --strict), and pytest (unit, Pilot, snapshot,
# subprocess, git, Chromium, actionlint tests).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PY=${PYTHON:-python3}
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
log=$(mktemp)
if ! { "$VENV/bin/python" -m pip install -q --upgrade pip && "$VENV/bin/python" -m pip install -q -e '.[dev]'; } >"$log" 2>&1; then
  cat "$log"; echo "scripts/test.sh: installing the project failed (log above)" >&2; exit 1
fi
# System tools some tests drive for real: headless Chromium for the HTML
# dashboard, hyperfine and Google Benchmark (g++, libbenchmark-dev) for the
# importer tests, valgrind for instruction counts, Node.js (>= 18) for the Node
# example, its JIT warm-up, the verdict benchmark, the compare tests and
# .cpuprofile profiles, git for the worktree tests, PostgreSQL's server binaries
# for the shared-history tests (they start throwaway servers of their own;
# tests/pg). Installed when apt is usable.
need=()
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v hyperfine >/dev/null 2>&1 || need+=(hyperfine)
command -v valgrind >/dev/null 2>&1 || need+=(valgrind)
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v g++ >/dev/null 2>&1 || need+=(g++)
[ -e /usr/include/benchmark/benchmark.h ] || need+=(libbenchmark-dev)
command -v git >/dev/null 2>&1 || need+=(git)
if ! command -v initdb >/dev/null 2>&1 && ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
  need+=(postgresql)
fi
if [ ${#need[@]} -gt 0 ] && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"; } >"$log" 2>&1 \
    || { cat "$log"; echo "scripts/test.sh: apt-get install ${need[*]} failed" >&2; }
fi
unset NO_COLOR TEXTUAL_THEME
"$VENV/bin/ruff" check .
"$VENV/bin/mypy"
"$VENV/bin/python" -m pytest "$@"

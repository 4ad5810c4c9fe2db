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
"$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
"$VENV/bin/python" -m pip install -q -e '.[dev]'
# System tools some tests drive for real: headless Chromium for the HTML
# dashboard, hyperfine for importer fixtures. Installed when apt is usable.
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v hyperfine >/dev/null 2>&1 || need+=(hyperfine)
if [ ${#need[@]} -gt 0 ] && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
unset NO_COLOR TEXTUAL_THEME
"$VENV/bin/ruff" check perfslo_tui tests benchmarks
"$VENV/bin/mypy"
"$VENV/bin/python" -m pytest "$@"

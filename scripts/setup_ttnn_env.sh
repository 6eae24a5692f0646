#!/usr/bin/env bash
# Create .venv-ttnn/: the side environment with the real `ttnn` package (no torch) that
# tests/conformance drive through subprocesses.  ttnn 0.81.1 ships wheels for CPython 3.10
# and 3.12 only, so the main environment's interpreter cannot host it.
#
#   bash scripts/setup_ttnn_env.sh
#
# Idempotent: if the venv already imports ttnn 0.81.x it only says so.  Fails (exit 1) with
# a one-line hint when no CPython 3.12/3.10 can be found; it never skips silently.
# Environment overrides: TTNN_PYTHON (interpreter to use), TTNN_VENV_DIR (venv location),
# PYENV_ROOT (where pyenv versions live; default ~/.pyenv).
set -euo pipefail

TTNN_SPEC="ttnn==0.81.1"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${TTNN_VENV_DIR:-$ROOT/.venv-ttnn}"
START_NS=$(date +%s%N)

elapsed() { echo "$(( ($(date +%s%N) - START_NS) / 1000000 ))" | awk '{printf "%.1f s", $1 / 1000}'; }
say() { echo "setup_ttnn_env: $*"; }

# ttnn logs at DEBUG level on import; keep it quiet.
export TT_LOGGER_LEVEL="${TT_LOGGER_LEVEL:-FATAL}" LOGURU_LEVEL="${LOGURU_LEVEL:-WARNING}"

venv_ok() {
    [ -x "$VENV/bin/python" ] || return 1
    "$VENV/bin/python" - >/dev/null 2>&1 <<'EOF'
import importlib.metadata as md
assert md.version("ttnn").startswith("0.81."), md.version("ttnn")
import numpy  # noqa: F401
import ttnn  # noqa: F401
EOF
}

venv_describe() {
    "$VENV/bin/python" -c "import importlib.metadata as m, platform; print('ttnn ' + m.version('ttnn') + ', Python ' + platform.python_version())" 2>/dev/null
}

if venv_ok; then
    say "already set up: $VENV ($(venv_describe)); checked in $(elapsed)"
    exit 0
fi

# ---- find CPython 3.12 or 3.10 -----------------------------------------------------------------
candidates=()
[ -n "${TTNN_PYTHON:-}" ] && candidates+=("$TTNN_PYTHON")
for name in python3.12 python3.10; do
    if p="$(command -v "$name" 2>/dev/null)"; then candidates+=("$p"); fi
done
for root in "${PYENV_ROOT:-$HOME/.pyenv}"; do
    for minor in 12 10; do
        for exe in "$root"/versions/3."$minor"*/bin/python3."$minor"; do
            [ -x "$exe" ] && candidates+=("$exe")
        done
    done
done

PY=""
for c in ${candidates[@]+"${candidates[@]}"}; do
    if "$c" -c 'import sys, venv, ensurepip; sys.exit(0 if sys.version_info[:2] in ((3, 12), (3, 10)) else 1)' \
        >/dev/null 2>&1; then
        PY="$c"
        break
    fi
done
if [ -z "$PY" ]; then
    echo "setup_ttnn_env: ERROR: no usable CPython 3.12 or 3.10 (with venv/ensurepip) found; ttnn 0.81.1 has wheels for cp310/cp312 only. Get one with 'pyenv install 3.12' or 'apt-get install python3.12 python3.12-venv', or set TTNN_PYTHON=/path/to/python3.12." >&2
    exit 1
fi
say "using $PY ($("$PY" -c 'import platform; print(platform.python_version())'))"

# ---- build ------------------------------------------------------------------------------------
rm -rf "$VENV"
"$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install --disable-pip-version-check --no-input --progress-bar off -q "$TTNN_SPEC"

if ! venv_ok; then
    echo "setup_ttnn_env: ERROR: $VENV was built but does not import $TTNN_SPEC; see the pip output above." >&2
    exit 1
fi
say "ready: $VENV ($(venv_describe), $(du -sh "$VENV" 2>/dev/null | cut -f1)); setup took $(elapsed)"

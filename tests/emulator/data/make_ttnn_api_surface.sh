#!/bin/sh
# Regenerate ttnn_0.81.1_api_surface.json from the real ttnn wheel (Python 3.12 venv with ttnn 0.81.1).
# Usage: sh tests/emulator/data/make_ttnn_api_surface.sh /tmp/ttnn-venv/bin/python
set -e
PY=${1:-/tmp/ttnn-venv/bin/python}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
TMP=$(mktemp -d)
cp "$ROOT/runtime/emulator/api_surface.py" "$TMP/"
cd "$TMP" && "$PY" -c "import json, ttnn, api_surface; print(json.dumps(api_surface.surface_from_module(ttnn), indent=1))" \
  2>/dev/null > "$HERE/ttnn_0.81.1_api_surface.json"
echo "wrote $HERE/ttnn_0.81.1_api_surface.json"

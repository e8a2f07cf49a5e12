#!/usr/bin/env bash
# Creates .venv with Python 3.10 and installs the pinned dependencies and the
# project. Idempotent: reinstalls only when requirements.lock or setup.py change.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
UV_VERSION=0.13.9
STAMP="$VENV/.installed"

find_python310() {
  local candidate
  if [ -n "${PYTHON:-}" ]; then
    echo "$PYTHON"; return 0
  fi
  for candidate in python3.10 /usr/bin/python3.10 /usr/local/bin/python3.10; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 10)' \
         >/dev/null 2>&1; then
      command -v "$candidate"; return 0
    fi
  done
  if command -v pyenv >/dev/null 2>&1; then
    candidate=$(pyenv versions --bare 2>/dev/null | grep -E '^3\.10(\.[0-9]+)?$' |
                sort -V | tail -n 1 || true)
    if [ -n "$candidate" ]; then
      echo "$(pyenv root)/versions/$candidate/bin/python3.10"; return 0
    fi
  fi
  return 1
}

if [ -f "$STAMP" ] && [ "$STAMP" -nt requirements.lock ] &&
   [ "$STAMP" -nt setup.py ] && [ "$STAMP" -nt overrides.txt ]; then
  exit 0
fi

if ! PY=$(find_python310); then
  cat >&2 <<'MSG'
error: Python 3.10 is required (TFX 1.16 supports 3.9-3.10; this project pins 3.10)
and none was found: not as python3.10 on PATH, nor in pyenv.
Install it (e.g. `pyenv install 3.10` or your distribution's python3.10 package)
or point to one: PYTHON=/path/to/python3.10 make ...
MSG
  exit 1
fi
if ! "$PY" -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null; then
  echo "error: $PY is not Python 3.10 ($("$PY" --version 2>&1))" >&2
  exit 1
fi
echo "Using $("$PY" --version 2>&1) at $PY"

if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
  "uv==$UV_VERSION"
# The lock pins every package; uv installs it without a resolver search.
# Compiled to bytecode here, once: where PYTHONDONTWRITEBYTECODE is set (as on
# some CI runners) Python would otherwise compile TensorFlow and TFX from
# source in every process that imports them (docs/performance.md).
"$VENV/bin/uv" pip install --python "$VENV/bin/python" --compile-bytecode \
  -r requirements.lock --override overrides.txt
"$VENV/bin/uv" pip install --python "$VENV/bin/python" --no-deps -e .
touch "$STAMP"
echo "Environment ready: $VENV"

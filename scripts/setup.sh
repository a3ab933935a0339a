#!/usr/bin/env bash
# Create .venv and install the harness with its test tools. Idempotent: a second run installs nothing new.
# torch is installed first and on its own so pip takes the CPU wheel where one is provided locally
# (torch==2.13.0); elsewhere it falls back to PyTorch's CPU index rather than a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
PIP=(.venv/bin/python -m pip install --disable-pip-version-check -q)
if ! .venv/bin/python -c "import torch" >/dev/null 2>&1; then
  "${PIP[@]}" "torch==2.13.0" 2>/dev/null || "${PIP[@]}" "torch>=2.5" --index-url https://download.pytorch.org/whl/cpu
fi
"${PIP[@]}" -e ".[dev]"

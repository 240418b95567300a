#!/usr/bin/env bash
# Create ./.venv (if needed) and install jp-bench into it with the given extras.
# torch is pinned by constraints.txt to the CPU build, so no CUDA wheels are downloaded.
# Usage: scripts/bootstrap.sh EXTRAS   (e.g. "demo" or "hf,local,judges,dev")
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:?usage: scripts/bootstrap.sh EXTRAS}"
python="${PYTHON:-python3}"
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "jp-bench needs Python 3.11 or newer ($python is $("$python" -V 2>&1))" >&2
  exit 1
fi
[ -x .venv/bin/python ] || "$python" -m venv .venv
# llama-cpp-python compiles llama.cpp; a portable build runs on any x86-64 CPU.
export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF}"
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -c constraints.txt -e ".[${extras}]"

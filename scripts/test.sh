#!/usr/bin/env bash
# The whole test suite in one command: install everything it needs into ./.venv, then run pytest.
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh "hf,local,judges,report,dev"
exec .venv/bin/python -m pytest -q "$@"

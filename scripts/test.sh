#!/usr/bin/env bash
# The whole test suite in one command: install everything it needs into ./.venv, then run pytest
# on two processes (pytest-xdist, a test file stays on one). `scripts/test.sh --fast` runs only the unit tier (`-m unit`: in
# process, no server, browser or model; under 2 minutes). Other arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
tier=()
if [ "${1:-}" = "--fast" ]; then
  shift
  tier=(-m unit)
fi
scripts/bootstrap.sh "hf,local,judges,report,annotate,selfinstruct,finetune,dev"
if [ ${#tier[@]} -gt 0 ]; then
  exec .venv/bin/python -m pytest -q "${tier[@]}" "$@"
fi
# The leaderboard page is tested in a real headless browser (Debian's Chromium).
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "the leaderboard tests need Chromium: sudo apt-get install chromium" >&2
  fi
fi
# Two workers on two cores: each process (and the torch, tokenizer and llama.cpp processes its tests
# start) computes on one thread, so they do not fight over the cores (the suite measured 664 s this way
# against 739 s with every process spreading over both cores). Set them yourself to override.
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" MKL_NUM_THREADS="${MKL_NUM_THREADS:-1}"
# --no-loadscope-reorder: keep tests/conftest.py's order (the slowest files first) instead of xdist's
# (the files with the most tests first), so no long file is left for one worker at the end.
exec .venv/bin/python -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder "$@"

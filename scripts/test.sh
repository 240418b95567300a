#!/usr/bin/env bash
# The whole test suite in one command: install everything it needs into ./.venv, then run pytest.
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh "hf,local,judges,report,annotate,selfinstruct,finetune,dev"
# The leaderboard page is tested in a real headless browser (Debian's Chromium).
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "the leaderboard tests need Chromium: sudo apt-get install chromium" >&2
  fi
fi
exec .venv/bin/python -m pytest -q "$@"

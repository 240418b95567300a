"""Where things are: the checkout, the reference data beside it, the virtual environment's scripts."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("JP_BENCH_SHARED", ROOT.parent / "shared")).resolve()
UPSTREAM_CHECKOUT = SHARED / "data" / "ja-vicuna-qa-benchmark"
BIN = Path(sys.executable).parent

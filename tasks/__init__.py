"""lm-eval task definitions for jp-bench.

Installed as ``jp_bench.tasks``; its folder is what ``jp-bench tasks-path`` prints and what the
``lm_eval.tasks`` entry point names, so lm-eval can index the YAML files here.
"""

from pathlib import Path

TASKS_DIR = Path(__file__).resolve().parent

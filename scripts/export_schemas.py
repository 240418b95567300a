"""Write docs/schemas/*.schema.json from the pydantic models (`--check` compares instead)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pydantic import TypeAdapter

from jp_bench.benchmarks.questions import Question
from jp_bench.judging.records import PairwiseJudgment, SingleJudgment
from jp_bench.reporting.results_schema import render_result_json_schema

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = {
    "question.schema.json": Question,
    "judgment.schema.json": PairwiseJudgment | SingleJudgment,
}


def render(model: object) -> str:
    schema = TypeAdapter(model).json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return json.dumps(schema, ensure_ascii=False, indent=2) + "\n"


def main(argv: list[str]) -> int:
    stale = []
    rendered = {name: render(model) for name, model in SCHEMAS.items()}
    rendered["result.schema.json"] = render_result_json_schema()
    for name, text in rendered.items():
        path = ROOT / "docs" / "schemas" / name
        if "--check" in argv:
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    if stale:
        print("out of date: " + ", ".join(stale) + " (run python scripts/export_schemas.py)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

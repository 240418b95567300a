"""Inputs for the judges leaderboard tests: stand-in candidate judges made from a reference's own verdicts,
and a synthetic human ratings file of llm-jp's llm-human-eval-jp layout (our own text, never theirs)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from tests.support.files import write_jsonl
from tests.support.paths import SHARED

PAPER_PAIRWISE = SHARED / "data" / "ja-vicuna-qa-benchmark" / "jp_bench" / "model_judgment" / "pairwise" / "gpt-4"
SWAP = {"model_1": "model_2", "model_2": "model_1", "tie": "tie", "error": "error"}


def paper_records() -> list[dict[str, Any]]:
    """The paper's published GPT-4 pairwise judgments (both files, in file order)."""
    return [json.loads(line) for path in sorted(PAPER_PAIRWISE.glob("*.jsonl"))
            for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def combined(record: dict[str, Any]) -> str:
    """A record's one verdict from both games, by the rule the paper states: the winner when both games
    name it, else a tie (written here, not taken from the code under test)."""
    return record["g1_winner"] if record["g1_winner"] == record["g2_winner"] else "tie"


def item(record: dict[str, Any]) -> tuple[Any, str, str]:
    return (record["question_id"], record["model_1"], record["model_2"])


def write_candidate(path: Path, records: Iterable[dict[str, Any]], judge: str,
                    games: Callable[[dict[str, Any]], tuple[str, str]]) -> Path:
    """A FastChat pairwise file judged by ``judge``: each record copied (answers too) with the two games'
    winners ``games(record)`` gives."""
    rows = []
    for record in records:
        g1, g2 = games(record)
        rows.append({**record, "judge_model": judge, "g1_winner": g1, "g2_winner": g2})
    return write_jsonl(path, rows)


def prefer_longer(record: dict[str, Any]) -> tuple[str, str]:
    """Both games go to the longer answer (a tie when they are as long)."""
    first, second = len(record["answer_1"]), len(record["answer_2"])
    winner = "model_1" if first > second else "model_2" if second > first else "tie"
    return winner, winner


def write_human_ratings(path: Path, ratings: dict[tuple[str, str, int], list[object]],
                        other_axis: float = 3) -> Path:
    """A ratings file: ``{(prompt id, model, turn): [rater scores on "overall"]}``; every answer also
    gets ``fluency`` ratings of ``other_axis``. Prompts and responses are our own placeholder text."""
    by_prompt: dict[str, dict[int, dict[str, Any]]] = {}
    for (prompt, model, turn), scores in ratings.items():
        turns = by_prompt.setdefault(prompt, {})
        entry = turns.setdefault(turn, {"prompt": f"質問 {prompt} の {turn} 番目", "responses": {}})
        entry["responses"][model] = {"response": f"{model} の回答 {prompt}/{turn}" + "。" * (len(model) + turn),
                                     "human_evals": {"overall": scores,
                                                     "fluency": [other_axis] * len(scores)}}
    rows = [{"id": prompt, "turns": [turns[t] for t in sorted(turns)]} for prompt, turns in by_prompt.items()]
    return write_jsonl(path, rows)

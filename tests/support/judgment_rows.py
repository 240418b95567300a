"""Complete judgments.jsonl rows for tests (the reader checks every field against the documented schema)."""

from __future__ import annotations

from typing import Any

COMMON: dict[str, Any] = {"judge": "gpt-4o", "prompt_set": "ja-v1", "prompt_version": "0123456789ab",
                          "key": "k" * 64, "error": None, "reply": "[[A]]", "attempts": 1, "input_tokens": 10,
                          "output_tokens": 5, "cost_usd": 0.0}


def pairwise_row(question_id: int | str, game: int, winner: str, *, model_1: str = "gamma", model_2: str = "beta",
                 **extra: Any) -> dict[str, Any]:
    """One order of a pairwise judgment; ``winner`` in model terms (model_1, model_2, tie, error)."""
    model_a, model_b = (model_1, model_2) if game == 1 else (model_2, model_1)
    verdict = None if winner == "error" else "C" if winner == "tie" else (
        "A" if (winner == "model_1") == (game == 1) else "B")
    return {**COMMON, "mode": "pairwise", "question_id": question_id, "category": "math", "prompt": "pairwise",
            "status": "error" if winner == "error" else "ok", "model_1": model_1, "model_2": model_2,
            "game": game, "model_a": model_a, "model_b": model_b, "verdict": verdict, "winner": winner,
            "answer_1_chars": 10, "answer_2_chars": 12, **extra}


def single_row(question_id: int | str, model: str, score: float | None, **extra: Any) -> dict[str, Any]:
    return {**COMMON, "mode": "single", "question_id": question_id, "category": "math", "prompt": "single",
            "status": "ok" if score is not None else "error", "model": model, "score": score,
            "answer_chars": 10, **extra}

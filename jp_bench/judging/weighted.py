"""Probability-weighted verdicts: the judge's distribution over verdicts, read at the verdict token.

A judge that returns token log-probabilities (OpenAI non-reasoning models, vLLM, llama.cpp; asked
for with ``weighted: true``) says more than its one sampled verdict: at the position where it wrote
``A`` it may have given ``B`` 30%. We read that position's top alternatives, keep those that are
verdicts (``A``/``B``/``C``/``tie`` for pairwise, ``1``..``10`` for single) and renormalise them.
Averaging these distributions instead of the hard verdicts removes most of the sampling noise of a
judge run at temperature > 0 (``bench/weighted_variance.py`` measures how much).

The verdict token is the last token of the reply that spells the verdict the reply was read as
(``[[A]]`` and ``{"verdict": "A"}`` both end the reply with it). A score written as two tokens
(``1`` ``0``) has no single position to read, and gives no distribution.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Sequence
from typing import Any

from jp_bench.llm.types import TokenLogprob

PAIRWISE_LABELS = ("A", "B", "C")
SCORE_LABELS = tuple(str(k) for k in range(1, 11))
# Characters around a verdict inside one token: "[[A", "A]]", ' "A', "７" (folded by NFKC).
_WRAPPING = " \t\n[]\"'{}:：.,。"


def _label(token: str, kind: str) -> str | None:
    text = unicodedata.normalize("NFKC", token).strip(_WRAPPING)
    if kind == "pairwise":
        if text.lower() == "tie":
            return "C"
        return text if text in PAIRWISE_LABELS else None
    return text if text in SCORE_LABELS else None


def _spelt(parsed: Any, kind: str) -> str | None:
    if kind == "pairwise":
        return parsed if parsed in PAIRWISE_LABELS else None
    if isinstance(parsed, int | float) and float(parsed).is_integer():
        return str(int(parsed))
    return None  # a score such as 7.5 has no single verdict token


def verdict_distribution(kind: str, parsed: Any, logprobs: Sequence[TokenLogprob] | None) -> dict[str, Any] | None:
    """``{"probs": {label: p}, "mass": m}`` at the verdict token, or None when it cannot be read.

    ``probs`` sum to 1 over the verdict labels among the position's alternatives; ``mass`` is the
    probability those labels had before renormalising (low mass: the judge hesitated between a
    verdict and something else, and the distribution says little).
    """
    kind = "single" if kind.startswith("single") else "pairwise"
    wanted = _spelt(parsed, kind)
    if not logprobs or wanted is None:
        return None
    for token in reversed(logprobs):
        if _label(token.token, kind) != wanted:
            continue
        weights: dict[str, float] = {}
        alternatives = token.top or ((token.token, token.logprob),)
        if all(alt != token.token for alt, _ in alternatives):
            alternatives = ((token.token, token.logprob), *alternatives)
        for alt, logprob in alternatives:
            label = _label(alt, kind)
            if label is not None:
                weights[label] = weights.get(label, 0.0) + math.exp(logprob)
        mass = sum(weights.values())
        if mass <= 0:
            return None
        labels = PAIRWISE_LABELS if kind == "pairwise" else SCORE_LABELS
        return {"probs": {k: weights[k] / mass for k in labels if k in weights}, "mass": min(mass, 1.0)}
    return None


def expected_score(distribution: dict[str, Any] | None) -> float | None:
    """Σ p(k)·k of a single-score distribution."""
    if not distribution:
        return None
    total = sum(float(k) * p for k, p in distribution["probs"].items())
    return min(10.0, max(1.0, total))  # never outside the scale by a rounding error

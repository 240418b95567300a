"""Verdict grammars for llama.cpp-served judges (the packaged embedded judge, ``verdict_grammar: true``).

A grammar constrains the reply so a tiny model always ends in a verdict. A score grammar admits
exactly the scale the prompt asks for: the ELYZA rubric's 1–5 judge must not be able to answer 7
(it would only be asked again), while a 1–10 grammar stays byte-identical to the one stored calls
were made with, so their keys do not change.
"""

from __future__ import annotations

import dataclasses

from jp_bench.llm.types import ModelSpec

_REASON = '"理由: " [^\\[\\]\\n]{1,24} "\\n[["'
PAIRWISE_GRAMMAR = f'root ::= {_REASON} [ABC] "]]"'


def score_alternatives(low: int, high: int) -> str:
    """The grammar alternatives for an integer score in [low, high] (1..10: ``([1-9] | "10")``)."""
    if not 0 <= low <= high:
        raise ValueError(f"a score scale needs 0 <= low <= high, not {low}..{high}")
    options = [f"[{low}-{min(high, 9)}]"] if low <= 9 else []  # one-digit scores as a character class
    options += [f'"{n}"' for n in range(max(low, 10), high + 1)]
    return options[0] if len(options) == 1 else "(" + " | ".join(options) + ")"


def verdict_grammar(kind: str, scale: tuple[int, int] = (1, 10)) -> str:
    """The grammar of a ``pairwise`` verdict ([[A]], [[B]], [[C]]) or a ``single`` score on ``scale``."""
    if kind == "pairwise":
        return PAIRWISE_GRAMMAR
    return f'root ::= {_REASON} {score_alternatives(*scale)} "]]"'


def grammar_for_scale(spec: ModelSpec, kind: str, scale: tuple[int, int]) -> ModelSpec:
    """``spec`` with its verdict grammar narrowed to ``scale``, if it carries the 1–10 score grammar.

    A grammar the user wrote (any other text) is left as it is."""
    if kind != "single" or scale == (1, 10) or spec.params.get("grammar") != verdict_grammar("single"):
        return spec
    return dataclasses.replace(spec, params={**spec.params, "grammar": verdict_grammar("single", scale)})

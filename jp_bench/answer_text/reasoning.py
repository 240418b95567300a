"""Reasoning that an evaluated model left in its answer (``<think>…</think>`` and the like), removed before
the answer is judged or measured: the judge is to weigh the answer the user would read, not the model's
scratch work (a long reasoning trace would also pass for a long, thorough answer).

What we do alike with lm-eval's ``think_end_token`` (``lm_eval.models.utils.postprocess_generated_text``,
used by its API, vLLM, SGLang and Hugging Face models): when the answer holds a closing tag, only what
follows the last one is kept, and the whitespace at its start is dropped (lm-eval: ``split(token)[-1]
.lstrip()``). That covers a chat template that opens the reasoning block in the prompt, so the answer
starts inside it and holds the closing tag only. What we add: lm-eval is told one token, we know the
three usual tag names (any letter case, so ``<Think>`` too); complete blocks anywhere are removed, not
only before the last closing tag; and an answer that opens a block at its start and never closes it
(cut off while thinking) is all reasoning, so nothing is left to judge. An opening tag elsewhere,
never closed, is left as it is: the answer may be writing about the tag.
"""

from __future__ import annotations

import re

REASONING_TAGS = ("think", "thinking", "reasoning")

_NAMES = "|".join(REASONING_TAGS)
_BLOCK = re.compile(rf"<(?P<tag>{_NAMES})\s*>.*?</(?P=tag)\s*>", re.DOTALL | re.IGNORECASE)
_CLOSING = re.compile(rf"</(?:{_NAMES})\s*>", re.IGNORECASE)
_OPEN_AT_START = re.compile(rf"\A\s*<(?:{_NAMES})\s*>", re.IGNORECASE)


def strip_reasoning(text: str) -> tuple[str, int]:
    """``text`` without its reasoning, and the number of characters removed (0: ``text`` is returned as
    it is, its leading whitespace included, so an answer without reasoning is judged byte for byte as
    before). See the module docstring for the rules."""
    cleaned = _BLOCK.sub("", text)
    closings = list(_CLOSING.finditer(cleaned))
    if closings:
        cleaned = cleaned[closings[-1].end():]
    if _OPEN_AT_START.match(cleaned):
        cleaned = ""
    if cleaned == text:
        return text, 0
    cleaned = cleaned.lstrip()
    return cleaned, len(text) - len(cleaned)

"""The generated dataset on disk: Alpaca layout plus a chat ``messages`` view, a data card, stats.

``DIR/data/train.jsonl`` and ``DIR/data/train.parquet`` (instruction, input, output, messages,
provenance), ``DIR/README.md`` (a data card whose front matter lets ``datasets.load_dataset(DIR)``
find the files), ``DIR/stats.json`` and ``DIR/stats.png``.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jp_bench._util.atomic import write_bytes_atomic, write_text_atomic


def to_record(item: dict[str, Any]) -> dict[str, Any]:
    instruction, given, output = item["instruction"].strip(), (item.get("input") or "").strip(), item["output"].strip()
    user = f"{instruction}\n\n{given}" if given else instruction
    return {"instruction": instruction, "input": given, "output": output,
            "messages": [{"role": "user", "content": user}, {"role": "assistant", "content": output}],
            "provenance": json.dumps(item.get("provenance", {}), ensure_ascii=False)}


def _leading_words(texts: Sequence[str]) -> tuple[Counter, Counter]:
    """The first verb and the first noun of each instruction, by morphological analysis (UniDic POS)."""
    from jp_bench.selfinstruct.tokenize import morpheme_tagger

    tagger = morpheme_tagger()
    verbs: Counter = Counter()
    nouns: Counter = Counter()
    for text in texts:
        verb = noun = None
        for word in tagger(text):
            pos = word.feature.pos1
            if verb is None and pos == "動詞":
                verb = word.feature.lemma or word.surface
            if noun is None and pos == "名詞":
                noun = word.surface
            if verb and noun:
                break
        if verb:
            verbs[verb] += 1
        if noun:
            nouns[noun] += 1
    return verbs, nouns


def dataset_stats(records: Sequence[dict[str, Any]], drop_counts: dict[str, int]) -> dict[str, Any]:
    import numpy as np

    def lengths(key: str) -> dict[str, float]:
        values = np.array([len(r[key]) for r in records]) if records else np.zeros(0)
        if not len(values):
            return {"mean": 0, "median": 0, "p10": 0, "p90": 0, "max": 0}
        return {"mean": round(float(values.mean()), 1), "median": float(np.median(values)),
                "p10": float(np.percentile(values, 10)), "p90": float(np.percentile(values, 90)),
                "max": int(values.max())}

    verbs, nouns = _leading_words([r["instruction"] for r in records])
    generated = len(records) + sum(drop_counts.values())
    duplicates = drop_counts.get("near_duplicate", 0)
    return {
        "items": len(records),
        "with_input": sum(1 for r in records if r["input"]),
        "candidates": generated,
        "drop_reasons": dict(sorted(drop_counts.items())),
        "duplicate_rate": round(duplicates / generated, 4) if generated else 0.0,
        "chars": {"instruction": lengths("instruction"), "input": lengths("input"), "output": lengths("output")},
        "leading_verbs": verbs.most_common(20),
        "leading_nouns": nouns.most_common(20),
    }


def stats_plot(records: Sequence[dict[str, Any]], stats: dict[str, Any]) -> bytes:
    import io

    import matplotlib

    from jp_bench.reporting.fonts import plot_style

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with plot_style():  # every PNG we write: one style, and a font with Japanese glyphs
        figure, axes = plt.subplots(1, 3, figsize=(13, 3.6))
        for axis, key in zip(axes[:2], ("instruction", "output"), strict=True):
            axis.hist([len(r[key]) for r in records], bins=30, color="#4C72B0")
            axis.set_title(f"{key} length (characters)")
            axis.set_xlabel("characters")
            axis.set_ylabel("items")
        reasons = stats["drop_reasons"]
        axes[2].barh(list(reasons) or ["(none)"], list(reasons.values()) or [0], color="#C44E52")
        axes[2].set_title("dropped candidates by reason")
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
        plt.close(figure)
    return buffer.getvalue()


def data_card(stats: dict[str, Any], info: dict[str, Any]) -> str:
    reasons = "\n".join(f"| {reason} | {count} |" for reason, count in stats["drop_reasons"].items()) or "| - | 0 |"
    verbs = "、".join(f"{word}（{count}）" for word, count in stats["leading_verbs"][:10]) or "-"
    return f"""---
language:
- ja
license: other
task_categories:
- text-generation
pretty_name: {info.get("name", "Japanese self-instruct data")}
configs:
- config_name: default
  data_files:
  - split: train
    path: data/train.jsonl
---

# {info.get("name", "Japanese self-instruct data")}

Japanese instruction data generated with jp-bench's self-instruct pipeline: a strong model wrote new
tasks (instruction, optional input, output) from demonstrations sampled from a Japanese seed set,
and Japanese-aware filters removed near-duplicates and unusable items.

- items: **{stats["items"]}** ({stats["with_input"]} with an input), from {stats["candidates"]} candidates
- generator: `{info.get("generator")}`; prompt `{info.get("prompt")}` (version `{info.get("prompt_version")}`)
- seeds: {info.get("seeds")}
- filters: {json.dumps(info.get("filters", {}), ensure_ascii=False)}
- near-duplicate rate among candidates: {stats["duplicate_rate"]:.2%}

## Fields

`instruction`, `input` (may be empty), `output`; `messages` (the same as a user/assistant chat);
`provenance` (JSON: generator, prompt version, request number, demonstrations used).

## Dropped candidates

| reason | count |
|---|---|
{reasons}

## Instructions at a glance

Most frequent leading verbs: {verbs}. Lengths in characters: instruction median
{stats["chars"]["instruction"]["median"]:.0f}, output median {stats["chars"]["output"]["median"]:.0f}
(see `stats.json`, `stats.png`).

## License note

The text was generated by `{info.get("generator")}`. Check that model's terms of use before using
this data to train models; no human reviewed every item.
"""


def write_dataset(items: Sequence[dict[str, Any]], out: Path, *, drop_counts: dict[str, int],
                  info: dict[str, Any]) -> list[Path]:
    import pandas as pd

    records = [to_record(item) for item in items]
    data = out / "data"
    data.mkdir(parents=True, exist_ok=True)
    written = [write_text_atomic(data / "train.jsonl",
                                 "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))]
    frame = pd.DataFrame(records, columns=["instruction", "input", "output", "messages", "provenance"])
    parquet = data / "train.parquet"
    tmp = parquet.with_suffix(".parquet.tmp")
    frame.to_parquet(tmp, index=False)
    tmp.replace(parquet)
    written.append(parquet)
    stats = dataset_stats(records, drop_counts)
    written.append(write_text_atomic(out / "stats.json", json.dumps(stats, ensure_ascii=False, indent=2) + "\n"))
    written.append(write_bytes_atomic(out / "stats.png", stats_plot(records, stats)))
    written.append(write_text_atomic(out / "README.md", data_card(stats, info)))
    return written

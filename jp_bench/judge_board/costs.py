"""What a candidate judge cost, per 1,000 judgments, measured from the workspace store.

A judgment is one call to the judge: one order (game) of a pairwise comparison, or one score, as
``judgments.jsonl`` has one row per call. The judge's rows name their calls by store key; the store
(:class:`jp_bench.llm.store.Store`, the one ``jp-bench judge`` wrote) keeps each call's price and when
it was sent and answered.

- ``usd_per_1000`` = 1000 × the summed ``cost_usd`` of its calls / its judgments: what the calls cost
  when they were made (a later run that found them in the store paid nothing, but the figure is what
  the judge costs).
- ``wall_s_per_1000`` = 1000 × the mean of each call's latency (answered − sent, retries included):
  the wall time of 1,000 judgments one after another. A run's own span would depend on its
  concurrency and on the pauses between runs; the summed latency does not. Calls without a send time
  (the Batch API's) are left out of it.

When not every call is in the store (judgments from another workspace), the cost is the one the rows
themselves record (``source`` ``"rows"``) and the wall time is None; FastChat files record neither
(``source`` None).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class MeasuredCost:
    judgments: int
    usd_per_1000: float | None
    wall_s_per_1000: float | None
    source: str | None  # "store", "rows" or None (nothing recorded)

    def to_dict(self) -> dict[str, object]:
        return {"judgments": self.judgments, "usd_per_1000": self.usd_per_1000,
                "wall_s_per_1000": self.wall_s_per_1000, "source": self.source}


def measure_cost(keys: Sequence[str], judgments: int, recorded_usd: float | None,
                 store_path: Path | None) -> MeasuredCost:
    """The cost and wall time of the calls ``keys`` (``judgments`` of them; see the module docstring)."""
    if judgments <= 0:
        return MeasuredCost(judgments, None, None, None)
    if keys and store_path is not None and store_path.is_file():
        from jp_bench.llm.store import Store

        with Store(store_path) as store:
            calls = store.get_many(keys)
        if len(calls) == len(set(keys)):
            latencies = [call.finished_at - call.started_at for call in calls.values() if call.started_at is not None]
            wall = 1000.0 * sum(latencies) / len(latencies) if latencies else None
            return MeasuredCost(judgments, 1000.0 * sum(call.cost_usd for call in calls.values()) / judgments, wall,
                                "store")
    if recorded_usd is not None:
        return MeasuredCost(judgments, 1000.0 * recorded_usd / judgments, None, "rows")
    return MeasuredCost(judgments, None, None, None)

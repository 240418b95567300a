"""Does style control take a judge's style bias out of the ratings? Simulated battles, several seeds.

Six models of known skills (logits -1 ... 1) answer every question; the weakest writes about six
markdown headers per answer, the others about one (tests/support/style_battles.py). Every pair is
judged in both orders by a judge that adds HEADER_BONUS log-odds per header more (and a first-position
advantage of 0.2). Per seed, the raw ratings (:func:`jp_bench.stats.bradley_terry_bootstrap`) and the
style-controlled ones (:func:`jp_bench.stats.style_controlled_ratings`) are compared with the true
skills: Spearman's rank correlation, and the slope of the fitted theta (logits) on the true skill (1:
the skills' spread comes back in full). Also reported, as the means over the seeds:

    header_per_header   the fitted header coefficient per header (beta / scale); the judge's is HEADER_BONUS
    header_ci_covers    share of seeds whose 95% interval of it holds HEADER_BONUS · scale
    relative_judge_*    the same fit when the judge's bonus is on the relative difference
                        (h_A - h_B) / (h_A + h_B + 1) instead, Chatbot Arena's assumption
    upstream_counts_*   style control that compares the markdown counts by that relative difference
                        too (as upstream does), against the per-header judge: why we use plain differences

    python bench/style_control.py [--seeds 5] [--questions 200] [--boot 100]

The last line holds the figures as key=value pairs; the exit code is 0 when style control recovers the
order (mean sc_spearman >= 0.9) and beats the raw ratings.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import spearmanr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the simulation lives in tests/support/
from jp_bench.stats import bradley_terry_bootstrap, style_control, style_controlled_ratings
from tests.support.style_battles import SKILLS, simulate_battles

HEADER_BONUS = 0.3


def agreement(result: dict[str, Any]) -> tuple[float, float]:
    """Spearman's rank correlation of the ratings with the true skills, and the slope of theta on them."""
    truth = np.array([SKILLS[m["model"]] for m in result["models"]])
    theta = np.array([m["theta"] for m in result["models"]])
    return float(spearmanr(truth, theta)[0]), float(np.polyfit(truth, theta, 1)[0])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--boot", type=int, default=100)
    args = parser.parse_args()
    started = time.perf_counter()
    figures: dict[str, list[float]] = {}

    def record(**values: float) -> None:
        for key, value in values.items():
            figures.setdefault(key, []).append(value)

    for seed in range(args.seeds):
        table = simulate_battles(seed, args.questions, HEADER_BONUS)
        raw_spearman, raw_slope = agreement(bradley_terry_bootstrap(table, n_boot=args.boot, seed=seed))
        controlled = style_controlled_ratings(table, n_boot=args.boot, seed=seed)
        sc_spearman, sc_slope = agreement(controlled)
        headers = controlled["coefficients"]["headers"]
        low, high = headers["ci95"]
        relative = simulate_battles(seed, args.questions, 6 * HEADER_BONUS, relative_bonus=True)
        relative_spearman, relative_slope = agreement(style_controlled_ratings(relative, n_boot=0))
        plain = style_control.RELATIVE_FEATURES
        style_control.RELATIVE_FEATURES = frozenset(style_control.STYLE_FEATURES)  # upstream's comparison
        try:
            upstream_spearman, upstream_slope = agreement(style_controlled_ratings(table, n_boot=0))
        finally:
            style_control.RELATIVE_FEATURES = plain
        record(raw_spearman=raw_spearman, sc_spearman=sc_spearman, raw_slope=raw_slope, sc_slope=sc_slope,
               header_per_header=headers["beta"] / headers["scale"],
               header_ci_covers=float(low <= HEADER_BONUS * headers["scale"] <= high),
               relative_judge_sc_spearman=relative_spearman, relative_judge_sc_slope=relative_slope,
               upstream_counts_sc_spearman=upstream_spearman, upstream_counts_sc_slope=upstream_slope)
        print(f"seed {seed}: raw spearman {raw_spearman:.3f} slope {raw_slope:.3f}; style-controlled spearman "
              f"{sc_spearman:.3f} slope {sc_slope:.3f}; header coefficient {headers['beta'] / headers['scale']:.3f} "
              f"per header; relative judge {relative_spearman:.3f}; upstream counts {upstream_spearman:.3f}",
              flush=True)
    means = {key: float(np.mean(values)) for key, values in figures.items()}
    print(f"seeds={args.seeds} questions={args.questions} models={len(SKILLS)} boot={args.boot} "
          f"header_bonus={HEADER_BONUS} " + " ".join(f"{key}={value:.3f}" for key, value in means.items())
          + f" total_s={time.perf_counter() - started:.1f}")
    return 0 if means["sc_spearman"] >= 0.9 and means["sc_spearman"] > means["raw_spearman"] else 1


if __name__ == "__main__":
    sys.exit(main())

"""The paper's experiment in one file: instruction datasets × base models → fine-tune → answer → judge → table.

::

    from jp_bench.experiment import load_experiment, run_experiment

    outcome = run_experiment(load_experiment("experiment.yaml"))
    print(outcome.results["head_to_head"])
"""

from __future__ import annotations

from jp_bench.experiment.config import ExperimentConfig, load_experiment
from jp_bench.experiment.runner import ExperimentOutcome, run_experiment

__all__ = ["ExperimentConfig", "ExperimentOutcome", "load_experiment", "run_experiment"]

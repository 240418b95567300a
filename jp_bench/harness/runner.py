"""`jp-bench lm-eval ARGS...`: lm-eval's own command line with our task folder included.

The arguments are exactly lm-eval's. The exit code is 1 when judging (``--metadata judge``) left
judgments missing. We parse them with lm-eval's parser, then add our task folder to
``--include_path`` (keeping the user's own folder if one was given) and let lm-eval run.

``--tasks ja_mt_bench`` (multi-turn, :mod:`jp_bench.harness.multiturn`) runs lm-eval once per turn, in this
process: turn 1, then turn 2 with ``--metadata history`` set to the model's output folder the turn-1
samples were just written to. Subtasks whose samples there are already complete and current are not
generated again, so an interrupted run continues where it stopped. With a judge in ``--metadata``
each turn's run judges its own turn, and "current" includes "judged with these settings". After the
turns, the results of all of them go into one lm-eval results file with the ``ja_mt_bench`` group's
entry (:mod:`jp_bench.harness.results`), and lm-eval's table of it is printed.

Under data parallelism (``accelerate launch -m jp_bench lm-eval ...``) every rank runs this command; the
ranks wait for each other after each lm-eval run (rank 0 writes its files after the others returned), and
rank 0 alone writes the combined file.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jp_bench import paths
from jp_bench.errors import JpBenchError
from jp_bench.harness import multiturn


def include_paths(user_value: str | list[str] | None) -> list[str]:
    ours = str(paths.tasks_path())
    if user_value is None:
        return [ours]
    given = user_value if isinstance(user_value, list) else [user_value]
    return [ours, *[p for p in given if p != ours]]


def run_lm_eval(argv: Sequence[str]) -> int:
    """Run lm-eval in this process with ``argv`` (without the program name); return an exit code."""
    try:
        from lm_eval._cli import HarnessCLI
        from lm_eval.utils import setup_logging
    except ImportError:
        raise JpBenchError("lm-eval is not installed: pip install 'jp-bench[hf]' (or 'jp-bench[lm-eval]')") from None

    from jp_bench.harness.session import current_session

    incomplete_before = len(current_session().incomplete_runs)
    saved_argv = sys.argv
    sys.argv = ["lm-eval", *argv]
    try:
        setup_logging()
        parser = HarnessCLI()
        args = parser.parse_args()
        # Only an evaluation is split into turns (`lm-eval ls` / `validate` pass through).
        evaluating = getattr(args, "command", None) == "run"
        runs = lm_eval_runs(args) if evaluating else [{}]
        combine_in = combined_results_folder(args) if evaluating else None
        for index, changes in enumerate(runs):
            if index:
                # A fresh namespace per run (lm-eval's config step may change the one it is given), and
                # the previous turn's model freed before the next turn loads it again.
                args = parser.parse_args()
                release_models()
            for key, value in changes.items():
                setattr(args, key, value)
            if hasattr(args, "include_path"):
                merged = include_paths(args.include_path)
                # lm-eval's TaskManager takes a list; keep a plain string when there is only ours.
                args.include_path = merged[0] if len(merged) == 1 else merged
            parser.execute(args)
            # Under data parallelism (accelerate launch, torchrun) only rank 0 writes the samples and
            # results, after the other ranks' lm-eval run has returned: without this wait another rank
            # would build turn 2 from turn-1 samples not yet written (or older ones).
            wait_for_all_ranks()
        if combine_in is not None and main_rank():
            combine_turns(combine_in)
    except SystemExit as exit_:
        code = exit_.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    finally:
        sys.argv = saved_argv
    # lm-eval itself exits 0 when the judge failed after generation (the answers and results are
    # written, judged metrics nan); through jp-bench the run says so in its exit code.
    return 1 if len(current_session().incomplete_runs) > incomplete_before else 0


def _process_group() -> Any:
    """``torch.distributed`` when this process is one of several ranks of a run, else None.

    lm-eval's hf backend under ``accelerate launch`` (or torchrun) evaluates each rank's share of the
    documents and gathers the results on rank 0, which alone writes the output files.
    """
    torch = sys.modules.get("torch")  # never imported here: a run that did not load torch has no ranks
    dist = getattr(torch, "distributed", None)
    if dist is None or not dist.is_available() or not dist.is_initialized():
        return None
    return dist if dist.get_world_size() > 1 else None


def wait_for_all_ranks() -> None:
    """Return once every rank got here (at once without data parallelism)."""
    dist = _process_group()
    if dist is not None:
        dist.barrier()


def main_rank() -> bool:
    """Whether this process writes the run's files: rank 0 of a data-parallel run, or the only process."""
    dist = _process_group()
    return dist is None or dist.get_rank() == 0


def release_models() -> None:
    """Free what the last lm-eval run loaded (its model is unreachable once the run returned)."""
    gc.collect()  # model wrappers hold reference cycles; without this their GPU memory outlives the run
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


# ------------------------------------------------------------------------------------ multi-turn
def _effective(args: argparse.Namespace, key: str) -> Any:
    """An option as lm-eval will see it: the command line's value, else the ``--config`` YAML's."""
    value = getattr(args, key, None)
    if value or value == 0:
        return value
    config = getattr(args, "config", None)
    if config:
        from lm_eval.config.evaluate_config import EvaluatorConfig

        return EvaluatorConfig.load_yaml_config(config).get(key)
    return None


def _as_dict(value: Any, option: str) -> dict[str, Any]:
    if not value:
        return {}
    if isinstance(value, dict):
        return dict(value)
    from lm_eval.utils import simple_parse_args_string

    text = str(value)
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError:
        return simple_parse_args_string(text)
    if not isinstance(parsed, dict):
        raise JpBenchError(f"{option}: expected key=value pairs or a JSON object, got {text!r}")
    return parsed


def _task_names(value: Any) -> list[str]:
    items = value if isinstance(value, list | tuple) else [value] if value else []
    return [name.strip() for item in items for name in str(item).split(",") if name.strip()]


def model_output_folder(output_path: str, model_args: Any) -> Path:
    """Where lm-eval writes this model's samples: ``OUTPUT/<model name, sanitized>`` (its own rule)."""
    from lm_eval.loggers.evaluation_tracker import GeneralConfigTracker
    from lm_eval.utils import sanitize_model_name

    path = Path(output_path).resolve()  # absolute (as lm-eval reads it): it is recorded in the run metadata
    if path.suffix == ".json":
        return path.parent
    name = GeneralConfigTracker._get_model_name(model_args or None)
    if name is None:
        # lm-eval would make up a random folder name, and the next turn could not find this one.
        raise JpBenchError(f"--tasks {multiturn.GROUP}: --model_args must name the model (pretrained=, model=, "
                           "path= or engine=): the turn-2 run finds the turn-1 samples by it")
    return path / sanitize_model_name(name)


def lm_eval_runs(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The lm-eval runs this command makes, as changes to its namespace (``[{}]``: one run, unchanged)."""
    tasks = _task_names(_effective(args, "tasks"))
    metadata = _as_dict(_effective(args, "metadata"), "--metadata")
    output_path = _effective(args, "output_path")
    if multiturn.GROUP not in tasks:
        later = [t for t in tasks if (parsed := multiturn.parse_task_name(t)) and parsed[0] > 1]
        if later and multiturn.HISTORY_KEY not in metadata and output_path:
            # A later turn on its own: built from this model's own samples in the same output folder.
            folder = model_output_folder(output_path, _effective(args, "model_args"))
            return [{"metadata": {**metadata, multiturn.HISTORY_KEY: str(folder)}}]
        return [{}]
    return _multiturn_runs(args, tasks, metadata, output_path)


def _multiturn_runs(args: argparse.Namespace, tasks: list[str], metadata: dict[str, Any],
                    output_path: str | None) -> list[dict[str, Any]]:
    from jp_bench.harness.judge_settings import parse_settings
    from jp_bench.harness.judge_setup import check_baseline_covers, prepare_setup, score_scale

    group = multiturn.GROUP
    if not output_path or not (_effective(args, "log_samples") or _effective(args, "predict_only")):
        raise JpBenchError(f"--tasks {group} needs --output_path and --log_samples: each turn is built from "
                           "the samples of the turn before, written there")
    if multiturn.HISTORY_KEY in metadata:
        raise JpBenchError(f"--metadata {multiturn.HISTORY_KEY}: set by jp-bench for --tasks {group}; to build "
                           f"turn 2 from other turn-1 samples, run --tasks {multiturn.turn_group(2)} with it")
    if _effective(args, "samples"):
        raise JpBenchError(f"--tasks {group}: --samples is not supported across turns; use --limit")
    others = [t for t in tasks if t != group]
    if any(multiturn.parse_task_name(t) for t in others):
        raise JpBenchError(f"--tasks: give {group} or its turn groups/subtasks, not both")

    folder = model_output_folder(output_path, _effective(args, "model_args"))
    limit = _effective(args, "limit")
    greedy = multiturn.greedy_requested(metadata)
    chat = bool(_effective(args, "apply_chat_template"))
    gen_kwargs = _as_dict(_effective(args, "gen_kwargs"), "--gen_kwargs")
    needed, expected, every_doc = {}, {}, []
    for category in multiturn.CATEGORIES:
        docs = multiturn.mt_docs(multiturn.BENCHMARK, category, 1, questions_file=metadata.get("questions_file"),
                                 reference_set=metadata.get("reference_set"))
        every_doc += docs
        needed[category] = [str(doc["question_id"]) for doc in docs[: multiturn.sample_size(len(docs), limit)]]
        expected[category] = multiturn.request_kwargs(category, greedy=greedy, chat_template=chat,
                                                      gen_kwargs=gen_kwargs)

    judged = None
    settings = parse_settings(metadata)
    if settings is not None:
        # Checked now, before turn 1 is generated: the judge, its key and prompts (the tasks reuse this
        # set-up), and what only turn 2's tasks would otherwise check, after turn 1 had been generated
        # and judged: a prompt for the conversation (*_multi) and a pairwise baseline's last turn.
        setup = prepare_setup(settings, multiturn.BENCHMARK)
        last_turn = [{**doc, "turn": multiturn.TURNS} for doc in every_doc]
        score_scale(setup, last_turn)
        check_baseline_covers(setup, group, last_turn)
        if not _effective(args, "predict_only"):  # --predict_only judges nothing: no judgments to ask for
            judged = setup.identity

    runs: list[dict[str, Any]] = []
    for plan in multiturn.plan_turns(folder, needed, expected, judged):
        if plan.kept:
            _say(f"{group} turn {plan.turn}: {len(plan.kept)} subtask(s) complete in {folder}, not generated "
                 f"again ({', '.join(plan.kept)})")
        if not plan.todo:
            continue
        by_reason: dict[str, list[str]] = {}
        for category, why in plan.reasons.items():
            by_reason.setdefault(why, []).append(category)
        reasons = "; ".join(f"{', '.join(categories)}: {why}" for why, categories in by_reason.items())
        _say(f"{group} turn {plan.turn}: generating {len(plan.todo)} subtask(s) in {folder} ({reasons})")
        run_metadata = dict(metadata)
        if plan.turn > 1:
            run_metadata[multiturn.HISTORY_KEY] = str(folder)
        # The other tasks of the command go with the first run made.
        run_tasks = plan.tasks if runs else [*others, *plan.tasks]
        runs.append({"tasks": run_tasks, "metadata": run_metadata})
    if not runs and others:
        runs.append({"tasks": others})
    return runs


def combined_results_folder(args: argparse.Namespace) -> Path | None:
    """The model's output folder when this command runs ``ja_mt_bench``, whose turns get one results file."""
    if multiturn.GROUP not in _task_names(_effective(args, "tasks")):
        return None
    return model_output_folder(_effective(args, "output_path"), _effective(args, "model_args"))


def combine_turns(folder: Path) -> None:
    """After the turns ran: one lm-eval results file of every turn with the ``ja_mt_bench`` entry, and
    lm-eval's tables of it, as lm-eval prints them after a run.

    Each turn was its own lm-eval run with its own results file, so the top group had no score; the
    combined file holds it (see :mod:`jp_bench.harness.results`). A run left without it (a results
    file lm-eval could not write) still has its samples: a warning, not a failed command.
    """
    from jp_bench.harness import results as lm_eval_results

    group = multiturn.GROUP
    try:
        combined = lm_eval_results.combine_group(folder, group, warn=lambda line: _say(f"warning: {line}"))
    except JpBenchError as exc:
        _say(f"warning: no combined {group} results file: {exc}")
        return
    except (ImportError, AttributeError) as exc:  # an lm-eval whose group API differs from the one we use
        from importlib.metadata import version

        _say(f"warning: no combined {group} results file: lm-eval {version('lm_eval')} lacks what it needs ({exc})")
        return
    state = "written" if combined.written else "unchanged"
    _say(f"{group}: all turns in one lm-eval results file ({state}): {combined.path}")
    print(f"{group} (turns 1-{multiturn.TURNS} combined: {combined.path.name})")
    print(lm_eval_results.tables(combined.results), flush=True)


def _say(message: str) -> None:
    print(f"jp-bench: {message}", file=sys.stderr, flush=True)

"""lm-eval's results files (``results_<time>.json``): one file for a group evaluated over several runs.

lm-eval computes a group's score (``aggregate_metric_list``) only over the subtasks of one run and
writes one results file per run. ``ja_mt_bench`` cannot be one run (turn 2 needs the model's own
turn-1 answers), so its top group gets no score there. :func:`combine_group` writes the file lm-eval
would have written had the whole group been one run: every subtask's entry from the run that wrote
its newest samples (the answers every jp-bench reader takes), and each group's entry computed by
lm-eval's own ``Group.aggregate`` (size-weighted mean, pooled stderr) in lm-eval's own layout.

The combined file sits beside the per-run files, which stay as lm-eval wrote them, and is the newest
results file of the folder, so readers that take the newest (lm-eval's ``get_latest_filename``,
jp-bench's model name lookup) read it. It is marked with :data:`MARKER`; jp-bench's readers of judged
output read the samples files, never the results files, so nothing is counted twice.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from jp_bench import paths
from jp_bench._util.atomic import write_text_atomic
from jp_bench.errors import JpBenchError
from jp_bench.harness.samples import sample_files

# The key that marks a combined file (lm-eval ignores keys it does not know) and names its sources.
MARKER = "jp_bench_combined"
# Keys of a results file keyed by task or group: rebuilt for the combined set, never copied whole.
PER_TASK_KEYS = ("results", "groups", "group_subtasks", "configs", "versions", "n-shot", "higher_is_better",
                 "n-samples", "task_hashes")


@dataclass(frozen=True)
class Combined:
    """A combined results file: where it is, what it holds, and whether this call wrote it."""

    path: Path
    results: dict[str, Any]
    written: bool  # False: the same file was already there (a re-run with nothing new)


# ------------------------------------------------------------------------------------- file names
def run_stamp(path: Path) -> str:
    """The ``date_id`` lm-eval names a run's files with: ``samples_<task>_<it>.jsonl``, ``results_<it>.json``."""
    return path.name[path.name.rfind("_") + 1:].removesuffix(".jsonl").removesuffix(".json")


def results_file_of(samples: Path) -> Path | None:
    """The results file lm-eval wrote in the run that wrote ``samples`` (one ``date_id`` names both;
    ``OUT/results_<it>.json``, or ``<stem>_<it>.json`` when ``--output_path`` names a ``.json`` file)."""
    found = [path for path in samples.parent.glob(f"*_{run_stamp(samples)}.json") if path.is_file()]
    return sorted(found)[0] if found else None


# ------------------------------------------------------------------------------------ lm-eval groups
@dataclass(frozen=True)
class _Leaf:
    """A finished subtask, by name: all a group's aggregation reads of it (``task_name``)."""

    task_name: str


@functools.cache
def _results_group_class() -> type:
    from lm_eval.api.group import Group

    class ResultsGroup(Group):
        """lm-eval's ``Group`` over finished results: its leaves are :class:`_Leaf` names, since no
        task is built again (turn 2's tasks could not be built without their history)."""

        def get_all_tasks(self, recursive: bool = True) -> list[Any]:
            leaves: list[Any] = []
            for child in self:
                if isinstance(child, Group):
                    if recursive:
                        leaves += child.get_all_tasks(recursive=True)
                else:
                    leaves.append(child)
            return leaves

    return ResultsGroup


def load_group(name: str) -> Any:
    """The lm-eval ``Group`` ``name`` as our task YAMLs declare it (children, ``aggregate_metric_list``),
    read through lm-eval's own index and ``GroupConfig``; subgroups are groups, subtasks leaves."""
    from lm_eval.config.group import GroupConfig
    from lm_eval.tasks import TaskManager

    index = TaskManager(include_path=str(paths.tasks_path()), include_defaults=False).task_index
    group_class = _results_group_class()

    def build(group_name: str) -> Any:
        entry = index.get(group_name)
        if entry is None or not entry.cfg or "group" not in entry.cfg:
            raise JpBenchError(f"{group_name}: not a task group of jp-bench's task folder {paths.tasks_path()}")
        known_keys = GroupConfig.__dataclass_fields__  # the index keeps any other YAML key too
        group = group_class.from_config(GroupConfig(**{k: v for k, v in entry.cfg.items() if k in known_keys}))
        for child in entry.cfg.get("task") or []:
            if not isinstance(child, str):
                raise JpBenchError(f"{group_name}: inline task definitions cannot be combined ({child!r})")
            known = index.get(child)
            is_group = known is not None and known.cfg is not None and "group" in known.cfg
            group.add(build(child) if is_group else _Leaf(child))
        return group

    return build(name)


def _bottom_up(group: Any) -> list[Any]:
    """The groups of a tree, every subgroup before the group holding it (lm-eval's order)."""
    order: list[Any] = []
    for child in group.get_all_groups(recursive=False):
        order += _bottom_up(child)
    return [*order, group]


# ------------------------------------------------------------------------------------ combining
def _read_results(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise JpBenchError(f"{path}: not a readable lm-eval results file ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("results"), dict):
        raise JpBenchError(f"{path}: not an lm-eval results file (no 'results')")
    return data


def _sources(folder: Path, tasks: Iterable[str]) -> dict[str, Path]:
    """Each subtask's results file: the one of the run that wrote its newest samples file."""
    sources: dict[str, Path] = {}
    problems: list[str] = []
    for task in tasks:
        files = sample_files(folder, task)
        source = results_file_of(files[-1]) if files else None
        if source is None:
            problems.append(f"{task} ({'no samples' if not files else 'no results file of ' + files[-1].name})")
        else:
            sources[task] = source
    if problems:
        raise JpBenchError(f"{folder}: no results for {len(problems)} subtask(s): {', '.join(problems[:4])}"
                           f"{' ...' if len(problems) > 4 else ''}")
    return sources


def _shared_metrics(metrics: Mapping[str, Mapping[str, Any]], leaves: list[str]) -> dict[str, dict[str, Any]]:
    """The leaves' entries cut to the keys every one of them has.

    lm-eval would average a metric over the subtasks that have it. In one run all have the same ones;
    across runs (a category generated again without a judge) they may not, and a group score over
    part of its subtasks must not pass for the group's: such a metric gets no group value.
    """
    shared = set.intersection(*(set(metrics[leaf]) for leaf in leaves))
    return {leaf: {key: value for key, value in metrics[leaf].items() if key in shared} for leaf in leaves}


def combined_results(folder: Path, group_name: str, *,
                     warn: Callable[[str], None] | None = None) -> dict[str, Any]:
    """The results file lm-eval would write for ``group_name`` had every subtask been in one run, from
    the results files in ``folder`` (the model's lm-eval output folder)."""
    from lm_eval.evaluator_utils import EvalAcc

    tree = load_group(group_name)
    leaves = [leaf.task_name for leaf in tree.get_all_tasks()]
    sources = _sources(folder, leaves)
    loaded = {path: _read_results(path) for path in sorted(set(sources.values()))}

    acc = EvalAcc()  # lm-eval's own accumulator: its _to_eval_results gives lm-eval's file layout
    for task in leaves:
        data = loaded[sources[task]]
        if task not in data["results"]:
            raise JpBenchError(f"{sources[task]}: no results of {task}, though its samples are from that run")
        acc.metrics[task] = dict(data["results"][task])
        acc.configs[task] = (data.get("configs") or {}).get(task, {})
        acc.versions[task] = (data.get("versions") or {}).get(task)
        acc.num_fewshot[task] = (data.get("n-shot") or {}).get(task, 0)
        acc.higher_is_better[task] = (data.get("higher_is_better") or {}).get(task, {})
        if task in (data.get("n-samples") or {}):
            acc.n_samples[task] = data["n-samples"][task]
    groups = _bottom_up(tree)
    acc.groups = {group.name: group for group in groups}
    for group in groups:
        members = [leaf.task_name for leaf in group.get_all_tasks()]
        view = _shared_metrics(acc.metrics, members)
        aggregated = {item.metric for item in group.aggregate_metric_list or []}
        dropped = sorted({key.split(",")[0] for leaf in members for key in acc.metrics[leaf]
                          if key not in view[leaf] and key.split(",")[0] in aggregated})
        if dropped and warn is not None:
            warn(f"{group.name}: {', '.join(dropped)} not reported by every subtask (subtasks evaluated in "
                 "runs with other settings); no group value for it")
        # lm-eval's own aggregation (aggregate_subtask_metrics, pooled_sample_stderr), as in its runs.
        acc.metrics[group.name] = group.aggregate(view)
        acc.versions[group.name] = group.version
    combined: dict[str, Any] = dict(acc._to_eval_results())

    # The run-wide fields (model, config, environment) are the newest run's, the one that completed
    # this set; the evaluation started with the first run, and its time is the runs' times added up.
    runs = sorted(loaded, key=run_stamp)
    newest = loaded[runs[-1]]
    hashes = {task: loaded[sources[task]]["task_hashes"][task] for task in leaves
              if task in (loaded[sources[task]].get("task_hashes") or {})}
    for key, value in newest.items():  # in the newest file's order, task_hashes at its place
        if key == "task_hashes":
            combined[key] = hashes
        elif key not in PER_TASK_KEYS and key != MARKER:
            combined[key] = value
    dates = [data["date"] for data in loaded.values() if isinstance(data.get("date"), int | float)]
    if dates:
        combined["date"] = min(dates)
    times = [data["total_evaluation_time_seconds"] for data in loaded.values()
             if data.get("total_evaluation_time_seconds") is not None]
    if times:
        combined["total_evaluation_time_seconds"] = str(sum(float(t) for t in times))
    combined[MARKER] = {"group": group_name, "sources": {task: sources[task].name for task in leaves}}
    return combined


def _dumps(results: Mapping[str, Any]) -> str:
    from lm_eval.utils import handle_non_serializable

    # As lm-eval's EvaluationTracker writes results files.
    return json.dumps(results, indent=2, default=handle_non_serializable, ensure_ascii=False)


def combined_files(folder: Path, group_name: str) -> list[Path]:
    """The combined results files of ``group_name`` in ``folder``, oldest first."""
    found = []
    for path in folder.glob("*.json"):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            continue
        marker = data.get(MARKER) if isinstance(data, dict) else None
        if isinstance(marker, dict) and marker.get("group") == group_name:
            found.append(path)
    return sorted(found, key=run_stamp)


def combine_group(folder: Path, group_name: str, *, warn: Callable[[str], None] | None = None) -> Combined:
    """Write ``group_name``'s combined results file into ``folder``; the previous one is replaced.

    Idempotent: when the newest combined file already holds exactly these results (a re-run that
    generated nothing), it is kept as it is and nothing is written.
    """
    results = combined_results(folder, group_name, warn=warn)
    text = _dumps(results)
    existing = combined_files(folder, group_name)
    if existing and existing[-1].read_text(encoding="utf-8") == text:
        return Combined(existing[-1], results, written=False)
    # Named as lm-eval names a run's results (its prefix, a fresh date_id): the newest file here.
    newest_source = max((folder / name for name in results[MARKER]["sources"].values()), key=run_stamp)
    prefix = newest_source.name[: newest_source.name.rfind("_")]
    stamp = datetime.now().isoformat().replace(":", "-")
    path = write_text_atomic(folder / f"{prefix}_{stamp}.json", text)
    for old in existing:  # one combined file per group: an older one would be a second, stale answer
        if old != path:
            old.unlink(missing_ok=True)
    return Combined(path, results, written=True)


def tables(results: Mapping[str, Any]) -> str:
    """lm-eval's tables of a results file (tasks, then groups), as its command line prints them."""
    from lm_eval.utils import make_table

    printed = make_table(results)
    if "groups" in results:
        printed += "\n" + make_table(results, "groups")
    return printed

"""``jp_bench.judge``: judge answers with one LLM judge or a jury, as ``jp-bench judge`` does.

Everything the command does happens here (checks, plan, store, run, outputs, the jury's files); the
command only turns its flags into these keyword arguments and says ``verbose=True``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal

from jp_bench._api._settings import as_list, check_positive_int, check_setting
from jp_bench.errors import JpBenchError
from jp_bench.judging.jury import Jury, jury_of
from jp_bench.judging.progress import progress_bar
from jp_bench.judging.service import (
    JudgeOutcome,
    JudgeRequest,
    JuryOutcome,
    prepare,
    prepare_jury,
    run_judging,
    write_jury_outputs,
)
from jp_bench.judging.summary import print_outcome, print_plan
from jp_bench.llm.batch import BatchSettings

__all__ = ["JudgeOutcome", "JuryOutcome", "judge"]

MODES = ("single", "pairwise", "pairwise-all")


def judge(
    answers: str | Path | Iterable[str | Path],
    *,
    judge: str | Sequence[str],
    mode: Literal["single", "pairwise", "pairwise-all"] = "pairwise",
    baseline: str | None = None,
    out: str | Path | None = None,
    benchmark: str | None = None,
    prompts: str | None = None,
    judges_dir: str | Path | Iterable[str | Path] | None = None,
    judge_model: str | None = None,
    base_url: str | None = None,
    workspace: str | Path | None = None,
    concurrency: int | None = None,
    max_cost: float | None = None,
    dry_run: bool = False,
    retry_errors: bool = False,
    weighted: bool = False,
    samples: int = 1,
    temperature: float | None = None,
    turn: int | Iterable[int] | None = None,
    batch: bool = False,
    batch_fallback: Literal["resubmit", "live"] = "resubmit",
    batch_poll: float = 30.0,
    batch_size: int | None = None,
    require_japanese: bool = False,
    japanese_threshold: float | None = None,
    progress: bool = True,
    verbose: bool = False,
) -> JudgeOutcome | JuryOutcome:
    """Judge ``answers`` (lm-eval outputs or samples files, FastChat model_answer folders or files;
    ``NAME=PATH`` names a model) with ``judge``: a judge name (``jp-bench judges``), a judge YAML, a jury
    YAML, or several judges for a jury. Every keyword is the ``jp-bench judge`` option of that name.

    Returns the run's :class:`JudgeOutcome` (a jury: :class:`JuryOutcome`, one outcome per member):
    plan, cost estimate, the run's counts, win/tie tallies or mean scores, the judgments.jsonl rows and
    the files written (when ``out`` is given and every judgment is in). ``progress=False`` turns the
    progress bar off; ``verbose=True`` prints the plan and the result as the command does.
    ``require_japanese=True`` scores answers whose Japanese share is under ``japanese_threshold`` (default:
    the judge YAML's, else :data:`jp_bench.answer_text.JAPANESE_THRESHOLD`) as the lowest score / a loss
    without asking the judge (docs/judging.md, "Japanese answer checks and reasoning removal").
    Raises :class:`~jp_bench.errors.JpBenchError` with one line for anything wrong in the input.
    """
    if mode not in MODES:
        raise JpBenchError(f"--mode: expected one of {', '.join(MODES)}, got {mode!r}")
    judges = [judge] if isinstance(judge, str) else list(judge)
    if not judges:
        raise JpBenchError("--judge: give a judge name, a judge YAML or a jury YAML")
    turns = [turn] if isinstance(turn, int) else list(turn or ())
    for value in turns:
        check_positive_int("--turn", value)
    request = JudgeRequest(
        answers=as_list(answers), judge=judges[0], mode=mode, baseline=baseline,
        out=Path(out) if out else None, benchmark=benchmark, prompts=prompts, judges_dirs=as_list(judges_dir),
        workspace=Path(workspace) if workspace else None,
        concurrency=check_setting("--concurrency", "Concurrency", int, concurrency),
        max_cost_usd=check_setting("--max-cost", "MaxCost", float, max_cost), dry_run=dry_run,
        retry_errors=retry_errors, judge_model=judge_model, base_url=check_setting("--base-url", "BaseUrl", str,
                                                                                  base_url),
        batch=_batch(batch, batch_fallback, batch_poll, batch_size), weighted=weighted,
        samples=check_setting("--samples", "Samples", int, samples),
        temperature=check_setting("--temperature", "Temperature", float, temperature),
        turns=tuple(sorted(set(turns))) if turns else None,
        require_japanese=_flag("--require-japanese", require_japanese),
        japanese_threshold=check_setting("--japanese-threshold", "JapaneseThreshold", float, japanese_threshold),
    )
    jury = jury_of(judges)
    if jury is not None:
        return _judge_with_jury(request, jury, progress=progress, verbose=verbose)
    prepared = prepare(request)
    return _run_one(request, prepared, progress=progress, verbose=verbose)


def _flag(option: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise JpBenchError(f"{option}: expected True or False, got {value!r}")
    return value


def _batch(batch: bool, fallback: str, poll: float, size: int | None) -> BatchSettings | None:
    if not batch:
        return None
    if fallback not in ("resubmit", "live"):
        raise JpBenchError(f"--batch-fallback: expected resubmit or live, got {fallback!r}")
    return BatchSettings(poll_interval_s=check_setting("--batch-poll", "BatchPoll", float, poll),
                         fallback=fallback,  # type: ignore[arg-type]
                         max_requests_per_batch=check_positive_int("--batch-size", size))


def _run_one(request: JudgeRequest, prepared: JudgeOutcome, *, progress: bool, verbose: bool) -> JudgeOutcome:
    """One judge's run over its prepared plan, with the command's lines when ``verbose``."""
    if request.dry_run:
        outcome = run_judging(request, prepared=prepared)
        if verbose:
            print_plan(outcome)
        return outcome
    if verbose:
        print_plan(prepared, brief=True)
    update, close = progress_bar() if progress else (None, _nothing)
    try:
        outcome = run_judging(request, prepared=prepared, on_progress=update)
    finally:
        close()  # before any error line, so it is never glued onto the bar
    if verbose:
        print_outcome(outcome)
    return outcome


def _nothing() -> None:
    return None


def _judge_with_jury(request: JudgeRequest, jury: Jury, *, progress: bool, verbose: bool) -> JuryOutcome:
    """Each member judges in turn (one store: a member already done costs nothing); then the jury's files."""
    if verbose:
        print(f"jury {jury.name}: {', '.join(jury.judges)}")
    # Every member is checked (each judge once, judge file, answers, plan) before any is paid for.
    prepared = prepare_jury(request, jury)
    outcome = JuryOutcome(jury=jury, members=[])
    for member, plan in prepared:
        outcome.members.append(_run_one(member, plan, progress=progress, verbose=verbose))
    if request.dry_run:
        return outcome
    if request.out is not None and outcome.complete:
        outcome.written = write_jury_outputs(Path(request.out), outcome)
        if verbose:
            print("jury files written:")
            for path in outcome.written[:1]:
                print(f"  {path}  (every member's rows: `jp-bench report {request.out}` pools them)")
    elif not outcome.complete and verbose:
        print("incomplete: some members' judgments are missing; run the same command again to finish")
    return outcome

"""Printing a judging plan and its result for people (the CLI's output)."""

from __future__ import annotations

from collections import Counter

from jp_bench._util.text_table import render_table
from jp_bench.answer_text import AnswerFeatures
from jp_bench.judging.service import JudgeOutcome
from jp_bench.llm.endpoints import endpoint_of


def print_plan(outcome: JudgeOutcome, *, brief: bool = False) -> None:
    plan, estimate, judge = outcome.plan, outcome.estimate, outcome.judge
    endpoint = f" at {endpoint_of(outcome.spec.base_url)}" if outcome.spec.base_url else ""
    print(f"judge {judge.name} ({judge.provider}:{outcome.spec.model}{endpoint}), prompts {outcome.prompts.name}"
          f"@{outcome.prompts.version}, mode {plan.mode}")
    if judge.smoke_test:
        print("note: this judge is a pipeline smoke test; its verdicts say nothing about quality")
    print(f"{len(plan.questions)} questions, models: {', '.join(plan.models)}; {len(plan.tasks)} judgments planned")
    for model, missing in plan.skipped.items():
        print(f"warning: {model} has no answer to {len(missing)} question(s) (e.g. {missing[:5]}); they are skipped")
    for model, short in plan.short.items():
        print(f"warning: {model} answered {len(short)} question(s) only partly (e.g. {short[:5]}); those turns "
              "are skipped")
    for line in answer_check_lines(outcome):
        print(line)
    ruled = len({task.key for task in plan.tasks if outcome.japanese.ruling(task) is not None})
    rest = f"{ruled} scored by --require-japanese, the rest in the store" if ruled else "the rest are in the store"
    print(f"to call now: {estimate.calls} ({rest}); estimated ~{estimate.input_tokens:,} input + "
          f"~{estimate.output_tokens:,} output tokens, ~${estimate.cost_usd:.2f}")
    if brief:
        return
    rows = [(m1, m2) for m1, m2 in plan.pairs]
    if rows:
        print(render_table(["model", "compared with"], rows))


def answer_check_lines(outcome: JudgeOutcome) -> list[str]:
    """What the plan's answers say about themselves: how many of each model's are not in Japanese (and
    whether they are scored without the judge), how many had reasoning removed. Each answer judged is
    counted once (per question and turn), however many games and samples judge it."""
    answers: dict[tuple[str, str, int | None], AnswerFeatures] = {}
    for task in outcome.plan.tasks:
        for model, features in zip((task.model_1, task.model_2), task.features, strict=True):
            if model is not None and features is not None:
                answers[(model, repr(task.question.question_id), task.turn)] = features
    rule = outcome.japanese
    flagged = Counter(model for (model, _, _), features in answers.items() if rule.flagged(features))
    reasoning = Counter(model for (model, _, _), features in answers.items() if features.reasoning_chars)
    lines = []
    if flagged:
        what = ("scored as the lowest score / a loss without calling the judge (--require-japanese)" if rule.required
                else "flagged only, judged as usual (--require-japanese scores them without the judge)")
        lines.append(f"not Japanese (under {rule.threshold:g} of their letters in kana/kanji): "
                     f"{_per_model(flagged)}; {what}")
    if reasoning:
        lines.append(f"reasoning removed before judging (<think>…</think>): {_per_model(reasoning)}")
    return lines


def _per_model(counts: Counter) -> str:
    return ", ".join(f"{model} {count} answer(s)" for model, count in sorted(counts.items()))


def print_outcome(outcome: JudgeOutcome) -> None:
    report = outcome.report
    if report is None:
        return
    print(f"calls made: {report.called}, reused from the store: {report.reused}, errors this run: {report.errors}, "
          f"spent: ${report.spent_usd:.4f}")
    if report.by_other_process:
        print(f"{report.by_other_process} judgment(s) were made meanwhile by another run on the same workspace")
    if report.stopped_at_cost_limit:
        print(f"stopped at the --max-cost limit (spent ${report.spent_usd:.4f}; calls in flight were let finish); "
              "run again with a higher limit to finish")
    if report.unreachable:
        print(f"{report.unreachable} call(s) got no reply ({report.last_unreachable}); nothing of them was stored: "
              "run the same command again to ask again")
    if outcome.pairs:
        rows = []
        for pair in outcome.pairs:
            rate = "-" if pair.adjusted_win_rate is None else f"{pair.adjusted_win_rate:.3f}"
            rows.append((pair.model_1, pair.model_2, pair.win, pair.loss, pair.tie, pair.inconsistent, pair.errors,
                         rate))
        print(render_table(["model", "vs", "win", "loss", "tie", "inconsistent", "errors", "adj. win rate"], rows,
                           align_right=[2, 3, 4, 5, 6, 7]))
    if outcome.singles:
        rows = [(s.model, s.n, "-" if s.mean is None else f"{s.mean:.2f}", s.errors) for s in outcome.singles]
        print(render_table(["model", "n", "mean score", "errors"], rows, align_right=[1, 2, 3]))
    if outcome.written:
        print("written:")
        for path in outcome.written:
            print(f"  {path}")
    elif not outcome.complete:
        print("incomplete: some judgments are missing; run the same command again to finish")

"""The lm-eval task class of every jp-bench subtask (``class: !function jp_bench.harness.task.JpBenchTask``).

Without judging settings in ``--metadata`` it is lm-eval's own ``ConfigurableTask`` unchanged. With
``--metadata '{"judge": ...}'`` it checks the judge and the baseline while the task is built (before any
answer is generated), lists the judged metrics, has every answer judged once generation is done
(:mod:`jp_bench.harness.judge_run`), and reports the judge's score per document.
"""

from __future__ import annotations

import sys
from typing import Any

from lm_eval.api.task import ConfigurableTask

from jp_bench.errors import JpBenchError
from jp_bench.harness.judge_run import TaskAnswers, TaskJudgments, judge_pending_tasks, register
from jp_bench.harness.judge_settings import parse_settings
from jp_bench.harness.judge_setup import check_baseline_covers, prepare_setup, score_scale
from jp_bench.harness.judged_metrics import ANSWER_METRIC, METRICS


def _one_line_errors(hook: Any) -> Any:
    """An excepthook that prints our own errors as one line (lm-eval's CLI lets exceptions through)."""

    def excepthook(kind: type[BaseException], error: BaseException, traceback: Any) -> None:
        if isinstance(error, JpBenchError):
            print(f"jp-bench: error: {error}", file=sys.stderr)
            return
        hook(kind, error, traceback)

    excepthook.jp_bench = True  # type: ignore[attr-defined]
    return excepthook


def install_error_hook() -> None:
    if not getattr(sys.excepthook, "jp_bench", False):
        sys.excepthook = _one_line_errors(sys.excepthook)


class JpBenchTask(ConfigurableTask):
    """A jp-bench subtask: lm-eval's configurable task, optionally judged."""

    def __init__(self, data_dir: Any = None, cache_dir: Any = None, download_mode: Any = None,
                 config: dict | None = None) -> None:
        install_error_hook()
        config = {k: v for k, v in (config or {}).items() if k != "class"}
        settings = parse_settings(config.get("metadata"))
        benchmark = str((config.get("dataset_kwargs") or {}).get("benchmark", "jp_bench"))
        self.benchmark = benchmark
        self.judging = prepare_setup(settings, benchmark) if settings else None
        self.judged: TaskJudgments | None = None
        self._bypassed = False
        if self.judging is not None:
            config["metric_list"] = [ANSWER_METRIC, *(
                {"metric": name, "aggregation": aggregation, "higher_is_better": higher}
                for name, aggregation, higher in METRICS[self.judging.settings.judge_mode])]
        super().__init__(data_dir=data_dir, cache_dir=cache_dir, download_mode=download_mode, config=config)
        if self.judging is not None:
            docs = list(self.eval_docs)
            check_baseline_covers(self.judging, str(self.config.task), docs)
            scale = score_scale(self.judging, docs)
            if scale is not None:
                # lm-eval ignores extra keys of a metric_list entry when the task has process_results,
                # and writes the entry into the results' `configs`: the one place that says what
                # range judge_score is on (ELYZA-tasks-100's rubric: 1-5, every other benchmark 1-10).
                for entry in self.config.metric_list or []:
                    if entry.get("metric") == "judge_score":
                        entry["scale"] = scale
            register(self)

    # --predict_only replaces the metrics with `bypass`: nothing is judged then.
    def override_metric(self, metric_name: str) -> None:
        self._bypassed = True
        super().override_metric(metric_name)

    def has_answers(self) -> bool:
        instances = self.instances
        return bool(instances) and all(instance.resps for instance in instances)

    def answers(self) -> TaskAnswers:
        docs = [(inst.doc_id, inst.doc, _text(inst.resps[0]), inst.args) for inst in self.instances]
        return TaskAnswers(task=str(self.config.task), benchmark=self.benchmark, docs=docs)

    def apply_filters(self) -> Any:
        result = super().apply_filters()
        if self.judging is not None and not self._bypassed and self.judged is None:
            judge_pending_tasks()
        return result

    def process_results(self, doc: dict, results: list) -> dict:
        if self._bypassed:
            return super().process_results(doc, results)
        answer = _text(results[0]) if results else ""
        metrics: dict[str, float] = {"answer_chars": float(len(answer))}
        if self.judging is not None and self.judged is not None:
            judgment = self.judged.by_question[doc["question_id"]]
            metrics.update(judgment.metrics)
            # lm-eval logs this very dict as the sample's `doc`: the judgment travels with the answer.
            doc["judgment"] = judgment.record
        return metrics


def _text(response: Any) -> str:
    while isinstance(response, list | tuple):  # a filtered response may still be a list of repeats
        response = response[0] if response else ""
    return response if isinstance(response, str) else str(response)


class MtBenchTask(JpBenchTask):
    """A turn of a multi-turn subtask (``ja_mt_bench_turn<k>_<category>``, :mod:`jp_bench.harness.multiturn`).

    The prompt is the conversation so far, kept as separate chat messages (user, assistant, ...,
    user) and rendered by the model's chat template under ``--apply_chat_template`` (API backends
    receive the messages list itself); without a template, the fixed Japanese frame of
    :func:`jp_bench.harness.multiturn.render_text`. With a judge in ``--metadata``, a turn-k subtask reports
    the turn-k judgments of its questions: turn 1 on turn 1 alone, a later turn on the conversation its
    documents carry (``previous_answers``), as ``jp-bench judge`` judges MT-Bench.
    """

    def __init__(self, data_dir: Any = None, cache_dir: Any = None, download_mode: Any = None,
                 config: dict | None = None) -> None:
        from jp_bench.harness import multiturn

        install_error_hook()
        config = dict(config or {})
        self.turn = int((config.get("dataset_kwargs") or {}).get("turn", 1))
        metadata = config.get("metadata") or {}
        if multiturn.greedy_requested(metadata):
            config["generation_kwargs"] = multiturn.make_greedy(config.get("generation_kwargs") or {})
        super().__init__(data_dir=data_dir, cache_dir=cache_dir, download_mode=download_mode, config=config)

    def fewshot_context(self, doc: dict, num_fewshot: int, system_instruction: str | None = None,  # noqa: ARG002
                        apply_chat_template: bool = False, fewshot_as_multiturn: bool = False,  # noqa: ARG002
                        chat_template: Any = None, gen_prefix: str | None = None) -> str:  # noqa: ARG002
        """The turn's prompt. ``num_fewshot`` is 0 (the YAML fixes it) and there is no ``gen_prefix``.

        lm-eval's own version folds earlier turns into one user message unless
        ``--fewshot_as_multiturn``; these are real turns, so they always stay separate messages.
        """
        from jp_bench.harness import multiturn

        messages = multiturn.conversation(doc)
        if system_instruction:
            messages = [{"role": "system", "content": system_instruction}, *messages]
        if apply_chat_template and chat_template is not None:
            return chat_template(messages, add_generation_prompt=True)
        return multiturn.render_text(messages)

    def construct_requests(self, doc: dict, ctx: Any, **kwargs: Any) -> Any:
        from jp_bench.harness import multiturn

        chat = bool(kwargs.get("apply_chat_template"))
        requests = super().construct_requests(doc, ctx, **kwargs)
        if not chat:
            for request in requests if isinstance(requests, list) else [requests]:
                multiturn.with_frame_stop(request.arguments[1])  # each request holds its own copy
        return requests

    def build_all_requests(self, *, cache_requests: bool = False, **kwargs: Any) -> None:
        # lm-eval's request cache is keyed by task name and settings, not by the history the contexts
        # were built from: a cached turn-2 context could carry another run's turn-1 answers.
        super().build_all_requests(cache_requests=cache_requests and self.turn == 1, **kwargs)

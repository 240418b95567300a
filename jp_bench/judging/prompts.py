"""Judge prompt sets: ours (jinja2 templates in YAML) and FastChat's ``judge_prompts.jsonl``.

A prompt set provides up to four prompts: ``pairwise``, ``pairwise_reference``, ``single`` and
``single_reference`` (the reference-guided ones are for math and coding); for multi-turn questions
the same four with ``_multi`` (turn k > 1 judged on the whole conversation, about its last answer;
FastChat's ``*-multi-turn`` prompts), and ``single_rubric`` for tasks graded against a reference
answer and grading notes on the prompt's own ``scale`` (ELYZA-tasks-100: 1-5). Every template renders in
a jinja2 sandbox, so a prompt file from elsewhere cannot reach Python objects. The set's
``version`` is a hash of its source text: a prompt change makes new store keys and re-judges.
"""

from __future__ import annotations

import functools
import hashlib
import re
import string
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from jp_bench._util.yaml_lines import load_yaml_text
from jp_bench.errors import InputFileError, JpBenchError, read_input_text
from jp_bench.judging.delimiters import neutralise, template_delimiters
from jp_bench.llm.types import Message

PromptKind = Literal["pairwise", "pairwise_reference", "single", "single_reference", "pairwise_multi",
                     "pairwise_reference_multi", "single_multi", "single_reference_multi", "single_rubric"]
PROMPT_KINDS: tuple[PromptKind, ...] = ("pairwise", "pairwise_reference", "single", "single_reference",
                                        "pairwise_multi", "pairwise_reference_multi", "single_multi",
                                        "single_reference_multi", "single_rubric")
# The score range of single prompts that state none (FastChat's and ours: 1-10).
DEFAULT_SCALE: tuple[int, int] = (1, 10)
DEFAULT_PROMPT_SET = "ja-v1"

# Our templates delimit answers with lines starting with these; an answer may not forge them. Every
# template's own delimiters are neutralised as well (see jp_bench.judging.delimiters).
_DELIMITER_PREFIXES = ("【アシスタント", "【参考解答", "【ユーザー")

# What a jinja2 template may use; anything else is refused when the file is loaded.
TEMPLATE_VARIABLES = frozenset({"questions", "answers_a", "answers_b", "answers", "references", "grading_notes"})
# FastChat's placeholders: {question}, {answer_a}, {ref_answer_1}, {question_2}, {answer_b_2}, ...
_FASTCHAT_FIELD = re.compile(r"(question|answer|answer_a|answer_b)(_[1-9][0-9]?)?|ref_answer_[1-9][0-9]?")


def fence(text: object) -> str:
    """The jinja2 ``fence`` filter: neutralise look-alikes of our delimiters inside an answer (→ 〔)."""
    return neutralise("" if text is None else str(text), _DELIMITER_PREFIXES)


@functools.cache
def _sandbox():
    from jinja2 import StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(undefined=StrictUndefined, keep_trailing_newline=False, autoescape=False)
    env.filters["fence"] = fence
    return env


@functools.lru_cache(maxsize=256)
def _compiled(source: str):
    """Compiling a template costs milliseconds; a run renders the same few templates thousands of times."""
    return _sandbox().from_string(source)


def render_template(source: str, **variables: Any) -> str:
    """``source`` rendered in the one sandboxed jinja2 environment every prompt uses (judges, self-instruct)."""
    return _compiled(source).render(**variables)


@dataclass(frozen=True)
class PromptTemplate:
    system: str
    user: str
    style: Literal["jinja", "fastchat"] = "jinja"
    name: str = ""
    delimiters: tuple[str, ...] = ()  # read from the template; neutralised in answers and references
    scale: tuple[int, int] = DEFAULT_SCALE  # single prompts: the score range the judge is asked for


@dataclass(frozen=True)
class PromptSet:
    name: str
    version: str
    source: str
    templates: dict[str, PromptTemplate]

    def kind_for(self, mode: Literal["pairwise", "single"], has_reference: bool, *, multi_turn: bool = False,
                 rubric: bool = False) -> PromptKind:
        """The prompt to use: the rubric one for a single score of a task with grading notes (when the set
        has one); reference-guided when a reference exists and the set has one; the ``_multi`` form for
        turn k > 1 of a multi-turn question (which the set must have)."""
        if rubric and mode == "single" and not multi_turn and "single_rubric" in self.templates:
            return "single_rubric"
        suffix = "_multi" if multi_turn else ""
        if has_reference and f"{mode}_reference{suffix}" in self.templates:
            return f"{mode}_reference{suffix}"  # type: ignore[return-value]
        if f"{mode}{suffix}" not in self.templates:
            what = f"multi-turn {mode} prompt ({mode}_multi; FastChat: a '-multi-turn' prompt)" if multi_turn \
                else f"{mode} prompt"
            raise JpBenchError(f"prompt set {self.name!r} ({self.source}) has no {what}"
                               + ("; use --prompts ja-v1 or a file that has one" if multi_turn else ""))
        return f"{mode}{suffix}"  # type: ignore[return-value]

    def render(
        self,
        kind: PromptKind,
        *,
        questions: list[str],
        answers_a: list[str] | None = None,
        answers_b: list[str] | None = None,
        answers: list[str] | None = None,
        references: list[str] | None = None,
        grading_notes: str | None = None,
    ) -> list[Message]:
        template = self.templates[kind]

        def safe(texts: list[str] | None) -> list[str]:
            return [neutralise(text, template.delimiters) for text in texts or []]

        variables = {
            "questions": list(questions),
            "answers_a": safe(answers_a),
            "answers_b": safe(answers_b),
            "answers": safe(answers),
            "references": safe(references),
            "grading_notes": neutralise(grading_notes, template.delimiters) if grading_notes else "",
        }
        if template.style == "fastchat":
            system, user = _render_fastchat(template, variables)
        else:
            system = _compiled(template.system).render(**variables).strip()
            user = _compiled(template.user).render(**variables).strip()
        messages = [Message("system", system)] if system else []
        messages.append(Message("user", user))
        return messages


def _fastchat_variables(variables: dict[str, Any]) -> dict[str, str]:
    """FastChat's placeholder names: question, answer_a, ref_answer_1, question_2, answer_b_2, ..."""
    flat: dict[str, str] = {}
    for index, question in enumerate(variables["questions"], start=1):
        flat[f"question_{index}"] = question
    for key, prefix in (("answers_a", "answer_a"), ("answers_b", "answer_b"), ("answers", "answer"),
                        ("references", "ref_answer")):
        for index, value in enumerate(variables[key], start=1):
            flat[f"{prefix}_{index}"] = value
    flat["question"] = variables["questions"][0] if variables["questions"] else ""
    for key, name in (("answers_a", "answer_a"), ("answers_b", "answer_b"), ("answers", "answer")):
        if variables[key]:
            flat[name] = variables[key][0]
    return flat


class _MissingPlaceholder(dict):
    def __missing__(self, key: str) -> str:
        raise JpBenchError(f"prompt template uses {{{key}}}, which this judgment cannot fill")


def _render_fastchat(template: PromptTemplate, variables: dict[str, Any]) -> tuple[str, str]:
    values = _MissingPlaceholder(_fastchat_variables(variables))
    return template.system.format_map(values), template.user.format_map(values)


def _version(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def _load_yaml_set(path: Path, text: str) -> PromptSet:
    data = load_yaml_text(path, text)
    if not isinstance(data, dict) or "name" not in data:
        raise InputFileError(path, None, "expected a mapping with 'name' and prompts (pairwise, single, ...)")
    from jinja2 import meta

    templates: dict[str, PromptTemplate] = {}
    env = _sandbox()
    for kind in PROMPT_KINDS:
        entry = data.get(kind)
        if entry is None:
            continue
        if not isinstance(entry, dict) or not isinstance(entry.get("user"), str):
            raise InputFileError(path, None, f"'{kind}' needs a 'user' template (and optionally 'system')")
        for part in ("system", "user"):
            source = entry.get(part) or ""
            if not isinstance(source, str):
                raise InputFileError(path, None, f"'{kind}.{part}' must be a string")
            try:
                parsed = env.parse(source)
            except Exception as exc:  # jinja2.TemplateSyntaxError carries the template line
                raise InputFileError(path, None, f"'{kind}.{part}' is not a valid jinja2 template ({exc})") from None
            unknown = sorted(meta.find_undeclared_variables(parsed) - TEMPLATE_VARIABLES)
            if unknown:
                raise InputFileError(path, None, f"'{kind}.{part}' uses undefined variable {unknown[0]!r} "
                                                 f"(templates get: {', '.join(sorted(TEMPLATE_VARIABLES))})")
        system, user = entry.get("system") or "", entry["user"]
        templates[kind] = PromptTemplate(system=system, user=user, name=kind,
                                         delimiters=template_delimiters(system, user),
                                         scale=_scale(path, kind, entry.get("scale")))
    if not templates:
        raise InputFileError(path, None, f"no prompts found (expected some of {', '.join(PROMPT_KINDS)})")
    return PromptSet(name=str(data["name"]), version=_version(text), source=str(path), templates=templates)


def _scale(path: Path, kind: str, value: object) -> tuple[int, int]:
    if value is None:
        return DEFAULT_SCALE
    if kind.startswith("pairwise"):
        raise InputFileError(path, None, f"'{kind}.scale': only single prompts have a score scale")
    if (not isinstance(value, list) or len(value) != 2 or not all(isinstance(v, int) and not isinstance(v, bool)
                                                                  for v in value) or not 0 <= value[0] < value[1]):
        raise InputFileError(path, None, f"'{kind}.scale': expected [low, high], two integers with low < high, "
                                         f"got {value!r}")
    return (value[0], value[1])


def _load_fastchat_set(path: Path, text: str) -> PromptSet:
    """FastChat ``judge_prompts.jsonl``: the first pairwise/single prompt of each kind, reference-guided
    and ``-multi-turn`` ones included (FastChat judges turn 2 with those)."""
    from jp_bench.fastchat_io import read_judge_prompts

    prompts = read_judge_prompts(path)
    templates: dict[str, PromptTemplate] = {}
    for prompt in prompts.values():
        if prompt.type not in ("pairwise", "single"):
            continue
        kind = (f"{prompt.type}_reference" if prompt.uses_reference else prompt.type) + (
            "_multi" if prompt.multi_turn else "")
        for template in (prompt.system_prompt, prompt.prompt_template):
            _check_fastchat_fields(path, prompt.name, template)
        # Keep the first prompt of each kind, in file order (FastChat lists its defaults first).
        templates.setdefault(kind, PromptTemplate(
            prompt.system_prompt, prompt.prompt_template, "fastchat", prompt.name,
            delimiters=template_delimiters(prompt.system_prompt, prompt.prompt_template)))
    if not any(not kind.endswith("_multi") for kind in templates):
        raise InputFileError(path, None, "no single-turn pairwise or single prompts found")
    return PromptSet(name=path.stem, version=_version(text), source=str(path), templates=templates)


def _check_fastchat_fields(path: Path, name: str, template: str) -> None:
    """FastChat templates render with ``str.format_map``: allow plain placeholders only, so a prompt
    file can never reach Python objects (``{question.__class__}``) or fail half-way through a run."""
    try:
        fields = [(field, spec, conversion) for _, field, spec, conversion in string.Formatter().parse(template)
                  if field is not None]
    except ValueError as exc:  # a stray { or }
        raise InputFileError(path, None, f"prompt {name!r}: not a valid template ({exc}; write {{{{ for a "
                                         "literal brace)") from None
    for field, spec, conversion in fields:
        if not _FASTCHAT_FIELD.fullmatch(field) or spec or conversion:
            shown = "{" + field + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
            raise InputFileError(path, None, f"prompt {name!r}: placeholder {shown} is not allowed (plain "
                                             "{question}, {answer_a}, {answer_b}, {answer}, {ref_answer_1}, "
                                             "with _2 for turn 2)")


def load_prompt_set(name_or_path: str | Path = DEFAULT_PROMPT_SET) -> PromptSet:
    """A shipped prompt set by name (``ja-v1``), or a file: our YAML format or FastChat JSONL."""
    candidate = Path(name_or_path).expanduser()
    if candidate.is_file():
        text = read_input_text(candidate)
        if candidate.suffix == ".jsonl" or text.lstrip().startswith("{"):
            return _load_fastchat_set(candidate, text)
        return _load_yaml_set(candidate, text)
    resource = resources.files("jp_bench.judges").joinpath("prompts", f"{name_or_path}.yaml")
    if not resource.is_file():
        known = ", ".join(sorted(p.name.removesuffix(".yaml") for p in shipped_prompt_files()))
        raise JpBenchError(f"unknown prompt set {str(name_or_path)!r} (shipped: {known}; or a file path)")
    with resources.as_file(resource) as path:
        return _load_yaml_set(path, path.read_text(encoding="utf-8"))


def shipped_prompt_files() -> list[Path]:
    folder = resources.files("jp_bench.judges").joinpath("prompts")
    return sorted(Path(str(p)) for p in folder.iterdir() if p.name.endswith(".yaml"))


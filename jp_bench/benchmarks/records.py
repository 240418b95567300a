"""One record per benchmark: where its questions come from (pinned upstream, or shipped), its
categories and their ASCII slugs, reference sets, baseline answers, the judgments its authors released
(and the prompts they were judged with) and score scale."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from jp_bench import paths
from jp_bench.benchmarks.question_csv import parse_tasks_csv
from jp_bench.benchmarks.questions import Question, parse_questions
from jp_bench.errors import JpBenchError

UPSTREAM_URL_ENV = "JP_BENCH_UPSTREAM_URL"
DATA_ENV = "JP_BENCH_DATA"
# The benchmark `jp-bench data import` and `data show` use when given none.
DEFAULT_BENCHMARK = "jp_bench"
GITHUB_RAW = "https://github.com/{repository}/raw/{commit}"
GITHUB_HOME = "https://github.com/{repository}"
HF_DATASET_RAW = "https://huggingface.co/datasets/{repository}/resolve/{commit}"
HF_DATASET_HOME = "https://huggingface.co/datasets/{repository}"
# sha256 of cached files that upstream publishes without one, in `sha256sum -c` format.
RECORDED_SUMS = "SHA256SUMS"


@dataclass(frozen=True)
class PinnedFile:
    """A file of the upstream data folder, by its path there and its expected sha256.

    ``alternatives`` are other paths the same content has had in FastChat-style layouts (or in
    flattened copies of the data folder). ``sha256`` is None for a file upstream publishes no hash
    for: the commit pins it, and its hash is recorded when it is first cached.
    """

    path: str
    sha256: str | None
    alternatives: tuple[str, ...] = ()

    def names(self) -> tuple[str, ...]:
        return (self.path, *self.alternatives)

    def find(self, folder: Path) -> Path | None:
        for relative in self.names():
            candidate = folder / relative
            if candidate.is_file():
                return candidate
        return None


@dataclass(frozen=True)
class ReferenceSet:
    """One set of reference answers a benchmark publishes (FastChat answer format)."""

    name: str
    file: PinnedFile
    description: str = ""


@dataclass(frozen=True)
class PublishedJudgments:
    """Judgments a benchmark's authors released (FastChat ``model_judgment`` files), which
    ``jp-bench data publish`` turns into leaderboard entries: the files, the judge model they name
    and the judge prompts file they were judged with (its prompts are named in every row)."""

    judge: str
    files: tuple[PinnedFile, ...]
    prompts: PinnedFile
    note: str = ""


@dataclass(frozen=True, kw_only=True)
class TaskSettings:
    """What the lm-eval tasks are generated from (jp_bench/harness/task_yamls.py) and multi-turn generation
    reads: the category labels in display order (one subtask each; empty: one subtask of every question),
    the turns of each question, and per-category generation settings where the benchmark's authors fix
    them (MT-Bench's temperatures and token limit; empty / None: the task's defaults)."""

    categories: tuple[str, ...] = ()
    turns: int = 1
    temperatures: Mapping[str, float] = field(default_factory=dict, hash=False)
    max_gen_toks: int | None = None


@dataclass(frozen=True)
class UpstreamBenchmark(TaskSettings):
    """A benchmark whose questions are loaded at run time from a pinned public repository."""

    name: str
    repository: str
    commit: str  # for a Hugging Face dataset: the revision (a commit of its git repository)
    subdir: str
    license: str
    questions: PinnedFile
    # Reference answers by set name; the first is the default, ``reference_set=`` picks another.
    reference_sets: tuple[ReferenceSet, ...] = ()
    # FastChat grades only these categories against references (MT-Bench's math, reasoning, coding):
    # attached elsewhere they would turn open-ended questions into reference-guided ones. None: all.
    reference_categories: frozenset[str] | None = None
    # Answers released with the benchmark that serve as its pairwise baseline (``baseline: paper``).
    baseline_answers: PinnedFile | None = None
    baseline_model: str | None = None
    # Judgments released with the benchmark, one entry per judge (``jp-bench data publish``).
    published_judgments: tuple[PublishedJudgments, ...] = ()
    # The date of ``commit``: published results of the released judgments carry it, never today's.
    commit_date: dt.date | None = None
    description: str = ""
    reader: Callable[[Path], list[Question]] = parse_questions
    raw_url: str = GITHUB_RAW
    home_url: str = GITHUB_HOME
    # ASCII names for upstream category labels that are not ASCII (lm-eval task names must be).
    category_slugs: Mapping[str, str] = field(default_factory=dict, hash=False)
    # The score range the benchmark's authors grade on, where they fix one.
    score_scale: tuple[int, int] | None = None
    # Environment overrides; empty means JP_BENCH_DATA_<NAME> and JP_BENCH_UPSTREAM_URL_<NAME>.
    data_env: str = ""
    url_env: str = ""

    def __post_init__(self) -> None:
        suffix = self.name.upper()
        if not self.data_env:
            object.__setattr__(self, "data_env", f"{DATA_ENV}_{suffix}")
        if not self.url_env:
            object.__setattr__(self, "url_env", f"{UPSTREAM_URL_ENV}_{suffix}")

    @property
    def references(self) -> PinnedFile | None:
        """The default reference answers (the first set), if the benchmark has any."""
        return self.reference_sets[0].file if self.reference_sets else None

    def reference_set(self, name: str | None = None) -> ReferenceSet | None:
        """The set called ``name`` (the default when None); an unknown name is an error."""
        if name is None:
            return self.reference_sets[0] if self.reference_sets else None
        for reference_set in self.reference_sets:
            if reference_set.name == name:
                return reference_set
        known = ", ".join(s.name for s in self.reference_sets) or "none"
        raise JpBenchError(f"{self.name} has no reference set {name!r} (known: {known})")

    def pinned_files(self) -> tuple[PinnedFile, ...]:
        released = [pinned for judged in self.published_judgments for pinned in (*judged.files, judged.prompts)]
        files = (self.questions, *(s.file for s in self.reference_sets), self.baseline_answers, *released)
        # dict.fromkeys: judgments of two judges may share one prompts file; each file once, in order.
        return tuple(dict.fromkeys(p for p in files if p is not None))

    @property
    def pin(self) -> str:
        return f"{self.repository}@{self.commit}"

    @property
    def home(self) -> str:
        return self.home_url.format(repository=self.repository)

    def url(self, relative_path: str) -> str:
        base = os.environ.get(self.url_env) or self.raw_url.format(repository=self.repository, commit=self.commit)
        return "/".join([base.rstrip("/"), *(part.strip("/") for part in (self.subdir, relative_path) if part)])

    @property
    def commit_page(self) -> str:
        """The repository's page at the pinned commit (GitHub and the Hugging Face Hub spell it alike)."""
        return f"{self.home}/tree/{self.commit}"

    def repository_path(self, relative_path: str) -> str:
        """``relative_path`` of the data folder as a path in the repository (``data/jp_bench/...``)."""
        return "/".join(part.strip("/") for part in (self.subdir, relative_path) if part)

    def page(self, relative_path: str) -> str:
        """A link to a file of the data folder at the pinned commit, for people (the mirror override
        of downloads does not apply: a published link names the upstream file itself)."""
        return f"{self.home}/blob/{self.commit}/{self.repository_path(relative_path)}"

    def cache_dir(self) -> Path:
        return paths.data_dir() / self.name

    def import_command(self) -> str:
        option = "" if self.name == DEFAULT_BENCHMARK else f" --benchmark {self.name}"
        return f"jp-bench data import{option} PATH"

    def category_slug(self, category: str) -> str:
        return self.category_slugs.get(category, category)


@dataclass(frozen=True)
class ShippedBenchmark(TaskSettings):
    """A benchmark whose questions ship inside this package."""

    name: str
    resource: str
    license: str
    description: str = ""


Benchmark = UpstreamBenchmark | ShippedBenchmark

# The Japanese Vicuna QA labels as they appear in the question file, in display order (the paper counts
# coding and math as one category, hence its "8 categories").
VICUNA_CATEGORIES = ("generic", "knowledge", "roleplay", "common-sense", "fermi", "counterfactual", "coding", "math",
                     "writing")

JP_BENCH = UpstreamBenchmark(
    name="jp_bench",
    repository="ku-nlp/ja-vicuna-qa-benchmark",
    commit="128a862",
    subdir="data/jp_bench",
    license="Apache-2.0",
    questions=PinnedFile(
        "question.jsonl", "0a66a22e6c07773c35bfd2c12c1226ff2873d3e7b70981b9dec7ca8efb72b5d0"
    ),
    reference_sets=(
        ReferenceSet("gpt-4", PinnedFile(
            "reference_answer/gpt-4/results.jsonl",
            "078918a9138607b91e4614097c1f6b1208e9563616ef4a1cc0339aa6526e4427",
            alternatives=("reference_answer/gpt-4.jsonl",),
        ), "GPT-4's answers to the coding and math questions, released with the benchmark"),
    ),
    baseline_answers=PinnedFile(
        "model_answer/openai--text-davinci-003/results.jsonl",
        "a50d7e090324f91e2c36c6d2cd6663b3d61c0b9ac252bd04962a19348915b334",
        alternatives=("model_answer/openai--text-davinci-003.jsonl",),
    ),
    baseline_model="openai--text-davinci-003",
    # The pairs the paper reports. The pinned commit holds four more pairs judged later (llm-jp-13b full and
    # LoRA, rinna sft-v2, Swallow-70b): each would be one more PinnedFile here.
    published_judgments=(
        PublishedJudgments(
            judge="gpt-4",
            files=(
                PinnedFile(
                    "model_judgment/pairwise/gpt-4/pairwise:cyberagent--calm2-7b-chat_openai--text-davinci-003.jsonl",
                    "b3bb2e4bea19b7041bd1cfd6ce7042ed1c8d11862f883ee3de6fa0d8ed02f11b",
                ),
                PinnedFile(
                    "model_judgment/pairwise/gpt-4/"
                    "pairwise:openai--text-davinci-003_rinna--japanese-gpt-neox-3.6b-instruction-ppo.jsonl",
                    "8e9c71cfd12fb8d0a17993f7f968ca1b34779283a5651c5e4b27a5524f9a2848",
                ),
            ),
            prompts=PinnedFile(
                "judge_prompts.jsonl", "429c07ec35405812b26e10273520d8cd6ffe923808ab6021d431d9ae537be684"
            ),
            note="GPT-4's pairwise judgments released with the benchmark, each question judged in both answer "
                 "orders, reported as jp-bench reports FastChat judgment files.",
        ),
    ),
    commit_date=dt.date(2024, 6, 11),
    description="The paper's 80 questions (Japanese Vicuna QA benchmark, 2023)",
    categories=VICUNA_CATEGORIES,
    data_env=DATA_ENV,
    url_env=UPSTREAM_URL_ENV,
)

JA_MT_BENCH = UpstreamBenchmark(
    name="ja_mt_bench",
    repository="Stability-AI/FastChat",
    commit="e37eb28ee490480f6f4989274ed47c55f7dfce82",  # branch jp-stable, 2024-07-05
    subdir="fastchat/llm_judge/data/japanese_mt_bench",
    license="Apache-2.0",
    # question_full.jsonl is the 80-question set; question.jsonl there leaves out coding and math.
    questions=PinnedFile(
        "question_full.jsonl", "8f56c8bd5ff93d2120409bc8f77f0020e673c74548c9637f2aace12a323834e5"
    ),
    reference_sets=(
        ReferenceSet("gpt-4", PinnedFile(
            "reference_answer/gpt-4.jsonl", "0631685c4ebc66390970588b658e4d19047fafb0a00ec1d841616686c07b0d6b"
        ), "GPT-4's answers, the set Japanese MT-Bench was first judged with"),
        ReferenceSet("gpt-4o-human", PinnedFile(
            "reference_answer/base-gpt4o-with-human-annotation.jsonl",
            "8ea6c0b82073908f94b57f67918de5f11286e1dd7334b366ecf47a2c9b774996",
        ), "GPT-4o's answers corrected by human annotators (upstream, June 2024)"),
    ),
    reference_categories=frozenset({"math", "reasoning", "coding"}),
    description="Japanese MT-Bench (Stability AI): 80 two-turn questions in 8 categories",
    categories=("coding", "extraction", "humanities", "math", "reasoning", "roleplay", "stem", "writing"),
    turns=2,
    # FastChat llm_judge's `temperature_config` (common.py), which MT-Bench answers are generated with;
    # FastChat samples unless the temperature is below 1e-4, and so do we (0.0 means greedy).
    temperatures={"writing": 0.7, "roleplay": 0.7, "extraction": 0.0, "math": 0.0, "coding": 0.0,
                  "reasoning": 0.0, "stem": 0.1, "humanities": 0.1},
    max_gen_toks=1024,  # FastChat's max_new_token for MT-Bench
)

RAKUDA = UpstreamBenchmark(
    name="rakuda",
    repository="yuzu-ai/japanese-llm-ranking",
    commit="fae1ee79c69b0c3acf8e8a1994e43c7952e7bd9c",  # 2024-03-04
    subdir="jrank/data",
    license="Apache-2.0",
    # Upstream keeps it at rakuda_v2/questions.jsonl; flattened copies name it rakuda_v2_questions.jsonl.
    questions=PinnedFile(
        "rakuda_v2/questions.jsonl", "008af104f80f4d8ccabc848253715ee6a95d404d3399b44c88e82a5dbcdbcda2",
        alternatives=("rakuda_v2_questions.jsonl",),
    ),
    category_slugs={"地理": "geography", "政治": "politics", "歴史": "history", "社会": "society"},
    categories=("地理", "政治", "歴史", "社会"),
    description="Rakuda v2 (YuzuAI): 40 questions on Japanese geography, politics, history and society",
)

ELYZA_TASKS_100 = UpstreamBenchmark(
    name="elyza_tasks_100",
    repository="elyza/ELYZA-tasks-100",
    # The revision that added test.csv; the Hub shows no later commit changing it.
    commit="2ea63e3840003b6363b0372e699d25d601eb2f6b",
    subdir="",
    license="CC-BY-SA-4.0",
    # Stored in plain git (not LFS), so the Hub publishes no sha256 for it: pinned by revision,
    # its sha256 recorded when first cached.
    questions=PinnedFile("test.csv", None),
    reader=parse_tasks_csv,
    raw_url=HF_DATASET_RAW,
    home_url=HF_DATASET_HOME,
    score_scale=(1, 5),
    description="ELYZA-tasks-100: 100 tasks with reference answers and grading notes, graded 1-5",
)

JP_BENCH_FRESH = ShippedBenchmark(
    name="jp_bench_fresh",
    resource="fresh/question.jsonl",
    license="Apache-2.0",
    description="80 original questions shipped with jp-bench (contamination-free companion)",
    categories=VICUNA_CATEGORIES,
)

BENCHMARKS: dict[str, Benchmark] = {
    b.name: b for b in (JP_BENCH, JP_BENCH_FRESH, JA_MT_BENCH, RAKUDA, ELYZA_TASKS_100)
}
DEFAULT_OFFLINE_BENCHMARK = JP_BENCH_FRESH.name


def get_benchmark(name: str) -> Benchmark:
    try:
        return BENCHMARKS[name]
    except KeyError:
        known = ", ".join(sorted(BENCHMARKS))
        raise JpBenchError(f"unknown benchmark {name!r} (known: {known}, or a path to a question.jsonl)") from None


def category_slug(benchmark: str, category: str) -> str:
    """An ASCII name for ``category`` of ``benchmark`` (for lm-eval task names); else the label itself."""
    found = BENCHMARKS.get(benchmark)
    return found.category_slug(category) if isinstance(found, UpstreamBenchmark) else category

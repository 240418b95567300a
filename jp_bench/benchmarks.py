"""Benchmark sources: question sets pinned upstream (commit and sha256) and the set we ship.

Upstream sets are never part of this package. Each is read, in this order, from its data
override (``$JP_BENCH_DATA`` for ``jp_bench``, ``$JP_BENCH_DATA_<NAME>`` for the others, e.g.
``$JP_BENCH_DATA_JA_MT_BENCH``: a checkout of the upstream repository, or a folder laid out like its
data folder), from the verified copy in ``$JP_BENCH_HOME/data/<name>``, or downloaded once from the
pinned commit. Every file is checked against its pinned sha256 before it is used or cached. A file
published without a sha256 (ELYZA-tasks-100's ``test.csv``) is pinned by its revision only; its
sha256 is recorded in the cache's ``SHA256SUMS`` when first cached and checked on every later load.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from jp_bench import paths
from jp_bench.atomic import write_bytes_atomic, write_text_atomic
from jp_bench.errors import ChecksumError, JpBenchError
from jp_bench.question_csv import parse_tasks_csv
from jp_bench.questions import Question, attach_references, parse_questions, parse_reference_answers

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
class UpstreamBenchmark:
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
        files = (self.questions, *(s.file for s in self.reference_sets), self.baseline_answers)
        return tuple(p for p in files if p is not None)

    @property
    def pin(self) -> str:
        return f"{self.repository}@{self.commit}"

    @property
    def home(self) -> str:
        return self.home_url.format(repository=self.repository)

    def url(self, relative_path: str) -> str:
        base = os.environ.get(self.url_env) or self.raw_url.format(repository=self.repository, commit=self.commit)
        return "/".join([base.rstrip("/"), *(part.strip("/") for part in (self.subdir, relative_path) if part)])

    def cache_dir(self) -> Path:
        return paths.data_dir() / self.name

    def import_command(self) -> str:
        option = "" if self.name == DEFAULT_BENCHMARK else f" --benchmark {self.name}"
        return f"jp-bench data import{option} PATH"

    def category_slug(self, category: str) -> str:
        return self.category_slugs.get(category, category)


@dataclass(frozen=True)
class ShippedBenchmark:
    """A benchmark whose questions ship inside this package."""

    name: str
    resource: str
    license: str
    description: str = ""


Benchmark = UpstreamBenchmark | ShippedBenchmark

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
    description="The paper's 80 questions (Japanese Vicuna QA benchmark, 2023)",
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
)

BENCHMARKS: dict[str, Benchmark] = {
    b.name: b for b in (JP_BENCH, JP_BENCH_FRESH, JA_MT_BENCH, RAKUDA, ELYZA_TASKS_100)
}
DEFAULT_OFFLINE_BENCHMARK = JP_BENCH_FRESH.name


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _verify(benchmark: UpstreamBenchmark, pinned: PinnedFile, data: bytes, origin: str,
            recorded: str | None = None) -> None:
    """Check ``data`` against the pinned sha256, or the recorded one for a file upstream pins none for."""
    expected = pinned.sha256 or recorded
    if expected is None:
        return  # nothing to compare with yet: the revision in the download URL is the pin
    actual = sha256_of(data)
    if actual != expected:
        kind = "pinned" if pinned.sha256 else f"recorded (in {RECORDED_SUMS} when first cached)"
        raise ChecksumError(
            f"{origin}: sha256 {actual[:16]}… does not match the {kind} {expected[:16]}… "
            f"({benchmark.pin}, {pinned.path}). Use a checkout of {benchmark.repository} at commit "
            f"{benchmark.commit} (`git checkout {benchmark.commit}`) and run "
            f"`{benchmark.import_command()}` again, or unset {benchmark.data_env} to download the pinned files."
        )


def _recorded_sums(folder: Path) -> dict[str, str]:
    """``path -> sha256`` from ``folder``'s SHA256SUMS (absent for an upstream checkout)."""
    sums_file = folder / RECORDED_SUMS
    if not sums_file.is_file():
        return {}
    sums = {}
    for line in sums_file.read_text(encoding="utf-8").splitlines():
        digest, _, relative = line.partition("  ")
        if relative:
            sums[relative] = digest
    return sums


def recorded_sha256(benchmark: UpstreamBenchmark, pinned: PinnedFile) -> str | None:
    """The sha256 recorded in the cache for a file without a pinned one (None if not cached yet)."""
    return _recorded_sums(benchmark.cache_dir()).get(pinned.path)


def _store(benchmark: UpstreamBenchmark, files: Mapping[PinnedFile, bytes]) -> dict[str, Path]:
    """Write verified files into the cache; record the sha256 of those without a pinned one."""
    cache = benchmark.cache_dir()
    written = {pinned.path: write_bytes_atomic(cache / pinned.path, data) for pinned, data in files.items()}
    unpinned = {pinned.path: sha256_of(data) for pinned, data in files.items() if pinned.sha256 is None}
    if unpinned:
        sums = {**_recorded_sums(cache), **unpinned}
        write_text_atomic(cache / RECORDED_SUMS, "".join(f"{sums[p]}  {p}\n" for p in sorted(sums)))
    return written


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


def locate_upstream_folder(path: str | Path, benchmark: UpstreamBenchmark = JP_BENCH) -> Path:
    """Find the folder that holds the question file in a checkout or a copied data folder."""
    root = Path(path).expanduser()
    if root.is_file():
        for name in benchmark.questions.names():
            parts = Path(name).parts
            if root.parts[-len(parts):] == parts:
                return root.parents[len(parts) - 1]
    # dict.fromkeys: the candidates without repeats (subdir "" makes them all the root), in order.
    for candidate in dict.fromkeys((root / benchmark.subdir, root / Path(benchmark.subdir).name, root)):
        if benchmark.questions.find(candidate) is not None:
            return candidate
    layout = f"its {benchmark.subdir}" if benchmark.subdir else "it"
    raise JpBenchError(
        f"{root}: no {benchmark.questions.path} found (expected a checkout of {benchmark.home} "
        f"or a folder laid out like {layout})"
    )


def _read_verified_folder(benchmark: UpstreamBenchmark, folder: Path) -> dict[PinnedFile, bytes]:
    """Read and verify every pinned file present in ``folder``; questions are required."""
    recorded = _recorded_sums(folder)
    verified: dict[PinnedFile, bytes] = {}
    for pinned in benchmark.pinned_files():
        found = pinned.find(folder)
        if found is None:
            if pinned is benchmark.questions:
                raise JpBenchError(f"{folder}: missing {pinned.path}")
            continue
        data = found.read_bytes()
        _verify(benchmark, pinned, data, str(found), recorded.get(pinned.path))
        verified[pinned] = data
    return verified


def import_upstream(path: str | Path, benchmark: UpstreamBenchmark = JP_BENCH) -> dict[str, Path]:
    """Verify the upstream files in ``path`` and copy them into the cache.

    Every file is verified before anything is written, so a mismatch leaves the cache untouched.
    A file without a pinned sha256 is copied as found and its sha256 recorded.
    """
    folder = locate_upstream_folder(path, benchmark)
    return _store(benchmark, _read_verified_folder(benchmark, folder))


def _download(benchmark: UpstreamBenchmark, pinned: PinnedFile) -> bytes:
    url = benchmark.url(pinned.path)
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            data = response.read()
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise JpBenchError(
            f"could not download {pinned.path} of {benchmark.pin} ({reason}). Offline? Run "
            f"`{benchmark.import_command()}` with a checkout of {benchmark.home}, or set {benchmark.data_env}=PATH"
        ) from None
    _verify(benchmark, pinned, data, url)
    return data


def fetch_upstream(benchmark: UpstreamBenchmark = JP_BENCH) -> Path:
    """Make sure verified upstream files are in the cache (downloading once); return the folder."""
    cache = benchmark.cache_dir()
    if benchmark.questions.find(cache) is None:
        wanted = (benchmark.questions, *(s.file for s in benchmark.reference_sets))
        # Download all before writing any, so a failed download leaves no half-filled cache.
        _store(benchmark, {pinned: _download(benchmark, pinned) for pinned in wanted})
    return cache


def _file_in(benchmark: UpstreamBenchmark, folder: Path, pinned: PinnedFile, what: str) -> Path:
    """The verified ``pinned`` file of ``folder``; a cache missing it gets it downloaded once.

    A cache filled before the file was pinned (or by an import of a partial folder) is completed
    on first use; a folder named by the data override is the user's, so a missing file is an error.
    """
    found = pinned.find(folder)
    if found is None:
        if os.environ.get(benchmark.data_env):
            raise JpBenchError(f"{folder}: missing {pinned.path} ({what} of {benchmark.pin}); "
                               f"use a full checkout of {benchmark.repository} at {benchmark.commit}")
        found = _store(benchmark, {pinned: _download(benchmark, pinned)})[pinned.path]
    _verify(benchmark, pinned, found.read_bytes(), str(found), _recorded_sums(folder).get(pinned.path))
    return found


def baseline_answers_path(benchmark: UpstreamBenchmark = JP_BENCH) -> Path:
    """The verified file of the answers released as ``benchmark``'s baseline (downloaded once).

    Read like the questions: the data override, else the imported or downloaded copy in the cache.
    A cache filled before the baseline was pinned gets the file downloaded on first use.
    """
    pinned = benchmark.baseline_answers
    if pinned is None:
        raise JpBenchError(f"{benchmark.name} has no released baseline answers; give a path to answers instead")
    return _file_in(benchmark, _upstream_folder(benchmark), pinned, "the baseline answers")


def _upstream_folder(benchmark: UpstreamBenchmark) -> Path:
    override = os.environ.get(benchmark.data_env)
    if override:
        return locate_upstream_folder(override, benchmark)
    return fetch_upstream(benchmark)


def _graded_references(benchmark: UpstreamBenchmark, questions: Sequence[Question],
                       references: dict[int | str, list[str]]) -> dict[int | str, list[str]]:
    if benchmark.reference_categories is None:
        return references
    graded = {q.question_id for q in questions if q.category in benchmark.reference_categories}
    return {question_id: turns for question_id, turns in references.items() if question_id in graded}


def _load_upstream(benchmark: UpstreamBenchmark, reference_set: str | None) -> list[Question]:
    chosen = benchmark.reference_set(reference_set)  # an unknown name fails before any download
    folder = _upstream_folder(benchmark)
    # Verify on every load: it is cheap and catches an edited cache or a wrong checkout.
    _read_verified_folder(benchmark, folder)
    questions = benchmark.reader(benchmark.questions.find(folder))  # type: ignore[arg-type]
    if chosen is None:
        return questions
    if reference_set is None:
        # The default set stays optional, as it always was: a folder without it loads without references.
        reference_file = chosen.file.find(folder)
    else:
        reference_file = _file_in(benchmark, folder, chosen.file, f"the {chosen.name} reference answers")
    if reference_file is None:
        return questions
    references = _graded_references(benchmark, questions, parse_reference_answers(reference_file))
    return attach_references(questions, references)


def _load_shipped(benchmark: ShippedBenchmark) -> list[Question]:
    resource = resources.files("jp_bench.data").joinpath(benchmark.resource)
    with resources.as_file(resource) as file_path:
        return parse_questions(file_path)


def _no_reference_sets(name: str, reference_set: str | None) -> None:
    if reference_set is not None:
        raise JpBenchError(f"{name} has no reference sets to choose from (reference_set={reference_set!r}); "
                           f"its reference answers, if any, are in its question file")


def load_questions(name_or_path: str | Path, reference_set: str | None = None) -> list[Question]:
    """Questions of a named benchmark (see ``BENCHMARKS``) or of a question file.

    ``reference_set`` picks which published reference answers are attached, for benchmarks that
    publish several (``ja_mt_bench``: ``gpt-4``, the default, or ``gpt-4o-human``).
    """
    name = str(name_or_path)
    if name not in BENCHMARKS and Path(name).expanduser().is_file():
        _no_reference_sets(name, reference_set)
        return parse_questions(Path(name).expanduser())
    benchmark = get_benchmark(name)
    if isinstance(benchmark, UpstreamBenchmark):
        return _load_upstream(benchmark, reference_set)
    _no_reference_sets(name, reference_set)
    return _load_shipped(benchmark)

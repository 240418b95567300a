"""Benchmark sources: the paper's questions (pinned upstream) and the question set we ship.

The upstream set is never part of this package. It is read, in this order, from
``$JP_BENCH_DATA`` (a checkout of the upstream repository, or a folder laid out like its
``data/jp_bench``), from the verified copy in ``$JP_BENCH_HOME/data``, or downloaded once from the
pinned commit. Every file is checked against its pinned sha256 before it is used or cached.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from jp_bench import paths
from jp_bench.atomic import write_bytes_atomic
from jp_bench.errors import ChecksumError, JpBenchError
from jp_bench.questions import Question, attach_references, parse_questions, parse_reference_answers

UPSTREAM_URL_ENV = "JP_BENCH_UPSTREAM_URL"
DATA_ENV = "JP_BENCH_DATA"


@dataclass(frozen=True)
class PinnedFile:
    """A file of the upstream data folder, by its path there and its expected sha256.

    ``alternatives`` are other paths the same content has had in FastChat-style layouts.
    """

    path: str
    sha256: str
    alternatives: tuple[str, ...] = ()

    def find(self, folder: Path) -> Path | None:
        for relative in (self.path, *self.alternatives):
            candidate = folder / relative
            if candidate.is_file():
                return candidate
        return None


@dataclass(frozen=True)
class UpstreamBenchmark:
    """A benchmark whose questions are loaded at run time from a pinned public repository."""

    name: str
    repository: str
    commit: str
    subdir: str
    license: str
    questions: PinnedFile
    references: PinnedFile | None = None
    # Answers released with the benchmark that serve as its pairwise baseline (``baseline: paper``).
    baseline_answers: PinnedFile | None = None
    baseline_model: str | None = None
    description: str = ""

    def pinned_files(self) -> tuple[PinnedFile, ...]:
        return tuple(p for p in (self.questions, self.references, self.baseline_answers) if p is not None)

    @property
    def pin(self) -> str:
        return f"{self.repository}@{self.commit}"

    def url(self, relative_path: str) -> str:
        base = os.environ.get(UPSTREAM_URL_ENV) or f"https://github.com/{self.repository}/raw/{self.commit}"
        return f"{base.rstrip('/')}/{self.subdir}/{relative_path}"

    def cache_dir(self) -> Path:
        return paths.data_dir() / self.name


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
    references=PinnedFile(
        "reference_answer/gpt-4/results.jsonl",
        "078918a9138607b91e4614097c1f6b1208e9563616ef4a1cc0339aa6526e4427",
        alternatives=("reference_answer/gpt-4.jsonl",),
    ),
    baseline_answers=PinnedFile(
        "model_answer/openai--text-davinci-003/results.jsonl",
        "a50d7e090324f91e2c36c6d2cd6663b3d61c0b9ac252bd04962a19348915b334",
        alternatives=("model_answer/openai--text-davinci-003.jsonl",),
    ),
    baseline_model="openai--text-davinci-003",
    description="The paper's 80 questions (Japanese Vicuna QA benchmark, 2023)",
)

JP_BENCH_FRESH = ShippedBenchmark(
    name="jp_bench_fresh",
    resource="fresh/question.jsonl",
    license="Apache-2.0",
    description="80 original questions shipped with jp-bench (contamination-free companion)",
)

BENCHMARKS: dict[str, Benchmark] = {b.name: b for b in (JP_BENCH, JP_BENCH_FRESH)}
DEFAULT_OFFLINE_BENCHMARK = JP_BENCH_FRESH.name


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _verify(benchmark: UpstreamBenchmark, pinned: PinnedFile, data: bytes, origin: str) -> None:
    actual = sha256_of(data)
    if actual != pinned.sha256:
        raise ChecksumError(
            f"{origin}: sha256 {actual[:16]}… does not match the pinned {pinned.sha256[:16]}… "
            f"({benchmark.pin}, {pinned.path}). Use a checkout of {benchmark.repository} at commit "
            f"{benchmark.commit} (`git checkout {benchmark.commit}`) and run "
            f"`jp-bench data import PATH` again, or unset {DATA_ENV} to download the pinned files."
        )


def get_benchmark(name: str) -> Benchmark:
    try:
        return BENCHMARKS[name]
    except KeyError:
        known = ", ".join(sorted(BENCHMARKS))
        raise JpBenchError(f"unknown benchmark {name!r} (known: {known}, or a path to a question.jsonl)") from None


def locate_upstream_folder(path: str | Path, benchmark: UpstreamBenchmark = JP_BENCH) -> Path:
    """Find the folder that holds ``question.jsonl`` in a checkout or a copied data folder."""
    root = Path(path).expanduser()
    if root.is_file() and root.name == benchmark.questions.path:
        return root.parent
    leaf = Path(benchmark.subdir).name
    for candidate in (root / benchmark.subdir, root / leaf, root):
        if (candidate / benchmark.questions.path).is_file():
            return candidate
    raise JpBenchError(
        f"{root}: no {benchmark.questions.path} found (expected a checkout of {benchmark.repository} "
        f"or a folder laid out like its {benchmark.subdir})"
    )


def _read_verified_folder(benchmark: UpstreamBenchmark, folder: Path) -> dict[str, bytes]:
    """Read and verify every pinned file present in ``folder``; questions are required."""
    verified: dict[str, bytes] = {}
    for pinned in benchmark.pinned_files():
        found = pinned.find(folder)
        if found is None:
            if pinned is benchmark.questions:
                raise JpBenchError(f"{folder}: missing {pinned.path}")
            continue
        data = found.read_bytes()
        _verify(benchmark, pinned, data, str(found))
        verified[pinned.path] = data
    return verified


def import_upstream(path: str | Path, benchmark: UpstreamBenchmark = JP_BENCH) -> dict[str, Path]:
    """Verify the upstream files in ``path`` and copy them into the cache.

    Every file is verified before anything is written, so a mismatch leaves the cache untouched.
    """
    folder = locate_upstream_folder(path, benchmark)
    verified = _read_verified_folder(benchmark, folder)
    written = {}
    for relative, data in verified.items():
        written[relative] = write_bytes_atomic(benchmark.cache_dir() / relative, data)
    return written


def _download(benchmark: UpstreamBenchmark, pinned: PinnedFile) -> bytes:
    url = benchmark.url(pinned.path)
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            data = response.read()
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise JpBenchError(
            f"could not download {pinned.path} of {benchmark.pin} ({reason}). Offline? Run "
            f"`jp-bench data import PATH` with a checkout of {benchmark.repository}, or set {DATA_ENV}=PATH"
        ) from None
    _verify(benchmark, pinned, data, url)
    return data


def fetch_upstream(benchmark: UpstreamBenchmark = JP_BENCH) -> Path:
    """Make sure verified upstream files are in the cache (downloading once); return the folder."""
    cache = benchmark.cache_dir()
    if not (cache / benchmark.questions.path).is_file():
        downloads = {benchmark.questions.path: _download(benchmark, benchmark.questions)}
        if benchmark.references is not None:
            downloads[benchmark.references.path] = _download(benchmark, benchmark.references)
        for relative, data in downloads.items():
            write_bytes_atomic(cache / relative, data)
    return cache


def baseline_answers_path(benchmark: UpstreamBenchmark = JP_BENCH) -> Path:
    """The verified file of the answers released as ``benchmark``'s baseline (downloaded once).

    Read like the questions: ``$JP_BENCH_DATA``, else the imported or downloaded copy in the cache.
    A cache filled before the baseline was pinned gets the file downloaded on first use.
    """
    pinned = benchmark.baseline_answers
    if pinned is None:
        raise JpBenchError(f"{benchmark.name} has no released baseline answers; give a path to answers instead")
    folder = _upstream_folder(benchmark)
    found = pinned.find(folder)
    if found is None:
        if os.environ.get(DATA_ENV):
            raise JpBenchError(f"{folder}: missing {pinned.path} (the baseline answers of {benchmark.pin}); "
                               f"use a full checkout of {benchmark.repository} at {benchmark.commit}")
        found = write_bytes_atomic(folder / pinned.path, _download(benchmark, pinned))
    _verify(benchmark, pinned, found.read_bytes(), str(found))
    return found


def _upstream_folder(benchmark: UpstreamBenchmark) -> Path:
    override = os.environ.get(DATA_ENV)
    if override:
        return locate_upstream_folder(override, benchmark)
    return fetch_upstream(benchmark)


def _load_upstream(benchmark: UpstreamBenchmark) -> list[Question]:
    folder = _upstream_folder(benchmark)
    # Verify on every load: it is cheap and catches an edited cache or a wrong checkout.
    _read_verified_folder(benchmark, folder)
    questions = parse_questions(benchmark.questions.find(folder))  # type: ignore[arg-type]
    if benchmark.references is not None:
        reference_file = benchmark.references.find(folder)
        if reference_file is not None:
            questions = attach_references(questions, parse_reference_answers(reference_file))
    return questions


def _load_shipped(benchmark: ShippedBenchmark) -> list[Question]:
    resource = resources.files("jp_bench.data").joinpath(benchmark.resource)
    with resources.as_file(resource) as file_path:
        return parse_questions(file_path)


def load_questions(name_or_path: str | Path) -> list[Question]:
    """Questions of a named benchmark (``jp_bench``, ``jp_bench_fresh``) or of a question file."""
    name = str(name_or_path)
    if name not in BENCHMARKS and Path(name).expanduser().is_file():
        return parse_questions(Path(name).expanduser())
    benchmark = get_benchmark(name)
    if isinstance(benchmark, UpstreamBenchmark):
        return _load_upstream(benchmark)
    return _load_shipped(benchmark)

"""Benchmark sources: question sets pinned upstream (commit and sha256) and the set we ship.

Upstream sets are never part of this package. Each is read, in this order, from its data
override (``$JP_BENCH_DATA`` for ``jp_bench``, ``$JP_BENCH_DATA_<NAME>`` for the others, e.g.
``$JP_BENCH_DATA_JA_MT_BENCH``: a checkout of the upstream repository, or a folder laid out like its
data folder), from the verified copy in ``$JP_BENCH_HOME/data/<name>``, or downloaded once from the
pinned commit. Every file is checked against its pinned sha256 before it is used or cached. A file
published without a sha256 (ELYZA-tasks-100's ``test.csv``) is pinned by its revision only; its
sha256 is recorded in the cache's ``SHA256SUMS`` when first cached and checked on every later load.

:mod:`.records` holds one record per benchmark, :mod:`.upstream` the pinned download, import and
verification, :mod:`.loading` the questions by name or path.
"""

from jp_bench.benchmarks.loading import load_questions
from jp_bench.benchmarks.records import (
    BENCHMARKS,
    DATA_ENV,
    DEFAULT_BENCHMARK,
    DEFAULT_OFFLINE_BENCHMARK,
    ELYZA_TASKS_100,
    JA_MT_BENCH,
    JP_BENCH,
    JP_BENCH_FRESH,
    RAKUDA,
    RECORDED_SUMS,
    UPSTREAM_URL_ENV,
    Benchmark,
    PinnedFile,
    ReferenceSet,
    ShippedBenchmark,
    UpstreamBenchmark,
    category_slug,
    get_benchmark,
)
from jp_bench.benchmarks.upstream import (
    baseline_answers_path,
    fetch_upstream,
    import_upstream,
    locate_upstream_folder,
    recorded_sha256,
    sha256_of,
)

__all__ = [
    "BENCHMARKS", "DATA_ENV", "DEFAULT_BENCHMARK", "DEFAULT_OFFLINE_BENCHMARK", "ELYZA_TASKS_100", "JA_MT_BENCH",
    "JP_BENCH", "JP_BENCH_FRESH", "RAKUDA", "RECORDED_SUMS", "UPSTREAM_URL_ENV", "Benchmark", "PinnedFile",
    "ReferenceSet", "ShippedBenchmark", "UpstreamBenchmark", "baseline_answers_path", "category_slug",
    "fetch_upstream", "get_benchmark", "import_upstream", "load_questions", "locate_upstream_folder",
    "recorded_sha256", "sha256_of",
]

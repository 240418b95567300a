"""Upstream question sets and the files released with them (reference and baseline answers, judgments,
judge prompts): download once from the pinned commit, import from a checkout, verify every file against
its sha256 (or the one recorded when first cached), and keep the verified copy."""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from jp_bench._util.atomic import write_bytes_atomic, write_text_atomic
from jp_bench.benchmarks.records import JP_BENCH, RECORDED_SUMS, PinnedFile, UpstreamBenchmark
from jp_bench.errors import ChecksumError, JpBenchError


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


def upstream_file_path(benchmark: UpstreamBenchmark, pinned: PinnedFile, what: str) -> Path:
    """The verified local copy of one pinned file of ``benchmark`` (``what`` names it in errors).

    Read like the questions: the data override, else the imported or downloaded copy in the cache.
    A cache filled before the file was pinned gets it downloaded on first use.
    """
    return _file_in(benchmark, _upstream_folder(benchmark), pinned, what)


def baseline_answers_path(benchmark: UpstreamBenchmark = JP_BENCH) -> Path:
    """The verified file of the answers released as ``benchmark``'s baseline (downloaded once)."""
    pinned = benchmark.baseline_answers
    if pinned is None:
        raise JpBenchError(f"{benchmark.name} has no released baseline answers; give a path to answers instead")
    return upstream_file_path(benchmark, pinned, "the baseline answers")


def _upstream_folder(benchmark: UpstreamBenchmark) -> Path:
    override = os.environ.get(benchmark.data_env)
    if override:
        return locate_upstream_folder(override, benchmark)
    return fetch_upstream(benchmark)

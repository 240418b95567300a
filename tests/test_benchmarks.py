"""Benchmark sources: the pinned upstream set (import, env var, download, checksums) and our own set."""

from __future__ import annotations

import contextlib
import http.server
import json
import re
import shutil
import threading
from collections import Counter
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from jp_bench.benchmarks import JP_BENCH, import_upstream, load_questions
from jp_bench.errors import ChecksumError, JpBenchError
from tests.support.cli import main_in_process
from tests.support.paths import SHARED

UPSTREAM_LABELS = {
    "generic": 10, "knowledge": 10, "roleplay": 10, "common-sense": 10, "fermi": 10,
    "counterfactual": 10, "coding": 7, "math": 3, "writing": 10,
}


def copy_upstream(checkout: Path, target: Path) -> Path:
    """A folder laid out like the upstream repository root (data/jp_bench/...)."""
    data = target / "data" / "jp_bench"
    data.mkdir(parents=True)
    shutil.copy(checkout / "jp_bench" / "question.jsonl", data / "question.jsonl")
    shutil.copytree(checkout / "jp_bench" / "reference_answer", data / "reference_answer")
    baseline = Path("model_answer") / "openai--text-davinci-003" / "results.jsonl"
    (data / baseline).parent.mkdir(parents=True)
    shutil.copy(checkout / "jp_bench" / baseline, data / baseline)
    return target


@pytest.mark.unit
def test_import_from_data_folder_then_load(jp_home: Path, upstream_checkout: Path) -> None:
    written = import_upstream(upstream_checkout)
    released = "model_judgment/pairwise/gpt-4/pairwise:"  # the paper's judgments and their prompts, pinned too
    assert set(written) == {"question.jsonl", "reference_answer/gpt-4/results.jsonl",
                            "model_answer/openai--text-davinci-003/results.jsonl", "judge_prompts.jsonl",
                            f"{released}cyberagent--calm2-7b-chat_openai--text-davinci-003.jsonl",
                            f"{released}openai--text-davinci-003_rinna--japanese-gpt-neox-3.6b-instruction-ppo.jsonl"}
    questions = load_questions("jp_bench")
    assert len(questions) == 80
    assert Counter(q.category for q in questions) == UPSTREAM_LABELS
    with_reference = {q.question_id for q in questions if q.reference}
    assert with_reference == set(range(61, 71))  # coding and math carry reference answers


@pytest.mark.unit
def test_import_from_repository_checkout_layout(jp_home: Path, upstream_checkout: Path, tmp_path: Path) -> None:
    repo = copy_upstream(upstream_checkout, tmp_path / "repo")
    result = main_in_process("data", "import", str(repo))
    assert result.returncode == 0, result.stderr
    assert (jp_home / "data" / "jp_bench" / "question.jsonl").is_file()
    show = main_in_process("data", "show", "--benchmark", "jp_bench")
    assert show.returncode == 0, show.stderr
    counts = dict(re.findall(r"^(\S+)\s+(\d+)$", show.stdout, flags=re.MULTILINE))
    assert {k: int(v) for k, v in counts.items() if k != "total"} == UPSTREAM_LABELS
    assert counts["total"] == "80"


@pytest.mark.unit
def test_checksum_mismatch_on_import_writes_nothing(jp_home: Path, upstream_checkout: Path, tmp_path: Path) -> None:
    repo = copy_upstream(upstream_checkout, tmp_path / "repo")
    question_file = repo / "data" / "jp_bench" / "question.jsonl"
    question_file.write_text(question_file.read_text(encoding="utf-8").replace("時間", "時刻", 1), encoding="utf-8")
    with pytest.raises(ChecksumError) as caught:
        import_upstream(repo)
    message = str(caught.value)
    assert str(question_file) in message and "does not match the pinned" in message
    assert "git checkout 128a862" in message  # says what to do
    assert not (jp_home / "data").exists()

    result = main_in_process("data", "import", str(repo))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.unit
def test_env_var_points_at_checkout(jp_home: Path, upstream_checkout: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JP_BENCH_DATA", str(upstream_checkout))
    assert len(load_questions("jp_bench")) == 80
    assert not (jp_home / "data").exists()  # read in place, nothing copied


@pytest.mark.unit
def test_env_var_with_wrong_data_is_a_checksum_error(
    jp_home: Path, upstream_checkout: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "jp_bench"
    folder.mkdir()
    lines = (upstream_checkout / "jp_bench" / "question.jsonl").read_text(encoding="utf-8").splitlines()
    (folder / "question.jsonl").write_text("\n".join(lines[:-1]) + "\n", encoding="utf-8")
    monkeypatch.setenv("JP_BENCH_DATA", str(folder))
    with pytest.raises(ChecksumError):
        load_questions("jp_bench")


@contextlib.contextmanager
def serve_folder(folder: Path) -> Iterator[str]:
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *args, **kwargs: None  # type: ignore[method-assign]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.integration
def test_download_once_from_pinned_mirror_then_offline(
    jp_home: Path, upstream_checkout: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mirror = copy_upstream(upstream_checkout, tmp_path / "mirror")
    with serve_folder(mirror) as url:
        monkeypatch.setenv("JP_BENCH_UPSTREAM_URL", url)
        assert len(load_questions("jp_bench")) == 80
    # The server is gone: the verified cache answers.
    monkeypatch.setenv("JP_BENCH_UPSTREAM_URL", "http://127.0.0.1:9")
    assert len(load_questions("jp_bench")) == 80
    assert (jp_home / "data" / "jp_bench" / "reference_answer" / "gpt-4" / "results.jsonl").is_file()


@pytest.mark.integration
def test_paper_baseline_is_downloaded_once_and_verified(
    jp_home: Path, upstream_checkout: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cache filled before the baseline was pinned gets it on first use; a tampered one is refused."""
    from jp_bench.benchmarks import baseline_answers_path

    mirror = copy_upstream(upstream_checkout, tmp_path / "mirror")
    with serve_folder(mirror) as url:
        monkeypatch.setenv("JP_BENCH_UPSTREAM_URL", url)
        assert len(load_questions("jp_bench")) == 80  # questions and references only
        cached = jp_home / "data" / "jp_bench" / "model_answer" / "openai--text-davinci-003" / "results.jsonl"
        assert not cached.exists()
        assert baseline_answers_path() == cached and cached.is_file()
    monkeypatch.setenv("JP_BENCH_UPSTREAM_URL", "http://127.0.0.1:9")
    assert baseline_answers_path() == cached  # offline now: the verified copy
    cached.write_text(cached.read_text(encoding="utf-8").replace("時間", "時刻", 1), encoding="utf-8")
    with pytest.raises(ChecksumError, match="does not match the pinned"):
        baseline_answers_path()


@pytest.mark.integration
def test_tampered_download_is_rejected_and_not_cached(
    jp_home: Path, upstream_checkout: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mirror = copy_upstream(upstream_checkout, tmp_path / "mirror")
    (mirror / "data" / "jp_bench" / "question.jsonl").write_text('{"question_id": 1}\n', encoding="utf-8")
    with serve_folder(mirror) as url:
        monkeypatch.setenv("JP_BENCH_UPSTREAM_URL", url)
        with pytest.raises(ChecksumError):
            load_questions("jp_bench")
    assert not (jp_home / "data" / "jp_bench" / "question.jsonl").exists()


@pytest.mark.unit
def test_offline_without_data_says_what_to_do(jp_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JP_BENCH_UPSTREAM_URL", "http://127.0.0.1:9")
    with pytest.raises(JpBenchError, match=r"jp-bench data import PATH"):
        load_questions("jp_bench")


@pytest.mark.unit
def test_pin_names_repository_commit_and_hashes() -> None:
    assert JP_BENCH.repository == "ku-nlp/ja-vicuna-qa-benchmark"
    assert re.fullmatch(r"[0-9a-f]{7,40}", JP_BENCH.commit)
    assert re.fullmatch(r"[0-9a-f]{64}", JP_BENCH.questions.sha256)
    assert JP_BENCH.references is not None and re.fullmatch(r"[0-9a-f]{64}", JP_BENCH.references.sha256)
    assert JP_BENCH.url("question.jsonl").endswith("/128a862/data/jp_bench/question.jsonl")


# ------------------------------------------------------------------------------ our own question set
KANA = re.compile(r"[\u3040-\u30ff]")


@pytest.mark.unit
def test_shipped_set_has_eight_categories_of_ten(jp_home: Path) -> None:
    questions = load_questions("jp_bench_fresh")
    counts = Counter(q.category for q in questions)
    assert len(questions) == 80
    paper_categories = Counter({c: n for c, n in counts.items() if c not in ("coding", "math")})
    paper_categories["coding+math"] = counts["coding"] + counts["math"]
    assert len(paper_categories) == 8 and set(paper_categories.values()) == {10}
    assert counts["coding"] > 0 and counts["math"] > 0
    for question in questions:
        assert KANA.search(question.text), question.question_id
        has_reference = bool(question.reference)
        assert has_reference == (question.category in ("coding", "math")), question.question_id


@pytest.mark.unit
def test_shipped_set_shares_no_question_with_published_sets(jp_home: Path) -> None:
    """Contamination-free means none of our questions appears in the sets we know of."""
    data = SHARED / "data"
    published: set[str] = set()
    for path in data.rglob("question*.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                published.update(str(turn).strip() for turn in json.loads(line).get("turns", []))
    assert len(published) > 100
    ours = {turn.strip() for q in load_questions("jp_bench_fresh") for turn in q.turns}
    assert not ours & published

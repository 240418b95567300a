"""Peer Japanese benchmarks loaded at run time: Japanese MT-Bench, Rakuda, ELYZA-tasks-100.

The upstream text never enters this repository: ja_mt_bench and rakuda are read from the reference
copies in ../shared/data, and ELYZA-tasks-100 (not available offline) from a small CSV written here
in the same layout.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import shutil
from collections import Counter
from pathlib import Path

import pytest

from jp_bench import benchmarks
from jp_bench.benchmarks import (
    ELYZA_TASKS_100,
    JA_MT_BENCH,
    RAKUDA,
    PinnedFile,
    UpstreamBenchmark,
    import_upstream,
    load_questions,
)
from jp_bench.benchmarks.question_csv import parse_tasks_csv
from jp_bench.cli import main
from jp_bench.errors import ChecksumError, InputFileError, JpBenchError
from jp_bench.harness.documents import question_docs
from tests.support.cli import main_in_process
from tests.support.paths import SHARED
from tests.test_benchmarks import serve_folder

MT_BENCH_COPY = SHARED / "data" / "stability_japanese_mt_bench"
RAKUDA_COPY = SHARED / "data" / "rakuda"
REFERENCE_FILES = {
    "gpt-4": "reference_answer/gpt-4.jsonl",
    "gpt-4o-human": "reference_answer/base-gpt4o-with-human-annotation.jsonl",
}
UPSTREAM = [b for b in benchmarks.BENCHMARKS.values() if isinstance(b, UpstreamBenchmark)]


@pytest.fixture
def home(jp_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """jp_home, with every benchmark's own data and mirror overrides unset too."""
    for benchmark in UPSTREAM:
        monkeypatch.delenv(benchmark.data_env, raising=False)
        monkeypatch.delenv(benchmark.url_env, raising=False)
    return jp_home


@pytest.fixture(scope="session")
def mt_bench_copy() -> Path:
    if not (MT_BENCH_COPY / "question_full.jsonl").is_file():
        pytest.fail(f"reference data missing: {MT_BENCH_COPY} (set JP_BENCH_SHARED to the shared folder)")
    return MT_BENCH_COPY


@pytest.fixture(scope="session")
def rakuda_copy() -> Path:
    if not (RAKUDA_COPY / "rakuda_v2_questions.jsonl").is_file():
        pytest.fail(f"reference data missing: {RAKUDA_COPY} (set JP_BENCH_SHARED to the shared folder)")
    return RAKUDA_COPY


def read_references(path: Path) -> dict[int | str, list[str]]:
    """The upstream answer file, read independently of jp-bench's reader."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return {row["question_id"]: row["choices"][0]["turns"] for row in rows}


def table_counts(stdout: str) -> dict[str, int]:
    """``category -> questions`` from the table `data show` prints (last column)."""
    rows = re.findall(r"^(\S+)(?:\s+\S+)?\s+(\d+)$", stdout, flags=re.MULTILINE)
    return {category: int(count) for category, count in rows}


# ---------------------------------------------------------------------------------- ja_mt_bench
@pytest.mark.unit
def test_ja_mt_bench_import_then_load_with_each_reference_set(home: Path, mt_bench_copy: Path) -> None:
    result = main_in_process("data", "import", "--benchmark", "ja_mt_bench", str(mt_bench_copy))
    assert result.returncode == 0, result.stderr
    assert len(re.findall(r"^verified and imported ", result.stdout, flags=re.MULTILINE)) == 3

    default = load_questions("ja_mt_bench")
    assert len(default) == 80 and all(len(q.turns) == 2 for q in default)
    counts = Counter(q.category for q in default)
    assert len(counts) == 8 and set(counts.values()) == {10}

    attached: dict[str, dict[int | str, list[str]]] = {}
    for name, relative in REFERENCE_FILES.items():
        questions = default if name == "gpt-4" else load_questions("ja_mt_bench", reference_set=name)
        upstream = read_references(mt_bench_copy / relative)
        with_reference = [q for q in questions if q.reference]
        # FastChat grades only math, reasoning and coding against references; open questions get none.
        assert {q.category for q in with_reference} == {"math", "reasoning", "coding"}
        assert len(with_reference) == sum(counts[c] for c in ("math", "reasoning", "coding"))
        for question in with_reference:
            assert question.reference == upstream[question.question_id] and len(question.reference) == 2
        attached[name] = {q.question_id: q.reference for q in with_reference}
    assert attached["gpt-4"].keys() == attached["gpt-4o-human"].keys()
    differing = [qid for qid in attached["gpt-4"] if attached["gpt-4"][qid] != attached["gpt-4o-human"][qid]]
    assert len(differing) > len(attached["gpt-4"]) / 2  # two sets, not one set twice


@pytest.mark.unit
def test_ja_mt_bench_from_a_repository_checkout_and_data_show(home: Path, mt_bench_copy: Path, tmp_path: Path) -> None:
    repo = tmp_path / "FastChat"
    shutil.copytree(mt_bench_copy, repo / JA_MT_BENCH.subdir)
    assert main(["data", "import", "--benchmark", "ja_mt_bench", str(repo)]) == 0
    assert (home / "data" / "ja_mt_bench" / "reference_answer" / "base-gpt4o-with-human-annotation.jsonl").is_file()

    show = main_in_process("data", "show", "--benchmark", "ja_mt_bench")
    assert show.returncode == 0, show.stderr
    header = show.stdout.splitlines()[0]
    assert "80 questions, 8 categories, 2 turns each" in header
    assert "30 with reference answers (set gpt-4)" in header and JA_MT_BENCH.pin in header
    assert "other reference sets: gpt-4o-human" in show.stdout
    counts = table_counts(show.stdout)
    assert counts.pop("total") == 80 and len(counts) == 8 and set(counts.values()) == {10}

    other = main_in_process("data", "show", "--benchmark", "ja_mt_bench", "--reference-set", "gpt-4o-human")
    assert other.returncode == 0 and "(set gpt-4o-human)" in other.stdout.splitlines()[0]
    wrong = main_in_process("data", "show", "--benchmark", "ja_mt_bench", "--reference-set", "gpt4o")
    assert wrong.returncode == 1 and wrong.stderr.strip().splitlines() == [
        "jp-bench: error: ja_mt_bench has no reference set 'gpt4o' (known: gpt-4, gpt-4o-human)"
    ]


@pytest.mark.unit
def test_ja_mt_bench_env_override_reads_in_place_and_is_separate_from_jp_bench(
    home: Path, mt_bench_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JP_BENCH_DATA", str(tmp_path / "not-here"))  # jp_bench's override only
    monkeypatch.setenv("JP_BENCH_DATA_JA_MT_BENCH", str(mt_bench_copy))
    assert len(load_questions("ja_mt_bench", reference_set="gpt-4o-human")) == 80
    assert not (home / "data").exists()  # read in place, nothing copied
    with pytest.raises(JpBenchError, match=r"no question\.jsonl found"):
        load_questions("jp_bench")


@pytest.mark.unit
def test_lm_eval_documents_take_the_reference_set(home: Path, mt_bench_copy: Path) -> None:
    import_upstream(mt_bench_copy, JA_MT_BENCH)
    upstream = read_references(mt_bench_copy / REFERENCE_FILES["gpt-4o-human"])
    docs = question_docs("ja_mt_bench", category="math", reference_set="gpt-4o-human")
    assert len(docs) == 10
    for doc in docs:
        assert len(doc["turns"]) == 2 and doc["reference"] == upstream[doc["question_id"]]
        assert doc["grading_notes"] == ""
    with pytest.raises(JpBenchError, match="no reference set 'nope'"):
        question_docs("ja_mt_bench", reference_set="nope")


@pytest.mark.unit
def test_unknown_reference_set_fails_before_any_download(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JP_BENCH_UPSTREAM_URL_JA_MT_BENCH", "http://127.0.0.1:9")
    with pytest.raises(JpBenchError, match=r"no reference set 'gpt-5' \(known: gpt-4, gpt-4o-human\)"):
        load_questions("ja_mt_bench", reference_set="gpt-5")
    with pytest.raises(JpBenchError, match="has no reference sets to choose from"):
        load_questions("jp_bench_fresh", reference_set="gpt-4")
    assert not (home / "data").exists()


@pytest.mark.integration
def test_a_reference_set_asked_for_is_downloaded_when_the_cache_lacks_it(
    home: Path, mt_bench_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    partial = tmp_path / "partial"
    partial.mkdir()
    shutil.copy(mt_bench_copy / "question_full.jsonl", partial / "question_full.jsonl")
    import_upstream(partial, JA_MT_BENCH)
    assert not any(q.reference for q in load_questions("ja_mt_bench"))  # the default set stays optional
    mirror = tmp_path / "mirror"
    shutil.copytree(mt_bench_copy, mirror / JA_MT_BENCH.subdir)
    with serve_folder(mirror) as url:
        monkeypatch.setenv("JP_BENCH_UPSTREAM_URL_JA_MT_BENCH", url)
        questions = load_questions("ja_mt_bench", reference_set="gpt-4o-human")
    assert sum(1 for q in questions if q.reference) == 30
    assert (home / "data" / "ja_mt_bench" / REFERENCE_FILES["gpt-4o-human"]).is_file()


# --------------------------------------------------------------------------------------- rakuda
@pytest.mark.unit
def test_rakuda_import_load_and_ascii_category_names(home: Path, rakuda_copy: Path) -> None:
    result = main_in_process("data", "import", "--benchmark", "rakuda", str(rakuda_copy))
    assert result.returncode == 0, result.stderr
    # The flattened copy is stored at upstream's own path.
    assert (home / "data" / "rakuda" / "rakuda_v2" / "questions.jsonl").is_file()

    questions = load_questions("rakuda")
    counts = Counter(q.category for q in questions)
    assert len(questions) == 40 and len(counts) == 4 and set(counts.values()) == {10}
    assert all(isinstance(q.question_id, str) and len(q.turns) == 1 for q in questions)
    assert set(counts) == set(RAKUDA.category_slugs)  # upstream labels kept in the questions
    slugs = {RAKUDA.category_slug(c) for c in counts}
    assert slugs == {"geography", "politics", "history", "society"}

    show = main_in_process("data", "show", "--benchmark", "rakuda")
    assert show.returncode == 0, show.stderr
    assert "40 questions, 4 categories, 1 turn each" in show.stdout.splitlines()[0]
    for label, slug in RAKUDA.category_slugs.items():
        assert re.search(rf"^{label}\s+{slug}\s+10$", show.stdout, flags=re.MULTILINE)
    docs = question_docs("rakuda", category="geography")
    assert len(docs) == 10 and {d["category"] for d in docs} == {"地理"}


@pytest.mark.unit
def test_rakuda_env_override_and_file_path_import(
    home: Path, rakuda_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JP_BENCH_DATA_RAKUDA", str(rakuda_copy / "rakuda_v2_questions.jsonl"))
    assert len(load_questions("rakuda")) == 40
    assert not (home / "data").exists()


# ------------------------------------------------------------------------------- checksum errors
@pytest.mark.unit
@pytest.mark.parametrize(("benchmark", "tampered"), [
    (JA_MT_BENCH, "reference_answer/gpt-4.jsonl"),  # questions fine, one reference set edited
    (RAKUDA, "rakuda_v2_questions.jsonl"),
])
def test_checksum_mismatch_is_one_line_and_writes_nothing(
    home: Path, mt_bench_copy: Path, rakuda_copy: Path, tmp_path: Path, benchmark: UpstreamBenchmark, tampered: str
) -> None:
    folder = tmp_path / "copy"
    shutil.copytree(mt_bench_copy if benchmark is JA_MT_BENCH else rakuda_copy, folder)
    edited = folder / tampered
    edited.write_bytes(edited.read_bytes() + b"\n")
    with pytest.raises(ChecksumError) as caught:
        import_upstream(folder, benchmark)
    message = str(caught.value)
    assert message.startswith(f"{edited}: sha256 ") and "does not match the pinned" in message
    assert f"git checkout {benchmark.commit}" in message
    assert f"jp-bench data import --benchmark {benchmark.name} PATH" in message

    result = main_in_process("data", "import", "--benchmark", benchmark.name, str(folder))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [f"jp-bench: error: {message}"]
    assert not (home / "data").exists()


# ------------------------------------------------------------------------------ ELYZA-tasks-100
# Our own text in ELYZA-tasks-100's layout: a quoted cell spanning lines, a comma inside quotes,
# an empty grading note and an unquoted record.
FIXTURE_CSV = (
    "input,output,eval_aspect\n"
    '"次の文を要約してください。\n春は花が咲く季節です。","春は花の季節。\n短くまとめた。",'
    '"- 要約になっていること\n- 一文であること"\n'
    '"りんご, みかんを五十音順に並べてください。","みかん、りんご",""\n'
    "3と4を足してください。,7,答えが7なら5点\n"
)


def write_fixture(folder: Path, text: str = FIXTURE_CSV) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "test.csv"
    path.write_bytes(text.encode("utf-8"))
    return path


@pytest.mark.unit
def test_tasks_csv_reader_keeps_quoted_cells(tmp_path: Path) -> None:
    questions = parse_tasks_csv(write_fixture(tmp_path))
    assert [q.question_id for q in questions] == [1, 2, 3]
    assert {q.category for q in questions} == {"elyza_tasks_100"}
    first, second, third = questions
    assert first.turns == ["次の文を要約してください。\n春は花が咲く季節です。"]
    assert first.reference == ["春は花の季節。\n短くまとめた。"]
    assert first.grading_notes == "- 要約になっていること\n- 一文であること"
    assert second.turns[0].startswith("りんご, みかん") and second.grading_notes is None
    assert third.reference == ["7"] and third.grading_notes == "答えが7なら5点"


@pytest.mark.unit
@pytest.mark.parametrize(("text", "line", "expected"), [
    ("input,output\nq,a\n", 1, "expected a header row with columns input, output, eval_aspect; found input, output"),
    # Records on lines 2-3 and 4-5: the error names the line the short record starts on.
    ('input,output,eval_aspect\n"a\nb",c,d\n"only\ntwo",x\n', 4, "expected 3 cells as in the header, found 2"),
    ('input,output,eval_aspect\nq,a,n\n"never closed,a,n\n', 3, "not valid CSV"),
    ("input,output,eval_aspect\n  ,a,n\n", 2, "column 'input' is empty; expected the task text"),
])
def test_bad_tasks_csv_is_one_line_with_its_line(tmp_path: Path, text: str, line: int, expected: str) -> None:
    path = write_fixture(tmp_path, text)
    with pytest.raises(InputFileError) as caught:
        parse_tasks_csv(path)
    assert str(caught.value).startswith(f"{path}:{line}: {expected}")
    assert "\n" not in str(caught.value)


@pytest.mark.unit
def test_header_only_csv_has_no_tasks(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="no tasks found"):
        parse_tasks_csv(write_fixture(tmp_path, "input,output,eval_aspect\n"))


@pytest.mark.unit
def test_elyza_pin_is_a_hub_revision() -> None:
    assert re.fullmatch(r"[0-9a-f]{40}", ELYZA_TASKS_100.commit)
    assert ELYZA_TASKS_100.url("test.csv") == (
        f"https://huggingface.co/datasets/elyza/ELYZA-tasks-100/resolve/{ELYZA_TASKS_100.commit}/test.csv"
    )
    assert JA_MT_BENCH.url("question_full.jsonl").startswith(f"https://github.com/Stability-AI/FastChat/raw/{JA_MT_BENCH.commit}/")


@pytest.mark.unit
def test_elyza_without_a_published_sha256_records_one_and_checks_it(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fixture = write_fixture(tmp_path / "ELYZA-tasks-100")
    digest = hashlib.sha256(fixture.read_bytes()).hexdigest()
    assert main(["data", "import", "--benchmark", "elyza_tasks_100", str(fixture.parent)]) == 0
    out = capsys.readouterr().out
    assert "upstream publishes no sha256" in out and digest in out and "verified" not in out
    cache = home / "data" / "elyza_tasks_100"
    assert (cache / "SHA256SUMS").read_text(encoding="utf-8") == f"{digest}  test.csv\n"

    questions = load_questions("elyza_tasks_100")
    assert len(questions) == 3 and sum(1 for q in questions if q.grading_notes) == 2
    assert main(["data", "show", "--benchmark", "elyza_tasks_100"]) == 0
    show = capsys.readouterr().out
    assert "3 questions, 1 category, 1 turn each, 3 with reference answers, 2 with grading notes, scored 1–5" in show
    assert f"pinned by revision {ELYZA_TASKS_100.commit}; sha256 {digest} recorded" in show

    (cache / "test.csv").write_bytes(fixture.read_bytes().replace(b"7", b"8"))
    with pytest.raises(ChecksumError, match="does not match the recorded"):
        load_questions("elyza_tasks_100")


@pytest.mark.unit
def test_elyza_with_a_pinned_sha256_verifies_and_refuses_a_changed_file(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fixture = write_fixture(tmp_path / "ELYZA-tasks-100")
    pinned = PinnedFile("test.csv", hashlib.sha256(fixture.read_bytes()).hexdigest())
    pinned_benchmark = dataclasses.replace(ELYZA_TASKS_100, questions=pinned)
    monkeypatch.setitem(benchmarks.BENCHMARKS, "elyza_tasks_100", pinned_benchmark)

    changed = write_fixture(tmp_path / "changed", FIXTURE_CSV.replace("7", "8"))
    assert main(["data", "import", "--benchmark", "elyza_tasks_100", str(changed.parent)]) == 1
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and error[0].startswith(f"jp-bench: error: {changed}: sha256 ")
    assert "does not match the pinned" in error[0]
    assert not (home / "data").exists()

    assert main(["data", "import", "--benchmark", "elyza_tasks_100", str(fixture)]) == 0
    assert capsys.readouterr().out.startswith("verified and imported test.csv -> ")
    assert [q.question_id for q in load_questions("elyza_tasks_100")] == [1, 2, 3]


@pytest.mark.integration
def test_elyza_downloads_once_from_the_revision(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_fixture(tmp_path / "mirror")  # subdir "" : test.csv sits at the revision's root
    with serve_folder(tmp_path / "mirror") as url:
        monkeypatch.setenv("JP_BENCH_UPSTREAM_URL_ELYZA_TASKS_100", url)
        assert len(load_questions("elyza_tasks_100")) == 3
    monkeypatch.setenv("JP_BENCH_UPSTREAM_URL_ELYZA_TASKS_100", "http://127.0.0.1:9")
    docs = question_docs("elyza_tasks_100")  # offline now: the cached, recorded copy
    assert [d["grading_notes"] != "" for d in docs] == [True, False, True]
    assert "test.csv" in (home / "data" / "elyza_tasks_100" / "SHA256SUMS").read_text(encoding="utf-8")


@pytest.mark.unit
def test_elyza_offline_without_data_says_what_to_do(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JP_BENCH_UPSTREAM_URL_ELYZA_TASKS_100", "http://127.0.0.1:9")
    with pytest.raises(JpBenchError, match=r"jp-bench data import --benchmark elyza_tasks_100 PATH.*"
                                           r"JP_BENCH_DATA_ELYZA_TASKS_100=PATH"):
        load_questions("elyza_tasks_100")

"""`jp-bench data publish`: the paper's released GPT-4 judgments as the committed ``results/`` (entries and
views), reproduced byte for byte from the pinned upstream files, with their provenance; and what any
publish writes (the schema's fields only, a provenance, never a local absolute path)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import shutil
from collections import Counter
from pathlib import Path

import pytest

from jp_bench.benchmarks.records import JP_BENCH
from tests.support.cli import main_in_process
from tests.support.paths import ROOT, UPSTREAM_CHECKOUT

pytestmark = pytest.mark.unit

COMMITTED = ROOT / "results"
HAND_WRITTEN = {"README.md"}  # the one file of results/ the command does not write
UPSTREAM = UPSTREAM_CHECKOUT / "jp_bench"
JUDGMENTS = UPSTREAM / "model_judgment" / "pairwise" / "gpt-4"
CALM, RINNA = "cyberagent--calm2-7b-chat", "rinna--japanese-gpt-neox-3.6b-instruction-ppo"
DAVINCI = "openai--text-davinci-003"
FILES = {CALM: JUDGMENTS / f"pairwise:{CALM}_{DAVINCI}.jsonl", RINNA: JUDGMENTS / f"pairwise:{DAVINCI}_{RINNA}.jsonl"}
REPOSITORY = "https://github.com/ku-nlp/ja-vicuna-qa-benchmark"


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _publish(results: Path, home: Path, data: Path | None = UPSTREAM_CHECKOUT, *extra: str):
    # JP_BENCH_DATA="" reads the cache in JP_BENCH_HOME (an empty override counts as unset).
    env = {"JP_BENCH_DATA": str(data) if data else "", "JP_BENCH_HOME": str(home), "JP_BENCH_UPSTREAM_URL": ""}
    return main_in_process("data", "publish", "--results", str(results), *extra, env=env)


def _not_the_papers(folder: Path) -> dict[str, bytes]:
    """Result files of other sources in a results folder (the command keeps them)."""
    kept = {}
    for path in sorted(folder.rglob("*.json")):
        provenance = json.loads(path.read_text(encoding="utf-8")).get("provenance") or {}
        if not str(provenance.get("source", "")).startswith("ku-nlp/ja-vicuna-qa-benchmark@"):
            kept[path.relative_to(folder).as_posix()] = path.read_bytes()
    return kept


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The documented command run into a fresh folder holding the committed results of other sources."""
    results = tmp_path_factory.mktemp("published") / "results"
    for relative, data in _not_the_papers(COMMITTED).items():
        (results / relative).parent.mkdir(parents=True, exist_ok=True)
        (results / relative).write_bytes(data)
    done = _publish(results, tmp_path_factory.mktemp("home"))
    assert done.returncode == 0, done.stderr
    return results


def _wlt(path: Path, model: str) -> dict[str, int]:
    """Win/loss/tie of ``model`` against the other model of a released file, from the rows themselves:
    a win when both games name the model, a loss when both name the other, else a tie."""
    counts: Counter[str] = Counter()
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        mine = "model_1" if row["model_1"] == model else "model_2"
        theirs = "model_2" if mine == "model_1" else "model_1"
        games = (row["g1_winner"], row["g2_winner"])
        counts["win" if games == (mine, mine) else "loss" if games == (theirs, theirs) else "tie"] += 1
    return dict(counts)


_EMBEDDED_PNG = re.compile(rb"data:image/png;base64,([A-Za-z0-9+/=]+)")


def _same_picture(ours: bytes, theirs: bytes) -> bool:
    """Two PNGs show the same picture: same size, and pixels that differ at most by anti-aliasing.

    The text files must come back byte for byte; a plot's pixels are drawn with floating point, and
    another CPU (CI's) may round an edge pixel the other way, which no reader of the plot could see."""
    from PIL import Image, ImageChops

    first, second = (Image.open(io.BytesIO(data)).convert("RGB") for data in (ours, theirs))
    if first.size != second.size:
        return False
    differences = ImageChops.difference(first, second).histogram()  # 3 channels × 256 levels
    total = sum(level * count for channel in range(3) for level, count in enumerate(differences[256 * channel:
                                                                                                256 * (channel + 1)]))
    return total / (first.size[0] * first.size[1] * 3) < 0.5  # mean difference under half a level of 255


def _same_file(name: str, ours: bytes, theirs: bytes) -> bool:
    """Byte for byte, except a plot's pixels (:func:`_same_picture`), alone or embedded in the page."""
    if ours == theirs:
        return True
    if name.endswith(".png"):
        return _same_picture(ours, theirs)
    if name.endswith(".html"):
        pictures = [_EMBEDDED_PNG.findall(data) for data in (ours, theirs)]
        text = [_EMBEDDED_PNG.sub(b"data:image/png;base64,", data) for data in (ours, theirs)]
        if text[0] != text[1] or len(pictures[0]) != len(pictures[1]):
            return False
        return all(_same_picture(base64.b64decode(a), base64.b64decode(b)) for a, b in zip(*pictures, strict=True))
    return False


def test_a_plot_may_differ_by_anti_aliasing_only() -> None:
    from PIL import Image

    plot = next((COMMITTED / "plots").glob("*.ci.png")).read_bytes()
    picture = Image.open(io.BytesIO(plot)).convert("RGB")

    def png(image: Image.Image) -> bytes:
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        return buffer.getvalue()

    one_pixel = picture.copy()
    one_pixel.putpixel((10, 10), tuple(max(0, v - 40) for v in picture.getpixel((10, 10))))
    assert _same_file("p.png", png(one_pixel), plot)
    blotted = picture.copy()
    blotted.paste((255, 0, 0), (0, 0, picture.size[0] // 2, picture.size[1] // 2))
    assert not _same_file("p.png", png(blotted), plot)
    page = (COMMITTED / "leaderboard.html").read_bytes()
    assert _same_file("leaderboard.html", page, page)
    assert not _same_file("leaderboard.html", page.replace(b"0.775", b"0.776", 1), page)
    assert not _same_file("LEADERBOARD.md", b"a", b"b")


def test_the_command_reproduces_the_committed_results(published: Path) -> None:
    committed = {name: data for name, data in _files(COMMITTED).items() if name not in HAND_WRITTEN}
    regenerated = _files(published)
    assert sorted(regenerated) == sorted(committed), "run `jp-bench data publish` and commit results/"
    for name, data in committed.items():
        assert _same_file(name, regenerated[name], data), \
            f"results/{name} differs from what `jp-bench data publish` writes"
    assert {f"jp_bench/gpt-4/{CALM}.json", f"jp_bench/gpt-4/{RINNA}.json", "LEADERBOARD.md", "leaderboard.csv",
            "leaderboard.html"} <= set(committed)


def test_the_entries_are_the_papers_figures_with_their_provenance(published: Path) -> None:
    categories = {json.loads(line)["question_id"]: json.loads(line)["category"]
                  for line in (UPSTREAM / "question.jsonl").read_text(encoding="utf-8").splitlines()}
    for model, source in FILES.items():
        result = json.loads((published / "jp_bench" / "gpt-4" / f"{model}.json").read_text(encoding="utf-8"))
        figures = result["pairwise"]
        wlt = _wlt(source, model)
        assert {key: figures[key] for key in ("win", "loss", "tie")} == wlt
        assert figures["n"] == 80 == sum(wlt.values()) and figures["baseline"] == DAVINCI
        assert figures["adjusted_win_rate"] == pytest.approx((wlt["win"] + wlt["tie"] / 2) / 80, abs=1e-12)
        for category in set(categories.values()):
            rows = [line for line in source.read_text(encoding="utf-8").splitlines()
                    if categories[json.loads(line)["question_id"]] == category]
            assert figures["by_category"][category]["n"] == len(rows)
        # Provenance: the pinned commit and its date, the file with its sha256 and link, the judge and prompts.
        assert (result["date"], result["judge"]["name"], result["judge"]["model"]) == ("2024-06-11", "gpt-4", "gpt-4")
        provenance = result["provenance"]
        assert provenance["source"] == "ku-nlp/ja-vicuna-qa-benchmark@128a862"
        assert provenance["url"] == f"{REPOSITORY}/tree/128a862" and provenance["date"] == "2024-06-11"
        (judged,) = provenance["judgments"]
        assert judged == {"path": f"data/jp_bench/model_judgment/pairwise/gpt-4/{source.name}",
                          "sha256": hashlib.sha256(source.read_bytes()).hexdigest(),
                          "url": f"{REPOSITORY}/blob/128a862/data/jp_bench/model_judgment/pairwise/gpt-4/{source.name}"}
        prompts_file = UPSTREAM / "judge_prompts.jsonl"
        named = {json.loads(line)["judge_prompt"] for line in source.read_text(encoding="utf-8").splitlines()}
        assert provenance["prompts"]["sha256"] == hashlib.sha256(prompts_file.read_bytes()).hexdigest()
        assert set(provenance["prompts"]["names"]) == named == {"pair", "pair-math"}
        assert result["judge"]["prompt_version"] == provenance["prompts"]["sha256"][:12]
        text = json.dumps(result)
        assert str(UPSTREAM_CHECKOUT) not in text and "/tmp" not in text  # no local path
    # The views link each entry to its judgments, the source commit and the prompts.
    board = (published / "LEADERBOARD.md").read_text(encoding="utf-8")
    page = (published / "leaderboard.html").read_text(encoding="utf-8")
    for source in FILES.values():
        link = f"{REPOSITORY}/blob/128a862/data/jp_bench/model_judgment/pairwise/gpt-4/{source.name}"
        assert f"]({link})" in board and f'<a href="{link}">' in page
    for link in (f"{REPOSITORY}/tree/128a862", f"{REPOSITORY}/blob/128a862/data/jp_bench/judge_prompts.jsonl"):
        assert f"]({link})" in board and f'<a href="{link}">' in page
    csv_lines = (published / "leaderboard.csv").read_text(encoding="utf-8").splitlines()
    assert "provenance_source,provenance_url" in csv_lines[0]
    assert all(f"ku-nlp/ja-vicuna-qa-benchmark@128a862,{REPOSITORY}/tree/128a862" in line for line in csv_lines[1:])


def _tampered_copy(tmp_path: Path) -> Path:
    """The released files the command reads, one judgment changed by a character (still valid JSON)."""
    copy = tmp_path / "upstream" / "jp_bench"
    for relative in ("question.jsonl", "judge_prompts.jsonl", *(p.relative_to(UPSTREAM) for p in FILES.values())):
        (copy / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(UPSTREAM / relative, copy / relative)
    target = copy / FILES[RINNA].relative_to(UPSTREAM)
    text = target.read_text(encoding="utf-8")
    target.write_text(text.replace('"g1_winner": "model_2"', '"g1_winner": "model_1"', 1), encoding="utf-8")
    assert target.read_text(encoding="utf-8") != text
    return copy.parent


def test_a_tampered_released_file_stops_with_one_line_and_writes_nothing(tmp_path: Path) -> None:
    results = tmp_path / "results"
    results.mkdir()
    (results / "README.md").write_text("kept\n", encoding="utf-8")
    before = _files(results)
    done = _publish(results, tmp_path / "home", _tampered_copy(tmp_path))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("jp-bench: error: ") and FILES[RINNA].name in line and "does not match the pinned" in line
    assert _files(results) == before and not (tmp_path / "home" / "data").exists()


def test_import_caches_the_released_files_and_a_rerun_replaces_only_the_papers(tmp_path: Path) -> None:
    home = tmp_path / "home"
    imported = main_in_process("data", "import", str(UPSTREAM_CHECKOUT),
                               env={"JP_BENCH_HOME": str(home), "JP_BENCH_DATA": ""})
    assert imported.returncode == 0, imported.stderr
    for pinned in (*JP_BENCH.published_judgments[0].files, JP_BENCH.published_judgments[0].prompts):
        assert f"verified and imported {pinned.path} ->" in imported.stdout
        assert (home / "data" / "jp_bench" / pinned.path).read_bytes() == (UPSTREAM / pinned.path).read_bytes()

    results = tmp_path / "results"
    other = results / "jp_bench" / "gpt-4o" / f"{CALM}.json"  # another judge's result: kept as it is
    other.parent.mkdir(parents=True)
    other.write_text(json.dumps({
        "schema_version": 1, "benchmark": "jp_bench", "model": CALM,
        "judge": {"name": "gpt-4o", "model": "gpt-4o-2024-08-06", "prompt_set": "ja-v1", "prompt_version": "abc"},
        "answers": {"source": "ours", "generation": {}}, "date": "2026-01-02",
        "single": {"n": 80, "mean": 7.0, "ci95": [6.5, 7.5], "stderr": 0.2, "errors": 0}, "errors": 0}),
        encoding="utf-8")
    kept = other.read_bytes()
    # A result this command published from an earlier pin, for a pair no longer pinned: removed.
    stale = results / "jp_bench" / "gpt-4" / "old--model.json"
    stale.parent.mkdir(parents=True)
    stale.write_text(json.dumps({
        **json.loads(other.read_text(encoding="utf-8")), "model": "old--model",
        "judge": {"name": "gpt-4", "model": "gpt-4", "prompt_set": "judge_prompts", "prompt_version": "abc"},
        "provenance": {"source": "ku-nlp/ja-vicuna-qa-benchmark@705d911"}}), encoding="utf-8")

    done = _publish(results, home, None)  # offline, from the imported cache
    assert done.returncode == 0, done.stderr
    assert other.read_bytes() == kept and not stale.exists()
    assert f"removed {stale}" in done.stdout
    assert sorted(p.relative_to(results).as_posix() for p in results.rglob("*.json")) == [
        f"jp_bench/gpt-4/{CALM}.json", f"jp_bench/gpt-4/{RINNA}.json", f"jp_bench/gpt-4o/{CALM}.json"]
    board = (results / "LEADERBOARD.md").read_text(encoding="utf-8")
    assert "judge gpt-4o" in board and "no provenance recorded" not in board  # its board shows no sources
    # The cache gives the same entries as the checkout did.
    for model in (CALM, RINNA):
        assert (results / "jp_bench" / "gpt-4" / f"{model}.json").read_bytes() == \
            (COMMITTED / "jp_bench" / "gpt-4" / f"{model}.json").read_bytes()


def test_a_result_of_another_source_in_the_way_stops_the_command(tmp_path: Path) -> None:
    results = tmp_path / "results"
    ours = main_in_process("report", str(FILES[CALM]), "--benchmark", "jp_bench", "--publish", "--results",
                           str(results), "--bootstrap", "100", "--baseline", DAVINCI,
                           env={"JP_BENCH_DATA": str(UPSTREAM_CHECKOUT), "JP_BENCH_HOME": str(tmp_path / "home")},
                           cwd=tmp_path)
    assert ours.returncode == 0, ours.stderr
    before = _files(results)
    done = _publish(results, tmp_path / "home")
    assert done.returncode == 1
    (line,) = done.stderr.strip().splitlines()
    assert f"{CALM}.json: holds other figures" in line and "--results" in line
    assert _files(results) == before


def test_report_publish_records_its_sources_and_only_the_schemas_fields(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from jp_bench.reporting.publish import publish_report
    from jp_bench.reporting.report import build_report
    from jp_bench.reporting.results_schema import PairwiseCategory, PairwiseSummary
    from jp_bench.reporting.sources import load_judgments

    monkeypatch.chdir(tmp_path)  # the judgments lie outside the working folder: named by their file name
    judgments = load_judgments([str(FILES[CALM])])
    report = build_report(judgments, n_boot=100, seed=0)
    (entry,) = report["pairwise"]
    # Figures the schema does not declare are left out, nested ones too; the declared answer checks and
    # the style-controlled win rate are published as the report computed them.
    entry.update(undeclared_figure=0.6)
    entry["by_turn"]["1"]["japanese_share"] = 0.5
    (path,) = publish_report(report, judgments, results_dir=tmp_path / "results", benchmark="jp_bench")
    written = json.loads(path.read_text(encoding="utf-8"))
    assert set(written["pairwise"]) <= set(PairwiseSummary.model_fields)
    assert not {"undeclared_figure", "judge", "model", "ci_level"} & set(written["pairwise"])
    assert set(written["pairwise"]["by_turn"]["1"]) <= set(PairwiseCategory.model_fields)
    assert written["pairwise"]["length_controlled_win_rate"] == round(entry["length_controlled_win_rate"], 6)
    assert written["pairwise"]["style_controlled"]["win_rate"] == round(entry["style_controlled"]["win_rate"], 6)
    assert (written["pairwise"]["non_japanese_answers"], written["pairwise"]["measured_answers"]) == (0, 80)
    # Its provenance: the file read, by name and sha256.
    assert written["provenance"] == {"source": FILES[CALM].name, "judgments": [
        {"path": FILES[CALM].name, "sha256": hashlib.sha256(FILES[CALM].read_bytes()).hexdigest()}]}


@pytest.mark.parametrize(("field", "value"), [
    ("url", "javascript:alert(1)"), ("url", "file:///etc/passwd"), ("path", "/home/me/judgments.jsonl"),
    ("path", "C:\\judgments.jsonl"), ("sha256", "ABC"),
])
def test_provenance_refuses_local_paths_and_non_web_links(field: str, value: str) -> None:
    from pydantic import ValidationError

    from jp_bench.reporting.results_schema import SourceFile

    good = {"path": "data/jp_bench/judge_prompts.jsonl", "sha256": "0" * 64, "url": f"{REPOSITORY}/blob/x/y"}
    SourceFile.model_validate(good)
    with pytest.raises(ValidationError, match=field):
        SourceFile.model_validate({**good, field: value})


def test_the_views_show_style_control_and_the_japanese_share_of_each_entry(published: Path) -> None:
    """The figures the report adds beside the raw ones reach the views: the style-controlled win rate with
    its interval and the Japanese share, as the result files hold them (the paper's answers are Japanese)."""
    import csv

    board = (published / "LEADERBOARD.md").read_text(encoding="utf-8")
    assert "Style-controlled win rate [95% CI]" in board and "Japanese share" in board
    rows = {row["model"]: row for row in csv.DictReader((published / "leaderboard.csv").open(encoding="utf-8"))}
    for model in (CALM, RINNA):
        figures = json.loads((published / "jp_bench" / "gpt-4" / f"{model}.json").read_text(encoding="utf-8"))
        styled, share = figures["pairwise"]["style_controlled"], figures["pairwise"]["japanese_share"]
        assert 0 < styled["ci95"][0] <= styled["win_rate"] <= styled["ci95"][1] < 1
        assert float(rows[model]["pairwise_style_controlled_win_rate"]) == styled["win_rate"]
        assert share > 0.9 and figures["pairwise"]["non_japanese_answers"] == 0
        # An answer with no letter to measure (only code or numbers) has no share; most answers have one.
        assert 70 <= figures["pairwise"]["measured_answers"] <= 80
        assert f"| {styled['win_rate']:.3f} [{styled['ci95'][0]:.3f}, {styled['ci95'][1]:.3f}] | {share:.2f} (0) |" \
            in board

"""`jp-bench report` on MT-Bench-style single-score judgments: FastChat's show_result figures, per-turn and
per-category tables, the radar plot, the score scale, duplicates and score -1 rows."""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from pathlib import Path

import pandas as pd
import pytest

from jp_bench.errors import JpBenchError
from jp_bench.reporting.report import build_report
from jp_bench.reporting.sources import load_judgments
from jp_bench.stats import single_summary
from tests.support.cli import main_in_process
from tests.support.files import write_jsonl, write_two_turn_questions
from tests.support.judgment_rows import single_row

pytestmark = pytest.mark.unit

CATEGORIES = {1: "writing", 2: "writing", 3: "math", 4: "math", 5: "reasoning", 6: "reasoning"}
# Five models at most: pandas' default sort is only stable (ties in name order) for a handful of rows on
# every CPU, and FastChat's printed order is what we compare with.
MODELS = ["vicuna-13b", "org/モデル-ja", "beta", "gpt-3.5-turbo", "alpha"]
TURN_1_PROMPT = ("[Instruction]\nPlease act as an impartial judge and evaluate the quality of the response ... "
                 'rate the response on a scale of 1 to 10 by strictly following this format: "[[rating]]".\n\n'
                 "[Question]\n1から1000までの整数のうち7の倍数はいくつ？\n\n[The Start of Assistant's Answer]\n...")
# FastChat's multi-turn prompt keeps its instructions (and the scale) in the system prompt, which the file
# does not copy: the user prompt is the conversation alone.
TURN_2_PROMPT = "<|The Start of Assistant A's Conversation with User|>\n\n### User:\n1から100まで数えて"


def _score(model: int, question: int, turn: int) -> float:
    return float((3 * model + 5 * question + 7 * turn) % 10 + 1)


def mt_bench_rows() -> list[dict]:
    """FastChat `gpt-4_single.jsonl` lines: 5 models × 6 questions × 2 turns, plus the awkward cases."""
    rows = []
    for m, model in enumerate(MODELS):
        for question in CATEGORIES:
            for turn in (1, 2):
                # beta gets alpha's scores (on other questions): a tie in the average, as in FastChat's sort.
                index = MODELS.index("alpha") if model == "beta" else m
                qid = question % 6 + 1 if model == "beta" else question
                rows.append({"question_id": question, "model": model,
                             "judge": ["gpt-4", "single-v1" if turn == 1 else "single-v1-multi-turn"],
                             "user_prompt": TURN_1_PROMPT if turn == 1 else TURN_2_PROMPT,
                             "judgment": "... Rating: [[n]]", "score": _score(index, qid, turn), "turn": turn,
                             "tstamp": 1700000000.0 + len(rows)})
    by_key = {(r["model"], r["question_id"], r["turn"]): r for r in rows}
    by_key[("org/モデル-ja", 3, 2)]["score"] = -1  # the judge gave no rating
    by_key[("gpt-3.5-turbo", 4, 1)]["score"] = 7.5
    # The same (model, question, turn) judged again with another score: FastChat counts both rows.
    rows.append({**by_key[("vicuna-13b", 1, 1)], "score": 2, "tstamp": 1800000000.0})
    return rows


def hand_means(rows: list[dict]) -> dict[str, dict]:
    """What FastChat's show_result computes, in plain Python: drop score -1, mean per (model, turn), per
    model over every remaining row (both turns, duplicates included), and here also per category."""
    per_turn: dict[tuple, list[float]] = defaultdict(list)
    per_model: dict[str, list[float]] = defaultdict(list)
    per_category: dict[tuple, list[float]] = defaultdict(list)
    for row in rows:
        if row["score"] == -1:
            continue
        per_turn[(row["model"], row["turn"])].append(row["score"])
        per_model[row["model"]].append(row["score"])
        per_category[(row["model"], CATEGORIES[row["question_id"]])].append(row["score"])
    mean = lambda values: sum(values) / len(values)  # noqa: E731 - a one-line helper
    return {"turn": {k: mean(v) for k, v in per_turn.items()}, "model": {k: mean(v) for k, v in per_model.items()},
            "category": {k: mean(v) for k, v in per_category.items()},
            "n": {k: len(v) for k, v in per_model.items()}}


def fastchat_printed(path: Path) -> dict[str, list[tuple[str, str]]]:
    """FastChat show_result's single-mode tables for ``path``, recomputed with pandas the way it does
    (read the lines, drop score -1, group, mean, sort by score descending) and read back from the text
    pandas prints: [(model, figure as printed)] in printed order, per table."""
    frame = pd.read_json(path, lines=True)[["model", "score", "turn"]]
    frame = frame[frame["score"] != -1]
    tables = {
        "turn 1": frame[frame["turn"] == 1].groupby(["model", "turn"]).mean(),
        "turn 2": frame[frame["turn"] == 2].groupby(["model", "turn"]).mean(),
        "average": frame[["model", "score"]].groupby(["model"]).mean(),
    }
    printed = {}
    for name, table in tables.items():
        lines = table.sort_values(by="score", ascending=False).to_string().splitlines()[2:]  # past the headers
        printed[name] = [(line.split()[0], line.split()[-1]) for line in lines]
    return printed


def markdown_table(text: str, title_start: str) -> list[dict[str, str]]:
    """The rows of the Markdown table under the ``### <title_start>...`` heading."""
    section = text.split(f"### {title_start}", 1)[1].split("\n### ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    cells = [[cell.strip() for cell in line.strip("|").split(" | ")] for line in lines]
    return [dict(zip(cells[0], row, strict=True)) for row in cells[2:]]


@pytest.fixture
def mt_bench(tmp_path: Path) -> tuple[Path, Path, list[dict]]:
    rows = mt_bench_rows()
    judgments = write_jsonl(tmp_path / "data" / "mt_bench" / "model_judgment" / "gpt-4_single.jsonl", rows)
    return judgments, write_two_turn_questions(tmp_path / "question.jsonl", CATEGORIES), rows


def test_means_are_fastchat_show_result_figures_as_printed(mt_bench) -> None:
    judgments, _, rows = mt_bench
    result = main_in_process("report", str(judgments), "--format", "md", "--bootstrap", "200")
    assert result.returncode == 0, result.stderr
    table = markdown_table(result.stdout, "Single scores: mean score (1–10)")
    printed = fastchat_printed(judgments)
    ours = {row["model"]: row for row in table}
    assert set(ours) == set(MODELS)
    # Every figure as FastChat prints it, character for character.
    for column, name in (("mean", "average"), ("turn 1", "turn 1"), ("turn 2", "turn 2")):
        assert {model: ours[model][column] for model, _ in printed[name]} == dict(printed[name]), column
    # Ranked as FastChat ranks the average, the tied pair in name order.
    assert [row["model"] for row in table] == [model for model, _ in printed["average"]]
    expected = hand_means(rows)
    assert expected["model"]["alpha"] == expected["model"]["beta"]
    order = [row["model"] for row in table]
    assert order.index("alpha") == order.index("beta") - 1
    assert order == sorted(MODELS, key=lambda m: (-expected["model"][m], m))
    # The printed figures are the hand-computed means, with n counting scored rows (duplicates too).
    for model in MODELS:
        assert float(ours[model]["mean"]) == pytest.approx(expected["model"][model], abs=5e-7)
        assert float(ours[model]["turn 2"]) == pytest.approx(expected["turn"][(model, 2)], abs=5e-7)
        assert int(ours[model]["n"]) == expected["n"][model]
    assert (ours["org/モデル-ja"]["errors"], ours["org/モデル-ja"]["n"]) == ("1", "11")
    assert ours["vicuna-13b"]["n"] == "13"


def test_score_minus_one_and_duplicate_rows_are_reported(mt_bench) -> None:
    judgments, _, rows = mt_bench
    result = main_in_process("report", str(judgments), "--bootstrap", "50")
    assert result.returncode == 0, result.stderr
    notes = result.stdout.split("\nNotes\n", 1)[1].splitlines()
    excluded = next(line for line in notes if "without a score" in line)
    assert excluded.startswith("- gpt-4: 1 single judgment(s) without a score (score -1 in the FastChat file)")
    duplicate = next(line for line in notes if "duplicate" in line)
    first_line = 1 + next(i for i, r in enumerate(rows) if (r["model"], r["question_id"], r["turn"]) ==
                          ("vicuna-13b", 1, 1))
    assert duplicate.startswith("- gpt-4: 1 duplicate single judgment row(s)")
    assert "counted in the means as FastChat's show_result counts them" in duplicate
    assert (f"first: model 'vicuna-13b', question 1, turn 1 at {judgments}:{len(rows)} "
            f"(first at {judgments}:{first_line})") in duplicate
    report = json.loads(main_in_process("report", str(judgments), "--format", "json", "--bootstrap", "50").stdout)
    assert report["notes"] == [line[2:] for line in notes if line.startswith("- ")]
    assert {e["model"]: e["duplicates"] for e in report["single"]}["vicuna-13b"] == 1
    # No categories without a question set, and the report says how to get them.
    assert any("--benchmark" in note and "no categories" in note for note in report["notes"])
    assert "Single scores by category" not in result.stdout


def test_a_duplicate_is_still_refused_where_nobody_asked_for_fastchat_counting(mt_bench) -> None:
    from jp_bench.errors import InputFileError
    from jp_bench.fastchat_io import read_single_judgments

    judgments, _, rows = mt_bench
    with pytest.raises(InputFileError, match=rf":{len(rows)}: a second single-answer judgment of question 1"):
        read_single_judgments(judgments)
    assert len(read_single_judgments(judgments, keep_duplicates=True)) == len(rows)
    table = pd.DataFrame({"question_id": [1, 1, 1], "category": ["c"] * 3, "model": ["m"] * 3,
                          "score": [4.0, 6.0, 8.0], "turn": [1, 2, 1]})
    with pytest.raises(ValueError, match=r"more than one row for \(question_id, model, turn\) = \[1, 'm', 1\]"):
        single_summary(table)
    (entry,) = single_summary(table, n_boot=20, allow_duplicates=True)
    assert (entry["n"], entry["mean"], entry["by_turn"]["1"]["mean"], entry["by_turn"]["2"]["n"]) == (3, 6.0, 6.0, 1)


def test_per_turn_and_per_category_table_and_json(mt_bench) -> None:
    judgments, questions, rows = mt_bench
    expected = hand_means(rows)
    report = json.loads(main_in_process("report", str(judgments), "--benchmark", str(questions), "--format",
                                "json", "--bootstrap", "200").stdout)
    assert not any("no categories" in note for note in report["notes"])
    for entry in report["single"]:
        model = entry["model"]
        assert entry["scale"] == [1.0, 10.0]
        assert entry["mean"] == pytest.approx(expected["model"][model])
        assert {t: f["mean"] for t, f in entry["by_turn"].items()} == pytest.approx(
            {str(t): expected["turn"][(model, t)] for t in (1, 2)})
        assert {c: f["mean"] for c, f in entry["by_category"].items()} == pytest.approx(
            {c: expected["category"][(model, c)] for c in ("math", "reasoning", "writing")})
        lo, hi = entry["ci95"]
        assert lo <= entry["mean"] <= hi
        for figures in [*entry["by_turn"].values(), *entry["by_category"].values()]:
            assert figures["ci95"][0] <= figures["mean"] <= figures["ci95"][1]
    markdown = main_in_process("report", str(judgments), "--benchmark", str(questions), "--format", "md",
                       "--bootstrap", "50").stdout
    table = markdown_table(markdown, "Single scores by category: mean score (1–10)")
    assert list(table[0]) == ["judge", "model", "math", "reasoning", "writing", "turn 1", "turn 2", "average"]
    for row in table:
        model = row["model"]
        assert row["writing"] == f"{expected['category'][(model, 'writing')]:.2f}"
        assert row["turn 1"] == f"{expected['turn'][(model, 1)]:.2f}"
        assert row["average"] == f"{expected['model'][model]:.2f}"
    rows_csv = list(csv.DictReader(io.StringIO(main_in_process(
        "report", str(judgments), "--benchmark", str(questions), "--format", "csv", "--bootstrap",
        "50").stdout)))
    alpha = {(r["category"], r["turn"]): r for r in rows_csv if r["model"] == "alpha"}
    assert set(alpha) == {("all", "all"), ("math", "all"), ("reasoning", "all"), ("writing", "all"),
                          ("all", "1"), ("all", "2")}
    assert float(alpha[("all", "2")]["mean"]) == pytest.approx(expected["turn"][("alpha", 2)])
    assert {r["scale"] for r in rows_csv} == {"1–10"}


def test_radar_plot_is_written(mt_bench, tmp_path: Path) -> None:
    import matplotlib.image

    judgments, questions, _ = mt_bench
    target = tmp_path / "out" / "radar.png"
    result = main_in_process("report", str(judgments), "--benchmark", str(questions), "--bootstrap", "50",
                     "--plot", str(target))
    assert result.returncode == 0, result.stderr
    # A fresh process (matplotlib_fontja never imported): Japanese model names in the legend still have glyphs.
    assert f"wrote {target}" in result.stderr and "boxes" not in result.stderr and "missing" not in result.stderr
    image = matplotlib.image.imread(target)
    assert image.shape[0] > 300 and image.shape[1] > 300
    # One polygon per model in its own colour: far more distinct colours than a blank chart's few greys.
    colours = {tuple(pixel) for pixel in (image[..., :3] * 255).astype(int).reshape(-1, 3)[::7]}
    assert len(colours) > 50
    again = tmp_path / "again.png"
    main_in_process("report", str(judgments), "--benchmark", str(questions), "--bootstrap", "50",
            "--plot", str(again))
    assert again.read_bytes() == target.read_bytes()  # the image depends on the judgments alone


def test_radar_needs_categories(mt_bench, tmp_path: Path) -> None:
    judgments, _, _ = mt_bench
    result = main_in_process("report", str(judgments), "--plot", str(tmp_path / "radar.png"))
    assert result.returncode == 1 and result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and "--benchmark" in result.stderr
    assert not (tmp_path / "radar.png").exists()


def test_the_scale_comes_from_the_judgments(tmp_path: Path) -> None:
    def rows(prompt: str | None, scores: list[float], first: int = 1) -> list[dict]:
        return [{"question_id": q, "model": "m", "judge": ["gpt-4", "single-rubric"], "judgment": "...",
                 "score": s, "turn": 1, **({"user_prompt": prompt} if prompt is not None else {})}
                for q, s in enumerate(scores, start=first)]

    # ELYZA-tasks-100 style: a 1-5 rubric; the quoted question's "1から1000まで" is no scale.
    rubric_prompt = ("[指示]\n以下の回答を採点基準に従い、1から5までの整数で採点してください。\n\n"
                     "[質問]\n1から1000まで数えて")
    rubric = write_jsonl(tmp_path / "rubric" / "gpt-4_single.jsonl", rows(rubric_prompt, [4, 5, 3]))
    text = main_in_process("report", str(rubric), "--format", "md", "--bootstrap", "20").stdout
    assert "### Single scores: mean score (1–5)" in text and "1–10" not in text
    assert json.loads(main_in_process("report", str(rubric), "--format", "json", "--bootstrap", "20").stdout)[
        "single"][0]["scale"] == [1.0, 5.0]

    silent = write_jsonl(tmp_path / "silent" / "gpt-4_single.jsonl", rows(None, [4, 5]))
    text = main_in_process("report", str(silent), "--bootstrap", "20").stdout
    assert "Single scores: mean score (scale not stated in the judgments)" in text

    mixed = write_jsonl(tmp_path / "mixed" / "gpt-4_single.jsonl",
                        [*rows("Rate it on a scale of 1 to 10.", [4]), *rows("採点は1〜5の5段階です。", [3], first=2)])
    with pytest.raises(JpBenchError, match=r"different score scales: 1–10 \(.*:1\), 1–5 \(.*:2\)"):
        load_judgments([mixed])
    result = main_in_process("report", str(mixed))
    assert result.returncode == 1 and len(result.stderr.strip().splitlines()) == 1


def test_our_single_rows_have_turns_and_the_schema_scale(tmp_path: Path) -> None:
    """Our judgments.jsonl: a row without a turn judged the whole answer, counted as turn 1."""
    rows = [single_row(1, "m", 8.0, key="a" * 64), single_row(2, "m", 6.0, key="b" * 64, turn=1),
            single_row(1, "m", 3.0, key="c" * 64, turn=2), single_row(2, "m", None, key="d" * 64, turn=2,
                                                                     error="no score")]
    path = write_jsonl(tmp_path / "judged" / "judgments.jsonl", rows)
    report = build_report(load_judgments([path]), n_boot=50)
    (entry,) = report["single"]
    assert entry["scale"] == [1.0, 10.0]  # the bounds the judgment schema puts on score
    assert (entry["n"], entry["errors"], entry["mean"]) == (3, 1, pytest.approx(17 / 3))
    assert {t: (f["n"], f["mean"]) for t, f in entry["by_turn"].items()} == {"1": (2, 7.0), "2": (1, 3.0)}
    assert report["notes"] == ["gpt-4o: 1 single judgment(s) without a score (judging errors) excluded from n and "
                               "the means, as FastChat's show_result excludes them"]

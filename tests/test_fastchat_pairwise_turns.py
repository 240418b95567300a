"""`jp-bench report` on FastChat multi-turn pairwise judgments (MT-Bench's `model_judgment/gpt-4_pair.jsonl`,
rows with `turn`): each turn an item of its question (as our own judgments.jsonl rows), categories looked up
by question, figures per turn, FastChat's show_result pairwise figures, intervals clustered by question,
duplicate rows counted and reported, both layouts."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from jp_bench.errors import InputFileError
from jp_bench.fastchat_io import read_pairwise_judgments
from tests.support.cli import main_in_process
from tests.support.files import write_jsonl, write_two_turn_questions
from tests.support.judgment_rows import pairwise_row
from tests.support.numbers import assert_close

pytestmark = pytest.mark.unit

# Six two-turn questions of three categories (Japanese MT-Bench numbering: ids 81.. are writing there too).
CATEGORIES = {81: "writing", 82: "writing", 111: "math", 112: "math", 101: "reasoning", 102: "reasoning"}
BASELINE = "gpt-3.5-turbo"  # FastChat's default --baseline-model
# The baseline is model_1 of the second pair (the report turns it round); the third pair leaves it out.
PAIRS = [("alpha", BASELINE), (BASELINE, "org/モデル-ja"), ("alpha", "org/モデル-ja")]
# (g1_winner, g2_winner) in model terms: W, L both games name model_1, model_2; T both tie; I, J the two
# games disagree (FastChat: a tie); H one game a tie; E, F an error verdict in game 1, game 2 (FastChat
# drops the row).
CODES = {"W": ("model_1", "model_1"), "L": ("model_2", "model_2"), "T": ("tie", "tie"), "I": ("model_1", "model_2"),
         "J": ("model_2", "model_1"), "H": ("model_1", "tie"), "E": ("error", "model_1"), "F": ("model_2", "error")}
# Per pair, per turn: the verdicts on the questions in CATEGORIES' order (a question's turns often agree).
VERDICTS = [{1: "WWLITE", 2: "WLLWHW"}, {1: "LWJLLW", 2: "LTLFWL"}, {1: "WILWTL", 2: "EWLWWH"}]
SEED, N_BOOT = 0, 300


def verdicts(pair: int, question: int, turn: int) -> tuple[str, str]:
    return CODES[VERDICTS[pair][turn][list(CATEGORIES).index(question)]]


def judgments() -> list[tuple[int, tuple[str, str], int, tuple[str, str]]]:
    """(question, (model_1, model_2), turn, (g1_winner, g2_winner)) of every judgment, in file order."""
    return [(q, pair, turn, verdicts(p, q, turn)) for q in CATEGORIES for p, pair in enumerate(PAIRS)
            for turn in (1, 2)]


def fastchat_row(question: int, pair: tuple[str, str], turn: int, winners: tuple[str, str], number: int) -> dict:
    """A line of FastChat's own layout (fastchat/llm_judge/gen_judgment.py --mode pairwise-all)."""
    prompt = ("pair-math-v1" if CATEGORIES[question] == "math" else "pair-v2") + ("-multi-turn" if turn == 2 else "")
    return {"question_id": question, "model_1": pair[0], "model_2": pair[1], "g1_winner": winners[0],
            "g2_winner": winners[1], "judge": ["gpt-4", prompt],
            "g1_user_prompt": f"[User Question]\n質問{question}の{turn}ターン目", "g1_judgment": "... [[A]]",
            "g2_user_prompt": f"[User Question]\n質問{question}の{turn}ターン目", "g2_judgment": "... [[B]]",
            "turn": turn, "tstamp": 1700000000.0 + number}


def older_row(question: int, pair: tuple[str, str], turn: int, winners: tuple[str, str], number: int) -> dict:
    """The same judgment in the older layout (the Japanese Vicuna QA benchmark's): judge_model and
    judge_prompt fields, the question and both answers copied in; here with the turn it judged."""
    return {"question_id": question, "model_1": pair[0], "model_2": pair[1], "g1_winner": winners[0],
            "g2_winner": winners[1], "g1_judgment": "... [[A]]", "g2_judgment": "... [[B]]",
            "judge_model": "gpt-4", "judge_prompt": "pair-v2", "question": f"質問{question}",
            "answer_1": "あ" * (10 + number % 5), "answer_2": "い" * (12 + number % 3), "turn": turn,
            "tstamp": 1700000000.0 + number}


def our_rows(found: list[tuple]) -> list[dict]:
    """The same verdicts as our own judgments.jsonl rows (one row per game, turn and category recorded)."""
    rows = []
    for number, (question, (model_1, model_2), turn, winners) in enumerate(found):
        for game, winner in ((1, winners[0]), (2, winners[1])):
            extra = {"error": "no verdict in the reply"} if winner == "error" else {}
            rows.append(pairwise_row(question, game, winner, model_1=model_1, model_2=model_2, turn=turn,
                                     category=CATEGORIES[question], prompt="pairwise" if turn == 1 else
                                     "pairwise_multi", key=f"{2 * number + game:064x}", **extra))
    return rows


def fastchat_figures(frame: pd.DataFrame, baseline: str | None) -> dict[str, dict]:
    """What FastChat's show_result.py --mode pairwise-baseline (``baseline``) or pairwise-all (None) prints,
    recomputed with pandas step by step: rows with an error in either game are dropped; with a baseline,
    rows without it are too; a row whose game 1 says tie or whose two games disagree is a tie for both
    models, any other row a win for the winner of both games and a loss for the other; summed per model
    (the baseline's own line removed), win_rate and loss_rate over win + loss + tie, and the adjusted win
    rate, (win + tie / 2) / (win + loss + tie). Its table has no per-turn or per-category lines: those are
    the same computation on that turn's or category's rows."""
    usable = frame[(frame["g1_winner"] != "error") & (frame["g2_winner"] != "error")]
    if baseline is not None:
        usable = usable[(usable["model_1"] == baseline) | (usable["model_2"] == baseline)]
    tie = (usable["g1_winner"] == "tie") | (usable["g1_winner"] != usable["g2_winner"])
    first_won = usable["g1_winner"] == "model_1"
    winner = usable["model_1"].where(first_won, usable["model_2"])
    loser = usable["model_2"].where(first_won, usable["model_1"])
    lines = pd.concat([
        pd.DataFrame({"model": usable.loc[tie, "model_1"], "win": 0, "loss": 0, "tie": 1}),
        pd.DataFrame({"model": usable.loc[tie, "model_2"], "win": 0, "loss": 0, "tie": 1}),
        pd.DataFrame({"model": winner[~tie], "win": 1, "loss": 0, "tie": 0}),
        pd.DataFrame({"model": loser[~tie], "win": 0, "loss": 1, "tie": 0}),
    ])
    table = lines.groupby("model").sum()
    if baseline is not None:
        table = table[table.index != baseline]
    total = table["win"] + table["loss"] + table["tie"]
    table["win_rate"] = table["win"] / total
    table["loss_rate"] = table["loss"] / total
    table["win_rate_adjusted"] = (table["win"] + 0.5 * table["tie"]) / total
    return {model: {k: (int(v) if k in ("win", "loss", "tie") else float(v)) for k, v in row.items()}
            for model, row in table.to_dict("index").items()}


def ours(entry: dict) -> dict:
    """A report entry's figures under FastChat's names."""
    return {"win": entry["win"], "loss": entry["loss"], "tie": entry["tie"], "win_rate": entry["win_rate"],
            "loss_rate": entry["loss_rate"], "win_rate_adjusted": entry["adjusted_win_rate"]}


def per_model(entries: list[dict]) -> dict[str, dict]:
    """Pair entries (model against baseline, every pair) summed per model, as pairwise-all counts: a
    model's loss is its opponent's win."""
    totals: dict[str, dict[str, int]] = {}
    for e in entries:
        for model, win, loss in ((e["model"], e["win"], e["loss"]), (e["baseline"], e["loss"], e["win"])):
            found = totals.setdefault(model, {"win": 0, "loss": 0, "tie": 0})
            found["win"] += win
            found["loss"] += loss
            found["tie"] += e["tie"]
    for found in totals.values():
        n = found["win"] + found["loss"] + found["tie"]
        found.update(win_rate=found["win"] / n, loss_rate=found["loss"] / n,
                     win_rate_adjusted=(found["win"] + 0.5 * found["tie"]) / n)
    return totals


def report(*args: str) -> dict:
    result = main_in_process("report", *args, "--format", "json", "--bootstrap", str(N_BOOT),
                     "--seed", str(SEED))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return json.loads(result.stdout)


def cluster_interval(frame: pd.DataFrame, model: str, rows: pd.Series, *,
                     by_item: bool = False) -> tuple[list[float], float]:
    """By hand: the question bootstrap of ``model``'s adjusted win rate against the baseline, every turn
    of a drawn question brought in together (numpy's default_rng(SEED) draws positions among the sorted
    questions that have a row with the baseline); ``rows``: the items counted (a turn's, or all).
    ``by_item``: what an item bootstrap would give instead (each (question, turn) drawn on its own)."""
    involved = frame[(frame["model_1"] == BASELINE) | (frame["model_2"] == BASELINE)]
    unit = list(zip(involved["question_id"], involved["turn"], strict=True)) if by_item else involved["question_id"]
    involved = involved.assign(unit=list(unit))
    questions = sorted(set(involved["unit"]))
    values: dict = {q: [] for q in questions}
    points = {"model_1": 1.0, "model_2": 0.0}
    for row in involved[rows[involved.index]].itertuples(index=False):
        if model not in (row.model_1, row.model_2) or "error" in (row.g1_winner, row.g2_winner):
            continue
        value = points[row.g1_winner] if row.g1_winner == row.g2_winner and row.g1_winner != "tie" else 0.5
        values[row.unit].append(value if row.model_1 == model else 1.0 - value)
    drawn = np.random.default_rng(SEED).integers(0, len(questions), size=(N_BOOT, len(questions)))
    replicates = []
    for draw in drawn:
        brought = [v for position in draw for v in values[questions[position]]]
        if brought:
            replicates.append(sum(brought) / len(brought))
    lo, hi = np.quantile(replicates, [0.025, 0.975])
    return [float(lo), float(hi)], float(np.std(replicates, ddof=1))


@pytest.fixture
def mt_bench(tmp_path: Path) -> tuple[Path, Path]:
    rows = [fastchat_row(*found, number) for number, found in enumerate(judgments())]
    return (write_jsonl(tmp_path / "data" / "japanese_mt_bench" / "model_judgment" / "gpt-4_pair.jsonl", rows),
            write_two_turn_questions(tmp_path / "question.jsonl", CATEGORIES))


def test_the_turns_are_both_read(mt_bench) -> None:
    """Both turns of every question and pair, as they are in the file (the reader keeps the turn)."""
    judged, _ = mt_bench
    records = read_pairwise_judgments(judged)
    assert sorted({(r.question_id, r.turn) for r in records}) == sorted(itertools.product(CATEGORIES, (1, 2)))
    assert {r.judge for r in records} >= {"gpt-4/pair-v2", "gpt-4/pair-v2-multi-turn", "gpt-4/pair-math-v1"}
    assert records[0].where == f"{judged}:1"


def test_against_the_baseline_figures_are_fastchats_overall_per_turn_and_per_category(mt_bench) -> None:
    judged, questions = mt_bench
    result = report(str(judged), "--benchmark", str(questions), "--baseline", BASELINE)
    frame = pd.read_json(judged, lines=True)
    entries = {e["model"]: e for e in result["pairwise"]}
    assert set(entries) == {"alpha", "org/モデル-ja"} and {e["baseline"] for e in entries.values()} == {BASELINE}
    assert {model: ours(e) for model, e in entries.items()} == fastchat_figures(frame, BASELINE)
    for turn in ("1", "2"):
        in_turn = fastchat_figures(frame[frame["turn"] == int(turn)], BASELINE)
        assert {model: ours(e["by_turn"][turn]) for model, e in entries.items()} == in_turn, turn
    category = frame["question_id"].map(CATEGORIES)
    for name in ("math", "reasoning", "writing"):
        in_category = fastchat_figures(frame[category == name], BASELINE)
        assert {model: ours(e["by_category"][name]) for model, e in entries.items()} == in_category, name
    for e in entries.values():
        # n counts every turn's item (FastChat's way); the error rows are counted apart, not in n.
        assert e["n"] == sum(e["by_turn"][t]["n"] for t in ("1", "2"))
        assert e["errors"] == sum(e["by_turn"][t]["errors"] for t in ("1", "2")) > 0
        assert e["inconsistent"] > 0
    assert not any("no categories" in note for note in result["notes"])
    assert not any("duplicate" in note for note in result["notes"])


def test_all_pairs_figures_are_fastchats_pairwise_all(mt_bench) -> None:
    """No model in every pair: each pair is reported as it is judged; summed per model they are what
    FastChat's --mode pairwise-all prints, overall and per turn."""
    judged, questions = mt_bench
    result = report(str(judged), "--benchmark", str(questions))
    frame = pd.read_json(judged, lines=True)
    assert [(e["model"], e["baseline"]) for e in result["pairwise"]] == PAIRS
    assert per_model(result["pairwise"]) == fastchat_figures(frame, None)
    for turn in ("1", "2"):
        assert per_model([e["by_turn"][turn] | {"model": e["model"], "baseline": e["baseline"]}
                          for e in result["pairwise"]]) == fastchat_figures(frame[frame["turn"] == int(turn)], None)
    (ranking,) = result["rankings"]  # three models: the Bradley–Terry ranking too
    assert {m["model"] for m in ranking["models"]} == {"alpha", BASELINE, "org/モデル-ja"}


def test_intervals_are_clustered_by_question_as_for_our_own_rows(mt_bench, tmp_path: Path) -> None:
    judged, questions = mt_bench
    result = report(str(judged), "--benchmark", str(questions), "--baseline", BASELINE)
    frame = pd.read_json(judged, lines=True)
    everything = pd.Series(True, index=frame.index)
    for e in result["pairwise"]:
        # Overall: a drawn question brings both its turns; each turn: the same draw, that turn's items.
        ci95, stderr = cluster_interval(frame, e["model"], everything)
        assert e["ci95"] == pytest.approx(ci95) and e["stderr"] == pytest.approx(stderr)
        assert e["stderr"] != pytest.approx(cluster_interval(frame, e["model"], everything, by_item=True)[1])
        for turn in ("1", "2"):
            figures = e["by_turn"][turn]
            ci95, stderr = cluster_interval(frame, e["model"], frame["turn"] == int(turn))
            assert figures["ci95"] == pytest.approx(ci95) and figures["stderr"] == pytest.approx(stderr)
    # The same verdicts as our own judgments.jsonl rows: the same items, clusters and categories, so the
    # same counts and the same intervals (within 1e-9 relative), overall, per category and per turn.
    own = write_jsonl(tmp_path / "judged" / "judgments.jsonl", our_rows(judgments()))
    mine = report(str(own), "--baseline", BASELINE)
    keys = ("n", "win", "loss", "tie", "inconsistent", "errors", "adjusted_win_rate", "ci95", "stderr")

    def figures(entry: dict) -> dict:
        return {"all": {k: entry[k] for k in keys},
                **{f"category {c}": {k: f[k] for k in keys} for c, f in entry["by_category"].items()},
                **{f"turn {t}": {k: f[k] for k in keys} for t, f in entry["by_turn"].items()}}

    assert_close({e["model"]: figures(e) for e in result["pairwise"]},
                 {e["model"]: figures(e) for e in mine["pairwise"]})


def test_both_layouts_give_the_same_figures(mt_bench, tmp_path: Path) -> None:
    judged, questions = mt_bench
    older = write_jsonl(tmp_path / "older" / "pairwise:all.jsonl",
                        [older_row(*found, number) for number, found in enumerate(judgments())])
    keys = ("model", "baseline", "n", "win", "loss", "tie", "inconsistent", "errors", "adjusted_win_rate", "ci95",
            "stderr", "by_category", "by_turn")
    current = report(str(judged), "--benchmark", str(questions), "--baseline", BASELINE)
    copied = report(str(older), "--benchmark", str(questions), "--baseline", BASELINE)
    assert ([{k: e[k] for k in keys} for e in copied["pairwise"]]
            == [{k: e[k] for k in keys} for e in current["pairwise"]])
    assert all(e["length_controlled_win_rate"] is not None for e in copied["pairwise"])  # answers copied in
    assert ours(copied["pairwise"][0]) == fastchat_figures(pd.read_json(older, lines=True), BASELINE)["alpha"]


def test_a_duplicate_row_is_counted_as_fastchat_counts_it_and_reported(mt_bench) -> None:
    judged, questions = mt_bench
    rows = [json.loads(line) for line in judged.read_text(encoding="utf-8").splitlines()]
    first = next(i for i, r in enumerate(rows) if (r["question_id"], r["model_1"], r["turn"]) == (111, "alpha", 2)
                 and r["model_2"] == BASELINE)
    # The same (question, models, turn) judged again, with another verdict: FastChat counts both rows.
    again = {**rows[first], "g1_winner": "model_2", "g2_winner": "model_2", "tstamp": 1800000000.0}
    write_jsonl(judged, [*rows, again])
    with pytest.raises(InputFileError, match=rf":{len(rows) + 1}: a second pairwise judgment of question 111"):
        read_pairwise_judgments(judged)  # outside the report, a duplicate is refused where it is

    text = main_in_process("report", str(judged), "--benchmark", str(questions), "--baseline", BASELINE,
                   "--bootstrap", "50")
    assert text.returncode == 0 and "Traceback" not in text.stderr, text.stderr
    notes = text.stdout.split("\nNotes\n", 1)[1].splitlines()
    (duplicate,) = [line for line in notes if "duplicate" in line]
    assert duplicate.startswith("- gpt-4: 1 duplicate pairwise judgment row(s) for a (question, pair of models, "
                                "turn) already judged, counted")
    assert (f"first: 'alpha' vs '{BASELINE}', question 111, turn 2 at {judged}:{len(rows) + 1} "
            f"(first at {judged}:{first + 1})") in duplicate

    result = report(str(judged), "--benchmark", str(questions), "--baseline", BASELINE)
    frame = pd.read_json(judged, lines=True)
    assert {e["model"]: ours(e) for e in result["pairwise"]} == fastchat_figures(frame, BASELINE)
    alpha = next(e for e in result["pairwise"] if e["model"] == "alpha")
    assert alpha["by_turn"]["2"]["loss"] == fastchat_figures(frame[frame["turn"] == 2], BASELINE)["alpha"]["loss"]
    assert result["notes"] == [line[2:] for line in notes if line.startswith("- ")]


def test_tables_show_each_turn(mt_bench) -> None:
    judged, questions = mt_bench
    result = main_in_process("report", str(judged), "--benchmark", str(questions), "--baseline", BASELINE,
                     "--format", "md", "--bootstrap", "50")
    assert result.returncode == 0, result.stderr
    section = result.stdout.split("### Pairwise", 1)[1].split("\n### ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in lines[0].strip("|").split(" | ")]
    assert header[-2:] == ["turn 1", "turn 2"]
    by_category = result.stdout.split("### By category", 1)[1].splitlines()[2]
    assert all(name in by_category for name in ("math", "reasoning", "writing"))
    rows = main_in_process("report", str(judged), "--benchmark", str(questions), "--baseline", BASELINE,
                   "--format", "csv", "--bootstrap", "50").stdout.splitlines()
    alpha = [row.split(",") for row in rows if row.startswith("pairwise,gpt-4,alpha,")]
    assert [(row[4], row[15]) for row in alpha] == [("all", "all"), ("math", "all"), ("reasoning", "all"),
                                                   ("writing", "all"), ("all", "1"), ("all", "2")]

"""Japanese answer checks and reasoning removal in judging (docs/judging.md, "Japanese answer checks and
reasoning removal"): judging runs through the real engine against the local judge stand-in, with and
without --require-japanese; the plan's store keys; the rows, FastChat files, report tables and lm-eval
metrics that carry the rule's verdicts and the answers' features."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pytest

import jp_bench
from jp_bench.answer_text import FEATURE_COLUMNS, PAIRWISE_FEATURE_COLUMNS
from jp_bench.benchmarks.answers import Answer
from jp_bench.benchmarks.questions import Question
from jp_bench.errors import InputFileError, JpBenchError
from jp_bench.fastchat_io import read_pairwise_judgments
from jp_bench.harness.judged_metrics import pairwise_judgment
from jp_bench.judging.plan import build_plan
from jp_bench.judging.prompts import load_prompt_set
from jp_bench.judging.records import read_judgment_rows
from jp_bench.llm.store import call_key
from jp_bench.llm.types import ModelSpec
from jp_bench.reporting.sources import load_judgments
from tests.support.files import write_jsonl
from tests.support.judge_stub import JudgeStub, always
from tests.support.judgment_rows import pairwise_row, single_row
from tests.support.paths import UPSTREAM_CHECKOUT

PAPER_PAIRWISE = (UPSTREAM_CHECKOUT / "jp_bench" / "model_judgment" / "pairwise" / "gpt-4"
                  / "pairwise:cyberagent--calm2-7b-chat_openai--text-davinci-003.jsonl")

QUESTIONS = {1: "日本の首都はどこですか？", 2: "日本一高い山は何ですか？", 3: "一年は何日ですか？", 4: "二足す二は？"}
THINK = "<think>\nThe user asks in Japanese: 2 + 2. I should answer in Japanese.\n</think>\n\n"
ANSWERS = {
    "nihongo": {1: "東京です。", 2: "富士山です。", 3: "三百六十五日です。", 4: THINK + "四です。"},
    "english": {1: "Tokyo is the capital.", 2: "Mount Fuji is the highest.", 3: "It has 365 days.",
                4: "Two plus two is four."},
    # Japanese once, English otherwise.
    "english2": {1: "首都は東京です。", 2: "It is Mount Fuji.", 3: "A year has 365 days.", 4: "The answer is 4."},
}
ENGLISH = [text for model in ("english", "english2") for text in ANSWERS[model].values() if text.isascii()]
# Scores 7 (the last [[N]]) in single mode and says A (the last [[A|B|C]]) in pairwise mode.
REPLY = "理由: よくできています。\n[[7]]\n[[A]]"


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("JP_BENCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-0123456789")
    questions = write_jsonl(tmp_path / "questions.jsonl", [{"question_id": q, "category": "generic", "turns": [text]}
                                                            for q, text in QUESTIONS.items()])
    answers = []
    for model, by_question in ANSWERS.items():
        path = write_jsonl(tmp_path / "answers" / f"{model}.jsonl", [
            {"question_id": q, "model_id": model, "choices": [{"index": 0, "turns": [text]}]}
            for q, text in by_question.items()])
        answers.append(f"{model}={path}")
    return {"answers": answers, "benchmark": str(questions), "workspace": tmp_path / "ws.sqlite"}


def judge(setup: dict[str, Any], mode: str, **options: Any) -> Any:
    return jp_bench.judge(setup["answers"], judge=options.pop("judge", "gpt-4o"), mode=mode,  # type: ignore[arg-type]
                          benchmark=setup["benchmark"], workspace=options.pop("workspace", setup["workspace"]),
                          progress=False, **options)


def prompts_sent(stub: JudgeStub) -> list[str]:
    return ["\n".join(message["content"] for message in request["messages"]) for request, _ in stub.replies]


def by_model(rows: list[dict]) -> dict[tuple[str, int], dict]:
    return {(row["model"], row["question_id"]): row for row in rows}


@pytest.mark.integration
def test_without_the_flag_every_answer_is_judged_and_rows_carry_features(setup, tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    with JudgeStub(reply=always(REPLY)) as stub:
        monkeypatch.setenv("OPENAI_BASE_URL", stub.base_url)
        outcome = judge(setup, "single", out=tmp_path / "out")
    assert stub.calls == 12 and outcome.complete  # 3 models x 4 questions: English answers judged too
    rows = by_model(outcome.rows)
    assert {row["score"] for row in rows.values()} == {7.0} and not any("rule" in row for row in rows.values())
    assert [rows[("english", q)]["answer_features"]["japanese_share"] for q in QUESTIONS] == [0.0] * 4
    assert [rows[("nihongo", q)]["answer_features"]["japanese_share"] for q in QUESTIONS] == [1.0] * 4
    assert [rows[("english2", q)]["answer_features"]["japanese_share"] for q in QUESTIONS] == [1.0, 0.0, 0.0, 0.0]
    # The reasoning is removed before judging: the judge never sees it, the row counts it.
    thinking = rows[("nihongo", 4)]
    assert thinking["answer_features"]["reasoning_chars"] == len(THINK)
    assert thinking["answer_chars"] == len("四です。")
    assert [row["answer_features"]["reasoning_chars"] for key, row in rows.items() if key != ("nihongo", 4)] == [0] * 11
    sent = prompts_sent(stub)
    assert any("四です。" in prompt for prompt in sent)
    assert not any("<think>" in prompt or "I should answer in Japanese" in prompt for prompt in sent)
    # What was written is what the readers take: the report's SINGLE table has the features.
    table = load_judgments([tmp_path / "out"]).single.set_index(["model", "question_id"]).sort_index()
    assert table.loc[("nihongo", 4), "reasoning_chars"] == len(THINK)
    assert list(table.loc["english", "japanese_share"]) == [0.0] * 4


@pytest.mark.integration
def test_with_the_flag_english_answers_are_never_sent(setup, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    with JudgeStub(reply=always(REPLY)) as stub:
        monkeypatch.setenv("OPENAI_BASE_URL", stub.base_url)
        planned = judge(setup, "single", require_japanese=True, dry_run=True)
        assert planned.estimate.calls == 5 and stub.calls == 0  # nihongo's 4 and english2's one Japanese answer
        capsys.readouterr()
        outcome = judge(setup, "single", require_japanese=True, verbose=True)
        printed = capsys.readouterr().out
        assert stub.calls == 5 and outcome.report.called == 5 and outcome.complete
        assert not any(text in prompt for prompt in prompts_sent(stub) for text in ENGLISH)
        again = judge(setup, "single", require_japanese=True)
        assert stub.calls == 5 and again.report.called == 0 and again.report.reused == 5  # a re-run pays nothing
    assert again.rows == outcome.rows
    rows = by_model(outcome.rows)
    ruled = {key for key, row in rows.items() if row.get("rule") == "not_japanese"}
    assert ruled == {("english", q) for q in QUESTIONS} | {("english2", q) for q in (2, 3, 4)}
    for key in ruled:
        row = rows[key]
        assert (row["score"], row["status"], row["reply"], row["attempts"], row["input_tokens"], row["output_tokens"],
                row["cost_usd"]) == (1.0, "ok", None, 0, 0, 0, 0.0)
    assert {rows[key]["score"] for key in rows.keys() - ruled} == {7.0}
    assert ("not Japanese (under 0.5 of their letters in kana/kanji): english 4 answer(s), english2 3 answer(s); "
            "scored as the lowest score / a loss without calling the judge (--require-japanese)") in printed
    assert "reasoning removed before judging (<think>…</think>): nihongo 1 answer(s)" in printed
    assert "to call now: 5 (7 scored by --require-japanese, the rest in the store)" in printed


@pytest.mark.integration
def test_pairwise_games_are_won_by_the_japanese_answer_and_two_english_answers_tie(
        setup, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    with JudgeStub(reply=always(REPLY)) as stub:
        monkeypatch.setenv("OPENAI_BASE_URL", stub.base_url)
        outcome = judge(setup, "pairwise-all", require_japanese=True, out=out)
    # Only question 1 of english2 vs nihongo has two Japanese answers: its two games are the only calls.
    assert stub.calls == 2 and outcome.complete and len(outcome.rows) == 3 * 4 * 2
    games = {(r["model_1"], r["model_2"], r["question_id"], r["game"]): r for r in outcome.rows}
    for game in (1, 2):
        for q in QUESTIONS:
            # nihongo (model_2) wins: shown as B in game 1 and as A in game 2.
            row = games[("english", "nihongo", q, game)]
            expected = ("B" if game == 1 else "A", "model_2", "not_japanese")
            assert (row["verdict"], row["winner"], row["rule"]) == expected
        for q in (2, 3, 4):
            assert games[("english", "english2", q, game)]["verdict"] == "C"
            assert games[("english", "english2", q, game)]["winner"] == "tie"
            assert games[("english2", "nihongo", q, game)]["winner"] == "model_2"
        assert games[("english", "english2", 1, game)]["winner"] == "model_2"  # english2 answered 1 in Japanese
        assert "rule" not in games[("english2", "nihongo", 1, game)]  # judged: the stand-in says A
        assert games[("english2", "nihongo", 1, game)]["winner"] == ("model_1" if game == 1 else "model_2")
    # The rule's verdicts flow on unchanged: FastChat files, lm-eval's judged metrics, the report tables.
    fastchat = {(r.model_1, r.model_2, r.question_id): r for r in read_pairwise_judgments(out / "model_judgment")}
    assert {(r.g1_winner, r.g2_winner) for key, r in fastchat.items() if key[:2] == ("english", "nihongo")} == {
        ("model_2", "model_2")}
    metrics = pairwise_judgment([games[("english", "nihongo", 2, g)] for g in (1, 2)], True).metrics
    assert (metrics["win_rate"], metrics["loss_rate"], metrics["judge_errors"]) == (0.0, 1.0, 0.0)
    table = load_judgments([out]).pairwise.set_index(["model_1", "model_2", "question_id"]).sort_index()
    assert list(table.loc[("english", "nihongo"), "japanese_share_1"]) == [0.0] * 4
    assert list(table.loc[("english", "nihongo"), "japanese_share_2"]) == [1.0] * 4
    assert table.loc[("english2", "nihongo", 4), "reasoning_chars_2"] == len(THINK)
    assert table.loc[("english2", "nihongo", 4), "reasoning_chars_1"] == 0


@pytest.mark.integration
def test_the_judge_yaml_turns_the_rule_on_and_the_threshold_moves_it(setup, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    yaml = tmp_path / "strict.yaml"
    yaml.write_text("name: strict\nprovider: openai\nmodel: gpt-4o-2024-08-06\napi_key_env: OPENAI_API_KEY\n"
                    "require_japanese: true\njapanese_threshold: 0.5\n", encoding="utf-8")
    with JudgeStub(reply=always(REPLY)) as stub:
        monkeypatch.setenv("OPENAI_BASE_URL", stub.base_url)
        outcome = judge(setup, "single", judge=str(yaml))
        assert stub.calls == 5 and sum(row.get("rule") == "not_japanese" for row in outcome.rows) == 7
        # A threshold of 0 flags nothing: the seven English answers are judged now (the rest are stored).
        outcome = judge(setup, "single", judge=str(yaml), japanese_threshold=0.0)
        assert stub.calls == 12 and outcome.report.reused == 5 and not any("rule" in row for row in outcome.rows)


@pytest.mark.unit
def test_bad_thresholds_are_one_line(setup, tmp_path: Path) -> None:
    with pytest.raises(JpBenchError, match=r"^--japanese-threshold: expected at most 1, got '1.5'$"):
        judge(setup, "single", japanese_threshold=1.5, dry_run=True)
    with pytest.raises(JpBenchError, match=r"^--require-japanese: expected True or False"):
        judge(setup, "single", require_japanese="yes", dry_run=True)
    yaml = tmp_path / "bad.yaml"
    yaml.write_text("name: bad\nprovider: openai\nmodel: m\njapanese_threshold: 2\n", encoding="utf-8")
    with pytest.raises(InputFileError, match=r"bad.yaml:4"):
        judge(setup, "single", judge=str(yaml), dry_run=True)


@pytest.mark.unit
def test_the_plan_renders_answers_without_reasoning_under_the_keys_they_had() -> None:
    spec = ModelSpec(provider="openai", model="judge-x")
    prompts = load_prompt_set()
    question = Question(question_id=1, category="generic", turns=["二足す二は？"])
    plain = Answer("a", 1, "generic", ("四です。",))
    thinking = Answer("b", 1, "generic", (THINK + "四です。",))
    plan = build_plan("single", [question], [plain, thinking], prompts, spec)
    # The key of the answer as it always rendered, worked out from the prompt set and the spec directly.
    kind = prompts.kind_for("single", False, multi_turn=False)
    expected = call_key(spec, prompts.render(kind, questions=["二足す二は？"], answers=["四です。"], references=[],
                                             grading_notes=None))
    assert [task.key for task in plan.tasks] == [expected, expected]  # the reasoning is not judged, nor paid twice
    assert [task.answer_chars[0] for task in plan.tasks] == [len("四です。")] * 2
    assert [task.features[0].reasoning_chars for task in plan.tasks] == [0, len(THINK)]


@pytest.mark.unit
def test_a_multi_turn_plan_measures_the_turn_judged() -> None:
    spec = ModelSpec(provider="openai", model="judge-x")
    question = Question(question_id=1, category="writing", turns=["質問1", "質問2"])
    answers = [Answer("a", 1, "writing", ("# 日本語の答え", THINK + "An English answer.")),
               Answer("b", 1, "writing", ("答え", "答え2"))]
    plan = build_plan("pairwise", [question], answers, load_prompt_set(), spec, baseline="b")
    features = {(task.turn, task.game): task.features[0] for task in plan.tasks}
    assert features[(1, 1)].japanese_share == 1.0 and features[(1, 1)].headers == 1
    assert features[(2, 2)].japanese_share == 0.0 and features[(2, 2)].reasoning_chars == len(THINK)
    assert not any(THINK in message.content for task in plan.tasks for message in task.messages)


@pytest.mark.unit
def test_rows_decided_by_a_rule_say_so_and_older_rows_still_read(tmp_path: Path) -> None:
    features = {"headers": 0, "list_items": 0, "bold": 0, "japanese_share": 0.0, "reasoning_chars": 0}
    ruled = single_row(1, "english", 1.0, rule="not_japanese", reply=None, attempts=0, input_tokens=0,
                       output_tokens=0, cost_usd=0.0, answer_features=features)
    older = pairwise_row(2, 1, "model_1")  # written before answers were measured: no features, no rule
    assert len(read_judgment_rows([(1, ruled), (2, older)], "j.jsonl")) == 2
    with pytest.raises(InputFileError, match=r"j.jsonl:1: .*decided by rule 'not_japanese' has status 'ok', no reply"):
        read_judgment_rows([(1, {**ruled, "attempts": 1})], "j.jsonl")
    with pytest.raises(InputFileError, match=r"j.jsonl:1: .*attempts is 0 only for a judgment decided by a rule"):
        read_judgment_rows([(1, {**older, "attempts": 0})], "j.jsonl")
    with pytest.raises(InputFileError, match=r"j.jsonl:1: field 'answer_features.japanese_share'"):
        read_judgment_rows([(1, {**ruled, "answer_features": {**features, "japanese_share": 1.5}})], "j.jsonl")
    with pytest.raises(InputFileError, match=r"j.jsonl:1: field 'answer_features.style'"):
        read_judgment_rows([(1, {**ruled, "answer_features": {**features, "style": 1}})], "j.jsonl")
    # Older rows in the report tables: every feature column is there, NaN.
    write_jsonl(tmp_path / "old" / "judgments.jsonl", [older, pairwise_row(2, 2, "model_1")])
    write_jsonl(tmp_path / "single" / "judgments.jsonl", [single_row(1, "m", 5.0)])
    tables = load_judgments([tmp_path / "old", tmp_path / "single"])
    assert tables.pairwise[list(PAIRWISE_FEATURE_COLUMNS)].isna().all().all()
    assert tables.single[list(FEATURE_COLUMNS)].isna().all().all()


@pytest.mark.unit
def test_the_fastchat_reader_measures_the_answers_the_paper_copied_in() -> None:
    records = read_pairwise_judgments(PAPER_PAIRWISE)
    texts = {json.loads(line)["question_id"]: json.loads(line)
             for line in PAPER_PAIRWISE.read_text(encoding="utf-8").splitlines() if line}
    assert records and all(r.answer_1_features and r.answer_2_features for r in records)
    for record in records:
        # The length judged is the text's; no reasoning in the paper's answers.
        assert record.answer_1_features.chars == len(texts[record.question_id]["answer_1"])
        assert record.answer_1_features.reasoning_chars == record.answer_2_features.reasoning_chars == 0
    # Question 1's baseline answer (text-davinci-003, model_2): numbered points, Japanese throughout.
    first = next(r for r in records if r.question_id == 1)
    points = len(re.findall(r"^\d+\. ", texts[1]["answer_2"], re.MULTILINE))
    assert points >= 3 and first.answer_2_features.list_items == points
    assert first.answer_2_features.japanese_share == 1.0
    table = load_judgments([PAPER_PAIRWISE]).pairwise
    assert len(table) == len(records) and table[list(PAIRWISE_FEATURE_COLUMNS)].drop(
        columns=["japanese_share_1", "japanese_share_2"]).notna().all().all()
    assert (table["japanese_share_1"].dropna() >= 0.5).all() and not math.isnan(table["japanese_share_2"].max())

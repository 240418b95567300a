"""Self-instruct generation through the real OpenAI SDK against a local OpenAI-compatible server:
filtering, resume without paying twice, the dataset on disk, and the offline embedded generator."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from jp_bench.selfinstruct.generate import parse_tasks
from tests.support.cli import run_cli
from tests.support.judge_stub import JudgeStub
from tests.support.paths import BIN

KATAKANA = "アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワ"


def word(rng: random.Random) -> str:
    return "".join(rng.choice(KATAKANA) for _ in range(5))


def fresh_task(index: int) -> dict[str, str]:
    """A task whose instruction shares little with any other (random made-up product names)."""
    rng = random.Random(index)
    a, b, c = word(rng), word(rng), word(rng)
    return {"instruction": f"{a}と{b}と{c}の違いを説明してください。", "input": "",
            "output": f"{a}は軽く、{b}は丈夫で、{c}は安価です。用途に合わせて選ぶとよいでしょう。"}


def reply_with_tasks(request: dict, index: int) -> str:
    """Ten tasks per reply: seven new ones, one near-duplicate of the first, one English, one image task."""
    base = (index - 1) * 7
    tasks = [fresh_task(base + k) for k in range(7)]
    near = dict(tasks[0], instruction=tasks[0]["instruction"].replace("ください", "下さい").rstrip("。"))
    english = {"instruction": "Describe the history of tea ceremony in detail.", "input": "",
               "output": "The tea ceremony has a long history in Japan."}
    image = {"instruction": "この写真に写っている料理の名前を答えてください。", "input": "", "output": "肉じゃがです。"}
    return "```json\n" + json.dumps([*tasks, near, english, image], ensure_ascii=False) + "\n```"


def generate(stub: JudgeStub, tmp_path: Path, num: int, *extra: str) -> subprocess.CompletedProcess[str]:
    return run_cli("jp-bench", "selfinstruct", "generate", "--generator", "openai-compatible",
                   "--base-url", stub.base_url, "--num", str(num), "--out", str(tmp_path / "data"),
                   "--workspace", str(tmp_path / "ws.sqlite"), "--concurrency", "2", *extra)


@pytest.mark.unit
def test_parse_tasks_tolerates_fences_and_objects() -> None:
    assert parse_tasks('前置き\n```json\n[{"instruction": "a", "input": "", "output": "b"}]\n```') == [
        {"instruction": "a", "input": "", "output": "b"}]
    assert parse_tasks('{"tasks": [{"instruction": "a"}]}') == [{"instruction": "a"}]
    assert parse_tasks("JSONではありません") is None


@pytest.mark.integration
def test_generation_filters_and_writes_a_dataset(tmp_path: Path, jp_home: Path) -> None:
    with JudgeStub(reply=reply_with_tasks) as stub:
        result = generate(stub, tmp_path, 20)
        assert result.returncode == 0, result.stderr[-3000:]
        assert stub.calls == 4  # 7 accepted per reply; requests go two at a time (--concurrency 2)
        # The same command again: everything from the store, no call.
        again = generate(stub, tmp_path, 20)
        assert again.returncode == 0 and stub.calls == 4
    rows = [json.loads(line) for line in (tmp_path / "data" / "data" / "train.jsonl").read_text(encoding="utf-8")
            .splitlines()]
    assert len(rows) == 20
    instructions = [r["instruction"] for r in rows]
    assert len(set(instructions)) == 20
    assert not any("下さい" in text for text in instructions)  # injected near-duplicates were dropped
    assert not any("写真" in text or text.startswith("Describe") for text in instructions)
    assert rows[0]["messages"][0]["role"] == "user" and rows[0]["messages"][1]["content"] == rows[0]["output"]
    provenance = json.loads(rows[0]["provenance"])
    assert provenance["generator"] == "default" and provenance["request"] == 0
    assert len(provenance["demonstrations"]) == 3
    stats = json.loads((tmp_path / "data" / "stats.json").read_text(encoding="utf-8"))
    assert stats["items"] == 20 and stats["drop_reasons"]["near_duplicate"] >= 2
    assert {"blacklist", "japanese_share"} <= set(stats["drop_reasons"])
    card = (tmp_path / "data" / "README.md").read_text(encoding="utf-8")
    assert "near_duplicate" in card and "generate-ja-v1" in card
    assert (tmp_path / "data" / "stats.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    import datasets

    loaded = datasets.load_dataset(str(tmp_path / "data"), split="train")
    assert loaded.num_rows == 20 and set(loaded.column_names) >= {"instruction", "input", "output", "messages"}
    parquet = datasets.load_dataset("parquet", data_files=str(tmp_path / "data" / "data" / "train.parquet"),
                                    split="train")
    assert parquet["instruction"] == instructions


@pytest.mark.integration
def test_killed_generation_resumes_without_paying_twice(tmp_path: Path, jp_home: Path) -> None:
    with JudgeStub(reply=reply_with_tasks, latency_s=0.3) as stub:
        command = [str(BIN / "jp-bench"), "selfinstruct", "generate", "--generator", "openai-compatible",
                   "--base-url", stub.base_url, "--num", "70", "--out", str(tmp_path / "data"),
                   "--workspace", str(tmp_path / "ws.sqlite"), "--concurrency", "2"]
        process = subprocess.Popen(command, env={**os.environ}, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while stub.calls < 4 and time.monotonic() < deadline:
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        process.wait()
        with sqlite3.connect(tmp_path / "ws.sqlite") as db:
            stored = db.execute("SELECT COUNT(*) FROM calls").fetchone()[0]
        before = stub.calls
        assert 0 < stored < 10
        resumed = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        assert stub.calls - before == 10 - stored  # 70 tasks need 10 replies; stored ones are not asked again
    rows = (tmp_path / "data" / "data" / "train.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(rows) == 70


@pytest.mark.e2e
def test_embedded_model_stands_in_for_the_generator(tmp_path: Path, packaged_gguf: Path) -> None:
    env = {"JP_BENCH_HOME": str(packaged_gguf.parent.parent)}
    result = run_cli("jp-bench", "selfinstruct", "generate", "--generator", "embedded", "--num", "1",
                     "--tasks-per-request", "2", "--max-requests", "2", "--concurrency", "1",
                     "--out", str(tmp_path / "data"), "--workspace", str(tmp_path / "ws.sqlite"), env=env)
    # A 270M model rarely writes tasks that pass the filters; what must hold is that the pipeline ran
    # end to end offline: the model answered in the constrained JSON form and every candidate was judged.
    assert result.returncode in (0, 1), result.stderr[-3000:]
    assert "unparseable_reply" not in result.stdout
    stats = json.loads((tmp_path / "data" / "stats.json").read_text(encoding="utf-8"))
    assert stats["candidates"] > 0
    with sqlite3.connect(tmp_path / "ws.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM calls WHERE status = 'ok'").fetchone()[0] >= 1


@pytest.mark.integration
def test_cli_seeds_translate_edit_import_then_generate(tmp_path: Path, jp_home: Path) -> None:
    """The few commands a person runs: English seeds -> post-edit sheet -> Japanese seeds -> dataset."""
    import csv

    from tests.support.paths import SHARED
    from tests.test_selfinstruct_seeds import japanese_json

    english = SHARED / "data" / "stanford_alpaca" / "seed_tasks.jsonl"
    workspace = tmp_path / "ws.sqlite"
    with JudgeStub(reply=japanese_json) as stub:
        translated = run_cli("jp-bench", "selfinstruct", "seeds", "translate", "--input", str(english),
                             "--translator", "openai-compatible", "--base-url", stub.base_url, "--limit", "4",
                             "--out", str(tmp_path / "sheet"), "--workspace", str(workspace))
    assert translated.returncode == 0, translated.stderr[-3000:]
    sheet = tmp_path / "sheet.csv"
    assert sheet.read_bytes().startswith(b"\xef\xbb\xbf")
    with sheet.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:  # the person reviews every row and accepts the machine text
        row["status"] = "done"
    with sheet.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), quoting=csv.QUOTE_ALL)
        writer.writeheader()
        writer.writerows(rows)
    imported = run_cli("jp-bench", "selfinstruct", "seeds", "import", str(sheet), "--out", str(tmp_path / "ja.jsonl"))
    assert imported.returncode == 0, imported.stderr[-3000:]
    assert "4 Japanese seed tasks" in imported.stdout
    with JudgeStub(reply=reply_with_tasks) as stub:
        generated = run_cli("jp-bench", "selfinstruct", "generate", "--generator", "openai-compatible",
                            "--base-url", stub.base_url, "--seeds", str(tmp_path / "ja.jsonl"), "--num", "5",
                            "--out", str(tmp_path / "data"), "--workspace", str(workspace), "--concurrency", "1")
    assert generated.returncode == 0, generated.stderr[-3000:]
    rows = (tmp_path / "data" / "data" / "train.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(rows) == 5
    assert all(d.startswith("seed_task_") for d in json.loads(json.loads(rows[0])["provenance"])["demonstrations"])

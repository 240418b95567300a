"""Leaderboard: result files -> LEADERBOARD.md, leaderboard.csv, PNG plots and the offline HTML page.

The HTML page is checked in a real headless Chromium (Debian package ``chromium``): the dumped DOM
after ``#sort=<column>:<asc|desc>`` and a screenshot.
"""

from __future__ import annotations

import html
import json
import os
import re
import struct
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from jp_bench.errors import InputFileError, JpBenchError
from jp_bench.reporting.leaderboard import (
    CSV_FIXED_COLUMNS,
    PublishedResult,
    build_leaderboard,
    load_results,
    read_result,
    render_result_json_schema,
    write_result,
)

ROOT = Path(__file__).resolve().parents[1]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHROMIUM = Path(os.environ.get("JP_BENCH_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_INSTALL = "install it with: apt-get update && apt-get install -y chromium"
BASELINE = "openai--text-davinci-003"
CALM2 = "cyberagent/calm2-7b-chat"  # written as cyberagent--calm2-7b-chat.json


def _judge(name: str, model: str) -> dict[str, str]:
    return {"name": name, "model": model, "prompt_set": "ja-v1", "prompt_version": "0123abcd4567"}


def _pairwise(win: int, loss: int, tie: int, ci: list[float], errors: int = 0, inconsistent: int = 0,
              by_category: dict[str, Any] | None = None) -> dict[str, Any]:
    n = win + loss + tie
    return {"baseline": BASELINE, "n": n, "win": win, "loss": loss, "tie": tie, "inconsistent": inconsistent,
            "errors": errors, "win_rate": win / n, "loss_rate": loss / n, "tie_rate": tie / n,
            "adjusted_win_rate": (win + 0.5 * tie) / n, "ci95": ci, "stderr": 0.04, "by_category": by_category or {}}


def _result(model: str, judge: dict[str, str], *, pairwise: dict | None = None, single: dict | None = None,
            errors: int = 0, date: str = "2026-11-24") -> dict[str, Any]:
    return {"schema_version": 1, "benchmark": "jp_bench", "model": model, "judge": judge,
            "answers": {"source": "FastChat model_answer", "generation": {"temperature": 0.7}}, "date": date,
            "pairwise": pairwise, "single": single, "errors": errors, "cost_usd": 1.23}


GPT4 = _judge("gpt-4", "gpt-4-0613")
GPT4O = _judge("gpt-4o", "gpt-4o-2024-08-06")
RESULTS = [
    # judge gpt-4, pairwise against text-davinci-003: 0.775, 0.56410..., 0.43125
    _result(CALM2, GPT4, pairwise=_pairwise(56, 12, 12, [0.7, 0.85], inconsistent=5, by_category={
        "generic": {"n": 40, "adjusted_win_rate": 0.8125, "ci95": [0.7, 0.9], "win": 30, "loss": 5, "tie": 5},
        "coding": {"n": 40, "adjusted_win_rate": 0.7375, "ci95": [0.6, 0.85], "win": 26, "loss": 7, "tie": 7},
    })),
    _result("rinna--youri-7b-chat", GPT4, pairwise=_pairwise(30, 41, 9, [0.35, 0.52], by_category={
        "generic": {"n": 40, "adjusted_win_rate": 0.5}, "math": {"n": 40, "adjusted_win_rate": 0.3625},
    })),
    _result("stabilityai--japanese-stablelm", GPT4, pairwise=_pairwise(40, 30, 8, [0.47, 0.66], errors=2),
            errors=2, date="2026-11-20"),
    # judge gpt-4o, single scores: 7.25, 6.4
    _result("rinna--youri-7b-chat", GPT4O, errors=1, single={
        "n": 79, "mean": 7.25, "ci95": [6.9, 7.6], "stderr": 0.18, "errors": 1,
        "by_category": {"generic": {"n": 40, "mean": 7.5}, "coding": {"n": 39, "mean": 7.0, "ci95": [6.5, 7.5]}}}),
    _result("cyberagent--calm2-7b-chat", GPT4O, single={
        "n": 80, "mean": 6.4, "ci95": [6.0, 6.8], "stderr": 0.2, "errors": 0,
        "by_category": {"generic": {"n": 40, "mean": 7.1}, "math": {"n": 40, "mean": 5.7}}}),
]


@pytest.fixture
def results_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "results"
    for data in RESULTS:
        write_result(folder, data)
    return folder


@pytest.fixture
def built(results_dir: Path, tmp_path: Path) -> tuple[Path, list[Path]]:
    out = tmp_path / "site"
    return out, build_leaderboard(results_dir, out)


# --------------------------------------------------------------------------------------------- files


@pytest.mark.unit
def test_write_result_round_trip(tmp_path: Path) -> None:
    path = write_result(tmp_path, RESULTS[0])
    assert path == tmp_path / "jp_bench" / "gpt-4" / "cyberagent--calm2-7b-chat.json"
    again = read_result(path)
    assert again == PublishedResult.model_validate(RESULTS[0])
    assert again.model == CALM2 and again.date.isoformat() == "2026-11-24"
    assert again.pairwise is not None and again.pairwise.by_category["coding"].win == 26
    # writing the parsed model back gives the same bytes; nothing but the result is left in the folder
    before = path.read_bytes()
    assert write_result(tmp_path, again) == path and path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]
    assert json.loads(before)["single"] is None


@pytest.mark.unit
def test_load_results_reads_every_file_sorted(results_dir: Path) -> None:
    results = load_results(results_dir)
    assert [r.key for r in results] == sorted(r.key for r in results)
    assert len(results) == len(RESULTS)
    assert len(list(results_dir.rglob("*.json"))) == len(RESULTS)


@pytest.mark.unit
@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d["pairwise"].__setitem__("win_rate", 1.7), "pairwise.win_rate"),
        (lambda d: d["pairwise"].__setitem__("ci95", [0.9, 0.2]), "pairwise.ci95"),
        (lambda d: d["pairwise"].__setitem__("tie", 13), "pairwise"),
        (lambda d: d["judge"].pop("prompt_version"), "judge.prompt_version"),
        (lambda d: d.__setitem__("date", "24/11/2026"), "date"),
        (lambda d: d.__setitem__("schema_version", 2), "schema_version"),
        (lambda d: d.__setitem__("surprise", 1), "surprise"),
        (lambda d: d["pairwise"]["by_category"]["generic"].__setitem__("adjusted_win_rate", "high"),
         "pairwise.by_category.generic.adjusted_win_rate"),
        (lambda d: d.update(pairwise=None, single=None), "a result needs"),
    ],
)
def test_bad_result_file_names_file_and_field(results_dir: Path, tmp_path: Path, change: Any, field: str) -> None:
    bad = results_dir / "jp_bench" / "gpt-4" / "cyberagent--calm2-7b-chat.json"
    data = json.loads(bad.read_text(encoding="utf-8"))
    change(data)
    bad.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(InputFileError) as caught:
        build_leaderboard(results_dir, tmp_path / "site")
    assert caught.value.path == str(bad)
    assert str(bad) in str(caught.value)
    assert field in caught.value.message
    assert not (tmp_path / "site").exists()


@pytest.mark.unit
def test_bad_json_misplaced_and_empty(results_dir: Path, tmp_path: Path) -> None:
    broken = results_dir / "jp_bench" / "gpt-4" / "broken.json"
    broken.write_text('{"schema_version": 1,\n  "model": }', encoding="utf-8")
    with pytest.raises(InputFileError, match=r"broken\.json:2: not valid JSON"):
        load_results(results_dir)
    broken.unlink()
    misplaced = results_dir / "jp_bench" / "gpt-4o" / "renamed.json"
    misplaced.write_text(json.dumps(RESULTS[4]), encoding="utf-8")
    with pytest.raises(InputFileError, match=r"renamed\.json: file is misplaced.*gpt-4o/cyberagent--calm2-7b-chat"):
        load_results(results_dir)
    misplaced.unlink()
    (tmp_path / "empty").mkdir()
    assert load_results(tmp_path / "empty") == []
    with pytest.raises(JpBenchError, match="no result files"):
        build_leaderboard(tmp_path / "empty", tmp_path / "site")
    with pytest.raises(JpBenchError, match="results folder not found"):
        load_results(tmp_path / "missing")


@pytest.mark.unit
def test_result_schema_doc_is_current() -> None:
    schema_file = ROOT / "docs" / "schemas" / "result.schema.json"
    assert schema_file.read_text(encoding="utf-8") == render_result_json_schema(), (
        "regenerate: python -c 'from jp_bench.reporting.results_schema import render_result_json_schema as r; "
        "open(\"docs/schemas/result.schema.json\", \"w\").write(r())'"
    )


# --------------------------------------------------------------------------------------------- outputs


@pytest.mark.unit
def test_markdown_ranks_best_first_with_intervals(built: tuple[Path, list[Path]]) -> None:
    out, _ = built
    text = (out / "LEADERBOARD.md").read_text(encoding="utf-8")
    pairwise_title = f"## jp_bench · judge gpt-4 · pairwise vs {BASELINE}"
    single_title = "## jp_bench · judge gpt-4o · single-answer score"
    assert text.index(pairwise_title) < text.index(single_title)
    pairwise, single = text.split(pairwise_title)[1].split(single_title)
    rows = [line for line in pairwise.splitlines() if line.startswith("| ") and not line.startswith("| Rank")]
    assert rows == [
        f"| 1 | {CALM2} | 0.775 [0.700, 0.850] | 56/12/12 | 80 | 0 |",
        "| 2 | stabilityai--japanese-stablelm | 0.564 [0.470, 0.660] | 40/30/8 | 78 | 2 |",
        "| 3 | rinna--youri-7b-chat | 0.431 [0.350, 0.520] | 30/41/9 | 80 | 0 |",
    ]
    assert f"| Rank | Model | Adjusted win rate vs {BASELINE} [95% CI] | W/L/T | n | Errors |" in pairwise
    rows = [line for line in single.splitlines() if line.startswith("| ") and not line.startswith("| Rank")]
    assert rows == [
        "| 1 | rinna--youri-7b-chat | 7.25 [6.90, 7.60] | 79 | 1 |",
        "| 2 | cyberagent--calm2-7b-chat | 6.40 [6.00, 6.80] | 80 | 0 |",
    ]
    assert "Judge model gpt-4-0613, prompt set ja-v1 (version 0123abcd4567)." in pairwise
    assert "](plots/jp_bench__gpt-4__pairwise__vs__openai--text-davinci-003.ci.png)" in pairwise
    assert "](plots/jp_bench__gpt-4o__single.categories.png)" in single


@pytest.mark.unit
def test_csv_columns_and_values(built: tuple[Path, list[Path]]) -> None:
    out, _ = built
    table = pd.read_csv(out / "leaderboard.csv")
    assert list(table.columns) == [*CSV_FIXED_COLUMNS, "cat_coding", "cat_generic", "cat_math"]
    assert len(table) == len(RESULTS)
    assert list(zip(table["judge"], table["model"], strict=True)) == [
        ("gpt-4", CALM2), ("gpt-4", "stabilityai--japanese-stablelm"), ("gpt-4", "rinna--youri-7b-chat"),
        ("gpt-4o", "rinna--youri-7b-chat"), ("gpt-4o", "cyberagent--calm2-7b-chat"),
    ]
    calm2 = table.iloc[0]
    assert calm2["headline_metric"] == "adjusted_win_rate" and calm2["headline"] == 0.775
    assert (calm2["ci_low"], calm2["ci_high"], calm2["rank"]) == (0.7, 0.85, 1)
    assert (calm2["pairwise_win"], calm2["pairwise_loss"], calm2["pairwise_tie"]) == (56, 12, 12)
    assert calm2["pairwise_inconsistent"] == 5 and calm2["pairwise_baseline"] == BASELINE
    assert (calm2["cat_generic"], calm2["cat_coding"]) == (0.8125, 0.7375) and pd.isna(calm2["cat_math"])
    assert pd.isna(calm2["single_mean"]) and calm2["cost_usd"] == 1.23 and calm2["date"] == "2026-11-24"
    stablelm = table.iloc[1]
    assert stablelm["headline"] == 44 / 78 and stablelm["errors"] == 2 and stablelm["pairwise_errors"] == 2
    assert table[["cat_coding", "cat_generic", "cat_math"]].iloc[1].isna().all()
    youri_single = table.iloc[3]
    assert youri_single["headline_metric"] == "mean" and youri_single["headline"] == 7.25
    assert (youri_single["single_n"], youri_single["single_errors"], youri_single["rank"]) == (79, 1, 1)
    assert (youri_single["cat_generic"], youri_single["cat_coding"]) == (7.5, 7.0)
    assert pd.isna(youri_single["pairwise_n"])
    assert table.iloc[4]["cat_math"] == 5.7


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_SIGNATURE, "not a PNG"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.mark.unit
def test_plots_are_png(built: tuple[Path, list[Path]]) -> None:
    out, written = built
    plots = sorted(p.name for p in (out / "plots").iterdir())
    assert plots == [
        "jp_bench__gpt-4__pairwise__vs__openai--text-davinci-003.categories.png",
        "jp_bench__gpt-4__pairwise__vs__openai--text-davinci-003.ci.png",
        "jp_bench__gpt-4o__single.categories.png",
        "jp_bench__gpt-4o__single.ci.png",
    ]
    assert written[:3] == [out / "LEADERBOARD.md", out / "leaderboard.csv", out / "leaderboard.html"]
    assert sorted(p.name for p in written[3:]) == plots
    for name in plots:
        data = (out / "plots" / name).read_bytes()
        width, height = _png_size(data)
        assert len(data) > 5_000 and width >= 300 and height >= 150, name


@pytest.mark.integration
def test_rebuild_is_byte_identical_and_drops_stale_plots(results_dir: Path, tmp_path: Path) -> None:
    """Two builds in two processes with different hash seeds (so set and dict-of-str orders differ, as
    between two users' machines) write the same bytes."""
    import sys

    first, second = tmp_path / "first", tmp_path / "second"
    jp_bench = Path(sys.executable).parent / "jp-bench"
    for out, seed in ((first, "1"), (second, "2")):
        build = subprocess.run([str(jp_bench), "leaderboard", "--results", str(results_dir), "--out", str(out)],
                               env={**os.environ, "PYTHONHASHSEED": seed}, capture_output=True, text=True,
                               timeout=300)
        assert build.returncode == 0, build.stderr[-3000:]

    def snapshot(folder: Path) -> dict[str, bytes]:
        return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}

    assert len(snapshot(first)) == 7  # LEADERBOARD.md, the CSV, the page and four plots
    assert snapshot(first) == snapshot(second)
    # Rebuilding in place with the gpt-4o results gone removes their plots and rows.
    for path in (results_dir / "jp_bench" / "gpt-4o").iterdir():
        path.unlink()
    build_leaderboard(results_dir, first)
    assert not any("gpt-4o" in name for name in snapshot(first))
    assert "gpt-4o" not in (first / "LEADERBOARD.md").read_text(encoding="utf-8")


@pytest.mark.unit
def test_result_with_both_kinds_is_on_both_boards(tmp_path: Path) -> None:
    both = _result("org/both", GPT4, pairwise=_pairwise(10, 5, 5, [0.5, 0.8]),
                   single={"n": 20, "mean": 8.0, "ci95": [7.5, 8.5], "stderr": 0.25, "errors": 0})
    write_result(tmp_path / "results", both)
    out = tmp_path / "site"
    build_leaderboard(tmp_path / "results", out)
    text = (out / "LEADERBOARD.md").read_text(encoding="utf-8")
    assert "| 1 | org/both | 0.625 [0.500, 0.800] | 10/5/5 | 20 | 0 |" in text
    assert "| 1 | org/both | 8.00 [7.50, 8.50] | 20 | 0 |" in text
    table = pd.read_csv(out / "leaderboard.csv")
    assert len(table) == 1 and table.iloc[0]["headline"] == 0.625 and table.iloc[0]["single_mean"] == 8.0


@pytest.mark.unit
def test_html_escapes_text(tmp_path: Path) -> None:
    write_result(tmp_path / "results", _result("x<b>y&z", GPT4, pairwise=_pairwise(1, 1, 0, [0.0, 1.0])))
    out = tmp_path / "site"
    build_leaderboard(tmp_path / "results", out)
    page = (out / "leaderboard.html").read_text(encoding="utf-8")
    assert "x<b>y" not in page and "x&lt;b&gt;y&amp;z" in page
    assert "x\\<b\\>y&z" in (out / "LEADERBOARD.md").read_text(encoding="utf-8")


@pytest.mark.unit
def test_html_is_self_contained(built: tuple[Path, list[Path]]) -> None:
    out, _ = built
    page = (out / "leaderboard.html").read_text(encoding="utf-8")
    assert page.count('src="data:image/png;base64,') == 4
    for external in ("http://", "https://", "<link", "src=\"http", "@import"):
        assert external not in page
    assert "<script src" not in page


# --------------------------------------------------------------------------------------------- browser


class _RowParser(HTMLParser):
    """The table rows of a dumped DOM: (data-id, data-index, [(cell text, data-value)])."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[str, int, list[tuple[str, str | None]]]] = []
        self.headers: dict[str, str] = {}
        self._in_body = False
        self._cell: list[str] | None = None
        self._value: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "tbody":
            self._in_body = True
        elif tag == "th" and found.get("data-column"):
            self.headers[found["data-column"] or ""] = found.get("aria-sort") or ""
        elif tag == "tr" and self._in_body:
            self.rows.append((found["data-id"] or "", int(found["data-index"] or -1), []))
        elif tag == "td" and self._in_body:
            self._cell, self._value = [], found.get("data-value")

    def handle_endtag(self, tag: str) -> None:
        if tag == "tbody":
            self._in_body = False
        elif tag == "td" and self._cell is not None:
            self.rows[-1][2].append(("".join(self._cell).strip(), self._value))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    if not CHROMIUM.is_file():
        pytest.fail(f"headless Chromium is needed for the leaderboard page test but {CHROMIUM} is missing; "
                    f"{CHROMIUM_INSTALL}")
    profile = tmp_path / "chromium-profile"
    command = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--virtual-time-budget=3000", *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, f"chromium failed ({done.returncode}): {done.stderr[-2000:]}"
    return done


def _dom_rows(tmp_path: Path, page: Path, fragment: str = "") -> _RowParser:
    done = _chromium(tmp_path, "--dump-dom", page.as_uri() + fragment)
    parser = _RowParser()
    parser.feed(done.stdout)
    assert parser.rows, f"no table rows in the dumped DOM: {done.stdout[:500]}"
    return parser


CLICK_SCRIPT = """<pre id="click-log"></pre><script>
(function () {
  var log = [];
  function click(column) {
    document.querySelector('th[data-column="' + column + '"] button').click();
    var order = Array.prototype.map.call(document.querySelectorAll("#leaderboard tbody tr"),
                                         function (row) { return row.getAttribute("data-id"); });
    log.push({hash: window.location.hash, order: order});
  }
  click("model"); click("model"); click("value");
  document.getElementById("click-log").textContent = JSON.stringify(log);
})();
</script>
"""
COLUMN = {"benchmark": 0, "judge": 1, "model": 2, "value": 4, "errors": 8}


@pytest.mark.integration
def test_html_page_in_headless_chromium(built: tuple[Path, list[Path]], results_dir: Path, tmp_path: Path) -> None:
    out, _ = built
    page = out / "leaderboard.html"
    published = {"/".join(r.key) for r in load_results(results_dir)}

    loaded = _dom_rows(tmp_path, page)
    ids = [row_id for row_id, _, _ in loaded.rows]
    assert sorted(ids) == sorted(published) and len(ids) == len(published)  # every result, once
    assert [index for _, index, _ in loaded.rows] == list(range(len(ids)))  # published order without a hash
    assert set(loaded.headers.values()) == {"none"}
    assert all(len(cells) == 10 for _, _, cells in loaded.rows)
    by_id = {row_id: (index, cells) for row_id, index, cells in loaded.rows}

    def expected(column: str, descending: bool, numeric: bool) -> list[str]:
        """The page's rule: by the column, ties (either direction) in published order."""
        def sort_key(row_id: str) -> Any:
            text, value = by_id[row_id][1][COLUMN[column]]
            return float(value or "nan") if numeric else text.lower()
        published_order = sorted(ids, key=lambda row_id: by_id[row_id][0])
        return sorted(published_order, key=sort_key, reverse=descending)  # sorted() stays stable reversed

    checks = [
        ("value", "asc", True, [f"jp_bench/gpt-4/{x}" for x in ("rinna--youri-7b-chat",
                                                            "stabilityai--japanese-stablelm", CALM2)]
         + ["jp_bench/gpt-4o/cyberagent--calm2-7b-chat", "jp_bench/gpt-4o/rinna--youri-7b-chat"]),
        ("value", "desc", True, ["jp_bench/gpt-4o/rinna--youri-7b-chat", "jp_bench/gpt-4o/cyberagent--calm2-7b-chat"]
         + [f"jp_bench/gpt-4/{x}" for x in (CALM2, "stabilityai--japanese-stablelm", "rinna--youri-7b-chat")]),
        ("errors", "desc", True, None),  # ties keep the published order
        ("model", "asc", False, None),
        ("model", "desc", False, None),
    ]
    for column, direction, numeric, literal in checks:
        parser = _dom_rows(tmp_path, page, f"#sort={column}:{direction}")
        got = [row_id for row_id, _, _ in parser.rows]
        assert sorted(got) == sorted(published), f"rows lost or duplicated after sorting by {column}"
        want = expected(column, direction == "desc", numeric)
        assert got == want, f"#sort={column}:{direction}: {got} != {want}"
        if literal is not None:
            assert got == literal
        assert parser.headers[column] == ("descending" if direction == "desc" else "ascending")
        assert [state for name, state in parser.headers.items() if name != column] == ["none"] * 9
    assert [row_id for row_id, _, _ in _dom_rows(tmp_path, page, "#sort=errors:desc").rows][:2] == [
        "jp_bench/gpt-4/stabilityai--japanese-stablelm", "jp_bench/gpt-4o/rinna--youri-7b-chat"]

    # Clicking: a copy of the page with a script that clicks headers and notes the row order and the URL hash.
    clicker = out / "clicked.html"
    clicker.write_text(page.read_text(encoding="utf-8").replace("</body>", CLICK_SCRIPT + "</body>"), encoding="utf-8")
    done = _chromium(tmp_path, "--dump-dom", clicker.as_uri())
    found = re.search(r'<pre id="click-log">(.*?)</pre>', done.stdout, re.S)
    assert found, "the click script did not run"
    log = json.loads(html.unescape(found.group(1)))
    assert [entry["hash"] for entry in log] == ["#sort=model:asc", "#sort=model:desc", "#sort=value:asc"]
    assert log[0]["order"] == expected("model", False, False)
    assert log[1]["order"] == expected("model", True, False)
    assert log[2]["order"] == expected("value", False, True)

    shot = tmp_path / "screenshot.png"
    _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,1600", "--hide-scrollbars",
              page.as_uri() + "#sort=value:desc")
    data = shot.read_bytes()
    assert _png_size(data) == (1280, 1600)
    assert len(data) > 20_000, "screenshot looks blank"


@pytest.mark.unit
def test_equal_figures_share_a_rank(tmp_path: Path) -> None:
    for model in ("b-model", "a-model"):
        write_result(tmp_path / "results", _result(model, GPT4, pairwise=_pairwise(6, 2, 2, [0.5, 0.9])))
    write_result(tmp_path / "results", _result("c-model", GPT4, pairwise=_pairwise(2, 6, 2, [0.1, 0.5])))
    build_leaderboard(tmp_path / "results", tmp_path / "site")
    table = pd.read_csv(tmp_path / "site" / "leaderboard.csv")
    assert list(zip(table["model"], table["rank"], strict=True)) == [("a-model", 1), ("b-model", 1), ("c-model", 3)]

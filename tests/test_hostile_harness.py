"""A ``judge_workspace`` that cannot hold the run is refused while lm-eval builds the tasks, before any
answer is generated (issue 20, point 4): a text file, another program's SQLite file, a path that is not
a store, a store folder that cannot be created. Found only when judging starts, inside lm-eval's
filters, each ended the run with the whole generation lost, and ``/etc/passwd`` put answers in ``/etc``.

The check runs in :func:`jp_bench.harness.judge_setup.prepare_setup`, which every judged task calls
while it is built (tests/test_lm_eval_judged.py shows that a refusal there stops lm-eval before
generation); here it is called directly, with the embedded judge (no network, no key).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from jp_bench.errors import JpBenchError
from jp_bench.harness.judge_settings import parse_settings
from jp_bench.harness.judge_setup import JudgingSetup, prepare_setup
from jp_bench.harness.session import fresh_session
from jp_bench.llm.store import Store

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _fresh(jp_home: Path) -> Iterator[None]:
    with fresh_session():  # no set-up checked by an earlier test is reused
        yield


def setup_for(workspace: Path | str) -> JudgingSetup:
    settings = parse_settings({"judge": "embedded", "judge_workspace": str(workspace)})
    assert settings is not None
    return prepare_setup(settings, "jp_bench")


def refusal(workspace: Path | str) -> str:
    with pytest.raises(JpBenchError) as caught:
        setup_for(workspace)
    message = str(caught.value)
    assert message.startswith("--metadata judge_workspace: ") and "\n" not in message
    return message


def test_a_file_that_is_not_a_store_is_refused(tmp_path: Path) -> None:
    passwd = tmp_path / "etc" / "passwd"
    passwd.parent.mkdir()
    passwd.write_text("root:x:0:0:root:/root:/bin/bash\n", encoding="utf-8")
    message = refusal(passwd)
    assert f"{passwd} is neither a folder nor a .sqlite" in message
    # Nothing was written beside it (before: answers/ and judgments/ went into its folder).
    assert sorted(p.name for p in passwd.parent.iterdir()) == ["passwd"]
    assert passwd.read_text(encoding="utf-8").startswith("root:x:0:0")


def test_a_text_file_named_like_a_store_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / "notes.sqlite"
    fake.write_text("これはデータベースではない\n" * 200, encoding="utf-8")
    message = refusal(fake)
    assert str(fake) in message  # the store's own line for a file that is not a store, before generation
    assert fake.read_text(encoding="utf-8").startswith("これは")


def test_another_programs_sqlite_file_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE calls (id INTEGER PRIMARY KEY, body TEXT)")
        db.execute("INSERT INTO calls (body) VALUES ('kept')")
    message = refusal(other)
    assert str(other) in message
    with sqlite3.connect(other) as db:
        assert db.execute("SELECT body FROM calls").fetchall() == [("kept",)]


def test_a_workspace_that_cannot_be_created_is_refused(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the workspace folder would go\n", encoding="utf-8")
    message = refusal(blocker / "ws")
    assert f"{blocker}" in message and "cannot write there" in message


def test_good_workspaces_are_accepted_and_answers_go_in_their_folder(tmp_path: Path) -> None:
    folder = setup_for(tmp_path / "ws")
    assert folder.store == tmp_path / "ws" / "store.sqlite" and folder.store.is_file()
    named = setup_for(tmp_path / "mine" / "run.sqlite")
    assert named.store == tmp_path / "mine" / "run.sqlite"
    # An existing store without a suffix (`jp-bench judge --workspace NAME` makes such files) is a store too.
    with Store(tmp_path / "plain-store"):
        pass
    assert setup_for(tmp_path / "plain-store").store == tmp_path / "plain-store"

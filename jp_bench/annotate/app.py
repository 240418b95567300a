"""``run_annotation``: load answers and questions, build the tasks and serve them until Ctrl-C."""

from __future__ import annotations

import webbrowser
from collections.abc import Callable, Sequence
from pathlib import Path

from jp_bench.annotate.server import serve
from jp_bench.annotate.tasks import build_tasks
from jp_bench.annotate.votes import conversation_notice
from jp_bench.paths import default_store_path


def run_annotation(answer_sources: Sequence[str], benchmark: str | None, store_path: str | Path | None = None,
                   port: int = 0, open_browser: bool = False, *, host: str = "127.0.0.1", seed: int = 0,
                   echo: Callable[[str], None] = print) -> int:
    """Serve pairwise human annotation of the answers in ``answer_sources`` until Ctrl-C.

    ``answer_sources`` are read like ``jp-bench judge``'s (``NAME=PATH`` or a path; FastChat answer
    files or lm-eval output); ``benchmark`` names the benchmark or question file (None: the questions
    embedded in lm-eval samples, else ``jp_bench``). Votes go to ``store_path`` (default: the default
    workspace store). Prints the URL, and how many votes an earlier jp-bench cast on whole multi-turn
    conversations (kept, not counted per turn); returns the number of votes in the store when stopped.
    """
    from jp_bench.judging.service import load_answers, resolve_questions

    answers, embedded = load_answers(answer_sources)
    questions = resolve_questions(benchmark, embedded)
    tasks = build_tasks(answers, questions, seed)
    store = Path(store_path) if store_path is not None else default_store_path()
    server = serve(tasks, store, host=host, port=port, seed=seed)
    try:
        models = len({model for task in tasks for model in task.models})
        per_turn = ", one task per turn of a multi-turn question" if any(task.multi_turn for task in tasks) else ""
        echo(f"{len(tasks)} tasks ({models} models, {len({task.question_id for task in tasks})} questions{per_turn}); "
             f"votes go to {store}")
        echo(f"annotation server: {server.url}  (Ctrl-C to stop)")
        echo(f"votes so far, for you only: {server.export_url}")
        old = server.app.store.scoped().conversation
        if old:  # said once, here: the page itself never shows those votes
            echo(conversation_notice(old))
        if open_browser:
            webbrowser.open(server.url)
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        count = server.app.store.count()
        server.shutdown()
    echo(f"stopped; {count} vote(s) in {store}")
    return count

"""Human pairwise annotation: people vote on two anonymised answers, for judge–human agreement.

* :func:`build_tasks`: every question × unordered pair of models that both answered it (a multi-turn
  question: one task per turn, the earlier turns shown as context), each with a stable id (a hash of
  the question id, the two sorted model ids and, for a multi-turn question, the turn), in an order
  shuffled by a seed;
* :func:`serve`: a small local web server (stdlib ``http.server``, 127.0.0.1 only) that shows each
  annotator the tasks they have not voted on, with the answers as 回答A / 回答B in an order fixed per
  annotator and task, and stores each vote at once in the ``votes`` table of the workspace SQLite file;
* :func:`export_votes`: the votes as JSONL in the layout :func:`jp_bench.votes.read_human_votes`
  reads (``model_a``/``model_b`` as shown, ``winner`` relative to them), a vote an earlier jp-bench
  cast on a whole multi-turn conversation marked ``"scope": "conversation"`` (:func:`vote_scope`);
* :func:`run_annotation`: all of the above from answer files, until Ctrl-C.

Modules: :mod:`~jp_bench.annotate.tasks`, :mod:`~jp_bench.annotate.votes`, :mod:`~jp_bench.annotate.pages`
(jinja2 templates in ``templates/``), :mod:`~jp_bench.annotate.server` and :mod:`~jp_bench.annotate.app`.
"""

from jp_bench.annotate.app import default_store_path, run_annotation
from jp_bench.annotate.server import AnnotationServer, serve
from jp_bench.annotate.tasks import AnnotationTask, build_tasks, shown_order, task_id_for
from jp_bench.annotate.votes import HumanVote, ScopedVotes, VoteStore, export_votes, vote_scope

__all__ = [
    "AnnotationServer",
    "AnnotationTask",
    "HumanVote",
    "ScopedVotes",
    "VoteStore",
    "build_tasks",
    "default_store_path",
    "export_votes",
    "run_annotation",
    "serve",
    "shown_order",
    "task_id_for",
    "vote_scope",
]

"""Which judge? Candidate judges scored against a reference on the same items: ``jp-bench judges compare``.

Teams choose between API and local judges, and the choice moves results by more than the gaps they
measure. This package answers "which judge agrees best with our reference, at what cost, with which
biases?" for Japanese benchmarks, from pieces jp-bench already has (votes and agreement, judge
diagnostics, judge noise, the workspace store's costs).

Modules, one job each:

- :mod:`~jp_bench.judge_board.references`: the reference of any kind (human votes, human ratings,
  a reference judge's judgments) in the common form of :mod:`~jp_bench.judge_board.verdicts`;
  :mod:`~jp_bench.judge_board.human_ratings` reads llm-jp's llm-human-eval-jp layout;
- :mod:`~jp_bench.judge_board.candidates`: the candidate judges of judgment files;
  :mod:`~jp_bench.judge_board.judge_runs` runs ``--judge`` candidates on the reference's items first;
- :mod:`~jp_bench.judge_board.metrics` (pure figures with question-bootstrap intervals) and
  :mod:`~jp_bench.judge_board.evaluate` (one candidate's row); :mod:`~jp_bench.judge_board.costs`
  (cost and time per 1,000 judgments from the store);
- :mod:`~jp_bench.judge_board.compare`: :func:`compare_judges`, the library call;
  :mod:`~jp_bench.judge_board.render` (terminal table, JSON) and :mod:`~jp_bench.judge_board.page`
  (``JUDGES.md``, ``judges.csv``, ``judges.html``, the agreement-against-cost plot).
"""

from jp_bench.judge_board.compare import JudgesBoard, compare_judges

__all__ = ["JudgesBoard", "compare_judges"]

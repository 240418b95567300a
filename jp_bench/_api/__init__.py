"""The library surface behind ``jp_bench.judge``, ``jp_bench.report``, ``jp_bench.agreement`` and
``jp_bench.leaderboard`` (the CLI's commands call the same functions). Reach them through ``jp_bench``."""

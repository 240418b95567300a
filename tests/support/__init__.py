"""What tests (and the bench scripts) share: local stand-ins for the vendors' APIs (``judge_stub``,
``batch_stub``, ``anthropic_stub``), tiny models, file writers and readers, the CLI runner, float checks.

Imported as ``tests.support.<module>``: pytest puts the repository root on ``sys.path`` because ``tests/``
is a package; a bench script run as ``python bench/X.py`` puts it there itself.
"""

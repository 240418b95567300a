"""The ``jp-bench`` command line: parsing and printing only; the work is done by the library.

:func:`main` (``argv`` in, exit status out) is the in-process entry; ``jp_bench.console:run`` is the
installed script. One module per command; :mod:`jp_bench.cli.main` assembles them and handles errors
and Ctrl-C once.
"""

from jp_bench.cli.main import build_parser, main

__all__ = ["build_parser", "main"]

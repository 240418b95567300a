"""The `jp-bench` command's entry point: :func:`jp_bench.cli.main`, then an exit without the teardown.

At exit the interpreter frees every module, pydantic model and SDK object one by one; after a
`jp-bench judge` run that took about 0.3 s of wall time after the work was done (bench/judge_throughput.py),
time the operating system spends anyway in an instant. :func:`_leave` is registered before anything
else is imported, so it is the last exit handler to run (they run last in, first out): after every
library's own handlers (logging's flush, weakref finalizers, temporary-directory cleanup), after the
interpreter has waited for non-daemon threads. It flushes stdout and stderr and ends the process
with the command's exit status. The store needs nothing more: every call is committed when it
finishes, and SQLite's write-ahead log is replayed by the next open, as after a kill.

``lm-eval`` keeps the ordinary exit: it runs other people's code (models, datasets, trackers) that
may rely on the interpreter's teardown, and it runs for minutes, not fractions of a second.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys

_status = 1  # an exception that escapes main() ends the process with 1, as Python's own exit does


def _leave() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe (`jp-bench report | head`)
            stream.flush()
    os._exit(_status)


def run() -> None:
    """Run the command line in ``sys.argv`` and exit with its status."""
    global _status
    quick = sys.argv[1:2] != ["lm-eval"]
    if quick:
        atexit.register(_leave)
    from jp_bench.cli import main

    try:
        code: object = main()
    except SystemExit as exit_:  # argparse's --help (0) and usage errors (2)
        code = exit_.code
    except KeyboardInterrupt:  # before main() could catch it (during imports): Python's own status
        code = 130
    except BrokenPipeError:  # `jp-bench report | head`: the reader has gone; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 141  # what a shell reports for a writer stopped by SIGPIPE
    _status = 0 if code is None else code if isinstance(code, int) else 1
    sys.exit(code)

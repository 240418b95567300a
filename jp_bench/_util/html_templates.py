"""The one way a self-contained HTML page's Jinja template is loaded from a package's ``templates/`` folder:
autoescaped, every variable required (a missing one is an error, never an empty cell), files' trailing
newline kept so a page's bytes are stable."""

from __future__ import annotations

from importlib import resources
from typing import Any

from jp_bench.errors import JpBenchError


def package_template(package: str, name: str, what: str) -> Any:
    """``package``'s ``templates/<name>`` as a ``jinja2.Template``; ``what`` names the page in the error
    a missing jinja2 gives (``the leaderboard page needs jinja2: ...``)."""
    try:
        import jinja2
    except ImportError:
        raise JpBenchError(f"{what} needs jinja2: pip install jinja2") from None
    source = resources.files(package).joinpath("templates", name).read_text(encoding="utf-8")
    environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    return environment.from_string(source)

"""Values given as keyword arguments, checked by the rules the command line checks them with."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from jp_bench.errors import JpBenchError


def check_setting(option: str, rule_name: str, parse: Callable[[str], Any], value: Any) -> Any:
    """``value`` checked by its rule in :mod:`jp_bench.llm.limits`; None passes. A bad value is a
    :class:`JpBenchError` naming the CLI option it stands for (``--concurrency: expected ...``)."""
    if value is None:
        return None
    from jp_bench.llm import limits

    if (parse is int and isinstance(value, bool)) or (parse is not str and isinstance(value, str)):
        raise JpBenchError(f"{option}: expected {'an integer' if parse is int else 'a number'}, got {value!r}")
    try:
        return limits.parse_setting(getattr(limits, rule_name), parse, str(value))
    except ValueError as exc:
        raise JpBenchError(f"{option}: {exc}") from None


def check_positive_int(option: str, value: Any) -> Any:
    """A count that must be 1 or more (``--turn``, ``--batch-size``); None passes."""
    return check_setting(option, "Concurrency", int, value)  # the rule for "an integer, at least 1"


def as_list(values: str | Path | Iterable[str | Path] | None) -> list[str]:
    """One path or several, as the strings the readers take (``NAME=PATH`` stays as it is)."""
    if values is None:
        return []
    if isinstance(values, (str, Path)):
        return [str(values)]
    return [str(value) for value in values]

"""Comparing figures: floats within a relative tolerance, everything else exactly."""

from __future__ import annotations

import math

import numpy as np


def _is_number(value: object) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool | np.bool_)


def assert_close(actual: object, expected: object, rel: float = 1e-9, abs_tol: float = 1e-12,
                 where: str = "value") -> None:
    """Assert that ``actual`` is ``expected``, walking dicts, lists, tuples and arrays: floats within
    ``rel`` relative (or ``abs_tol`` absolute, for figures that should be 0), NaN equal to NaN,
    everything else (ints, bools, strings, None, keys, lengths) exactly.

    A float computed through numpy/scipy/BLAS can differ in its last bits between CPUs (another SIMD
    width, another BLAS kernel), so no figure of a statistic is compared to the last digit; what must be
    identical (counts, labels, the resampled draws) is compared exactly. ``where`` names the place of a
    difference in the message, e.g. ``value["models"][0]["stderr"]``.
    """
    if isinstance(actual, np.ndarray) or isinstance(expected, np.ndarray):
        actual, expected = np.asarray(actual).tolist(), np.asarray(expected).tolist()
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: expected a dict, got {actual!r}"
        assert actual.keys() == expected.keys(), (f"{where}: keys {sorted(map(str, actual))} "
                                                  f"!= {sorted(map(str, expected))}")
        for key, value in expected.items():
            assert_close(actual[key], value, rel, abs_tol, f"{where}[{key!r}]")
    elif isinstance(expected, list | tuple):
        assert isinstance(actual, list | tuple), f"{where}: expected a sequence, got {actual!r}"
        assert len(actual) == len(expected), f"{where}: length {len(actual)} != {len(expected)}: {actual!r}"
        for index, (mine, theirs) in enumerate(zip(actual, expected, strict=True)):
            assert_close(mine, theirs, rel, abs_tol, f"{where}[{index}]")
    elif _is_number(expected) and _is_number(actual) and (isinstance(expected, float | np.floating)
                                                          or isinstance(actual, float | np.floating)):
        mine, theirs = float(actual), float(expected)
        assert (math.isnan(mine) and math.isnan(theirs)) or math.isclose(mine, theirs, rel_tol=rel,
                                                                         abs_tol=abs_tol), \
            f"{where}: {mine!r} != {theirs!r} within {rel:g} relative"
    else:
        assert type(actual) is type(expected) or (_is_number(actual) and _is_number(expected)), \
            f"{where}: {type(actual).__name__} {actual!r} != {type(expected).__name__} {expected!r}"
        assert actual == expected, f"{where}: {actual!r} != {expected!r}"

"""How a model or judge name becomes part of a file or folder name: one rule everywhere.

Hub ids (``org/name``) would otherwise become sub-folders; the paper's files spell them ``org--name``.
"""

from __future__ import annotations


def safe_name(name: str) -> str:
    """``/`` becomes ``--`` (``org/model`` -> ``org--model``)."""
    return name.replace("/", "--")

"""Read YAML settings files, and point a pydantic error at the YAML line it comes from.

pydantic reports where a problem is as a path of keys and indexes (``bases.0.model``); a person
editing the file wants ``file.yaml:12``. We walk the composed YAML node tree along that path and
return the line of the deepest node found (a missing key is reported at its parent mapping).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from jp_bench.errors import InputFileError, read_input_text


def read_yaml_mapping(path: Path, what: str) -> tuple[str, dict[str, Any]]:
    """The text and the mapping of a YAML (or JSON) file; one ``file:line`` error when it is not one.

    ``what`` completes "expected a mapping of ..." in the error.
    """
    text = read_input_text(path)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InputFileError(path, None if mark is None else mark.line + 1, f"not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise InputFileError(path, None, f"expected a mapping of {what}")
    return text, data


def line_of(text: str, location: Sequence[str | int]) -> int | None:
    """1-based line of the node at ``location`` in the YAML ``text`` (None when the text is empty)."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None
    if node is None:
        return None
    line = node.start_mark.line + 1
    for part in location:
        child = None
        if isinstance(node, yaml.MappingNode):
            child = next((value for key, value in node.value if str(key.value) == str(part)), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            child = node.value[part]
        if child is None:
            break
        node = child
        line = node.start_mark.line + 1
    return line

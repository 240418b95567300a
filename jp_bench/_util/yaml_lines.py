"""Read YAML settings files strictly, and point a pydantic error at the YAML line it comes from.

pydantic reports where a problem is as a path of keys and indexes (``bases.0.model``); a person
editing the file wants ``file.yaml:12``. We walk the composed YAML node tree along that path and
return the line of the deepest node found (a missing key is reported at its parent mapping).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from jp_bench.errors import InputFileError, read_input_text


class _Refused(Exception):
    """Something the strict reader refuses, at a line: reported as ``file:line: message``."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


class _DuplicateKey(_Refused):
    def __init__(self, key: object, line: int, first: int) -> None:
        super().__init__(f"key {key!r} appears twice (first on line {first})", line)


class _StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader, except that a key given twice in one mapping is an error, not "last wins",
    a key must be a plain value, and aliases (``*name``) are refused: no settings file needs them, and
    they are how a small file expands into a huge or endless value (``&a [*a]``, "billion laughs")."""

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise _Refused(f"alias *{event.anchor}: settings files take no anchors or aliases; write the value "
                           "out", event.start_mark.line + 1)
        return super().compose_node(parent, index)


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    loader.flatten_mapping(node)
    seen: dict[object, int] = {}
    for key_node, _ in node.value:
        line = key_node.start_mark.line + 1
        if not isinstance(key_node, yaml.ScalarNode):  # `? [a, b]`, or an unquoted `{{ answers }}` as a key
            raise _Refused("expected a plain key (text or a number), got a "
                           f"{'list' if isinstance(key_node, yaml.SequenceNode) else 'mapping'}; "
                           "quote it if it is text (a \"{{ ... }}\" placeholder needs quotes)", line)
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise _DuplicateKey(key, line, seen[key])
        seen[key] = line
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_yaml_text(path: Path, text: str) -> Any:
    """Parse settings YAML strictly: one ``file:line`` error for a syntax error (one line, not PyYAML's
    six), a duplicate key, or a number that is not finite (``.inf``, ``.nan``)."""
    try:
        data = yaml.load(text, Loader=_StrictLoader)
    except _Refused as exc:
        raise InputFileError(path, exc.line, str(exc)) from None
    except RecursionError:  # thousands of nested brackets: PyYAML recurses once per level
        raise InputFileError(path, None, "not valid YAML: nested too deeply") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        context = getattr(exc, "context", None)
        detail = f"{problem} ({context})" if context else problem
        raise InputFileError(path, None if mark is None else mark.line + 1, f"not valid YAML: {detail}") from None
    bad = _first_non_finite(data, [])
    if bad is not None:
        location, value = bad
        raise InputFileError(path, line_of(text, location),
                             f"field '{'.'.join(map(str, location))}': {value} is not a finite number")
    return data


def _first_non_finite(value: Any, location: list[str | int]) -> tuple[list[str | int], float] | None:
    if isinstance(value, float) and not math.isfinite(value):
        return location, value
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        found = _first_non_finite(item, [*location, key])
        if found is not None:
            return found
    return None


def read_yaml_mapping(path: Path, what: str) -> tuple[str, dict[str, Any]]:
    """The text and the mapping of a YAML (or JSON) file; one ``file:line`` error when it is not one.

    ``what`` completes "expected a mapping of ..." in the error.
    """
    text = read_input_text(path)
    data = load_yaml_text(path, text)
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

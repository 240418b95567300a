"""Point a pydantic error at the YAML line it comes from.

pydantic reports where a problem is as a path of keys and indexes (``bases.0.model``); a person
editing the file wants ``file.yaml:12``. We walk the composed YAML node tree along that path and
return the line of the deepest node found (a missing key is reported at its parent mapping).
"""

from __future__ import annotations

from collections.abc import Sequence

import yaml


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

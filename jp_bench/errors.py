"""Errors that are meant for the person at the keyboard.

Anything raised as :class:`JpBenchError` is printed by the CLI as one line (no traceback) and ends
the command with a non-zero exit code. Messages name the file, the line and what was expected.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import ValidationError


class JpBenchError(Exception):
    """A problem with the user's input or environment, explained in one line."""


class InputFileError(JpBenchError):
    """A malformed input file: ``file:line: what is wrong``."""

    def __init__(self, path: str | Path, line: int | None, message: str) -> None:
        self.path = str(path)
        self.line = line
        self.message = message
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")


def read_input_text(path: str | Path) -> str:
    """The text of a file the user gave us (a UTF-8 BOM is dropped); missing or not UTF-8 is one error."""
    source = Path(path)
    try:
        return source.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputFileError(source, None, "file not found") from None
    except UnicodeDecodeError:
        raise InputFileError(source, None, "not UTF-8 text") from None


class ChecksumError(JpBenchError):
    """A downloaded or imported file does not match the pinned sha256."""


def describe_validation_error(error: ValidationError) -> str:
    """``field 'turns.0': message`` for the first problem pydantic found (the one a person fixes first)."""
    first = error.errors()[0]
    location = ".".join(str(part) for part in first["loc"])
    message = first["msg"].removeprefix("Value error, ")  # pydantic's prefix for our own validators
    return f"field '{location}': {message}" if location else message

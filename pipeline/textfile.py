"""Reading a text file a user gave earmark (``earmark.toml``, a rubric).

A file that cannot be read is the caller's coded error naming the file and the reason,
never a bare ``OSError``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml

from pipeline.errors import EarmarkError, ErrorCode

E = TypeVar("E", bound=EarmarkError)


def read_text(path: Path, *, what: str, error: ErrorCode[E]) -> str:
    """The UTF-8 text of ``path``.

    Parameters
    ----------
    path
        The file.
    what
        What the file is, for the message: ``"config"``, ``"rubric"``.
    error
        The table entry to raise; its template takes ``path`` and ``problem``.

    Raises
    ------
    EarmarkError
        ``error`` with ``problem="cannot read {what} ({reason})"`` when the file cannot be
        read (missing, a folder, no permission), or is not UTF-8 text.

    Examples
    --------
    >>> from pipeline import errors
    >>> read_text(Path("/nonexistent.toml"), what="config", error=errors.CONFIG_UNREADABLE)
    Traceback (most recent call last):
    ...
    pipeline.errors.ConfigError: [C001] /nonexistent.toml: cannot read config (No such file or directory)
    """
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise error(path=path, problem=f"cannot read {what} ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        problem = f"cannot read {what} (not UTF-8 text: byte {exc.start} is 0x{exc.object[exc.start]:02x})"
        raise error(path=path, problem=problem) from None


_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's parser when PyYAML was built with it (its wheels are): a shipped rubric
parses in milliseconds instead of a second, which every command without ASR paid."""


def load_yaml(text: str) -> Any:
    """``yaml.safe_load`` through the fastest safe loader there is (same results, same
    ``yaml.YAMLError`` with the line of the problem).

    Examples
    --------
    >>> load_yaml("a: &x [1, 2]\\nb: *x")
    {'a': [1, 2], 'b': [1, 2]}
    """
    return yaml.load(text, Loader=_YAML_LOADER)

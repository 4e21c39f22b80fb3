"""Reading a text file a user gave earmark (``earmark.toml``, a rubric), and checking a
file a command is asked to write (``--out``, ``--csv``).

A file that cannot be read or written is a coded error naming the file and the reason,
never a bare ``OSError``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, TypeVar

import yaml

from pipeline import errors
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


class YamlSyntaxError(yaml.YAMLError):
    """Text that is not YAML, said in one line: ``line 5, column 15: <what>``.

    PyYAML's own message spans lines and names the text ``"<unicode string>"``; the
    caller, which knows the file, puts its path in front of this one.
    """


def load_yaml(text: str) -> Any:
    """``yaml.safe_load`` through the fastest safe loader there is (same results).

    Raises
    ------
    YamlSyntaxError
        A ``yaml.YAMLError`` whose message is the line and column of the problem and
        PyYAML's words for it, on one line.

    Examples
    --------
    >>> load_yaml("a: &x [1, 2]\\nb: *x")
    {'a': [1, 2], 'b': [1, 2]}
    >>> load_yaml("a: 1\\nb: c: 2")
    Traceback (most recent call last):
    ...
    pipeline.textfile.YamlSyntaxError: line 2, column 5: mapping values are not allowed in this context
    """
    try:
        return yaml.load(text, Loader=_YAML_LOADER)
    except yaml.MarkedYAMLError as exc:
        raise YamlSyntaxError(yaml_problem(exc)) from None
    except yaml.reader.ReaderError as exc:  # a control character, a bad encoding
        raise YamlSyntaxError(f"character {exc.position + 1}: {exc.reason}") from None


def yaml_problem(exc: yaml.MarkedYAMLError) -> str:
    """PyYAML's error as one line: where (line, column, from 1), what, and the context."""

    def at(mark: Any) -> str:
        return f"line {mark.line + 1}, column {mark.column + 1}"

    where = f"{at(exc.problem_mark)}: " if exc.problem_mark is not None else ""
    what = exc.problem or exc.context or "not valid YAML"
    context = ""
    if exc.problem and exc.context:
        started = f" at {at(exc.context_mark)}" if exc.context_mark is not None else ""
        context = f" ({exc.context}{started})"
    return f"{where}{what}{context}"


def check_output_file(path: str | Path, *, option: str) -> Path:
    """``path`` as a file a command can write, checked before any work is done.

    One check for every option that writes a file (``--out``, ``--csv``): its folder
    exists and is writable, and ``path`` is not itself a folder.

    Parameters
    ----------
    path
        The file the user asked for.
    option
        The option that named it, for the message: ``"--csv"``.

    Raises
    ------
    ConfigError
        ``C062`` naming the option, the file and the problem.

    Examples
    --------
    >>> check_output_file("/nonexistent/q.csv", option="--csv")
    Traceback (most recent call last):
    ...
    pipeline.errors.ConfigError: [C062] --csv /nonexistent/q.csv: folder /nonexistent does not exist
    """
    out = Path(path)
    folder = out.parent
    if out.is_dir():
        problem = "is a folder; give a file name in it"
    elif not folder.is_dir():
        problem = f"folder {folder} does not exist"
    elif not os.access(folder, os.W_OK | os.X_OK) or (out.exists() and not os.access(out, os.W_OK)):
        problem = "not writable by this user"
    else:
        return out
    raise errors.OUTPUT_UNWRITABLE(option=option, path=path, problem=problem)


def output_error(path: str | Path, exc: OSError, *, option: str) -> EarmarkError:
    """``C062`` for a write to ``path`` that failed after :func:`check_output_file` passed
    (the folder went away, the disk filled), naming the option, the file and the reason."""
    return errors.OUTPUT_UNWRITABLE(
        option=option, path=path, problem=f"cannot write ({exc.strerror or exc})"
    )

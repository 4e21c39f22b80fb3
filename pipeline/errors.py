"""One exception tree. Every error carries a stable code and the offending value.

Codes are searchable like spaCy's ``[E###]``: ``A###`` audio, ``R###`` rubric,
``C###`` configuration, ``M###`` models, ``W###`` warehouse, ``I###`` input archive, ``Q###`` queues.
"""

from __future__ import annotations


class EarmarkError(Exception):
    """Base of every error earmark raises on purpose."""

    code = "E000"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        if code is not None:
            self.code = code
        self.message = message
        super().__init__(f"[{self.code}] {message}")


class AudioError(EarmarkError):
    """A recording could not be decoded or holds no usable speech: it is quarantined."""

    code = "A000"


class RubricError(EarmarkError):
    """A rubric file is invalid; the message names the file, item, field and value."""

    code = "R000"


class ConfigError(EarmarkError):
    """``earmark.toml`` or a command-line option is invalid."""

    code = "C000"


class ModelError(EarmarkError):
    """A model could not be found, assembled, verified or loaded."""

    code = "M000"


class WarehouseError(EarmarkError):
    """The warehouse cannot be read or written (or another night holds its lock)."""

    code = "W000"


class InputError(EarmarkError):
    """The recording archive or its ``metadata.csv`` is unusable."""

    code = "I000"


class QueueError(EarmarkError):
    """The inspector configuration cannot produce a valid queue (e.g. too many agents)."""

    code = "Q000"


class EarmarkWarning(UserWarning):
    """Warnings earmark emits on purpose (the test suite turns them into errors)."""

"""The seams between the core and the models: what ``pipeline`` needs, not how it is done."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from pipeline.types import ChannelTranscript

if TYPE_CHECKING:
    from pipeline.analysis import CallAnalysis


@runtime_checkable
class Transcriber(Protocol):
    """Speech to text for one channel (implemented in ``models/asr.py``)."""

    @property
    def model_id(self) -> str:
        """Names the model and every option that changes its output (the cache key)."""
        ...

    def detect_language(
        self, samples: npt.NDArray[np.float32], *, candidates: Sequence[str]
    ) -> tuple[str, float]:
        """The most likely language among ``candidates`` and its probability."""
        ...

    def transcribe(self, samples: npt.NDArray[np.float32], *, language: str) -> ChannelTranscript:
        """Transcribe 16 kHz mono samples in ``language``."""
        ...

    def transcribe_tracks(
        self, tracks: Sequence[npt.NDArray[np.float32]], *, language: str
    ) -> list[ChannelTranscript]:
        """Transcribe each party's track of one call (in one pass where the model can)."""
        ...

    def transcribe_heard(
        self, heard: HeardSpeech, *, language: str, encoded: Sequence[Any] = ()
    ) -> list[ChannelTranscript]:
        """Transcribe each track of a call whose speech was already found
        (:meth:`LanguageIdentifier.hear`); ``encoded`` are the windows language
        identification encoded, decoded as they are when this model encoded them."""
        ...


class HeardSpeech(Protocol):
    """A call's tracks with the speech found in each (opaque to the core)."""

    @property
    def tracks(self) -> Sequence[npt.NDArray[np.float32]]: ...


@runtime_checkable
class LanguageIdentifier(Protocol):
    """Which language a stretch of speech is in (Whisper's detection in ``models/asr.py``)."""

    @property
    def model_id(self) -> str:
        """Names the model (recorded as the ASR model of a call it found unserved)."""
        ...

    def language_probabilities(
        self, samples: npt.NDArray[np.float32], *, segments: int
    ) -> list[tuple[str, float]]:
        """Every language the model knows with its probability, judged on up to ``segments``
        windows of the speech in 16 kHz mono ``samples``."""
        ...

    def hear(self, tracks: Sequence[npt.NDArray[np.float32]]) -> HeardSpeech:
        """Each track's speech, found once: language identification and transcription both
        start from it."""
        ...

    def call_language(
        self, heard: HeardSpeech, *, probe: int, segments: int
    ) -> tuple[list[tuple[str, float]], Sequence[Any]]:
        """:meth:`language_probabilities` of the ``probe`` track, and the windows it encoded
        on the way (for :meth:`Transcriber.transcribe_heard` not to encode them again)."""
        ...


class AnalysisCache(Protocol):
    """Where the journey keeps the heard analysis of a recording, by content address
    (:func:`pipeline.analysis.transcript_key`)."""

    def load(self, key: str) -> CallAnalysis | None:
        """The cached analysis, or ``None`` (none yet, or a damaged entry to replace)."""
        ...

    def store(self, key: str, analysis: CallAnalysis) -> None:
        """Keep ``analysis`` for the next run."""
        ...


class Tokens(Protocol):
    """A tokenised text: the lower-cased forms and the character span of each token."""

    def __len__(self) -> int: ...

    @property
    def lower(self) -> Sequence[str]: ...

    @property
    def lemma(self) -> Sequence[str]: ...

    def char_span(self, start: int, end: int) -> tuple[int, int]:
        """Character offsets of tokens ``start:end`` in the normalised text."""
        ...


class PhraseFinder(Protocol):
    """Finds any of a fixed list of phrases in tokenised text."""

    def find(self, tokens: Tokens) -> list[tuple[int, int, int]]:
        """``(start_token, end_token, phrase_index)`` for every match."""
        ...


class TextAnalyzer(Protocol):
    """A language's tokenizer and phrase matcher (spaCy in ``models/nlp.py``)."""

    language: str
    has_lemmas: bool
    """Whether tokens get lemmas (English, Russian); without them (Chinese) a match on
    lemmas is a match as written, which a rubric must not ask for."""

    def normalize(self, text: str) -> str:
        """The form every rubric matches against (NFKC, case, script, punctuation)."""
        ...

    def tokenize(self, text: str) -> Tokens:
        """Tokenise already normalised text."""
        ...

    def tokenize_many(self, texts: Sequence[str]) -> list[Tokens]:
        """Tokenise many normalised texts at once (faster than one by one)."""
        ...

    def phrase_finder(self, phrases: Sequence[str], *, lemma: bool = False) -> PhraseFinder:
        """A finder for ``phrases``, normalised and tokenised like the text; on lemmas if asked."""
        ...

    def pattern_finder(self, patterns: Sequence[Sequence[dict[str, Any]]]) -> PhraseFinder:
        """A finder for token patterns (spaCy Matcher syntax)."""
        ...


Arrays = dict[str, npt.NDArray[Any]]
"""Named arrays, as an ``.npz`` file holds them."""
MakeArrays = Callable[[], Arrays]
CheckArrays = Callable[[Arrays], bool]


@runtime_checkable
class Embedder(Protocol):
    """Text to meaning: a multilingual sentence-embedding model (``models/embed.py``).

    Vectors are unit length, so a dot product is the cosine similarity; texts in
    different languages that mean the same land near each other.
    """

    @property
    def model_id(self) -> str:
        """Names the model and its version (stored beside the vectors)."""
        ...

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """One unit-length row per text, shape ``(len(texts), dim)``."""
        ...

    def embed_examples(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """:meth:`embed` for a rubric's own lines, the same every run (an implementation
        may keep them, so a command scoring stored vectors needs no model)."""
        ...

    def kept_arrays(self, key: str, make: MakeArrays, *, check: CheckArrays) -> Arrays:
        """What ``make()`` returns: arrays derived from this model's vectors of a rubric's
        lines (a ``meaning.v1`` item's trained head), the same every run. An implementation
        may keep them under ``key``, which names everything they depend on; a kept entry
        that does not read back whole, under that very key, and pass ``check`` is made
        again, never trusted."""
        ...


@runtime_checkable
class VoiceEncoder(Protocol):
    """Windows of speech to speaker vectors: a voice model for diarization (Resemblyzer in
    ``models/diarize.py``; without one, :mod:`pipeline.diarization` uses librosa features)."""

    @property
    def name(self) -> str:
        """Names the encoder (reported with the diarization)."""
        ...

    def embed(
        self, samples: npt.NDArray[np.float32], windows: Sequence[tuple[float, float]]
    ) -> npt.NDArray[np.float64]:
        """One vector per ``(start_s, end_s)`` window of 16 kHz mono ``samples``."""
        ...

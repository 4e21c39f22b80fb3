"""Is a call in a language the center serves? Decided on Whisper's language probabilities.

The ASR adapter detects the language over all of Whisper's languages, on several windows
of the call's speech (:meth:`models.asr.WhisperTranscriber.language_probabilities`); this
module turns those probabilities into a decision, with no model in sight.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LanguageVerdict:
    """What language a call is transcribed in, or that it is not served."""

    language: str
    """The served language to transcribe in; for an unsupported call, the detected one."""
    probability: float
    """Whisper's probability of the detected language (of ``detected``)."""
    supported: bool
    detected: str
    """Whisper's likeliest language over all of its languages."""


def resolve_language(
    probabilities: Sequence[tuple[str, float]],
    *,
    served: Sequence[str],
    fallback: Mapping[str, str] | None = None,
    min_probability: float = 0.5,
) -> LanguageVerdict:
    """Decide a call's language from Whisper's ``(language, probability)`` pairs.

    The likeliest language wins when it is served, or routed to a served one by
    ``fallback``. Otherwise the call is unsupported when that language is at least
    ``min_probability`` likely; when Whisper is less sure (noisy telephone audio), the call
    is transcribed in the likeliest served language instead.

    Parameters
    ----------
    probabilities
        Every language Whisper knows with its probability (any order).
    served
        The center's languages (``languages`` in the config), at least one.
    fallback
        Languages routed to a served one: ``{"uk": "ru"}``.
    min_probability
        How sure the detection must be before a call is marked unsupported.

    Returns
    -------
    LanguageVerdict

    Examples
    --------
    >>> resolve_language([("pl", 0.93), ("ru", 0.05)], served=["en", "ru"]).supported
    False
    >>> resolve_language([("uk", 0.7), ("ru", 0.2)], served=["ru"], fallback={"uk": "ru"}).language
    'ru'
    >>> resolve_language([("pl", 0.35), ("ru", 0.3)], served=["en", "ru"]).language
    'ru'
    """
    if not served:
        raise ValueError("resolve_language needs at least one served language")
    fallback = fallback or {}
    probs: dict[str, float] = {}
    for language, p in probabilities:
        probs[language] = probs.get(language, 0.0) + float(p)
    if not probs:
        return LanguageVerdict(served[0], 0.0, True, served[0])
    detected = max(probs, key=lambda lang: probs[lang])
    p = round(probs[detected], 4)
    if detected in served:
        return LanguageVerdict(detected, p, True, detected)
    if fallback.get(detected) in served:
        return LanguageVerdict(fallback[detected], p, True, detected)
    if probs[detected] >= min_probability:
        return LanguageVerdict(detected, p, False, detected)

    def served_mass(language: str) -> float:
        routed = [other for other, target in fallback.items() if target == language]
        return probs.get(language, 0.0) + sum(probs.get(o, 0.0) for o in routed)

    best = max(served, key=served_mass)
    return LanguageVerdict(best, p, True, detected)

"""The one text normaliser: the forms texts are compared in, and Simplified Chinese.

* :func:`plain` — Unicode NFKC, "ё" as "е"; case and punctuation kept (redaction reads
  digits and words out of it).
* :func:`bare` — :func:`plain`, case-folded, punctuation to single spaces: what phrase
  checks outside the rubric engine compare (hold phrases, role cues, Whisper's phantoms).
* :func:`normalize` — the form rubric phrases are matched in, per language
  (:meth:`pipeline.protocols.TextAnalyzer.normalize`): apostrophes kept inside words,
  Chinese in Simplified characters with no punctuation or spaces.
* :func:`simplified` — Chinese in Simplified characters (Whisper often writes Traditional).
* :func:`clock` — a moment of a call as inspectors read it (``1:15``).
* :func:`shorten` — a text cut at a word to fit a line, ending in "…".
* :func:`did_you_mean` — the hint after an unknown name: the closest known one.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Sequence

_PUNCT = re.compile(r"[\W_]+", re.UNICODE)
_QUOTES = str.maketrans({"’": "'", "‘": "'", "`": "'", "ʼ": "'"})
_NOT_WORD = re.compile(r"[^\w\s']+")
_STRAY_APOSTROPHE = re.compile(r"(?<!\w)'|'(?!\w)")
_SPACE = re.compile(r"\s+")
CJK = re.compile(r"[\u3400-\u9fff]")
"""A Chinese character (CJK unified ideographs and extension A)."""


def plain(text: str) -> str:
    """NFKC, "ё" as "е" (either case): the same letters whichever way they were typed.

    Examples
    --------
    >>> plain("Ｃard Ёлка ﬁle")
    'Card Елка file'
    """
    return unicodedata.normalize("NFKC", text).replace("ё", "е").replace("Ё", "Е")


def bare(text: str) -> str:
    """Lower case, punctuation to single spaces, "ё" as "е": "Please, HOLD." → "please hold".

    Examples
    --------
    >>> bare("Please, HOLD."), bare("Ещё — минуточку!"), bare("请稍等。")
    ('please hold', 'еще минуточку', '请稍等')
    """
    return _PUNCT.sub(" ", plain(text).casefold()).strip()


def normalize(text: str, *, language: str) -> str:
    """The form rubric phrases are matched in: NFKC, case-folded, straight quotes, "ё" as
    "е" (Russian), punctuation dropped but apostrophes inside words kept; Chinese in
    Simplified characters with every space and punctuation dropped.

    Examples
    --------
    >>> normalize("Don’t — 'hang up', OK?", language="en")
    "don't hang up ok"
    >>> normalize("請稍等， 謝謝！", language="zh")
    '请稍等谢谢'
    """
    text = unicodedata.normalize("NFKC", text).casefold().translate(_QUOTES)
    if language == "zh":
        return _PUNCT.sub("", simplified(text))
    if language == "ru":
        text = text.replace("ё", "е")
    text = _STRAY_APOSTROPHE.sub(" ", _NOT_WORD.sub(" ", text))
    return _SPACE.sub(" ", text).strip()


def simplified(text: str) -> str:
    """Chinese in Simplified characters; other text as it is.

    Examples
    --------
    >>> simplified("請稍候"), simplified("hello")
    ('请稍候', 'hello')
    """
    if text.isascii():
        return text
    import zhconv

    return str(zhconv.convert(text, "zh-cn"))


def clock(seconds: float) -> str:
    """``75.4`` → ``"1:15"``: how inspectors read times in a call."""
    whole = int(seconds)
    return f"{whole // 60}:{whole % 60:02d}"


def shorten(text: str, limit: int) -> str:
    """``text`` cut at a word (or, in Chinese, a character) to at most ``limit`` characters.

    Examples
    --------
    >>> shorten("my internet has been down since last night", 20)
    'my internet has…'
    """
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut and not re.search(r"[\u3000-\u9fff]", cut[-1]):
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,.;:，。") + "…"


RULE_SHOWN_CHARS = 120
"""How much of a finding's rule the app and ``earmark rubric explain`` print: a rule
made from a list (the agent names of ``agent_name``) is a regular expression of
thousands of characters."""


def short_rule(rule: str) -> str:
    """A finding's rule as the app and the CLI print it: its first
    :data:`RULE_SHOWN_CHARS` characters (the full text goes in the app's tooltip; the CLI
    prints it with ``earmark rubric explain --full-rules``).

    Examples
    --------
    >>> short_rule("phrase 'not my problem'")
    "phrase 'not my problem'"
    >>> len(short_rule("regex " + "(?:ann|bob)|" * 200)) <= RULE_SHOWN_CHARS
    True
    """
    return shorten(rule, RULE_SHOWN_CHARS)


def did_you_mean(name: str, known: Sequence[str]) -> str:
    """The hint after an unknown name: the closest known one (``difflib``, as rubric
    fields get it), else the known names.

    Examples
    --------
    >>> did_you_mean("budget_minuts", ["budget_minutes", "name", "teams"])
    "did you mean 'budget_minutes'?"
    >>> did_you_mean("colour", ["name", "teams"])
    'known: name, teams'
    """
    close = difflib.get_close_matches(name, known, n=1)
    return f"did you mean {close[0]!r}?" if close else f"known: {', '.join(known)}"

"""What redaction matches on the normalised text of an utterance rather than on its digit
runs: e-mails written or spoken (``john dot smith at gmail dot com``), the phone numbers
:class:`phonenumbers.PhoneNumberMatcher` finds, and the configured patterns.
"""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers

from pipeline.redact_detect import EMAIL, PHONE, Hit
from pipeline.redact_text import CJK, Norm

# --- e-mail ----------------------------------------------------------------------------

_LABEL = rf"[^\W_{CJK}]+"
_SEP_LOCAL = r"(?:\.|_|-|\bdot\b|\bunderscore\b|\bdash\b|\bhyphen\b|\bточка\b|\bдефис\b|点|下划线)"
_SEP_DOT = r"(?:\.|\bdot\b|\bточка\b|点)"
_AT = r"(?:@|\bat\b|\bсобака\b|艾特)"
_EMAIL = re.compile(
    rf"(?<![^\W_{CJK}]){_LABEL}(?:\s*{_SEP_LOCAL}\s*{_LABEL}|\s+[0-9]+){{0,8}}"
    rf"\s*{_AT}\s*{_LABEL}(?:\s*{_SEP_DOT}\s*{_LABEL}){{1,4}}",
    re.IGNORECASE,
)
_AT_ANYWHERE = re.compile(_AT, re.IGNORECASE)
# fmt: off
_TLDS = frozenset(("com", "net", "org", "edu", "gov", "io", "co", "uk", "us", "ru", "cn", "de",
                   "fr", "info", "biz", "me", "ai", "app", "рф", "ру", "ком", "нет", "орг"))
# fmt: on


Patterns = tuple[tuple[str, re.Pattern[str]], ...]


@lru_cache(maxsize=32)
def compile_patterns(patterns: tuple[tuple[str, str], ...]) -> Patterns:
    return tuple((kind, re.compile(pattern)) for kind, pattern in patterns)


# --- matches on the normalised text -----------------------------------------------------


def _span_hit(norm: Norm, kind: str, start: int, end: int) -> tuple[Hit, ...]:
    inside = [
        k
        for k, (s, e) in enumerate(zip(norm.starts, norm.ends, strict=True))
        if s < end and e > start
    ]
    return (Hit(kind, inside[0], inside[-1]),) if inside else ()


def email_hits(norm: Norm) -> tuple[Hit, ...]:
    hits: list[Hit] = []
    if not _AT_ANYWHERE.search(norm.text):
        return ()
    for m in _EMAIL.finditer(norm.text):
        tld = re.findall(_LABEL, m.group())[-1].casefold()
        written = "@" in m.group()
        if tld in _TLDS or (written and tld.isalpha() and len(tld) >= 2):
            hits.extend(_span_hit(norm, EMAIL, m.start(), m.end()))
    return tuple(hits)


def phone_matcher_hits(norm: Norm, regions: tuple[str, ...]) -> tuple[Hit, ...]:
    return tuple(
        hit
        for region in regions
        for match in phonenumbers.PhoneNumberMatcher(norm.text, region)
        for hit in _span_hit(norm, PHONE, match.start, match.end)
    )


def pattern_hits(norm: Norm, patterns: Patterns) -> tuple[Hit, ...]:
    return tuple(
        hit
        for kind, rx in patterns
        for m in rx.finditer(norm.text)
        if m.end() > m.start()
        for hit in _span_hit(norm, kind, m.start(), m.end())
    )

"""``prepare_call``: where each word lies in the normalised text, which maps a match
back to the words' times."""

from __future__ import annotations

import pytest

from models.nlp import get_analyzer
from pipeline.rubric.engine import prepare_call
from pipeline.types import Transcript, Utterance, Word


def _spans_one_by_one(norms: list[str], joiner: str) -> list[tuple[int, int]]:
    """The definition: words joined by ``joiner``, skipping the empty ones."""
    spans, text = [], ""
    for norm in norms:
        if norm:
            text += joiner if text else ""
            spans.append((len(text), len(text) + len(norm)))
            text += norm
        else:
            spans.append((len(text), len(text)))
    return spans


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("en", [" Thank", " you,", " for", " calling", " Acme!"]),
        ("en", [" —", " Well,", " ...", " I'm", " -", " sorry", " ?"]),
        ("en", [" ...", " ..."]),
        ("en", [" e-mail", " it", " to", " me"]),
        ("ru", [" Спасибо", " за", " ожидание", " —", " всё", " ещё"]),
        ("zh", ["您好", "，", "很高兴", "为您服务", "。"]),
        ("zh", ["。", "請問", "還有什麼", "？"]),
    ],
)
def test_word_spans_locate_every_word(language: str, words: list[str]) -> None:
    analyzer = get_analyzer(language)
    ws = tuple(Word(i * 0.5, i * 0.5 + 0.4, w, 0.9) for i, w in enumerate(words))
    utt = Utterance("agent", 0.0, 5.0, "".join(words), ws)
    call = prepare_call(Transcript("c", language, 5.0, (utt,)), analyzer)
    norms = [analyzer.normalize(w) for w in words]
    joiner = "" if language == "zh" else " "
    assert call.texts[0] == joiner.join(n for n in norms if n)
    assert list(call.spans[0]) == _spans_one_by_one(norms, joiner)
    for norm, (start, end) in zip(norms, call.spans[0], strict=True):
        assert call.texts[0][start:end] == norm


def test_utterance_without_words_is_normalised_whole() -> None:
    analyzer = get_analyzer("en")
    utt = Utterance("agent", 0.0, 5.0, "Thanks for calling, how can I help?")
    call = prepare_call(Transcript("c", "en", 5.0, (utt,)), analyzer)
    assert call.texts == ("thanks for calling how can i help",) and call.spans == ((),)
    assert call.tokens[0].lower[:3] == ("thanks", "for", "calling")

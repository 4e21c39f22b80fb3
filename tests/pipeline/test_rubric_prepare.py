"""``prepare_call``: where each word lies in the normalised text, which maps a match
back to the words' times."""

from __future__ import annotations

import pytest

from models.nlp import get_analyzer
from pipeline.rubric.builtin import LemmaDetector, PhraseParams
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


def test_a_line_said_again_keeps_its_own_times() -> None:
    """The normalised text and tokens of a line said again are remembered (by its words'
    text), so a match in it must still take its own words' times."""
    analyzer = get_analyzer("en")
    said = [" Thanks", " for", " calling,", " how", " can", " I", " help?"]
    calls = [
        prepare_call(Transcript(f"c{start}", "en", 30.0, (_line(said, start),)), analyzer)
        for start in (1.0, 12.0)
    ]
    assert calls[1].texts == calls[0].texts and calls[1].spans == calls[0].spans
    assert calls[1].tokens[0].lower == calls[0].tokens[0].lower
    finder = LemmaDetector(PhraseParams(phrases=["how can i help"]), analyzer)
    hits = [h for c in calls for h in finder.find(c, [0])]
    times = [t for h in hits for t in (h.start_s, h.end_s)]
    assert times == pytest.approx([2.2, 3.7, 13.2, 14.7])


def _line(said: list[str], start_s: float) -> Utterance:
    words = tuple(
        Word(start_s + i * 0.4, start_s + i * 0.4 + 0.3, w, 0.9) for i, w in enumerate(said)
    )
    return Utterance("agent", start_s, words[-1].end_s, "".join(said).strip(), words)

"""The cached tokens and the trie finder give exactly what spaCy's tokenizer and
PhraseMatcher give on whole texts: same tokens, spans, lemmas, matches and order."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from models.nlp import SpacyAnalyzer, SpacyPhraseFinder, get_analyzer
from pipeline.rubric.schema import load_rubric

ROOT = Path(__file__).resolve().parents[2]
LANGUAGES = ("en", "zh", "ru")
EDGE_TEXTS = {
    "en": [
        "",
        "I'm sorry, I can't do that, we're gonna fix it by 3pm on the 12th",
        "o'clock e-mail rock'n'roll won't y'all",
        "Thank you for calling — thank you for calling!",
        "ÉCOLE straße İstanbul ﬁx ２０２６",
        "  double  spaces and\ttabs\n",
        "a.m. p.m. U.S. etc. (sic) ::",
    ],
    "ru": [
        "Приношу извинения за неудобства, ещё раз простите",
        "в т.ч. д-р мед. наук, т.е. ёлка",
        "Здравствуйте!  Компания «Акме»",
    ],
    "zh": [
        "您好，很高兴为您服务 请问有什么可以帮您",
        "謝謝您的耐心等待 abc 123",
        "",
    ],
}


def _rubric_texts(language: str) -> Iterator[str]:
    rubric = load_rubric(ROOT / "rubrics" / language / "inbound-support.yaml")
    for item in rubric.items:
        yield from item.examples.match
        yield from item.examples.no_match
        for params in (item.params, item.na_when.condition.params if item.na_when else {}):
            yield from params.get("phrases", [])


def _sample_texts(language: str) -> Iterator[str]:
    labels = json.loads((ROOT / "samples" / "labels.json").read_text(encoding="utf-8"))
    for call in labels.values():
        if call["language"] == language:
            yield from (turn["text"] for turn in call["turns"])


def _texts(language: str) -> list[str]:
    """Raw and normalised: the rubric's phrases and examples, the sample calls, edge cases."""
    analyzer = get_analyzer(language)
    raw = [*_rubric_texts(language), *_sample_texts(language), *EDGE_TEXTS[language]]
    return raw + [analyzer.normalize(t) for t in raw]


def _spacy_lemma(analyzer: SpacyAnalyzer, lower: str) -> str:
    if analyzer.lemmatizer is None:
        return lower
    return analyzer._spacy_lemmatizer(analyzer.nlp.make_doc(lower))[0].lemma_.lower() or lower


@pytest.mark.parametrize("language", LANGUAGES)
def test_tokens_are_spacys_tokens_of_the_whole_text(language: str) -> None:
    analyzer = get_analyzer(language)
    for text in _texts(language):
        tokens = analyzer.tokenize(text)
        doc = analyzer.nlp.make_doc(text)
        assert tokens.lower == tuple(t.lower_ for t in doc), text
        assert [tokens.char_span(i, i + 1) for i in range(len(tokens))] == [
            (t.idx, t.idx + len(t.text)) for t in doc
        ], text
        assert tokens.lemma == tuple(_spacy_lemma(analyzer, t.lower_) for t in doc), text
        assert tokens.doc.text == text


def test_normalised_text_is_cut_into_cached_pieces() -> None:
    en, zh = get_analyzer("en"), get_analyzer("zh")
    assert en.tokenize("thank you for calling")._doc is None  # no Doc made for matching
    assert zh.tokenize("请您稍等")._doc is None
    assert en.tokenize("Thank you,  for calling!")._doc is not None  # not normalised: whole text


def _reference(finder: SpacyPhraseFinder, analyzer: SpacyAnalyzer, text: str) -> list[tuple]:
    """spaCy's PhraseMatcher on the Doc of the whole text, as earmark matched before."""
    doc = analyzer.nlp.make_doc(text)
    if finder.lemma:
        doc = analyzer.lemmatize_doc(doc)
    return [(s, e, finder.keys[k]) for k, s, e in finder.matcher(doc)]


@pytest.mark.parametrize("language", LANGUAGES)
def test_phrase_finders_match_like_spacys_phrase_matcher(language: str) -> None:
    analyzer = get_analyzer(language)
    rubric = load_rubric(ROOT / "rubrics" / language / "inbound-support.yaml")
    finders = [
        analyzer.phrase_finder(item.params["phrases"], lemma=lemma)
        for item in rubric.items
        if "phrases" in item.params
        for lemma in (False, True)
    ]
    texts = [analyzer.normalize(t) for t in _texts(language)]
    found = 0
    for finder in finders:
        for text in texts:
            matches = finder.find(analyzer.tokenize(text))
            assert matches == _reference(finder, analyzer, text), text
            found += len(matches)
    assert found > 100  # the comparison saw real matches, not only empty lists


@pytest.mark.parametrize("lemma", [False, True])
def test_duplicate_and_nested_phrases_come_out_in_spacys_order(lemma: bool) -> None:
    analyzer = get_analyzer("en")
    phrases = [
        "thank you for calling",
        "Thank you!",
        "thank you",
        "you for",
        "thanks for calling",
        "THANK YOU FOR CALLING",
        "calling",
        "...",
    ]
    finder = analyzer.phrase_finder(phrases, lemma=lemma)
    text = analyzer.normalize("Thank you for calling, thank you, thanks for calling you for")
    matches = finder.find(analyzer.tokenize(text))
    assert matches == _reference(finder, analyzer, text)
    assert {m[2] for m in matches if m[:2] == (0, 4)} == {0, 5}  # the same phrase, twice


def test_pattern_finder_still_gets_a_doc() -> None:
    analyzer = get_analyzer("en")
    finder = analyzer.pattern_finder([[{"LEMMA": "apologize"}, {"OP": "*"}, {"LOWER": "delay"}]])
    tokens = analyzer.tokenize(analyzer.normalize("We apologized for the delay"))
    assert finder.find(tokens) == [(1, 5, 0)]


def test_analyzers_are_built_without_spacys_command_line_app_which_still_works() -> None:
    """spaCy's own import pulls in its CLI (typer, weasel, httpx) and, through thinc, torch;
    a command that only tokenises pays for neither, and ``spacy.info`` still answers."""
    code = (
        "import sys; from models.nlp import get_analyzer\n"
        "for language in ('en', 'zh', 'ru'): get_analyzer(language)\n"
        "print(sorted(m for m in ('spacy.cli', 'weasel', 'typer', 'httpx', 'torch') "
        "if m in sys.modules))\n"
        "import spacy\n"
        "print(sorted(spacy.info(silent=True)))\n"
        "import spacy.cli\n"
        "print(callable(spacy.cli.download))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=True,
    )
    skipped, info, cli = out.stdout.splitlines()
    assert skipped == "[]"
    assert "spacy_version" in info
    assert cli == "True"

"""Every shipped rubric validates and passes its own examples (a data engineer's change
is tested by adding lines to the YAML)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from models.embed import get_embedder
from models.nlp import get_analyzer
from pipeline.rubric.engine import check_examples, compile_rubric, evaluate
from pipeline.rubric.schema import load_rubric
from pipeline.types import Transcript, Utterance

ROOT = Path(__file__).resolve().parents[2]
SEMANTIC_INSTALLED = importlib.util.find_spec("sentence_transformers") is not None
# rubrics/cues/ holds cue lists, not rubrics: tests/pipeline/test_cues.py runs their examples
RUBRICS = sorted(p for p in (ROOT / "rubrics").glob("*/*.yaml") if p.parent.name != "cues")
CONTRACT = [
    "greeting",
    "self_identification",
    "customer_verification",
    "empathy",
    "hold_etiquette",
    "closing",
    "forbidden_language",
    "unprofessional_conduct",
    "escalation_request",
    "customer_dissatisfaction",
    "dead_air",
    "interrupting",
]


@pytest.mark.parametrize("path", RUBRICS, ids=lambda p: str(p.relative_to(ROOT)))
def test_examples_pass(path: Path) -> None:
    rubric = load_rubric(path)
    if any(i.detector == "semantic.v1" for i in rubric.items) and not SEMANTIC_INSTALLED:
        pytest.skip("semantic.v1 is an optional extra, not installed here (make extras)")
    compiled = compile_rubric(rubric, get_analyzer(rubric.language), embedder=get_embedder())
    total, failures = check_examples(compiled)
    text_items = [i for i in rubric.items if i.detector != "metric.v1"]
    assert total >= 6 * len(text_items)
    assert failures == []


@pytest.mark.parametrize("language", ["en", "zh", "ru"])
def test_inbound_support_has_the_contract_items(language: str) -> None:
    rubric = load_rubric(ROOT / "rubrics" / language / "inbound-support.yaml")
    assert [i.id for i in rubric.items] == CONTRACT
    assert rubric.language == language
    scored = sum(i.weight for i in rubric.items)
    assert scored == 100
    every = {i.id: (i.expect, i.critical, i.speaker) for i in rubric.items}
    assert every["forbidden_language"] == ("absent", True, "agent")
    assert every["escalation_request"][::2] == ("absent", "customer")


def test_same_items_in_every_language() -> None:
    shapes = {
        lang: [
            (i.id, i.expect, i.weight, i.critical, i.flag)
            for i in load_rubric(ROOT / "rubrics" / lang / "inbound-support.yaml").items
        ]
        for lang in ("en", "zh", "ru")
    }
    assert shapes["en"] == shapes["zh"] == shapes["ru"]


@pytest.mark.parametrize("name", ["inbound-support", "outbound-sales"])
def test_the_readme_table_says_what_each_language_ships(name: str) -> None:
    readme = (ROOT / "rubrics" / "README.md").read_text(encoding="utf-8")
    table = readme.split(f"## The {name} rubric", 1)[1].split("\n## ", 1)[0]
    rows = [
        [cell.strip() for cell in line.strip("|").split("|")]
        for line in table.splitlines()
        if line.startswith("| ") and not line.startswith("| id ")
    ]
    documented = {
        r[0]: (r[1], r[3].split(" ")[0], float(r[4]), r[5] == "yes", r[6] == "yes") for r in rows
    }
    assert len(documented) >= 8
    for path in sorted((ROOT / "rubrics").glob(f"*/{name}.yaml")):
        shipped = {
            i.id: (i.speaker, i.expect, i.weight, i.critical, i.flag)
            for i in load_rubric(path).items
        }
        assert shipped == documented, path


OPENING_AND_CLOSING = {
    "en": (
        "Thank you for calling Acme, this is Dana, how can I help you today?",
        "Is there anything else I can help you with? Have a great day.",
    ),
    "zh": (
        "您好，感谢您致电安信客服，我是小王，请问有什么可以帮您？",
        "请问还有其他可以帮您的吗？祝您生活愉快，再见。",
    ),
    "ru": (
        "Здравствуйте, спасибо за звонок в компанию Акме, меня зовут Дарья, чем могу помочь?",
        "Могу ли я ещё чем-нибудь помочь? Всего доброго, до свидания.",
    ),
}


@pytest.mark.parametrize("language", ["en", "zh", "ru"])
def test_a_short_calls_greeting_is_not_its_closing(language: str) -> None:
    """On a call shorter than the closing's minute the greeting's "thank you for calling"
    lay in its window: the window is at most the call's second half, and the greeting's
    at most its first."""
    opening, closing = OPENING_AND_CLOSING[language]
    rubric = load_rubric(ROOT / "rubrics" / language / "inbound-support.yaml")
    compiled = compile_rubric(rubric, get_analyzer(language), embedder=get_embedder())

    def outcomes(*lines: tuple[float, str]) -> dict[str, str]:
        utts = tuple(
            Utterance("agent" if k % 2 == 0 else "customer", t, t + 4.0, text, (), 0.9, k % 2)
            for k, (t, text) in enumerate(lines)
        )
        findings = evaluate(compiled, Transcript("c", language, 40.0, utts))
        return {f.item_id: f.outcome for f in findings}

    curt = outcomes((0.5, opening), (6.0, "..."), (34.0, "OK." if language != "zh" else "好。"))
    assert (curt["greeting"], curt["closing"]) == ("pass", "fail")
    kind = outcomes((0.5, opening), (6.0, "..."), (34.0, closing))
    assert (kind["greeting"], kind["closing"]) == ("pass", "pass")

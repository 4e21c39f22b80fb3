"""Every shipped rubric validates and passes its own examples (a data engineer's change
is tested by adding lines to the YAML)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from models.embed import get_embedder
from models.nlp import get_analyzer
from pipeline.rubric.engine import check_examples, compile_rubric, evaluate
from pipeline.rubric.schema import Item, load_rubric
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


LANGUAGES = ("en", "zh", "ru")
HERE = "tests/rubrics/test_shipped_rubrics.py"


def _contract_problem(path: str, ids: list[str]) -> str:
    """What to do when a shipped rubric's items are not :data:`CONTRACT` (the items the
    docs, the review app and the benches name), in words a data engineer can act on."""
    added = [i for i in ids if i not in CONTRACT]
    missing = [i for i in CONTRACT if i not in ids]
    lines = [f"{path}: its items are not the contract ({HERE} CONTRACT)"]
    if added:
        lines.append(
            f"  added {added}: a new shipped item joins the contract: append it to CONTRACT "
            "(and add it to every language, rubrics/README.md 'Adding an item')"
        )
    if missing:
        lines.append(f"  missing {missing}: every shipped inbound-support has them; put them back")
    if not added and not missing:
        lines.append(f"  the order differs: {ids}; keep CONTRACT's order, new items at the end")
    return "\n".join(lines)


@pytest.mark.parametrize("language", LANGUAGES)
def test_inbound_support_has_the_contract_items(language: str) -> None:
    path = f"rubrics/{language}/inbound-support.yaml"
    rubric = load_rubric(ROOT / path)
    ids = [i.id for i in rubric.items]
    assert ids == CONTRACT, _contract_problem(path, ids)
    assert rubric.language == language
    scored = sum(i.weight for i in rubric.items)
    assert scored == 100, (
        f"{path}: the scored weights add up to {scored:g}; take a new item's points from "
        "others so they add up to 100 (earmark rubric check says so too)"
    )
    every = {i.id: (i.expect, i.critical, i.speaker) for i in rubric.items}
    assert every["forbidden_language"] == ("absent", True, "agent")
    assert every["escalation_request"][::2] == ("absent", "customer")


SHAPE = ("expect", "weight", "critical", "flag")


def _shape_problems(shapes: dict[str, list[tuple[object, ...]]]) -> str:
    """Each item missing from a language, or set differently in one, by name."""
    ids = {lang: [s[0] for s in shape] for lang, shape in shapes.items()}
    every = list(dict.fromkeys(i for lang in shapes for i in ids[lang]))
    lines = []
    for item in every:
        lacking = [lang for lang in shapes if item not in ids[lang]]
        if lacking:
            having = [lang for lang in shapes if lang not in lacking]
            lines.append(
                f"item {item!r} is in {', '.join(having)} but not in {', '.join(lacking)}: add "
                f"it to rubrics/{{{','.join(lacking)}}}/inbound-support.yaml with the same "
                f"{', '.join(SHAPE)} (its phrases and examples in that language)"
            )
            continue
        settings = {lang: dict(shapes[lang])[item] for lang in shapes}
        if len(set(settings.values())) > 1:
            said = "; ".join(
                f"{lang} {dict(zip(SHAPE, v, strict=True))}" for lang, v in settings.items()
            )
            lines.append(f"item {item!r} is set differently: {said}")
    if not lines:
        lines.append(f"the items are in a different order: {ids}")
    return "\n".join(lines)


def test_same_items_in_every_language() -> None:
    shapes = {
        lang: [
            (i.id, (i.expect, i.weight, i.critical, i.flag))
            for i in load_rubric(ROOT / "rubrics" / lang / "inbound-support.yaml").items
        ]
        for lang in LANGUAGES
    }
    assert shapes["en"] == shapes["zh"] == shapes["ru"], _shape_problems(shapes)


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
        items = load_rubric(path).items
        shipped = {i.id: (i.speaker, i.expect, i.weight, i.critical, i.flag) for i in items}
        assert shipped == documented, _table_problems(name, path, items, documented)


def _table_problems(
    name: str, path: Path, items: list[Item], documented: dict[str, tuple[object, ...]]
) -> str:
    """The README table rows to add, fix or drop for ``path``, as rows to paste."""
    where = f"rubrics/README.md, table under '## The {name} rubric'"
    lines = [f"{path.relative_to(ROOT)} does not match {where}:"]
    for item in items:
        shipped = (item.speaker, item.expect, item.weight, item.critical, item.flag)
        row = _table_row(item)
        if item.id not in documented:
            lines.append(f"  add a row for item {item.id!r}: {row}")
        elif documented[item.id] != shipped:
            lines.append(f"  fix the row of item {item.id!r}: {row}")
    for item_id in documented.keys() - {i.id for i in items}:
        lines.append(f"  drop the row of item {item_id!r}, or ship it in this file too")
    return "\n".join(lines)


def _table_row(item: Item) -> str:
    window = ""
    if item.window is not None:
        w = item.window
        end, seconds = ("first", w.first_s) if w.first_s or w.first_pct else ("last", w.last_s)
        window = f"{end} {seconds:g} s" if seconds else f"{end} part of the call"
    cells = [item.id, item.speaker, window, item.expect, f"{item.weight:g}"]
    cells += ["yes" if item.critical else "", "yes" if item.flag else ""]
    return "| " + " | ".join(cells) + " |"


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


def test_a_new_item_s_failures_say_what_to_do() -> None:
    """A data engineer who followed "Adding an item" half-way saw three truncated
    asserts; each now names the item, the file and the step left."""
    assert "added ['callback_offer']: a new shipped item joins the contract: append it" in (
        _contract_problem("rubrics/en/inbound-support.yaml", [*CONTRACT, "callback_offer"])
    )
    en = [("greeting", ("present", 15.0, False, False)), ("callback", ("present", 0, False, True))]
    shapes = {"en": en, "zh": en[:1], "ru": [("greeting", ("present", 10.0, False, False))]}
    assert _shape_problems(shapes).splitlines() == [
        "item 'greeting' is set differently: en {'expect': 'present', 'weight': 15.0, "
        "'critical': False, 'flag': False}; zh {'expect': 'present', 'weight': 15.0, "
        "'critical': False, 'flag': False}; ru {'expect': 'present', 'weight': 10.0, "
        "'critical': False, 'flag': False}",
        "item 'callback' is in en but not in zh, ru: add it to rubrics/{zh,ru}/"
        "inbound-support.yaml with the same expect, weight, critical, flag (its phrases "
        "and examples in that language)",
    ]
    path = ROOT / "rubrics" / "en" / "inbound-support.yaml"
    items = load_rubric(path).items
    documented = {"greeting": ("agent", "present", 15.0, False, False), "gone": ()}
    said = _table_problems("inbound-support", path, items, documented).splitlines()
    assert said[0] == (
        "rubrics/en/inbound-support.yaml does not match rubrics/README.md, table under "
        "'## The inbound-support rubric':"
    )
    assert (
        "  add a row for item 'closing': | closing | agent | last 60 s | present | 20 |  |  |"
        in said
    )
    assert "  drop the row of item 'gone', or ship it in this file too" in said


def test_the_new_detector_steps_match_how_detectors_are_registered() -> None:
    """The docs said a new detector was "one class"; it is a class and a registration
    line, and its examples run only as a rubric item's. The steps name what exists."""
    import re

    readme = (ROOT / "rubrics" / "README.md").read_text(encoding="utf-8")
    steps = readme.split("### A new detector", 1)[1].split("\n## ", 1)[0]
    registrations = (ROOT / "pipeline" / "rubric" / "registrations.py").read_text()
    registered = re.findall(r'detectors\.register\("([a-z_.]+\.v\d+)", func=(\w+)\)', registrations)
    assert registered and 'detectors.register("mything.v1", func=MyThingDetector)' in steps
    for path in re.findall(r"`((?:pipeline|tests)/[\w/]+(?:\.py)?/?)`", steps):
        assert (ROOT / path).exists(), f"rubrics/README.md 'A new detector' names {path}"
    tests = (ROOT / "tests" / "rubrics" / "test_shipped_rubrics.py").read_text()
    assert "test_examples_pass" in steps and "def test_examples_pass(" in tests
    table = readme.split("## All detectors", 1)[1]
    for name, _ in registered:
        assert f"| `{name}` |" in table, f"{name} is registered but not in the detector table"

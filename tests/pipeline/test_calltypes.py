"""Call types pick the rubric; unserved languages are decided; rules are validated."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.calltypes import choose_rubric, rubric_paths
from pipeline.config import OUTBOUND_RUBRICS, CallTypeConfig, Config, load_config
from pipeline.errors import ConfigError
from pipeline.language import resolve_language

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("metadata", "language", "call_type", "rubric"),
    [
        ({"direction": "outbound"}, "en", "outbound-sales", "en/outbound-sales.yaml"),
        ({"direction": " Outbound "}, "ru", "outbound-sales", "ru/outbound-sales.yaml"),
        ({"direction": "OUTGOING"}, "zh", "outbound-sales", "zh/outbound-sales.yaml"),
        ({"direction": "inbound"}, "en", "default", "en/inbound-support.yaml"),
        ({}, "ru", "default", "ru/inbound-support.yaml"),
    ],
)
def test_default_rules_send_outbound_calls_to_the_outbound_rubric(
    metadata: dict[str, str], language: str, call_type: str, rubric: str
) -> None:
    choice = choose_rubric(Config(), metadata, language)
    assert choice.call_type == call_type
    assert choice.path is not None and choice.path.endswith(rubric)
    assert Path(choice.path).is_file()


def test_rules_on_any_column_first_match_wins_and_no_rubric_says_why() -> None:
    config = Config(
        call_types=[
            CallTypeConfig(
                name="retention",
                when={"queue": ["Retention", "winback"], "direction": "outbound"},
                rubrics={"en": OUTBOUND_RUBRICS["en"]},
            ),
            CallTypeConfig(name="internal", when={"campaign": "staff"}, rubrics={}),
            CallTypeConfig(
                name="sales", when={"direction": "outbound"}, rubrics=dict(OUTBOUND_RUBRICS)
            ),
        ]
    )
    both = {"queue": "winback", "direction": "outbound"}
    assert choose_rubric(config, both, "en").call_type == "retention"
    # retention has no Russian rubric: the Russian retention call is stored, not scored
    ru = choose_rubric(config, both, "ru")
    assert (ru.call_type, ru.path) == ("retention", None)
    assert "'retention' has no rubric for language 'ru'" in ru.reason
    # one column matching is not enough: every `when` column must match
    assert choose_rubric(config, {"queue": "winback"}, "en").call_type == "default"
    assert choose_rubric(config, {"direction": "outbound"}, "en").call_type == "sales"
    staff = choose_rubric(config, {"campaign": "STAFF", "direction": "outbound"}, "zh")
    assert (staff.call_type, staff.path) == ("internal", None)
    # every rubric a rule can pick is checked before a night starts
    assert rubric_paths(config)["en"] == [
        Config().rubrics["en"],
        OUTBOUND_RUBRICS["en"],
    ]


def _toml(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "earmark.toml"
    path.write_text(body, encoding="utf-8")
    return path


def test_call_types_load_from_toml_with_paths_relative_to_the_file(tmp_path: Path) -> None:
    rubric = tmp_path / "rubrics" / "my-outbound.yaml"
    rubric.parent.mkdir()
    rubric.write_text((ROOT / "rubrics/en/outbound-sales.yaml").read_text(encoding="utf-8"))
    config = load_config(
        _toml(
            tmp_path,
            '[[call_types]]\nname = "sales"\nwhen = {direction = "outbound", queue = ["a", "b"]}\n'
            'rubrics = {en = "rubrics/my-outbound.yaml"}\n'
            '[language_detection]\nfallback = {uk = "ru"}\nmin_probability = 0.6\n',
        )
    )
    assert [t.name for t in config.call_types] == ["sales"]
    assert config.call_types[0].rubrics["en"] == str(rubric)
    assert config.language_detection.fallback == {"uk": "ru"}
    assert choose_rubric(config, {"direction": "outbound", "queue": "B"}, "en").path == str(rubric)


@pytest.mark.parametrize(
    ("body", "code", "says"),
    [
        (
            '[[call_types]]\nname = "a"\nwhen = {direction = "outbound"}\n'
            '[[call_types]]\nname = "a"\nwhen = {queue = "x"}\n',
            "C014",
            "call_types[1] 'a': the name is used twice",
        ),
        (
            '[[call_types]]\nname = "a"\nwhen = {direction = " "}\n',
            "C015",
            "when.direction needs a non-empty value",
        ),
        (
            '[[call_types]]\nname = "a"\nwhen = {direction = []}\n',
            "C015",
            "when.direction needs a non-empty value",
        ),
        (
            '[[call_types]]\nname = "a"\nwhen = {direction = "outbound"}\n'
            'rubrics = {en = "nowhere.yaml"}\n',
            "C016",
            "rubrics.en: no such rubric file",
        ),
        ('[language_detection]\nfallback = {uk = "ru"}\nlanguages = ["en"]\n', "C002", ""),
        ('languages = ["en"]\n[language_detection]\nfallback = {uk = "ru"}\n', "C017", "'ru'"),
        ('[[call_types]]\nname = "a"\nwhen = {}\n', "C002", "call_types.0.when"),
        ('[[call_types]]\nname = "A b"\nwhen = {direction = "out"}\n', "C002", "name"),
        (
            '[[call_types]]\nname = "a"\nwhen = {direction = "out"}\nrubric = "x.yaml"\n',
            "C002",
            "call_types.0.rubric: unknown key 'rubric' (did you mean 'rubrics'?)",
        ),
        (
            '[[call_types]]\nname = "a"\nwhen = {direction = "out"}\nrubrics = {de = "x.yaml"}\n',
            "C002",
            "call_types.0.rubrics.de",
        ),
        ('[asr.models]\nde = "base"\n', "C002", "asr.models.de"),
    ],
)
def test_bad_rules_are_refused_with_coded_errors(
    tmp_path: Path, body: str, code: str, says: str
) -> None:
    path = _toml(tmp_path, body)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.code == code
    assert str(path) in str(caught.value)
    assert says in str(caught.value)


@pytest.mark.parametrize(
    ("probs", "served", "fallback", "expected"),
    [
        ([("pl", 0.81), ("ru", 0.12)], ["en", "zh", "ru"], {}, ("pl", False, "pl")),
        ([("de", 0.93)], ["en"], {}, ("de", False, "de")),
        ([("ru", 0.70), ("uk", 0.2)], ["en", "ru"], {}, ("ru", True, "ru")),
        ([("uk", 0.65), ("ru", 0.3)], ["en", "ru"], {"uk": "ru"}, ("ru", True, "uk")),
        # not sure enough that it is Polish: transcribed in the likeliest served language
        ([("pl", 0.40), ("ru", 0.35), ("en", 0.1)], ["en", "ru"], {}, ("ru", True, "pl")),
        ([("pl", 0.40), ("uk", 0.30), ("en", 0.1)], ["en", "ru"], {"uk": "ru"}, ("ru", True, "pl")),
        ([], ["zh", "en"], {}, ("zh", True, "zh")),
    ],
)
def test_resolve_language(
    probs: list[tuple[str, float]],
    served: list[str],
    fallback: dict[str, str],
    expected: tuple[str, bool, str],
) -> None:
    verdict = resolve_language(probs, served=served, fallback=fallback, min_probability=0.5)
    assert (verdict.language, verdict.supported, verdict.detected) == expected

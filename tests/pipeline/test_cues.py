"""Hold cues and the agent's opening/closing phrases are data with examples, like rubric
items: every shipped list finds its ``match`` lines and none of its ``no_match`` lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.acoustic.options import MetricOptions
from pipeline.cues import HOLD_PATH, PhraseList, cues_digest, hold_cues, said_inside
from pipeline.diarization import DiarizeOptions
from pipeline.errors import ModelError
from pipeline.roles import CUES_PATH, turn_phrases, turn_says

HOLD = hold_cues()
TURNS = turn_phrases()
LISTS = {
    "hold": (HOLD.hold, said_inside),
    "return": (HOLD.return_, said_inside),
    "opening": (TURNS.opening, turn_says),
    "closing": (TURNS.closing, turn_says),
}


@pytest.mark.parametrize("name", LISTS)
def test_every_cue_list_passes_its_examples(name: str) -> None:
    cue, says = LISTS[name]
    assert isinstance(cue, PhraseList)
    phrases = cue.all_phrases()
    missed = [text for text in cue.examples.match if not says(text, phrases)]
    wrong = [text for text in cue.examples.no_match if says(text, phrases)]
    assert (missed, wrong) == ([], [])
    assert len(cue.examples.match) >= 3 and len(cue.examples.no_match) >= 3
    assert set(cue.phrases) == {"en", "zh", "ru"}


def test_the_options_default_to_the_shipped_lists() -> None:
    assert MetricOptions().hold_phrases == HOLD.hold.all_phrases()
    assert "请稍等" in MetricOptions().hold_phrases
    options = DiarizeOptions()
    assert options.opening_phrases == TURNS.opening.all_phrases()
    assert "чем ещё могу помочь" in options.closing_phrases
    assert MetricOptions(hold_phrases=("un momento",)).hold_phrases == ("un momento",)


def test_opening_phrases_match_whole_words_and_traditional_chinese() -> None:
    opening = TURNS.opening.all_phrases()
    assert turn_says("Welcome to Acme.", opening)
    assert not turn_says("You're welcome, tomorrow then.", opening)
    assert turn_says("請問有什麼可以幫您", opening)  # Traditional, as Whisper often writes


@pytest.mark.parametrize(
    ("broken", "problem"),
    [
        (lambda t: t.replace("return:", "comeback:", 1), r"return: Field required"),
        (lambda t: t.replace("    en:", "    de:", 1), r"hold\.phrases\.de"),
        (lambda t: t.replace("  examples:", "  samples:", 1), r"hold\.samples"),
        (lambda t: t + "\n  - [unclosed", r"cannot read hold cues"),
    ],
)
def test_a_broken_hold_file_is_a_coded_error(tmp_path: Path, broken, problem: str) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "hold.yaml"
    bad.write_text(broken(HOLD_PATH.read_text(encoding="utf-8")), encoding="utf-8")
    with pytest.raises(ModelError, match=rf"\[M022\] .*hold\.yaml: .*{problem}") as info:
        hold_cues(str(bad))
    assert info.value.code == "M022"


def test_a_missing_cue_file_is_a_coded_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"\[M022\] .*nowhere\.yaml: cannot read hold cues"):
        hold_cues(str(tmp_path / "nowhere.yaml"))


def test_turn_phrases_of_a_broken_roles_file_are_a_coded_error(tmp_path: Path) -> None:
    bad = tmp_path / "roles.yaml"
    text = CUES_PATH.read_text(encoding="utf-8").replace("  closing:", "  goodbye:", 1)
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(ModelError, match=r"\[M022\] .*invalid role cues: turn_phrases\.closing"):
        turn_phrases(str(bad))


def test_the_cache_key_digest_follows_every_cue_file(tmp_path: Path) -> None:
    hold, roles = tmp_path / "hold.yaml", tmp_path / "roles.yaml"
    hold.write_text(HOLD_PATH.read_text(encoding="utf-8"), encoding="utf-8")
    roles.write_text(CUES_PATH.read_text(encoding="utf-8"), encoding="utf-8")
    before = cues_digest((hold, roles))
    assert before == cues_digest((HOLD_PATH, CUES_PATH))
    hold.write_text(hold.read_text(encoding="utf-8").replace('"минуточку"', '"секунду"'))
    after_hold = cues_digest((hold, roles))
    roles.write_text(roles.read_text(encoding="utf-8") + "\n# a comment\n")
    assert len({before, after_hold, cues_digest((hold, roles))}) == 3

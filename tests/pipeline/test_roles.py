"""Role cues are data with examples; direction and content decide who the agent is."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.diarization import DiarizeOptions, agent_of, role_scores
from pipeline.errors import ModelError
from pipeline.roles import CUES_PATH, RoleCue, call_direction, has_phrase, load_cues
from pipeline.types import Word

CUES = load_cues()


@pytest.mark.parametrize("cue", CUES, ids=lambda c: c.id)
def test_every_cue_passes_its_examples(cue: RoleCue) -> None:
    missed = [text for text in cue.examples.match if not cue.said_in(text)]
    wrong = [text for text in cue.examples.no_match if cue.said_in(text)]
    assert (missed, wrong) == ([], [])
    assert len(cue.examples.match) >= 3 and len(cue.examples.no_match) >= 3
    assert set(cue.phrases) == {"en", "zh", "ru"}


def test_phrases_match_whole_words_and_ordered_parts() -> None:
    assert has_phrase("i am calling from acme", "calling from")
    assert not has_phrase("recalling from memory", "calling from")
    assert has_phrase("您好我是安信保险公司的小王", "我是…公司")
    assert not has_phrase("公司说我是客户", "我是…公司")
    assert not has_phrase("我是一个在这里等了很久很久很久的公司客户", "我是…公司")  # too far apart


@pytest.mark.parametrize(
    ("value", "direction"),
    [("Outbound", "outbound"), ("outgoing", "outbound"), (" IN ", "inbound"), ("исходящий", "outbound"), ("", ""), ("sideways", "")],
)  # fmt: skip
def test_call_direction(value: str, direction: str) -> None:
    assert call_direction({"direction": value}) == direction


def _words(*turns: tuple[float, str]) -> tuple[list[Word], list[int]]:
    """Words of alternating voices 0, 1, 0… one turn each, one word per 0.3 s."""
    words: list[Word] = []
    clusters: list[int] = []
    for k, (start, text) in enumerate(turns):
        for n, w in enumerate(text.split()):
            words.append(Word(start + 0.3 * n, start + 0.3 * n + 0.25, " " + w, 0.9))
            clusters.append(k % 2)
    return words, clusters


def _agent(turns: list[tuple[float, str]], direction: str = "") -> int:
    words, clusters = _words(*turns)
    options = DiarizeOptions(direction=direction)  # type: ignore[arg-type]
    scores = role_scores(words, clusters, duration_s=60.0, options=options)
    return agent_of(scores, first_cluster=clusters[0], direction=options.direction)


def test_outbound_the_second_voice_is_the_agent_when_nothing_else_tells() -> None:
    turns = [(0.5, "yes"), (2.0, "good afternoon mrs smith"), (5.0, "okay")]
    assert _agent(turns) == 0  # inbound or unknown: who speaks first answers the call
    assert _agent(turns, "outbound") == 1


def test_content_tells_the_caller_without_metadata() -> None:
    outbound = [
        (0.5, "hello?"),
        (2.0, "hi my name is steven i'm calling you from the finance department"),
        (8.0, "who is this"),
        (10.0, "steven from acme finance"),
    ]
    assert _agent(outbound) == 1
    russian = [(0.5, "алло"), (2.0, "здравствуйте я звоню вам из отдела сопровождения клиентов")]
    assert _agent(russian) == 1
    chinese = [(0.5, "喂"), (1.5, "您好我是安信保险公司的客服打扰您一下")]
    assert _agent(chinese) == 1
    inbound = [
        (0.5, "thank you for calling acme how can i help"),
        (4.0, "hi i'm calling about my bill"),
    ]
    assert _agent(inbound) == 0


def test_a_broken_cue_file_is_a_coded_error(tmp_path: Path) -> None:
    bad = tmp_path / "cues.yaml"
    bad.write_text(
        CUES_PATH.read_text(encoding="utf-8").replace("    role: customer", "    role: caller", 1),
        encoding="utf-8",
    )
    with pytest.raises(ModelError, match=r"\[M022\] .*cues.yaml: invalid role cues: cues\.1\.role"):
        load_cues(str(bad))


def test_who_spoke_first_counts_only_when_the_transcript_starts_at_the_start() -> None:
    """Words lost at the start (a dropped phantom segment): nobody is known to have
    picked up, so the direction gives no point."""
    late = [(15.0, "yes sure"), (17.0, "good afternoon")]
    words, clusters = _words(*late)
    for direction in ("", "outbound"):
        options = DiarizeOptions(direction=direction)  # type: ignore[arg-type]
        assert role_scores(words, clusters, duration_s=60.0, options=options) == (0.0, 0.0)
    early = [(0.5, "yes sure"), (2.0, "good afternoon")]
    words, clusters = _words(*early)
    outbound = DiarizeOptions(direction="outbound")
    assert role_scores(words, clusters, duration_s=60.0, options=outbound) == (0.0, 1.0)


def test_on_an_outbound_call_the_voice_that_talks_most_outweighs_who_spoke_first() -> None:
    """Real telephone audio: the customer's "алло" lost in the agent's voice cluster, the
    agent's introduction misheard; the agent still does most of the talking."""
    turns = [
        (0.5, "здравствуйте"),
        (2.0, "я звонила мы заделали сопровождения клиента"),
        (6.0, "не буду"),
        (8.0, "для вас есть дополнительная скидка это будет полный курс на месяц"),
    ]
    assert _agent(turns) == 0  # no direction: who spoke first
    assert _agent(turns, "outbound") == 1
    balanced = [(0.5, "да"), (2.0, "добрый день"), (4.0, "слушаю")]
    assert _agent(balanced, "outbound") == 1  # no clear talker: the one who did not answer

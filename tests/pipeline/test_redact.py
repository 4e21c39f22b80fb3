from __future__ import annotations

import re

import pytest

from pipeline.errors import ConfigError
from pipeline.redact import Redaction, RedactOptions, redact_transcript
from pipeline.types import Transcript, Utterance, Word

CARD = "4532015112830366"  # Luhn-valid test Visa
CARD_BAD = "4532015112830367"  # one digit misheard: fails Luhn

NUMBER_WORDS = re.compile(
    r"\b(?:zero|oh|one|two|three|four|five|six|seven|eight|nine|double|triple|twenty|thirty"
    r"|forty|fifty|sixty|seventy|eighty|ninety|ноль|один|одна|два|две|три|четыре|пять|шесть"
    r"|семь|восемь|девять|сорок|двадцать|сто|девятьсот|шестнадцать)\b"
    r"|[0-9]|[零〇一二三四五六七八九幺两]",
    re.IGNORECASE,
)


def words_of(text: str, *, start_s: float = 0.0, step_s: float = 0.4) -> tuple[Word, ...]:
    """Whisper-like words: a leading space on each word, punctuation attached.

    Chinese has no spaces: each character is a word, and digits come in groups of up to 4.
    """
    if re.search(r"[\u4e00-\u9fff]", text):
        pieces = re.findall(r"[0-9]{1,4}|\S", text)
    else:
        pieces = [" " + p for p in text.split()]
    return tuple(
        Word(
            round(start_s + i * step_s, 3),
            round(start_s + i * step_s + step_s * 0.8, 3),
            p,
            round(0.99 - 0.01 * (i % 7), 2),
        )
        for i, p in enumerate(pieces)
    )


def utterance(
    text: str, *, speaker: str = "customer", start_s: float = 0.0, words: bool = True
) -> Utterance:
    ws = words_of(text, start_s=start_s) if words else ()
    end_s = ws[-1].end_s if ws else start_s + 0.3 * len(text.split())
    return Utterance(
        speaker=speaker,  # type: ignore[arg-type]
        start_s=start_s,
        end_s=end_s,
        text="".join(w.text for w in ws).strip() if ws else text,
        words=ws,
        channel=0 if speaker == "agent" else 1,
    )


def call(*utterances: Utterance, language: str = "en") -> Transcript:
    duration_s = max((u.end_s for u in utterances), default=0.0)
    return Transcript("call-1", language, duration_s, utterances)


def redact_one(
    text: str, *, words: bool = True, options: RedactOptions | None = None
) -> tuple[Utterance, tuple[Redaction, ...]]:
    kwargs = {} if options is None else {"options": options}
    out, spans = redact_transcript(call(utterance(text, words=words)), **kwargs)
    return out.utterances[0], spans


def redacted_as(
    kind: str, text: str, expected: str | None = None, *, options: RedactOptions | None = None
) -> Utterance:
    """``text`` redacted as one ``kind`` span, to the text ``expected`` when it is given."""
    u, spans = redact_one(text, options=options)
    assert [s.kind for s in spans] == [kind]
    if expected is not None:
        assert u.text == expected
    return u


def all_text(u: Utterance) -> str:
    return u.text + " || " + "".join(w.text for w in u.words)


def assert_consistent(u: Utterance) -> None:
    """The text is the redacted words joined, and words stay in time order."""
    if u.words:
        assert u.text == "".join(w.text for w in u.words).strip()
        starts = [w.start_s for w in u.words]
        assert starts == sorted(starts)


# --- cards -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Sure, it's 4532 0151 1283 0366.",
        "Yeah the number is 4532-0151-1283-0366, got it?",
        "it's 4532015112830366",
        "four five three two zero one five one one two eight three zero three six six",
        "okay four five three two, uh, zero one five one, um, one two eight three, zero three six six.",
        "four five three two oh one five double one two eight three oh three double six",
        "forty five thirty two oh one fifty one twelve eighty three oh three sixty six",
        "Four, five, three, two, zero, one, five, one, one, two, eight, three, zero, three, six, six.",
        "我的卡号是四五三二零一五一一二八三零三六六",
        "银行卡号是4532015112830366",
        "卡号四五三二，零一五一，一二八三，零三六六。",
        "номер карты четыре пять три два ноль один пять один один два восемь три ноль три шесть шесть",
        "Моя карта 4532 0151 1283 0366.",
        "Четыре пять три два, ноль один пять один, один два восемь три, ноль три шесть шесть.",
    ],
)
def test_card_numbers_are_redacted(text: str) -> None:
    u = redacted_as("CARD", text)
    assert "[CARD]" in u.text
    assert not NUMBER_WORDS.search(all_text(u)), all_text(u)
    assert sum("[CARD]" in w.text for w in u.words) == 1
    assert_consistent(u)


def test_chinese_card_keeps_the_cue_and_drops_only_the_digits() -> None:
    u, _ = redact_one("我的卡号是四五三二零一五一一二八三零三六六")
    assert u.text == "我的卡号是[CARD]"
    assert [w.text for w in u.words] == ["我", "的", "卡", "号", "是", "[CARD]"]


@pytest.mark.parametrize(
    "text",
    [
        f"my card number is {CARD_BAD[:4]} {CARD_BAD[4:8]} {CARD_BAD[8:12]} {CARD_BAD[12:]}",
        "the card is four five three two zero one five one one two eight three zero three six seven",
        f"卡号是{CARD_BAD}",
        f"номер карты {CARD_BAD}",
    ],
)
def test_luhn_failing_number_after_card_cue_is_a_card(text: str) -> None:
    u = redacted_as("CARD", text)
    assert not NUMBER_WORDS.search(all_text(u))


def test_luhn_failing_long_number_without_cue_is_still_redacted_by_default() -> None:
    text = f"uh yes {CARD_BAD[:4]} {CARD_BAD[4:8]} {CARD_BAD[8:12]} {CARD_BAD[12:]} right"
    redacted_as("NUMBER", text, "uh yes [NUMBER] right")
    kept, spans = redact_one(text, options=RedactOptions(long_number_digits=None))
    assert spans == ()
    assert kept.text == text


def test_a_card_read_in_groups_with_misheard_digits_is_still_a_card() -> None:
    """Beam search on a synthetic call heard "five" as "times" and "five" as "time": 11 of
    the 16 digits in one run, after "card number"; what is said next needs no cue."""
    out, spans = redact_transcript(
        call(
            utterance("Sure. What is the card number, please?", speaker="agent"),
            utterance("It is four times three two.", start_s=4.0),
            utterance("One eight seven six.", start_s=7.0),
            utterance("Four nine three two.", start_s=9.5),
            utterance("One time seven one.", start_s=12.0),
            utterance("In April 2028. And the Fick you already called in 814.", start_s=20.0),
        )
    )
    texts = [u.text for u in out.utterances[1:]]
    assert texts == [
        "It is four times [CARD].",
        "[CARD].",
        "[CARD].",
        # the card's last two digits, cut off by the misheard "time", said one by one
        # after the card: held as a code's remains are
        "[CARD] time [CVV].",
        "In [EXPIRY]. And the Fick you already called in [CVV].",
    ]
    assert {s.kind for s in spans} == {"CARD", "EXPIRY", "CVV"}


def test_card_expiry_and_code_read_in_one_breath_are_split() -> None:
    u, spans = redact_one(
        "four five three two zero one five one one two eight three zero three six six "
        "oh four twenty seven one two three"
    )
    assert [s.kind for s in spans] == ["CARD", "EXPIRY", "CVV"]
    assert u.text == "[CARD] [EXPIRY] [CVV]"


def test_card_read_over_three_utterances_is_redacted_in_each() -> None:
    parts = [
        utterance("It's 4532 0151,", start_s=0.0),
        utterance("mhm", speaker="agent", start_s=1.5),
        utterance("1283", start_s=2.0),
        utterance("0366.", start_s=3.0),
    ]
    out, spans = redact_transcript(call(*parts))
    assert [(s.utterance_index, s.kind) for s in spans] == [(0, "CARD"), (2, "CARD"), (3, "CARD")]
    assert [u.text for u in out.utterances] == ["It's [CARD],", "mhm", "[CARD]", "[CARD]."]


def test_number_split_over_utterances_far_apart_is_not_joined() -> None:
    parts = [utterance("I was born in 1984", start_s=0.0), utterance("2026 now", start_s=30.0)]
    out, spans = redact_transcript(call(*parts))
    assert spans == ()
    assert [u.text for u in out.utterances] == ["I was born in 1984", "2026 now"]


# --- security codes, expiry dates, one-time codes ------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("the security code is one two three", "the security code is [CVV]"),
        ("CVV is 123.", "CVV is [CVV]."),
        ("okay the three digits on the back are four five six", None),
        ("and the CVC, uh, 7 8 9", None),
        ("安全码是一二三", "安全码是[CVV]"),
        ("код безопасности три два один", "код безопасности [CVV]"),
        ("сививи 321", "сививи [CVV]"),
        ("one two three, that's the security code", "[CVV], that's the security code"),
    ],
)
def test_security_code_after_cue(text: str, expected: str | None) -> None:
    u = redacted_as("CVV", text, expected)
    assert not re.search(r"[0-9]|\b(?:one|two|three|four|five|six|seven|eight|nine)\b$", u.text)


def test_russian_card_details_in_one_utterance() -> None:
    u, spans = redact_one("карта 4532 0151 1283 0366, срок действия 04/27, код 123")
    assert u.text == "карта [CARD], срок действия [EXPIRY], код [CVV]"
    assert [s.kind for s in spans] == ["CARD", "EXPIRY", "CVV"]


def test_security_code_answered_in_the_next_utterance() -> None:
    out, spans = redact_transcript(
        call(
            utterance("And the three digits on the back of the card?", speaker="agent"),
            utterance("Uh, it's one two three.", start_s=4.0),
        )
    )
    assert [(s.utterance_index, s.kind) for s in spans] == [(1, "CVV")]
    assert out.utterances[0].text == "And the three digits on the back of the card?"
    assert out.utterances[1].text == "Uh, it's [CVV]."


def test_cue_does_not_carry_over_a_long_silence() -> None:
    out, spans = redact_transcript(
        call(
            utterance("What's the security code?", speaker="agent"),
            utterance("one two three", start_s=60.0),
        )
    )
    assert spans == ()
    assert out.utterances[1].text == "one two three"


@pytest.mark.parametrize(
    "text",
    [
        "expiry date is oh four twenty seven",
        "it expires 04/27",
        "expiration date April twenty twenty seven.",
        "valid thru zero four slash two seven",
        "有效期是二七年四月",
        "有效期2027年4月",
        "срок действия ноль четыре двадцать семь",
    ],
)
def test_expiry_dates_after_cue(text: str) -> None:
    u = redacted_as("EXPIRY", text)
    assert not NUMBER_WORDS.search(all_text(u)), all_text(u)
    assert "april" not in u.text.casefold() and "月" not in u.text


@pytest.mark.parametrize(
    "text",
    [
        "the verification code is 4 8 2 9 1 3",
        "我的验证码是482913",
        "код из смс 4829",
        "and my PIN is 1234",
    ],
)
def test_one_time_codes(text: str) -> None:
    u = redacted_as("CODE", text)
    assert not re.search(r"[0-9]", all_text(u))


# --- expiry dates and security codes after a card, with or without a cue ----------------------

CARD_READ = "four five three two zero one five one one two eight three zero three six six"


def after_a_card(*said: tuple[str, str, float], after_card_s: float = 60.0) -> list[str]:
    """Texts of a call where the customer reads a card at 0 s, then ``(speaker, text,
    start_s)`` utterances; each utterance's redacted text (the card's first)."""
    source = call(
        utterance(CARD_READ, start_s=0.0),
        *(utterance(text, speaker=who, start_s=at) for who, text, at in said),
    )
    out, _ = redact_transcript(source, options=RedactOptions(after_card_s=after_card_s))
    return [u.text for u in out.utterances]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("the security code is 814", "the security code is [CVV]"),  # with its cue
        (
            "And the Fick you're already called in 814",
            "And the Fick you're already called in [CVV]",
        ),
        ("uh it's eight one four", "uh it's [CVV]"),
        # the code misheard, its cue and first digit lost, "may" not a month: the two digits
        # said one by one are what is left of it
        (
            "And the Fick you already called in May 1-4",
            "And the Fick you already called in May [CVV]",
        ),
        ("uh one four", "uh [CVV]"),
        ("called in May 14", "called in May [CVV]"),  # a code heard as a date
        ("called in May, 14.", "called in May, [CVV]."),
        ("it's 1 uh 4", "it's [CVV]"),  # a pause or a filler between its digits
        ("one, uh, four", "[CVV]"),
        ("1... 4", "[CVV]"),
        ("it's 1. 4", "it's [CVV]"),
        ("the security code is 14", "the security code is [CVV]"),  # its first digit lost
        ("okay 3714 right", "okay [CVV] right"),  # 4 digits, not a month first: Amex CID
        ("oh four twenty seven", "[EXPIRY]"),
        ("it's 04 27", "it's [EXPIRY]"),
        ("April twenty seven", "[EXPIRY]"),
        ("April twenty twenty seven", "[EXPIRY]"),
        ("0427 814 and that's it", "[EXPIRY] [CVV] and that's it"),
        ("it was $1,500", "it was [CVV]"),  # an amount too, currency or not: the price
        ("that's 1500 dollars", "that's [CVV] dollars"),
    ],
)
def test_codes_said_after_a_card_are_redacted_with_or_without_a_cue(
    text: str, expected: str
) -> None:
    texts = after_a_card(("customer", text, 12.0))
    assert texts == ["[CARD]", expected]


def test_what_is_left_of_a_code_read_back_by_the_other_party_is_redacted_too() -> None:
    texts = after_a_card(("agent", "So that's 1-4?", 20.0))
    assert texts[1] == "So that's [CVV]?"


def test_the_other_party_saying_the_code_after_the_card_is_redacted_too() -> None:
    texts = after_a_card(
        ("agent", "Thank you. And the three numbers?", 10.0),
        ("customer", "Uh, yeah.", 13.0),
        ("agent", "So that's 814, right?", 20.0),
    )
    assert texts[1:] == [
        "Thank you. And the three numbers?",
        "Uh, yeah.",
        "So that's [CVV], right?",
    ]


def test_a_code_in_the_same_breath_as_the_card_after_a_word_is_redacted() -> None:
    u, spans = redact_one("my card is 4532 0151 1283 0366 and then 814")
    assert u.text == "my card is [CARD] and then [CVV]"
    assert [s.kind for s in spans] == ["CARD", "CVV"]


@pytest.mark.parametrize(
    "text",
    [
        "And the Fick you're already called in 814",
        "it's 04 27",
        "I called 3 times, ticket 4471",
    ],
)
def test_a_short_number_without_a_card_before_it_is_not_redacted(text: str) -> None:
    source = call(utterance("I want to pay my bill", speaker="agent"), utterance(text, start_s=3.0))
    out, spans = redact_transcript(source)
    assert spans == ()
    assert out == source


def test_a_short_number_before_the_card_is_not_redacted() -> None:
    source = call(
        utterance("my order was 814", start_s=0.0),
        utterance(CARD_READ, start_s=5.0),
    )
    out, spans = redact_transcript(source)
    assert [(s.utterance_index, s.kind) for s in spans] == [(1, "CARD")]
    assert out.utterances[0].text == "my order was 814"


def test_a_short_number_long_after_the_card_is_not_redacted() -> None:
    late = after_a_card(("customer", "and the Fick is 814", 75.0))
    assert late == ["[CARD]", "and the Fick is 814"]
    just_in = after_a_card(("customer", "and the Fick is 814", 55.0))
    assert just_in == ["[CARD]", "and the Fick is [CVV]"]
    # the card ends at 6.32 s: 814 said at 65.6 s is within 60 s of its end, not its start
    from_the_end = after_a_card(("customer", "and the Fick is 814", 64.0))
    assert from_the_end == ["[CARD]", "and the Fick is [CVV]"]
    shorter = after_a_card(("customer", "and the Fick is 814", 55.0), after_card_s=30.0)
    assert shorter == ["[CARD]", "and the Fick is 814"]


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        ("eight", "one four", ["[CVV]", "[CVV]"]),
        ("zero four", "twenty seven", ["[EXPIRY]", "[EXPIRY]"]),
        ("it's oh four", "twenty seven eight one four", ["it's [EXPIRY]", "[EXPIRY] [CVV]"]),
    ],
)
def test_a_code_read_over_two_utterances_after_a_card_is_joined(
    first: str, second: str, expected: list[str]
) -> None:
    texts = after_a_card(("customer", first, 10.0), ("customer", second, 11.0))
    assert texts[1:] == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # the code before the expiry (3-4 digits, then a month-first 4 or 6)
        ("814 0427", "[CVV] [EXPIRY]"),
        ("eight one four oh four twenty seven", "[CVV] [EXPIRY]"),
        ("3714 0427", "[CVV] [EXPIRY]"),
        ("814 042027", "[CVV] [EXPIRY]"),
        ("3714 12 27 and done", "[CVV] [EXPIRY] and done"),
        # a month name, then the year and the code in one run
        ("April 27 814", "[EXPIRY] [CVV]"),
        ("it's April twenty seven, eight one four", "it's [EXPIRY], [CVV]"),
        ("April 2027 3714", "[EXPIRY] [CVV]"),
        ("April 27 3714 thanks", "[EXPIRY] [CVV] thanks"),
    ],
)
def test_an_expiry_and_a_code_in_one_run_after_a_card_are_split_in_either_order(
    text: str, expected: str
) -> None:
    assert after_a_card(("customer", text, 12.0)) == ["[CARD]", expected]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("April, 2027", "[EXPIRY]"),
        ("it's April, uh, twenty seven.", "it's [EXPIRY]."),
    ],
)
def test_a_month_before_punctuation_still_makes_an_expiry(text: str, expected: str) -> None:
    assert after_a_card(("customer", text, 12.0)) == ["[CARD]", expected]
    u = redacted_as("EXPIRY", f"the expiry date is {text}")
    assert "april" not in u.text.casefold()


def test_a_code_read_back_in_an_utterance_that_began_before_the_card_is_redacted() -> None:
    agent = utterance(
        "okay go ahead I am writing it down now and then I will just read it back to you so 814 right",
        speaker="agent",
        start_s=0.0,
    )
    card = utterance(CARD_READ, start_s=0.5)
    out, spans = redact_transcript(call(agent, card))
    assert out.utterances[0].text.endswith("so [CVV] right")
    assert [(s.utterance_index, s.kind) for s in spans] == [(0, "CVV"), (1, "CARD")]


def test_a_later_card_opens_the_window_again() -> None:
    texts = after_a_card(
        ("customer", "no wait, the other card", 70.0),
        ("customer", CARD_READ, 80.0),
        ("customer", "and 814", 95.0),
    )
    assert texts[1:] == ["no wait, the other card", "[CARD]", "and [CVV]"]


# A card with one digit misheard (...1571 heard as ...1570): it fails Luhn, and with no card
# cue near it, it is a [NUMBER]. The agent's prompt names no card.
MISHEARD = {
    "en": ("Okay, go ahead whenever you're ready.", "Sure, it's 4532 1876 4932 1570."),
    "en-words": (
        "Okay, go ahead.",
        "four five three two one eight seven six four nine three two one five seven zero",
    ),
    "zh": ("好的，请说。", "四五三二一八七六四九三二一五七零"),
    "zh-digits": ("好的，请说。", "是4532187649321570。"),
    "ru": (
        "Диктуйте, я записываю.",
        "четыре пять три два один восемь семь шесть четыре девять три два один пять семь ноль",
    ),
    "ru-digits": ("Диктуйте.", "4532 1876 4932 1570."),
}
MISHEARD_TAGGED = {
    "en": "Sure, it's [NUMBER].",
    "zh-digits": "是[NUMBER]。",
    "ru-digits": "[NUMBER].",
}


def after_a_misheard_card(style: str, *said: tuple[str, float]) -> list[str]:
    """The customer's redacted texts in a call where the agent asks with no card cue, the
    customer reads a misheard card in ``style`` (at 2 s, over ~6 s), then ``(text, start_s)``."""
    prompt, card = MISHEARD[style]
    source = call(
        utterance(prompt, speaker="agent"),
        utterance(card, start_s=2.0),
        *(utterance(text, start_s=at) for text, at in said),
    )
    out, _ = redact_transcript(source)
    assert out.utterances[0] == source.utterances[0]
    assert out.utterances[1].text == MISHEARD_TAGGED.get(style, "[NUMBER]")
    return [u.text for u in out.utterances[2:]]


@pytest.mark.parametrize(
    ("style", "said", "expected"),
    [
        ("en", (("0427", 20.0), ("and 814", 30.0)), ["[EXPIRY]", "and [CVV]"]),
        ("en", (("814", 20.0), ("expiry 04 27", 30.0)), ["[CVV]", "expiry [EXPIRY]"]),
        ("en-words", (("oh four twenty seven eight one four", 20.0),), ["[EXPIRY] [CVV]"]),
        ("zh", (("零四二七", 20.0), ("八一四", 30.0)), ["[EXPIRY]", "[CVV]"]),
        ("zh-digits", (("0427", 20.0), ("最后是814", 30.0)), ["[EXPIRY]", "最后是[CVV]"]),
        (
            "ru",
            (("ноль четыре двадцать семь", 20.0), ("восемьсот четырнадцать", 30.0)),
            ["[EXPIRY]", "[CVV]"],
        ),
        ("ru-digits", (("04/27", 20.0), ("и 814", 30.0)), ["[EXPIRY]", "и [CVV]"]),
    ],
)
def test_a_misheard_card_opens_the_window_for_its_expiry_and_code(
    style: str, said: tuple[tuple[str, float], ...], expected: list[str]
) -> None:
    assert after_a_misheard_card(style, *said) == expected


@pytest.mark.parametrize("style", ["en", "en-words", "zh", "zh-digits", "ru", "ru-digits"])
def test_a_short_number_long_after_a_misheard_card_is_not_redacted(style: str) -> None:
    code = {"zh": "八一四", "ru": "восемьсот четырнадцать"}.get(style[:2], "814")
    assert after_a_misheard_card(style, (code, 75.0)) == [code]


def test_a_misheard_card_read_over_utterances_opens_the_window() -> None:
    out, spans = redact_transcript(
        call(
            utterance("It's 4532 1876,", start_s=0.0),
            utterance("4932 1570.", start_s=2.0),
            utterance("and 814", start_s=10.0),
        )
    )
    assert [u.text for u in out.utterances] == ["It's [NUMBER],", "[NUMBER].", "and [CVV]"]
    assert [s.kind for s in spans] == ["NUMBER", "NUMBER", "CVV"]


def test_a_misheard_card_keeps_its_window_when_more_digits_are_read_on() -> None:
    out, _ = redact_transcript(
        call(
            utterance("It's 4532 1876 4932 1570,", start_s=0.0),
            utterance("00000.", start_s=3.0),  # 21 digits joined: no expiry's shape
            utterance("and 814", start_s=10.0),
        )
    )
    assert [u.text for u in out.utterances] == ["It's [NUMBER],", "[NUMBER].", "and [CVV]"]


@pytest.mark.parametrize(
    ("number", "opens"),
    [
        ("my account is 4081 7810 0999 1001", True),  # 16 digits: maybe a card (the price)
        ("it's 4532 1876 4932 1", True),  # 13 digits, fails Luhn: the shortest card
        ("it's 4532 1876 4932 1570 123", True),  # 19 digits, fails Luhn: the longest card
        ("счет 40817810038854214304", False),  # 20 digits: a Russian account, no card's length
        ("счет 40702810500000018765", False),  # 20 digits from a 4, no expiry after 13 or 16
        ("the order is 1234 5678 9012", False),  # 12 digits: not even a [NUMBER]
    ],
)
def test_only_a_long_number_of_a_cards_length_opens_the_window(number: str, opens: bool) -> None:
    out, _ = redact_transcript(call(utterance(number), utterance("1500.", start_s=20.0)))
    assert out.utterances[1].text == ("[CVV]." if opens else "1500.")


# A misheard card read on with its expiry is one [NUMBER] of 20 digits (16 + MMYY), in one
# breath or joined over turns; the code said next must not stay in clear.
CARD_THEN_EXPIRY = {
    "en": ("Okay, go ahead.", ("Sure, it's 4532 1876 4932 1570, 04/27.",), "and 814"),
    "en-uh-huh": ("Okay, go ahead.", ("Sure, it's 4532 1876 4932 1570,", "04/27."), "and 814"),
    "en-words": (
        "Okay, go ahead.",
        (
            "four five three two one eight seven six four nine three two one five seven zero"
            " oh four twenty seven",
        ),
        "eight one four",
    ),
    "ru": ("Диктуйте.", ("4532 1876 4932 1570, 04/27.",), "и 814."),
    "zh": ("好的，请说。", ("是4532187649321570，0427。",), "八一四"),
}


@pytest.mark.parametrize("style", sorted(CARD_THEN_EXPIRY))
def test_a_misheard_card_read_with_its_expiry_opens_the_window(style: str) -> None:
    prompt, card, code = CARD_THEN_EXPIRY[style]
    said = [utterance(prompt, speaker="agent"), utterance(card[0], start_s=2.0)]
    if len(card) > 1:  # the agent's "uh huh" between card and expiry
        said += [utterance("uh huh", speaker="agent", start_s=4.5), utterance(card[1], start_s=5.5)]
    language = {"ru": "ru", "zh": "zh"}.get(style, "en")
    source = call(*said, utterance(code, start_s=20.0), language=language)
    out, _ = redact_transcript(source)
    texts = [u.text for u in out.utterances]
    assert all(re.search(r"[0-9]", t) is None for t in texts[1:-1] if t != "uh huh")
    assert texts[-1] == {"八一四": "[CVV]", "eight one four": "[CVV]"}.get(
        code, code.replace("814", "[CVV]")
    )


# A Chinese resident ID: 6-digit region, YYYYMMDD birth date, 3 digits, an ISO 7064 check
# digit (0-9 or X). Read in nearly every Chinese identity check, it is no card: the amount
# said next stays in clear, though the ID itself is redacted.
@pytest.mark.parametrize(
    ("number", "opens"),
    [
        ("440304198511201235", False),  # a valid ID, a [NUMBER]
        ("110105199003074579", False),  # a valid ID whose digits happen to pass Luhn in part
        ("11010519900307451X", False),  # a valid ID ending in X
        ("440304198511201234", True),  # the check digit is wrong: maybe a misheard card
        ("440304198513201230", True),  # no 13th month: maybe a misheard card
    ],
)
def test_a_chinese_resident_id_does_not_open_the_window(number: str, opens: bool) -> None:
    source = call(
        utterance(f"身份证号是{number}。"), utterance("一共1500元。", start_s=20.0), language="zh"
    )
    out, _ = redact_transcript(source)
    assert re.search(r"[0-9]", out.utterances[0].text) is None
    assert out.utterances[1].text == ("一共[CVV]元。" if opens else "一共1500元。")


@pytest.mark.parametrize(
    "text",
    [
        "I have three kids",  # one digit
        "it's 12 of them",  # two digits, no month before them, said as one number
        "twenty five of them",
        "one or two of them",
        "a new card is with you in 3-5 business days",  # a range with its unit
        "about 1.5 hours",  # a decimal
        "1/2",
        "your new card arrives in 7-10 business days",  # a range with its unit, any length
        "it takes 10-14 business days",
        "within 24-48 hours",
        "in 2-3 more days",
        "3-5, business days",
        "version 2.0",
        "это займёт 3-5 рабочих дней",
        "需要3-5个工作日",
        "the reference is 90210",  # five digits: neither an expiry nor a code
        "you can reach me on +1 415 555 0132.",  # a phone stays a phone
    ],
)
def test_after_a_card_only_what_fits_an_expiry_or_a_code_is_taken(text: str) -> None:
    texts = after_a_card(("customer", text, 12.0))
    assert "[CVV]" not in texts[1] and "[EXPIRY]" not in texts[1]


def test_after_card_zero_needs_a_cue_and_a_negative_window_is_a_config_error() -> None:
    assert after_a_card(("customer", "and 814", 12.0), after_card_s=0.0) == ["[CARD]", "and 814"]
    with pytest.raises(ConfigError, match=r"\[C046\].*-1"):
        RedactOptions(after_card_s=-1.0)


# --- a digit heard as a word ("to" for 2, "for" for 4, "ate" for 8, "won" for 1) ------------

CARD_TO = "4532218764932155"  # Luhn-valid; its fifth digit, 2, heard as "to"
CARD_TO_BAD = "4532218764932150"  # the same with its last digit misheard: fails Luhn


@pytest.mark.parametrize(
    "text",
    [
        "four five three two to one eight seven six four nine three two one five five",
        "four five three two too one eight seven six four nine three two one five five",
        "it's four five three two one eight seven six for nine three two one five seven one",
        "four five three two one ate seven six four nine three two one five seven one",
        "four five three two won eight seven six four nine three two one five seven one.",
        "4532 to 187 6493 2155",  # Whisper mixes digits and words
        "4532, to 187, 6493, 2155",
        "45321876 for 9321571",
    ],
)
def test_a_digit_heard_as_a_word_inside_a_card_is_part_of_it(text: str) -> None:
    u = redacted_as("CARD", text)
    assert not NUMBER_WORDS.search(all_text(u)), all_text(u)
    assert not re.search(r"\b(?:to|too|for|ate|won)\b", u.text), u.text
    assert_consistent(u)


@pytest.mark.parametrize(
    ("card", "tagged"),
    [
        ("Sure, it's 4532 to 187 6493 2155.", "Sure, it's [CARD]."),
        ("four five three two to one eight seven six four nine three two one five five", "[CARD]"),
        ("Sure, it's 4532 to 187 6493 2150.", "Sure, it's [NUMBER]."),  # misheard: fails Luhn
        (
            "four five three two to one eight seven six four nine three two one five zero",
            "[NUMBER]",
        ),
    ],
)
def test_a_card_with_a_digit_heard_as_a_word_opens_the_window(card: str, tagged: str) -> None:
    source = call(
        utterance("Okay, go ahead.", speaker="agent"),
        utterance(card, start_s=2.0),
        utterance("and 814", start_s=12.0),
    )
    out, _ = redact_transcript(source)
    assert [u.text for u in out.utterances[1:]] == [tagged, "and [CVV]"]


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        # the word in the first part: 8 digits there, 16 with the next turn
        (("It's 4532 to 187,", "6493 2155."), ["It's [CARD],", "[CARD]."]),
        # in the last part, and in a middle part
        (("4532 2187", "6493 to 155."), ["[CARD]", "[CARD]."]),
        (("4532 218", "76 for 932", "155"), ["[CARD]", "[CARD]", "[CARD]"]),
        # misheard: a [NUMBER] of a card's length, which opens the window
        (("It's 4532 to 187,", "6493 2150."), ["It's [NUMBER],", "[NUMBER]."]),
    ],
)
def test_a_digit_heard_as_a_word_in_a_card_read_over_utterances(
    said: tuple[str, ...], expected: list[str]
) -> None:
    parts = [utterance(text, start_s=2.5 * i) for i, text in enumerate(said)]
    out, _ = redact_transcript(call(*parts, utterance("and 814", start_s=20.0)))
    assert [u.text for u in out.utterances] == [*expected, "and [CVV]"]


def test_a_homophone_before_a_number_read_on_in_the_next_turn_needs_a_cards_length() -> None:
    source = call(utterance("it's 40 to 50,", start_s=0.0), utterance("2026.", start_s=2.0))
    out, spans = redact_transcript(source)
    assert spans == () and out == source


def test_a_code_and_an_expiry_around_a_homophone_stay_apart_after_a_card() -> None:
    texts = after_a_card(("customer", "it's 3714 for 0427", 12.0))
    assert texts == ["[CARD]", "it's [CVV] for [EXPIRY]"]


# --- a card read slowly, a pause longer than join_gap_s between its groups ------------------


def read_slowly(*groups: str, pause_s: float, start_s: float = 2.0) -> list[Utterance]:
    """The customer's utterances, one per group, each group ~1.4 s, ``pause_s`` between."""
    said: list[Utterance] = []
    for group in groups:
        said.append(utterance(group, start_s=start_s))
        start_s = said[-1].end_s + pause_s
    return said


GO_AHEAD = ("agent", "Okay, go ahead.")
CARD_CUES = [
    ("customer", "My card number is"),
    ("agent", "Can I have the card number, please?"),
]


def read_slowly_then_code(prompt: tuple[str, str], *groups: str, pause_s: float) -> list[Utterance]:
    """A call: ``prompt`` (speaker, text), the customer reading ``groups`` with ``pause_s``
    between them, then "and 814" 5 s later; the redacted utterances after the prompt."""
    said = read_slowly(*groups, pause_s=pause_s)
    source = call(
        utterance(prompt[1], speaker=prompt[0]),
        *said,
        utterance("and 814", start_s=said[-1].end_s + 5.0),
    )
    out, _ = redact_transcript(source)
    return list(out.utterances[1:])


@pytest.mark.parametrize("pause_s", [4.0, 9.0])
def test_a_card_read_slowly_in_groups_of_four_is_joined(pause_s: float) -> None:
    said = read_slowly("4532", "0151.", "1283,", "0366", pause_s=pause_s)
    source = call(
        utterance("Okay, go ahead.", speaker="agent"),
        *said,
        utterance("and 814", start_s=said[-1].end_s + 5.0),
    )
    out, spans = redact_transcript(source)
    assert [u.text for u in out.utterances[1:]] == [
        "[CARD]",
        "[CARD].",
        "[CARD],",
        "[CARD]",
        "and [CVV]",
    ]
    assert [s.kind for s in spans] == ["CARD"] * 4 + ["CVV"]


def test_a_misheard_card_read_slowly_after_a_card_cue_is_joined() -> None:
    said = read_slowly(CARD_BAD[:4], CARD_BAD[4:8], CARD_BAD[8:12], CARD_BAD[12:], pause_s=5.0)
    source = call(
        utterance("Can I have the card number, please?", speaker="agent"),
        *said,
        utterance("and 814", start_s=said[-1].end_s + 5.0),
    )
    out, _ = redact_transcript(source)
    assert [u.text for u in out.utterances[1:]] == ["[CARD]"] * 4 + ["and [CVV]"]


def test_an_amex_read_slowly_after_a_card_cue_is_joined() -> None:
    """Read 4-6-5, as an American Express card is: not groups of four, a card all the same
    after a card cue (each group alone is too short to be anything and stayed in clear)."""
    said = read_slowly("3782", "822463", "10005", pause_s=4.0)
    source = call(
        utterance("Can I have the long number on the card, please?", speaker="agent"),
        *said,
        utterance("and the back is 737", start_s=said[-1].end_s + 3.0),
    )
    out, _ = redact_transcript(source)
    assert [u.text for u in out.utterances[1:]] == ["[CARD]"] * 3 + ["and the back is [CVV]"]


@pytest.mark.parametrize("pause_s", [4.0, 9.0])
@pytest.mark.parametrize(
    "groups",
    [
        (CARD_BAD[:4], CARD_BAD[4:8], CARD_BAD[8:12], CARD_BAD[12:]),
        (CARD_BAD[:8], CARD_BAD[8:]),
        (f"it's {CARD_BAD[:4]}", CARD_BAD[4:12], f"{CARD_BAD[12:]}, that's it"),
    ],
)
def test_a_misheard_card_read_slowly_without_a_cue_is_joined(
    groups: tuple[str, ...], pause_s: float
) -> None:
    """Groups of four, 16 digits in all, read over pauses by one party: a card whatever Luhn
    says (one misheard digit fails it), so a [NUMBER] that opens the after-card window."""
    texts = [u.text for u in read_slowly_then_code(GO_AHEAD, *groups, pause_s=pause_s)]
    assert not any(re.search(r"[0-9]", t) for t in texts[:-1]), texts
    assert texts[-1] == "and [CVV]"


@pytest.mark.parametrize(
    "groups",
    [
        ("415", "555", "0132"),  # a phone read 3-3-4
        ("0207", "946", "0958"),  # and 4-3-4
        ("the order is 1234", "5678", "9012"),  # 12 digits in fours: no card's length
        ("2019", "2020", "1500"),  # years and an amount
        ("4532", "0151", "1283", "036"),  # 15 digits: not four groups of four
    ],
)
def test_numbers_read_slowly_without_a_cue_that_are_not_four_groups_of_four_stay_apart(
    groups: tuple[str, ...],
) -> None:
    source = call(utterance(GO_AHEAD[1], speaker="agent"), *read_slowly(*groups, pause_s=5.0))
    out, spans = redact_transcript(source)
    assert out == source and spans == ()


@pytest.mark.parametrize("pause_s", [1.0, 5.0])
@pytest.mark.parametrize(
    "groups",
    [
        # 4532 2187 6493 2155: a group that starts with a digit heard as a word
        ("four five three two", "to one eight seven", "six four nine three", "two one five five"),
        ("4532", "to 187", "6493", "2155"),
        # 4532 1872 6493 2157: a group that ends with one
        ("4532", "187 to", "6493", "2157"),
        # 4532 1287 6493 2156: one inside a group
        ("4532", "1 to 87", "6493", "2156"),
        # 4532 4532 1876 4934: "for" at a number's edge
        ("4532", "for 532", "1876", "4934"),
    ],
)
def test_a_digit_heard_as_a_word_in_a_card_read_slowly(
    groups: tuple[str, ...], pause_s: float
) -> None:
    said = read_slowly_then_code(GO_AHEAD, *groups, pause_s=pause_s)
    assert [u.text for u in said] == ["[CARD]"] * 4 + ["and [CVV]"]
    for u in said[:4]:
        assert not re.search(r"\b(?:to|for)\b", all_text(u)), all_text(u)
        assert_consistent(u)


def test_a_misheard_card_read_slowly_with_a_digit_heard_as_a_word_after_a_card_cue() -> None:
    said = read_slowly_then_code(CARD_CUES[1], "4532", "to 187", "6493", "2150", pause_s=5.0)
    assert [u.text for u in said] == ["[CARD]"] * 4 + ["and [CVV]"]  # 2150: fails Luhn


@pytest.mark.parametrize("pause_s", [1.0, 5.0])
@pytest.mark.parametrize(
    "said",
    [
        ("to 50 dollars",),  # a card is done at 16 digits: what follows is words
        ("for 2 of them",),
        ("40 to 50 dollars",),
        ("the 4 for 2 offer",),
    ],
)
def test_a_word_like_a_digit_after_a_card_read_slowly_stays_a_word(
    said: tuple[str, ...], pause_s: float
) -> None:
    """Said 4 s after the card (within ``join_gap_s`` a number is read on as the card's)."""
    cards = read_slowly("4532", "0151", "1283", "0366", pause_s=pause_s)
    source = call(*cards, *read_slowly(*said, pause_s=0.0, start_s=cards[-1].end_s + 4.0))
    out, _ = redact_transcript(source)
    assert [u.text for u in out.utterances] == ["[CARD]"] * 4 + list(said)


@pytest.mark.parametrize(
    "said",
    [
        ("the order is 1234", "for 2 of them"),  # too short for a card, even joined
        ("40", "to 50 dollars"),
        ("my phone is 415 555 0132", "to confirm"),
    ],
)
def test_a_word_like_a_digit_at_a_short_numbers_edge_stays_a_word(said: tuple[str, ...]) -> None:
    source = call(*read_slowly(*said, pause_s=1.0))
    out, _ = redact_transcript(source)
    assert [u.text for u in out.utterances] == [t.replace("415 555 0132", "[PHONE]") for t in said]


@pytest.mark.parametrize("pause_s", [14.0, 25.0])
@pytest.mark.parametrize(("who", "cue"), CARD_CUES)
@pytest.mark.parametrize("card", [CARD, CARD_BAD])
def test_a_card_read_slowly_after_a_card_cue_is_joined_as_long_as_the_cue_carries(
    pause_s: float, who: str, cue: str, card: str
) -> None:
    """The cue carries over up to ``cue_carry_s`` (30 s) of silence, so the join after it
    does too: groups read 14 s apart stayed in clear when it stopped at 10 s."""
    groups = (card[:4], card[4:8], card[8:12], card[12:])
    said = read_slowly_then_code((who, cue), *groups, pause_s=pause_s)
    assert [u.text for u in said] == ["[CARD]"] * 4 + ["and [CVV]"]


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        # the card's groups more than cue_carry_s apart: the cue is gone, nothing is joined
        (("4532", "0151", "1283", "0366"), ["4532", "0151", "1283", "0366"]),
    ],
)
def test_the_join_after_a_card_cue_ends_with_the_cues_carry(
    said: tuple[str, ...], expected: list[str]
) -> None:
    source = call(utterance(CARD_CUES[0][1]), *read_slowly(*said, pause_s=31.0))
    out, spans = redact_transcript(source)
    assert [u.text for u in out.utterances[1:]] == expected
    assert spans == ()


@pytest.mark.parametrize(
    ("said", "pause_s", "expected"),
    [
        # a phone named as one, then a date of birth: a phone is read whole, never a card's group
        (
            ("my phone is 415 555 0132", "01 12 88"),
            14.0,
            ["my phone is [PHONE]", "01 12 88"],
        ),
        # an order number, then an amount: too short to be a card, even joined
        (
            ("the order is 90210", "40 to 50 dollars"),
            14.0,
            ["the order is 90210", "40 to 50 dollars"],
        ),
        # the card read whole, then an order number and an amount: a card is done at 16
        (
            (f"it's {CARD}", "order 90210", "1500 dollars"),
            14.0,
            ["it's [CARD]", "order 90210", "[CVV] dollars"],  # [CVV]: the after-card window
        ),
        # the card read slowly, then the same: the card joined over the pauses answers the
        # cue as one read whole does, so what follows is not joined into another card
        *(
            (
                ("4532", "0151", "1283", "0366", "order 90210", "1500 dollars"),
                pause_s,
                ["[CARD]", "[CARD]", "[CARD]", "[CARD]", "order 90210", "[CVV] dollars"],
            )
            for pause_s in (5.0, 14.0)
        ),
    ],
)
def test_numbers_said_apart_after_a_card_cue_stay_what_they_are(
    said: tuple[str, ...], pause_s: float, expected: list[str]
) -> None:
    """What the party says over the cue's carry that is no card's group stays as it was."""
    source = call(utterance(CARD_CUES[1][1], speaker="agent"), *read_slowly(*said, pause_s=pause_s))
    out, _ = redact_transcript(source)
    assert [u.text for u in out.utterances[1:]] == expected


@pytest.mark.parametrize(
    ("groups", "pause_s", "prompt"),
    [
        # a phone, then a date of birth: 16 digits that pass Luhn, not in groups of four
        (("my number is 415 555 0132", "01 12 88"), 6.0, "Okay, go ahead."),
        # a card's groups, but over a pause longer than card_join_gap_s
        (("4532", "0151", "1283", "0366"), 11.0, "Okay, go ahead."),
    ],
)
def test_numbers_a_long_pause_apart_are_not_joined_unless_they_make_a_card(
    groups: tuple[str, ...], pause_s: float, prompt: str
) -> None:
    source = call(utterance(prompt, speaker="agent"), *read_slowly(*groups, pause_s=pause_s))
    out, spans = redact_transcript(source)
    assert "CARD" not in {s.kind for s in spans}
    assert "NUMBER" not in {s.kind for s in spans}
    assert out.utterances[-1] == source.utterances[-1]  # the last group stays in clear


# --- phones -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("you can reach me on +1 415 555 0132.", "you can reach me on [PHONE]."),
        ("my number is four one five five five five zero one three two", "my number is [PHONE]"),
        ("call me at (415) 555-0132 tomorrow", "call me at [PHONE] tomorrow"),
        ("It's plus four four two oh seven nine four six oh nine five eight.", "It's [PHONE]."),
        ("我的手机号是13812345678", "我的手机号是[PHONE]"),
        ("电话一三八一二三四五六七八", "电话[PHONE]"),
        (
            "мой телефон восемь девятьсот шестнадцать сто двадцать три сорок пять шестьдесят семь",
            "мой телефон [PHONE]",
        ),
        ("Запишите: 8 916 123-45-67.", "Запишите: [PHONE]."),
    ],
)
def test_phone_numbers(text: str, expected: str) -> None:
    u = redacted_as("PHONE", text, expected)
    assert not NUMBER_WORDS.search(all_text(u).replace("[PHONE]", ""))


def test_oh_before_a_number_is_not_a_zero() -> None:
    redacted_as("PHONE", "Oh, 4155550132 is my cell", "Oh, [PHONE] is my cell")


def test_phone_cue_redacts_a_number_phonenumbers_rejects() -> None:
    redacted_as("PHONE", "my phone is 123 4567 89", "my phone is [PHONE]")


# --- e-mails and configured patterns ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("it's john.smith@gmail.com.", "it's [EMAIL]."),
        ("my email is john dot smith at gmail dot com", "my email is [EMAIL]"),
        ("send it to j underscore smith 42 at example dot co dot uk please", None),
        ("John.Smith at Gmail.com, thanks", "[EMAIL], thanks"),
        ("почта иван точка петров собака яндекс точка ру", "почта [EMAIL]"),
        ("我的邮箱是zhangsan@qq.com", "我的邮箱是[EMAIL]"),
    ],
)
def test_emails(text: str, expected: str | None) -> None:
    u = redacted_as("EMAIL", text, expected)
    for secret in ("smith", "gmail", "петров", "zhangsan", "john"):
        assert secret not in all_text(u).casefold()


def test_sub_word_pieces_are_glued_before_number_words_are_read() -> None:
    # Whisper cuts Latin words inside Chinese speech into pieces: "some" + "one" is not "some 1".
    pieces = ["邮", "箱", "是", "some", "one", "@", "example", ".", "com", "。"]
    words = tuple(Word(i * 0.2, i * 0.2 + 0.15, p, 0.9) for i, p in enumerate(pieces))
    source = call(Utterance("customer", 0.0, 2.0, "".join(pieces), words), language="zh")
    out, spans = redact_transcript(source)
    assert out.utterances[0].text == "邮箱是[EMAIL]。"
    assert [s.kind for s in spans] == ["EMAIL"]
    assert (spans[0].start_s, spans[0].end_s) == (words[3].start_s, words[8].end_s)


def test_configured_pattern() -> None:
    options = RedactOptions(patterns=(("ACCOUNT", r"\bACC-\d{6,}\b"),))
    text = "my account is ACC-0042137, thanks"
    redacted_as("ACCOUNT", text, "my account is [ACCOUNT], thanks", options=options)
    untouched, none = redact_one(text)
    assert none == () and untouched.text == text


@pytest.mark.parametrize(
    ("patterns", "code"),
    [
        ((("account", r"\d+"),), "C030"),
        ((("ACCOUNT", r"(\d+"),), "C031"),
    ],
)
def test_bad_patterns_are_config_errors(patterns: tuple[tuple[str, str], ...], code: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(f"[{code}]")):
        RedactOptions(patterns=patterns)


def test_unknown_phone_region_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"\[C032\].*'XX'"):
        RedactOptions(phone_regions=("US", "XX"))


# --- times, records, untouched text -----------------------------------------------------------


def test_tag_word_spans_exactly_the_covered_words() -> None:
    before = utterance("Sure, it's 4532 0151 1283 0366. Anything else?", start_s=12.0)
    out, spans = redact_transcript(call(utterance("hello", speaker="agent"), before))
    after = out.utterances[1]
    covered = before.words[2:6]
    tag = after.words[2]
    assert tag == Word(
        start_s=covered[0].start_s,
        end_s=covered[-1].end_s,
        text=" [CARD].",
        probability=min(w.probability for w in covered),
    )
    assert after.words[:2] == before.words[:2]
    assert after.words[3:] == before.words[6:]
    assert (after.start_s, after.end_s, after.speaker, after.channel) == (
        before.start_s,
        before.end_s,
        before.speaker,
        before.channel,
    )
    assert spans == (Redaction("call-1", 1, "CARD", covered[0].start_s, covered[-1].end_s),)
    assert out.utterances[0] == call(utterance("hello", speaker="agent")).utterances[0]


def test_records_hold_no_sensitive_text() -> None:
    _, spans = redact_one("my card number is 4532 0151 1283 0366 and my phone is 415 555 0132")
    assert [s.kind for s in spans] == ["CARD", "PHONE"]
    assert set(Redaction.__dataclass_fields__) == {
        "call_id",
        "utterance_index",
        "kind",
        "start_s",
        "end_s",
    }
    for span in spans:
        assert span.call_id == "call-1" and span.kind in ("CARD", "PHONE")
        assert 0.0 <= span.start_s < span.end_s


def test_utterance_without_words_is_redacted_in_its_text() -> None:
    u, spans = redact_one(
        "card 4532 0151 1283 0366, expiry 04/27, CVV 123, phone +1 415 555 0132", words=False
    )
    assert u.words == ()
    assert u.text == "card [CARD], expiry [EXPIRY], CVV [CVV], phone [PHONE]"
    assert [s.kind for s in spans] == ["CARD", "EXPIRY", "CVV", "PHONE"]
    assert all((s.start_s, s.end_s) == (u.start_s, u.end_s) for s in spans)


def test_chinese_text_without_words() -> None:
    u, spans = redact_one("您好，我的手机号是13812345678，卡号是4532015112830366。", words=False)
    assert u.text == "您好，我的手机号是[PHONE]，卡号是[CARD]。"
    assert [s.kind for s in spans] == ["PHONE", "CARD"]


def test_text_that_differs_from_the_words_is_redacted_on_its_own() -> None:
    base = utterance("my card is 4532 0151 1283 0366")
    edited = Utterance(
        base.speaker, base.start_s, base.end_s, "My card is 4532-0151-1283-0366.", base.words
    )
    out, spans = redact_transcript(call(edited))
    assert out.utterances[0].text == "My card is [CARD]."
    assert [w.text for w in out.utterances[0].words] == [" my", " card", " is", " [CARD]"]
    assert [s.kind for s in spans] == ["CARD"]


@pytest.mark.parametrize(
    "text",
    [
        "I've been a customer for 15 years",
        "it's 2026",
        "call me back in 5 minutes",
        "I have three kids",
        "order 123",
        "I paid $1,299.99 on March 3rd, 2024",
        "from 2019 to 2023 we had two lines, 555 minutes each",
        "oh okay, one moment please, let me check",
        "there were 3 of us at 10:30 and then 4 more",
        "the code didn't work at all",
        "the card was declined twice",
        "Can you double check the account?",
        "我在这里工作了十五年，一共两张卡",
        "я клиент уже пятнадцать лет, у меня две карты",
        "подождите одну минуту",
        # a word Whisper may write for a digit, between numbers too short to be a card
        "I want to pay 40 to 50 dollars",
        "the 4 for 2 offer",
        "I want to pay forty to fifty dollars",
        "from 2019 to 2023 I paid 1500 for 2 lines",
        "I ate 2 and won 3",
        "my card was charged 1500 to 2000 dollars",  # a card cue, but 9 digits with the word
    ],
)
def test_ordinary_text_is_untouched(text: str) -> None:
    source = call(utterance(text))
    out, spans = redact_transcript(source)
    assert spans == ()
    assert out == source


def test_many_utterances_get_their_own_indices() -> None:
    source = call(
        utterance("Thanks for calling, how can I help?", speaker="agent"),
        utterance("I want to pay my bill", start_s=3.0),
        utterance("Can I have the long number on the card?", speaker="agent", start_s=6.0),
        utterance(
            "four five three two zero one five one one two eight three zero three six six",
            start_s=9.0,
        ),
        utterance("And the expiry?", speaker="agent", start_s=17.0),
        utterance("oh four twenty seven", start_s=18.5),
        utterance("my email is jane at example dot com", start_s=21.0),
    )
    out, spans = redact_transcript(source)
    assert [(s.utterance_index, s.kind) for s in spans] == [
        (3, "CARD"),
        (5, "EXPIRY"),
        (6, "EMAIL"),
    ]
    assert out.utterances[:3] == source.utterances[:3]
    assert [u.text for u in out.utterances[3:]] == [
        "[CARD]",
        "And the expiry?",
        "[EXPIRY]",
        "my email is [EMAIL]",
    ]
    for u in out.utterances:
        assert_consistent(u)

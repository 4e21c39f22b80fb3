"""``earmark rubric tune``: a threshold for a target precision, from a data engineer's labels."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from flows.cli import main
from pipeline.rubric.tune import pick_threshold

ROOT = Path(__file__).resolve().parents[2]
RUBRIC = ROOT / "rubrics" / "en" / "inbound-support.yaml"

LINES = [
    ("I'm done with you people, every month the bill is wrong.", True),
    ("Seriously, this is the worst support I have ever had.", True),
    ("I have asked four times and still nobody has sorted it out.", True),
    ("Forget it, I'm moving my account to your competitor.", True),
    ("你们公司的服务真让人失望，太差劲了。", True),
    ("Это уже ни в какие ворота, сколько можно ждать!", True),
    ("Could you tell me when the engineer is coming?", False),
    ("I'd like to add my wife to the account.", False),
    ("Is there a cheaper plan with the same speed?", False),
    ("Okay, that sounds good, thank you.", False),
    ("请问我的快递什么时候到？", False),
    ("Подскажите, как оплатить счёт картой?", False),
]


def _labels(tmp_path: Path) -> Path:
    path = tmp_path / "labels.jsonl"
    path.write_text(
        "\n".join(
            json.dumps({"text": t, "speaker": "customer", "present": y}, ensure_ascii=False)
            for t, y in LINES
        ),
        encoding="utf-8",
    )
    return path


def _tune_dissatisfaction(labels: Path) -> list[str]:
    rubric = ["--rubric", str(RUBRIC), "--labels", str(labels), "--precision", "1.0"]
    return ["rubric", "tune", "customer_dissatisfaction", *rubric]


def test_tune_proposes_a_threshold_that_keeps_the_precision(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(_tune_dissatisfaction(_labels(tmp_path)))
    out = capsys.readouterr().out
    assert code == 0, out
    assert "6 labelled present, 6 absent" in out
    proposed = next(line for line in out.splitlines() if "proposed threshold" in line)
    assert "P 1.000" in proposed
    assert float(proposed.split("R ")[1].split()[0]) >= 0.5  # meaning finds most of them


def test_an_item_without_meaning_cannot_be_tuned(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["rubric", "tune", "greeting", "--rubric", str(RUBRIC), "--labels", str(_labels(tmp_path))]
    )
    assert code == 2
    assert "[R012]" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ('{"text": "hi", "present": "yes"}', "'present' must be true or false"),
        ("present: yes", "not JSON"),
        ('["hi", true]', "expected a JSON object, got list"),
    ],
)
def test_a_bad_label_line_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], line: str, why: str
) -> None:
    labels = tmp_path / "bad.jsonl"
    labels.write_text(f"\n{line}\n", encoding="utf-8")  # a blank line is skipped, not named
    args = ["rubric", "tune", "empathy", "--rubric", str(RUBRIC), "--labels", str(labels)]
    assert main(args) == 2
    assert f"[C071] {labels}:2: not a label line ({why}" in capsys.readouterr().err


def test_the_most_recall_at_the_precision_wins() -> None:
    margins = [0.05, 0.03, 0.02, 0.01, -0.01, -math.inf, math.inf]
    labels = [True, True, False, True, False, False, True]
    result = pick_threshold("x", margins, labels, precision=0.75, current=0.04)
    assert result.chosen is not None
    assert result.chosen.threshold == 0.01  # 4 of 5 above it are right, recall 1.0
    assert (result.chosen.precision, result.chosen.recall) == (0.8, 1.0)
    assert result.current.recall == 0.5
    strict = pick_threshold("x", margins, labels, precision=1.0, current=0.0)
    assert strict.chosen is not None and strict.chosen.threshold == 0.03


def test_phrase_hits_count_and_the_current_threshold_stays_when_nothing_beats_it() -> None:
    # the item's phrases find both positives (+inf); the negatives sit below the threshold
    margins = [math.inf, math.inf, -0.3, -0.6, -5.4]
    labels = [True, True, False, False, True]
    result = pick_threshold("x", margins, labels, precision=0.9, current=-0.25)
    assert result.chosen is not None
    assert (result.chosen.threshold, result.chosen.precision) == (-0.25, 1.0)
    loose = pick_threshold("x", margins, labels, precision=0.5, current=-0.25)
    assert loose.chosen is not None and loose.chosen.recall == 1.0  # the third positive
    assert loose.chosen.threshold == -5.4 and loose.chosen.precision == 0.6
    only_phrases = pick_threshold(
        "x", [math.inf, 0.2, 0.1], [True, False, False], precision=1.0, current=0.0
    )
    assert only_phrases.chosen is not None and only_phrases.chosen.threshold > 0.2


def test_a_label_without_a_speaker_is_the_items_speaker_and_another_speaker_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    labels = tmp_path / "labels.jsonl"
    rows = [{"text": t, "present": y} for t, y in LINES]  # no speaker: the item's (customer)
    labels.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    args = _tune_dissatisfaction(labels)
    assert main(args) == 0
    assert "R 0.000" not in capsys.readouterr().out
    rows[0]["speaker"] = "agent"
    labels.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    assert main(args) == 2
    assert f"[C071] {labels}:1:" in capsys.readouterr().err


def test_a_threshold_from_few_labels_comes_with_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Twelve labels proposed a threshold as if they settled it: one call more or less
    moves its precision by 0.15."""
    assert main(_tune_dissatisfaction(_labels(tmp_path))) == 0
    out = capsys.readouterr().out.splitlines()
    warning = out[-1].strip()
    assert warning.startswith("warning: only 6 labelled present and 6 absent (30 of each"), out
    assert "(95 % interval); label more before using it" in warning

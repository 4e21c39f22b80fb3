"""A mistyped key in ``earmark.toml`` is named with the key that was meant (``C002``),
the way an unknown rubric field is."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import load_config
from pipeline.errors import ConfigError


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        (
            '[[inspectors]]\nname = "lena"\nteams = ["T1"]\nbudget_minuts = 30\n',
            "inspectors.0.budget_minuts: unknown key 'budget_minuts' "
            "(did you mean 'budget_minutes'?)",
        ),
        ('langauges = ["en"]\n', "langauges: unknown key 'langauges' (did you mean 'languages'?)"),
        (
            "[asr]\nbeam_sise = 3\n",
            "asr.beam_sise: unknown key 'beam_sise' (did you mean 'beam_size'?)",
        ),
        ("[queue]\nxyzzy = 1\n", "queue.xyzzy: unknown key 'xyzzy' (known: context_after_s, "),
    ],
)
def test_a_mistyped_config_key_gets_a_did_you_mean(
    tmp_path: Path, toml: str, expected: str
) -> None:
    path = tmp_path / "earmark.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.code == "C002"
    assert info.value.message.startswith(f"{path}: {expected}"), info.value.message

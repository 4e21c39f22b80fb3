"""Where the warehouse's files live: a local folder or any fsspec URL (``s3://``, ``gs://``).

Every read and write of the warehouse goes through :func:`storage`, so a cluster's
machines share one warehouse. Writes go through :func:`atomic_path`: a reader never sees
a half-written file, and a full disk or a read-only warehouse is a coded error naming
the file (``W006``, ``W004``).
"""

from __future__ import annotations

import contextlib
import errno
import os
import posixpath
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from fsspec import AbstractFileSystem
from fsspec.core import url_to_fs
from fsspec.implementations.local import LocalFileSystem

from pipeline import errors
from pipeline.errors import WarehouseError


def storage(root: str | os.PathLike[str]) -> tuple[AbstractFileSystem, str]:
    """The fsspec file system a warehouse (or one of its files) is on, and its path there.

    A plain path is the local disk; ``s3://bucket/prefix``, ``gs://bucket/prefix`` and any
    other fsspec URL work once its package is installed (``s3fs`` ships with earmark).
    Credentials and endpoints come from the usual places: ``AWS_*`` variables (including
    ``AWS_ENDPOINT_URL`` for MinIO and other S3-compatible stores), ``~/.aws``, or
    ``FSSPEC_S3_*`` variables; so Dask workers started with the same environment reach
    the same warehouse.

    Raises
    ------
    WarehouseError
        ``W003`` for an unknown protocol or one whose package is not installed.
    """
    url = os.fspath(root)
    try:
        return url_to_fs(url)  # type: ignore[no-any-return]
    except (ImportError, ValueError) as exc:
        raise errors.WAREHOUSE_UNREACHABLE(url=url, reason=exc) from exc


def check_reachable(root: str | os.PathLike[str]) -> None:
    """Refuse a remote warehouse that cannot be reached, before any work starts (a local
    folder is created when first written).

    Raises
    ------
    WarehouseError
        ``W003`` (see :func:`storage`); ``W004`` when its bucket does not exist or
        cannot be reached (no credentials, no network, a wrong endpoint).
    """
    fs, path = storage(root)
    if isinstance(fs, LocalFileSystem):
        return
    bucket = path.split("/", 1)[0]
    try:
        fs.invalidate_cache(bucket)
        fs.info(bucket)
    except FileNotFoundError as exc:
        raise unwritable(os.fspath(root), exc, f"no bucket {bucket!r}") from exc
    except Exception as exc:
        raise unwritable(os.fspath(root), exc, "cannot reach the warehouse") from exc


def is_local(root: str | os.PathLike[str]) -> bool:
    """Whether the warehouse is a folder on this machine's disk."""
    return isinstance(storage(root)[0], LocalFileSystem)


def absolute(root: str | os.PathLike[str]) -> str:
    """``root`` with a local path made absolute (for a deployment or a server); URLs as given."""
    fs, path = storage(root)
    return str(Path(path).resolve()) if isinstance(fs, LocalFileSystem) else os.fspath(root)


def join(root: str | os.PathLike[str], *parts: str) -> str:
    """A location inside the warehouse: ``root/part/…`` (``root`` may be a URL)."""
    return "/".join([os.fspath(root).rstrip("/"), *parts])


def read_bytes(location: str) -> bytes | None:
    """A file's bytes, or ``None`` when there is none."""
    fs, path = storage(location)
    try:
        return fs.cat_file(path)  # type: ignore[no-any-return]
    except FileNotFoundError:
        return None


def open_input(location: str) -> IO[bytes]:
    """A file of the warehouse opened for reading (seekable; remote files are read in
    small ranges, so reading a header does not fetch the whole object)."""
    fs, path = storage(location)
    if isinstance(fs, LocalFileSystem):
        return fs.open(path, "rb")  # type: ignore[no-any-return]
    return fs.open(path, "rb", block_size=64 * 1024, cache_type="bytes")  # type: ignore[no-any-return]


def stamp(location: str) -> tuple[str, int] | None:
    """What changes when a file is rewritten (its mtime or ETag, and size); ``None`` if absent."""
    fs, path = storage(location)
    try:
        info = fs.info(path)
    except FileNotFoundError:
        return None
    return version_of(info), int(info.get("size") or 0)


def version_of(info: Mapping[str, Any]) -> str:
    """What identifies one version of a file in an fsspec ``info``: its ETag on an object
    store, its mtime on a disk."""
    return str(info.get("ETag") or info.get("mtime") or info.get("LastModified") or "")


def list_names(folder: str) -> list[str]:
    """The names of the files in a warehouse folder (``[]`` if it does not exist), sorted."""
    fs, path = storage(folder)
    fs.invalidate_cache(path)  # other processes (Dask workers, other nights) write here too
    try:
        entries = fs.ls(path, detail=False)
    except FileNotFoundError:
        return []
    return sorted(posixpath.basename(str(e).rstrip("/")) for e in entries)


def remove(location: str) -> None:
    """Delete a file of the warehouse (nothing if it is already gone)."""
    fs, path = storage(location)
    with contextlib.suppress(FileNotFoundError):
        fs.rm_file(path)


def fetch(location: str, dest: Path | None) -> Path:
    """A local file with the bytes of ``location``: the file itself when the warehouse is
    local, else a download to ``dest`` (skipped when ``dest`` exists: callers name it by
    content, as the redacted copies are named)."""
    fs, path = storage(location)
    if isinstance(fs, LocalFileSystem):
        return Path(path)
    if dest is None:
        raise ValueError(f"{location}: a remote file needs a local destination")
    if not dest.is_file():
        with atomic_path(dest) as tmp:
            fs.get_file(path, str(tmp))
    return dest


@contextlib.contextmanager
def atomic_path(location: str | os.PathLike[str]) -> Iterator[Path]:
    """A local temporary file to write ``location`` through, so it is never seen half-written.

    On success the file is synced and renamed onto ``location`` (local warehouse) or
    uploaded to it (object stores publish an object whole or not at all); on any error
    it is removed and ``location`` keeps its old content.

    Raises
    ------
    WarehouseError
        ``W006`` when the disk is full, ``W004`` when the warehouse is read-only or not
        writable by this user: the message names the file; nothing was changed.
    """
    fs, path = storage(location)
    local = isinstance(fs, LocalFileSystem)
    folder = Path(path).parent if local else None
    tmp = ""
    try:
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=posixpath.splitext(path)[1], dir=folder)
        os.close(fd)
        yield Path(tmp)
        if local:
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
            os.replace(tmp, path)
        else:
            fs.put_file(tmp, path)
    except OSError as exc:
        coded = write_error(os.fspath(location), exc)
        if coded is exc:
            raise
        raise coded from exc
    finally:
        if tmp:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)


_READ_ONLY = {errno.EROFS, errno.EACCES, errno.EPERM}


def write_error(location: str, exc: OSError) -> OSError | WarehouseError:
    """The coded error for a failed warehouse write (a full disk, a read-only warehouse),
    or ``exc`` itself for any other failure."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return errors.DISK_FULL(path=location)
    if exc.errno in _READ_ONLY:
        return errors.WAREHOUSE_UNWRITABLE(
            root=location,
            problem="the warehouse is read-only or not writable by this user "
            f"({os.strerror(exc.errno or 0)}); nothing was changed. "
            "Make it writable or point --warehouse elsewhere",
        )
    return exc


# ---------------------------------------------------------------- tables


def unwritable(
    root: str, exc: BaseException, what: str = "cannot write the warehouse"
) -> WarehouseError:
    """``W004`` for a warehouse this run cannot write or reach, naming the cause."""
    return errors.WAREHOUSE_UNWRITABLE(root=root, problem=f"{what} ({type(exc).__name__}: {exc})")

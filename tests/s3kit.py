"""The S3 the object-store tests use (the ``s3`` fixture in ``conftest.py`` starts it)."""

from __future__ import annotations

import os


class S3:
    """A real S3 API on loopback (moto's server), reached the way production reaches S3:
    through ``AWS_*`` variables, which subprocesses and Dask workers inherit."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.env = {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "earmark-test",
            "AWS_SECRET_ACCESS_KEY": "earmark-test",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        self._buckets = 0

    def bucket(self) -> str:
        """A new empty bucket; returns ``s3://NAME``."""
        import s3fs

        self._buckets += 1
        name = f"earmark-{os.getpid()}-{self._buckets}"
        s3fs.S3FileSystem().mkdir(name)
        return f"s3://{name}"

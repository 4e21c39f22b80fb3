"""The deployable nightly flow, as a module-level object for Prefect entrypoints.

``flows/deploy.py:earmark_nightly`` is what ``earmark schedule`` serves and what a
Prefect work-pool deployment points at. Its parameters are plain paths (JSON), so a
server can store and replay them.
"""

from __future__ import annotations

from prefect import flow

from flows.nightly import scheduled_night

earmark_nightly = flow(scheduled_night, name="earmark-nightly")

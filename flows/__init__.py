"""The composition root: Prefect flows, the per-call processing, and the ``earmark`` CLI."""

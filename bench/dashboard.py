"""How fast the team dashboard draws: 200 agents × 90 days of calls, target < 1 s.

Builds a synthetic warehouse (``calls``, ``scores``, ``findings`` and ``queue`` tables
written with the real schemas: N calls a day per agent, eight rubric items a call, a
seeded mix of passes and failures) and a review database with one reviewed call per
agent per week, then times ``GET /teams/{team}`` through the real app (sign-in, CSP,
templates, SVG charts), over the 90 days:

- **at start**: the first request the moment the server has started, while its background
  warm-up is still reading every partition into the feedback summaries (the worst case);
- **ready**: how long that warm-up takes after a start, and the first request once it is
  done: what the first lead of the day waits for;
- **warm**: the next requests, reading only the partitions whose files changed (none):
  what a lead opening the dashboard during the day waits for.

Run: ``.venv/bin/python bench/dashboard.py [--agents 200] [--days 90] [--calls-per-day 4]``;
prints and writes ``.state/bench/dashboard.json`` (with the load average: other work on the
machine slows it down).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import re
import statistics
import tempfile
import threading
import time
from pathlib import Path

from benchenv import state_path, use_checkout  # bench/benchenv.py

use_checkout()

import httpx  # noqa: E402
import pyarrow as pa  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from pipeline import warehouse as wh  # noqa: E402
from pipeline.config import Config, InspectorConfig, QueueConfig  # noqa: E402
from review.app import create_app  # noqa: E402
from review.auth import Account, hash_password  # noqa: E402
from review.store import FindingVerdict, Review, ReviewStore  # noqa: E402

TEAM = "TEAM-BIG"
RUBRIC = "inbound-support"
ITEMS = ("greeting", "identification", "empathy", "hold_etiquette", "closing",
         "forbidden_language", "escalation_request", "dissatisfaction")  # fmt: skip
LAST = dt.date(2026, 12, 3)


def _table(name: str, columns: dict[str, list[object]]) -> pa.Table:
    schema = wh.SCHEMAS[name]
    n = len(next(iter(columns.values())))
    arrays = [
        pa.array(columns[f.name], f.type) if f.name in columns else pa.nulls(n, f.type)
        for f in schema
    ]
    return pa.Table.from_arrays(arrays, schema=schema)


def build(root: Path, *, agents: int, days: int, per_day: int, seed: int = 7) -> list[str]:
    """Write the warehouse; return the ids of one call per agent per week (to review)."""
    rng = random.Random(seed)
    skill = {f"AG{a:03d}": rng.uniform(0.55, 0.95) for a in range(agents)}
    to_review: list[str] = []
    for d in range(days):
        date = (LAST - dt.timedelta(days=days - 1 - d)).isoformat()
        calls: dict[str, list[object]] = {"call_id": [], "agent_id": [], "team_id": [],
                                           "source_path": [], "duration_s": [], "status": []}  # fmt: skip
        scores: dict[str, list[object]] = {"call_id": [], "rubric_id": [], "rubric_version": [],
                                            "score": [], "critical_failed": [], "needs_review": [],
                                            "priority": []}  # fmt: skip
        finds: dict[str, list[object]] = {"call_id": [], "rubric_id": [], "rubric_version": [],
                                           "item_id": [], "item_version": [], "title": [],
                                           "detected": [], "outcome": [], "confidence": []}  # fmt: skip
        queue: dict[str, list[object]] = {"inspector": [], "date": [], "rank": [], "call_id": [],
                                           "kind": [], "priority": [], "plan_s": [],
                                           "agent_id": [], "team_id": []}  # fmt: skip
        for agent, p in skill.items():
            for k in range(per_day):
                call_id = f"{date}-{agent}-{k}"
                passed = [rng.random() < p for _ in ITEMS]
                calls["call_id"].append(call_id)
                calls["agent_id"].append(agent)
                calls["team_id"].append(TEAM)
                calls["source_path"].append(f"{call_id}.wav")
                calls["duration_s"].append(rng.uniform(120, 600))
                calls["status"].append("ok")
                scores["call_id"].append(call_id)
                scores["rubric_id"].append(RUBRIC)
                scores["rubric_version"].append(3)
                scores["score"].append(100.0 * sum(passed) / len(passed))
                scores["critical_failed"].append(False)
                scores["needs_review"].append(not all(passed))
                scores["priority"].append(0.0)
                for item, ok in zip(ITEMS, passed, strict=True):
                    finds["call_id"].append(call_id)
                    finds["rubric_id"].append(RUBRIC)
                    finds["rubric_version"].append(3)
                    finds["item_id"].append(item)
                    finds["item_version"].append(1)
                    finds["title"].append(item)
                    finds["detected"].append(ok)
                    finds["outcome"].append("pass" if ok else "fail")
                    finds["confidence"].append(0.9)
        if d % 7 == 0:  # a queue day: one call per agent for their inspector
            for r, agent in enumerate(skill):
                call_id = f"{date}-{agent}-0"
                queue["inspector"].append(f"insp{int(agent[2:]) // 15:02d}")
                queue["date"].append(date)
                queue["rank"].append(r)
                queue["call_id"].append(call_id)
                queue["kind"].append("review")
                queue["priority"].append(1.0)
                queue["plan_s"].append(90.0)
                queue["agent_id"].append(agent)
                queue["team_id"].append(TEAM)
                to_review.append(call_id)
        wh.upsert(root, "calls", {date: _table("calls", calls).to_pylist()})
        wh.upsert(root, "scores", {date: _table("scores", scores).to_pylist()})
        wh.upsert(root, "findings", {date: _table("findings", finds).to_pylist()})
        if queue["call_id"]:
            wh.upsert(root, "queue", {date: _table("queue", queue).to_pylist()})
    return to_review


def seed(store: ReviewStore, call_ids: list[str]) -> None:
    rng = random.Random(11)
    for call_id in call_ids:
        inspector = f"insp{int(call_id.split('-AG')[1].split('-')[0]) // 15:02d}"
        store.save_review(
            Review(
                call_id,
                inspector,
                overall="pass",
                findings=tuple(
                    FindingVerdict(
                        RUBRIC,
                        3,
                        item,
                        True,
                        "pass",
                        "correct" if rng.random() < 0.9 else "incorrect",
                    )
                    for item in ITEMS
                ),
            )
        )


def _sign_in(client: TestClient) -> None:
    page = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    client.post("/login", data={"csrf": csrf, "name": "lead", "password": "pw"})


def _timed(client: TestClient, url: str) -> tuple[float, httpx.Response]:
    t0 = time.perf_counter()
    response = client.get(url)
    elapsed = time.perf_counter() - t0
    assert response.status_code == 200, response.text[:500]
    return elapsed, response


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--agents", type=int, default=200)
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--calls-per-day", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", type=Path, default=state_path("dashboard.json"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="earmark-bench-dashboard-") as tmp:
        root = Path(tmp) / "wh"
        t0 = time.perf_counter()
        reviewed = build(root, agents=args.agents, days=args.days, per_day=args.calls_per_day)
        database_url = f"sqlite:///{tmp}/reviews.sqlite"
        seed(ReviewStore(database_url), reviewed)
        build_s = time.perf_counter() - t0
        inspectors = sorted({f"insp{a // 15:02d}" for a in range(args.agents)})
        config = Config(
            inspectors=[InspectorConfig(name=i, teams=[TEAM]) for i in inspectors],
            queue=QueueConfig(rotation="off", max_agents_per_inspector=15),
        )
        archive = Path(tmp) / "archive"
        archive.mkdir()

        def app() -> FastAPI:
            return create_app(
                str(root),
                config,
                archive=str(archive),
                accounts={"lead": Account("lead", "lead", hash_password("pw"))},
                database_url=database_url,
                secret_key="bench",
            )

        url = f"/teams/{TEAM}?days={args.days}"
        with TestClient(app()) as client:
            _sign_in(client)
            at_start_s, first = _timed(client, url)
        with TestClient(app()) as client:
            t0 = time.perf_counter()
            for thread in threading.enumerate():
                if thread.name == "earmark-warm":
                    thread.join()
            ready_s = time.perf_counter() - t0
            _sign_in(client)
            cold_s, _ = _timed(client, url)
            warm = [_timed(client, url)[0] for _ in range(args.repeat)]
        calls = args.agents * args.days * args.calls_per_day
        result = {
            "agents": args.agents,
            "days": args.days,
            "calls": calls,
            "findings": calls * len(ITEMS),
            "reviews": len(reviewed),
            "page_kb": round(len(first.content) / 1024),
            "build_s": round(build_s, 1),
            "at_start_s": round(at_start_s, 3),
            "ready_after_start_s": round(ready_s, 3),
            "first_when_ready_s": round(cold_s, 3),
            "warm_median_s": round(statistics.median(warm), 3),
            "warm_max_s": round(max(warm), 3),
            "target_s": 1.0,
            "cores": os.cpu_count(),
            "loadavg": [round(x, 2) for x in os.getloadavg()],
        }
    print(json.dumps(result, indent=2))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()

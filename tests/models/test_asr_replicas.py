"""Model replicas load only when a thread needs one: one call, one model in memory."""

from __future__ import annotations

import threading
import time

from models.asr import Replicas


class _Loads:
    def __init__(self) -> None:
        self.made: list[int] = []

    def __call__(self, replica: int) -> object:
        self.made.append(replica)
        return f"model-{replica}"


def test_one_call_at_a_time_keeps_one_replica() -> None:
    loads = _Loads()
    pool = Replicas(loads, most=2)
    for _ in range(3):
        with pool.hold() as model, pool.hold() as again:  # re-entrant within a call
            assert model == again == "model-0"
    assert loads.made == [0] and pool.loaded == 1


def test_the_check_before_the_night_is_the_first_calls_replica() -> None:
    loads = _Loads()
    pool = Replicas(loads, most=2)
    assert pool.first() == "model-0"
    with pool.hold() as model:
        assert model == "model-0" and pool.current() == "model-0"
    assert loads.made == [0]


def test_busy_threads_get_their_own_replica_up_to_the_limit() -> None:
    loads = _Loads()
    pool = Replicas(loads, most=2)
    inside = threading.Barrier(2, timeout=10)
    seen: list[object] = []
    third_waited = threading.Event()

    def call() -> None:
        with pool.hold() as model:
            seen.append(model)
            inside.wait()
            time.sleep(0.2)

    workers = [threading.Thread(target=call) for _ in range(2)]
    for w in workers:
        w.start()

    def late() -> None:
        time.sleep(0.05)  # both replicas busy now
        started = time.monotonic()
        with pool.hold() as model:
            seen.append(model)
        if time.monotonic() - started > 0.05:
            third_waited.set()

    extra = threading.Thread(target=late)
    extra.start()
    for w in [*workers, extra]:
        w.join(timeout=10)
    assert sorted(loads.made) == [0, 1]  # never a third model
    assert sorted(map(str, seen[:2])) == ["model-0", "model-1"]
    assert third_waited.is_set()

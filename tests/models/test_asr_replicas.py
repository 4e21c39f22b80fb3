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


def test_a_spare_replica_is_lent_when_one_is_free_while_the_work_waits() -> None:
    loads = _Loads()
    pool = Replicas(loads, most=2)
    lent: list[object] = []
    work = threading.Event()
    work.set()

    def helper() -> None:
        with pool.hold_spare(wanted=work.is_set) as spare:
            lent.append(spare)
            if spare is not None:
                assert pool.current() == spare  # the helper thread decodes on it

    with pool.hold() as model:
        assert model == "model-0"
        thread = threading.Thread(target=helper)
        thread.start()
        thread.join(timeout=10)
        assert lent == ["model-1"]  # the second core's replica, loaded for the helper
        with pool.hold_spare(wanted=work.is_set) as again:
            assert again == "model-1"  # given back: lent again
            waiting = threading.Thread(target=helper)
            waiting.start()
            time.sleep(0.3)
            assert len(lent) == 1  # both busy: the helper waits while the work is there
        waiting.join(timeout=10)
        assert lent[-1] == "model-1"  # freed: lent to the waiting helper
        with pool.hold_spare(wanted=work.is_set):
            work.clear()  # the call took its tracks itself
            started = time.monotonic()
            late = threading.Thread(target=helper)
            late.start()
            late.join(timeout=10)
            assert lent[-1] is None and time.monotonic() - started < 1.0
    assert sorted(loads.made) == [0, 1] and pool.loaded == 2

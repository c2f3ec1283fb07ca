"""The watchdog that bounds every outbound request: one thread, deadlines kept in order, and
a cancelled watch never fires nor lingers."""

from __future__ import annotations

import threading
import time

from copa.outbox.channels.http import Watchdog


def test_watches_fire_in_deadline_order_and_cancelled_ones_never():
    watchdog = Watchdog()
    fired: list[str] = []
    done = threading.Event()
    now = time.monotonic()

    def note(name: str):
        def call() -> None:
            fired.append(name)
            if name == "last":
                done.set()

        return call

    watchdog.watch(now + 0.15, note("last"))
    watchdog.watch(now + 0.05, note("first"))
    watchdog.watch(now + 0.10, note("cancelled")).cancel()
    watchdog.watch(now + 0.08, note("second"))

    assert done.wait(5)
    assert fired == ["first", "second", "last"]
    assert len(watchdog) == 0


def test_many_requests_that_finish_in_time_leave_nothing_behind():
    watchdog = Watchdog()
    fired: list[int] = []
    for n in range(1000):
        watchdog.watch(time.monotonic() + 0.05, lambda n=n: fired.append(n)).cancel()
    assert len(watchdog) == 0
    time.sleep(0.2)
    assert fired == []


def test_a_failing_call_does_not_stop_later_deadlines():
    watchdog = Watchdog()
    done = threading.Event()

    def boom() -> None:
        raise RuntimeError("boom")

    watchdog.watch(time.monotonic() + 0.01, boom)
    watchdog.watch(time.monotonic() + 0.05, done.set)
    assert done.wait(5)

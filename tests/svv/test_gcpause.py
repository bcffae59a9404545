"""The collector pause around bulk assembly: off inside, on after, across threads and
nesting; a collector someone else turned off stays off; a long pause still collects."""

from __future__ import annotations

import gc
import threading
import weakref
from collections.abc import Iterator

import pytest

from kjoretoyregister.svv import gcpause
from kjoretoyregister.svv.gcpause import gc_paused, paused


@pytest.fixture(autouse=True)
def _collector_on() -> Iterator[None]:
    assert gc.isenabled() and not paused()
    yield
    gc.enable()


def test_off_inside_on_after_also_when_nested() -> None:
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled() and paused()
    assert gc.isenabled() and not paused()


def test_on_again_after_an_exception() -> None:
    with pytest.raises(ValueError), gc_paused():
        raise ValueError("boom")
    assert gc.isenabled() and not paused()


def test_overlapping_threads_keep_it_off_until_the_last_leaves() -> None:
    entered, release = threading.Event(), threading.Event()

    def other() -> None:
        with gc_paused():
            entered.set()
            release.wait(5)

    thread = threading.Thread(target=other)
    thread.start()
    assert entered.wait(5)
    with gc_paused():
        pass
    assert not gc.isenabled()  # the other thread is still inside
    release.set()
    thread.join(5)
    assert gc.isenabled()


def test_a_collector_turned_off_elsewhere_stays_off() -> None:
    gc.disable()
    with gc_paused():
        pass
    assert not gc.isenabled()


class _Node:
    other: _Node | None = None


def test_a_long_pause_still_collects(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gcpause, "MAX_PAUSE_S", 0.0)
    with gc_paused():
        a, b = _Node(), _Node()
        a.other, b.other = b, a  # a cycle: only the collector frees it
        ref = weakref.ref(a)
        del a, b
        assert ref() is not None
        with gc_paused():
            pass  # leaving while the outer pause is long past MAX_PAUSE_S collects
        assert ref() is None
        assert not gc.isenabled()

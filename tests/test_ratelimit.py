"""The login limiter on its own, with a clock the test moves."""

from __future__ import annotations

import pytest

from emojid.auth import ratelimit
from emojid.auth.ratelimit import LoginLimiter, Throttled


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_window_slides():
    clock = Clock()
    limiter = LoginLimiter(account_max=2, address_max=10, window=60, clock=clock)
    limiter.failed("alice", "10.0.0.1")
    clock.now += 30
    limiter.failed("alice", "10.0.0.1")
    with pytest.raises(Throttled) as caught:
        limiter.check("Alice", "10.0.0.2")  # names are case-insensitive
    assert caught.value.status == 429 and caught.value.message == "Throttled"
    assert caught.value.headers == {"retry-after": "30"}  # when the first failure leaves the window
    limiter.check("bob", "10.0.0.1")
    clock.now += 30.5  # the first failure left the window
    limiter.check("alice", "10.0.0.1")
    limiter.failed("alice", None)
    with pytest.raises(Throttled):
        limiter.check("alice", None)


def test_address_budget_and_success():
    clock = Clock()
    limiter = LoginLimiter(account_max=3, address_max=4, window=60, clock=clock)
    for name in "abcd":
        limiter.failed(name, "10.0.0.1")
    with pytest.raises(Throttled):
        limiter.check(None, "10.0.0.1")
    limiter.check("a", "10.0.0.2")
    limiter.failed("e", None)
    limiter.failed("e", None)
    limiter.succeeded("E")
    limiter.failed("e", None)
    limiter.failed("e", None)
    limiter.check("e", None)  # two since the success
    limiter.failed("e", None)
    with pytest.raises(Throttled):
        limiter.check("e", None)


def test_memory_is_bounded(monkeypatch):
    monkeypatch.setattr(ratelimit, "MAX_KEYS", 50)
    clock = Clock()
    limiter = LoginLimiter(account_max=1, address_max=1000, window=60, clock=clock)
    for i in range(500):
        limiter.failed(f"name{i}", "10.0.0.1")
    assert len(limiter._failures) <= 52
    with pytest.raises(Throttled):
        limiter.check("name499", None)  # the newest are kept

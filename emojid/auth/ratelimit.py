"""Login throttling: too many failed attempts per account or per address -> 429.

Failures are counted in a sliding window, in memory. That is naive but good
enough for one process: a restart forgets the counts, which only gives an
attacker one more window. The password grant, HTTP Basic, the login page and
password confirmations share an account's budget; second-factor codes have one
of their own (see `emojid.auth.login.OAuth`); all share the address's.

A guess is counted before it is checked (`attempt`), and uncounted when it was
right (`passed`): concurrent guesses cannot all slip past one check.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from emojid.errors import EmojidError

# Failures allowed in WINDOW_SECONDS before attempts are refused. Per account it
# stays low (a targeted guess); per address it is higher, as many people may
# share one address (a NAT, a proxy).
ACCOUNT_MAX_FAILURES = 10
ADDRESS_MAX_FAILURES = 30
WINDOW_SECONDS = 300.0
# Bound on the keys remembered at once, so a flood of names cannot exhaust memory.
MAX_KEYS = 100_000


class Throttled(EmojidError):
    """Pleroma's rate limiter answer: 429 {"error": "Throttled"}."""

    status = 429

    def __init__(self, retry_after: float = 0) -> None:
        super().__init__("Throttled")
        if retry_after > 0:
            self.headers = {"retry-after": str(max(1, round(retry_after)))}


@dataclass(frozen=True)
class Attempt:
    """One guess counted ahead (see `LoginLimiter.attempt`)."""

    account: str | None
    address: str | None
    at: float


class LoginLimiter:
    def __init__(
        self,
        account_max: int | None = None,
        address_max: int | None = None,
        window: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # Module constants are read here, not at import, so a test may shrink them.
        self.account_max = account_max if account_max is not None else ACCOUNT_MAX_FAILURES
        self.address_max = address_max if address_max is not None else ADDRESS_MAX_FAILURES
        self.window = window if window is not None else WINDOW_SECONDS
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _keys(self, account: str | None, address: str | None) -> list[tuple[str, int]]:
        keys = []
        if account:
            keys.append(("account:" + account.lower(), self.account_max))
        if address:
            keys.append(("address:" + address, self.address_max))
        return keys

    def _recent(self, key: str, now: float) -> deque[float] | None:
        failures = self._failures.get(key)
        if failures is None:
            return None
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        if not failures:
            del self._failures[key]
            return None
        return failures

    def _check(self, keys: list[tuple[str, int]], now: float) -> None:
        for key, limit in keys:
            failures = self._recent(key, now)
            if failures is not None and len(failures) >= limit:
                # The oldest failure in the window leaves it first.
                raise Throttled(retry_after=failures[0] + self.window - now)

    def _count(self, keys: list[tuple[str, int]], now: float) -> None:
        if len(self._failures) >= MAX_KEYS:
            for key in list(self._failures):
                self._recent(key, now)
            while len(self._failures) >= MAX_KEYS:  # still full: forget the oldest
                del self._failures[next(iter(self._failures))]
        for key, _limit in keys:
            self._failures.setdefault(key, deque()).append(now)

    def check(self, account: str | None, address: str | None) -> None:
        """Raises Throttled if either budget is spent."""
        now = self.clock()
        with self._lock:
            self._check(self._keys(account, address), now)

    def failed(self, account: str | None, address: str | None) -> None:
        now = self.clock()
        with self._lock:
            self._count(self._keys(account, address), now)

    def attempt(self, account: str | None, address: str | None) -> Attempt:
        """Check and count in one step, before the guess is checked: raises Throttled if
        either budget is spent, else counts this attempt as a failure until `passed`.
        However many requests race, at most `limit` guesses per window get checked."""
        keys = self._keys(account, address)
        with self._lock:
            now = self.clock()
            self._check(keys, now)
            self._count(keys, now)
        return Attempt(account, address, now)

    def missed(self, attempt: Attempt) -> None:
        """The attempt was wrong: it stays counted, from now (as if counted after the check)."""
        with self._lock:
            now = self.clock()
            for key, _limit in self._keys(attempt.account, attempt.address):
                failures = self._failures.setdefault(key, deque())
                with contextlib.suppress(ValueError):
                    failures.remove(attempt.at)
                failures.append(now)

    def passed(self, attempt: Attempt) -> None:
        """The attempt was right: it clears its account's count, and is taken off its address's."""
        self.succeeded(attempt.account)
        if attempt.address:
            key = "address:" + attempt.address
            with self._lock:
                failures = self._failures.get(key)
                if failures is not None:
                    with contextlib.suppress(ValueError):
                        failures.remove(attempt.at)
                    if not failures:
                        del self._failures[key]

    def succeeded(self, account: str | None) -> None:
        """A correct password clears its account's count (not its address's)."""
        if account:
            with self._lock:
                self._failures.pop("account:" + account.lower(), None)


# Pleroma's `app_account_creation: {1_800_000, 25}` (config/config.exs, :rate_limit):
# 25 sign-ups per address in 30 minutes.
SIGNUPS_PER_ADDRESS = 25
SIGNUP_WINDOW_SECONDS = 1800.0


class RequestLimiter:
    """Every request counts (not only failures): at most `limit` per key in `window` seconds."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> None:
        """Count one request for `key`; raises Throttled once the budget is spent."""
        with self._lock:
            now = self.clock()
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                raise Throttled(retry_after=hits[0] + self.window - now)
            if len(self._hits) > MAX_KEYS:  # a flood of addresses cannot exhaust memory
                self._hits = {k: v for k, v in self._hits.items() if v and v[-1] > now - self.window}
                hits = self._hits.setdefault(key, deque())
            hits.append(now)

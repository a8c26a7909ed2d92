"""Login throttling: too many failed attempts per account or per address -> 429.

Failures are counted in a sliding window, in memory. That is naive but good
enough for one process: a restart forgets the counts, which only gives an
attacker one more window. The password grant, HTTP Basic, the login page and
password confirmations share an account's budget; second-factor codes have one
of their own (see `emojid.auth.login.OAuth`); all share the address's.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

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

    def check(self, account: str | None, address: str | None) -> None:
        """Raises Throttled if either budget is spent."""
        now = self.clock()
        with self._lock:
            for key, limit in self._keys(account, address):
                failures = self._recent(key, now)
                if failures is not None and len(failures) >= limit:
                    # The oldest failure in the window leaves it first.
                    raise Throttled(retry_after=failures[0] + self.window - now)

    def failed(self, account: str | None, address: str | None) -> None:
        now = self.clock()
        with self._lock:
            if len(self._failures) >= MAX_KEYS:
                for key in list(self._failures):
                    self._recent(key, now)
                while len(self._failures) >= MAX_KEYS:  # still full: forget the oldest
                    del self._failures[next(iter(self._failures))]
            for key, _limit in self._keys(account, address):
                self._failures.setdefault(key, deque()).append(now)

    def succeeded(self, account: str | None) -> None:
        """A correct password clears its account's count (not its address's)."""
        if account:
            with self._lock:
                self._failures.pop("account:" + account.lower(), None)

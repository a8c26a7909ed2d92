"""Ids as clients expect them: strings of at most 20 digits, sortable by time."""

from __future__ import annotations

import secrets
import threading
import time
from datetime import UTC, datetime

_lock = threading.Lock()
_last = 0


def new_id() -> str:
    """Milliseconds since the epoch in the high bits, a counter/random tail in the low 16."""
    global _last
    with _lock:
        candidate = (int(time.time() * 1000) << 16) | secrets.randbits(12)
        _last = max(candidate, _last + 1)
        return str(_last)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")

"""One log format for emojid and uvicorn alike: `LEVEL logger: message`.

journald stamps each line with the time and the unit, so timestamps are off
by default; `[server] log_timestamps = true` adds them for a terminal or a file.
"""

from __future__ import annotations

import logging

FORMAT = "%(levelname)s %(name)s: %(message)s"
_handler: logging.Handler | None = None


def configure(level: str, timestamps: bool = False) -> None:
    """Route every logger (uvicorn's included) through one handler; safe to call again (SIGHUP)."""
    global _handler
    root = logging.getLogger()
    if _handler is None:
        _handler = logging.StreamHandler()
        root.addHandler(_handler)
    _handler.setFormatter(logging.Formatter(("%(asctime)s " if timestamps else "") + FORMAT))
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
        logger.setLevel(logging.NOTSET)
    # watchfiles reports every file event at INFO; the watcher logs what matters.
    logging.getLogger("watchfiles").setLevel(max(logging.WARNING, root.level))

"""SQL of events, scrobbles, bookmark folders and backups."""

from __future__ import annotations


class EventsIndex:
    pass

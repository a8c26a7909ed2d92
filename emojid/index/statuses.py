"""SQL of the statuses area."""

from __future__ import annotations


class StatusesIndex:
    pass

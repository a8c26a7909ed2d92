"""Values kept while the index stays as it is (its generation, from EmojiIndex): the pack
listing and show answers (emoji.web.lists) and the web UI's grids, cards and findings."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class Kept(Generic[T]):
    """Values by key for one index generation: a newer generation drops every older value
    (none can be asked for again), a value read from an older one is not kept. Bounded:
    least recently used out beyond `capacity` values, or beyond `max_bytes` as `weight`
    counts them; a value over an eighth of `max_bytes` is not kept at all."""

    def __init__(self, capacity: int = 64, max_bytes: int | None = None,
                 weight: Callable[[T], int] = lambda _value: 0) -> None:
        self.capacity = capacity
        self.max_bytes = max_bytes
        self.weight = weight
        self.bytes = 0
        self._generation: tuple[int, ...] = ()
        self._values: OrderedDict[Hashable, T] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, generation: tuple[int, ...], key: Hashable) -> T | None:
        with self._lock:
            if generation != self._generation:
                return None
            value = self._values.get(key)
            if value is not None:
                self._values.move_to_end(key)
            return value

    def put(self, generation: tuple[int, ...], key: Hashable, value: T) -> T:
        size = self.weight(value)
        with self._lock:
            if generation < self._generation:
                return value  # read before a newer generation was kept
            if generation > self._generation:
                self._values.clear()
                self.bytes = 0
                self._generation = generation
            if self.max_bytes is not None and size > self.max_bytes // 8:
                return value
            old = self._values.pop(key, None)
            self.bytes += size - (self.weight(old) if old is not None else 0)
            self._values[key] = value
            while len(self._values) > self.capacity or self.max_bytes is not None and self.bytes > self.max_bytes:
                _key, dropped = self._values.popitem(last=False)
                self.bytes -= self.weight(dropped)
        return value

    def __len__(self) -> int:
        return len(self._values)

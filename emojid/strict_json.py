"""JSON as RFC 8259 has it, for text from outside (request bodies, remote servers, pack.json).

Python's json module reads `NaN`, `Infinity` and `-Infinity` (and numbers such as
`1e999`, which become infinite) and writes them back as the same bare words, which
no strict parser accepts: one such value stored in a pack's metadata would make the
pack list invalid JSON for every client. They are refused where text comes in.
"""

from __future__ import annotations

import json
import math
from typing import Any


def _refuse_constant(word: str) -> Any:
    raise ValueError(f"{word} is not a JSON value")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:40]} is out of range")
    return value


def loads(text: str | bytes | bytearray) -> Any:
    """`json.loads`, refusing NaN, Infinity and out-of-range numbers with ValueError."""
    return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite)

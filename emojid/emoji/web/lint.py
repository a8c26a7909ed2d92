"""GET /api/v1/emojid/lint[?name=P][&target=T]: the packs' lint findings (emojid.emoji.lint)."""

from __future__ import annotations

from collections.abc import Iterator

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from emojid.auth.callers import require
from emojid.context import ctx
from emojid.emoji.lint import Finding, lint, rules_for
from emojid.emoji.names import check_pack_name
from emojid.http.params import read_params, text_param


def _document(findings: list[Finding], batch: int = 1000) -> Iterator[bytes]:
    """`{"findings": [...]}`, encoded a batch at a time: 100k findings never sit in
    memory a second time as one JSON text."""
    yield b'{"findings":['
    for start in range(0, len(findings), batch):
        chunk = ",".join(f.json_text() for f in findings[start:start + batch])
        yield (chunk if start == 0 else "," + chunk).encode()
    yield b"]}"


async def lint_packs(request: Request) -> Response:
    await require(request, "admin:read")
    params = await read_params(request)
    name = text_param(params, "name")
    target = text_param(params, "target") or None
    packs = [check_pack_name(name)] if name is not None and name.strip() else None
    c = ctx(request)
    rules_for(c.config, target)  # an unknown target is a 400 before any work
    findings = await anyio.to_thread.run_sync(lambda: lint(c.packs.index, c.config, packs, target))
    return StreamingResponse(_document(findings), media_type="application/json")

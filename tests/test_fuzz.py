"""Schemathesis against a live emojid: every operation of `GET /api/openapi.json`,
with generated parameters and bodies, under an admin token.

What must hold for every request:
- no 5xx (`not_a_server_error`);
- the answer is what the document says: its status and media type are documented
  (`content_type_conformance`) and its body matches the schema (`response_schema_conformance`);
- nothing is written outside the store: the server's root folder, less packs_dir,
  cache_dir, media_dir, the mail spool and the database files, is the same after.

Nothing leaves the machine: the server runs in this process, and its resolver (which
the SSRF-guarded remote client asks before any connection) is replaced by one that
refuses every host, so the remote routes, WebFinger lookups and links given as
`file` are all refused (400) without a DNS query. No operation is left out.

`make test` runs a few examples per operation, derandomized, without shrinking;
`make fuzz` (FUZZ_EXAMPLES=N) runs N per operation, random, with negative data too
and every Hypothesis phase.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

import emojid.remote
from tests.conftest import serving


async def test_every_operation_holds_under_generated_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests import fuzzing  # schemathesis and Hypothesis: here only

    monkeypatch.setattr(emojid.remote, "resolve", fuzzing.offline)
    async with serving(tmp_path / "root", fuzzing.EXTRA, prepare=fuzzing.prepare) as server:
        objects = await fuzzing.existing(server)
        before = fuzzing.outside_store(server)
        started = time.monotonic()
        report = await asyncio.to_thread(fuzzing.fuzz, server, objects)
        elapsed = time.monotonic() - started
        after = fuzzing.outside_store(server)
    print(f"\nfuzzed {report.operations} operations, {report.examples} requests in {elapsed:.0f} s; "
          f"statuses {dict(sorted(report.statuses.items()))}")
    assert report.operations > 200
    assert report.failures == [], "\n\n".join(report.failures)
    assert after == before, "requests wrote outside the store"

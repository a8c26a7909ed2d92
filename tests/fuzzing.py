"""The schemathesis side of tests/test_fuzz.py (read its docstring): imported when that
test runs, so the other test processes do not load schemathesis and Hypothesis (~2 s)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import APIOperation, Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from emojid.config import Config
from emojid.remote import IpAddress, RemoteRefused
from tests.conftest import Server
from tests.helpers import gif_bytes, tree, write_pack

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "0") or 0)   # `make fuzz`: this many per operation
LONG = EXAMPLES > 0
SETTINGS = settings(
    max_examples=EXAMPLES if LONG else 4,
    deadline=None,
    database=None,
    derandomize=not LONG,
    phases=list(Phase) if LONG else [Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
    print_blob=False,
)
MODES = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE] if LONG else [GenerationMode.POSITIVE]
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
REQUEST_TIMEOUT = 20

EXTRA = """
[remote]
timeout_seconds = 2
"""


async def offline(host: str, port: int) -> list[IpAddress]:
    raise RemoteRefused(f"Refusing to connect to {host}: the fuzz test has no network")


def prepare(config: Config) -> None:
    write_pack(config.packs_dir, "sample", {"blob": "blob.png", "spin": "spin.gif"}, {"share-files": True},
               images={"spin.gif": gif_bytes()})


def outside_store(server: Server) -> dict[str, bytes]:
    """Every file of the server's root folder that the store may not account for."""
    config = server.config
    kept = [config.packs_dir, config.cache_dir, config.media_dir, config.mail_spool_dir]
    database = config.database_path.name

    def skip(rel: str) -> bool:
        path = server.root / rel
        return rel.startswith(database) or any(path == k or path.is_relative_to(k) for k in kept)

    return tree(server.root, skip)


@dataclass
class Report:
    operations: int = 0
    examples: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


def describe(case: Case[Any], exc: BaseException) -> str:
    """What failed, shortly, and a curl line that sends the same request."""
    parts = list(exc.exceptions) if isinstance(exc, BaseExceptionGroup) else [exc]
    lines = []
    for part in parts:
        title = getattr(part, "title", type(part).__name__)
        message = str(getattr(part, "message", part)).strip().splitlines()
        lines.append(f"  {title}: " + "\n    ".join(message[:12]))
    return "\n".join(lines) + "\n  reproduce: " + case.as_curl_command()


async def existing(server: Server) -> dict[str, str]:
    """Objects to point some of the requests at, so that answers other than 404 are checked too."""
    async with server.admin() as admin, server.client(server.user_token) as user:
        other = (await user.get("/api/v1/accounts/verify_credentials")).json()
        status = (await admin.post("/api/v1/statuses", json={"status": "hello :blob: :spin: @user"})).json()
        await user.post(f"/api/v1/statuses/{status['id']}/favourite")
        await user.put(f"/api/v1/pleroma/statuses/{status['id']}/reactions/:blob:")
        return {"account": other["id"], "status": status["id"]}


def known_values(operation: APIOperation[Any, Any, Any, Any], objects: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """Path and query values naming objects that exist, for reads and harmless writes (never a DELETE)."""
    if operation.method.upper() == "DELETE":
        return {}, {}
    path = operation.path
    ids = {"/statuses/{id}": objects["status"], "/events/{id}": objects["status"], "/accounts/{id}": objects["account"]}
    values = {"pack": "sample", "filename": "blob.png", "name": "sample", "emoji": ":blob:", "version": "2.1",
              "app": "fuzz", "method": "totp", "id": next((v for k, v in ids.items() if k in path), "")}
    names = {p.name for p in operation.path_parameters}
    in_path = {k: v for k, v in values.items() if k in names and v}
    reads_name = operation.method.upper() == "GET" and any(p.name == "name" for p in operation.query)
    return in_path, {"name": "sample"} if reads_name else {}


def fuzz_operation(operation: APIOperation[Any, Any, Any, Any], server: Server, objects: dict[str, str],
                   report: Report) -> str | None:
    """One Hypothesis run over one operation: what failed first (described), or None."""
    headers = {"Authorization": f"Bearer {server.admin_token}"}
    strategies = [operation.as_strategy(mode, headers=headers) for mode in MODES]
    in_path, in_query = known_values(operation, objects)
    if in_path or in_query:
        strategies.append(operation.as_strategy(GenerationMode.POSITIVE, headers=headers,
                                                path_parameters=in_path or None, query=in_query or None))
    failed: list[str] = []

    @SETTINGS
    @given(case=st.one_of(*strategies))
    def run(case: Case[Any]) -> None:
        try:
            response = case.call_and_validate(base_url=server.url, checks=CHECKS, timeout=REQUEST_TIMEOUT)
        except (Exception, BaseExceptionGroup) as exc:
            failed.append(describe(case, exc))  # the first is kept: Hypothesis replays it
            raise
        report.examples += 1
        report.statuses[response.status_code] = report.statuses.get(response.status_code, 0) + 1

    try:
        run()
    except (Exception, BaseExceptionGroup) as exc:
        failed.append(f"  {type(exc).__name__}: {exc}")
    return failed[0] if failed else None


def fuzz(server: Server, objects: dict[str, str]) -> Report:
    """Every operation of the served document (the document's own route aside: schemathesis
    leaves out the operation that serves the schema); failures gathered, not raised."""
    schema = schemathesis.openapi.from_url(f"{server.url}/api/openapi.json", timeout=60)
    report = Report()
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operation = result.ok()
        report.operations += 1
        failure = fuzz_operation(operation, server, objects, report)
        if failure is not None:
            report.failures.append(f"{operation.label}\n{failure}")
    return report

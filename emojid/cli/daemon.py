"""`emojid serve`, `emojid sync` and `emojid reindex`."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from typing import Any

import click

from emojid.cli.base import CliError, state, with_service
from emojid.cli.output import echo_json, echo_table
from emojid.cli.packs import remote_packs
from emojid.config import load


@click.command()
@click.option("--host", metavar="H", default=None, help="Address to listen on (default: [server].host).")
@click.option("--port", type=int, metavar="P", default=None, help="Port to listen on (default: [server].port).")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Run the HTTP API, the pack-store watcher and the sync scheduler.

    SIGHUP re-reads the config file's [[sync]] jobs and log settings.
    """
    import uvicorn

    from emojid import logs
    from emojid.app import build_app
    from emojid.config import prepare_paths
    from emojid.serving import hold_serve_lock, listening_socket

    st = state(ctx)
    config = st.config()
    server = config.server
    if host or port:
        from dataclasses import replace

        server = replace(server, host=host or server.host, port=port or server.port)
        config = config.replace(server=server)
    logs.configure(server.log_level, server.log_timestamps)
    # Everything that can refuse to start does so here, before any indexing.
    sock = listening_socket(server.host, server.port)
    for folder in prepare_paths(config):
        logging.getLogger("emojid").info("created %s", folder)
    lock = hold_serve_lock(config.database_path)
    logging.getLogger("emojid").info("serving %s on %s:%d (%s)", config.packs_dir, server.host, server.port,
                                     config.public_url)
    config_path = st.config_path
    app = build_app(config, reload_config=lambda: load(config_path))
    uv = uvicorn.Server(uvicorn.Config(app, log_config=None, log_level=server.log_level,
                                       proxy_headers=True, server_header=False))

    def stopped(signum: int, frame: Any) -> None:
        # uvicorn handles SIGINT/SIGTERM itself while serving, then re-raises the
        # signal once shutdown is complete; that graceful stop is a success (exit 0),
        # not a death by signal. Before uvicorn takes over, a signal just exits.
        if not uv.should_exit:
            raise SystemExit(0)

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, stopped)
    try:
        uv.run(sockets=[sock])
    finally:
        sock.close()
        lock.close()
    if not uv.started:
        sys.exit(3)


def _once_line(st: Any) -> str:
    line = f"{st.url}: {st.result}"
    if st.updated:
        line += f" updated={','.join(st.updated)}"
    if st.conflicts:
        line += f" conflict={','.join(st.conflicts)}"
    if st.error:
        line += f" error={st.error}"
    return line


@click.command()
@click.option("--once", is_flag=True, help="Run every job once and exit (non-zero if any failed).")
@click.option("--status", "show_status", is_flag=True, help="Print each job's last result and exit.")
@click.option("--json", "as_json", is_flag=True, help="With --status: one JSON document (a list of jobs).")
@click.pass_context
def sync(ctx: click.Context, once: bool, show_status: bool, as_json: bool) -> None:
    """Run the [[sync]] mirror jobs of the config: forever, or --once (for a systemd timer).

    --once prints one line per job (URL: result, updated=..., conflict=...,
    error=...) and shows each pack's download on a terminal.

    \b
    Examples:
        emojid sync --once
        emojid sync --status --json
    """
    from emojid.emoji.sync import Syncer

    if as_json and not show_status:
        raise click.UsageError("--json goes with --status")
    st = state(ctx)
    config = st.config()
    if not config.sync:
        raise CliError(f"no [[sync]] jobs are configured: add a [[sync]] table with a url to "
                       f"{st.config_path or 'the config file (--config, $EMOJID_CONFIG, ./emojid.toml)'}")
    if not (once or show_status) and not st.quiet and st.verbose == 0:
        logging.getLogger().setLevel(logging.INFO)  # running forever: each job's result is logged

    if show_status:
        statuses = with_service(ctx, lambda service: [service.index.job_status(job.url) for job in config.sync])
        if as_json:
            echo_json([s.as_json() for s in statuses])
            return
        echo_table(["URL", "RESULT", "LAST RUN", "NEXT RUN", "FAILURES", "UPDATED", "CONFLICTS", "ERROR"],
                   [[s.url, s.result or "never run", s.last_run or "-", s.next_run or "-", s.failures,
                     ",".join(s.updated) or "-", ",".join(s.conflicts) or "-", s.error or ""] for s in statuses])
        return

    async def run(service: Any) -> bool:
        async with remote_packs(service) as remote:
            if once:
                with st.bars() as bars:
                    statuses = await Syncer(service, remote, config.sync, progress=bars).run_once()
                for status in statuses:
                    click.echo(_once_line(status))
                return all(status.result in ("ok", "conflict") for status in statuses)
            await Syncer(service, remote, config.sync).run_forever(asyncio.Event())
            return True

    if not with_service(ctx, lambda service: asyncio.run(run(service))):
        sys.exit(1)


@click.command()
@click.pass_context
def reindex(ctx: click.Context) -> None:
    """Rebuild the SQLite index from the pack store.

    On a terminal, a progress bar counts the packs read.
    """
    st = state(ctx)

    def run(service: Any) -> int:
        with st.bars() as bars:
            count: int = service.reindex_sync(progress=bars)
        return count

    click.echo(f"indexed {with_service(ctx, run, reconcile=False)} packs")

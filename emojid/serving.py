"""What `emojid serve` checks before it starts: the port is free, no other serve runs on the database."""

from __future__ import annotations

import errno
import fcntl
import socket
from pathlib import Path
from typing import IO

from emojid.errors import ConfigError


def listening_socket(host: str, port: int) -> socket.socket:
    """The server's socket, bound now: a port in use is one clear line, not a late traceback."""
    try:
        family, kind, proto, _name, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as exc:
        raise ConfigError(f"[server].host: cannot listen on {host!r} ({exc.strerror})") from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(f"[server].port: {port} on {host} is already in use") from None
        raise ConfigError(f"[server]: cannot listen on {host}:{port} ({exc.strerror})") from None
    sock.set_inheritable(True)
    return sock


def hold_serve_lock(database: Path) -> IO[bytes]:
    """An exclusive lock beside the database, held while serving: a second
    `emojid serve` on the same database stops here. CLI commands still run."""
    path = database.with_name(database.name + ".serve-lock")
    handle = open(path, "ab")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise ConfigError(f"another emojid serve is already running on {database}") from None
    return handle

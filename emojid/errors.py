"""The one error hierarchy of emojid.

    EmojidError (400)            one line of text, shown to API clients and CLI users
     ├── BadRequest (400)
     ├── Unauthorized (401)
     ├── Forbidden (403)
     ├── NotFound (404)
     ├── Conflict (409)
     ├── PayloadTooLarge (413)
     ├── UnsupportedMedia (415)
     ├── Unprocessable (422)
     ├── ServerError (500)       a failure on our side, named
     │    ├── InsufficientStorage (507)   the disk of packs_dir or cache_dir is full
     │    └── emojid.remote.RemoteError (502)   a remote answered badly, too slowly or too much
     │         └── RemoteUnreachable (500)  not reachable at all; Pleroma's remote pack
     │              routes answer every remote failure with their documented 500
     ├── Unavailable (503)
     └── ConfigError             a bad emojid.toml or EMOJID_* value

The HTTP status lives on the class; web handlers raise, one handler renders
`{"error": message}`.
"""

from __future__ import annotations

import contextlib
import errno
from collections.abc import Iterator


class EmojidError(Exception):
    status = 400
    # Extra response headers (e.g. Retry-After); None for most errors.
    headers: dict[str, str] | None = None

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status

    def __str__(self) -> str:
        return self.message


class BadRequest(EmojidError):
    status = 400


class Unauthorized(EmojidError):
    status = 401


class Forbidden(EmojidError):
    status = 403


class NotFound(EmojidError):
    status = 404


class Conflict(EmojidError):
    status = 409


class PayloadTooLarge(EmojidError):
    status = 413


class UnsupportedMedia(EmojidError):
    status = 415


class Unprocessable(EmojidError):
    status = 422


class ServerError(EmojidError):
    status = 500


class Unavailable(EmojidError):
    status = 503


class ConfigError(EmojidError):
    """emojid.toml or an EMOJID_* variable is wrong; the message names the key."""


class InsufficientStorage(ServerError):
    """No space left (or a quota reached) where emojid writes: 507 (WebDAV's Insufficient
    Storage), not a 500. A ServerError, so remote work passes it on as it is."""

    status = 507


# The errnos of a full disk: no space left, a quota reached.
NO_SPACE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})


def out_of_space(exc: BaseException | None) -> OSError | None:
    """The OSError saying the disk is full behind `exc` (itself, a member of an exception
    group, or what it was raised from or while handling), if any."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, OSError) and exc.errno in NO_SPACE_ERRNOS:
            return exc
        if isinstance(exc, BaseExceptionGroup):
            found = next(filter(None, map(out_of_space, exc.exceptions)), None)
            if found is not None:
                return found
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None


def no_space(exc: OSError, where: str) -> InsufficientStorage:
    return InsufficientStorage(f"Insufficient storage: {exc.strerror or 'no space left'} ({where}); "
                               f"free some space there and try again")


@contextlib.contextmanager
def disk_space(where: str) -> Iterator[None]:
    """A full disk inside the block (on a function: its call) becomes InsufficientStorage
    naming `where` (packs_dir, cache_dir); the block cleans up after itself as for any error."""
    try:
        yield
    except (OSError, BaseExceptionGroup) as exc:  # a group: from worker threads
        found = out_of_space(exc)
        if found is None:
            raise
        raise no_space(found, where) from exc

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
     ├── ServerError (500)       Pleroma's status for failed remote work
     ├── Unavailable (503)
     └── ConfigError             a bad emojid.toml or EMOJID_* value

The HTTP status lives on the class; web handlers raise, one handler renders
`{"error": message}`.
"""

from __future__ import annotations


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

"""Request parameters: one reader for the body, whatever its type, and one per value type."""

from __future__ import annotations

import json
import re
from typing import Any

import anyio.to_thread
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request

from emojid import strict_json
from emojid.errors import BadRequest, PayloadTooLarge

# JSON bodies larger than this are parsed in a worker thread.
PARSE_IN_THREAD = 64 << 10
# Most values (objects, arrays, list items and members) a JSON text may hold.
MAX_JSON_VALUES = 100_000


def _set_nested(params: dict[str, Any], key: str, value: Any) -> None:
    """`metadata[license]=x` as form field means {"metadata": {"license": "x"}}, as in Plug."""
    if "[" in key and key.endswith("]"):
        outer, _, inner = key[:-1].partition("[")
        if outer and inner and "[" not in inner:
            if isinstance(value, UploadFile):
                # No parameter takes a file inside an object; stored as JSON, it could not be encoded.
                raise BadRequest(f"{key} cannot be a file upload")
            slot = params.setdefault(outer, {})
            if isinstance(slot, dict):
                slot[inner] = value
                return
    params[key] = value


async def read_params(request: Request) -> dict[str, Any]:
    """Query string merged with the body: JSON, urlencoded or multipart alike."""
    params: dict[str, Any] = {}
    for key, value in request.query_params.multi_items():
        _set_nested(params, key, value)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if request.method in ("GET", "HEAD"):
        return params
    # How much of a body is read at all is bounded by the LimitBodies middleware
    # (emojid.http.middleware): multipart up to the upload limit, the rest far less.
    if content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        try:
            form = await request.form(max_files=1000, max_fields=1000)
        except (HTTPException, ValueError, KeyError, AssertionError) as exc:
            raise BadRequest(f"Malformed form body: {getattr(exc, 'detail', exc)}") from None
        request.state.form = form
        for key, item in form.multi_items():
            _set_nested(params, key, item)
        return params
    body = await request.body()
    if not body.strip():
        return params
    if content_type in ("application/json", "") or content_type.endswith("+json"):
        if len(body) > PARSE_IN_THREAD:
            # A big parse takes long enough to hold up every other request: off the event loop.
            params.update(await anyio.to_thread.run_sync(json_object, body))
        else:
            params.update(json_object(body))
        return params
    raise BadRequest(f"Unsupported request body type: {content_type}")


def json_object(text: bytes | str, name: str | None = None) -> dict[str, Any]:
    """A JSON object sent as text: the request body, or the form field `name` carrying one."""
    malformed = f"{name} must be a JSON object" if name else "Malformed JSON body"
    # Every value costs tens of bytes parsed, for one or two bytes sent (`[{},{},...]`):
    # counted before parsing, so a body within the size limit cannot be a memory bomb.
    # (Commas inside strings count too: an estimate from above.)
    if _value_marks(text) > MAX_JSON_VALUES:
        raise PayloadTooLarge(f"{name or 'The JSON body'} has more than {MAX_JSON_VALUES} values")
    try:
        # RecursionError: nesting deeper than the parser's stack (`[[[[...`). NaN and
        # Infinity are refused: stored, they would make our answers invalid JSON.
        data = strict_json.loads(text)
    except (ValueError, RecursionError):
        raise BadRequest(malformed) from None
    if not isinstance(data, dict):
        raise BadRequest(malformed if name else "The JSON body must be an object")
    # "\ud800" is valid JSON but no Unicode text: nothing (SQLite, file names,
    # our own error messages) could encode it later. Refused here, once.
    try:
        json.dumps(data, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        raise BadRequest(f"{malformed}: a string has an unpaired surrogate") from None
    return data


def _value_marks(text: bytes | str) -> int:
    if isinstance(text, str):
        return text.count("{") + text.count("[") + text.count(",")
    return text.count(b"{") + text.count(b"[") + text.count(b",")


def json_data(value: Any, name: str) -> Any:
    """`value` when it is plain data that can be stored as JSON: no file upload anywhere in it."""
    if isinstance(value, UploadFile):
        raise BadRequest(f"{name} cannot be a file upload")
    if isinstance(value, dict):
        for key, item in value.items():
            json_data(item, f"{name}[{key}]")
    elif isinstance(value, list):
        for item in value:
            json_data(item, name)
    return value


def text_param(params: dict[str, Any], name: str, max_length: int | None = None) -> str | None:
    """The parameter as text (numbers as written), None when absent.

    Objects, lists, booleans and file uploads are refused: a client that sends
    one where text belongs has made a mistake worth a 400.
    """
    value = params.get(name)
    if value is None:
        return None
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise BadRequest(f"{name} must be a string")
    text = str(value)
    if max_length is not None and len(text) > max_length:
        raise BadRequest(f"{name} is longer than {max_length} characters")
    return text


def int_param(params: dict[str, Any], name: str, default: int, minimum: int = 0, maximum: int | None = None) -> int:
    value = params.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,30}", value):
        number = int(value)  # ASCII digits only: int() would also take " 2 " and "٢"
    else:
        raise BadRequest(f"{name} must be an integer")
    if number < minimum:
        raise BadRequest(f"{name} must be at least {minimum}")
    if maximum is not None and number > maximum:
        raise BadRequest(f"{name} must be at most {maximum}")
    return number


TRUE = ("true", "1", "t", "on", "yes", "y")
FALSE = ("false", "0", "f", "off", "no", "n", "")


def bool_value(value: Any, name: str) -> bool:
    """Pleroma's BooleanLike: true/false, 1/0, "on"/"off" and friends; anything else is a 400."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in TRUE + FALSE:
        return value.strip().lower() in TRUE
    raise BadRequest(f"Invalid value for {name}: expected a boolean")


def bool_param(params: dict[str, Any], name: str, default: bool = False) -> bool:
    """The boolean parameter `name`; `default` when absent or empty."""
    value = params.get(name)
    return default if value is None or value == "" else bool_value(value, name)


def required(params: dict[str, Any], name: str) -> str:
    value = text_param(params, name)
    if value is None:
        raise BadRequest(f"Missing field: {name}.")
    return value

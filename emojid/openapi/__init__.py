"""`GET /api/openapi.json`: an OpenAPI 3.1 document of every route, made at run time.

The paths and methods come from the route table the application serves (both
Pleroma prefixes: the mounts are walked), the parameters and request bodies from
what each handler reads (`emojid.openapi.discovery` walks its source), and the
answers from what it returns plus the response schemas of `emojid.openapi.schemas`.
Nothing is written by hand per route, so the document cannot drift from the code.
The web UI's HTML pages (`/`, `/ui/...`) are for people, not clients: not listed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import anyio.to_thread
from starlette.convertors import FloatConvertor, IntegerConvertor, PathConvertor
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route

from emojid import __version__
from emojid.context import ctx
from emojid.http.responses import JSON
from emojid.openapi.discovery import PARAMS, QUERY, Discovery, Param, discover, iter_params
from emojid.openapi.schemas import COMPONENTS, RESPONSES, STATUS_RESPONSES, Schema, ref

BODY_METHODS = ("POST", "PUT", "PATCH")
BODY_TYPES = ("application/json", "application/x-www-form-urlencoded", "multipart/form-data")
BINARY: Schema = {"type": "string", "format": "binary"}
ID_PATTERN = "^[0-9]{1,20}$"
TAGS = {
    "emoji": "Emoji packs, files and lists: Pleroma's pack API, Mastodon's custom emoji, emojid's own.",
    "auth": "OAuth apps and tokens, the login page, MFA.",
    "social": "Accounts, statuses, reactions, notifications, conversations, events, media, backups.",
    "instance": "What the instance says about itself: nodeinfo, /api/v1/instance, healthcheck, this document.",
}


def handler_name(endpoint: Callable[..., Any]) -> str:
    """`module:qualname`: one name for every route of a route factory's inner function."""
    return f"{endpoint.__module__}:{endpoint.__qualname__}"


def walk_routes(entries: list[BaseRoute], prefix: str = "") -> Iterator[tuple[str, Route]]:
    """Every Route with its full path, mounts (both Pleroma prefixes) walked."""
    for entry in entries:
        if isinstance(entry, Mount):
            yield from walk_routes(entry.routes, prefix + entry.path)
        elif isinstance(entry, Route):
            yield prefix + entry.path_format, entry


def _tag(endpoint: Callable[..., Any]) -> str:
    part = endpoint.__module__.split(".")
    return part[1] if len(part) > 2 and part[1] in ("emoji", "auth", "social") else "instance"


def _operation_id(method: str, path: str, taken: set[str]) -> str:
    base = method.lower() + re.sub(r"[^A-Za-z0-9]+", "_", path.replace("{", "").replace("}", "")).rstrip("_")
    name, n = base, 2
    while name in taken:
        name, n = f"{base}_{n}", n + 1
    taken.add(name)
    return name


def _value_schema(param: Param, form: bool) -> Schema:
    """The JSON schema of one parameter's value; `form`: as an urlencoded or multipart field."""
    schema: Schema
    match param.kind:
        case "integer":
            schema = {"type": "integer"}
            if param.minimum is not None:
                schema["minimum"] = param.minimum
            if param.maximum is not None:
                schema["maximum"] = param.maximum
            if isinstance(param.default, int):
                schema["default"] = param.default
        case "boolean":
            schema = {"type": "boolean"}
            if isinstance(param.default, bool):
                schema["default"] = param.default
        case "id":
            schema = {"type": "string", "pattern": ID_PATTERN}
        case "array":
            schema = {"type": "array", "items": {"type": "string"}}
        case "object":
            schema = {"type": "object"}
        case "file":
            schema = {"type": "string", "description": "an uploaded file (multipart), or a link to one"}
        case "image":
            schema = {"type": "string", "description": "an uploaded image (multipart), a base64 data URL, "
                                                       "or empty to clear"}
        case "string":
            schema = {"type": "string"}
            if param.max_length is not None:
                schema["maxLength"] = param.max_length
        case _:
            schema = {"type": "string"} if form else {}
    if param.enum:
        schema["enum"] = list(param.enum)
    return schema


def _body(params: list[Param], opaque: bool) -> Schema:
    """The request body: the same fields as JSON, urlencoded or multipart (files as binary parts)."""
    content: dict[str, Schema] = {}
    required = sorted(p.name for p in params if p.required)
    for media_type in BODY_TYPES:
        form = media_type != "application/json"
        properties: dict[str, Schema] = {}
        encoding: dict[str, Schema] = {}
        for param in params:
            if media_type == "multipart/form-data" and param.kind in ("file", "image"):
                properties[param.name] = {**BINARY, "description": _value_schema(param, True)["description"]}
            else:
                properties[param.name] = _value_schema(param, form)
            if form and param.kind == "object":
                encoding[param.name] = {"style": "deepObject", "explode": True}
        schema: Schema = {"type": "object", "properties": properties}
        if required:
            schema["required"] = required
        if opaque:
            schema["additionalProperties"] = True
            schema["description"] = "More fields are read by the service this handler hands its parameters to."
        entry: Schema = {"schema": schema}
        if encoding and media_type == "application/x-www-form-urlencoded":
            entry["encoding"] = encoding
        content[media_type] = entry
    return {"required": bool(required), "content": content}


def _path_parameters(route: Route) -> list[Schema]:
    found = []
    for name, convertor in route.param_convertors.items():
        schema: Schema
        if isinstance(convertor, IntegerConvertor):
            schema = {"type": "integer", "minimum": 0}
        elif isinstance(convertor, FloatConvertor):
            schema = {"type": "number", "minimum": 0}
        elif isinstance(convertor, PathConvertor):
            schema = {"type": "string", "minLength": 1, "description": "may contain /"}
        else:
            schema = {"type": "string", "minLength": 1, "pattern": "^[^/]+$"}
        found.append({"name": name, "in": "path", "required": True, "schema": schema})
    return found


def _query_parameter(param: Param) -> Schema:
    schema = _value_schema(param, True)
    entry: Schema = {"name": param.name, "in": "query", "required": param.required, "schema": schema}
    if param.kind == "array":
        entry.update(style="form", explode=True)
    if param.kind == "object":
        entry.update(style="deepObject", explode=True)
    return entry


def _responses(name: str, found: Discovery) -> dict[str, Schema]:
    success = RESPONSES.get(name, {})
    by_status: dict[str, dict[str, Schema]] = {}
    error_types: set[str] = set()
    for answer in found.answers:
        if answer.status is None:  # a status not known here: the same media type for a success and an error
            if answer.media_type:
                error_types.add(answer.media_type)
            by_status.setdefault("200", {})
            code = "200"
        elif answer.status >= 400:
            if answer.media_type and answer.media_type != "application/json":
                error_types.add(answer.media_type)
            if (name, answer.status) not in STATUS_RESPONSES:
                continue
            code = str(answer.status)
        else:
            code = str(answer.status)
        content = by_status.setdefault(code, {})
        if answer.media_type is None:
            continue
        if answer.media_type == "application/json":
            schema = STATUS_RESPONSES.get((name, int(code)), success if code.startswith("2") else {})
        elif answer.media_type.startswith("text/"):
            schema = {"type": "string"}
        else:
            schema = BINARY
        content[answer.media_type] = {"schema": schema}
    responses: dict[str, Schema] = {}
    for code in sorted(by_status):
        entry: Schema = {"description": _DESCRIPTIONS.get(code, "Success")}
        if by_status[code]:
            entry["content"] = by_status[code]
        if code in ("301", "302", "303", "307", "308"):
            entry["headers"] = {"Location": {"schema": {"type": "string"}, "description": "where to go"}}
        responses[code] = entry
    error: Schema = {"description": "An error", "content": {"application/json": {"schema": ref("Error")}}}
    for media_type in sorted(error_types):
        error["content"][media_type] = {"schema": {"type": "string", "description": "an HTML page"}}
    responses["4XX"] = error
    responses["5XX"] = {"$ref": "#/components/responses/ServerError"}
    return responses


_DESCRIPTIONS = {"200": "Success", "202": "Accepted", "204": "No content", "206": "Part of the file (Range)",
                 "302": "Redirect", "304": "Not modified (If-None-Match)", "307": "Redirect",
                 "503": "Unhealthy"}


def _security(found: Discovery) -> list[Schema]:
    if found.auth == "none":
        return []
    ways: list[Schema] = [{"bearer": found.scopes}, {"basic": []}, {"session": found.scopes}]
    return ([{}] if found.auth == "optional" else []) + ways


def _operation(method: str, path: str, route: Route, taken: set[str], found: Discovery) -> Schema:
    endpoint = route.endpoint
    name = handler_name(endpoint)
    path_names = set(route.param_convertors)
    params = [p for p in iter_params(found) if p.name not in path_names]
    in_body = method in BODY_METHODS
    query = [p for p in params if p.source == QUERY or not in_body]
    body = [p for p in params if p.source == PARAMS and in_body]
    # One entry per name: a parameter read from both the query and the parameters is one parameter.
    query = list({p.name: p for p in reversed(query)}.values())[::-1]
    operation: Schema = {
        "operationId": _operation_id(method, path, taken),
        "tags": [_tag(endpoint)],
        "x-emojid-handler": name,
    }
    doc = (endpoint.__doc__ or "").strip()
    if doc:
        operation["summary"] = doc.splitlines()[0].strip()
        if len(doc.splitlines()) > 1:
            operation["description"] = doc
    parameters = _path_parameters(route) + [_query_parameter(p) for p in query]
    if parameters:
        operation["parameters"] = parameters
    if in_body:
        operation["requestBody"] = _body(body, bool(found.opaque))
    operation["responses"] = _responses(name, found)
    operation["security"] = _security(found)
    return operation


def build_document(entries: list[BaseRoute], base_url: str = "") -> Schema:
    """The OpenAPI 3.1 document of a route table."""
    paths: dict[str, Schema] = {}
    taken: set[str] = set()
    discovered: dict[int, Discovery] = {}  # the two Pleroma prefixes mount the same routes
    for path, route in walk_routes(entries):
        if id(route.endpoint) not in discovered:
            discovered[id(route.endpoint)] = discover(route.endpoint)
        for method in sorted(route.methods or ()):
            if method == "HEAD":
                continue  # every GET answers HEAD too
            paths.setdefault(path, {})[method.lower()] = _operation(method, path, route, taken,
                                                                    discovered[id(route.endpoint)])
    document: Schema = {
        "openapi": "3.1.0",
        "info": {
            "title": "emojid",
            "version": __version__,
            "summary": "An emoji pack service speaking the Pleroma/Akkoma and Mastodon APIs.",
            "description": (
                "Made at run time from emojid's route table and what each handler reads. Every "
                "`/api/v1/pleroma/...` route also answers under `/api/pleroma/...`; both are listed. "
                "Request parameters may come in the query string or a JSON, urlencoded or multipart body; "
                "errors are `{\"error\": \"...\"}`."
            ),
            "license": {"name": "AGPL-3.0-only", "identifier": "AGPL-3.0-only"},
        },
        "tags": [{"name": name, "description": text} for name, text in TAGS.items()],
        "paths": paths,
        "components": {
            "schemas": COMPONENTS,
            "responses": {"ServerError": {
                "description": "A failure on this side (or, for the remote routes, the remote's: Pleroma's 500)",
                "content": {"application/json": {"schema": ref("Error")}},
            }},
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer",
                           "description": "An OAuth token (`POST /oauth/token`, `emojid token create`)."},
                "basic": {"type": "http", "scheme": "basic", "description": "A local nickname and password."},
                "session": {"type": "apiKey", "in": "cookie", "name": "_pleroma_key",
                            "description": "The login session; a state change also needs its CSRF token "
                                           "(`X-CSRF-Token` header or `_csrf_token` field)."},
            },
        },
    }
    if base_url:
        document["servers"] = [{"url": base_url}]
    return document


async def openapi_json(request: Request) -> Response:
    """This document: OpenAPI 3.1, made from the route table (once per process)."""
    cached: bytes | None = getattr(request.app.state, "openapi_json", None)
    if cached is None:
        # About a second of parsing and walking source: off the event loop.
        cached = await anyio.to_thread.run_sync(_render, request.app.routes, ctx(request).config.public_url)
        request.app.state.openapi_json = cached
    return JSON(cached)


def _render(entries: list[BaseRoute], base_url: str) -> bytes:
    return json.dumps(build_document(entries, base_url), ensure_ascii=False, separators=(",", ":")).encode()

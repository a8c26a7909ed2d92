"""GET /api/openapi.json: an OpenAPI 3.1 document of every route, made from the route table
and what the handlers read (emojid/openapi). Here: it is valid, complete, served, and what
it says about parameters is what the readers in the handlers' source say."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from openapi_spec_validator import OpenAPIV31SpecValidator
from schemathesis.core.result import Ok

from emojid.openapi import build_document, handler_name, walk_routes
from emojid.openapi.schemas import RESPONSES, STATUS_RESPONSES
from emojid.routes import routes
from emojid.social.relationships import MAX_MUTE_SECONDS
from tests.conftest import serving

Document = dict[str, Any]


@pytest.fixture(scope="module")
def document() -> Document:
    return build_document(routes(), "http://127.0.0.1:4000")


def operation(document: Document, method: str, path: str) -> Document:
    found: Document = document["paths"][path][method.lower()]
    return found


def query(op: Document) -> dict[str, Document]:
    return {p["name"]: p for p in op.get("parameters", []) if p["in"] == "query"}


def body(op: Document, media_type: str = "application/json") -> Document:
    schema: Document = op["requestBody"]["content"][media_type]["schema"]
    return schema


def test_the_document_is_valid_openapi_3_1(document: Document) -> None:
    assert document["openapi"].startswith("3.1")
    errors = [e.message for e in OpenAPIV31SpecValidator(document).iter_errors()]
    assert errors == []
    # and schemathesis reads every operation of it
    loaded = schemathesis.openapi.from_dict(document)
    labels = [result.ok().label for result in loaded.get_all_operations() if isinstance(result, Ok)]
    assert len(labels) == sum(len(methods) for methods in document["paths"].values())


def test_every_route_and_method_is_an_operation(document: Document) -> None:
    expected = {(method.lower(), path) for path, route in walk_routes(routes())
                for method in route.methods or () if method != "HEAD"}
    listed = {(method, path) for path, methods in document["paths"].items() for method in methods}
    assert listed == expected
    # both Pleroma prefixes, the 2019 routes only under the older one
    assert ("get", "/api/v1/pleroma/emoji/packs") in listed and ("get", "/api/pleroma/emoji/packs") in listed
    assert ("post", "/api/pleroma/emoji/packs/list_from") in listed
    assert ("post", "/api/v1/pleroma/emoji/packs/list_from") not in listed
    assert ("get", "/api/openapi.json") in listed


def test_operations_have_unique_ids_tags_and_documented_errors(document: Document) -> None:
    ids = []
    for methods in document["paths"].values():
        for op in methods.values():
            ids.append(op["operationId"])
            assert op["tags"][0] in ("emoji", "auth", "social", "instance")
            error = op["responses"]["4XX"]["content"]["application/json"]["schema"]
            assert error == {"$ref": "#/components/schemas/Error"}
            assert "5XX" in op["responses"]
    assert len(ids) == len(set(ids))
    tags = {op["tags"][0] for op in (operation(document, "GET", "/api/v1/pleroma/emoji/packs"),
                                     operation(document, "POST", "/oauth/token"),
                                     operation(document, "GET", "/api/v1/timelines/public"),
                                     operation(document, "GET", "/api/v1/instance"))}
    assert tags == {"emoji", "auth", "social", "instance"}


def test_response_schemas_name_routed_handlers_only() -> None:
    routed = {handler_name(route.endpoint) for _path, route in walk_routes(routes())}
    assert set(RESPONSES) - routed == set()
    assert {name for name, _status in STATUS_RESPONSES} - routed == set()


def test_query_parameters_come_from_the_readers(document: Document) -> None:
    show = query(operation(document, "GET", "/api/v1/pleroma/emoji/pack"))
    assert show["name"]["required"] is True and show["name"]["schema"]["type"] == "string"
    assert show["page"]["schema"] == {"type": "integer", "minimum": 1, "default": 1}
    assert show["page_size"]["schema"] == {"type": "integer", "minimum": 0, "default": 30}
    listing = query(operation(document, "GET", "/api/v1/pleroma/emoji/packs"))
    assert listing["page_size"]["schema"]["default"] == 50 and not listing["page_size"]["required"]
    # paging (Page.parse) and what the lambdas handed to the timeline helper read
    public = query(operation(document, "GET", "/api/v1/timelines/public"))
    assert {"limit", "max_id", "since_id", "min_id", "only_media", "with_muted"} <= set(public)
    assert public["max_id"]["schema"]["pattern"] == "^[0-9]{1,20}$"
    assert public["only_media"]["schema"] == {"type": "boolean", "default": False}
    # a path parameter is not also a query parameter
    shared = operation(document, "GET", "/api/pleroma/emoji/packs/{name}/download_shared")
    assert [p["in"] for p in shared["parameters"] if p["name"] == "name"] == ["path"]


def test_request_bodies_come_from_the_readers(document: Document) -> None:
    add = operation(document, "POST", "/api/v1/pleroma/emoji/packs/files")
    assert set(add["requestBody"]["content"]) == {"application/json", "application/x-www-form-urlencoded",
                                                  "multipart/form-data"}
    assert add["requestBody"]["required"] is True
    assert body(add)["required"] == ["file", "name"]
    assert body(add, "multipart/form-data")["properties"]["file"]["format"] == "binary"
    assert {"shortcode", "filename"} <= set(body(add)["properties"])
    # the 2019 alias reads `file` only for action=add: not required there
    legacy = body(operation(document, "POST", "/api/pleroma/emoji/packs/{name}/update_file"))
    assert "file" in legacy["properties"] and "file" not in legacy.get("required", [])
    update = body(operation(document, "PATCH", "/api/v1/pleroma/emoji/pack"))
    assert update["properties"]["metadata"] == {"type": "object"} and update["required"] == ["metadata", "name"]
    # route factories: the inner function's closure names the field
    assert body(operation(document, "PATCH", "/api/v1/pleroma/accounts/update_avatar"))["required"] == ["img"]
    assert body(operation(document, "PATCH", "/api/v1/pleroma/accounts/update_banner"))["required"] == ["banner"]
    # a helper of another module, a module constant as the bound
    mute = body(operation(document, "POST", "/api/v1/accounts/{id}/mute"))["properties"]
    assert mute["duration"]["maximum"] == MAX_MUTE_SECONDS and mute["notifications"]["type"] == "boolean"
    # what the service the handler hands its parameters to reads, with a choice it enforces
    status = body(operation(document, "POST", "/api/v1/statuses"))["properties"]
    assert {"status", "spoiler_text", "media_ids", "in_reply_to_id", "sensitive", "language"} <= set(status)
    assert "public" in status["visibility"]["enum"] and status["media_ids"]["type"] == "array"
    assert body(operation(document, "POST", "/api/v1/accounts"))["required"] == ["agreement", "password", "username"]


def test_answers_come_from_the_handlers(document: Document) -> None:
    assert set(operation(document, "POST", "/api/v1/media")["responses"]) >= {"200"}
    assert "202" in operation(document, "POST", "/api/v2/media")["responses"]
    assert "200" not in operation(document, "POST", "/api/v2/media")["responses"]
    assert set(operation(document, "POST", "/api/v1/pleroma/accounts/confirmation_resend")["responses"]) \
        == {"204", "4XX", "5XX"}
    archive = operation(document, "GET", "/api/v1/pleroma/emoji/packs/archive")["responses"]
    assert set(archive["200"]["content"]) == {"application/zip"}
    media = operation(document, "GET", "/media/{filename}")["responses"]
    assert "image/png" in media["200"]["content"] and "206" in media
    page = operation(document, "GET", "/oauth/authorize")["responses"]
    assert "text/html" in page["200"]["content"] and "text/html" in page["4XX"]["content"]
    assert "302" in operation(document, "POST", "/oauth/authorize")["responses"]
    health = operation(document, "GET", "/api/v1/pleroma/healthcheck")["responses"]
    assert health["503"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Healthcheck"}
    shown = operation(document, "GET", "/api/v1/pleroma/emoji/pack")["responses"]["200"]
    assert shown["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Pack"}
    assert "304" in operation(document, "GET", "/api/v1/custom_emojis")["responses"]


def test_security_follows_require(document: Document) -> None:
    assert operation(document, "GET", "/api/v1/pleroma/emoji/packs")["security"] == []
    admin = operation(document, "POST", "/api/v1/pleroma/emoji/pack")["security"]
    assert {"bearer": ["admin:write"]} in admin and {} not in admin
    optional = operation(document, "GET", "/api/v1/timelines/public")["security"]
    assert {} in optional and {"bearer": ["read:statuses"]} in optional


async def test_served_at_api_openapi_json(tmp_path: Path) -> None:
    async with serving(tmp_path / "root") as server, server.anon() as client:
        r = await client.get("/api/openapi.json")
        again = await client.get("/api/openapi.json/")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    served = r.json()
    assert served["servers"] == [{"url": server.url}]
    assert served == build_document(routes(), server.url)
    assert again.json() == served

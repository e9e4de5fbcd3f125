"""The OpenAPI 3.1 document, built from the route declarations so no route goes undocumented.

tests/server/test_openapi_conformance.py holds the server to it with schemathesis.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from .. import __version__
from ..domain.inputs import InputLimits
from .openapi_links import add_links
from .openapi_requests import access_token
from .openapi_schemas import component_schemas
from .routing import Operation, Param
from .schema_parts import UUID, JsonDict, query_integer, text

_ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again",
        "required": True,
        "schema": {"type": "integer", "minimum": 1},
    }
}
# What any operation may answer, before or besides its own work.
_COMMON = {
    400: "Bad request: a parameter or the body is malformed or breaks a rule",
    401: "Not logged in, or the session ended",
    403: "Not allowed for this user",
    404: "Not found (or another tenant's)",
    408: "The request's headers took too long to arrive (the HTTP listener)",
    503: "Too many connections at once (the HTTP listener); the connection is closed",
}
_WITH_BODY = {413: "The body is larger than the limit"}
_WRITING = {507: "The disk under the database or the package store is full; nothing was stored"}
_HEADERS_OF = {429: _RETRY_AFTER, 503: _RETRY_AFTER}


def _response(kind: str | None) -> JsonDict:
    if kind is None:
        return {"description": "Done; empty body"}
    if kind == "bytes":
        return {
            "description": "The package data, with the Content-Type it was uploaded with",
            "headers": {
                "Content-Disposition": {
                    "description": "attachment; filename and RFC 6266 filename*",
                    "required": True,
                    "schema": {"type": "string"},
                }
            },
            "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
        }
    if kind == "text":
        return {"description": "Text", "content": {"text/plain": {"schema": {"type": "string"}}}}
    if kind == "csv":
        return {
            "description": "CSV with a header row, as an attachment",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    if kind == "events":
        return {
            "description": "Server-Sent Events, until the client leaves or the server stops",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        }
    return {"description": kind, "content": {"application/json": {"schema": _ref(kind)}}}


def _ref(name: str) -> JsonDict:
    return {"$ref": f"#/components/schemas/{name}"}


def _request_body(kind: str) -> JsonDict:
    if kind == "multipart":
        return {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": _ref("PackageData"),
                    "encoding": {"file": {"contentType": "application/octet-stream"}},
                }
            },
        }
    return {"required": True, "content": {"application/json": {"schema": _ref(kind)}}}


def _path_schema(op: Operation, name: str) -> JsonDict:
    if name in op.path_params:
        return op.path_params[name]
    if name.endswith("Id"):
        return UUID
    if name == "token":
        return access_token()
    raise ValueError(f"{op.method} {op.path}: path parameter {name!r} needs a schema")


def _query_schema(param: Param) -> JsonDict:
    schema = param.schema or (query_integer() if param.type == "integer" else text())
    if not param.required and schema.get("type") == "integer":
        # body.query_int reads an empty value as left out, as Spring reads ThingsBoard's.
        return {"anyOf": [schema, {"type": "string", "const": ""}]}
    return schema


def _operation(op: Operation, operation_id: str) -> JsonDict:
    parameters: list[JsonDict] = [
        {"name": name, "in": "path", "required": True, "schema": _path_schema(op, name)}
        for name in re.findall(r"{(\w+)}", op.path)
    ]
    parameters += [
        {
            "name": p.name,
            "in": "query",
            "required": p.required,
            "description": p.description,
            "schema": _query_schema(p),
        }
        for p in op.query
    ]
    answers: dict[int, str] = dict(_COMMON)
    if op.public:
        del answers[403]
    if op.body:
        answers.update(_WITH_BODY)
    if op.method != "GET":
        answers.update(_WRITING)
    answers.update(op.responses)
    responses: JsonDict = {"200": _response(op.response)}
    if op.response == "bytes":
        responses["206"] = {**_response("bytes"), "description": "The range asked for"}
    for status in sorted(answers):
        answer: JsonDict = {"description": answers[status], "content": _ERROR}
        if status in _HEADERS_OF:
            answer["headers"] = _HEADERS_OF[status]
        responses[str(status)] = answer
    document: JsonDict = {
        "summary": op.summary,
        "operationId": operation_id,
        "tags": [op.tag],
        "parameters": parameters,
        "responses": responses,
    }
    if op.body:
        document["requestBody"] = _request_body(op.body)
    if op.public:
        document["security"] = []
    return document


def openapi_document(operations: Iterable[Operation], limits: InputLimits) -> dict[str, Any]:
    paths: JsonDict = {}
    seen: set[str] = set()
    for op in operations:
        operation_id = op.handler.__module__.rsplit(".", 1)[-1] + "_" + op.handler.__name__
        # A handler behind two paths (ThingsBoard's old and v2 ones) needs two distinct ids.
        while operation_id in seen:
            operation_id += "_again"
        seen.add(operation_id)
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, operation_id)
    add_links(paths)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "otakit",
            "version": __version__,
            "description": "ThingsBoard-compatible firmware and software OTA service. A method "
            "a path does not list is answered 405 with an Allow header listing those it does.",
        },
        "paths": paths,
        "components": {
            "schemas": component_schemas(limits),
            "securitySchemes": {
                "jwt": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-Authorization",
                    "description": "Bearer <token from /api/auth/login>",
                }
            },
        },
        "security": [{"jwt": []}],
    }

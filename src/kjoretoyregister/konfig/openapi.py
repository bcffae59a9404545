"""The admin API's OpenAPI 3.1 document, generated from the route table and pydantic schemas.

Generating it from :data:`~kjoretoyregister.konfig.admin_api.ROUTES` means a route cannot exist
without being documented; request and response schemas come from
:mod:`~kjoretoyregister.konfig.schemas` (JSON Schema 2020-12, which OpenAPI 3.1 uses as is).
"""

from __future__ import annotations

import re
import typing
from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from kjoretoyregister import __version__
from kjoretoyregister.konfig import schemas

if TYPE_CHECKING:
    from kjoretoyregister.konfig.admin_api import Route

_REF = "#/components/schemas/{model}"
_PARAM = re.compile(r"{(\w+)}")
_PARAM_DOC = {
    "org_id": "fiksOrgId (UUID)",
    "integration_id": "IntegrasjonId (UUID)",
    "privilege": "KJORETOYREGISTER.OPPSLAG or KJORETOYREGISTER.EIERSOK",
}
_ERRORS = {
    "400": "Malformed id, body or value",
    "401": "Admin bearer token missing or wrong",
    "404": "No such organisation, integration or grant",
    "409": "Duplicate, service not activated, or integration deleted",
}


def _model_of(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """(model, is_list) for ``Model`` or ``list[Model]``."""
    if typing.get_origin(annotation) is list:
        (inner,) = typing.get_args(annotation)
        return inner, True
    return annotation, False


def _ref(model: type[BaseModel], is_list: bool = False) -> dict[str, Any]:
    ref = {"$ref": _REF.format(model=model.__name__)}
    return {"type": "array", "items": ref} if is_list else ref


@cache
def _components(models: tuple[type[BaseModel], ...]) -> dict[str, Any]:
    pairs = [(m, "validation" if _is_request(m) else "serialization") for m in models]
    _, top = models_json_schema(pairs, ref_template=_REF)  # type: ignore[arg-type]
    return dict(top.get("$defs", {}))


def _is_request(model: type[BaseModel]) -> bool:
    """Whether ``model`` is a request body (validated) rather than a response (serialised)."""
    return model in (schemas.OrgCreate, schemas.IntegrationCreate, schemas.GrantCreate)


def build_document(routes: Sequence[Route], prefix: str) -> dict[str, Any]:
    """The OpenAPI document for ``routes`` mounted at ``prefix``."""
    models: list[type[BaseModel]] = [schemas.ErrorMessage]
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        operation: dict[str, Any] = {
            "operationId": route.handler.__name__,
            "summary": route.summary,
            "parameters": [
                {
                    "name": name,
                    "in": "path",
                    "required": True,
                    "description": _PARAM_DOC.get(name, name),
                    "schema": {"type": "string"},
                }
                for name in _PARAM.findall(route.path)
            ]
            + [
                {"name": n, "in": "query", "required": False, "description": d,
                 "schema": {"type": "string"}}
                for n, d in route.query
            ],
            "responses": {},
        }  # fmt: skip
        if route.public:
            operation["security"] = []
        if route.body is not None:
            models.append(route.body)
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": _ref(route.body)}},
            }
        success: dict[str, Any] = {"description": route.summary}
        if route.response is not None:
            model, is_list = _model_of(route.response)
            if model is not None:
                models.append(model)
                success["content"] = {"application/json": {"schema": _ref(model, is_list)}}
        elif route.status != 204:
            success["content"] = {"application/json": {"schema": {"type": "object"}}}
        operation["responses"][str(route.status)] = success
        if not route.public:
            for status, text in _ERRORS.items():
                operation["responses"][status] = {
                    "description": text,
                    "content": {"application/json": {"schema": _ref(schemas.ErrorMessage)}},
                }
        paths.setdefault(prefix + route.path, {})[route.method.lower()] = operation
    unique = tuple(dict.fromkeys(models))
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "kjoretoyregister Konfigurasjon admin API",
            "version": __version__,
            "description": (
                "Fiks organisations, service activation, integrations and grants. "
                "Errors are Fiks ErrorMessage bodies. Passwords appear only in the answers "
                "of create and new-password."
            ),
        },
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A token configured in KJR_KONFIG__ADMIN_TOKENS (NAME:TOKEN)",
                }
            },
            "schemas": _components(unique),
        },
    }

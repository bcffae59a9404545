"""The gateway's published OpenAPI 3.0 document (``GET /kjoretoyregister/api/openapi.json``).

Built from the same tables the gateway enforces (:data:`.routes.ROUTES` and the parameter
rules in :mod:`.validation`), so the document cannot drift from behaviour. It documents the
SVV paths under the Fiks base with ``{fiksOrgId}``, the Fiks headers (``Authorization:
Bearer``, ``IntegrasjonId``, ``IntegrasjonPassord``), the purpose headers, the Fiks error
answers the gateway itself makes, and as 200 bodies SVV's v2 answer models (``KjoretoyResponse``,
``KjoretoysokResponse``, ``KundeSokResponse`` and all they reference), which the gateway passes
through unchanged; 204 "no hits" has no body. Names are ASCII so code generators make good
identifiers of them.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Literal

import orjson
from aiohttp import web
from pydantic import BaseModel

from kjoretoyregister.gateway import validation
from kjoretoyregister.gateway.checks import (
    FORMAAL,
    INTEGRASJON_ID,
    INTEGRASJON_PASSORD,
    SAKSREFERANSE,
)
from kjoretoyregister.gateway.routes import ROUTES, Route, RouteKind

FIKS_ERROR = {"$ref": "#/components/schemas/FiksError"}
_ERRORS = {
    "401": "Token, integrasjon eller passord ugyldig (KJR-GW-TOKEN, KJR-GW-INTEGRASJON)",
    "403": "Tjenesten er ikke aktivert, eller integrasjonen mangler privilegiet (KJR-GW-TILGANG)",
    "404": "Ukjent sti (KJR-GW-UKJENT-STI), eller SVV fant ikke oppslaget",
    "405": "Metoden er ikke tillatt (KJR-GW-METODE)",
    "408": "Innholdet kom ikke fram i tide (KJR-GW-KLIENT-TREG)",
    "413": "Forespørselen er for stor (KJR-GW-FOR-STOR)",
    "429": "Rate limit eller dagskvote brukt opp (KJR-GW-RATE); se Retry-After",
    "502": "Fikk ikke kontakt med Statens vegvesen (KJR-SVV-UTILGJENGELIG)",
    "503": "Overbelastet, vedlikehold, kretsbryter åpen, revisjonslogg eller konfigurasjon "
    "utilgjengelig (KJR-GW-*, KJR-SVV-KRETSBRYTER-APEN), eller SVV 503; se Retry-After",
    "504": "Statens vegvesen svarte ikke i tide (KJR-SVV-TIDSAVBRUDD)",
}


def _rule_schema(rule: validation.Rule) -> dict[str, Any]:
    if isinstance(rule, int):
        return {"type": "string", "minLength": 1, "maxLength": rule}
    if isinstance(rule, frozenset):
        return {"type": "string", "enum": sorted(rule)}
    return {"type": "string", "pattern": f"^(?:{rule.pattern})$"}


def _header(name: str, description: str, schema: dict[str, Any], required: bool) -> dict[str, Any]:
    return {
        "name": name,
        "in": "header",
        "required": required,
        "description": description,
        "schema": schema,
    }


_COMMON_PARAMS = [
    {
        "name": "fiksOrgId",
        "in": "path",
        "required": True,
        "description": "Fiks-organisasjonen oppslaget gjøres på vegne av",
        "schema": {"type": "string", "format": "uuid"},
    },
    # A pattern, not ``format: uuid``: generators then type the header as a string, which
    # every HTTP client can send (openapi-python-client passes a UUID object to httpx).
    _header(
        INTEGRASJON_ID,
        "Integrasjonens id (UUID)",
        {"type": "string", "pattern": "^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$"},
        True,
    ),
    _header(INTEGRASJON_PASSORD, "Integrasjonens passord", {"type": "string"}, True),
    _header(FORMAAL, "Formålet med oppslaget", {"type": "string", "maxLength": 500}, False),
    _header(SAKSREFERANSE, "Saksreferanse", {"type": "string", "maxLength": 500}, False),
]


def _ref(model: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{model}"}


def _answer_schema(route: Route) -> dict[str, Any]:
    """SVV's v2 answer model for the route (what the gateway passes through)."""
    if route.kind is not RouteKind.SOK:
        return {"type": "array", "items": _ref("KjoretoyResponse")}
    if route.name == "sok/kunde":
        return _ref("KundeSokResponse")
    return _ref("KjoretoysokResponse")


def _responses(route: Route) -> dict[str, Any]:
    ok: dict[str, Any] = {
        "200": {
            "description": "SVVs svar (v2-modellene), uendret",
            "content": {"application/json": {"schema": _answer_schema(route)}},
        },
        "400": {
            "description": "Ugyldig forespørsel (KJR-GW-VALIDERING), eller SVVs egen 400",
            "content": {"application/json": {"schema": {"type": "object"}}},
        },
        "422": {
            "description": "SVV: kvote overskredet (SVVs feilformat)",
            "content": {"application/json": {"schema": {"type": "object"}}},
        },
    }
    if route.kind is RouteKind.SOK:
        ok["204"] = {"description": "Ingen treff"}
    for status, text in _ERRORS.items():
        # SVV's own 404 is passed through in SVV's format; the gateway's is a Fiks body.
        schema = {"type": "object"} if status in ("404", "503") else FIKS_ERROR
        ok[status] = {"description": text, "content": {"application/json": {"schema": schema}}}
    return ok


def _operation(route: Route) -> dict[str, Any]:
    params: list[dict[str, Any]] = list(_COMMON_PARAMS)
    op: dict[str, Any] = {
        "operationId": route.name.replace("/", "_"),
        "summary": f"{route.name} (krever {route.privilege})",
        "security": [{"maskinporten": []}],
        "responses": _responses(route),
    }
    if route.kind is RouteKind.BULK_PATH:
        params.append(
            {
                "name": "understellsnummer",
                "in": "path",
                "required": True,
                "schema": {"type": "string", "minLength": 1, "maxLength": 30},
            }
        )
        params.append(
            {"name": "dtg", "in": "query", "required": False, "schema": {"type": "string"}}
        )
    elif route.kind is RouteKind.SOK:
        required, rules = validation._SOK_PARAMS[route.name]
        for name, rule in rules.items():
            params.append(
                {
                    "name": name,
                    "in": "query",
                    "required": name in required,
                    "schema": _rule_schema(rule),
                }
            )
    else:
        key = route.name.split("/")[1]
        op["requestBody"] = {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "array",
                        "minItems": 1,
                        "maxItems": 1000,
                        "items": {
                            "type": "object",
                            "required": [key],
                            "properties": {
                                key: {"type": "string"},
                                "dtg": {"type": "string", "format": "date-time"},
                            },
                        },
                    }
                }
            },
        }
    op["parameters"] = params
    return op


def _svv_models() -> dict[str, Any]:
    """SVV's three v2 answer models and everything they reference, as component schemas.

    From the client library's pydantic models (SVV's schema; one copy of SVV's field names in
    the project), so a generated client gets typed answers.
    """
    from pydantic.json_schema import models_json_schema

    from kjoretoyregister.client.models import (
        KjoretoyResponse,
        KjoretoysokResponse,
        KundeSokResponse,
    )

    models: list[type[BaseModel]] = [KjoretoyResponse, KjoretoysokResponse, KundeSokResponse]
    mode: Literal["validation"] = "validation"
    _, schema = models_json_schema(
        [(m, mode) for m in models],
        by_alias=True,
        ref_template="#/components/schemas/{model}",
    )
    defs: dict[str, Any] = schema.get("$defs", {})
    return defs


@lru_cache(maxsize=1)
def document() -> dict[str, Any]:
    """The OpenAPI document as a dict."""
    paths: dict[str, Any] = {}
    for route in ROUTES.values():
        template = route.template
        paths.setdefault(template, {})[route.method.lower()] = _operation(route)
    return {
        # 3.1: the answer models are JSON Schema 2020-12 (``null`` as a type, not ``nullable``).
        "openapi": "3.1.0",
        "info": {
            # ASCII: code generators turn the title into the package name.
            "title": "Fiks Kjoretoyregister Gateway",
            "version": "2.0",
            "description": __doc__,
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "maskinporten": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "Maskinporten-token med scope ks:fiks",
                }
            },
            "schemas": {
                **_svv_models(),
                "FiksError": {
                    "type": "object",
                    "required": ["timestamp", "status", "error", "errorId", "path", "message"],
                    "properties": {
                        "timestamp": {"type": "integer"},
                        "status": {"type": "integer"},
                        "error": {"type": "string"},
                        "errorId": {"type": "string"},
                        "path": {"type": "string"},
                        "originalPath": {"type": ["string", "null"]},
                        "message": {"type": "string"},
                        "errorCode": {"type": ["string", "null"]},
                        "errorJson": {},
                    },
                },
            },
        },
    }


@lru_cache(maxsize=1)
def _body() -> bytes:
    return orjson.dumps(document())


async def handle(request: web.Request) -> web.Response:
    """``GET /kjoretoyregister/api/openapi.json``."""
    return web.Response(body=_body(), content_type="application/json")

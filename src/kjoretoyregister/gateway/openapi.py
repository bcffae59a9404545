"""The gateway's published OpenAPI 3.0 document (``GET /kjoretoyregister/api/openapi.json``).

Built from the same tables the gateway enforces (:data:`.routes.ROUTES` and the parameter
rules in :mod:`.validation`), so the document cannot drift from behaviour. It documents the
SVV paths under the Fiks base with ``{fiksOrgId}``, the Fiks headers (``Authorization:
Bearer``, ``IntegrasjonId``, ``IntegrasjonPassord``), the purpose headers, and the Fiks error
answers the gateway itself makes. The 200 bodies are SVV's v2 models, passed through
unchanged; they are not repeated here (see SVV's own ``kjoretoysok-v2.0`` document).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import orjson
from aiohttp import web

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
    _header(
        INTEGRASJON_ID,
        "Integrasjonens id (UUID)",
        {"type": "string", "format": "uuid"},
        True,
    ),
    _header(INTEGRASJON_PASSORD, "Integrasjonens passord", {"type": "string"}, True),
    _header(FORMAAL, "Formålet med oppslaget", {"type": "string", "maxLength": 500}, False),
    _header(SAKSREFERANSE, "Saksreferanse", {"type": "string", "maxLength": 500}, False),
]


def _responses(route: Route) -> dict[str, Any]:
    ok: dict[str, Any] = {
        "200": {
            "description": "SVVs svar (v2-modellene), uendret",
            "content": {"application/json": {"schema": {}}},
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


@lru_cache(maxsize=1)
def document() -> dict[str, Any]:
    """The OpenAPI document as a dict."""
    paths: dict[str, Any] = {}
    for route in ROUTES.values():
        template = route.template
        paths.setdefault(template, {})[route.method.lower()] = _operation(route)
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Fiks Kjøretøyregister (gateway)",
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
                "FiksError": {
                    "type": "object",
                    "required": ["timestamp", "status", "error", "errorId", "path", "message"],
                    "properties": {
                        "timestamp": {"type": "integer"},
                        "status": {"type": "integer"},
                        "error": {"type": "string"},
                        "errorId": {"type": "string"},
                        "path": {"type": "string"},
                        "originalPath": {"type": "string", "nullable": True},
                        "message": {"type": "string"},
                        "errorCode": {"type": "string", "nullable": True},
                        "errorJson": {"nullable": True},
                    },
                }
            },
        },
    }


@lru_cache(maxsize=1)
def _body() -> bytes:
    return orjson.dumps(document())


async def handle(request: web.Request) -> web.Response:
    """``GET /kjoretoyregister/api/openapi.json``."""
    return web.Response(body=_body(), content_type="application/json")

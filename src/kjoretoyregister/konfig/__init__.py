"""Fiks Konfigurasjon: organisations, service activation, integrations and grants.

Modules, from storage to the edges:

* ``models`` — the tables (``fiks_organisasjon``, ``tjeneste_aktivering``, ``integrasjon``,
  ``tilgang``, append-only ``admin_hendelse``) on the shared ``store.db.Base``.
* ``privileges`` — ``OPPSLAG`` and ``EIERSOK`` and why they are separate.
* ``passwords`` — generation (``secrets``, 256 bits) and Argon2id hashing.
* ``errors`` — the expected failures, each with an HTTP status and a Fiks ``errorCode``.
* ``service`` — the operations (create org, activate, create integration, new password,
  delete, grant, revoke, overview, admin log). They flush, never commit.
* ``authz`` — ``Authorizer.check``: the gateway's per-request decision with a safe cache.
* ``schemas`` — pydantic shapes of the admin API and ``--json`` output.
* ``admin_api`` — the aiohttp admin REST API (``/admin/api/…``, bearer tokens, OpenAPI).
* ``openapi`` — the admin API's OpenAPI 3.1 document, generated from its route table.
* ``cli`` — ``kjoretoyregister admin …``.

A gateway request reaches this part only through ``authz``; administrators through ``cli`` or
``admin_api``, both of which own their transaction and call ``service``.
"""

"""
Python client for Fiks Kjøretøyregister, for fagsystem developers.

Public API (everything in ``__all__``; the ``_modules`` are private)::

    from kjoretoyregister.client import KjoretoyregisterClient

    with KjoretoyregisterClient.from_profile("demo.json") as client:
        [svar] = client.oppslag_kjennemerke("CU11297")
        print(svar.kjoretoy.merke, svar.kjoretoy.eier_navn)

Modules:

- ``_client``: ``AsyncKjoretoyregisterClient`` (headers, token refresh on 401, chunking).
- ``_tokens``: the ``TokenProvider`` protocol and ``provider_from_profile``.
- ``_parsing``: answers into models (bulk arrays, search pages, 204 = empty).
- ``_sync``: ``KjoretoyregisterClient``, the async client on a private event loop.
- ``_transport``: the I/O seam (``Transport``, ``AiohttpTransport``, ``RawResponse``).
- ``_params`` / ``_paging``: request shapes (dtg, bulk items, chunks) and page iteration.
- ``maskinporten``: ``MaskinportenTokenProvider`` (JWT grant, cached token).
- ``akfell``: ``AsyncAkfellClient``, SVV's current akfell API directly (scope
  ``svv:kjoretoy/kjoretoyopplysninger``), with the models in ``models.akfell``.
- ``models``: the 77 generated SVV v2 models with accessors on ``Kjoretoy``.
- ``errors``: every exception the client raises.
- ``profile``: the ``demo --profile`` JSON file.
- ``cards`` / ``cli``: rich vehicle cards and the ``oppslag``/``sok`` commands.

Request path: client method → ``request`` (token, Fiks headers) → transport → gateway
``…/api/{fiksOrgId}/rest/distribusjon/kjoretoy/v2.0/…`` → SVV; the answer is parsed into
models, or an error answer becomes ``FiksError``/``SvvError``.
"""

from kjoretoyregister.client._client import AsyncKjoretoyregisterClient
from kjoretoyregister.client._paging import iter_pages
from kjoretoyregister.client._params import BulkItem, Dtg
from kjoretoyregister.client._sync import KjoretoyregisterClient
from kjoretoyregister.client._tokens import TokenProvider, provider_from_profile
from kjoretoyregister.client._transport import AiohttpTransport, RawResponse, Transport
from kjoretoyregister.client.akfell import AKFELL_SCOPE, AsyncAkfellClient
from kjoretoyregister.client.errors import (
    FiksError,
    KjoretoyregisterError,
    ProtocolError,
    ResponseError,
    SvvError,
    TokenError,
    TransportError,
)
from kjoretoyregister.client.models import (
    Kjoretoy,
    KjoretoyResponse,
    KjoretoysokResponse,
    Kunde,
    KundeSokResponse,
    PersonEnhet,
    Responskode,
)
from kjoretoyregister.client.profile import Profile, ProfileError, load_profile

__all__ = [
    "AKFELL_SCOPE",
    "AiohttpTransport",
    "AsyncAkfellClient",
    "AsyncKjoretoyregisterClient",
    "BulkItem",
    "Dtg",
    "FiksError",
    "Kjoretoy",
    "KjoretoyResponse",
    "KjoretoyregisterClient",
    "KjoretoyregisterError",
    "KjoretoysokResponse",
    "Kunde",
    "KundeSokResponse",
    "PersonEnhet",
    "Profile",
    "ProfileError",
    "ProtocolError",
    "RawResponse",
    "ResponseError",
    "Responskode",
    "SvvError",
    "TokenError",
    "TokenProvider",
    "Transport",
    "TransportError",
    "iter_pages",
    "load_profile",
    "provider_from_profile",
]

"""kjoretoyregister: an open re-implementation of Fiks Kjøretøyregister.

Parts (each a subpackage; data flows request → checks → forward → audit → answer):

- ``gateway``      Fiks' API in front of SVV: auth checks, forwarding, Fiks errors
- ``svv``          SVV/Autosys simulator: synthetic register, store, HTTP API
- ``maskinporten`` Maskinporten stand-in (token service)
- ``konfig``       Fiks organisations, activation, integrations, grants
- ``audit``        per-item audit records, chain, innsyn, usage
- ``client``       library for fagsystem developers
- ``portal``       web pages
- ``store``        database engine and migrations
"""

__version__ = "0.1.0"

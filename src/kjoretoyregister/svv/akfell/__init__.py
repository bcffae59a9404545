"""The simulator's akfell profile: SVV's current API generation, akfell-datautlevering.

``kjoretoyregister svv serve --api akfell`` (or ``--api both``) serves, from the same register
as the v2 API, at the **root** of the simulator, as SVV's own host does
(``https://akfell-datautlevering.atlas.vegvesen.no/kjoretoyoppslag/bulk/kjennemerke``,
svv-api.md §1, §2.3; seen, not inferred):

- ``POST /kjoretoyoppslag/bulk/kjennemerke``, ``…/bulk/kuid``, ``…/bulk/understellsnummer``;
- ``GET /kjoretoyoppslag/person?fodselsnummer=&etternavn=&dtg=``;
- ``GET /kjoretoyoppslag/organisasjon?organisasjonsnummer=&dtg=&side=&antall=``;
- ``GET /enkeltoppslag/kjoretoydata?kjennemerke=|understellsnummer=`` (no owner).

Modules, one job each: :mod:`.mapping` (the akfell ↔ v2 field table), :mod:`.convert` (v2
``Kjoretoy`` → akfell Begrenset), :mod:`.auth` (Maskinporten bearer tokens, API keys),
:mod:`.quota` (the per-client daily quota), :mod:`.params` (query and body parsing),
:mod:`.owned` (person/organisation lookups at a dtg), :mod:`.routes` (the handlers).
"""

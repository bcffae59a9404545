"""The privileges an integration can be granted on an organisation's Kjøretøyregister service.

Two privileges instead of one, because the two kinds of call carry very different risk:

* ``OPPSLAG`` — look up vehicles by what identifies a *vehicle* (kjennemerke, kuid,
  understellsnummer; the ``bulk/*`` endpoints and ``sok/kjennemerke``,
  ``sok/understellsnummer``). This is what parking, toll and traffic case systems need.
* ``EIERSOK`` — search by what identifies a *person or organisation* (fødselsnummer,
  organisasjonsnummer, kundeid, owner name, ``sok/kunde``). Such searches map a person to
  everything they own, so they are granted separately and only to systems whose legal basis
  covers owner searches (e.g. debt collection). Keeping them apart lets a municipality give a
  parking system plate look-ups without also letting it enumerate a citizen's vehicles.

Names follow the Fiks pattern ``^[0-9A-Z_.]+$`` (autorisasjon-query-api, fiks-platform.md §1.7).
"""

from __future__ import annotations

from typing import Final

OPPSLAG: Final = "KJORETOYREGISTER.OPPSLAG"
EIERSOK: Final = "KJORETOYREGISTER.EIERSOK"

#: Every privilege that can be granted, in display order.
ALL: Final[tuple[str, ...]] = (OPPSLAG, EIERSOK)


def is_known(privilege: str) -> bool:
    """Whether ``privilege`` is one this service grants."""
    return privilege in ALL

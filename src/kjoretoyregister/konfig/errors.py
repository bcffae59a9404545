"""Errors raised by the Konfigurasjon service layer; the CLI and admin API render them.

Hierarchy::

    KonfigError                 (base; ``status`` is the HTTP status the admin API answers)
    ├── InvalidInput            400  malformed id, invalid orgnr, unknown privilege, bad name
    ├── NotFound                404  no organisation / integration / grant with that id
    └── Conflict                409  the change contradicts the current state
        ├── Duplicate                a unique name or grant already exists
        ├── ServiceNotActivated      granting on an organisation without the service active
        └── IntegrationDeleted       changing an integration that was deleted

Each class carries an ``error_code`` for the Fiks error body's ``errorCode`` field.
"""

from __future__ import annotations


class KonfigError(Exception):
    """Base of every expected Konfigurasjon error; the message is safe to show to admins."""

    status = 400
    error_code = "KJR-KONFIG-FEIL"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(KonfigError):
    """The request itself is malformed (bad UUID, bad orgnr, unknown privilege, …)."""

    status = 400
    error_code = "KJR-KONFIG-UGYLDIG"


class NotFound(KonfigError):
    """The named object does not exist."""

    status = 404
    error_code = "KJR-KONFIG-IKKE-FUNNET"


class Conflict(KonfigError):
    """The change is well-formed but contradicts the stored state."""

    status = 409
    error_code = "KJR-KONFIG-KONFLIKT"


class Duplicate(Conflict):
    """A unique name or an identical grant already exists."""

    error_code = "KJR-KONFIG-FINNES"


class ServiceNotActivated(Conflict):
    """Kjøretøyregister is not activated for the organisation."""

    error_code = "KJR-KONFIG-IKKE-AKTIVERT"


class IntegrationDeleted(Conflict):
    """The integration was deleted; it cannot be changed or granted anything."""

    error_code = "KJR-KONFIG-SLETTET"

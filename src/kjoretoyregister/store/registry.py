"""Which modules define tables on :class:`~kjoretoyregister.store.db.Base`.

Alembic's ``env.py`` and the schema tests import every module listed here so that
``Base.metadata`` holds the whole schema. A part that adds tables appends its models module.
"""

from __future__ import annotations

import importlib

from sqlalchemy import MetaData

from kjoretoyregister.store.db import Base

#: Models modules, in dependency order (a module's foreign keys point at earlier ones).
MODEL_MODULES: tuple[str, ...] = (
    "kjoretoyregister.konfig.models",
    "kjoretoyregister.audit.models",
    "kjoretoyregister.portal.models",
)


def load_metadata() -> MetaData:
    """Import every models module and return the complete ``MetaData``."""
    for name in MODEL_MODULES:
        importlib.import_module(name)
    return Base.metadata

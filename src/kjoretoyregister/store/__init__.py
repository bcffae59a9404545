"""Database engine, session factory and migrations shared by konfig and audit.

Modules:

* :mod:`~kjoretoyregister.store.db` — the one ``Base`` (naming convention, ``Mapped[...]``
  type map: ``datetime`` → aware-UTC :class:`~kjoretoyregister.store.db.UTCDateTime`,
  ``uuid.UUID`` → ``Uuid``, ``dict[str, Any]`` → JSON), ``make_engine(url)`` (SQLite: WAL,
  ``foreign_keys=ON``, busy timeout, ``BEGIN IMMEDIATE``; PostgreSQL via
  ``postgresql+psycopg://``), ``make_session_factory(engine)``, ``upgrade(url)``,
  ``current_revision(url)``, ``head_revision()``, ``READ_ONLY`` (execution options for a
  deferred, non-blocking SQLite read) and ``utcnow()``.
* :mod:`~kjoretoyregister.store.registry` — the list of models modules Alembic loads.
* :mod:`~kjoretoyregister.store.testing` — throw-away databases for tests (a fresh
  PostgreSQL schema per test, or a SQLite file).
* ``migrations/`` — Alembic ``env.py``, ``script.py.mako`` and ``versions/``, shipped as
  package data and driven programmatically (``store.db.alembic_config``); no
  ``alembic.ini`` is needed, so migrations run from an installed wheel too.

The database URL comes from settings (``KJR_DATABASE_URL``, default a SQLite file in
``KJR_DATA_DIR``: ``Settings.effective_database_url``). Callers own the unit of work
(style anchor 16)::

    engine = make_engine(settings.effective_database_url)
    upgrade(settings.effective_database_url)
    factory = make_session_factory(engine)
    with factory.begin() as session:   # commits on success, rolls back on error
        service.create_org(session, "Eksempel kommune", "974760673", actor="cli:ola")

Adding tables (e.g. the audit part):

1. Declare the models on :class:`~kjoretoyregister.store.db.Base` in your part's
   ``models.py`` (``Mapped[...]`` columns; let the naming convention name constraints).
2. Append the module to ``MODEL_MODULES`` in :mod:`~kjoretoyregister.store.registry`.
3. Generate a revision against a database at the current head::

       kjoretoyregister admin db revision -m "audit tables" --autogenerate

   (writes ``store/migrations/versions/<date>-<rev>_<slug>.py`` and runs ruff on it). Review
   it by hand: autogenerate misses triggers, server defaults and data moves. Keep history
   linear (``down_revision`` = the previous head; a test checks there is one head).
4. Run ``pytest tests/store`` — it upgrades an empty SQLite and PostgreSQL database and
   asserts ``compare_metadata`` finds no difference to the models.

Schema changes happen only through migrations; nothing calls ``Base.metadata.create_all``
outside tests of column types. Note that batch mode (used for ALTERs on SQLite) rebuilds a
table and drops its triggers: a migration that alters ``admin_hendelse`` on SQLite must
re-create its append-only triggers.
"""
